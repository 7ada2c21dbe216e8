"""Expected Bayesian limits and expected significances of a window set, exactly, without toys.

Under a hypothesis (background only, or signal ``sigma`` plus background) the count N of a window
follows its prior-predictive distribution: the nuisance parameters are drawn from their priors
(the same zero-truncated priors and quadrature nodes as the hybrid p-value and the limits) and N
from the Poisson distribution of the resulting rate::

    P(N <= k) = sum_j W_j P(Poisson(nu_j) <= k),   nu_j = B_j (+ sigma S_j).

A Bayesian upper limit is an increasing function of N (more events, a higher limit), and so is
the local Z. Their quantiles therefore are the functions evaluated at the quantiles of N: for a
level q, ``N_q`` is the smallest k with ``P(N <= k) >= q`` and the q-quantile of the limit is
``limit(N_q)``, exactly (the limit takes only the values limit(0), limit(1), ...).

* :func:`count_quantiles`: ``N_q`` per window and level (background only, or with a signal);
* :func:`expected_upper_limits`: the expected limits at the :data:`BAND_LEVELS` (the median and
  the +-1 sd, +-2 sd quantiles, ``[-2, -1, 0, +1, +2]`` sd in this order), flat or log prior;
* :func:`expected_significance`: the median local Z under signal plus background (sensitivity).

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 3.0})])
    >>> from scipy import stats
    >>> count_quantiles(ws, BAND_LEVELS).tolist(), stats.poisson.ppf(BAND_LEVELS, 3.0).tolist()
    ([[0, 1, 3, 5, 7]], [0.0, 1.0, 3.0, 5.0, 7.0])
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from dhstat.errors import InputError
from dhstat.stats import _core, significance, window_bayes
from dhstat.stats.model import WindowSet
from dhstat.stats.nodes import NodeSet
from dhstat.stats.single_bin import Prior

__all__ = [
    "BAND_LEVELS",
    "BAND_SIGMAS",
    "count_quantiles",
    "expected_significance",
    "expected_upper_limits",
]

Array = NDArray[np.float64]

#: The bands, in standard deviations: -2, -1, 0 (median), +1, +2.
BAND_SIGMAS = (-2.0, -1.0, 0.0, 1.0, 2.0)

#: The quantile levels of the bands, ``Phi(BAND_SIGMAS)``.
BAND_LEVELS = tuple(float(special.ndtr(x)) for x in BAND_SIGMAS)


def __dir__() -> list[str]:
    return __all__


def _cdf(k: NDArray[np.int64], mu: Array, weight: Array) -> Array:
    """``P(N <= k)`` for counts k (m, L), node rates mu and weights (m, K)."""
    kk = np.maximum(k, 0).astype(np.float64)[:, :, None] + 1.0
    value: Array = (weight[:, None, :] * special.gammaincc(kk, mu[:, None, :])).sum(-1)
    return np.where(k < 0, 0.0, value)


def _bisect(mu: Array, weight: Array, levels: Array) -> NDArray[np.int64]:
    """Smallest k with ``P(N <= k) >= q`` by integer bisection (any rates).

    The bracket starts around the normal approximation's quantile (+-(sd / 2 + 3)); where the CDF
    there does not bracket q, it grows to the whole range (-1 to 12 sd above the largest rate):
    the bisection only ever keeps ``P(N <= lo) < q <= P(N <= hi)``, so the result is exact.
    """
    top = mu.max(axis=1)
    full = np.ceil(top + 12.0 * np.sqrt(top) + 30.0).astype(np.int64)[:, None]
    mean = (weight * mu).sum(-1)
    sd = np.sqrt(mean + (weight * (mu - mean[:, None]) ** 2).sum(-1))[:, None]
    centre = mean[:, None] + special.ndtri(levels)[None, :] * sd
    lo = np.clip(np.floor(centre - 0.5 * sd - 3.0), -1, full - 1).astype(np.int64)
    hi = np.clip(np.ceil(centre + 0.5 * sd + 3.0), lo + 1, full).astype(np.int64)
    ends = _cdf(np.concatenate([lo, hi], axis=1), mu, weight) >= np.tile(levels, 2)[None, :]
    lo_above, hi_above = ends[:, : levels.size], ends[:, levels.size :]
    # P(N <= lo) >= q: the quantile is at most lo; P(N <= hi) < q: it is above hi
    lo, hi = (
        np.where(lo_above, -1, np.where(hi_above, lo, hi)),
        np.where(lo_above, lo, np.where(hi_above, hi, full)),
    )
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        above = _cdf(mid, mu, weight) >= levels[None, :]
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return hi


def _table(
    mu: Array, weight: Array, levels: Array, k_lo: NDArray[np.int64], span: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Quantiles from ``P(N <= k)`` tabulated for k = k_lo .. k_lo + span - 1 (Poisson recursion).

    Returns the quantiles and whether the table brackets every level (else: use bisection).
    """
    first = k_lo.astype(np.float64)[:, None]
    tail = special.gammaincc(first + 1.0, mu)  # P(X <= k_lo) per node
    pmf = _core.pmf(first, mu)
    below = (weight * (tail - pmf)).sum(-1)  # P(N <= k_lo - 1)
    table = np.empty((mu.shape[0], span))
    table[:, 0] = (weight * tail).sum(-1)
    pmf, tail = pmf.copy(), tail.copy()
    scratch = np.empty_like(tail)
    for i in range(1, span):  # in place: the same operations in the same order
        pmf *= mu
        pmf /= first + i
        tail += pmf
        table[:, i] = np.multiply(weight, tail, out=scratch).sum(-1)
    reached = table[:, :, None] >= levels[None, None, :]  # (m, span, L)
    ok = ((k_lo == 0) | (below < levels.min())) & reached[:, -1, :].all(axis=1)
    return k_lo[:, None] + reached.argmax(axis=1), ok


def _group_quantiles(group: NodeSet, levels: Array, sigma: float) -> NDArray[np.int64]:
    """Smallest k with ``P(N <= k) >= q`` for the windows of one node group.

    The prior-predictive distribution is tabulated around its mean (+-(|z_q| + ``_TABLE_MARGIN``)
    sd, by the Poisson recursion: one incomplete gamma function per node); rows whose table does
    not bracket every level, or whose table would be long (large backgrounds), are bisected.
    """
    mu_all = group.background + sigma * group.signal
    w_all = group.weight
    mean = (w_all * mu_all).sum(-1)
    sd = np.sqrt(mean + (w_all * (mu_all - mean[:, None]) ** 2).sum(-1))
    z = special.ndtri(levels)
    k_lo = np.maximum(np.floor(mean + (z.min() - _TABLE_MARGIN) * sd - 3.0), 0.0).astype(np.int64)
    k_hi = np.ceil(mean + (z.max() + _TABLE_MARGIN) * sd + 6.0).astype(np.int64)
    span = k_hi - k_lo + 1
    out = np.empty((mu_all.shape[0], levels.size), dtype=np.int64)
    bisect = span > _TABLE_SPANS[-1]
    for lower, upper in zip((0, *_TABLE_SPANS[:-1]), _TABLE_SPANS, strict=True):
        rows = np.flatnonzero((span > lower) & (span <= upper))
        per = max(1, 2_000_000 // max(upper * mu_all.shape[1], 1))
        for start in range(0, rows.size, per):
            r = rows[start : start + per]
            out[r], ok = _table(mu_all[r], w_all[r], levels, k_lo[r], int(span[r].max()))
            bisect[r[~ok]] = True
    rows = np.flatnonzero(bisect)
    per = max(1, 2_000_000 // max(mu_all.shape[1] * levels.size, 1))
    for start in range(0, rows.size, per):
        r = rows[start : start + per]
        out[r] = _bisect(mu_all[r], w_all[r], levels)
    return out


#: The tables of :func:`_group_quantiles` reach this many sd beyond the normal approximation's
#: quantiles (a table that does not bracket a level is bisected instead: exact either way).
_TABLE_MARGIN = 1.0

#: Table lengths of :func:`_group_quantiles` (rows are grouped by length; longer: bisection).
_TABLE_SPANS = (16, 48, 128, 384)


def count_quantiles(
    windows: WindowSet, levels: ArrayLike, *, sigma: float = 0.0
) -> NDArray[np.int64]:
    """Quantiles of the prior-predictive distribution of N: smallest k with ``P(N <= k) >= q``.

    Args:
        windows: The window set.
        levels: Quantile levels q in (0, 1), shape (L,).
        sigma: Signal cross section of the hypothesis (0: background only) [fb].

    Returns:
        Counts of shape (W, L).

    The background-only distribution uses the nodes of the hybrid p-value (planned for counts up
    to 6 sd above the background); with a signal, the posterior nodes planned at the expected
    count ``B + sigma S``, which resolve the signal's own uncertainties.

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=0, signal=2.0, backgrounds={"b": 1.0})])
        >>> count_quantiles(ws, [0.5], sigma=2.0).tolist()  # median of Poisson(5)
        [[5]]
    """
    q = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if q.ndim != 1 or not np.all((q > 0) & (q < 1)):
        raise InputError(None, "levels", "quantile levels in (0, 1)", got=levels)
    if not (np.isfinite(sigma) and sigma >= 0):
        raise InputError(None, "sigma", "a non-negative cross section", got=sigma)
    if sigma > 0:
        expected = windows.background + sigma * windows.signal
        reference = dataclasses.replace(windows, n=np.rint(expected).astype(np.int64), _cache={})
        groups = reference.nodes("posterior")
    else:
        groups = windows.nodes("pvalue")
    out = np.empty((len(windows), q.size), dtype=np.int64)
    for group in groups:
        out[group.rows] = _group_quantiles(group, q, float(sigma))
    return out


def expected_upper_limits(
    windows: WindowSet,
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float | Array = 0.5,
    levels: ArrayLike = BAND_LEVELS,
    observed: Array | None = None,
    rows: ArrayLike | None = None,
) -> Array:
    """Expected Bayesian upper limits under the background-only hypothesis.

    The q-quantile of the limit is the limit at the q-quantile of N (module docstring). Each
    distinct (window, N) pair is computed once, with the limits of
    :func:`dhstat.stats.window_bayes.window_upper_limits` (nodes planned at that N).

    Args:
        windows: The window set.
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"``.
        sigma_max: Prior range (default: each workspace's POI upper bound).
        sigma_min: Lower end of the log prior: one number or one per window (shape (W,)).
        levels: Quantile levels (default :data:`BAND_LEVELS`: -2, -1, 0, +1, +2 sd).
        observed: The observed limits of the same windows and prior, reused where N_q equals the
            observed count (optional).
        rows: Compute only these windows (the others get NaN); default all.

    Returns:
        Limits of shape (W, L) (NaN where the likelihood vanishes on the prior range).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})])
        >>> expected_upper_limits(ws).round(4).tolist()  # B = 0: always N = 0, ln(10)
        [[2.3026, 2.3026, 2.3026, 2.3026, 2.3026]]
    """
    chosen = np.arange(len(windows)) if rows is None else np.asarray(rows, dtype=np.intp)
    counts = count_quantiles(windows, levels)[chosen]
    limits = np.full((len(windows), counts.shape[1]), np.nan)
    if not counts.size:
        return limits
    index = np.repeat(chosen, counts.shape[1])
    pairs, inverse = np.unique(np.stack([index, counts.ravel()], 1), axis=0, return_inverse=True)
    values = np.full(pairs.shape[0], np.nan)
    todo = np.ones(pairs.shape[0], dtype=bool)
    if observed is not None:
        same = pairs[:, 1] == windows.n[pairs[:, 0]]
        values[same] = np.asarray(observed, dtype=np.float64)[pairs[same, 0]]
        todo = ~same
    if todo.any():
        sub = windows.subset(pairs[todo, 0])
        sub = dataclasses.replace(sub, n=pairs[todo, 1].astype(np.int64), _cache={})
        smin = sigma_min if np.ndim(sigma_min) == 0 else np.asarray(sigma_min)[pairs[todo, 0]]
        values[todo] = window_bayes.window_upper_limits(
            sub, cl=cl, prior=prior, sigma_max=sigma_max, sigma_min=smin, check=False
        ).upper_limit
    limits[chosen] = values[inverse.ravel()].reshape(counts.shape)
    return limits


def expected_significance(
    windows: WindowSet, sigma: float, *, rows: ArrayLike | None = None
) -> Array:
    """Median local Z under signal ``sigma`` plus background (the sensitivity of each window).

    Z is an increasing function of N, so its median is Z at the median of N under s+b (from
    :func:`count_quantiles`), with the observed p-value function
    (:func:`dhstat.stats.significance.hybrid_pvalue`) and its convention ``Z = max(0, ...)``.
    Its nodes are planned at that count (a median far above the background, Z ~ 10, lies beyond
    the reach of the observed count's nodes).

    Args:
        windows: The window set.
        sigma: Signal cross section [fb].
        rows: Compute only these windows (the others get NaN); default all.

    Returns:
        Median Z per window, shape (W,) (+inf where no background can produce that count).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 1.0})])
        >>> from scipy import stats
        >>> z = expected_significance(ws, 4.0)[0]  # median of Poisson(5) is 5
        >>> bool(abs(z - stats.norm.isf(stats.poisson.sf(4, 1.0))) < 1e-9)
        True
    """
    if not (np.isfinite(sigma) and sigma > 0):
        raise InputError(None, "sensitivity_sigma_fb", "a positive cross section", got=sigma)
    out = np.full(len(windows), np.nan)
    chosen = np.arange(len(windows)) if rows is None else np.asarray(rows, dtype=np.intp)
    if chosen.size:
        subset = windows if rows is None else windows.subset(chosen)
        median = count_quantiles(subset, [0.5], sigma=sigma)[:, 0]
        at_median = dataclasses.replace(subset, n=median, _cache={})
        p = significance.hybrid_pvalue(at_median, median[:, None])[:, 0]
        out[chosen] = _core.z_of_p(p)
    return out
