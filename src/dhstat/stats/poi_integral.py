"""POI integrals over importance-sampling draws: one likelihood table, every batch.

For draws k with weights w_k and per-bin S, B, the marginal likelihood of the POI is
``m(sigma) = sum_k w_k prod_i Pois(n_i | B_ki + sigma S_ki)``. :class:`Curve` tabulates
``ln Pois + ln w`` once at the nodes of composite Gauss-Legendre panels over the posterior's support
(in sigma for the flat prior, in ln sigma for the log prior), so the limit and the integral of any
subset of the draws (the independent batches that give the numerical uncertainty) cost one
``logsumexp`` each. Within the panel holding a quantile, the integrand is the degree-7 polynomial
through its 8 nodes (exact Legendre coefficients from the Gauss rule), integrated in closed form.

Example:
    >>> s, b = np.ones((1, 1)), np.zeros((1, 1))
    >>> curve = Curve.build(s, b, np.zeros(1), np.array([0.0]), (0.0, 40.0), (0.0, 40.0),
    ...                     batch=np.zeros(1, dtype=np.int64), log=False)
    >>> round(curve.limit(0.9), 6)  # n = 0, b = 0: ln 10
    2.302585
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from dhstat.errors import InputError
from dhstat.stats import _core
from dhstat.stats.generic import GenericNodes
from dhstat.stats.single_bin import Prior

__all__ = ["Curve", "Support", "closed_form_usable", "log_marginal", "numeric_limit", "support"]

Array = NDArray[np.float64]

_ORDER = 8
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_ORDER)
#: Legendre polynomials at the Gauss nodes, (degree, node): the interpolation coefficients of
#: values f at the nodes are ``(2 l + 1) / 2 * sum_j w_j f_j P_l(x_j)`` (exact to degree 7).
_P = np.polynomial.legendre.legvander(_GL_X, _ORDER - 1).T
_PROJECT = (2 * np.arange(_ORDER)[:, None] + 1) / 2 * _P * _GL_W[None, :]
_CURVE_PANELS = 16
_CURVE_TAIL = 4


def __dir__() -> list[str]:
    return __all__


def _log_like(signal: Array, background: Array, observed: Array, sigma: Array) -> Array:
    """``sum_i [n_i ln(B_i + sigma S_i) - (B_i + sigma S_i)]``, shape (points, draws)."""
    total_s = signal.sum(axis=1)
    total_b = background.sum(axis=1)
    out = -(total_b[None, :] + sigma[:, None] * total_s[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in np.flatnonzero(observed > 0):
            mu = background[None, :, i] + sigma[:, None] * signal[None, :, i]
            out += observed[i] * np.log(mu)
    result: Array = np.where(np.isnan(out), -np.inf, out)
    return result


@dataclass(frozen=True, slots=True)
class Curve:
    """The marginal likelihood of every batch of draws at the panel nodes of the POI integral.

    Attributes:
        edges: Panel ends in the integration variable, shape (panels + 1,).
        scale: ``ln`` of the largest term at each node, shape (panels * 8,).
        sums: Per batch, the sum of ``Pois x w / exp(scale)`` over its draws, (panels * 8, batches).
        zero: Per batch, ``ln m(0)`` of its draws, shape (batches,).
        log: Whether the variable is ln sigma (log prior).
    """

    edges: Array
    scale: Array
    sums: Array
    zero: Array
    log: bool

    @classmethod
    def build(
        cls,
        signal: Array,
        background: Array,
        log_weight: Array,
        observed: Array,
        bulk: tuple[float, float],
        span: tuple[float, float],
        *,
        batch: NDArray[np.int64],
        log: bool,
        panels: int = _CURVE_PANELS,
    ) -> Curve:
        """Tabulate over ``span`` (``panels`` panels over the ``bulk``, a few over the rest)."""

        def x(value: float) -> float:
            return math.log(value) if log else value

        parts = [np.linspace(x(bulk[0]), x(bulk[1]), panels + 1)]
        if span[0] < bulk[0]:
            parts.append(np.linspace(x(span[0]), x(bulk[0]), _CURVE_TAIL + 1))
        if span[1] > bulk[1]:
            parts.append(np.linspace(x(bulk[1]), x(span[1]), _CURVE_TAIL + 1))
        edges = np.unique(np.concatenate(parts))
        half = 0.5 * np.diff(edges)
        points = (edges[:-1, None] + half[:, None] * (_GL_X[None, :] + 1.0)).ravel()
        sigma = np.exp(points) if log else points
        onehot = np.zeros((batch.size, int(batch.max()) + 1))
        onehot[np.arange(batch.size), batch] = 1.0
        table = _log_like(signal, background, observed, sigma) + log_weight[None, :]
        scale = table.max(axis=1)
        scale = np.where(np.isfinite(scale), scale, 0.0)
        sums = np.exp(table - scale[:, None]) @ onehot
        zero_terms = _log_like(signal, background, observed, np.zeros(1))[0] + log_weight
        top = float(zero_terms.max()) if np.isfinite(zero_terms.max()) else 0.0
        with np.errstate(divide="ignore"):
            zero = np.log(np.exp(zero_terms - top) @ onehot) + top
        return cls(edges, scale, sums, zero, log)

    def _values(self, batches: list[int] | None) -> tuple[Array, float]:
        """The integrand at the nodes, scaled by its maximum, per panel (panels, 8), and ln scale."""
        part = self.sums if batches is None else self.sums[:, batches]
        with np.errstate(divide="ignore"):
            log_m = np.log(part.sum(axis=1)) + self.scale
        peak = float(log_m.max())
        if not math.isfinite(peak):  # these draws give m = 0 everywhere (an empty batch)
            return np.zeros((log_m.size // _ORDER, _ORDER)), -math.inf
        values = np.exp(log_m - peak).reshape(-1, _ORDER)
        return values, peak

    @property
    def batches(self) -> int:
        """Number of batches."""
        return int(self.sums.shape[1])

    def log_integral(self, batches: list[int] | None = None) -> float:
        """``ln`` of the integral of m over the tabulated range (all draws, or those batches)."""
        values, peak = self._values(batches)
        half = 0.5 * np.diff(self.edges)
        total = float(((values * _GL_W[None, :]).sum(axis=1) * half).sum())
        return math.log(total) + peak if total > 0 else -math.inf

    def log_m0(self, batches: list[int] | None = None) -> float:
        """``ln m(0)`` (all draws, or those batches)."""
        zero = self.zero if batches is None else self.zero[batches]
        return float(special.logsumexp(zero))

    def limit(self, cl: float, batches: list[int] | None = None) -> float:
        """The ``cl`` quantile of the POI posterior (all draws, or those batches)."""
        values, _ = self._values(batches)
        half = 0.5 * np.diff(self.edges)
        panel = (values * _GL_W[None, :]).sum(axis=1) * half
        cumulative = np.concatenate([[0.0], np.cumsum(panel)])
        if not cumulative[-1] > 0:
            return math.nan
        target = cl * cumulative[-1]
        i = int(np.clip(np.searchsorted(cumulative, target) - 1, 0, panel.size - 1))
        coefficients = _PROJECT @ values[i]
        antiderivative = np.polynomial.legendre.legint(coefficients, lbnd=-1.0)

        def partial(u: float) -> float:
            value = np.polynomial.legendre.legval(u, antiderivative) * half[i]
            return float(cumulative[i] + value - target)

        u = 1.0 if partial(1.0) <= 0 else optimize.brentq(partial, -1.0, 1.0, xtol=1e-14)
        root = self.edges[i] + half[i] * (u + 1.0)
        return float(math.exp(root) if self.log else root)


#: Gauss-Legendre panels over the posterior's bulk, and over each stretch of the support beyond it.
_PANELS = 96
_TAIL_PANELS = 16
#: The support of the POI integrals: where ``ln m`` is within this of its maximum (e^-40 = 4e-18).
_DROP = 40.0
#: Points per decade of the grid that locates the posterior, and the grid's largest size.
_PER_DECADE = 12
_MAX_GRID = 4000
#: Below this integral of m the closed forms of :mod:`~dhstat.stats.single_bin` lose precision
#: (m underflows in linear space): the one-bin path then integrates in log space as well.
_TINY = 1e-250


def log_marginal(nodes: GenericNodes, observed: Array, sigma: Array) -> Array:
    """``ln m(sigma)`` for a vector of sigma values (multi-bin generic models)."""
    out = np.empty(sigma.size)
    logw = nodes.log_weights()
    step = max(1, 2_000_000 // max(nodes.weight.size * observed.size, 1))
    for start in range(0, sigma.size, step):
        x = sigma[start : start + step]
        with np.errstate(over="ignore"):  # rates beyond the float range: likelihood 0
            mu = nodes.background[None, :, :] + nodes.signal[None, :, :] * x[:, None, None]
        ll = _core.log_pmf(observed[None, None, :], mu).sum(-1) + logw[None, :]
        out[start : start + step] = special.logsumexp(ll, axis=1)
    return out


def _grid(nodes: GenericNodes, low: float, high: float) -> Array:
    """Points of [low, high] that locate the posterior: ``low``, then geometric up to ``high``.

    The geometric part starts below the smallest POI at which the signal changes any count by
    1e-3 (and below ``1e-9 high``), so a posterior far narrower than the prior range is found.
    """
    s_total = float(nodes.signal.sum(-1).max()) if nodes.signal.size else 0.0
    start = high * 1e-9
    if s_total > 0:
        start = min(start, 1e-3 / s_total)
    start = max(start, low)
    if not start < high:
        return np.array([low, high])
    # the logarithms separately: high / start overflows near the float range's ends
    count = math.ceil(_PER_DECADE * (math.log10(high) - math.log10(start))) + 1
    points = np.geomspace(start, high, min(max(count, 50), _MAX_GRID))
    return np.unique(np.concatenate([[low], points, [high]]))


@dataclass(frozen=True, slots=True)
class Support:
    """Where the POI integrand matters: the bulk around the mode, and the whole support.

    Attributes:
        bulk: (low, high) around the mode where ``ln m`` is within :data:`_DROP` of ``peak``.
        span: (low, high) also holding every other part that matters (further modes, long tails).
        peak: The maximum of ``ln m`` on the range.
    """

    bulk: tuple[float, float]
    span: tuple[float, float]
    peak: float


def support(
    nodes: GenericNodes, observed: Array, low: float, high: float, log: bool, source: str
) -> Support:
    """Locate the posterior on [low, high]: grid, refined mode, flanks found by root finding."""

    def f(x: float) -> float:
        return float(log_marginal(nodes, observed, np.array([x]))[0])

    grid = _grid(nodes, low, high)
    values = log_marginal(nodes, observed, grid)
    i = int(np.argmax(values))
    mode, peak = float(grid[i]), float(values[i])
    if not math.isfinite(peak):  # e.g. counts in a bin where nothing is expected
        expected = f"counts the model can give for some POI in [{low:g}, {high:g}] (likelihood 0)"
        raise InputError(source, "observations", expected)
    a, b = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, grid.size - 1)])
    if b > a:
        found = optimize.minimize_scalar(
            lambda x: -f(x), bounds=(a, b), method="bounded", options={"xatol": 1e-13 * b}
        )
        if -float(found.fun) > peak:
            mode, peak = float(found.x), -float(found.fun)
    level = peak - _DROP
    below = values < level
    left = np.flatnonzero(below & (grid < mode))
    right = np.flatnonzero(below & (grid > mode))
    lo, hi = low, high
    if left.size:
        j = int(left.max())
        inner = min(float(grid[j + 1]), mode)
        lo = optimize.brentq(lambda x: f(x) - level, float(grid[j]), inner, xtol=1e-14 * inner)
    if right.size:
        j = int(right.min())
        inner = max(float(grid[j - 1]), mode)
        hi = optimize.brentq(lambda x: f(x) - level, inner, float(grid[j]), rtol=1e-13)
    # other parts that matter: further modes, and tails whose width makes up for their height
    mass = values + np.log(np.gradient(np.log(grid) if log else grid))
    width = (math.log(hi / lo) if log else hi - lo) or 1.0
    keep = np.flatnonzero(~below | (mass >= peak + math.log(width) - _DROP))
    if not keep.size:  # a mode far narrower than the grid's spacing: the bulk is all
        return Support(bulk=(lo, hi), span=(lo, hi), peak=peak)
    span_lo = min(lo, float(grid[max(int(keep.min()) - 1, 0)]))
    span_hi = max(hi, float(grid[min(int(keep.max()) + 1, grid.size - 1)]))
    return Support(bulk=(lo, hi), span=(span_lo, span_hi), peak=peak)


def _edges(support: Support, log: bool) -> Array:
    """Panel ends in the integration variable (sigma, or ln sigma for the log prior)."""

    def x(value: float) -> float:
        return math.log(value) if log else value

    (lo, hi), (span_lo, span_hi) = support.bulk, support.span
    parts = [np.linspace(x(lo), x(hi), _PANELS + 1)]
    if span_lo < lo:
        parts.append(np.linspace(x(span_lo), x(lo), _TAIL_PANELS + 1))
    if span_hi > hi:
        parts.append(np.linspace(x(hi), x(span_hi), _TAIL_PANELS + 1))
    return np.unique(np.concatenate(parts))


def numeric_limit(
    nodes: GenericNodes,
    observed: Array,
    cl: float,
    prior: Prior,
    smin: float,
    smax: float,
    source: str,
) -> tuple[float, float]:
    """(limit, ln of the marginal integral over the prior range), in log space throughout.

    Composite Gauss-Legendre over the posterior's support (:func:`support`), the integrand scaled
    by its maximum, so any count that passes :func:`dhstat.stats.generic.check_spec` works.
    """
    log = prior == "log"
    found = support(nodes, observed, smin if log else 0.0, smax, log, source)
    peak = found.peak

    def integrand(x: Array) -> Array:
        sigma = np.exp(x) if log else x
        value: Array = np.exp(log_marginal(nodes, observed, sigma) - peak)
        return value

    edges = _edges(found, log)
    count = edges.size - 1
    half = 0.5 * np.diff(edges)
    points = (edges[:-1, None] + half[:, None] * (_GL_X[None, :] + 1.0)).ravel()
    panel = (integrand(points).reshape(count, -1) * _GL_W[None, :]).sum(1) * half
    cumulative = np.concatenate([[0.0], np.cumsum(panel)])
    total = cumulative[-1]
    if not total > 0:
        return math.nan, -math.inf
    log_total = math.log(total) + peak
    target = cl * total
    i = int(np.clip(np.searchsorted(cumulative, target) - 1, 0, count - 1))

    def partial(x: float) -> float:
        h = 0.5 * (x - edges[i])
        pts = edges[i] + h * (_GL_X + 1.0)
        return float(cumulative[i] + h * (integrand(pts) * _GL_W).sum() - target)

    root = optimize.brentq(partial, edges[i], edges[i + 1], xtol=1e-14, rtol=1e-12)
    limit = math.exp(root) if log else root
    return float(limit), log_total


def closed_form_usable(n: Array, s: Array, b: Array, w: Array, smax: float) -> bool:
    """Whether the one-bin closed forms keep their precision: m does not underflow."""
    total = float((w * _core.flat_integral(n[:, None], s, b, np.array([[smax]]))).sum())
    return math.isfinite(total) and total > _TINY
