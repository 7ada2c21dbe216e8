"""Bayesian limits and Bayes factors of single-bin models at given prior nodes (the sigma integrals).

The kernels of both paths: the window path (:mod:`dhstat.stats.window_bayes`, every window of a
window set) and the generic path for one-bin workspaces (:mod:`dhstat.stats.generic_bayes`). Each
function takes, for m models with k prior nodes each, the counts ``n`` (m,), the signal yield per
unit POI S, the background B and the normalised weights W (all (m, k)), and the POI range per model:

* flat prior: :func:`flat_limit_nodes` and :func:`flat_limit_total` solve
  ``sum_k W_k int_0^x Pois(n | B_k + S_k x') dx' = CL * (the same on [0, sigma_max])`` by
  safeguarded Halley steps (:func:`dhstat.stats._core.solve_increasing_halley`: the derivatives
  are the integrand and its slope, cheap next to the incomplete gamma functions of the
  closed-form integral, :class:`dhstat.stats._flat_cdf.FlatCdf`) from the limit of 15 nodes with
  the nodes' moments; :func:`flat_limit_checked` adds the sigma_max-dependence check, reusing
  the first solve;
* log prior: :func:`log_limit_nodes`, the closed-form series of :mod:`dhstat.stats._core` where it
  is short (its incomplete gamma functions of consecutive integer orders by recurrence),
  composite Gauss-Legendre quadrature in ln sigma and sigma otherwise;
* :func:`log_bayes_factor_nodes`: ``ln B10`` with a flat prior on [0, sigma_max].

Example:
    >>> one = np.ones((1, 1))
    >>> limit = flat_limit_nodes(np.zeros(1), one, 0 * one, one, 0.9, np.array([100.0]))
    >>> round(float(limit[0]), 4)  # ln(10)
    2.3026
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import special

from dhstat.stats import _core
from dhstat.stats._flat_cdf import FlatCdf

__all__ = [
    "Prior",
    "flat_limit_checked",
    "flat_limit_nodes",
    "flat_limit_total",
    "log_bayes_factor_nodes",
    "log_limit_nodes",
]

#: The POI prior: flat in sigma on [0, sigma_max], or flat in ln sigma on [sigma_min, sigma_max].
Prior = Literal["flat", "log"]
Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def flat_limit_nodes(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> Array:
    """Flat-prior limits on [0, smax] per row (NaN where the likelihood vanishes on the range)."""
    return flat_limit_total(n, signal, background, weight, cl, smax)[0]


#: the start's rule: Gauss-Hermite in the background (5 points) and across it in the signal (3)
_GUESS_B, _GUESS_BW = np.polynomial.hermite_e.hermegauss(5)
_GUESS_S, _GUESS_SW = np.polynomial.hermite_e.hermegauss(3)
_GUESS_Z1 = np.repeat(_GUESS_B, 3)
_GUESS_Z2 = np.tile(_GUESS_S, 5)
_GUESS_W = np.outer(_GUESS_BW, _GUESS_SW).ravel() / (_GUESS_BW.sum() * _GUESS_SW.sum())


def _flat_guess(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> Array:
    """A start for the flat-limit solve: the limit of 15 nodes that share the nodes' moments.

    The nodes are the 5 x 3 Gauss-Hermite rule of a normal (B, S) with the nodes' means and
    covariance (B clipped at 0, S at 1e-3 of its mean): the background spread widens the
    posterior, and S correlated with B (shared systematics) shifts it. Up to 3 nodes: the limit
    of the mean node without background, roughly. Only the solver's path depends on the start,
    not the root it converges to.
    """
    s_mean = np.maximum((weight * signal).sum(-1, keepdims=True), 1e-300)
    simple: Array = np.minimum((n + 2.3 + 1.3 * np.sqrt(n)) / s_mean[:, 0], smax)
    if signal.shape[1] <= 3:
        return simple
    b_mean = (weight * background).sum(-1, keepdims=True)
    db, ds = background - b_mean, signal - s_mean
    b_sd = np.sqrt((weight * db * db).sum(-1, keepdims=True))
    s_sd = np.sqrt((weight * ds * ds).sum(-1, keepdims=True))
    rho = np.clip(
        (weight * db * ds).sum(-1, keepdims=True) / np.maximum(b_sd * s_sd, 1e-300), -1, 1
    )
    b_nodes = np.maximum(b_mean + b_sd * _GUESS_Z1, 0.0)
    across = rho * _GUESS_Z1 + np.sqrt(1.0 - rho * rho) * _GUESS_Z2
    s_nodes = np.maximum(s_mean + s_sd * across, 1e-3 * s_mean)
    w_nodes = np.broadcast_to(_GUESS_W, b_nodes.shape)
    # the 15-node solve starts from the normal posterior truncated at 0 (mean (n - B) / S)
    mean = (n - b_mean[:, 0]) / s_mean[:, 0]
    width = np.sqrt(n + 1.0 + b_sd[:, 0] ** 2) / s_mean[:, 0]
    below = special.ndtr(-mean / width)
    normal = mean + width * special.ndtri(below + cl * (1.0 - below))
    start = np.where(np.isfinite(normal) & (normal > 0), np.minimum(normal, smax), simple)
    guess, _, _ = _flat_solve(n, s_nodes, b_nodes, w_nodes, cl, smax, start)
    return np.where(np.isfinite(guess), guess, smax / 2)


def _flat_solve(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array, start: Array
) -> tuple[Array, Array, Array]:
    """Flat-prior limits from ``start``, the integral of m over [0, smax] and m(smax) per row."""
    cdf = FlatCdf(n, signal, background, weight)
    total, edge, _ = cdf(smax, np.arange(n.size))
    x = _core.solve_increasing_halley(cdf, cl * total, np.zeros_like(smax), smax, start)
    result: Array = np.where(total > 0, x, np.nan)
    return result, total, edge


def flat_limit_total(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> tuple[Array, Array, Array]:
    """Flat-prior limits, the integral of m over [0, smax] and m(smax) per row."""
    guess = _flat_guess(n, signal, background, weight, cl, smax)
    return _flat_solve(n, signal, background, weight, cl, smax, guess)


def flat_limit_checked(
    n: Array,
    signal: Array,
    background: Array,
    weight: Array,
    cl: float,
    smax: Array,
    check_smax: Array,
    tolerance: float,
) -> tuple[Array, Array]:
    """Flat-prior limits on [0, smax] and on [0, check_smax] (the sigma_max-dependence check).

    The check is solved only where the posterior mass between smax and ``check_smax`` can move
    the limit by ``1e-3 tolerance``: for posteriors falling at least like 1/sigma that mass is at
    most ``m(smax) smax ln(check_smax / smax)``. Elsewhere the check limit is the limit itself.
    The check reuses the node constants of the first solve and starts from its limit.

    Example:
        >>> one = np.ones((1, 1))
        >>> limit, at_check = flat_limit_checked(np.zeros(1), one, 0 * one, one, 0.9,
        ...                                      np.array([2.0]), np.array([20.0]), 0.01)
        >>> bool(at_check[0] > limit[0])  # the prior range [0, 2] truncates the posterior
        True
    """
    cdf = FlatCdf(n, signal, background, weight)
    rows = np.arange(n.size)
    total, edge, _ = cdf(smax, rows)
    guess = _flat_guess(n, signal, background, weight, cl, smax)
    x = _core.solve_increasing_halley(cdf, cl * total, np.zeros_like(smax), smax, guess)
    limit: Array = np.where(total > 0, x, np.nan)
    at_check = limit.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        mass = edge * smax * np.log(check_smax / smax)
        need = np.flatnonzero(~(mass < 1e-3 * tolerance * total))
    if need.size:
        wide, _, _ = cdf(check_smax[need], need)
        low = np.where(np.isfinite(limit[need]), limit[need], 0.0)

        def sub(x: Array, idx: NDArray[np.intp]) -> tuple[Array, Array, Array]:
            return cdf(x, need[idx])

        x = _core.solve_increasing_halley(sub, cl * wide, low, check_smax[need], low)
        at_check[need] = np.where(wide > 0, x, np.nan)
    return limit, at_check


_SERIES_SPAN = 6
_GL8_X, _GL8_W = np.polynomial.legendre.leggauss(8)
_GL16_X, _GL16_W = np.polynomial.legendre.leggauss(16)


def _integer_tails(first: Array, last: Array, count: int, y: Array) -> tuple[Array, Array]:
    """``P(a, y)`` and ``Q(a, y)`` for the integers ``a = first, ..., first + count - 1`` (>= 1).

    ``first`` and ``last`` (m, 1) (the last a of each row that is used), ``y`` (m, k); results
    (m, k, count), zero above ``last``. One incomplete gamma function per element and end instead
    of one per a: Q upwards from the first a, P downwards from the last, by adding Poisson terms
    (``Q(a + 1, y) = Q(a, y) + Pois(a; y)``, ``P(a, y) = P(a + 1, y) + Pois(a; y)``), which keeps
    full relative precision. Each row's values depend on that row only.

    Example:
        >>> p, q = _integer_tails(np.array([[1.0]]), np.array([[3.0]]), 3, np.array([[2.5]]))
        >>> bool(np.allclose(p[0, 0], special.gammainc([1, 2, 3], 2.5), rtol=1e-14))
        True
    """
    q = np.empty((*y.shape, count))
    p = np.zeros_like(q)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        q[..., 0] = np.exp(-y)  # Q(1, y)
        other = np.flatnonzero(first[:, 0] != 1.0)
        if other.size:
            q[other, :, 0] = special.gammaincc(first[other], y[other])
        top = special.gammainc(last, y)
        terms = [_core.fast_pmf(first, y)]  # Pois(a; y) for a = first, first + 1, ...
        for i in range(1, count - 1):
            terms.append(terms[-1] * y / (first + i))
    for i in range(1, count):
        q[..., i] = q[..., i - 1] + terms[i - 1]
    for i in range(count - 1, -1, -1):
        a = first + i
        above = p[..., i + 1] + terms[i] if i + 1 < count else top
        p[..., i] = np.where(a == last, top, np.where(a < last, above, 0.0))
    return p, q


class _LogSeriesCdf:
    """``sum_k W_k int_smin^x Pois(n | B_k + S_k x') / x' dx'`` and its derivative, row by row.

    The same arithmetic as :func:`_core.log_integral`, with the x-independent parts (the series
    coefficients ``Pois(n - j; B)`` and the lower-end incomplete gamma and E1 values) computed once.
    """

    def __init__(
        self, n: Array, signal: Array, background: Array, weight: Array, low: Array
    ) -> None:
        j_lo, j_hi = _core._j_range(n, background)
        span = int(np.max(j_hi - j_lo)) + 1 if n.size else 1
        j = j_lo[:, None] + np.arange(span)[None, :]
        valid = j <= j_hi[:, None]
        jj = np.where(valid, j, 0.0)[:, None, :]  # (m, 1, J)
        self.n, self.signal, self.background, self.weight, self.low = (
            n,
            signal,
            background,
            weight,
            low,
        )
        self.coeff = np.where(
            valid[:, None, :],
            np.exp(_core.log_pmf(n[:, None, None] - jj, background[..., None])),
            0.0,
        )  # (m, k, J)
        self.positive = np.broadcast_to(jj >= 1, self.coeff.shape)
        # the j >= 1 of a row are the consecutive integers from max(j_lo, 1): their tails by
        # recurrence (:func:`_integer_tails`), entry i of a row at recurrence index i - offset
        offset = (j_lo < 1).astype(np.int64)
        self.first = (j_lo + offset).astype(np.float64)[:, None]
        self.last = np.maximum(j_hi, self.first[:, 0])[:, None]
        self.index = np.maximum(np.arange(span)[None, :] - offset[:, None], 0)[:, None, :]
        self.a = np.ascontiguousarray(np.broadcast_to(np.where(jj >= 1, jj, 1.0), self.coeff.shape))
        ylo = (signal * low[:, None])[..., None]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.p_low = special.gammainc(self.a, ylo)
            self.q_low = special.gammaincc(self.a, ylo)
            self.e1_low = special.exp1(np.where(ylo > 0, ylo, 1.0))
        self.signal_positive = signal[..., None] > 0

    def __call__(self, x: Array, rows: NDArray[np.intp]) -> tuple[Array, Array, Array]:
        s, b, w = self.signal[rows], self.background[rows], self.weight[rows]
        a = self.a[rows]
        y = s * x[:, None]
        yhi = y[..., None]
        p_hi, q_hi = _integer_tails(self.first[rows], self.last[rows], a.shape[-1], y)
        index = np.broadcast_to(self.index[rows], a.shape)
        p_hi = np.take_along_axis(p_hi, index, axis=-1)
        q_hi = np.take_along_axis(q_hi, index, axis=-1)
        diff = np.where(yhi <= a, p_hi - self.p_low[rows], self.q_low[rows] - q_hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            up = diff / a
            zero_term = np.where(
                self.signal_positive[rows],
                self.e1_low[rows] - special.exp1(np.where(yhi > 0, yhi, 1.0)),
                np.log(x / self.low[rows])[:, None, None],
            )
        terms = np.where(self.positive[rows], np.maximum(up, 0.0), zero_term)
        value = (self.coeff[rows] * terms).sum(axis=-1)
        total: Array = (w * value).sum(-1)
        n, mu = self.n[rows][:, None], b + s * x[:, None]
        density = w * _core.fast_pmf(n, mu)
        slope: Array = density.sum(-1) / x
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(mu > 0, n / np.where(mu > 0, mu, 1.0), 0.0)
        # d/dx [m(x) / x] = m'(x) / x - m(x) / x^2, m' = sum_k W_k S_k Pois (n / mu - 1)
        curvature: Array = (density * s * (ratio - 1.0)).sum(-1) / x - slope / x
        return total, slope, curvature


def _log_limit_series(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smin: Array, smax: Array
) -> Array:
    cdf = _LogSeriesCdf(n, signal, background, weight, smin)
    total, _, _ = cdf(smax, np.arange(n.size))
    # start: the flat-prior limit of the mean node without background (n <= 5 here)
    s_mean = np.maximum((weight * signal).sum(-1), 1e-300)
    start = np.clip((n + 2.3 + 1.3 * np.sqrt(n)) / s_mean, smin, smax)
    x = _core.solve_increasing_halley(cdf, cl * total, smin, smax, start)
    result: Array = np.where(total > 0, x, np.nan)
    return result


def _panels(
    n: Array, signal: Array, background: Array, weight: Array, smin: Array, smax: Array
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Panel ends (two (m, P) arrays) and kinds (True: ln sigma variable, else sigma)."""
    s_ref = np.maximum((weight * signal).sum(-1), 1e-300)
    s_low = np.where(weight > 0, signal, np.inf).min(-1)
    s_low = np.where(np.isfinite(s_low) & (s_low > 0), s_low, s_ref)
    b_ref = (weight * background).sum(-1)
    width = np.sqrt(n + 1.0) / s_ref
    s_c = np.clip(0.05 * width, smin, smax)
    s_w = np.clip(width, s_c, smax)
    top = (np.maximum(n - b_ref, 0.0) + 14.0 * np.sqrt(n + 1.0) + 14.0) / s_low
    s_hi = np.clip(top, s_w, smax)
    t_edges = np.linspace(np.log(s_c), np.log(s_w), 5, axis=1)
    s_edges = np.linspace(s_w, s_hi, 25, axis=1)
    lows = np.concatenate([np.log(smin)[:, None], t_edges[:, :-1], s_edges[:, :-1]], axis=1)
    highs = np.concatenate([np.log(s_c)[:, None], t_edges[:, 1:], s_edges[:, 1:]], axis=1)
    in_log = np.array([True] * 5 + [False] * 24)
    return lows, highs, in_log


def _log_integrand(
    n: Array,
    signal: Array,
    background: Array,
    log_weight: Array,
    u: Array,
    in_log: NDArray[np.bool_],
) -> Array:
    """g(u) for points u (m, q): m(e^u) in ln sigma panels, m(sigma) / sigma in sigma panels.

    ``log_weight`` is ``ln W - ln n!`` per node (:func:`_log_weights`): each term is
    ``exp(n ln mu - mu + ln W - ln n!)``, evaluated in place, in blocks of rows that stay in the
    processor's cache (the integrand's cost is the log-prior limit's).
    """
    sigma = np.where(in_log, np.exp(u), u)
    value = np.empty(u.shape)
    block = max(1, _LOG_BLOCK // max(u.shape[1] * signal.shape[1], 1))
    for first in range(0, n.size, block):
        r = slice(first, first + block)
        value[r] = _log_terms(n[r], signal[r], background[r], log_weight[r], sigma[r])
    result: Array = np.where(in_log, value, value / np.where(sigma > 0, sigma, 1.0))
    return result


#: elements (rows x points x nodes) of one block of :func:`_log_integrand`
_LOG_BLOCK = 16384


def _log_terms(
    n: Array, signal: Array, background: Array, log_weight: Array, sigma: Array
) -> Array:
    """``sum_k exp(n ln mu_k - mu_k + log_weight_k)`` at ``mu = B + S sigma``, (m, q)."""
    terms = signal[:, None, :] * sigma[:, :, None]
    terms += background[:, None, :]  # mu
    with np.errstate(divide="ignore", invalid="ignore"):
        power = np.log(terms)
    power *= n[:, None, None]
    empty = n == 0
    if empty.any():
        power[empty] = 0.0  # n ln mu = 0 for n = 0, also at mu = 0
    power -= terms
    power += log_weight[:, None, :]
    value: Array = np.exp(power, out=power).sum(-1)
    return value


def _log_weights(n: Array, weight: Array) -> Array:
    """``ln W - ln n!`` per node (-inf where W = 0)."""
    with np.errstate(divide="ignore"):
        value: Array = np.log(weight) - special.gammaln(n + 1.0)[:, None]
    return value


def _log_limit_numeric(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smin: Array, smax: Array
) -> Array:
    """Log-prior limit by composite Gauss-Legendre.

    16 points in ln sigma on the plateau below the posterior, 4 x 8 in ln sigma up to one posterior
    width, 24 x 8 in sigma up to 14 widths beyond.
    """
    lows, highs, in_log = _panels(n, signal, background, weight, smin, smax)
    log_weight = _log_weights(n, weight)
    m, count = n.size, lows.shape[1]
    orders = [16] + [8] * (count - 1)
    sums = np.zeros((m, count))
    for p in range(count):
        gx, gw = (_GL16_X, _GL16_W) if orders[p] == 16 else (_GL8_X, _GL8_W)
        half = 0.5 * (highs[:, p] - lows[:, p])
        u = lows[:, p, None] + half[:, None] * (gx[None, :] + 1.0)
        g = _log_integrand(n, signal, background, log_weight, u, np.full(u.shape, in_log[p]))
        sums[:, p] = half * (g * gw[None, :]).sum(-1)
    cumulative = np.concatenate([np.zeros((m, 1)), np.cumsum(sums, axis=1)], axis=1)
    total = cumulative[:, -1]
    target = cl * total
    panel = np.clip((cumulative < target[:, None]).sum(1) - 1, 0, count - 1)
    rows = np.arange(m)
    lo, hi = lows[rows, panel], highs[rows, panel]
    base = cumulative[rows, panel]
    log_var = in_log[panel]

    def func(x: Array, idx: NDArray[np.intp]) -> tuple[Array, Array]:
        lo_i, flags_i = lo[idx], log_var[idx]
        n_i, s_i, b_i, w_i = n[idx], signal[idx], background[idx], log_weight[idx]
        half = 0.5 * (x - lo_i)
        u = lo_i[:, None] + half[:, None] * (_GL8_X[None, :] + 1.0)
        flags = np.broadcast_to(flags_i[:, None], u.shape)
        g = _log_integrand(n_i, s_i, b_i, w_i, u, flags)
        value = base[idx] + half * (g * _GL8_W[None, :]).sum(-1)
        slope = _log_integrand(n_i, s_i, b_i, w_i, x[:, None], flags_i[:, None])[:, 0]
        return value, slope

    root = _core.solve_increasing(func, target, lo, hi, 0.5 * (lo + hi), rtol=1e-13)
    limit = np.where(log_var, np.exp(root), root)
    result: Array = np.where(total > 0, limit, np.nan)
    return result


def log_limit_nodes(
    n: Array,
    signal: Array,
    background: Array,
    weight: Array,
    cl: float,
    smin: Array,
    smax: Array,
) -> Array:
    """Log-prior limits: closed-form series where it is short, composite quadrature otherwise."""
    j_lo, j_hi = _core._j_range(n, background)
    series = (j_hi - j_lo + 1) <= _SERIES_SPAN
    out = np.empty(n.size)
    for mask, fn in ((series, _log_limit_series), (~series, _log_limit_numeric)):
        if mask.any():
            out[mask] = fn(
                n[mask], signal[mask], background[mask], weight[mask], cl, smin[mask], smax[mask]
            )
    return out


def log_bayes_factor_nodes(
    n: Array, signal: Array, background: Array, weight: Array, smax: Array
) -> Array:
    """``ln B10`` per row, flat prior on [0, smax]: ``ln [int_0^smax m / (smax m(0))]``."""
    integral = (weight * _core.flat_integral(n[:, None], signal, background, smax[:, None])).sum(-1)
    with np.errstate(divide="ignore"):
        log_m0 = _core.log_density(n, signal, background, weight, np.zeros_like(smax))
        result: Array = np.log(integral) - np.log(smax) - log_m0
    return result
