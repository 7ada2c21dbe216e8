"""Look-elsewhere effect: correlated background-only toys over all windows, Gross-Vitells check.

The global p-value is ``P(max_w Z_w >= Z_obs,max | background only)`` (statistics.md, section 5),
estimated from pseudo-experiments that keep every correlation of the real search:

* **Overlaps.** The window boundaries and C_eta cuts cut the plane into disjoint *cells*
  (``counting.py``). A toy draws one Poisson count per cell and sums the cells into windows through
  the sparse window -> cell map (CSR, ``scipy.sparse``, int32), so an event in the overlap of several
  windows counts in all of them. For a Poisson process this is exact.
* **Common nuisance parameters** are drawn once per toy and applied to every cell:

  - *background systematics* (one standard-normal draw ``theta_k`` per source and toy): each source
    ``k`` is a window-level additive histosys ``delta_kw`` on the background (from the window
    model). A cell belongs to several windows, so its relative size is the **mean over the windows
    containing the cell** of ``delta_kw / b_w``; the cell's mean is scaled by
    ``max(0, 1 + sum_k theta_k r_kc)``. Sources shared by all windows (``syst_ceta``) shift all
    cells together; the detector source (2 % below M_A' = 9 GeV, 13 % above) follows the position
    of the cell through the windows that contain it.
  - *MC statistics* per cell (independent between cells and toys): the cell's true mean is drawn
    from a Gamma distribution with the cell's mean ``b_c`` and variance ``sum w^2_c`` (the same
    mean and variance as the ``staterror`` constraint of the window likelihoods, positive by
    construction, and the natural posterior of a mean estimated from weighted MC events). Poisson
    of a Gamma is negative binomial. Cells with a mean above two (and cells with injected signal)
    are drawn directly (numpy Gamma and Poisson). All others, most cells with means far below
    one, are drawn by inversion of one uniform number per cell and toy, and only where it
    matters: toys with similar systematic draws are simulated together, so per cell the CDF
    values ``P(N <= n)``, n = 0, 1, 2, are bracketed by their values at the smallest and largest
    systematic factor of the group; the uniform number is compared with the brackets (its
    leading 32 bits alone decide most counts, 0) and only undecided pairs are inverted with
    their own factor. The counts are exactly those of inverting every pair; the window counts
    are sums of the cell counts through the window -> cell map (uint16 when no window can
    exceed 65535).

  Both are draws from the priors, so the ensemble is the prior-predictive (hybrid) ensemble under
  which the observed local p-values are defined.
* **Local Z per toy by the same function as the observed Z.** ``Z_w(n) = Phi^-1(1 - p_w(n))`` with
  ``p_w`` the hybrid p-value function (``stats.significance.hybrid_pvalue``), tabulated once per
  window (in parallel) for ``n_min_w .. n_max_w`` and looked up. ``n_max_w`` lies ``table_sigmas``
  standard deviations above the mean; counts beyond are computed on the fly by the same function.
  ``n_min_w`` is where ``Z`` reaches the floor ``min(1, sqrt(u_min))`` (checked): below it only
  "below every Gross-Vitells threshold" matters, and a toy whose every window is below its table
  gets its maximum computed exactly. The observed maximum uses the same function, so ties between
  toys and data are exact.

Toys run in batches (``batch_size`` toys, random numbers from ``parallel.task_rng(seed, batch)``,
i.e. ``SeedSequence(seed).spawn(...)[batch]``) through ``parallel.executor``. A shard ``i/K`` owns
batches ``i, i + K, ...`` of the same global numbering, so merged shards reproduce the single run
exactly, and a checkpoint rewritten after every batch lets a killed run resume without losing or
repeating a toy.

Gross-Vitells cross-check (Vitells & Gross, Astropart. Phys. 35 (2011) 230): for the first
``gv_toys`` toys the Euler characteristic ``phi`` of the excursion set ``{q_w > u}`` is measured on
the graph of window centres (Delaunay triangulation; a chain in 1-D), with the one-sided statistic
``q = max(Z, 0)^2``, i.e. the excursion set is ``{Z_w > sqrt(u)}``. For a one-sided statistic the
zeroth-order term of ``E[phi(A_u)] = P(q > u) + exp(-u/2) (N1 + N2 sqrt(u))`` is
``P(q > u) = Phi_bar(sqrt(u)) = P(chi2_1 > u) / 2``. ``N1, N2`` are fitted by weighted least squares
to the mean Euler characteristic at low thresholds and the formula is evaluated at
``u = Z_obs,max^2``.

Example:
    >>> import numpy as np
    >>> round(p_global_independent(np.array([0.01, 0.02])), 10)
    0.0298
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse, stats

from dhstat import jsonio, parallel
from dhstat.errors import InputError

__all__ = [
    "NUISANCE_MODEL",
    "BatchResult",
    "CellInputs",
    "Graph",
    "GrossVitells",
    "LeeResult",
    "SearchInputs",
    "ToyModel",
    "ZTable",
    "build_toy_model",
    "build_ztable",
    "euler_characteristic",
    "expected_euler",
    "fit_gross_vitells",
    "global_significance",
    "inject_signal",
    "lee_document",
    "merge_parts",
    "observed_max",
    "p_global_independent",
    "part_document",
    "poisson_pvalue",
    "prepare",
    "run_batch",
    "run_checkpointed",
    "run_header",
    "run_toys",
    "search_inputs",
    "shard_batches",
    "summarise",
    "window_graph",
]

log = logging.getLogger(__name__)

#: Largest |Z| stored (p-values below ~1e-300 have no finite Z in float64).
Z_CAP = 38.0

#: What a count below a window's table looks up as in the toys (its true Z is <= the floor).
Z_BELOW = -math.inf

#: Upper bound on cells x toys generated at once inside a batch (bounds the memory of a task).
_CHUNK_ELEMENTS = 1 << 22

#: Gamma scale standing for "no MC smearing": the negative-binomial draw becomes Poisson.
_NO_SMEARING = 1e-300

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

PValueFn = Callable[[Any, NDArray[np.int64]], NDArray[np.float64]]


def __dir__() -> list[str]:
    return __all__


# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, slots=True)
class CellInputs:
    """The disjoint cells of a search and how the windows are made of them.

    Attributes:
        background: Expected background per cell (summed over processes), shape (C,).
        sumw2: Sum of squared MC weights per cell (MC statistical variance), shape (C,).
        indptr: CSR row pointers of the window -> cell map, shape (W + 1,).
        indices: CSR column indices (cell numbers), shape (nnz,).
        signal: Expected signal per cell to inject (power studies); zeros for background-only.
    """

    background: NDArray[np.float64]
    sumw2: NDArray[np.float64]
    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    signal: NDArray[np.float64] | None = None

    @property
    def n_windows(self) -> int:
        """Number of windows W."""
        return int(self.indptr.size - 1)

    @property
    def n_cells(self) -> int:
        """Number of cells C."""
        return int(self.background.size)

    def matrix(self) -> sparse.csr_matrix:
        """The window -> cell map as an int32 CSR matrix of shape (W, C)."""
        data = np.ones(self.indices.size, dtype=np.int32)
        return sparse.csr_matrix(
            (data, self.indices.astype(np.int32), self.indptr.astype(np.int32)),
            shape=(self.n_windows, self.n_cells),
        )

    def check(self, source: str | os.PathLike[str] | None = None) -> None:
        """Raise :class:`InputError` unless the arrays are consistent, finite and non-negative."""
        if self.indptr.ndim != 1 or self.indptr.size < 2 or self.indptr[0] != 0:
            raise InputError(source, "cells.indptr", "a CSR row-pointer array starting at 0")
        if np.any(np.diff(self.indptr) < 0) or self.indptr[-1] != self.indices.size:
            raise InputError(
                source, "cells.indptr", "non-decreasing pointers ending at len(cells.indices)"
            )
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.n_cells):
            raise InputError(source, "cells.indices", f"cell numbers in [0, {self.n_cells})")
        for name, array in (("background", self.background), ("sumw2", self.sumw2)):
            if array.shape != (self.n_cells,):
                raise InputError(source, f"cells.{name}", f"{self.n_cells} values (one per cell)")
            if not np.all(np.isfinite(array)) or np.any(array < 0):
                raise InputError(source, f"cells.{name}", "finite, non-negative numbers")
        if self.signal is not None and (
            self.signal.shape != (self.n_cells,) or np.any(~(self.signal >= 0))
        ):
            raise InputError(source, "signal", "a finite non-negative expectation per cell")


@dataclass(frozen=True, slots=True)
class Graph:
    """A simplicial complex on the window centres: vertices 0..V-1, edges and triangles.

    Attributes:
        n_vertices: Number of vertices (windows).
        edges: Vertex pairs, shape (E, 2).
        triangles: Vertex triples, shape (F, 3).
    """

    n_vertices: int
    edges: NDArray[np.int64]
    triangles: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ZTable:
    """Per-window tables of the local Z for counts n = n_min_w .. n_max_w (ragged).

    Counts below ``n_min_w`` have ``Z <= z_floor`` (checked when the table is built; the floor is
    at or below the lowest Gross-Vitells threshold ``sqrt(u)``), and the fast lookup of the toys
    gives them :data:`Z_BELOW`; counts above ``n_max_w`` are computed on the fly by the p-value
    function. The exact lookup computes both on the fly.

    Attributes:
        offsets: Start of window w's table in ``values``, shape (W + 1,).
        n_min: Smallest tabulated count per window, shape (W,).
        values: Concatenated Z tables (float64, clipped to +-Z_CAP).
    """

    offsets: NDArray[np.int64]
    n_min: NDArray[np.int64]
    values: NDArray[np.float64]

    @property
    def n_max(self) -> NDArray[np.int64]:
        """Largest tabulated count per window."""
        return self.n_min + np.diff(self.offsets) - 1


def _z_of_p(p: NDArray[np.float64]) -> NDArray[np.float64]:
    z: NDArray[np.float64] = np.clip(stats.norm.isf(p), -Z_CAP, Z_CAP)
    return z


def _subset(windows: Any, rows: NDArray[np.int64], total: int) -> Any:
    """The windows at ``rows`` (a ``WindowSet.subset`` or array indexing); all if rows is all."""
    if rows.size == total and np.array_equal(rows, np.arange(total)):
        return windows
    if hasattr(windows, "subset"):
        return windows.subset(rows)
    return np.asarray(windows)[rows]


def _table_task(
    task: tuple[Any, PValueFn, NDArray[np.int64], NDArray[np.int64]],
) -> NDArray[np.float64]:
    """Z for counts n_min..n_max of a group of windows (concatenated); module-level for executors.

    One call of the p-value function for the whole group: a (windows x counts) matrix, rows
    shorter than the longest repeat their last count (groups are formed from windows with similar
    table lengths, so little is computed twice).
    """
    windows, pvalue, n_min, n_max = task
    length = n_max - n_min + 1
    ks = np.arange(int(length.max(initial=1)), dtype=np.int64)
    n = n_min[:, None] + np.minimum(ks[None, :], length[:, None] - 1)
    z = _z_of_p(np.asarray(pvalue(windows, n), dtype=np.float64).reshape(n.shape))
    values: NDArray[np.float64] = z[ks[None, :] < length[:, None]]
    return values


def poisson_pvalue(background: NDArray[np.float64], n: NDArray[np.int64]) -> NDArray[np.float64]:
    """``P(N >= n | b)`` without smearing: the p-value of synthetic window sets (``windows = b``).

    A stand-in for ``stats.significance.hybrid_pvalue`` in studies and benchmarks on synthetic
    windows: ``background`` (the "window model") is the expected count per window, shape (W,).

    Example:
        >>> poisson_pvalue(np.array([1.0]), np.array([[0, 1]])).round(4).tolist()
        [[1.0, 0.6321]]
    """
    b = np.asarray(background, dtype=np.float64).reshape(-1, 1)
    value: NDArray[np.float64] = stats.poisson.sf(np.asarray(n) - 1, b)
    return value


def build_ztable(
    windows: Any,
    n_max: NDArray[np.int64],
    pvalue: PValueFn,
    *,
    n_min: NDArray[np.int64] | None = None,
    z_floor: float = 0.0,
    executor: parallel.Executor | None = None,
    rows_per_task: int = 1024,
) -> ZTable:
    """Tabulate ``Z_w(n) = Phi^-1(1 - pvalue(windows, n)_w)`` for n = n_min_w .. n_max_w.

    Windows whose first tabulated Z is above ``z_floor`` are re-tabulated from n = 0, so every
    count below a table has Z <= z_floor.

    Args:
        windows: The window model passed to ``pvalue`` (a ``stats.model.WindowSet``).
        n_max: Largest count to tabulate per window, shape (W,).
        pvalue: The observed p-value function, ``pvalue(windows, n)`` with n of shape (W, k).
        n_min: Smallest count to tabulate per window (default 0).
        z_floor: Counts below a table must have Z <= z_floor (checked).
        executor: Runs groups of windows in parallel (default: in this process).
        rows_per_task: Windows per task.

    Example:
        >>> from scipy import stats
        >>> pois = lambda b, n: stats.poisson.sf(n - 1, b[:, None])
        >>> t = build_ztable(np.array([3.0]), np.array([5]), pois)
        >>> t.values.size, bool(np.all(np.diff(t.values) > 0))
        (6, True)
    """
    n_max = np.asarray(n_max, dtype=np.int64)
    low = np.zeros_like(n_max) if n_min is None else np.minimum(np.asarray(n_min), n_max)
    low = np.maximum(low, 0).astype(np.int64)
    run = executor.imap if executor is not None else map
    tables: list[NDArray[np.float64]] = [np.zeros(0)] * n_max.size
    todo = np.arange(n_max.size)
    while todo.size:
        # Windows of similar table length share a task (one p-value call per task).
        todo = todo[np.argsort(n_max[todo] - low[todo], kind="stable")]
        groups = _balanced_groups(n_max[todo] - low[todo] + 1, rows_per_task, todo)
        tasks = [(_subset(windows, g, n_max.size), pvalue, low[g], n_max[g]) for g in groups]
        for group, values in zip(groups, run(_table_task, tasks), strict=True):
            lengths = n_max[group] - low[group] + 1
            for row, table in zip(group, np.split(values, np.cumsum(lengths)[:-1]), strict=True):
                tables[row] = table
        # A table must start at or below the floor (then every count below it is below too).
        first = np.array([tables[i][0] for i in todo])
        todo = np.sort(todo[(first > z_floor) & (low[todo] > 0)])
        low[todo] = 0
    offsets = np.concatenate([[0], np.cumsum(n_max - low + 1)]).astype(np.int64)
    values = np.concatenate([*tables, np.zeros(0)])
    return ZTable(offsets, low, values)


def _balanced_groups(
    lengths: NDArray[np.int64], rows_per_task: int, rows: NDArray[np.int64], tasks: int = 16
) -> list[NDArray[np.int64]]:
    """Split ``rows`` (sorted by table length) into groups of similar work for the executor.

    A group holds at most ``rows_per_task`` windows and, apart from a single window, at most
    1/``tasks`` of all table entries, so a few long tables (large backgrounds) do not end up in
    one task that keeps a worker busy long after the others are done.

    Example:
        >>> groups = _balanced_groups(np.array([1, 1, 1, 1, 50, 50]), 1024, np.arange(6), tasks=4)
        >>> [g.tolist() for g in groups]
        [[0, 1, 2, 3], [4], [5]]
    """
    budget = max(int(lengths.sum()) // tasks, 1)
    groups: list[NDArray[np.int64]] = []
    start = 0
    for stop in range(1, rows.size + 1):
        size = stop - start
        widest = int(lengths[stop - 1])  # sorted: the last row is the longest of the group
        closing = stop == rows.size or size == rows_per_task
        if not closing:
            closing = (size + 1) * int(lengths[stop]) > budget
        if closing or size * widest > budget:
            groups.append(rows[start:stop])
            start = stop
    return groups


def window_graph(centres: NDArray[np.float64]) -> Graph:
    """The graph of window centres on which Euler characteristics are measured.

    2-D centres: Delaunay triangulation (``scipy.spatial.Delaunay``; duplicate centres are joined
    to the vertex they coincide with). 1-D or collinear centres: a chain in the order along the line.

    Example:
        >>> g = window_graph(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        >>> g.edges.shape, g.triangles.shape
        ((3, 2), (1, 3))
        >>> window_graph(np.array([2.0, 0.0, 1.0])).edges.tolist()
        [[0, 2], [1, 2]]
    """
    points = np.asarray(centres, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    n = points.shape[0]
    empty_t = np.zeros((0, 3), dtype=np.int64)
    if n < 2:
        return Graph(n, np.zeros((0, 2), dtype=np.int64), empty_t)
    centred = points - points.mean(axis=0)
    flat = points.shape[1] == 1
    if not flat:
        singular = np.linalg.svd(centred, compute_uv=False)
        flat = n < 3 or singular[1] <= 1e-12 * max(singular[0], 1e-300)
    if flat:
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        order = np.argsort(centred @ direction, kind="stable")
        edges = np.sort(np.stack([order[:-1], order[1:]], axis=1), axis=1).astype(np.int64)
        return Graph(n, np.unique(edges, axis=0), empty_t)
    from scipy.spatial import Delaunay

    tri = Delaunay(points[:, :2])
    simplices = np.asarray(tri.simplices, dtype=np.int64)
    simplices.sort(axis=1)
    pairs = np.concatenate([simplices[:, [0, 1]], simplices[:, [0, 2]], simplices[:, [1, 2]]])
    edges = np.unique(pairs, axis=0)
    coplanar = np.asarray(tri.coplanar, dtype=np.int64).reshape(-1, 3)
    if coplanar.size:  # duplicates / points qhull dropped: attach to the vertex they coincide with
        extra = np.sort(coplanar[:, [0, 2]], axis=1)
        edges = np.unique(np.concatenate([edges, extra]), axis=0)
    return Graph(n, edges, simplices)


def euler_characteristic(above: NDArray[np.bool_], graph: Graph) -> NDArray[np.int64]:
    """Euler characteristic V - E + F of the subcomplex induced by the vertices ``above``.

    Args:
        above: Boolean mask over vertices, shape (V,) or (V, T) for T toys.
        graph: The complex (edges and triangles) on the vertices.

    Returns:
        The Euler characteristic (scalar array, or shape (T,)).

    Example:
        >>> g = Graph(3, np.array([[0, 1], [1, 2], [0, 2]]), np.zeros((0, 3), dtype=np.int64))
        >>> int(euler_characteristic(np.array([True, True, True]), g))  # a ring
        0
    """
    a = np.asarray(above, dtype=bool)
    v = a.sum(axis=0)
    e = (a[graph.edges[:, 0]] & a[graph.edges[:, 1]]).sum(axis=0)
    t = graph.triangles
    f = (a[t[:, 0]] & a[t[:, 1]] & a[t[:, 2]]).sum(axis=0)
    return np.asarray(v - e + f, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# The toy model


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
            z[rows, cols] = self._compute(rows, n[rows, cols])
        if exact:
            below = shifted < 0
            if np.any(below):
                rows, cols = np.nonzero(below)
                z[rows, cols] = self._compute(rows, n[rows, cols])
        else:
            z[shifted < 0] = Z_BELOW
        return z

    def _compute(self, rows: NDArray[np.int64], counts: NDArray[np.int64]) -> NDArray[np.float64]:
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
        p = self.pvalue(_subset(self.windows, unique, self.n_windows), n)
        z = _z_of_p(np.asarray(p, dtype=np.float64).reshape(n.shape))
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
    if relative_windows is None:
        relative_windows = np.zeros((0, w))
    relative_windows = np.asarray(relative_windows, dtype=np.float64).reshape(-1, w)
    if not np.all(np.isfinite(relative_windows)):
        raise InputError(None, "relative systematics", "finite relative shifts per window")
    relative = _cell_relative(relative_windows, matrix)
    background = np.asarray(cells.background, dtype=np.float64)
    smeared = (cells.sumw2 > 0) & (background > 0) & bool(mc_stat)
    mc_scale = np.where(smeared, cells.sumw2 / np.where(smeared, background, 1.0), _NO_SMEARING)
    signal = np.zeros(cells.n_cells) if cells.signal is None else cells.signal.astype(np.float64)
    # Table range per window: from well below the mean (Z <= 0 below; checked) to table_sigmas
    # standard deviations (Poisson + systematics + MC statistics) above it.
    as_float = matrix.astype(np.float64)
    mean = np.asarray(as_float @ (background + signal)).ravel()
    variance = mean + np.asarray(as_float @ cells.sumw2).ravel() * bool(mc_stat)
    for k in range(relative.shape[0]):
        variance += np.asarray(as_float @ (background * relative[k])).ravel() ** 2
    spread = np.sqrt(variance)
    # Below the floor only "below every threshold" matters (a toy whose every window is below
    # gets its exact maximum computed on the fly).
    z_floor = min(1.0, math.sqrt(min(thresholds))) if len(thresholds) else 1.0
    n_max = np.ceil(mean + table_sigmas * spread + table_sigmas).astype(np.int64)
    n_min = np.floor(mean + (z_floor - 1.0) * spread - 1.0).clip(0).astype(np.int64)
    ztable = build_ztable(windows, n_max, pvalue, n_min=n_min, z_floor=z_floor, executor=executor)
    graph = window_graph(
        np.asarray(centres, dtype=np.float64) if centres is not None else np.arange(float(w))
    )
    if graph.n_vertices != w:
        raise InputError(None, "centres", f"one centre per window ({w})", got=graph.n_vertices)
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


# --------------------------------------------------------------------------------------------
# Batches


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one batch of toys.

    Attributes:
        index: Global batch number.
        max_z: Largest local Z per toy, shape (T,).
        argmax: Window index of that largest Z per toy, shape (T,).
        euler: Euler characteristic per Gross-Vitells toy (rows) and threshold (columns).
    """

    index: int
    max_z: NDArray[np.float64]
    argmax: NDArray[np.int64]
    euler: NDArray[np.int64]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``batches`` items of a part file)."""
        return {
            "index": self.index,
            "max_z": [float(x) for x in self.max_z],
            "argmax": [int(x) for x in self.argmax],
            "euler": [[int(x) for x in row] for row in self.euler],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_thresholds: int) -> BatchResult:
        """Inverse of :meth:`to_dict`."""
        euler = np.asarray(data["euler"], dtype=np.int64).reshape(-1, n_thresholds)
        return cls(
            int(data["index"]),
            np.asarray(data["max_z"], dtype=np.float64),
            np.asarray(data["argmax"], dtype=np.int64),
            euler,
        )


def _batch_size(model: ToyModel, n_toys: int, index: int) -> int:
    return max(0, min(model.batch_size, n_toys - index * model.batch_size))


@dataclass(frozen=True, slots=True)
class _Layout:
    """Per-batch view of a model's cells for the sparse toy generator (see :func:`_window_counts`).

    Attributes:
        small: Cells drawn by the thresholded inversion (small mean, no injected signal).
        large: Cells drawn directly by numpy's Gamma and Poisson generators.
        sparse_map: Window -> sparse-cell map, (W, S), uint16 and int64 copies.
        max_cells: Largest number of sparse cells in one window.
        dense_map: Window -> dense-cell map, (W, D), int64.
        shape: Gamma shape ``b / scale`` of each sparse cell.
        scale: Gamma scale of each sparse cell.
        relative: Relative systematic shifts of the sparse cells, (K, S).
    """

    small: NDArray[np.int64]
    large: NDArray[np.int64]
    sparse_map: tuple[sparse.csr_matrix, sparse.csr_matrix]
    max_cells: int
    dense_map: sparse.csr_matrix
    shape: NDArray[np.float64]
    scale: NDArray[np.float64]
    relative: NDArray[np.float64]


#: Cells with a larger mean are drawn directly (an inversion would take many rounds).
_DENSE_MEAN = 2.0

#: Largest window count summed in uint16.
_UINT16_MAX = 65535


def _layout(model: ToyModel) -> _Layout:
    matrix = sparse.csr_matrix(
        (
            np.ones(model.indices.size, dtype=np.int64),
            model.indices.astype(np.int32),
            model.indptr.astype(np.int32),
        ),
        shape=(model.n_windows, model.background.size),
    )
    is_dense = (model.background > _DENSE_MEAN) | (model.signal > 0)
    dense = np.flatnonzero(is_dense)
    cells = np.flatnonzero(~is_dense)
    wide = matrix[:, cells].tocsr()
    shape = np.where(model.mc_scale > 0, model.background / model.mc_scale, 0.0)
    return _Layout(
        small=cells,
        large=dense,
        sparse_map=(wide.astype(np.uint16), wide),
        max_cells=int(np.diff(wide.indptr).max(initial=0)),
        dense_map=matrix[:, dense].tocsr(),
        shape=shape[cells],
        scale=model.mc_scale[cells],
        relative=np.ascontiguousarray(model.relative[:, cells]),
    )


def _factor_range(
    relative: NDArray[np.float64], theta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bounds of ``f_ct = max(0, 1 + sum_k theta_kt relative_kc)`` over the toys t, per cell."""
    top, bottom = theta.max(axis=1), theta.min(axis=1)
    positive, negative = relative.clip(min=0.0).T, relative.clip(max=0.0).T
    high = positive @ top + negative @ bottom
    low = positive @ bottom + negative @ top
    return np.maximum(1.0 + low, 0.0), np.maximum(1.0 + high, 0.0)


#: Counts 0 .. _LEVELS - 1 are decided by bounds on the CDF; larger ones are inverted exactly.
_LEVELS = 3


def _p_zero(shape: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``P(N = 0) = (1 + x)^-a`` of the negative binomial with Gamma shape a and scale x."""
    p: NDArray[np.float64] = np.log1p(x)
    p *= -shape
    np.exp(p, out=p)
    return p


def _cdf_levels(shape: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``P(N <= n)`` for n = 0 .. _LEVELS - 1 (rows) of the negative binomial (shape a, scale x).

    The last row is ``-inf``: no count is decided beyond the levels.
    """
    out = np.empty((_LEVELS + 1, x.size))
    p = _p_zero(shape, x)
    q = x / (1.0 + x)
    out[0] = p
    for n in range(1, _LEVELS):
        p = p * (shape + (n - 1)) * q / n
        out[n] = out[n - 1] + p
    out[_LEVELS] = -np.inf
    return out


def _invert(
    u: NDArray[np.float64], shape: NDArray[np.float64], x: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Negative-binomial counts by inversion of ``u``, one per entry.

    ``P(0) = (1 + x)^-a`` and ``P(n + 1) = P(n) (a + n) q / (n + 1)``, ``q = x / (1 + x)``, for
    the Poisson-Gamma mixture with Gamma shape ``a`` and scale ``x`` (a tiny scale makes it Poisson
    with mean ``a x``). The count is the smallest n with ``u <= P(N <= n)``.
    """
    counts = np.zeros(u.size, dtype=np.int64)
    p = _p_zero(shape, x)
    index = np.flatnonzero(u > p)
    if not index.size:
        return counts
    q = x[index] / (1.0 + x[index])
    alpha = q * shape[index]
    p, uu = p[index], u[index]
    cumulative = p.copy()
    k = 0
    while index.size:
        k += 1
        p *= (alpha + q * (k - 1)) / k
        cumulative += p
        counts[index] = k
        keep = (uu > cumulative) & (p > 0.0)  # p == 0: the tail is exhausted in float64
        if not keep.all():
            index, p, cumulative, uu, alpha, q = (
                index[keep],
                p[keep],
                cumulative[keep],
                uu[keep],
                alpha[keep],
                q[keep],
            )
    return counts


def _window_counts(
    model: ToyModel,
    layout: _Layout,
    rng: np.random.Generator,
    theta: NDArray[np.float64] | None,
    t: int,
) -> NDArray[np.int64]:
    """Window counts of ``t`` toys, shape (W, t), from negative-binomial counts per cell and toy.

    Sparse cells: one uniform number ``u = (v + w) 2^-32`` per cell and toy, ``v`` a 32-bit integer
    (two per 64-bit draw) and ``w ~ U(0, 1)`` drawn only where needed; the count is the inverse
    CDF at ``u``. With ``f_lo <= f_ct <= f_hi`` the range of the systematic factor of a cell over
    these toys, ``P(N <= n)`` lies between its values at ``f_hi`` and ``f_lo`` (the negative
    binomial grows stochastically with its scale), so the count is 0 wherever
    ``u <= P_fhi(0)`` (decided on ``v`` alone: most pairs), 1 wherever
    ``P_flo(0) < u <= P_fhi(N <= 1)``, and only the remaining pairs are inverted exactly with
    their own ``f_ct``. The counts are exactly those of inverting every pair.
    """
    n_cells = layout.small.size
    scale, shape = layout.scale, layout.shape
    if theta is None:
        low = high = _cdf_levels(shape, scale)
    else:
        f_low, f_high = _factor_range(layout.relative, theta)
        low, high = _cdf_levels(shape, scale * f_high), _cdf_levels(shape, scale * f_low)
    # u > low_0 is possible only if (v + 1) 2^-32 > low_0, i.e. v >= floor(low_0 2^32).
    threshold = np.minimum(np.floor(low[0] * 2.0**32), 2.0**32 - 1).astype(np.uint32)
    raw = np.asarray(rng.bit_generator.random_raw((n_cells * t + 1) // 2), dtype=np.uint64)
    v = raw.view(np.uint32)[: n_cells * t].reshape(n_cells, t)
    candidate = v >= threshold[:, None]
    pairs = np.flatnonzero(candidate)
    slot = pairs // t
    u = v.ravel()[pairs] + rng.random(pairs.size)
    u *= 2.0**-32
    # count > n where u > high_n; count <= n where u <= low_n: decided where both agree.
    count = np.zeros(pairs.size, dtype=np.int64)
    for level in range(_LEVELS):
        count += u > high[level][slot]
    if theta is None:  # exact bounds: only counts beyond the levels are undecided
        exact = np.flatnonzero(count == _LEVELS)
    else:
        exact = np.flatnonzero(u > low.ravel()[count * n_cells + slot])
    cell, toy = slot[exact], pairs[exact] - slot[exact] * t
    x = scale[cell]
    if theta is not None:
        f = np.ones(exact.size)
        for k in range(theta.shape[0]):
            f += layout.relative[k, cell] * theta[k, toy]
        np.maximum(f, 0.0, out=f)
        x = x * f
    count[exact] = _invert(u[exact], shape[cell], x)
    # A window count is at most (cells in the window) x (largest cell count): uint16 if it fits.
    small = layout.max_cells * int(count.max(initial=0)) <= _UINT16_MAX
    counts = np.zeros((n_cells, t), dtype=np.uint16 if small else np.int64)
    counts.ravel()[pairs] = count
    n_w = np.asarray(layout.sparse_map[0 if small else 1] @ counts, dtype=np.int64)
    dense = layout.large
    if dense.size:
        mean = np.repeat(model.background[dense, None], t, axis=1)
        if theta is not None:
            factor = np.ones((dense.size, t))
            for k in range(theta.shape[0]):
                factor += model.relative[k, dense, None] * theta[k]
            np.maximum(factor, 0.0, out=factor)
            mean *= factor
        rows = np.flatnonzero(model.mc_scale[dense] > _NO_SMEARING)
        if rows.size:
            cells = dense[rows]
            gamma = rng.standard_gamma(
                np.repeat(model.background[cells, None], t, axis=1) / (model.mc_scale[cells, None])
            )
            mean[rows] *= gamma * (model.mc_scale[cells, None] / model.background[cells, None])
        mean += model.signal[dense, None]
        n_w += np.asarray(layout.dense_map @ rng.poisson(mean), dtype=np.int64)
    return n_w


@dataclass(frozen=True, slots=True)
class _Padded:
    """Z tables with a :data:`Z_BELOW` entry before and a ``+inf`` entry after each window's table.

    ``values[clip(n + shift, first, last)]`` is the fast lookup of counts n of shape (W, T).
    """

    values: NDArray[np.float64]
    shift: NDArray[np.int64]
    first: NDArray[np.int64]
    last: NDArray[np.int64]


def _padded_tables(table: ZTable) -> _Padded:
    w = table.n_min.size
    start = table.offsets[:-1] + 2 * np.arange(w)  # position of the Z_BELOW entry
    length = np.diff(table.offsets)
    values = np.empty(table.values.size + 2 * w)
    inside = np.ones(values.size, dtype=bool)
    inside[start] = False
    inside[start + length + 1] = False
    values[inside] = table.values
    values[start] = Z_BELOW
    values[start + length + 1] = math.inf
    return _Padded(
        values,
        (start + 1 - table.n_min)[:, None],
        start[:, None],
        (start + length + 1)[:, None],
    )


def run_batch(task: tuple[ToyModel, int, int, int]) -> BatchResult:
    """Simulate one batch: ``task = (model, seed, batch index, total number of toys)``.

    Module-level so that executors can ship it. Random numbers come from
    ``parallel.task_rng(seed, index)`` only, so a batch's result does not depend on where it runs.
    """
    model, seed, index, n_toys = task
    size = _batch_size(model, n_toys, index)
    rng = parallel.task_rng(seed, index)
    first = index * model.batch_size
    layout = _layout(model)
    lookup = _padded_tables(model.ztable)
    chunk = max(1, min(size, _CHUNK_ELEMENTS // max(layout.small.size, 1)))
    n_sys = model.relative.shape[0]
    max_z = np.empty(size, dtype=np.float64)
    argmax = np.empty(size, dtype=np.int64)
    n_gv = max(0, min(size, model.gv_toys - first))
    euler = np.zeros((n_gv, len(model.thresholds)), dtype=np.int64)
    roots = np.sqrt(np.asarray(model.thresholds, dtype=np.float64))
    # The systematic draws of the whole batch come first; toys with similar draws are simulated
    # together (narrow range of the systematic factor per chunk: few pairs need an exact
    # inversion). Every toy keeps its own position in the batch.
    theta_all = rng.standard_normal((n_sys, size)) if n_sys else None
    if theta_all is not None:
        weight = np.abs(model.relative).max(axis=1, initial=0.0)
        order = np.argsort(weight @ theta_all, kind="stable")
    else:
        order = np.arange(size)
    for start in range(0, size, chunk):
        toys = order[start : start + chunk]
        t = toys.size
        theta = None if theta_all is None else theta_all[:, toys]
        n_w = _window_counts(model, layout, rng, theta, t)
        z = lookup.values[np.clip(n_w + lookup.shift, lookup.first, lookup.last)]
        kept = np.flatnonzero(toys < n_gv)
        best = np.argmax(z, axis=0)
        top = z[best, np.arange(t)]
        # A count above its table looks up +inf: compute those exactly where they matter (the
        # toy's maximum, Euler characteristics); a toy with every window below its table gets
        # its Z computed exactly.
        redo = np.flatnonzero((top == math.inf) | (top == Z_BELOW) | (toys < n_gv))
        if redo.size:
            block = z[:, redo]
            over = np.isposinf(block)
            if np.any(over):
                rows, cols = np.nonzero(over)
                block[rows, cols] = model._compute(rows, n_w[rows, redo[cols]])
            below = np.flatnonzero(np.all(block == Z_BELOW, axis=0))
            if below.size:
                block[:, below] = model.lookup(n_w[:, redo[below]])
            z[:, redo] = block
            best[redo] = np.argmax(block, axis=0)
            top[redo] = block[best[redo], np.arange(redo.size)]
        argmax[toys] = best
        max_z[toys] = top
        if kept.size:
            zz = z[:, kept]
            for j, root in enumerate(roots):
                euler[toys[kept], j] = euler_characteristic(zz > root, model.graph)
    return BatchResult(index, max_z, argmax, euler)


def shard_batches(n_toys: int, batch_size: int, shard: tuple[int, int] = (0, 1)) -> list[int]:
    """Global batch numbers owned by shard ``i`` of ``K`` (batches i, i + K, ...).

    Example:
        >>> shard_batches(1000, 100, (1, 3))
        [1, 4, 7]
    """
    i, k = shard
    n_batches = -(-n_toys // batch_size)
    return list(range(i, n_batches, k))


def run_toys(
    model: ToyModel,
    *,
    n_toys: int,
    seed: int,
    batches: Iterable[int] | None = None,
    done: Mapping[int, BatchResult] | None = None,
    executor: parallel.Executor | None = None,
    on_batch: Callable[[dict[int, BatchResult]], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[int, BatchResult]:
    """Run the batches not yet ``done``; return all results by batch number.

    Args:
        model: The toy model.
        n_toys: Total number of toys of the whole (unsharded) run.
        seed: Master seed.
        batches: Batch numbers to run (default: all).
        done: Results already available (from a checkpoint); they are not rerun.
        executor: Where to run; default: in this process.
        on_batch: Called with all results so far after each finished batch (checkpointing).
        progress: Called with the number of toys of each finished batch.
    """
    wanted = list(batches) if batches is not None else shard_batches(n_toys, model.batch_size)
    results: dict[int, BatchResult] = {i: done[i] for i in wanted if done and i in done}
    todo = [i for i in wanted if i not in results]
    tasks = ((model, seed, i, n_toys) for i in todo)
    stream = executor.imap(run_batch, tasks) if executor else map(run_batch, tasks)
    for result in stream:
        results[result.index] = result
        if on_batch is not None:
            on_batch(results)
        if progress is not None:
            progress(result.max_z.size)
    return results


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class GrossVitells:
    """The Gross-Vitells fit and extrapolation.

    Attributes:
        thresholds: Thresholds u (on q = max(Z, 0)^2).
        mean_euler: Mean Euler characteristic per threshold over the toys.
        mean_euler_error: Its standard error.
        n_toys: Toys used.
        n1: Fitted N1.
        n2: Fitted N2.
        covariance: 2 x 2 covariance of (N1, N2) (thresholds treated as independent).
        u: Threshold of the extrapolation (observed max Z squared).
        p_global: Extrapolated E[phi(A_u)] (approximates the global p-value).
        p_global_error: Its uncertainty from the fit.
    """

    thresholds: tuple[float, ...]
    mean_euler: tuple[float, ...]
    mean_euler_error: tuple[float, ...]
    n_toys: int
    n1: float
    n2: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    u: float
    p_global: float
    p_global_error: float

    @property
    def z_global(self) -> float | None:
        """Global Z from the extrapolated p (``None`` outside (0, 1))."""
        return float(stats.norm.isf(self.p_global)) if 0 < self.p_global < 1 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "thresholds": list(self.thresholds),
            "mean_euler": list(self.mean_euler),
            "mean_euler_error": list(self.mean_euler_error),
            "n_toys": self.n_toys,
            "n1": self.n1,
            "n2": self.n2,
            "covariance": [list(row) for row in self.covariance],
            "u": self.u,
            "p_global": self.p_global,
            "p_global_error": self.p_global_error,
            "z_global": self.z_global,
        }


def expected_euler(u: NDArray[np.float64] | float, n1: float, n2: float) -> NDArray[np.float64]:
    """``E[phi(A_u)] = Phi_bar(sqrt(u)) + exp(-u/2) (N1 + N2 sqrt(u))`` (one-sided, 2-D)."""
    u = np.asarray(u, dtype=np.float64)
    root = np.sqrt(u)
    value: NDArray[np.float64] = stats.norm.sf(root) + np.exp(-u / 2) * (n1 + n2 * root)
    return value


def fit_gross_vitells(
    thresholds: Sequence[float], euler: NDArray[np.int64], z_obs: float
) -> GrossVitells:
    """Fit N1, N2 to the mean Euler characteristics and extrapolate to ``u = z_obs^2``.

    Args:
        thresholds: Thresholds u.
        euler: Euler characteristic per toy and threshold, shape (T, len(thresholds)).
        z_obs: The observed largest local Z.

    Example:
        >>> u = [1.0, 2.0, 3.0]
        >>> phi = np.array([[round(float(expected_euler(x, 5.0, 2.0)))] * 1 for x in u]).T
        >>> fit = fit_gross_vitells(u, np.repeat(phi, 2, axis=0), 3.0)
        >>> fit.n_toys
        2
    """
    u = np.asarray(thresholds, dtype=np.float64)
    phi = np.asarray(euler, dtype=np.float64).reshape(-1, u.size)
    t = phi.shape[0]
    mean = phi.mean(axis=0) if t else np.zeros(u.size)
    error = phi.std(axis=0, ddof=1) / math.sqrt(t) if t > 1 else np.ones(u.size)
    error = np.maximum(error, 1.0 / max(t, 1))  # a floor: never infinite weights
    root = np.sqrt(u)
    design = np.stack([np.exp(-u / 2), root * np.exp(-u / 2)], axis=1)
    target = mean - stats.norm.sf(root)
    weight = 1.0 / error
    if u.size >= 2:
        solution, *_ = np.linalg.lstsq(design * weight[:, None], target * weight, rcond=None)
        covariance = np.linalg.pinv((design * weight[:, None] ** 2).T @ design)
    else:
        solution = np.zeros(2)
        covariance = np.zeros((2, 2))
    n1, n2 = float(solution[0]), float(solution[1])
    u_obs = float(z_obs) ** 2 if z_obs > 0 else 0.0
    p = float(expected_euler(u_obs, n1, n2))
    gradient = np.array([1.0, math.sqrt(u_obs)]) * math.exp(-u_obs / 2)
    p_error = float(math.sqrt(max(float(gradient @ covariance @ gradient), 0.0)))
    return GrossVitells(
        thresholds=tuple(float(x) for x in u),
        mean_euler=tuple(float(x) for x in mean),
        mean_euler_error=tuple(float(x) for x in error),
        n_toys=t,
        n1=n1,
        n2=n2,
        covariance=(
            (float(covariance[0, 0]), float(covariance[0, 1])),
            (float(covariance[1, 0]), float(covariance[1, 1])),
        ),
        u=u_obs,
        p_global=p,
        p_global_error=p_error,
    )


@dataclass(frozen=True, slots=True)
class LeeResult:
    """The global significance of the largest local excess.

    Attributes:
        n_toys: Number of toys.
        z_local: Observed largest local Z (from the same tables as the toys).
        window: Index of the window with the largest observed Z.
        p_local: Its local p-value, ``Phi_bar(z_local)``.
        n_above: Toys whose largest Z is >= z_local.
        p_global: ``n_above / n_toys``.
        p_global_error: Binomial Monte Carlo uncertainty, sqrt(p (1 - p) / n).
        p_global_interval: Clopper-Pearson 68.27 % interval of p_global.
        trials_factor: p_global / p_local.
        max_z: Largest local Z per toy (the distribution), in toy order.
        argmax: Window index of each toy's largest Z.
        gross_vitells: The Gross-Vitells cross-check (``None`` without Euler characteristics).
    """

    n_toys: int
    z_local: float
    window: int
    p_local: float
    n_above: int
    p_global: float
    p_global_error: float
    p_global_interval: tuple[float, float]
    trials_factor: float
    max_z: NDArray[np.float64] = field(repr=False)
    argmax: NDArray[np.int64] = field(repr=False)
    gross_vitells: GrossVitells | None = None

    @property
    def z_global(self) -> float | None:
        """Global Z, ``Phi^-1(1 - p_global)`` (``None`` if no toy reached z_local)."""
        return float(stats.norm.isf(self.p_global)) if self.p_global > 0 else None


def _clopper_pearson(k: int, n: int, cl: float = 0.6827) -> tuple[float, float]:
    alpha = 1 - cl
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def global_significance(
    max_z: NDArray[np.float64],
    z_local: float,
    *,
    window: int = -1,
    argmax: NDArray[np.int64] | None = None,
    euler: NDArray[np.int64] | None = None,
    thresholds: Sequence[float] = (),
) -> LeeResult:
    """Global p, Z, trials factor (and Gross-Vitells) from the toys' largest local Z.

    Example:
        >>> r = global_significance(np.array([0.5, 1.5, 2.5, 3.5]), 2.0)
        >>> r.p_global, r.n_above, round(r.trials_factor, 2)
        (0.5, 2, 21.98)
    """
    max_z = np.asarray(max_z, dtype=np.float64)
    n = int(max_z.size)
    if n == 0:
        raise InputError(None, "n_toys", "at least one toy")
    k = int(np.count_nonzero(max_z >= z_local))
    p = k / n
    p_local = float(stats.norm.sf(z_local))
    gv = None
    if euler is not None and len(thresholds) and np.asarray(euler).size:
        gv = fit_gross_vitells(thresholds, euler, z_local)
    return LeeResult(
        n_toys=n,
        z_local=float(z_local),
        window=int(window),
        p_local=p_local,
        n_above=k,
        p_global=p,
        p_global_error=math.sqrt(p * (1 - p) / n),
        p_global_interval=_clopper_pearson(k, n),
        trials_factor=p / p_local if p_local > 0 else math.inf,
        max_z=max_z,
        argmax=np.full(n, -1, dtype=np.int64) if argmax is None else np.asarray(argmax),
        gross_vitells=gv,
    )


def p_global_independent(p_local: NDArray[np.float64]) -> float:
    """``1 - prod_w (1 - p_w)``: the global p of independent windows (the reference for tests)."""
    return float(-np.expm1(np.sum(np.log1p(-np.asarray(p_local, dtype=np.float64)))))


def summarise(
    results: Mapping[int, BatchResult],
    *,
    n_toys: int,
    batch_size: int,
    z_local: float,
    window: int,
    thresholds: Sequence[float],
) -> LeeResult:
    """Combine batch results (all batches of the run, any order) into the global result."""
    n_batches = -(-n_toys // batch_size)
    missing = [i for i in range(n_batches) if i not in results]
    if missing:
        raise InputError(None, "batches", f"all {n_batches} batches", got=f"missing {missing[:5]}")
    ordered = [results[i] for i in range(n_batches)]
    max_z = np.concatenate([r.max_z for r in ordered])
    if max_z.size != n_toys:
        raise InputError(None, "batches", f"{n_toys} toys in total", got=int(max_z.size))
    argmax = np.concatenate([r.argmax for r in ordered])
    euler = np.concatenate([r.euler for r in ordered]).reshape(-1, len(thresholds))
    return global_significance(
        max_z, z_local, window=window, argmax=argmax, euler=euler, thresholds=thresholds
    )


def merge_parts(
    parts: Sequence[Mapping[str, Any]], sources: Sequence[str | Path]
) -> dict[int, BatchResult]:
    """Check that part documents belong to one run and cover every batch exactly once.

    Args:
        parts: Part documents (schema ``lee-part``).
        sources: Their file names (for error messages).

    Returns:
        All batch results by batch number.
    """
    if not parts:
        raise InputError(None, "PART", "at least one part file")
    from dhstat.jsonio import canonical_digest

    header = canonical_digest(parts[0]["run"])
    n_thresholds = len(parts[0]["run"]["gross_vitells_thresholds"])
    results: dict[int, BatchResult] = {}
    for part, source in zip(parts, sources, strict=True):
        if canonical_digest(part["run"]) != header:
            raise InputError(source, "run", f"the same run settings and inputs as {sources[0]}")
        if not part["complete"]:
            raise InputError(source, "complete", "a finished shard (this is a checkpoint)")
        for item in part["batches"]:
            if item["index"] in results:
                raise InputError(
                    source, "batches", "each batch in one part only", got=item["index"]
                )
            results[int(item["index"])] = BatchResult.from_dict(item, n_thresholds)
    return results


# --------------------------------------------------------------------------------------------
# Documents: shard parts, checkpoints and the final lee.json


def _clean(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def part_document(
    header: Mapping[str, Any],
    shard: tuple[int, int],
    results: Mapping[int, BatchResult],
    *,
    complete: bool,
) -> dict[str, Any]:
    """A shard part (or checkpoint) document, schema ``lee-part``."""
    return {
        "schema_version": "1.0.0",
        "run": dict(header),
        "shard": {"index": shard[0], "count": shard[1]},
        "complete": complete,
        "batches": [results[i].to_dict() for i in sorted(results)],
    }


def lee_document(header: Mapping[str, Any], results: Mapping[int, BatchResult]) -> dict[str, Any]:
    """The final ``lee.json`` document (schema ``lee``) from all batches of a run.

    The document depends only on ``header`` and the batch results, so a single run and merged
    shards of the same run give identical bytes.
    """
    thresholds = tuple(header["gross_vitells_thresholds"])
    result = summarise(
        results,
        n_toys=int(header["n_toys"]),
        batch_size=int(header["batch_size"]),
        z_local=float(header["z_local"]),
        window=int(header["window"]),
        thresholds=thresholds,
    )
    low, high = result.p_global_interval
    z_interval = [_clean(float(stats.norm.isf(high))), _clean(float(stats.norm.isf(low)))]
    edges = np.linspace(-2.0, 8.0, 101)
    counts, _ = np.histogram(np.clip(result.max_z, edges[0], edges[-1]), bins=edges)
    gv = result.gross_vitells
    return {
        "schema_version": "1.0.0",
        "n_toys": result.n_toys,
        "z_local": result.z_local,
        "p_local": result.p_local,
        "window": {"index": result.window, "id": header["window_ids"][result.window]},
        "n_above": result.n_above,
        "p_global": result.p_global,
        "p_global_error": result.p_global_error,
        "p_global_interval": [low, high],
        "z_global": _clean(result.z_global),
        "z_global_interval": z_interval,
        "trials_factor": _clean(result.trials_factor),
        "max_z": [float(x) for x in result.max_z],
        "max_z_window": [int(x) for x in result.argmax],
        "max_z_histogram": {
            "edges": [float(x) for x in edges],
            "counts": [int(x) for x in counts],
        },
        "gross_vitells": None if gv is None else gv.to_dict(),
        "provenance": dict(header),
    }


def _checkpoint_text(
    parts: Mapping[str, Any], cache: dict[int, str], results: Mapping[int, BatchResult]
) -> str:
    for index, result in results.items():
        if index not in cache:
            cache[index] = jsonio.dumps(result.to_dict(), indent=None).strip()
    head = jsonio.dumps(dict(parts), indent=None).strip()
    body = ",".join(cache[i] for i in sorted(results))
    return head[:-1] + ',"batches":[' + body + "]}\n"


def run_checkpointed(
    model: ToyModel,
    header: Mapping[str, Any],
    *,
    checkpoint: Path,
    shard: tuple[int, int] = (0, 1),
    executor: parallel.Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[int, BatchResult]:
    """Run a shard's batches, rewriting ``checkpoint`` after each one; resume from it if present.

    A checkpoint is a part document with ``complete: false``. It is reused only if it was written
    by a run with the same header (settings, seed, inputs) and shard; otherwise
    :class:`InputError` asks to remove it. The checkpoint is left in place; the caller removes it
    once the output is written.
    """
    n_toys, batch_size = int(header["n_toys"]), int(header["batch_size"])
    wanted = shard_batches(n_toys, batch_size, shard)
    done: dict[int, BatchResult] = {}
    if checkpoint.exists():
        document = jsonio.read_json(checkpoint, schema="lee-part")
        same = jsonio.canonical_digest(document["run"]) == jsonio.canonical_digest(dict(header))
        if not same or document["shard"] != {"index": shard[0], "count": shard[1]}:
            raise InputError(
                checkpoint, "run", "a checkpoint of the same run and shard (delete it to restart)"
            )
        n_u = len(header["gross_vitells_thresholds"])
        for item in document["batches"]:
            if int(item["index"]) in wanted:
                done[int(item["index"])] = BatchResult.from_dict(item, n_u)
        log.info("resuming from %s: %d of %d batches done", checkpoint, len(done), len(wanted))
        if progress is not None:
            progress(sum(r.max_z.size for r in done.values()))
    head = {
        "schema_version": "1.0.0",
        "complete": False,
        "run": dict(header),
        "shard": {"index": shard[0], "count": shard[1]},
    }
    cache: dict[int, str] = {}

    def save(results: dict[int, BatchResult]) -> None:
        text = _checkpoint_text(head, cache, results)
        with jsonio.atomic_path(checkpoint) as temporary:
            temporary.write_text(text, encoding="utf-8")

    return run_toys(
        model,
        n_toys=n_toys,
        seed=int(header["seed"]),
        batches=wanted,
        done=done,
        executor=executor,
        on_batch=save,
        progress=progress,
    )


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


def run_header(
    model: ToyModel,
    *,
    n_toys: int,
    seed: int,
    z_local: float,
    window: int,
    window_ids: Sequence[int | str],
    systematics: Sequence[str] = (),
    z_scan: float | None = None,
    inputs: Mapping[str, str] | None = None,
    config_digest: str = "",
) -> dict[str, Any]:
    """The settings and inputs that define a run (identical in every shard of it)."""
    from dhstat import __version__

    return {
        "n_toys": int(n_toys),
        "batch_size": model.batch_size,
        "seed": int(seed),
        "n_windows": model.n_windows,
        "n_cells": int(model.background.size),
        "window_ids": list(window_ids),
        "systematics": list(systematics),
        "mc_stat": bool(np.any(model.mc_scale > _NO_SMEARING)),
        "signal_injected": float(model.signal.sum()),
        "gross_vitells_thresholds": list(model.thresholds),
        "gross_vitells_toys": min(model.gv_toys, int(n_toys)),
        "nuisance_model": NUISANCE_MODEL,
        "z_local": float(z_local),
        "window": int(window),
        "z_local_scan": _clean(z_scan),
        "inputs": dict(inputs or {}),
        "config_digest": config_digest,
        "dhstat_version": __version__,
    }


# --------------------------------------------------------------------------------------------
# Reading the scan results and the counts


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
    from dhstat.counting import Counts
    from dhstat.stats.model import WindowSet

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


def inject_signal(cells: CellInputs, window: int, expected: float) -> CellInputs:
    """Cells with ``expected`` signal events added to window ``window`` (for power studies).

    The counts file has no signal per cell, so the signal is spread over the window's cells in
    proportion to their background (uniformly if the window has no background): an approximation
    that keeps every injected event inside the window.

    Example:
        >>> c = CellInputs(np.array([1.0, 3.0]), np.zeros(2), np.array([0, 2]), np.array([0, 1]))
        >>> inject_signal(c, 0, 8.0).signal.tolist()
        [2.0, 6.0]
    """
    if not 0 <= window < cells.n_windows or not expected >= 0:
        raise InputError(None, "signal injection", "a window index and a non-negative yield")
    members = cells.indices[cells.indptr[window] : cells.indptr[window + 1]]
    weight = cells.background[members]
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(members.size, 1 / members.size)
    signal = np.zeros(cells.n_cells) if cells.signal is None else cells.signal.copy()
    np.add.at(signal, members, expected * weight)
    return CellInputs(cells.background, cells.sumw2, cells.indptr, cells.indices, signal)


def prepare(
    search: SearchInputs,
    settings: Mapping[str, Any],
    *,
    n_toys: int,
    seed: int,
    config_digest: str,
    inputs: Mapping[str, str],
    cells: CellInputs | None = None,
    executor: parallel.Executor | None = None,
) -> tuple[ToyModel, dict[str, Any]]:
    """The toy model and the run header of a search, from the ``[lee]`` settings.

    The one place where the settings become :func:`build_toy_model` and :func:`run_header`
    arguments; ``dhstat lee`` and the ``lee`` stage of ``dhstat run`` both use it.

    Args:
        search: The aligned scan results and counts (:func:`search_inputs`).
        settings: The ``[lee]`` configuration table.
        n_toys: Number of toys of the whole run (all shards).
        seed: Master seed.
        config_digest: Digest of the ``[lee]`` table, recorded in the header.
        inputs: SHA-256 of the input files, recorded in the header.
        cells: The cells to draw from (default ``search.cells``; e.g. with an injected signal).
        executor: Builds the p(n) tables in parallel (default: in this process).
    """
    from dhstat.stats import significance

    systematics = bool(settings["systematics"])
    model = build_toy_model(
        search.windows,
        search.cells if cells is None else cells,
        pvalue=significance.hybrid_pvalue,
        relative_windows=search.relative if systematics else None,
        centres=search.centres,
        mc_stat=bool(settings["mc_stat"]),
        thresholds=settings["gv_thresholds"],
        gv_toys=int(settings["gv_toys"]),
        batch_size=int(settings["batch_size"]),
        table_sigmas=float(settings["table_sigmas"]),
        executor=executor,
    )
    z_local, window = observed_max(model, search.n_observed)
    header = run_header(
        model,
        n_toys=n_toys,
        seed=seed,
        z_local=z_local,
        window=window,
        window_ids=list(search.ids),
        systematics=search.systematics if systematics else (),
        z_scan=search.z_scan,
        inputs=dict(inputs),
        config_digest=config_digest,
    )
    return model, header
