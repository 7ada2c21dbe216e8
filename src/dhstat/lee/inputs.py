"""What the toys need from the scan results and the counts, aligned window by window.

The scan's ``results.json`` carries the window likelihoods (``window_model``) and the observed Z;
``counts.json`` carries the disjoint cells and the window -> cell map. :func:`search_inputs`
aligns them by window id and derives the relative background shift of each systematic source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.counting import Counts
from dhstat.errors import InputError
from dhstat.lee.cells import CellInputs
from dhstat.stats.model import WindowSet

__all__ = ["SearchInputs", "search_inputs"]


def __dir__() -> list[str]:
    return __all__


def _columns(block: Any) -> dict[str, list[Any]]:
    """Per-window values as columns, from a columnar object or a list of per-window objects."""
    if isinstance(block, Mapping):
        return {k: list(v) for k, v in block.items() if isinstance(v, list)}
    if isinstance(block, list) and block and isinstance(block[0], Mapping):
        keys = set(block[0])
        return {k: [row.get(k) for row in block] for k in keys}
    return {}


@dataclass(frozen=True, slots=True)
class SearchInputs:
    """What the toys need from ``results.json`` and ``counts.json``, aligned window by window.

    Attributes:
        windows: The window likelihoods (``stats.model.WindowSet``), in scan order.
        cells: The cells with the CSR map rows in scan order.
        ids: Window ids in scan order.
        n_observed: Observed counts.
        relative: Relative background shift per systematic parameter and window, (P, W).
        systematics: Names of those parameters.
        centres: Window centres (M_A', M_h') [GeV] (or ``None`` if the scan has none).
        z_scan: Largest local Z in the scan results, if present.
    """

    windows: Any
    cells: CellInputs
    ids: tuple[int | str, ...]
    n_observed: NDArray[np.int64]
    relative: NDArray[np.float64]
    systematics: tuple[str, ...]
    centres: NDArray[np.float64] | None
    z_scan: float | None


def search_inputs(
    scan: Mapping[str, Any],
    counts: Mapping[str, Any],
    *,
    scan_source: str | os.PathLike[str] = "results.json",
    counts_source: str | os.PathLike[str] = "counts.json",
) -> SearchInputs:
    """Align the scan's window model (``window_model``) with the counts' cells by window id.

    Raises:
        InputError: missing window model, windows without cells, or different observed counts.
    """
    if "window_model" not in scan:
        raise InputError(scan_source, "window_model", "the window likelihoods (WindowSet.to_dict)")
    windows = WindowSet.from_dict(scan["window_model"])
    table = Counts.from_dict(counts, source=str(counts_source))
    row_of = {str(i): k for k, i in enumerate(table.ids.tolist())}
    missing = [i for i in windows.ids if i not in row_of]
    if missing:
        raise InputError(counts_source, "windows.id", "every window of the scan", got=missing[:3])
    rows = np.array([row_of[i] for i in windows.ids], dtype=np.int64)
    starts, stops = table.window_cells_indptr[rows], table.window_cells_indptr[rows + 1]
    indices = np.concatenate(
        [table.window_cells_indices[a:b] for a, b in zip(starts, stops, strict=True)]
        or [np.zeros(0, np.int64)]
    )
    indptr = np.concatenate([[0], np.cumsum(stops - starts)]).astype(np.int64)
    n_observed = table.n_observed[rows]
    if not np.array_equal(n_observed, windows.n):
        bad = int(np.flatnonzero(n_observed != windows.n)[0])
        raise InputError(
            counts_source,
            f"windows.n_observed[{int(rows[bad])}]",
            f"the scan's count {int(windows.n[bad])} for window {windows.ids[bad]}",
            got=int(n_observed[bad]),
        )
    cells = CellInputs(
        table.cell_background.sum(axis=1),
        table.cell_sumw2.sum(axis=1),
        indptr,
        indices.astype(np.int64),
    )
    cells.check(counts_source)
    shifts = np.asarray(windows.background_shifts(), dtype=np.float64)  # (W, P)
    b = np.asarray(windows.background, dtype=np.float64)
    used = np.flatnonzero(np.any(shifts != 0, axis=0))
    relative = np.where(b[:, None] > 0, shifts[:, used] / np.where(b > 0, b, 1)[:, None], 0.0).T
    cols = _columns(scan.get("windows"))
    centres = None
    if "ma" in cols and "mh" in cols and "id" in cols:
        by_id = {str(i): k for k, i in enumerate(cols["id"])}
        if all(i in by_id for i in windows.ids):
            order = [by_id[i] for i in windows.ids]
            centres = np.stack(
                [np.asarray(cols["ma"], float)[order], np.asarray(cols["mh"], float)[order]], 1
            )
    z_values = [z for z in cols.get("z", []) if isinstance(z, int | float)]
    return SearchInputs(
        windows=windows,
        cells=cells,
        ids=tuple(int(i) if i.isdigit() else i for i in windows.ids),
        n_observed=np.asarray(windows.n, dtype=np.int64),
        relative=np.ascontiguousarray(relative),
        systematics=tuple(windows.parameters[j] for j in used),
        centres=centres,
        z_scan=max(z_values) if z_values else None,
    )
