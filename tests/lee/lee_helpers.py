"""Shared helpers of the look-elsewhere tests (synthetic cells, models, run headers, inputs).

Imported by the tests as ``lee_helpers`` (``tests/lee`` is put on ``sys.path`` by conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats

from dhstat import jsonio, lee

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


def header(model: lee.ToyModel, n_toys: int, seed: int) -> lee.RunHeader:
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
