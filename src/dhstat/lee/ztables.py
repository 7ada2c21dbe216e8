"""Per-window tables of the local Z, ``Z_w(n) = Phi^-1(1 - p_w(n))``, for the toys.

``p_w`` is the observed p-value function (``stats.significance.hybrid_pvalue``), tabulated once
per window (in parallel) for ``n_min_w .. n_max_w`` and looked up by the toys. ``n_max_w`` lies
``table_sigmas`` standard deviations above the mean; counts beyond are computed on the fly by the
same function. ``n_min_w`` is where ``Z`` reaches the floor ``min(1, sqrt(u_min))`` (checked):
below it only "below every Gross-Vitells threshold" matters. The observed maximum uses the same
function, so ties between toys and data are exact.

Example:
    >>> ZTable(np.array([0, 3]), np.array([2]), np.zeros(3)).n_max.tolist()
    [4]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from dhstat import parallel

__all__ = [
    "Z_BELOW",
    "Z_CAP",
    "PValueFn",
    "ZTable",
    "build_ztable",
    "poisson_pvalue",
    "subset_windows",
    "z_of_p",
]


#: Largest |Z| stored (p-values below ~1e-300 have no finite Z in float64).
Z_CAP = 38.0

#: What a count below a window's table looks up as in the toys (its true Z is <= the floor).
Z_BELOW = -math.inf


#: The observed p-value function: ``pvalue(windows, n)`` with n of shape (W, k).
PValueFn = Callable[[Any, NDArray[np.int64]], NDArray[np.float64]]


def __dir__() -> list[str]:
    return __all__


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


def z_of_p(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Local Z of p-values, ``Phi^-1(1 - p)`` clipped to +-:data:`Z_CAP`."""
    z: NDArray[np.float64] = np.clip(stats.norm.isf(p), -Z_CAP, Z_CAP)
    return z


def subset_windows(windows: Any, rows: NDArray[np.int64], total: int) -> Any:
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
    z = z_of_p(np.asarray(pvalue(windows, n), dtype=np.float64).reshape(n.shape))
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
        tasks = [(subset_windows(windows, g, n_max.size), pvalue, low[g], n_max[g]) for g in groups]
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
