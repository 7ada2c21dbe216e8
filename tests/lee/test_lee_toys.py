"""The toy ensemble against closed-form references; seeding and executors (dhstat.lee.toys)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lee_helpers import (
    PVALUE,
    chain_cells,
    disjoint_cells,
    max_z,
    search_documents,
    small_model,
    tail_probability,
)

from dhstat import lee, parallel


def test_disjoint_windows_give_the_independent_product() -> None:
    b = np.linspace(2.0, 40.0, 40)
    model = lee.build_toy_model(b, disjoint_cells(b), pvalue=PVALUE, batch_size=2000)
    n_toys, z_obs = 20000, 2.3
    toys = max_z(model, n_toys, seed=11)
    result = lee.global_significance(toys, z_obs)
    reference = lee.p_global_independent(np.array([tail_probability(x, z_obs) for x in b]))
    sigma = np.sqrt(reference * (1 - reference) / n_toys)
    assert abs(result.p_global - reference) < 4 * sigma
    assert result.trials_factor > 10  # 40 windows: the look-elsewhere effect is large


def test_identical_windows_give_the_single_window_p() -> None:
    w, b = 25, 12.0
    cells = lee.CellInputs(
        np.array([b]), np.zeros(1), np.arange(w + 1), np.zeros(w, dtype=np.int64)
    )
    model = lee.build_toy_model(np.full(w, b), cells, pvalue=PVALUE, batch_size=5000)
    n_toys, z_obs = 20000, 1.7
    result = lee.global_significance(max_z(model, n_toys, seed=5), z_obs)
    reference = tail_probability(b, z_obs)
    assert abs(result.p_global - reference) < 4 * np.sqrt(reference * (1 - reference) / n_toys)


def test_signal_injection_raises_the_maximum() -> None:
    b = np.full(30, 10.0)
    cells = disjoint_cells(b)
    injected = lee.CellInputs(
        cells.background,
        cells.sumw2,
        cells.indptr,
        cells.indices,
        signal=np.where(np.arange(30) == 7, 15.0, 0.0),
    )
    plain = lee.build_toy_model(b, cells, pvalue=PVALUE, batch_size=500)
    power = lee.build_toy_model(b, injected, pvalue=PVALUE, batch_size=500)
    z0, z1 = max_z(plain, 1000, seed=1), max_z(power, 1000, seed=1)
    assert np.median(z1) > np.median(z0) + 1.5
    argmax = lee.run_toys(power, n_toys=500, seed=1)[0].argmax
    assert np.mean(argmax == 7) > 0.8


def test_toys_do_not_depend_on_the_table_range() -> None:
    """Short tables (most counts above or below them, computed exactly) give the same toys."""
    rng = np.random.default_rng(5)
    cells, b = chain_cells(n_windows=60, width=6, cell_mean=0.5)
    cells = lee.CellInputs(
        rng.uniform(0.05, 3.0, cells.n_cells), np.zeros(cells.n_cells), cells.indptr, cells.indices
    )
    b = np.asarray(cells.matrix() @ cells.background).ravel()
    common = {"centres": np.arange(60.0), "gv_toys": 300, "batch_size": 400}
    wide = lee.build_toy_model(b, cells, pvalue=PVALUE, **common)
    short = lee.build_toy_model(b, cells, pvalue=PVALUE, table_sigmas=0.3, **common)
    assert np.any(short.ztable.n_max < wide.ztable.n_max)
    one, two = lee.run_toys(wide, n_toys=800, seed=4), lee.run_toys(short, n_toys=800, seed=4)
    for i in one:
        np.testing.assert_array_equal(one[i].max_z, two[i].max_z)
        np.testing.assert_array_equal(one[i].argmax, two[i].argmax)
        np.testing.assert_array_equal(one[i].euler, two[i].euler)


def test_toys_below_every_table_get_their_exact_maximum() -> None:
    b = np.full(3, 200.0)  # tables start near 150: a toy with all counts below needs the exact Z
    cells = lee.CellInputs(np.array([b[0]]), np.zeros(1), np.arange(4), np.zeros(3, dtype=np.int64))
    model = lee.build_toy_model(b, cells, pvalue=PVALUE, batch_size=2000)
    assert np.all(model.ztable.n_min > 100)
    toys = max_z(model, 2000, seed=2)
    assert np.all(np.isfinite(toys))
    # Identical windows: max Z is the single window's Z, so its median is ~ 0 (never Z_BELOW).
    assert np.min(toys) < -2
    reference = tail_probability(200.0, -1.0)
    assert abs(np.mean(toys >= -1.0) - reference) < 4 * np.sqrt(reference * (1 - reference) / 2000)


def test_local_processes_give_the_same_toys() -> None:
    model, n_toys, seed = small_model(), 400, 8
    inline = lee.run_toys(model, n_toys=n_toys, seed=seed)
    with parallel.executor(workers=2) as ex:
        pooled = lee.run_toys(model, n_toys=n_toys, seed=seed, executor=ex)
    for i in inline:
        np.testing.assert_array_equal(inline[i].max_z, pooled[i].max_z)
        np.testing.assert_array_equal(inline[i].euler, pooled[i].euler)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_dask_local_cluster_gives_the_same_toys(tmp_path: Path) -> None:
    """Library and CLI (--scheduler) on a real LocalCluster with 2 worker processes."""
    distributed = pytest.importorskip("distributed")
    from dhstat.cli import main

    model, n_toys, seed = small_model(), 400, 8
    inline = lee.run_toys(model, n_toys=n_toys, seed=seed)
    scan_path, counts_path = search_documents(tmp_path, n_windows=20)
    config = tmp_path / "cfg.toml"
    config.write_text("[lee]\nbatch_size = 100\ngv_toys = 100\n")
    common = ["lee", "--scan", str(scan_path), "--counts", str(counts_path), "--toys", "300",
              "--seed", "3", "--config", str(config)]  # fmt: skip
    main([*common, "--workers", "1", "--output", str(tmp_path / "local.json")])
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with parallel.executor(scheduler=cluster.scheduler_address) as ex:
            remote = lee.run_toys(model, n_toys=n_toys, seed=seed, executor=ex)
        main([*common, "--scheduler", cluster.scheduler_address,
              "--output", str(tmp_path / "dask.json")])  # fmt: skip
    local = (tmp_path / "local.json").read_bytes()
    assert (tmp_path / "dask.json").read_bytes() == local
    assert sorted(remote) == sorted(inline)
    for i in inline:
        np.testing.assert_array_equal(inline[i].max_z, remote[i].max_z)
        np.testing.assert_array_equal(inline[i].argmax, remote[i].argmax)
        np.testing.assert_array_equal(inline[i].euler, remote[i].euler)
