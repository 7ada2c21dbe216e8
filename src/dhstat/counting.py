"""Counts per search window, and the disjoint cells the look-elsewhere toys need.

An event counts in window ``w`` if it lies inside the ellipse and its ``C_eta < ceta_cut[w]``.
Per window: the observed number of data events ``N``, the expected background per process
``B = sum w`` with its MC statistical uncertainty ``sqrt(sum w^2)``, and the signal efficiency
(copied from the windows, with its MC uncertainty).

**Cells.** The window boundaries and their C_eta cuts cut the (M_recoil^2, M_mumu^2, C_eta)
space into disjoint cells; a cell is identified by the set of windows its events count in (its
*membership signature*). Only cells that hold at least one event (MC or data) are kept. Every
window is the disjoint union of its cells, so summing a window's cells reproduces its background
exactly: ``B_w = sum_{c in cells(w)} B_c``. The window -> cell map is stored as CSR
(``indptr``, ``indices``): the cells of window ``k`` are ``indices[indptr[k]:indptr[k+1]]``.
Toys draw a Poisson count per cell and sum them per window, which carries all the correlations
between overlapping windows.

Example:
    >>> import numpy as np
    >>> from dhstat import windows
    >>> w = windows.from_ellipses([[0.0, 0.0], [1.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]], [0.0, 0.0])
    >>> ev = {"mrecoil2": np.array([0.5, -0.5, 1.5]), "mmumu2": np.zeros(3),
    ...       "ceta": np.zeros(3), "weight": np.ones(3)}
    >>> c = count(w, ev, {"mumu": ev}, luminosity_fb=1.0)
    >>> c.n_observed.tolist(), c.background[:, 0].tolist(), c.n_cells
    ([2, 2], [2.0, 2.0], 3)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike, NDArray

from dhstat import jsonio
from dhstat.errors import InputError
from dhstat.processes import BACKGROUNDS
from dhstat.windows import Windows, membership

__all__ = [
    "Counts",
    "cells",
    "count",
    "counted_membership",
    "load",
    "process_events",
    "save",
    "split_processes",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_VARIABLES = ("mrecoil2", "mmumu2", "ceta")


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True, eq=False)
class Counts:
    """Counts per window and the disjoint cells.

    Attributes:
        luminosity_fb: Integrated luminosity of the data [fb^-1] (signal yield = eps L sigma).
        ids: Window ids (as in the windows file), in window order.
        processes: Background process names (columns of the background arrays).
        n_observed: Observed data events per window.
        background: Expected background per window and process, shape (n_windows, n_processes).
        background_sumw2: Sum of squared MC weights per window and process (MC stat variance).
        efficiency: Signal efficiency per window.
        efficiency_error: Its MC statistical uncertainty.
        ceta_cut: The C_eta cut of each window (C_eta < cut counts).
        cell_background: Expected background per cell and process, shape (n_cells, n_processes).
        cell_sumw2: Sum of squared MC weights per cell and process.
        cell_n_observed: Observed data events per cell.
        window_cells_indptr: CSR row pointer of the window -> cell map, length n_windows + 1.
        window_cells_indices: CSR column indices (cell numbers), sorted within each window.
        meta: Provenance (JSON-serialisable).
    """

    luminosity_fb: float
    ids: IntArray
    processes: tuple[str, ...]
    n_observed: IntArray
    background: FloatArray
    background_sumw2: FloatArray
    efficiency: FloatArray
    efficiency_error: FloatArray
    ceta_cut: FloatArray
    cell_background: FloatArray
    cell_sumw2: FloatArray
    cell_n_observed: IntArray
    window_cells_indptr: IntArray
    window_cells_indices: IntArray
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return int(self.cell_n_observed.size)

    @property
    def stat_error(self) -> FloatArray:
        """MC statistical uncertainty of the background per window and process."""
        return np.sqrt(self.background_sumw2)

    @property
    def background_total(self) -> FloatArray:
        """Expected background per window, all processes."""
        return np.asarray(self.background.sum(axis=1), dtype=np.float64)

    @property
    def window_cells(self) -> scipy.sparse.csr_matrix:
        """The window -> cell map as a CSR matrix (n_windows x n_cells, int8)."""
        data = np.ones(self.window_cells_indices.size, dtype=np.int8)
        return scipy.sparse.csr_matrix(
            (data, self.window_cells_indices, self.window_cells_indptr),
            shape=(len(self), self.n_cells),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``counts`` JSON document (columnar; see schemas/counts.json)."""
        err = self.stat_error
        return {
            "schema_version": "1.0.0",
            "luminosity_fb": self.luminosity_fb,
            "processes": list(self.processes),
            "meta": dict(self.meta),
            "windows": {
                "id": self.ids.tolist(),
                "n_observed": self.n_observed.tolist(),
                "background": {
                    p: {"yield": self.background[:, k].tolist(), "stat_error": err[:, k].tolist()}
                    for k, p in enumerate(self.processes)
                },
                "efficiency": self.efficiency.tolist(),
                "efficiency_error": self.efficiency_error.tolist(),
                "ceta_cut": self.ceta_cut.tolist(),
            },
            "cells": {
                "n_observed": self.cell_n_observed.tolist(),
                "background": {
                    p: {
                        "yield": self.cell_background[:, k].tolist(),
                        "sumw2": self.cell_sumw2[:, k].tolist(),
                    }
                    for k, p in enumerate(self.processes)
                },
                "window_cells": {
                    "indptr": self.window_cells_indptr.tolist(),
                    "indices": self.window_cells_indices.tolist(),
                },
            },
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, source: str = "<input>") -> Counts:
        """Rebuild from :meth:`to_dict` output (schema-valid), checking the array lengths."""
        w = document["windows"]
        c = document["cells"]
        processes = tuple(document["processes"])
        n = len(w["id"])
        n_cells = len(c["n_observed"])
        for key in ("n_observed", "efficiency", "efficiency_error", "ceta_cut"):
            if len(w[key]) != n:
                raise InputError(source, f"windows.{key}", f"{n} entries (one per window)")
        for p in processes:
            for part, key, size in (("windows", "yield", n), ("windows", "stat_error", n),
                                    ("cells", "yield", n_cells), ("cells", "sumw2", n_cells)):  # fmt: skip
                block = document[part]["background"].get(p)
                if block is None or len(block[key]) != size:
                    raise InputError(source, f"{part}.background.{p}.{key}", f"{size} entries")
        indptr = np.asarray(c["window_cells"]["indptr"], dtype=np.int64)
        indices = np.asarray(c["window_cells"]["indices"], dtype=np.int64)
        if indptr.size != n + 1 or indptr[-1] != indices.size or np.any(np.diff(indptr) < 0):
            raise InputError(source, "cells.window_cells.indptr", f"a CSR row pointer of {n + 1}")
        if indices.size and (indices.min() < 0 or indices.max() >= n_cells):
            raise InputError(source, "cells.window_cells.indices", f"cell numbers < {n_cells}")

        def matrix(part: str, key: str, size: int) -> FloatArray:
            cols = [np.asarray(document[part]["background"][p][key], float) for p in processes]
            return np.stack(cols, axis=1) if cols else np.zeros((size, 0))

        return cls(
            luminosity_fb=float(document["luminosity_fb"]),
            ids=np.asarray(w["id"], dtype=np.int64),
            processes=processes,
            n_observed=np.asarray(w["n_observed"], dtype=np.int64),
            background=matrix("windows", "yield", n),
            background_sumw2=matrix("windows", "stat_error", n) ** 2,
            efficiency=np.asarray(w["efficiency"], dtype=np.float64),
            efficiency_error=np.asarray(w["efficiency_error"], dtype=np.float64),
            ceta_cut=np.asarray(w["ceta_cut"], dtype=np.float64),
            cell_background=matrix("cells", "yield", n_cells),
            cell_sumw2=matrix("cells", "sumw2", n_cells),
            cell_n_observed=np.asarray(c["n_observed"], dtype=np.int64),
            window_cells_indptr=indptr,
            window_cells_indices=indices,
            meta=dict(document.get("meta", {})),
        )


def save(counts: Counts, path: str | os.PathLike[str]) -> None:
    """Write ``counts`` as a ``counts`` JSON document (atomic, schema-checked)."""
    jsonio.write_json(path, counts.to_dict(), schema="counts", indent=None)


def load(path: str | os.PathLike[str]) -> Counts:
    """Read a ``counts`` JSON document.

    Raises:
        InputError: missing file, invalid JSON, schema mismatch or inconsistent arrays.
    """
    return Counts.from_dict(jsonio.read_json(path, schema="counts"), source=str(path))


def _events(arrays: Mapping[str, ArrayLike], source: str, *, weights: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = (*_VARIABLES, "weight") if weights else _VARIABLES
    n: int | None = None
    for name in names:
        if name not in arrays:
            raise InputError(source, name, "a branch of the selected events")
        value = np.asarray(arrays[name], dtype=np.float64).ravel()
        if n is not None and value.size != n:
            raise InputError(source, name, f"{n} entries like the other branches", got=value.size)
        n = value.size
        if not np.all(np.isfinite(value)):
            raise InputError(source, name, "finite values", got="NaN or infinity")
        out[name] = value
    if weights and np.any(out["weight"] < 0):
        raise InputError(source, "weight", "non-negative MC weights")
    return out


def counted_membership(
    windows: Windows, events: Mapping[str, ArrayLike]
) -> scipy.sparse.csr_matrix:
    """Membership with the C_eta cuts applied: event counts in window if inside and C_eta < cut.

    Args:
        windows: The windows.
        events: Flat arrays ``mrecoil2``, ``mmumu2``, ``ceta``.

    Returns:
        CSR matrix events x windows (int8), indices sorted within each row.
    """
    return membership(windows, events["mrecoil2"], events["mmumu2"], ceta=events["ceta"])


def split_processes(
    arrays: Mapping[str, NDArray[Any]], names: Sequence[str]
) -> dict[str, dict[str, NDArray[Any]]]:
    """Split selected events with a ``process`` index branch into one mapping per process.

    Args:
        arrays: Flat arrays including ``process`` (an index into ``names``).
        names: Process names the index refers to (the selected files' process list,
            :func:`dhstat.selection.selected_processes`).

    Returns:
        Process name -> arrays of that process, for every process present.

    Example:
        >>> out = split_processes({"process": np.array([1, 0, 1]), "x": np.arange(3)}, ["a", "b"])
        >>> {k: v["x"].tolist() for k, v in out.items()}
        {'a': [1], 'b': [0, 2]}
    """
    index = np.asarray(arrays["process"], dtype=np.int64)
    out: dict[str, dict[str, NDArray[Any]]] = {}
    for k in np.unique(index):
        if not 0 <= k < len(names):
            raise InputError(None, "process", f"an index into {list(names)}", got=int(k))
        mask = index == k
        out[str(names[k])] = {
            key: np.asarray(value)[mask] for key, value in arrays.items() if key != "process"
        }
    return out


def process_events(
    by_process: Mapping[str, Mapping[str, ArrayLike]],
    processes: Sequence[str] = BACKGROUNDS,
) -> dict[str, Mapping[str, ArrayLike]]:
    """The events of each of ``processes``, as :func:`count` takes them.

    Args:
        by_process: Process name -> events (e.g. from :func:`split_processes`); other processes
            are ignored.
        processes: The processes wanted, in order: a run's background processes
            (:func:`dhstat.processes.backgrounds_of` its selected files' process list,
            :func:`dhstat.selection.selected_processes`); default: the paper's
            :data:`dhstat.processes.BACKGROUNDS`.

    Returns:
        Process -> its events; a process without events gets empty arrays (``mrecoil2``,
        ``mmumu2``, ``ceta``, ``weight``).

    Example:
        >>> out = process_events({"tautau": {"weight": np.ones(2)}, "data": {}})
        >>> {p: len(e["weight"]) for p, e in out.items()}
        {'mumu': 0, 'tautau': 2, 'eemumu': 0}
    """
    empty = {name: np.zeros(0) for name in (*_VARIABLES, "weight")}
    return {p: by_process.get(p, empty) for p in processes}


def _unique_rows(block: IntArray, base: int) -> tuple[IntArray, IntArray]:
    """``np.unique(block, axis=0, return_inverse=True)``, fast when rows fit one int64 key."""
    k = block.shape[1]
    if k * max(int(base - 1).bit_length(), 1) <= 63:
        key = np.zeros(block.shape[0], dtype=np.int64)
        for j in range(k):  # mixed radix: lexicographic order of the rows = order of the keys
            key = key * base + block[:, j]
        uniq_key, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        del uniq_key
        return block[first], inverse.ravel()
    uniq, inverse = np.unique(block, axis=0, return_inverse=True)
    return uniq, inverse.ravel()


def cells(matrix: scipy.sparse.csr_matrix) -> tuple[IntArray, scipy.sparse.csr_matrix]:
    """The distinct non-empty rows (membership signatures) of an events x windows matrix.

    Args:
        matrix: Counted membership (events x windows), indices sorted within rows.

    Returns:
        ``(cell_of_event, window_cells)``: the cell number of each event (-1 if it is in no
        window) and the window -> cell map (n_windows x n_cells CSR, sorted indices).

    Example:
        >>> m = scipy.sparse.csr_matrix(np.array([[1, 1], [0, 0], [1, 1], [0, 1]], np.int8))
        >>> cell, wc = cells(m)
        >>> cell.tolist(), wc.toarray().tolist()
        ([1, -1, 1, 0], [[0, 1], [1, 1]])
    """
    m = matrix.tocsr()
    m.sort_indices()
    n_ev, n_win = m.shape
    lengths = np.diff(m.indptr)
    cell = np.full(n_ev, -1, dtype=np.int64)
    win_parts: list[IntArray] = [np.zeros(0, np.int64)]
    owner_parts: list[IntArray] = [np.zeros(0, np.int64)]
    n_cells = 0
    # cells are numbered by signature length, then lexicographically by window numbers
    for k in np.unique(lengths[lengths > 0]):
        rows = np.flatnonzero(lengths == k)
        block = m.indices[m.indptr[rows][:, None] + np.arange(k)[None, :]].astype(np.int64)
        uniq, inverse = _unique_rows(block, n_win)
        cell[rows] = inverse + n_cells
        win_parts.append(uniq.ravel())
        owner_parts.append(np.repeat(np.arange(uniq.shape[0], dtype=np.int64) + n_cells, k))
        n_cells += uniq.shape[0]
    win = np.concatenate(win_parts)
    owner = np.concatenate(owner_parts)
    wc = scipy.sparse.csr_matrix(
        (np.ones(win.size, dtype=np.int8), (win, owner)), shape=(n_win, n_cells)
    )
    wc.sort_indices()
    return cell, wc


def count(
    windows: Windows,
    data: Mapping[str, ArrayLike],
    backgrounds: Mapping[str, Mapping[str, ArrayLike]],
    *,
    luminosity_fb: float,
) -> Counts:
    """Observed counts, expected backgrounds and cells for every window.

    Args:
        windows: The windows (ellipses and C_eta cuts; efficiencies are copied).
        data: Selected data events: flat ``mrecoil2``, ``mmumu2``, ``ceta``.
        backgrounds: Process name -> selected MC events (``mrecoil2``, ``mmumu2``, ``ceta``,
            ``weight``; weights normalised to ``luminosity_fb``).
        luminosity_fb: The data luminosity [fb^-1].

    Returns:
        The counts, with the cells built from MC and data events together.

    Raises:
        InputError: a branch is missing, non-finite, or a weight negative.
    """
    if not luminosity_fb > 0:
        raise InputError(None, "luminosity_fb", "a positive luminosity", got=luminosity_fb)
    processes = tuple(backgrounds)
    d = _events(data, "data", weights=False)
    mc = [_events(backgrounds[p], p, weights=True) for p in processes]
    n_win = len(windows)
    m_data = counted_membership(windows, d)
    m_mc = [counted_membership(windows, e) for e in mc]
    n_obs = np.asarray(m_data.sum(axis=0), dtype=np.int64).ravel()
    bkg = np.zeros((n_win, len(processes)))
    sumw2 = np.zeros((n_win, len(processes)))
    for k, (m, e) in enumerate(zip(m_mc, mc, strict=True)):
        bkg[:, k] = m.T @ e["weight"]
        sumw2[:, k] = m.T @ (e["weight"] ** 2)
    stacked = scipy.sparse.vstack([*m_mc, m_data], format="csr")
    cell_of, wc = cells(stacked)
    n_cells = wc.shape[1]
    cell_bkg = np.zeros((n_cells, len(processes)))
    cell_w2 = np.zeros((n_cells, len(processes)))
    offset = 0
    for k, e in enumerate(mc):
        c = cell_of[offset : offset + e["weight"].size]
        offset += e["weight"].size
        ok = c >= 0
        cell_bkg[:, k] = np.bincount(c[ok], weights=e["weight"][ok], minlength=n_cells)
        cell_w2[:, k] = np.bincount(c[ok], weights=e["weight"][ok] ** 2, minlength=n_cells)
    c_data = cell_of[offset:]
    cell_obs = np.bincount(c_data[c_data >= 0], minlength=n_cells).astype(np.int64)
    n_data = int(d["ceta"].size)
    memberships = int(m_data.nnz)
    meta = {
        "n_data_events": n_data,
        "n_data_memberships": memberships,
        "windows_per_event": memberships / n_data if n_data else 0.0,
        "windows_config_digest": str(windows.meta.get("config_digest", "")),
    }
    return Counts(
        luminosity_fb=float(luminosity_fb),
        ids=windows.ids.astype(np.int64),
        processes=processes,
        n_observed=n_obs,
        background=bkg,
        background_sumw2=sumw2,
        efficiency=windows.efficiency.astype(np.float64),
        efficiency_error=windows.efficiency_error.astype(np.float64),
        ceta_cut=windows.ceta_cut.astype(np.float64),
        cell_background=cell_bkg,
        cell_sumw2=cell_w2,
        cell_n_observed=cell_obs,
        window_cells_indptr=wc.indptr.astype(np.int64),
        window_cells_indices=wc.indices.astype(np.int64),
        meta=meta,
    )
