from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from dhstat import counting, schemas, windows
from dhstat.errors import InputError


def events(rng: np.random.Generator, n: int, *, weight: float = 1.0) -> dict[str, NDArray[Any]]:
    return {
        "mrecoil2": rng.uniform(-1, 11, n),
        "mmumu2": rng.uniform(-1, 11, n),
        "ceta": rng.random(n),
        "weight": rng.uniform(0.5, 1.5, n) * weight,
    }


def overlapping_windows(rng: np.random.Generator, n: int = 60) -> windows.Windows:
    center = rng.uniform(0, 10, (n, 2))
    a = rng.uniform(0.5, 2.0, n)
    axes = np.stack([a, a * rng.uniform(0.2, 1.0, n)], 1)
    return windows.from_ellipses(
        center, axes, rng.uniform(-1.5, 1.5, n), ceta_cut=rng.uniform(0.5, 1.0, n)
    )


@pytest.fixture
def setup(rng: np.random.Generator) -> tuple[windows.Windows, dict[str, Any], dict[str, Any]]:
    w = overlapping_windows(rng)
    data = events(rng, 3000)
    bkg = {"mumu": events(rng, 8000, weight=0.3), "tautau": events(rng, 2000, weight=0.1)}
    return w, data, bkg


def brute(w: windows.Windows, ev: dict[str, Any]) -> NDArray[np.bool_]:
    inside = windows.contains(w, ev["mrecoil2"], ev["mmumu2"])
    return inside & (ev["ceta"][:, None] < w.ceta_cut[None, :])


def test_counts_equal_brute_force_and_conserve_weights(setup: Any) -> None:
    w, data, bkg = setup
    c = counting.count(w, data, bkg, luminosity_fb=8.34)
    assert c.processes == ("mumu", "tautau")
    assert np.array_equal(c.n_observed, brute(w, data).sum(axis=0))
    for k, p in enumerate(c.processes):
        m = brute(w, bkg[p])
        assert c.background[:, k] == pytest.approx(m.T @ bkg[p]["weight"], rel=1e-12)
        assert c.stat_error[:, k] == pytest.approx(np.sqrt(m.T @ bkg[p]["weight"] ** 2), rel=1e-12)
    # one window containing everything, no C_eta cut: B = sum of all weights
    big = windows.from_ellipses([[5.0, 5.0]], [[100.0, 100.0]], [0.0], ceta_cut=[1.0])
    c_big = counting.count(big, data, bkg, luminosity_fb=1.0)
    assert c_big.background[0] == pytest.approx([bkg[p]["weight"].sum() for p in c.processes])
    assert c_big.n_observed[0] == data["ceta"].size
    assert c.meta["windows_per_event"] == pytest.approx(brute(w, data).sum() / data["ceta"].size)


def test_cells_reproduce_window_backgrounds_exactly(setup: Any) -> None:
    w, data, bkg = setup
    c = counting.count(w, data, bkg, luminosity_fb=8.34)
    wc = c.window_cells
    assert wc.shape == (len(w), c.n_cells)
    assert np.allclose(wc @ c.cell_background, c.background, rtol=1e-12, atol=0)
    assert np.allclose(wc @ c.cell_sumw2, c.background_sumw2, rtol=1e-12, atol=0)
    assert np.array_equal(wc @ c.cell_n_observed, c.n_observed)
    # cells are disjoint: their total is the weight of events counted in at least one window
    for k, p in enumerate(c.processes):
        in_any = brute(w, bkg[p]).any(axis=1)
        assert c.cell_background[:, k].sum() == pytest.approx(bkg[p]["weight"][in_any].sum())
    # every cell is a distinct window set
    csc = wc.tocsc()
    csc.sort_indices()
    signatures = {
        tuple(csc.indices[csc.indptr[i] : csc.indptr[i + 1]].tolist()) for i in range(c.n_cells)
    }
    assert len(signatures) == c.n_cells


def test_cells_of_known_pattern() -> None:
    w = windows.from_ellipses([[0.0, 0.0], [1.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]], [0.0, 0.0])
    ev = {
        "mrecoil2": np.array([-0.5, 0.5, 0.6, 1.5, 5.0]),
        "mmumu2": np.zeros(5),
        "ceta": np.zeros(5),
        "weight": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
    }
    c = counting.count(w, ev, {"mumu": ev}, luminosity_fb=1.0)
    # cells: {0}, {1}, {0, 1}
    assert c.n_cells == 3
    assert c.background[:, 0].tolist() == [6.0, 9.0]
    assert sorted(c.cell_background[:, 0].tolist()) == [1.0, 4.0, 5.0]


def test_round_trip_and_schema(setup: Any, tmp_path: Path) -> None:
    w, data, bkg = setup
    c = counting.count(w, data, bkg, luminosity_fb=8.34)
    path = tmp_path / "counts.json"
    counting.save(c, path)
    doc = json.loads(path.read_text())
    schemas.validate(doc, "counts", source=path)
    back = counting.load(path)
    assert np.array_equal(back.n_observed, c.n_observed)
    assert np.allclose(back.background, c.background, rtol=1e-15)
    assert np.allclose(back.background_sumw2, c.background_sumw2, rtol=1e-12)
    assert np.array_equal(back.window_cells_indices, c.window_cells_indices)
    doc["cells"]["window_cells"]["indptr"][-1] += 1
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="indptr"):
        counting.load(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("ceta"), "ceta"),
        (lambda e: e["mmumu2"].__setitem__(0, np.nan), "mmumu2"),
        (lambda e: e["weight"].__setitem__(0, -1.0), "weight"),
    ],
)
def test_bad_background_is_input_error(setup: Any, change: Any, field: str) -> None:
    w, data, bkg = setup
    change(bkg["mumu"])
    with pytest.raises(InputError, match=f"mumu: {field}: expected"):
        counting.count(w, data, bkg, luminosity_fb=1.0)


def test_split_processes() -> None:
    arrays = {"process": np.array([2, 3, 2]), "weight": np.array([1.0, 2.0, 3.0])}
    out = counting.split_processes(arrays, ("data", "signal", "mumu", "tautau"))
    assert out["mumu"]["weight"].tolist() == [1.0, 3.0]
    assert out["tautau"]["weight"].tolist() == [2.0]
    with pytest.raises(InputError, match="process"):
        counting.split_processes({"process": np.array([7])}, ("data",))


def write_selected_file(path: Path, arrays: dict[str, Any], process: str) -> None:
    from dhstat import selection

    n = arrays["weight"].size
    full = {
        v: np.asarray(arrays.get(v, np.zeros(n)), dtype=np.float64) for v in selection.VARIABLES
    }
    full["process"] = np.full(n, selection.PROCESSES.index(process), dtype=np.int32)
    empty = {v: np.zeros(0) for v in selection.VARIABLES} | {"process": np.zeros(0, np.int32)}
    samples = {s: (full if s == "search" else empty) for s in selection.SAMPLES}
    selection.write_selected(path, selection.SelectionOutput(samples, {}, {}, "0" * 64, 8.34))


def test_count_command_end_to_end(setup: Any, tmp_path: Path) -> None:
    from dhstat.cli import main

    w, data, bkg = setup
    wdoc = w.to_dict()
    wdoc["meta"] = {
        "config_digest": "x",
        "dhstat_version": "0",
        "seed": 1,
        "sqrt_s": 10.58,
        "n_grid_total": len(w),
        "n_grid_in_range": len(w),
        "grid": {},
        "windows": {},
        "ceta_cuts": "loosest",
        "contour": "test",
    }
    wpath = tmp_path / "windows.json"
    windows.save(windows.Windows.from_dict(wdoc), wpath)
    write_selected_file(tmp_path / "data.root", data, "data")
    write_selected_file(tmp_path / "mumu.root", bkg["mumu"], "mumu")
    write_selected_file(tmp_path / "tautau.root", bkg["tautau"], "tautau")
    out = tmp_path / "counts.json"
    argv = ["count", "--windows", str(wpath), "--data", str(tmp_path / "data.root"),
            "--background", str(tmp_path / "mumu.root"), str(tmp_path / "tautau.root"),
            "--output", str(out)]  # fmt: skip
    main(argv)
    c = counting.load(out)
    direct = counting.count(windows.load(wpath), data, bkg, luminosity_fb=8.34)
    assert c.processes == ("mumu", "tautau", "eemumu")
    assert np.array_equal(c.n_observed, direct.n_observed)
    assert np.allclose(c.background[:, :2], direct.background, rtol=1e-12)
    assert np.all(c.background[:, 2] == 0)
    assert c.n_cells == direct.n_cells
    with pytest.raises(SystemExit) as info:
        main([*argv[:3], "--data", str(tmp_path / "missing.root"), *argv[5:]])
    assert info.value.code == 2


@pytest.mark.parametrize("n_windows", [50, 20_000])  # one int64 key per row / np.unique fallback
def test_cells_against_python_reference(rng: np.random.Generator, n_windows: int) -> None:
    import scipy.sparse

    rows = []
    for _ in range(3000):
        k = int(rng.integers(0, 7))
        pool = rng.integers(0, 8) * 5 + np.arange(12)  # few distinct sets, so cells repeat
        rows.append(np.sort(rng.choice(np.minimum(pool, n_windows - 1), k, replace=False)))
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
    indices = np.concatenate(rows).astype(np.int64)
    m = scipy.sparse.csr_matrix(
        (np.ones(indices.size, np.int8), indices, indptr), shape=(len(rows), n_windows)
    )
    cell, wc = counting.cells(m)
    reference: dict[tuple[int, ...], int] = {}
    for i, r in enumerate(rows):
        key = tuple(r.tolist())
        if not key:
            assert cell[i] == -1
            continue
        assert reference.setdefault(key, int(cell[i])) == cell[i]
    assert len(set(reference.values())) == len(reference) == wc.shape[1]
    csc = wc.tocsc()
    csc.sort_indices()
    for key, c in reference.items():
        assert tuple(csc.indices[csc.indptr[c] : csc.indptr[c + 1]].tolist()) == key
