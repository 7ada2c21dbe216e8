from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dhstat import jsonio, parallel
from dhstat.errors import InputError
from dhstat.stats import lee

# Stand-in window model until stats.significance lands: windows = expected background per window,
# p-value = Poisson tail without smearing (lee.poisson_pvalue, module level so workers can load it).
PVALUE = lee.poisson_pvalue


def disjoint_cells(b: np.ndarray) -> lee.CellInputs:
    w = b.size
    return lee.CellInputs(b, np.zeros(w), np.arange(w + 1), np.arange(w))


def chain_cells(n_windows: int, width: int, cell_mean: float) -> tuple[lee.CellInputs, np.ndarray]:
    """Sliding windows of ``width`` consecutive cells, step one cell (1-D chain)."""
    n_cells = n_windows + width - 1
    indices = np.concatenate([np.arange(i, i + width) for i in range(n_windows)])
    indptr = np.arange(0, n_windows * width + 1, width)
    b = np.full(n_cells, cell_mean)
    cells = lee.CellInputs(b, np.zeros(n_cells), indptr, indices)
    return cells, np.full(n_windows, cell_mean * width)


def max_z(model: lee.ToyModel, n_toys: int, seed: int) -> np.ndarray:
    results = lee.run_toys(model, n_toys=n_toys, seed=seed)
    return np.concatenate([results[i].max_z for i in sorted(results)])


def tail_probability(b: float, z: float) -> float:
    """P(Z(n) >= z) for a Poisson(b) count, by brute-force summation over n."""
    n = np.arange(0, int(b + 40 * np.sqrt(b) + 60))
    zn = stats.norm.isf(stats.poisson.sf(n - 1, b))
    return float(stats.poisson.pmf(n, b)[zn >= z].sum())


# ------------------------------------------------------------------------------ Euler characteristic


def grid_graph(size: int = 9) -> tuple[lee.Graph, np.ndarray]:
    rng = np.random.default_rng(3)
    x, y = np.meshgrid(np.arange(size, dtype=float), np.arange(size, dtype=float))
    points = np.stack([x.ravel(), y.ravel()], axis=1) + rng.uniform(-0.1, 0.1, (size * size, 2))
    return lee.window_graph(points), points


def test_euler_characteristic_of_hand_made_sets() -> None:
    graph, points = grid_graph()
    r = np.hypot(points[:, 0] - 4, points[:, 1] - 4)
    disk = r < 2.5
    ring = (r > 1.5) & (r < 3.6)
    blobs = (np.hypot(points[:, 0] - 1.5, points[:, 1] - 1.5) < 1.3) | (
        np.hypot(points[:, 0] - 6.5, points[:, 1] - 6.5) < 1.3
    )
    # Sanity of the hand-made sets: the ring really encloses the centre, the blobs are apart.
    assert ring.sum() > 12
    assert not ring[np.argmin(r)]
    assert int(lee.euler_characteristic(disk, graph)) == 1
    assert int(lee.euler_characteristic(ring, graph)) == 0
    assert int(lee.euler_characteristic(blobs, graph)) == 2
    assert int(lee.euler_characteristic(np.zeros(r.size, bool), graph)) == 0
    assert int(lee.euler_characteristic(np.ones(r.size, bool), graph)) == 1
    # Vectorised over toys (columns).
    stacked = np.stack([disk, ring, blobs], axis=1)
    assert lee.euler_characteristic(stacked, graph).tolist() == [1, 0, 2]


def test_euler_characteristic_of_a_chain_counts_components() -> None:
    graph = lee.window_graph(np.arange(10.0))
    assert graph.triangles.shape == (0, 3)
    above = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 0], bool)
    assert int(lee.euler_characteristic(above, graph)) == 3


def test_duplicate_centres_join_the_graph() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    graph = lee.window_graph(points)
    # The duplicate alone above threshold is one component, joined to its twin when both are above.
    assert int(lee.euler_characteristic(np.array([0, 0, 0, 0, 1], bool), graph)) == 1
    assert int(lee.euler_characteristic(np.array([0, 0, 0, 1, 1], bool), graph)) == 1


# ------------------------------------------------------------------------------ validation


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


def test_nuisances_reproduce_the_prior_predictive_tail() -> None:
    """Identical windows with a 30 % common systematic and MC statistics: the toys' tail equals the
    prior-predictive p-value (negative binomial, Gauss-Hermite quadrature over theta)."""
    w, b, rel, mc = 5, 15.0, 0.3, 2.0
    cells = lee.CellInputs(
        np.array([b]), np.array([mc**2]), np.arange(w + 1), np.zeros(w, dtype=np.int64)
    )
    model = lee.build_toy_model(
        np.full(w, b),
        cells,
        pvalue=PVALUE,
        relative_windows=np.full((1, w), rel),
        batch_size=5000,
    )
    assert model.relative.tolist() == [[rel]]
    n_toys, z_obs = 20000, 2.0
    result = lee.global_significance(max_z(model, n_toys, seed=9), z_obs)
    # Count threshold of the (no-smearing) Z function used by the toys:
    n = np.arange(200)
    n_star = int(n[stats.norm.isf(stats.poisson.sf(n - 1, b)) >= z_obs][0])
    # MC statistics: Gamma(mean b, variance mc^2) -> negative binomial; theta by Gauss-Hermite.
    x, wgt = np.polynomial.hermite_e.hermegauss(80)
    wgt = wgt / wgt.sum()
    shape, scale = b**2 / mc**2, mc**2 / b * np.maximum(1 + rel * x, 1e-300)
    tail = stats.nbinom.sf(n_star - 1, shape, 1 / (1 + scale))
    reference = float((wgt * tail).sum())
    assert abs(result.p_global - reference) < 4 * np.sqrt(reference * (1 - reference) / n_toys)
    # Without the nuisances the tail is clearly smaller (the test can fail).
    assert stats.poisson.sf(n_star - 1, b) < reference - 10 * np.sqrt(reference / n_toys)


@pytest.mark.parametrize(("rel", "mc_stat"), [(0.3, True), (0.0, False), (0.0, True)])
def test_small_cells_give_the_exact_window_distribution(rel: float, mc_stat: bool) -> None:
    """Identical windows of 60 cells with small and large means (both generators of the toys):
    with a common MC-statistics scale s the window count is negative binomial NB(sum a_c, s f)
    given the systematic factor f = max(0, 1 + rel theta), integrated by Gauss-Hermite."""
    w, s = 5, 0.27
    cell_b = np.tile([0.02, 0.1, 0.4, 0.9, 2.5], 12)  # means below and above the direct-draw cut
    c = cell_b.size
    cells = lee.CellInputs(cell_b, cell_b * s, np.arange(0, w * c + 1, c), np.tile(np.arange(c), w))
    b = float(cell_b.sum())
    model = lee.build_toy_model(
        np.full(w, b),
        cells,
        pvalue=PVALUE,
        relative_windows=np.full((1, w), rel) if rel else None,
        mc_stat=mc_stat,
        batch_size=4000,
    )
    n_toys = 20000
    toys = max_z(model, n_toys, seed=13)
    x, wgt = np.polynomial.hermite_e.hermegauss(80)
    wgt = wgt / wgt.sum()
    f = np.maximum(1 + rel * x, 1e-300)
    for k in (int(b) - 3, int(b), int(b) + 6, int(b) + 14):
        z_k = float(stats.norm.isf(stats.poisson.sf(k - 1, b)))  # Z is increasing in n
        if mc_stat:
            tail = stats.nbinom.sf(k - 1, b / s, 1 / (1 + s * f))
        else:
            tail = stats.poisson.sf(k - 1, b * f)
        reference = float((wgt * tail).sum())
        observed = float(np.mean(toys >= z_k - 1e-9))
        sigma = np.sqrt(reference * (1 - reference) / n_toys)
        assert abs(observed - reference) < 4.5 * sigma + 1e-12, (k, observed, reference)


def test_gross_vitells_agrees_with_toys_on_a_chain() -> None:
    """1-D chain of 100 windows of 10 cells (step 1 cell, 90 % overlap), smooth background."""
    cells, b = chain_cells(n_windows=100, width=10, cell_mean=40.0)
    model = lee.build_toy_model(
        b,
        cells,
        pvalue=PVALUE,
        centres=np.arange(100.0),
        thresholds=(0.5, 1.0, 1.5, 2.0),
        gv_toys=1000,
        batch_size=1000,
    )
    n_toys = 20000
    results = lee.run_toys(model, n_toys=n_toys, seed=21)
    merged = lee.summarise(
        results,
        n_toys=n_toys,
        batch_size=1000,
        z_local=0.0,
        window=0,
        thresholds=model.thresholds,
    )
    euler = np.concatenate([results[i].euler for i in sorted(results)])
    assert euler.shape == (1000, 4)
    for z in (3.0, 3.5):
        toys = lee.global_significance(merged.max_z, z)
        gv = lee.fit_gross_vitells(model.thresholds, euler, z)
        assert 0.005 < toys.p_global < 0.2  # moderate thresholds, far from the single-window p
        tolerance = 3 * np.hypot(toys.p_global_error, gv.p_global_error)
        assert abs(gv.p_global - toys.p_global) < tolerance, (z, gv.p_global, toys.p_global)


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


def test_counts_outside_the_tables_are_computed_on_the_fly() -> None:
    b = np.array([1.0, 30.0])
    model = lee.build_toy_model(b, disjoint_cells(b), pvalue=PVALUE, table_sigmas=0.5)
    n = np.array([[0, 3, 40], [1, 50, 2]])
    assert np.any(n > model.ztable.n_max[:, None])
    assert np.any(n < model.ztable.n_min[:, None])
    expected = np.clip(stats.norm.isf(stats.poisson.sf(n - 1, b[:, None])), -lee.Z_CAP, lee.Z_CAP)
    np.testing.assert_array_equal(model.lookup(n), expected)
    # Below a table the true Z is <= the floor (1 = sqrt(lowest threshold)); the fast lookup
    # marks it, and each table starts at or below the floor.
    fast = model.lookup(n, exact=False)
    below = n < model.ztable.n_min[:, None]
    assert np.all(fast[below] == lee.Z_BELOW)
    assert np.all(expected[below] <= 1.0)
    first = model.ztable.values[model.ztable.offsets[:-1]]
    assert np.all(first[model.ztable.n_min > 0] <= 1.0)
    np.testing.assert_array_equal(fast[~below], expected[~below])


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


def test_observed_max_uses_the_toy_tables() -> None:
    b = np.array([5.0, 9.0, 3.0])
    model = lee.build_toy_model(b, disjoint_cells(b), pvalue=PVALUE)
    z, window = lee.observed_max(model, np.array([8, 16, 4]))
    ref = stats.norm.isf(stats.poisson.sf(np.array([8, 16, 4]) - 1, b))
    assert window == int(np.argmax(ref))
    assert z == pytest.approx(ref.max(), rel=1e-12)
    with pytest.raises(InputError, match="n_observed"):
        lee.observed_max(model, np.array([1, 2]))


def test_bad_cells_are_input_errors() -> None:
    bad = lee.CellInputs(np.array([1.0, -1.0]), np.zeros(2), np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(InputError, match=r"cells\.background"):
        bad.check("counts.json")
    bad = lee.CellInputs(np.ones(2), np.zeros(2), np.array([0, 1, 2]), np.array([0, 5]))
    with pytest.raises(InputError, match=r"cells\.indices"):
        bad.check("counts.json")


# ------------------------------------------------------------------------------ sharding, executors


def small_model(w: int = 120, c: int = 300) -> lee.ToyModel:
    rng = np.random.default_rng(0)
    rows = [np.sort(rng.choice(c, size=rng.integers(3, 9), replace=False)) for _ in range(w)]
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
    cells = lee.CellInputs(
        rng.uniform(0.1, 3.0, c), rng.uniform(0, 0.1, c), indptr, np.concatenate(rows)
    )
    b = np.asarray(cells.matrix() @ cells.background).ravel()
    return lee.build_toy_model(
        b,
        cells,
        pvalue=PVALUE,
        relative_windows=np.stack([np.full(w, 0.02), np.full(w, 0.01)]),
        centres=rng.uniform(0, 10, (w, 2)),
        gv_toys=150,
        batch_size=100,
    )


def header(model: lee.ToyModel, n_toys: int, seed: int) -> dict[str, object]:
    return lee.run_header(
        model,
        n_toys=n_toys,
        seed=seed,
        z_local=2.5,
        window=3,
        window_ids=list(range(model.n_windows)),
        systematics=["syst_detector", "syst_ceta"],
        inputs={"scan": "0" * 64, "counts": "1" * 64},
    )


def test_shards_merge_to_the_single_run(tmp_path: Path) -> None:
    model, n_toys, seed = small_model(), 750, 4
    head = header(model, n_toys, seed)
    single = lee.run_toys(model, n_toys=n_toys, seed=seed)
    whole = lee.lee_document(head, single)
    jsonio.write_json(tmp_path / "single.json", whole, schema="lee")
    paths = []
    for i in range(3):
        batches = lee.shard_batches(n_toys, model.batch_size, (i, 3))
        part = lee.run_toys(model, n_toys=n_toys, seed=seed, batches=batches)
        path = tmp_path / f"part{i}.json"
        jsonio.write_json(
            path, lee.part_document(head, (i, 3), part, complete=True), schema="lee-part"
        )
        paths.append(path)
    parts = [jsonio.read_json(p, schema="lee-part") for p in reversed(paths)]
    merged = lee.lee_document(head, lee.merge_parts(parts, list(reversed(paths))))
    jsonio.write_json(tmp_path / "merged.json", merged, schema="lee")
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "single.json").read_bytes()
    assert len(merged["max_z"]) == n_toys
    assert merged["gross_vitells"]["n_toys"] == 150
    # A missing shard, a duplicated shard and a foreign shard are refused.
    with pytest.raises(InputError, match="batches"):
        lee.lee_document(head, lee.merge_parts(parts[:2], paths[:2]))
    with pytest.raises(InputError, match="one part only"):
        lee.merge_parts([parts[0], parts[0]], [paths[0], paths[0]])
    other = json.loads(json.dumps(parts[1]))
    other["run"]["seed"] = 5
    with pytest.raises(InputError, match="same run"):
        lee.merge_parts([parts[0], other], paths[:2])


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


# ------------------------------------------------------------------------------ checkpoints


RUNNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dhstat import jsonio
    from dhstat.stats import lee
    sys.path.insert(0, {tests!r})
    from test_lee import header, small_model
    model = small_model(1500, 4000)
    n_toys, out = {n_toys}, Path({out!r})
    head = header(model, n_toys, 3)
    ckpt = out.with_name(out.name + ".checkpoint.json")
    results = lee.run_checkpointed(model, head, checkpoint=ckpt)
    jsonio.write_json(out, lee.lee_document(head, results), schema="lee")
    ckpt.unlink()
    """
)


def test_killed_run_resumes_without_losing_or_repeating_toys(tmp_path: Path) -> None:
    n_toys = 2000  # 20 batches of 100 toys
    tests = str(Path(__file__).parent)
    reference = tmp_path / "reference.json"  # the uninterrupted run, in this process
    model = small_model(1500, 4000)
    head = header(model, n_toys, 3)
    whole = lee.lee_document(head, lee.run_toys(model, n_toys=n_toys, seed=3))
    jsonio.write_json(reference, whole, schema="lee")

    script = tmp_path / "runner.py"
    out = tmp_path / "resumed.json"
    checkpoint = tmp_path / "resumed.json.checkpoint.json"
    script.write_text(RUNNER.format(tests=tests, n_toys=n_toys, out=str(out)))
    process = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists():
                done = len(jsonio.read_json(checkpoint)["batches"])
                if done >= 3:
                    break
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    partial = jsonio.read_json(checkpoint, schema="lee-part")
    assert not partial["complete"]
    assert 3 <= len(partial["batches"]) < 20
    subprocess.run([sys.executable, str(script)], check=True, timeout=300)
    assert not checkpoint.exists()
    assert out.read_bytes() == reference.read_bytes()


def test_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    model = small_model()
    checkpoint = tmp_path / "x.checkpoint.json"
    results = lee.run_toys(model, n_toys=200, seed=1, batches=[0])
    jsonio.write_json(
        checkpoint,
        lee.part_document(header(model, 200, 1), (0, 1), results, complete=False),
        schema="lee-part",
    )
    with pytest.raises(InputError, match="same run"):
        lee.run_checkpointed(model, header(model, 200, 2), checkpoint=checkpoint)
    resumed = lee.run_checkpointed(model, header(model, 200, 1), checkpoint=checkpoint)
    np.testing.assert_array_equal(resumed[0].max_z, results[0].max_z)
    assert sorted(resumed) == [0, 1]


# ------------------------------------------------------------------------------ real inputs + CLI


def search_documents(tmp_path: Path, n_windows: int = 40) -> tuple[Path, Path]:
    """results.json (window model from real single-bin workspaces) and counts.json (cells)."""
    from dhstat.counting import Counts
    from dhstat.stats import significance
    from dhstat.stats.model import WindowSet, window_spec

    rng = np.random.default_rng(17)
    width = 4
    n_cells = n_windows + width - 1
    cell_b = rng.uniform(1.0, 3.0, (n_cells, 2))  # two processes
    cell_w2 = cell_b * 0.01
    indices = np.concatenate([np.arange(i, i + width) for i in range(n_windows)])
    indptr = np.arange(0, n_windows * width + 1, width)
    cell_n = rng.poisson(cell_b.sum(axis=1))
    window_b = np.stack([cell_b[i : i + width].sum(axis=0) for i in range(n_windows)])
    window_w2 = np.stack([cell_w2[i : i + width].sum(axis=0) for i in range(n_windows)])
    n_obs = np.array([cell_n[i : i + width].sum() for i in range(n_windows)])
    ids = np.arange(100, 100 + n_windows)
    counts = Counts(
        luminosity_fb=8.34,
        ids=ids,
        processes=("mumu", "tautau"),
        n_observed=n_obs,
        background=window_b,
        background_sumw2=window_w2,
        efficiency=np.full(n_windows, 0.2),
        efficiency_error=np.full(n_windows, 0.01),
        ceta_cut=np.full(n_windows, 0.9),
        cell_background=cell_b,
        cell_sumw2=cell_w2,
        cell_n_observed=cell_n,
        window_cells_indptr=indptr,
        window_cells_indices=indices,
        meta={
            "n_data_events": int(cell_n.sum()),
            "n_data_memberships": int(n_obs.sum()),
            "windows_per_event": float(n_obs.sum() / cell_n.sum()),
            "windows_config_digest": "0" * 64,
        },
    )
    specs = []
    for k in range(n_windows):
        b = {"mumu": window_b[k, 0], "tautau": window_b[k, 1]}
        frac = 0.02 if k < n_windows // 2 else 0.13
        specs.append(
            window_spec(
                n=int(n_obs[k]),
                signal=1.67,
                backgrounds=b,
                background_shifts={
                    p: {"syst_detector": frac * v, "syst_ceta": 0.01 * v} for p, v in b.items()
                },
                signal_shifts={"syst_mass_resolution": 0.05},
                stat_errors={p: float(np.sqrt(window_w2[k, j])) for j, p in enumerate(b)},
            )
        )
    ws = WindowSet.from_specs(specs, ids=[str(i) for i in ids])
    z = significance.z_of_p(significance.hybrid_pvalue(ws, ws.n[:, None])[:, 0])
    scan = {
        "window_model": ws.to_dict(),
        "windows": [
            {"id": int(i), "ma": 4.0 + 0.05 * k, "mh": 1.0 + 0.3 * (k % 3), "z": float(zz)}
            for k, (i, zz) in enumerate(zip(ids, z, strict=True))
        ],
    }
    scan_path, counts_path = tmp_path / "results.json", tmp_path / "counts.json"
    jsonio.write_json(scan_path, scan)
    jsonio.write_json(counts_path, counts.to_dict(), schema="counts")
    return scan_path, counts_path


def test_search_inputs_align_scan_and_counts(tmp_path: Path) -> None:
    scan_path, counts_path = search_documents(tmp_path)
    inputs = lee.search_inputs(jsonio.read_json(scan_path), jsonio.read_json(counts_path))
    assert inputs.systematics == ("syst_ceta", "syst_detector")
    np.testing.assert_allclose(inputs.relative[1], np.repeat([0.02, 0.13], 20), rtol=1e-12)
    # Cells add up to the windows' background.
    b = np.asarray(inputs.cells.matrix() @ inputs.cells.background).ravel()
    np.testing.assert_allclose(b, inputs.windows.background, rtol=1e-12)
    assert inputs.centres is not None
    assert inputs.centres.shape == (40, 2)
    # The observed maximum from the toy tables equals the scan's own largest Z.
    from dhstat.stats import significance

    model = lee.build_toy_model(
        inputs.windows,
        inputs.cells,
        pvalue=significance.hybrid_pvalue,
        relative_windows=inputs.relative,
        centres=inputs.centres,
    )
    z, _ = lee.observed_max(model, inputs.n_observed)
    assert inputs.z_scan is not None
    assert z == pytest.approx(inputs.z_scan, rel=1e-12)
    # A count that disagrees with the scan is an input error naming the counts file.
    document = jsonio.read_json(counts_path)
    document["windows"]["n_observed"][3] += 1
    with pytest.raises(InputError, match=r"counts\.json: windows\.n_observed\[3\]"):
        lee.search_inputs(jsonio.read_json(scan_path), document, counts_source=counts_path)


def test_cli_shards_merge_to_the_single_run(tmp_path: Path) -> None:
    from dhstat.cli import main

    scan_path, counts_path = search_documents(tmp_path)
    config = tmp_path / "cfg.toml"
    config.write_text("[lee]\nbatch_size = 100\ngv_toys = 150\n")
    common = [
        "lee",
        "--scan",
        str(scan_path),
        "--counts",
        str(counts_path),
        "--toys",
        "700",
        "--seed",
        "3",
        "--workers",
        "1",
        "--config",
        str(config),
    ]
    main([*common, "--output", str(tmp_path / "single.json")])
    for i in range(3):
        main([*common, "--shard", f"{i}/3", "--output", str(tmp_path / f"p{i}.json")])
    main(
        [
            "lee",
            "merge",
            *(str(tmp_path / f"p{i}.json") for i in (2, 0, 1)),
            "--output",
            str(tmp_path / "merged.json"),
        ]
    )
    single = (tmp_path / "single.json").read_bytes()
    assert (tmp_path / "merged.json").read_bytes() == single
    document = jsonio.read_json(tmp_path / "single.json", schema="lee")
    assert document["n_toys"] == 700
    assert document["provenance"]["systematics"] == ["syst_ceta", "syst_detector"]
    assert document["gross_vitells"]["n_toys"] == 150
    assert not list(tmp_path.glob("*.checkpoint.json"))
    with pytest.raises(SystemExit) as info:
        main([*common, "--shard", "3/3", "--output", str(tmp_path / "bad.json")])
    assert info.value.code == 2
