"""The toy model: cell expectations, nuisance maps, Z tables and the centre graph of a search.

Common nuisance parameters are drawn once per toy and applied to every cell:

* *background systematics* (one standard-normal draw ``theta_k`` per source and toy): each source
  ``k`` is a window-level additive histosys ``delta_kw`` on the background (from the window
  model). A cell belongs to several windows, so its relative size is the **mean over the windows
  containing the cell** of ``delta_kw / b_w``; the cell's mean is scaled by
  ``max(0, 1 + sum_k theta_k r_kc)``. Sources shared by all windows (``syst_ceta``) shift all
  cells together; the detector source (2 % below M_A' = 9 GeV, 13 % above) follows the position
  of the cell through the windows that contain it.
* *MC statistics* per cell (independent between cells and toys): the cell's true mean is drawn
  from a Gamma distribution with the cell's mean ``b_c`` and variance ``sum w^2_c`` (the same
  mean and variance as the ``staterror`` constraint of the window likelihoods, positive by
  construction, and the natural posterior of a mean estimated from weighted MC events). Poisson
  of a Gamma is negative binomial (drawn by :mod:`dhstat.lee.sampling`).

Both are draws from the priors, so the ensemble is the prior-predictive (hybrid) ensemble under
which the observed local p-values are defined.

Example:
    >>> from scipy import stats
    >>> pois = lambda b, n: stats.poisson.sf(n - 1, b[:, None])
    >>> cells = CellInputs(np.array([2.0, 3.0]), np.zeros(2), np.array([0, 1, 2]),
    ...                    np.array([0, 1]))
    >>> build_toy_model(np.array([2.0, 3.0]), cells, pvalue=pois).thresholds
    (1.0, 2.0, 3.0, 4.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from dhstat import parallel
from dhstat.errors import InputError
from dhstat.lee.cells import CellInputs
from dhstat.lee.euler import Graph, window_graph
from dhstat.lee.ztables import Z_BELOW, PValueFn, ZTable, build_ztable, subset_windows, z_of_p

__all__ = ["NO_SMEARING", "NUISANCE_MODEL", "ToyModel", "build_toy_model", "observed_max"]


#: Gamma scale standing for "no MC smearing": the negative-binomial draw becomes Poisson.
NO_SMEARING = 1e-300


#: Plain-text description of the toy model, written into the provenance of every output.
NUISANCE_MODEL = (
    "cells: Poisson per disjoint cell, window count = sum of its cells (CSR map); "
    "background systematics: one N(0,1) draw per source and toy, cell mean scaled by "
    "max(0, 1 + sum_k theta_k r_kc), r_kc = mean over the windows containing cell c of the "
    "window's histosys delta_kw / b_w; MC statistics: cell true mean ~ Gamma(mean b_c, variance "
    "sumw2_c) per cell and toy (count negative binomial); signal injection Poisson; local Z by table lookup of the hybrid p-value function; "
    "Gross-Vitells on {Z > sqrt(u)} (one-sided), Euler characteristic on the Delaunay graph of "
    "window centres"
)


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ToyModel:
    """Everything a toy batch needs (picklable: it is shipped to the workers).

    Attributes:
        background: Expected background per cell, shape (C,).
        mc_scale: Gamma scale of each cell's true mean, ``sum w^2 / b`` (MC statistics; a tiny
            positive number where there is no smearing, which makes the draw Poisson), shape (C,).
        relative: Relative systematic shift per source and cell, shape (K, C).
        signal: Injected signal expectation per cell, shape (C,).
        indptr: CSR row pointers (window -> cells).
        indices: CSR cell numbers.
        ztable: Per-window Z tables.
        windows: The window model (for counts beyond the tables).
        pvalue: The p-value function of the observed Z.
        graph: Complex on the window centres for the Euler characteristics.
        thresholds: Gross-Vitells thresholds u (on q = max(Z, 0)^2).
        gv_toys: Toys (lowest global numbers) whose Euler characteristics are kept.
        batch_size: Toys per batch.
    """

    background: NDArray[np.float64]
    mc_scale: NDArray[np.float64]
    relative: NDArray[np.float64]
    signal: NDArray[np.float64]
    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    ztable: ZTable
    windows: Any
    pvalue: PValueFn
    graph: Graph
    thresholds: tuple[float, ...]
    gv_toys: int
    batch_size: int

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return int(self.indptr.size - 1)

    def lookup(self, n: NDArray[np.int64], *, exact: bool = True) -> NDArray[np.float64]:
        """Local Z for window counts ``n`` of shape (W, T).

        Counts inside the tables are looked up, counts above them are computed on the fly, counts
        below them give :data:`Z_BELOW` (their Z is <= 0) unless ``exact``.
        """
        table = self.ztable
        shifted = n - table.n_min[:, None]
        length = np.diff(table.offsets)[:, None]
        index = table.offsets[:-1, None] + np.clip(shifted, 0, length - 1)
        z: NDArray[np.float64] = table.values[index]
        over = shifted >= length
        if np.any(over):
            rows, cols = np.nonzero(over)
            z[rows, cols] = self.exact_z(rows, n[rows, cols])
        if exact:
            below = shifted < 0
            if np.any(below):
                rows, cols = np.nonzero(below)
                z[rows, cols] = self.exact_z(rows, n[rows, cols])
        else:
            z[shifted < 0] = Z_BELOW
        return z

    def exact_z(self, rows: NDArray[np.int64], counts: NDArray[np.int64]) -> NDArray[np.float64]:
        """Z of (window, count) pairs beyond the tables, by the p-value function itself."""
        out = np.empty(rows.size, dtype=np.float64)
        order = np.lexsort((counts, rows))
        rows_s, counts_s = rows[order], counts[order]
        first = np.searchsorted(rows_s, rows_s, side="left")
        column = np.arange(rows_s.size) - first
        width = int(column.max()) + 1
        unique, slot = np.unique(rows_s, return_inverse=True)
        n = np.zeros((unique.size, width), dtype=np.int64)
        n[slot, column] = counts_s
        p = self.pvalue(subset_windows(self.windows, unique, self.n_windows), n)
        z = z_of_p(np.asarray(p, dtype=np.float64).reshape(n.shape))
        out[order] = z[slot, column]
        return out


def _cell_relative(
    relative_windows: NDArray[np.float64], matrix: sparse.csr_matrix
) -> NDArray[np.float64]:
    """Mean over the windows containing each cell of the windows' relative shifts: (K, C)."""
    k = relative_windows.shape[0]
    if k == 0:
        return np.zeros((0, matrix.shape[1]))
    transposed = matrix.T.tocsr().astype(np.float64)
    members = np.asarray(transposed.sum(axis=1)).ravel()
    sums = np.asarray(transposed @ relative_windows.T)  # (C, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(members[:, None] > 0, sums / np.maximum(members[:, None], 1), 0.0)
    return np.ascontiguousarray(mean.T)


def build_toy_model(
    windows: Any,
    cells: CellInputs,
    *,
    pvalue: PValueFn,
    relative_windows: NDArray[np.float64] | None = None,
    centres: NDArray[np.float64] | None = None,
    mc_stat: bool = True,
    thresholds: Sequence[float] = (1.0, 2.0, 3.0, 4.0),
    gv_toys: int = 0,
    batch_size: int = 1000,
    table_sigmas: float = 6.0,
    executor: parallel.Executor | None = None,
) -> ToyModel:
    """Assemble the toy model: cell expectations, nuisance maps, Z tables and the centre graph.

    Args:
        windows: Window model for ``pvalue`` (a ``stats.model.WindowSet``).
        cells: The disjoint cells and the window -> cell map.
        pvalue: The observed p-value function (``stats.significance.hybrid_pvalue``).
        relative_windows: Relative background shift per systematic source and window
            (histosys delta / b), shape (K, W); ``None``: no systematics in the toys.
        centres: Window centres, shape (W, 2) or (W,), for the Gross-Vitells graph.
        mc_stat: Smear each cell's mean by its MC statistical uncertainty.
        thresholds: Gross-Vitells thresholds u on q = max(Z, 0)^2.
        gv_toys: Number of toys whose Euler characteristics are recorded.
        batch_size: Toys per batch (the unit of parallel work, seeding and checkpoints).
        table_sigmas: Tables reach this many standard deviations above the mean (counts beyond
            are computed on the fly by ``pvalue``).
        executor: Builds the Z tables in parallel (default: in this process).

    Example:
        >>> from scipy import stats
        >>> pois = lambda b, n: stats.poisson.sf(n - 1, b[:, None])
        >>> cells = CellInputs(np.array([2.0, 3.0]), np.zeros(2), np.array([0, 1, 2]),
        ...                    np.array([0, 1]))
        >>> m = build_toy_model(np.array([2.0, 3.0]), cells, pvalue=pois, batch_size=10)
        >>> m.n_windows, m.ztable.n_min.tolist(), m.ztable.n_max.tolist()
        (2, [1, 2], [17, 20])
    """
    cells.check()
    matrix = cells.matrix()
    w = cells.n_windows
    relative = _cell_relative(_window_relative(relative_windows, w), matrix)
    background = np.asarray(cells.background, dtype=np.float64)
    mc_scale = _mc_scale(cells.sumw2, background, mc_stat)
    signal = np.zeros(cells.n_cells) if cells.signal is None else cells.signal.astype(np.float64)
    n_min, n_max, z_floor = _table_range(
        matrix,
        background,
        signal,
        cells.sumw2,
        relative,
        mc_stat=mc_stat,
        thresholds=thresholds,
        table_sigmas=table_sigmas,
    )
    ztable = build_ztable(windows, n_max, pvalue, n_min=n_min, z_floor=z_floor, executor=executor)
    graph = _centre_graph(centres, w)
    return ToyModel(
        background=np.asarray(cells.background, dtype=np.float64),
        mc_scale=mc_scale,
        relative=relative,
        signal=signal,
        indptr=cells.indptr.astype(np.int64),
        indices=cells.indices.astype(np.int64),
        ztable=ztable,
        windows=windows,
        pvalue=pvalue,
        graph=graph,
        thresholds=tuple(float(u) for u in thresholds),
        gv_toys=int(gv_toys),
        batch_size=int(batch_size),
    )


def _window_relative(relative_windows: NDArray[np.float64] | None, w: int) -> NDArray[np.float64]:
    """The relative background shifts per source and window as a finite (K, W) array.

    Example:
        >>> _window_relative(None, 3).shape
        (0, 3)
    """
    if relative_windows is None:
        relative_windows = np.zeros((0, w))
    relative_windows = np.asarray(relative_windows, dtype=np.float64).reshape(-1, w)
    if not np.all(np.isfinite(relative_windows)):
        raise InputError(None, "relative systematics", "finite relative shifts per window")
    return relative_windows


def _mc_scale(
    sumw2: NDArray[np.float64], background: NDArray[np.float64], mc_stat: bool
) -> NDArray[np.float64]:
    """Gamma scale ``sum w^2 / b`` of each cell's true mean; :data:`NO_SMEARING` where unsmeared.

    Example:
        >>> _mc_scale(np.array([0.5, 0.0]), np.array([2.0, 1.0]), True).tolist()
        [0.25, 1e-300]
    """
    smeared = (sumw2 > 0) & (background > 0) & bool(mc_stat)
    scale: NDArray[np.float64] = np.where(
        smeared, sumw2 / np.where(smeared, background, 1.0), NO_SMEARING
    )
    return scale


def _table_range(
    matrix: sparse.csr_matrix,
    background: NDArray[np.float64],
    signal: NDArray[np.float64],
    sumw2: NDArray[np.float64],
    relative: NDArray[np.float64],
    *,
    mc_stat: bool,
    thresholds: Sequence[float],
    table_sigmas: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64], float]:
    """Counts ``n_min``, ``n_max`` to tabulate per window, and the floor of Z below the tables.

    Tables run from well below the mean (Z <= z_floor below; checked) to ``table_sigmas``
    standard deviations (Poisson + systematics + MC statistics) above it.
    """
    as_float = matrix.astype(np.float64)
    mean = np.asarray(as_float @ (background + signal)).ravel()
    variance = mean + np.asarray(as_float @ sumw2).ravel() * bool(mc_stat)
    for k in range(relative.shape[0]):
        variance += np.asarray(as_float @ (background * relative[k])).ravel() ** 2
    spread = np.sqrt(variance)
    # Below the floor only "below every threshold" matters (a toy whose every window is below
    # gets its exact maximum computed on the fly).
    z_floor = min(1.0, math.sqrt(min(thresholds))) if len(thresholds) else 1.0
    n_max = np.ceil(mean + table_sigmas * spread + table_sigmas).astype(np.int64)
    n_min = np.floor(mean + (z_floor - 1.0) * spread - 1.0).clip(0).astype(np.int64)
    return n_min, n_max, z_floor


def _centre_graph(centres: NDArray[np.float64] | None, w: int) -> Graph:
    """The Gross-Vitells graph of the window centres (a chain in window order without centres)."""
    graph = window_graph(
        np.asarray(centres, dtype=np.float64) if centres is not None else np.arange(float(w))
    )
    if graph.n_vertices != w:
        raise InputError(None, "centres", f"one centre per window ({w})", got=graph.n_vertices)
    return graph


def observed_max(model: ToyModel, n_observed: NDArray[np.int64]) -> tuple[float, int]:
    """The largest observed local Z and its window, looked up in the toys' own tables.

    Example:
        >>> from scipy import stats
        >>> pois = lambda b, n: stats.poisson.sf(n - 1, b[:, None])
        >>> cells = CellInputs(np.array([2.0, 3.0]), np.zeros(2), np.array([0, 1, 2]),
        ...                    np.array([0, 1]))
        >>> m = build_toy_model(np.array([2.0, 3.0]), cells, pvalue=pois)
        >>> z, w = observed_max(m, np.array([6, 6]))
        >>> w, round(z, 6) == round(float(stats.norm.isf(stats.poisson.sf(5, 2.0))), 6)
        (0, True)
    """
    n = np.asarray(n_observed, dtype=np.int64).reshape(-1, 1)
    if n.shape[0] != model.n_windows or np.any(n < 0):
        raise InputError(None, "n_observed", f"{model.n_windows} non-negative counts")
    z = model.lookup(n)[:, 0]
    index = int(np.argmax(z))
    return float(z[index]), index
