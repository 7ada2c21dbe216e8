"""Shared inputs and helpers of the workspace tests (importable: see ``conftest.py``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyhf

from dhstat import counting, windows, workspace

LUMI = 8.34

# id, ma, mh, n_obs, {process: (yield, stat_error)}, efficiency, efficiency_error
WINDOWS: list[tuple[int, float, float, int, dict[str, tuple[float, float]], float, float]] = [
    (
        3,
        2.0,
        0.5,
        4,
        {"mumu": (3.1, 0.4), "tautau": (0.6, 0.2), "eemumu": (0.05, 0.05)},
        0.02,
        1e-3,
    ),
    (
        11,
        5.44,
        3.18,
        9,
        {"mumu": (2.5, 0.3), "tautau": (1.2, 0.3), "eemumu": (0.0, 0.0)},
        0.2,
        4e-3,
    ),
    (12, 7.0, 1.0, 0, {"mumu": (0.0, 0.0), "tautau": (0.0, 0.0), "eemumu": (0.0, 0.0)}, 0.15, 4e-3),
    (40, 9.5, 0.3, 7, {"mumu": (5.0, 0.5), "tautau": (0.1, 0.05), "eemumu": (0.2, 0.1)}, 0.1, 3e-3),
    (41, 9.0, 0.2, 2, {"mumu": (1.0, 0.2), "tautau": (0.3, 0.1), "eemumu": (0.0, 0.0)}, 0.12, 3e-3),
]


def windows_doc(rows: list[Any] = WINDOWS) -> dict[str, Any]:
    n = len(rows)
    base = windows.from_ellipses(
        [[mh**2, ma**2] for _, ma, mh, *_ in rows],
        [[0.4 + 0.01 * i, 0.02] for i in range(n)],
        [0.01 * i for i in range(n)],
        ceta_cut=[0.9 - 0.01 * i for i in range(n)],
        ids=[row[0] for row in rows],
    )
    filled = dataclasses.replace(
        base,
        ma=np.array([row[1] for row in rows]),
        mh=np.array([row[2] for row in rows]),
        efficiency=np.array([row[5] for row in rows]),
        efficiency_error=np.array([row[6] for row in rows]),
        meta={
            "config_digest": "0" * 64,
            "dhstat_version": "0.1.0",
            "seed": 1,
            "sqrt_s": 10.58,
            "n_grid_total": n,
            "n_grid_in_range": n,
            "grid": {},
            "windows": {},
            "ceta_cuts": "loosest",
            "contour": "test",
        },
    )
    return filled.to_dict()


def counts_doc(rows: list[Any] = WINDOWS) -> dict[str, Any]:
    n = len(rows)
    processes = ("mumu", "tautau", "eemumu")
    background = np.array([[row[4][p][0] for p in processes] for row in rows])
    errors = np.array([[row[4][p][1] for p in processes] for row in rows])
    counts = counting.Counts(
        luminosity_fb=LUMI,
        ids=np.array([row[0] for row in rows]),
        processes=processes,
        n_observed=np.array([row[3] for row in rows]),
        background=background,
        background_sumw2=errors**2,
        efficiency=np.array([row[5] for row in rows]),
        efficiency_error=np.array([row[6] for row in rows]),
        ceta_cut=np.array([0.9 - 0.01 * i for i in range(n)]),
        cell_background=background,
        cell_sumw2=errors**2,
        cell_n_observed=np.array([row[3] for row in rows]),
        window_cells_indptr=np.arange(n + 1),
        window_cells_indices=np.arange(n),
        meta={
            "n_data_events": 1,
            "n_data_memberships": 1,
            "windows_per_event": 1.0,
            "windows_config_digest": "0" * 64,
        },
    )
    return counts.to_dict()


def write_inputs(folder: Path, counts: Any = None, wins: Any = None) -> tuple[Path, Path]:
    counts_path, windows_path = folder / "counts.json", folder / "windows.json"
    counts_path.write_text(json.dumps(counts if counts is not None else counts_doc()))
    windows_path.write_text(json.dumps(wins if wins is not None else windows_doc()))
    return counts_path, windows_path


def row(window_id: int) -> tuple[Any, ...]:
    return next(r for r in WINDOWS if r[0] == window_id)


def floor() -> float:
    """The one-MC-event weight given to windows without simulated background (sum w^2 / sum w)."""
    squares: dict[str, float] = {}
    yields: dict[str, float] = {}
    for r in WINDOWS:
        for process, (value, error) in r[4].items():
            yields[process] = yields.get(process, 0.0) + value
            squares[process] = squares.get(process, 0.0) + error**2
    return max(squares[p] / yields[p] for p in yields if yields[p] > 0)


def by_sample(model: Any, pars: list[float]) -> dict[str, float]:
    per_sample = model.main_model.expected_data(np.asarray(pars), return_by_sample=True)
    return {name: float(per_sample[i][0]) for i, name in enumerate(model.config.samples)}


def models(wset: workspace.WorkspaceSet) -> dict[int, Any]:
    return {
        entry["id"]: pyhf.Workspace(spec).model()
        for entry, spec in zip(wset.index["windows"], wset.workspaces, strict=True)
    }
