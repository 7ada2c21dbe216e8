"""Bayes factors and Bayesian upper limits of a whole window set at once (the scan's path).

The windows are grouped by their quadrature rule (:meth:`dhstat.stats.model.WindowSet.nodes`) and
each group is evaluated in row chunks with the single-bin kernels of :mod:`dhstat.stats.single_bin`
(see :mod:`dhstat.stats.bayes` for the formulae and the sigma_max-dependence check).

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})])
    >>> round(float(window_upper_limits(ws, cl=0.9).upper_limit[0]), 4)  # ln(10)
    2.3026
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats import _core, single_bin
from dhstat.stats.model import NodeSet, WindowSet
from dhstat.stats.single_bin import Prior

__all__ = ["WindowLimits", "window_bayes_factors", "window_upper_limits"]

# the logger of dhstat.stats.bayes, where these functions lived: log records keep their name
log = logging.getLogger("dhstat.stats.bayes")

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class WindowLimits:
    """Upper limits of a whole window set.

    Attributes:
        upper_limit: Limit per window, shape (W,) (NaN where the likelihood vanishes on the range).
        sigma_max_dependent: Flag per window (flat prior only; False for log).
        limit_at_check: Flat limit with ``check_factor * sigma_max`` (NaN for log).
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"``.
        sigma_max: Upper end of the prior per window.
        sigma_min: Lower end of the log prior: one number, or one per window (NaN where no limit
            was computed); ``None`` for flat.
    """

    upper_limit: Array
    sigma_max_dependent: NDArray[np.bool_]
    limit_at_check: Array
    cl: float
    prior: str
    sigma_max: Array
    sigma_min: float | Array | None


def _merged(groups: tuple[NodeSet, ...]) -> list[NodeSet]:
    """Node groups with the same number of nodes merged into one.

    The kernels cost per call a fixed Python overhead plus a share per node: merging the groups
    of a window set (one per quadrature rule) saves the overhead. Only groups of equal size are
    merged, so that every row sums the same numbers in the same order: a window's results do not
    depend on the other windows of the set (the same bytes with 1 or N worker processes).
    """
    by_size: dict[int, list[NodeSet]] = {}
    for group in groups:
        if group.n.size:
            by_size.setdefault(group.signal.shape[1], []).append(group)
    return [_concatenate(same) for same in by_size.values()]


def _concatenate(groups: list[NodeSet]) -> NodeSet:
    if len(groups) == 1:
        return groups[0]
    return NodeSet(
        rows=np.concatenate([g.rows for g in groups]),
        n=np.concatenate([g.n for g in groups]),
        signal=np.concatenate([g.signal for g in groups]),
        background=np.concatenate([g.background for g in groups]),
        weight=np.concatenate([g.weight for g in groups]),
    )


def _chunks(group: NodeSet, budget: int = 4_000_000) -> list[NDArray[np.int64]]:
    m, k = group.signal.shape
    size = max(1, budget // max(k, 1))
    return [np.arange(i, min(i + size, m)) for i in range(0, m, size)]


def _log_chunks(group: NodeSet, budget: int = 4_000_000) -> list[NDArray[np.int64]]:
    """Row chunks of similar j-range for the log-prior series."""
    j_lo, j_hi = _core._j_range(group.n.astype(np.float64), group.background)
    span = np.minimum(j_hi - j_lo + 1, 64).astype(np.int64)
    order = np.argsort(span, kind="stable")
    k = group.signal.shape[1]
    chunks: list[NDArray[np.int64]] = []
    start = 0
    while start < order.size:
        stop = start + 1
        while stop < order.size and (stop - start + 1) * k * span[order[stop]] <= budget:
            stop += 1
        chunks.append(order[start:stop])
        start = stop
    return chunks


def window_bayes_factors(windows: WindowSet, *, sigma_max: float | None = None) -> Array:
    """Bayes factor B10 of every window (flat prior on [0, sigma_max]).

    Args:
        windows: The window set.
        sigma_max: Prior range (default: each workspace's POI upper bound).

    Returns:
        B10 per window, shape (W,) (inf where the background-only likelihood vanishes).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=3, signal=1.0, backgrounds={"b": 1.0})])
        >>> from scipy import stats
        >>> ref = (stats.poisson.cdf(3, 1) - stats.poisson.cdf(3, 101)) / (100 * stats.poisson.pmf(3, 1))
        >>> bool(abs(window_bayes_factors(ws)[0] / ref - 1) < 1e-10)
        True
    """
    smax_all = _sigma_max(windows, sigma_max)
    out = np.empty(len(windows))
    for group in _merged(windows.nodes()):
        for rows in _chunks(group):
            r = group.rows[rows]
            logbf = single_bin.log_bayes_factor_nodes(
                group.n[rows].astype(np.float64),
                group.signal[rows],
                group.background[rows],
                group.weight[rows],
                smax_all[r],
            )
            with np.errstate(over="ignore"):
                out[r] = np.exp(logbf)
    return out


def _select(group: NodeSet, keep: NDArray[np.bool_]) -> NodeSet:
    """The rows ``keep`` of a node group (the group itself when all are kept)."""
    if keep.all():
        return group
    return NodeSet(
        rows=group.rows[keep],
        n=group.n[keep],
        signal=group.signal[keep],
        background=group.background[keep],
        weight=group.weight[keep],
    )


def _sigma_max(windows: WindowSet, sigma_max: float | None) -> Array:
    if sigma_max is None:
        return windows.sigma_max.astype(np.float64)
    if not sigma_max > 0:
        raise InputError(None, "sigma_max", "a positive number", got=sigma_max)
    return np.full(len(windows), float(sigma_max))


def _checked_range(
    windows: WindowSet,
    cl: float,
    prior: Prior,
    sigma_max: float | None,
    sigma_min: float | Array,
    wanted: NDArray[np.bool_],
) -> tuple[Array, Array]:
    """Check the arguments of :func:`window_upper_limits`; sigma_max and sigma_min per window."""
    if not 0 < cl < 1:
        raise InputError(None, "cl", "a credibility level in (0, 1)", got=cl)
    if prior not in ("flat", "log"):
        raise InputError(None, "prior", "flat or log", got=prior)
    smax_all = _sigma_max(windows, sigma_max)
    smin_all = np.broadcast_to(np.asarray(sigma_min, dtype=np.float64), smax_all.shape)
    if prior == "log":
        bad = wanted & ~((smin_all > 0) & (smin_all < smax_all))
        if bad.any():
            got = float(smin_all[np.flatnonzero(bad)[0]])
            raise InputError(None, "sigma_min", "0 < sigma_min < sigma_max", got=got)
    return smax_all, smin_all


def _flat_rows(
    n: Array,
    s: Array,
    b: Array,
    w: Array,
    cl: float,
    smax: Array,
    check_factor: float,
    tolerance: float,
    *,
    check: bool,
) -> tuple[Array, Array | None]:
    """Flat limits of a chunk of rows, and the limits at ``check_factor * smax`` (if ``check``)."""
    if not check:
        return single_bin.flat_limit_nodes(n, s, b, w, cl, smax), None
    return single_bin.flat_limit_checked(n, s, b, w, cl, smax, check_factor * smax, tolerance)


def _dependent(
    limit: Array, at_check: Array, tolerance: float, check_factor: float
) -> NDArray[np.bool_]:
    """Flat limits that move by more than ``tolerance`` in the sigma_max check (logged)."""
    with np.errstate(invalid="ignore"):
        dependent: NDArray[np.bool_] = np.abs(at_check / limit - 1.0) > tolerance
    if dependent.any():
        log.warning(
            "%d of %d flat-prior limits depend on sigma_max (move by > %.3g when sigma_max is "
            "multiplied by %g)",
            int(dependent.sum()),
            limit.size,
            tolerance,
            check_factor,
        )
    return dependent


def _sigma_min_record(sigma_min: float | Array, wanted: NDArray[np.bool_]) -> float | Array:
    """What WindowLimits records: the number, or the array with NaN where nothing was computed."""
    if np.ndim(sigma_min) == 0:
        return float(sigma_min)
    record: Array = np.where(wanted, np.asarray(sigma_min, dtype=np.float64), np.nan)
    return record


def window_upper_limits(
    windows: WindowSet,
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float | Array = 0.5,
    check_factor: float = 10.0,
    tolerance: float = 0.01,
    check: bool = True,
    rows: NDArray[np.intp] | None = None,
) -> WindowLimits:
    """Bayesian upper limits of every window.

    Args:
        windows: The window set.
        cl: Credibility level.
        prior: ``"flat"`` (default) or ``"log"`` (flat in ln sigma on [sigma_min, sigma_max]).
        sigma_max: Prior range (default: each workspace's POI upper bound).
        sigma_min: Lower end of the log prior: one number, or one per window (shape (W,); only
            the computed rows are checked).
        check_factor: The sigma_max-dependence check multiplies sigma_max by this (flat prior).
        tolerance: Flag limits that move by more than this fraction in that check.
        check: Run the sigma_max-dependence check (flat prior).
        rows: Compute only these windows (the others get NaN and no flag); default all.

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=5, signal=2.0, backgrounds={"b": 0.0})])
        >>> round(float(window_upper_limits(ws, cl=0.95).upper_limit[0] * 2.0), 2)  # PDG: 10.51
        10.51
    """
    limit = np.full(len(windows), np.nan)
    at_check = np.full(len(windows), np.nan)
    wanted = np.ones(len(windows), dtype=bool)
    if rows is not None:
        wanted[:] = False
        wanted[np.asarray(rows, dtype=np.intp)] = True
    smax_all, smin_all = _checked_range(windows, cl, prior, sigma_max, sigma_min, wanted)
    for full in _merged(windows.nodes()):
        group = _select(full, wanted[full.rows])
        chunks = _chunks(group) if prior == "flat" else _log_chunks(group)
        for chunk in chunks:
            r = group.rows[chunk]
            n = group.n[chunk].astype(np.float64)
            s, b, w = group.signal[chunk], group.background[chunk], group.weight[chunk]
            if prior == "flat":
                limit[r], checked = _flat_rows(
                    n, s, b, w, cl, smax_all[r], check_factor, tolerance, check=check
                )
                if checked is not None:
                    at_check[r] = checked
            else:
                limit[r] = single_bin.log_limit_nodes(n, s, b, w, cl, smin_all[r], smax_all[r])
    dependent = np.zeros(len(windows), dtype=bool)
    if prior == "flat" and check:
        dependent = _dependent(limit, at_check, tolerance, check_factor)
    return WindowLimits(
        upper_limit=limit,
        sigma_max_dependent=dependent,
        limit_at_check=at_check,
        cl=cl,
        prior=prior,
        sigma_max=smax_all,
        sigma_min=_sigma_min_record(sigma_min, wanted) if prior == "log" else None,
    )
