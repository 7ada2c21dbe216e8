"""Bayes factors and Bayesian upper limits (statistics.md sections 3 and 4).

Posterior of the POI (the cross section sigma in fb for window workspaces)::

    p(sigma | N) ∝ pi(sigma) * integral L(N | sigma, theta) pi(theta) dtheta,   sigma in [0, sigma_max]

with the flat prior (default; the paper's) or the log prior (flat in ln sigma on
[sigma_min, sigma_max]). The upper limit UL solves ``integral_0^UL p = CL``. The nuisance integral
uses the prior nodes of :mod:`dhstat.stats.model` (window sets) or :mod:`dhstat.stats.generic` (any
workspace); for one bin the sigma integrals are closed forms (see :mod:`dhstat.stats._core`), for
several bins a composite Gauss-Legendre rule in sigma (flat) or ln sigma (log) over the posterior's
support. Without uncertainties the flat limit is Helene's formula ``1 - CL = F(N; s_UL + b) / F(N; b)``.

Bayes factor (Kass & Raftery) with a flat prior on [0, sigma_max]::

    B10 = integral_0^sigma_max m(sigma) dsigma / (sigma_max m(0)),  m(sigma) = integral L pi(theta)

which without smearing is ``[F(N; b) - F(N; b + s_max)] / (s_max Pois(N; b))``.

sigma_max dependence: with a zero-truncated efficiency prior the flat posterior's normalisation grows
like ln(sigma_max); each flat limit is recomputed with ``sigma_max_check_factor * sigma_max`` and
flagged (and a warning logged) when it moves by more than ``sigma_max_tolerance``.

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})])
    >>> round(float(window_upper_limits(ws, cl=0.9).upper_limit[0]), 4)  # ln(10)
    2.3026
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from dhstat.errors import InputError
from dhstat.stats import _core, priors
from dhstat.stats.generic import GenericModel, GenericNodes, Settings
from dhstat.stats.model import NodeSet, WindowSet

__all__ = [
    "UpperLimit",
    "WindowLimits",
    "bayes_factor",
    "upper_limit",
    "window_bayes_factors",
    "window_upper_limits",
]

log = logging.getLogger(__name__)

Prior = Literal["flat", "log"]
Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class UpperLimit:
    """A Bayesian upper limit on the POI of one workspace.

    Attributes:
        upper_limit: The limit (POI units; fb for window workspaces).
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"``.
        poi: POI name.
        sigma_max: Upper end of the POI prior.
        sigma_min: Lower end of the log prior (``None`` for the flat prior).
        sigma_max_dependent: The flat limit moved by more than the tolerance when sigma_max was
            multiplied by the check factor (always False for the log prior).
        limit_at_check: The flat limit with ``check_factor * sigma_max`` (``None`` for log).
        method: ``"quadrature"`` or ``"monte-carlo"`` (nuisance integration).
        numerical_uncertainty: Monte Carlo standard error of the limit (0 for quadrature).
        n_nodes: Number of prior nodes used.
    """

    upper_limit: float
    cl: float
    prior: str
    poi: str
    sigma_max: float
    sigma_min: float | None
    sigma_max_dependent: bool
    limit_at_check: float | None
    method: str
    numerical_uncertainty: float
    n_nodes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the output of ``dhstat limit --json``)."""
        doc: dict[str, Any] = {
            "upper_limit": self.upper_limit,
            "cl": self.cl,
            "prior": self.prior,
            "poi": self.poi,
            "sigma_max": self.sigma_max,
            "sigma_max_dependent": self.sigma_max_dependent,
            "method": self.method,
            "numerical_uncertainty": self.numerical_uncertainty,
            "n_nodes": self.n_nodes,
            "truncation": priors.TRUNCATION,
        }
        if self.sigma_min is not None:
            doc["sigma_min"] = self.sigma_min
        if self.limit_at_check is not None:
            doc["limit_at_check"] = self.limit_at_check
        return doc


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
        sigma_min: Lower end of the log prior (``None`` for flat).
    """

    upper_limit: Array
    sigma_max_dependent: NDArray[np.bool_]
    limit_at_check: Array
    cl: float
    prior: str
    sigma_max: Array
    sigma_min: float | None


# ---------------------------------------------------------------- single-bin node kernels


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


def _flat_limit_nodes(
    n: Array, signal: Array, background: Array, weight: Array, cl: float, smax: Array
) -> Array:
    return _flat_limit_total(n, signal, background, weight, cl, smax)[0]


def _flat_limit_total(
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
        guess = _flat_limit_nodes(n, s_mean, b_mean, one, cl, smax)
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


def _log_limit_nodes(
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


def _log_bayes_factor_nodes(
    n: Array, signal: Array, background: Array, weight: Array, smax: Array
) -> Array:
    integral = (weight * _core.flat_integral(n[:, None], signal, background, smax[:, None])).sum(-1)
    with np.errstate(divide="ignore"):
        log_m0 = _core.log_density(n, signal, background, weight, np.zeros_like(smax))
        result: Array = np.log(integral) - np.log(smax) - log_m0
    return result


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


# ---------------------------------------------------------------- window sets


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
    for group in windows.nodes():
        for rows in _chunks(group):
            r = group.rows[rows]
            logbf = _log_bayes_factor_nodes(
                group.n[rows].astype(np.float64),
                group.signal[rows],
                group.background[rows],
                group.weight[rows],
                smax_all[r],
            )
            with np.errstate(over="ignore"):
                out[r] = np.exp(logbf)
    return out


def _sigma_max(windows: WindowSet, sigma_max: float | None) -> Array:
    if sigma_max is None:
        return windows.sigma_max.astype(np.float64)
    if not sigma_max > 0:
        raise InputError(None, "sigma_max", "a positive number", got=sigma_max)
    return np.full(len(windows), float(sigma_max))


def window_upper_limits(
    windows: WindowSet,
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float = 0.5,
    check_factor: float = 10.0,
    tolerance: float = 0.01,
    check: bool = True,
) -> WindowLimits:
    """Bayesian upper limits of every window.

    Args:
        windows: The window set.
        cl: Credibility level.
        prior: ``"flat"`` (default) or ``"log"`` (flat in ln sigma on [sigma_min, sigma_max]).
        sigma_max: Prior range (default: each workspace's POI upper bound).
        sigma_min: Lower end of the log prior.
        check_factor: The sigma_max-dependence check multiplies sigma_max by this (flat prior).
        tolerance: Flag limits that move by more than this fraction in that check.
        check: Run the sigma_max-dependence check (flat prior).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=5, signal=2.0, backgrounds={"b": 0.0})])
        >>> round(float(window_upper_limits(ws, cl=0.95).upper_limit[0] * 2.0), 2)  # PDG: 10.51
        10.51
    """
    if not 0 < cl < 1:
        raise InputError(None, "cl", "a credibility level in (0, 1)", got=cl)
    if prior not in ("flat", "log"):
        raise InputError(None, "prior", "flat or log", got=prior)
    smax_all = _sigma_max(windows, sigma_max)
    if prior == "log" and not (0 < sigma_min < smax_all.min()):
        raise InputError(None, "sigma_min", "0 < sigma_min < sigma_max", got=sigma_min)
    limit = np.full(len(windows), np.nan)
    at_check = np.full(len(windows), np.nan)
    for group in windows.nodes():
        chunks = _chunks(group) if prior == "flat" else _log_chunks(group)
        for rows in chunks:
            r = group.rows[rows]
            n = group.n[rows].astype(np.float64)
            s, b, w = group.signal[rows], group.background[rows], group.weight[rows]
            if prior == "flat":
                smax = smax_all[r]
                limit[r], total, edge = _flat_limit_total(n, s, b, w, cl, smax)
                if check:
                    at_check[r] = limit[r]
                    # the check is needed only where the posterior mass between sigma_max and
                    # factor * sigma_max can matter; for posteriors falling at least like
                    # 1/sigma that mass is <= m(sigma_max) sigma_max ln(factor)
                    edge = edge * smax
                    with np.errstate(divide="ignore", invalid="ignore"):
                        need = ~(edge * math.log(check_factor) < 1e-3 * tolerance * total)
                    if need.any():
                        k = np.flatnonzero(need)
                        at_check[r[k]] = _flat_limit_nodes(
                            n[k], s[k], b[k], w[k], cl, check_factor * smax[k]
                        )
            else:
                smin = np.full(r.size, float(sigma_min))
                limit[r] = _log_limit_nodes(n, s, b, w, cl, smin, smax_all[r])
    dependent = np.zeros(len(windows), dtype=bool)
    if prior == "flat" and check:
        with np.errstate(invalid="ignore"):
            dependent = np.abs(at_check / limit - 1.0) > tolerance
        if dependent.any():
            log.warning(
                "%d of %d flat-prior limits depend on sigma_max (move by > %.3g when sigma_max is "
                "multiplied by %g)",
                int(dependent.sum()),
                len(windows),
                tolerance,
                check_factor,
            )
    return WindowLimits(
        upper_limit=limit,
        sigma_max_dependent=dependent,
        limit_at_check=at_check,
        cl=cl,
        prior=prior,
        sigma_max=smax_all,
        sigma_min=float(sigma_min) if prior == "log" else None,
    )


# ---------------------------------------------------------------- generic workspaces


_PANELS = 160
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


def _log_marginal(nodes: GenericNodes, observed: Array, sigma: Array) -> Array:
    """``ln m(sigma)`` for a vector of sigma values (multi-bin generic models)."""
    out = np.empty(sigma.size)
    logw = np.log(np.where(nodes.weight > 0, nodes.weight, 1e-300))
    logw = np.where(nodes.weight > 0, logw, -np.inf)
    step = max(1, 2_000_000 // max(nodes.weight.size * observed.size, 1))
    for start in range(0, sigma.size, step):
        x = sigma[start : start + step]
        mu = nodes.background[None, :, :] + nodes.signal[None, :, :] * x[:, None, None]
        ll = _core.log_pmf(observed[None, None, :], mu).sum(-1) + logw[None, :]
        out[start : start + step] = special.logsumexp(ll, axis=1)
    return out


def _numeric_limit(
    nodes: GenericNodes,
    observed: Array,
    cl: float,
    prior: Prior,
    smin: float,
    smax: float,
) -> tuple[float, float]:
    """(limit, log of the flat marginal integral) by composite Gauss-Legendre over the support."""
    grid = np.concatenate([[0.0], smax * np.logspace(-9, 0, 200)])
    values = _log_marginal(nodes, observed, grid)
    peak = values.max()
    alive = np.flatnonzero(values >= peak - 50.0)
    top = grid[min(alive.max() + 1, grid.size - 1)]
    if prior == "flat":
        lo, hi = 0.0, top
    else:
        lo, hi = math.log(smin), math.log(max(top, smin * 1.000001))

    def integrand(x: Array) -> Array:
        sigma = x if prior == "flat" else np.exp(x)
        value: Array = np.exp(_log_marginal(nodes, observed, sigma) - peak)
        return value

    edges = np.linspace(lo, hi, _PANELS + 1)
    half = 0.5 * np.diff(edges)
    points = (edges[:-1, None] + half[:, None] * (_GL_X[None, :] + 1.0)).ravel()
    panel = (integrand(points).reshape(_PANELS, -1) * _GL_W[None, :]).sum(1) * half
    cumulative = np.concatenate([[0.0], np.cumsum(panel)])
    total = cumulative[-1]
    log_total = math.log(total) + peak if total > 0 else -math.inf
    if total <= 0:
        return math.nan, log_total
    target = cl * total
    i = int(np.clip(np.searchsorted(cumulative, target) - 1, 0, _PANELS - 1))

    def partial(x: float) -> float:
        h = 0.5 * (x - edges[i])
        pts = edges[i] + h * (_GL_X + 1.0)
        return float(cumulative[i] + h * (integrand(pts) * _GL_W).sum() - target)

    root = optimize.brentq(partial, edges[i], edges[i + 1], xtol=1e-14, rtol=1e-12)
    limit = root if prior == "flat" else math.exp(root)
    return float(limit), log_total


def _generic_limit(
    model: GenericModel,
    nodes: GenericNodes,
    cl: float,
    prior: Prior,
    smin: float,
    smax: float,
) -> float:
    if model.n_bins == 1:
        n = model.observed[:1].astype(np.float64)
        s, b, w = nodes.signal.T, nodes.background.T, nodes.weight[None, :]
        if prior == "flat":
            return float(_flat_limit_nodes(n, s, b, w, cl, np.array([smax]))[0])
        return float(_log_limit_nodes(n, s, b, w, cl, np.array([smin]), np.array([smax]))[0])
    return _numeric_limit(nodes, model.observed, cl, prior, smin, smax)[0]


def _model(workspace: GenericModel | dict[str, Any]) -> GenericModel:
    if isinstance(workspace, GenericModel):
        return workspace
    return GenericModel.from_spec(workspace)


def upper_limit(
    workspace: GenericModel | dict[str, Any],
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float = 0.5,
    settings: Settings | None = None,
) -> UpperLimit:
    """Bayesian upper limit on the POI of any pyhf workspace with one POI.

    Args:
        workspace: A workspace document (dict) or a prepared :class:`GenericModel`.
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"`` (flat in ln POI on [sigma_min, sigma_max]).
        sigma_max: Prior range (default: the POI's upper bound in the workspace).
        sigma_min: Lower end of the log prior.
        settings: Numerical settings (default: :class:`Settings`).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> result = upper_limit(window_spec(n=1, signal=1.0, backgrounds={"b": 0.0}))
        >>> round(result.upper_limit, 2), result.prior, result.sigma_max  # PDG: 3.89
        (3.89, 'flat', 100.0)
    """
    settings = settings or Settings()
    model = _model(workspace)
    if not 0 < cl < 1:
        raise InputError(model.source, "cl", "a credibility level in (0, 1)", got=cl)
    if prior not in ("flat", "log"):
        raise InputError(model.source, "prior", "flat or log", got=prior)
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    if not smax > 0:
        raise InputError(model.source, "sigma_max", "a positive number", got=smax)
    if prior == "log" and not 0 < sigma_min < smax:
        raise InputError(model.source, "sigma_min", "0 < sigma_min < sigma_max", got=sigma_min)
    nodes = model.nodes(settings)
    limit = _generic_limit(model, nodes, cl, prior, sigma_min, smax)
    uncertainty = 0.0
    if nodes.method == "monte-carlo":
        parts = [
            _generic_limit(model, part, cl, prior, sigma_min, smax) for part in nodes.batches()
        ]
        uncertainty = float(np.std(parts, ddof=1) / math.sqrt(len(parts)))
    at_check: float | None = None
    dependent = False
    if prior == "flat":
        at_check = _generic_limit(
            model, nodes, cl, prior, sigma_min, settings.sigma_max_check_factor * smax
        )
        dependent = bool(abs(at_check / limit - 1.0) > settings.sigma_max_tolerance)
        if dependent:
            log.warning(
                "%s: the flat-prior limit depends on sigma_max: %.6g at sigma_max = %g, %.6g at %g",
                model.source,
                limit,
                smax,
                at_check,
                settings.sigma_max_check_factor * smax,
            )
    return UpperLimit(
        upper_limit=float(limit),
        cl=cl,
        prior=prior,
        poi=model.poi,
        sigma_max=smax,
        sigma_min=float(sigma_min) if prior == "log" else None,
        sigma_max_dependent=dependent,
        limit_at_check=at_check,
        method=nodes.method,
        numerical_uncertainty=uncertainty,
        n_nodes=int(nodes.weight.size),
    )


def _generic_log_bayes_factor(model: GenericModel, nodes: GenericNodes, smax: float) -> float:
    if model.n_bins == 1:
        n = model.observed[:1].astype(np.float64)
        return float(
            _log_bayes_factor_nodes(
                n, nodes.signal.T, nodes.background.T, nodes.weight[None, :], np.array([smax])
            )[0]
        )
    _, log_total = _numeric_limit(nodes, model.observed, 0.5, "flat", 0.0, smax)
    log_m0 = float(_log_marginal(nodes, model.observed, np.zeros(1))[0])
    return log_total - math.log(smax) - log_m0


def bayes_factor(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    settings: Settings | None = None,
) -> tuple[float, float]:
    """Bayes factor B10 of any workspace (flat POI prior on [0, sigma_max]).

    Returns:
        ``(B10, numerical uncertainty)`` (the uncertainty is 0 for quadrature).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> bf, err = bayes_factor(window_spec(n=0, signal=1.0, backgrounds={"b": 1.0}))
        >>> round(bf, 6), err  # (1 - e^-100) / 100
        (0.01, 0.0)
    """
    settings = settings or Settings()
    model = _model(workspace)
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    nodes = model.nodes(settings)
    value = _generic_log_bayes_factor(model, nodes, smax)
    uncertainty = 0.0
    if nodes.method == "monte-carlo":
        parts = [math.exp(_generic_log_bayes_factor(model, p, smax)) for p in nodes.batches()]
        uncertainty = float(np.std(parts, ddof=1) / math.sqrt(len(parts)))
    return (math.exp(value) if value < 700 else math.inf), uncertainty
