"""Bayesian limits and Bayes factors of single-bin models at given prior nodes (the sigma integrals).

The kernels of both paths: the window path (:mod:`dhstat.stats.window_bayes`, every window of a
window set) and the generic path for one-bin workspaces (:mod:`dhstat.stats.generic_bayes`). Each
function takes, for m models with k prior nodes each, the counts ``n`` (m,), the signal yield per
unit POI S, the background B and the normalised weights W (all (m, k)), and the POI range per model:

* flat prior: :func:`flat_limit_nodes` and :func:`flat_limit_total` solve
  ``sum_k W_k int_0^x Pois(n | B_k + S_k x') dx' = CL * (the same on [0, sigma_max])`` by
  safeguarded Newton (:func:`dhstat.stats._core.solve_increasing`) on the closed-form integral;
* log prior: :func:`log_limit_nodes`, the closed-form series of :mod:`dhstat.stats._core` where it
  is short, composite Gauss-Legendre quadrature in ln sigma and sigma otherwise;
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
    """``sum_k W_k int_0^x Pois(n | B_k + S_k x') dx'`` and its x-derivative, row by row.

    The same arithmetic as :func:`_core.flat_integral`, with the x-independent parts (the regularised
    incomplete gamma functions at the lower end B) computed once per solve, and only the branch
    (lower or upper tail) that is used evaluated.
    """

    def __init__(self, n: Array, signal: Array, background: Array, weight: Array) -> None:
        self.n = n[:, None]
        self.signal, self.background, self.weight = signal, background, weight
        a = np.broadcast_to(self.n + 1.0, background.shape)
        self.a = np.ascontiguousarray(a)
        self.p_low = special.gammainc(self.a, background)
        self.q_low = special.gammaincc(self.a, background)
        self.scale = 0.05 * _core._scale(self.n, background)
        self.pmf_low = _core.pmf(self.n, background)
        self.positive = signal > 0
        self.safe = np.where(self.positive, signal, 1.0)

    def __call__(self, x: Array, rows: NDArray[np.intp]) -> tuple[Array, Array]:
        n, s, b, a = self.n[rows], self.signal[rows], self.background[rows], self.a[rows]
        xc = x[:, None]
        width = s * xc
        high = b + width
        lower_side = high <= a
        diff = np.empty(high.shape)
        p_low, q_low = self.p_low[rows], self.q_low[rows]
        diff[lower_side] = special.gammainc(a[lower_side], high[lower_side]) - p_low[lower_side]
        upper = ~lower_side
        diff[upper] = q_low[upper] - special.gammaincc(a[upper], high[upper])
        small = width < self.scale[rows]
        if np.any(small):
            nb = np.broadcast_to(n, high.shape)
            ns, ls, ws = nb[small], b[small], width[small]
            mu = ls[:, None] + ws[:, None] * _core._GL_X
            diff[small] = ws * (_core.pmf(ns[:, None], mu) * _core._GL_W).sum(axis=-1)
        area = np.maximum(diff, 0.0)
        integral = np.where(self.positive[rows], area / self.safe[rows], xc * self.pmf_low[rows])
        weight = self.weight[rows]
        value: Array = (weight * integral).sum(-1)
        slope: Array = (weight * _core.pmf(n, high)).sum(-1)
        return value, slope


def flat_limit_nodes(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> Array:
    """Flat-prior limits on [0, smax] per row (NaN where the likelihood vanishes on the range)."""
    return flat_limit_total(n, signal, background, weight, cl, smax)[0]


def flat_limit_total(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> tuple[Array, Array, Array]:
    """Flat-prior limits, the integral of m over [0, smax] and m(smax) per row."""
    cdf = _FlatCdf(n, signal, background, weight)
    total, edge = cdf(smax, np.arange(n.size))
    s_mean = np.maximum((weight * signal).sum(-1, keepdims=True), 1e-300)
    b_mean = (weight * background).sum(-1, keepdims=True)
    one = np.ones_like(s_mean)
    guess = np.minimum((n + 2.3 + 1.3 * np.sqrt(n)) / s_mean[:, 0], smax)
    if signal.shape[1] > 1:
        # the limit of the nominal (mean) node is a good start for the full node set
        guess = flat_limit_nodes(n, s_mean, b_mean, one, cl, smax)
        guess = np.where(np.isfinite(guess), guess, smax / 2)
    x = _core.solve_increasing(cdf, cl * total, np.zeros_like(smax), smax, guess)
    result: Array = np.where(total > 0, x, np.nan)
    return result, total, edge


_SERIES_SPAN = 6
_GL8_X, _GL8_W = np.polynomial.legendre.leggauss(8)
_GL16_X, _GL16_W = np.polynomial.legendre.leggauss(16)


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
        self.a = np.ascontiguousarray(np.broadcast_to(np.where(jj >= 1, jj, 1.0), self.coeff.shape))
        ylo = (signal * low[:, None])[..., None]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.p_low = special.gammainc(self.a, ylo)
            self.q_low = special.gammaincc(self.a, ylo)
            self.e1_low = special.exp1(np.where(ylo > 0, ylo, 1.0))
        self.signal_positive = signal[..., None] > 0

    def __call__(self, x: Array, rows: NDArray[np.intp]) -> tuple[Array, Array]:
        s, b, w = self.signal[rows], self.background[rows], self.weight[rows]
        a = self.a[rows]
        yhi = (s * x[:, None])[..., None]
        yb = np.broadcast_to(yhi, a.shape)
        lower_side = yb <= a
        upper = ~lower_side
        diff = np.empty(a.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff[lower_side] = (
                special.gammainc(a[lower_side], yb[lower_side]) - self.p_low[rows][lower_side]
            )
            diff[upper] = self.q_low[rows][upper] - special.gammaincc(a[upper], yb[upper])
            up = diff / a
            zero_term = np.where(
                self.signal_positive[rows],
                self.e1_low[rows] - special.exp1(np.where(yhi > 0, yhi, 1.0)),
                np.log(x / self.low[rows])[:, None, None],
            )
        terms = np.where(self.positive[rows], np.maximum(up, 0.0), zero_term)
        value = (self.coeff[rows] * terms).sum(axis=-1)
        total: Array = (w * value).sum(-1)
        slope: Array = (w * _core.pmf(self.n[rows][:, None], b + s * x[:, None])).sum(-1) / x
        return total, slope


def _log_limit_series(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smin: Array, smax: Array
) -> Array:
    cdf = _LogSeriesCdf(n, signal, background, weight, smin)
    total, _ = cdf(smax, np.arange(n.size))
    start = np.sqrt(smin * smax)
    x = _core.solve_increasing(cdf, cl * total, smin, smax, start)
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
    value = (weight[:, None, :] * _core.pmf(n[:, None, None], mu)).sum(-1)
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
