"""Bayesian limits and Bayes factors of single-bin models at given prior nodes (the sigma integrals).

The kernels of both paths: the window path (:mod:`dhstat.stats.window_bayes`, every window of a
window set) and the generic path for one-bin workspaces (:mod:`dhstat.stats.generic_bayes`). Each
function takes, for m models with k prior nodes each, the counts ``n`` (m,), the signal yield per
unit POI S, the background B and the normalised weights W (all (m, k)), and the POI range per model:

* flat prior: :func:`flat_limit_nodes` and :func:`flat_limit_total` solve
  ``sum_k W_k int_0^x Pois(n | B_k + S_k x') dx' = CL * (the same on [0, sigma_max])`` by
  safeguarded Halley steps (:func:`dhstat.stats._core.solve_increasing_halley`: the derivatives
  are the integrand and its slope, cheap next to the incomplete gamma functions of the
  closed-form integral) from the limit of the mean node; :func:`flat_limit_checked` adds the
  sigma_max-dependence check, reusing the first solve;
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


class _FlatCdf:
    """``sum_k W_k int_0^x Pois(n | B_k + S_k x') dx'`` and two x-derivatives, row by row.

    The arithmetic of :func:`_core.flat_integral`, with the x-independent parts computed once per
    solve: one regularised incomplete gamma function per node at the lower end B (the other tail
    as its complement, exact to rounding on the side where it is >= 1/2), ``W / S``, ``ln n!``.
    Per evaluation only the branch (lower or upper tail) that is used is evaluated.
    """

    def __init__(self, n: Array, signal: Array, background: Array, weight: Array) -> None:
        self.size = n.size
        self.n = n[:, None]
        self.signal, self.background, self.weight = signal, background, weight
        self.a = np.ascontiguousarray(np.broadcast_to(self.n + 1.0, background.shape))
        below = background <= self.a
        tail = np.empty(background.shape)
        tail[below] = special.gammainc(self.a[below], background[below])
        tail[~below] = special.gammaincc(self.a[~below], background[~below])
        self.p_low = np.where(below, tail, 1.0 - tail)
        self.q_low = np.where(below, 1.0 - tail, tail)
        self.scale = 0.05 * _core._scale(self.n, background)
        self.log_factorial = special.gammaln(self.n + 1.0)
        positive = signal > 0
        self.per_signal = np.where(positive, weight / np.where(positive, signal, 1.0), 0.0)
        # nodes without signal: the integrand is constant, x Pois(n; B)
        self.flat_part = np.where(positive, 0.0, weight * _core.pmf(self.n, background)).sum(-1)

    def _take(self, rows: NDArray[np.intp]) -> tuple[Array, ...]:
        names = ("n", "signal", "background", "a", "p_low", "q_low", "scale", "per_signal")
        arrays = tuple(getattr(self, name) for name in names)
        arrays += (self.weight, self.log_factorial, self.flat_part)
        return arrays if rows.size == self.size else tuple(v[rows] for v in arrays)

    def __call__(self, x: Array, rows: NDArray[np.intp]) -> tuple[Array, Array, Array]:
        n, s, b, a, p_low, q_low, scale, per_signal, w, log_factorial, flat = self._take(rows)
        xc = x[:, None]
        width = s * xc
        high = b + width
        lower_side = high <= a
        diff = np.empty(high.shape)
        diff[lower_side] = special.gammainc(a[lower_side], high[lower_side]) - p_low[lower_side]
        upper = ~lower_side
        diff[upper] = q_low[upper] - special.gammaincc(a[upper], high[upper])
        small = width < scale
        if np.any(small):
            nb = np.broadcast_to(n, high.shape)
            ns, ls, ws = nb[small], b[small], width[small]
            mu = ls[:, None] + ws[:, None] * _core._GL_X
            diff[small] = ws * (_core.pmf(ns[:, None], mu) * _core._GL_W).sum(axis=-1)
        np.maximum(diff, 0.0, out=diff)
        value: Array = (per_signal * diff).sum(-1) + x * flat
        with np.errstate(divide="ignore", invalid="ignore"):
            density = w * _core.fast_pmf(n, high, log_factorial)
            slope: Array = density.sum(-1)
            # d/dx Pois(n | B + S x) = S Pois (n / mu - 1); mu = 0 only for n = 0 (then -S Pois)
            ratio = np.where(high > 0, n / np.where(high > 0, high, 1.0), 0.0)
            curvature: Array = (density * s * (ratio - 1.0)).sum(-1)
        return value, slope, curvature


def flat_limit_nodes(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> Array:
    """Flat-prior limits on [0, smax] per row (NaN where the likelihood vanishes on the range)."""
    return flat_limit_total(n, signal, background, weight, cl, smax)[0]


def _flat_guess(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> Array:
    """A start for the flat-limit solve: the limit of three nodes with the nodes' mean signal.

    The nodes are the 3-point Gauss-Hermite rule of a normal background with the nodes' mean and
    variance (clipped at 0): the background spread widens the posterior, which the mean node alone
    misses. Up to 3 nodes: the limit of the mean node without background, roughly.
    """
    s_mean = np.maximum((weight * signal).sum(-1, keepdims=True), 1e-300)
    simple: Array = np.minimum((n + 2.3 + 1.3 * np.sqrt(n)) / s_mean[:, 0], smax)
    if signal.shape[1] <= 3:
        return simple
    b_mean = (weight * background).sum(-1, keepdims=True)
    b_spread = np.sqrt(3.0 * (weight * (background - b_mean) ** 2).sum(-1, keepdims=True))
    b_nodes = np.maximum(b_mean + b_spread * np.array([-1.0, 0.0, 1.0]), 0.0)
    s_nodes = np.repeat(s_mean, 3, axis=1)
    w_nodes = np.broadcast_to(np.array([1.0, 4.0, 1.0]) / 6.0, b_nodes.shape)
    guess, _, _ = _flat_solve(n, s_nodes, b_nodes, w_nodes, cl, smax, simple)
    return np.where(np.isfinite(guess), guess, smax / 2)


def _flat_solve(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array, start: Array
) -> tuple[Array, Array, Array]:
    """Flat-prior limits from ``start``, the integral of m over [0, smax] and m(smax) per row."""
    cdf = _FlatCdf(n, signal, background, weight)
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
    cdf = _FlatCdf(n, signal, background, weight)
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
    n: Array, signal: Array, background: Array, weight: Array, u: Array, in_log: NDArray[np.bool_]
) -> Array:
    """g(u) for points u (m, q): m(e^u) in ln sigma panels, m(sigma) / sigma in sigma panels."""
    sigma = np.where(in_log, np.exp(u), u)
    mu = background[:, None, :] + signal[:, None, :] * sigma[:, :, None]
    value = (weight[:, None, :] * _core.fast_pmf(n[:, None, None], mu)).sum(-1)
    result: Array = np.where(in_log, value, value / np.where(sigma > 0, sigma, 1.0))
    return result


def _log_limit_numeric(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smin: Array, smax: Array
) -> Array:
    """Log-prior limit by composite Gauss-Legendre.

    16 points in ln sigma on the plateau below the posterior, 4 x 8 in ln sigma up to one posterior
    width, 24 x 8 in sigma up to 14 widths beyond.
    """
    lows, highs, in_log = _panels(n, signal, background, weight, smin, smax)
    m, count = n.size, lows.shape[1]
    orders = [16] + [8] * (count - 1)
    sums = np.zeros((m, count))
    for p in range(count):
        gx, gw = (_GL16_X, _GL16_W) if orders[p] == 16 else (_GL8_X, _GL8_W)
        half = 0.5 * (highs[:, p] - lows[:, p])
        u = lows[:, p, None] + half[:, None] * (gx[None, :] + 1.0)
        g = _log_integrand(n, signal, background, weight, u, np.full(u.shape, in_log[p]))
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
        n_i, s_i, b_i, w_i = n[idx], signal[idx], background[idx], weight[idx]
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
