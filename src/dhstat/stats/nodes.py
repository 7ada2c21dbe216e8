"""Quadrature nodes of the nuisance prior of single-bin window models (the window path's planning).

The histosys parameters act on (S, G, H) linearly, so their joint effect is one Gaussian vector with
covariance ``D^T D`` (at most 3 coordinates instead of one per parameter); :func:`window_nodes`
integrates over it with a Cholesky factor of the covariance of (S, T = G + H, G), ordered so that
the zero-truncations S >= 0 and B >= 0 are bounds on coordinates (:func:`_loadings`), and over the
staterror gamma with a truncated rule. Rules per coordinate (the order or size follows from the
quadrature tolerance and the coordinate's scale t, its prior width against the scale on which the
Poisson terms vary):

* untruncated: Gauss-Hermite (t <= 0.7), else the trapezoidal rule;
* truncated: the Gauss rule of the truncated normal while the integrand is wider than the prior,
  else composite Gauss-Legendre panels on [bound, L] (:func:`panel_rule`);
* the coordinate that carries S >= 0, for posterior integrals: panels graded geometrically
  towards the bound (the signal integral has a kink at S ~ 1 / sigma next to it).

Validated against adaptive integration (``tests/stats/test_quadrature_accuracy.py``): |dZ| < 1e-4
and limits within 1e-4 for backgrounds 0.01-1000 events and relative uncertainties 0-100 %. A
truncation in a direction that is not a coordinate axis (S and T both truncated and correlated by
more than :data:`_TILT`, or a staterror on part of a background whose other part is truncated) is
applied as an indicator on the nodes: exact when its prior mass is negligible (all realistic
windows), approximate otherwise (e.g. 50 % correlated uncertainties).

The model itself (:class:`dhstat.stats.model.WindowSet`) is described in :mod:`dhstat.stats.model`;
this module reads only its arrays (:class:`WindowArrays`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats import priors

__all__ = ["NodeSet", "Purpose", "WindowArrays", "panel_rule", "window_nodes"]


def __dir__() -> list[str]:
    return __all__


Purpose = Literal["posterior", "pvalue"]

_GH, _TRUNCATED, _TRAPEZOID, _PANELS = 0, 1, 2, 3
#: panel width (in prior sd) times the integrand's scale t: the panels resolve its variation
_PANEL_RESOLUTION = 2.0
#: the widest panel (prior sd): the normal density itself is resolved
_PANEL_MAX_WIDTH = 1.5
_PANEL_COUNTS = (2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64, 96, 128, 192, 256)
#: geometric grading of the panels towards a truncation bound: ratio and deepest level
_GRADING_RATIO = 0.2
_MAX_GRADING = 8


class WindowArrays(Protocol):
    """The arrays of a window set that the node planning reads (a :class:`~.model.WindowSet`)."""

    @property
    def n(self) -> NDArray[np.int64]:
        """Observed counts, shape (W,)."""

    @property
    def signal(self) -> NDArray[np.float64]:
        """Nominal signal yield per unit POI s0, shape (W,)."""

    @property
    def stat_background(self) -> NDArray[np.float64]:
        """Nominal background of the samples with the staterror g0, shape (W,)."""

    @property
    def other_background(self) -> NDArray[np.float64]:
        """Nominal background of the other samples h0, shape (W,)."""

    @property
    def shifts(self) -> NDArray[np.float64]:
        """Additive +1 sd shifts of (S, G, H) per histosys parameter, (W, P, 3)."""

    @property
    def stat_width(self) -> NDArray[np.float64]:
        """Relative width delta of the staterror gamma (0: none), shape (W,)."""

    @property
    def sigma_max(self) -> NDArray[np.float64]:
        """Upper bound of the POI per window, shape (W,)."""

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class NodeSet:
    """Quadrature nodes of the nuisance-parameter prior for a group of single-bin models.

    Attributes:
        rows: Index of each model (window) in its WindowSet, shape (m,).
        n: Observed count per model, shape (m,).
        signal: Signal yield per unit POI at each node, shape (m, k).
        background: Total background at each node, shape (m, k).
        weight: Normalised prior weight of each node (zero outside the allowed region), (m, k).
    """

    rows: NDArray[np.int64]
    n: NDArray[np.int64]
    signal: NDArray[np.float64]
    background: NDArray[np.float64]
    weight: NDArray[np.float64]


def _cholesky3(cov: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower Cholesky factors of PSD 3x3 matrices (W, 3, 3), tolerant of singular ones."""
    low = np.zeros_like(cov)
    c = cov
    l11 = np.sqrt(np.maximum(c[:, 0, 0], 0.0))
    safe1 = np.where(l11 > 0, l11, 1.0)
    l21 = np.where(l11 > 0, c[:, 1, 0] / safe1, 0.0)
    l31 = np.where(l11 > 0, c[:, 2, 0] / safe1, 0.0)
    l22 = np.sqrt(np.maximum(c[:, 1, 1] - l21**2, 0.0))
    safe2 = np.where(l22 > 0, l22, 1.0)
    l32 = np.where(
        l22 > 1e-12 * np.sqrt(np.maximum(c[:, 1, 1], 1e-300)), (c[:, 2, 1] - l21 * l31) / safe2, 0.0
    )
    l33 = np.sqrt(np.maximum(c[:, 2, 2] - l31**2 - l32**2, 0.0))
    low[:, 0, 0], low[:, 1, 0], low[:, 2, 0] = l11, l21, l31
    low[:, 1, 1], low[:, 2, 1], low[:, 2, 2] = l22, l32, l33
    return low


#: (S, G, H) -> (S, T, G) with T = G + H, the total background at gamma = 1
_TO_STG = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
_FROM_STG = np.linalg.inv(_TO_STG)
#: orders of (S, T, G) in the Cholesky factorisation: signal first, background first, both cut
_SIGNAL_FIRST, _BACKGROUND_FIRST, _BOTH = (0, 1, 2), (1, 2, 0), (1, 0, 2)
#: the second coordinate gets the bound of its own variable when the first one moves that
#: variable by less than this fraction of its own loading per unit z (the truncation is then
#: on an axis up to this relative tilt; the indicator on the nodes corrects the rest)
_TILT = 0.01


def _bound(mean: NDArray[np.float64], sd: NDArray[np.float64]) -> NDArray[np.float64]:
    """The lower bound ``-mean / sd`` of z where ``mean + sd z >= 0`` (-inf for sd = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: NDArray[np.float64] = np.where(sd > 0, -mean / np.where(sd > 0, sd, 1.0), -np.inf)
    return out


def _loadings(
    windows: WindowArrays,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Loadings A (W, 3, 3), the lower bounds of z (W, 3) and the coordinate with S's bound (W,).

    ``(S, G, H) shifts = A z``; the third array is -1 where no coordinate carries S's bound.

    The coordinates are a Cholesky factorisation of the covariance of (S, T, G), T = G + H the
    total background at gamma = 1, so that the zero-truncations S >= 0 and B >= 0 are bounds on
    coordinates (handled exactly by truncated rules) rather than indicators on the nodes:

    * only S has truncation mass above :data:`priors.NEGLIGIBLE_TRUNCATION`: order (S, T, G);
    * T (or neither): order (T, G, S), the coordinate with the largest effect first;
    * both: order (T, S, G); the S bound is exact when S and T are uncorrelated and within the
      tilt :data:`_TILT` otherwise (the indicator on the nodes keeps the region exact).

    ``B = gamma G + H >= 0`` is ``T >= 0`` when the background carries no staterror gamma, or
    when G or H is identically zero (gamma >= 0): only then is T's truncation a bound.
    """
    cov = np.einsum("wpi,wpj->wij", windows.shifts, windows.shifts)
    cov_u = np.einsum("ai,wij,bj->wab", _TO_STG, cov, _TO_STG)
    sd = np.sqrt(np.maximum(np.diagonal(cov_u, axis1=1, axis2=2), 0.0))
    total = windows.stat_background + windows.other_background
    bound_s = _bound(windows.signal, sd[:, 0])
    sd_h = np.sqrt(np.maximum(cov[:, 2, 2], 0.0))
    linear = (
        (windows.stat_width <= 0)
        | ((windows.stat_background == 0) & (sd[:, 2] == 0))
        | ((windows.other_background == 0) & (sd_h == 0))
    )
    bound_t = np.where(linear, _bound(total, sd[:, 1]), -np.inf)
    cut_s, cut_t = bound_s > priors._LOWER_GH, bound_t > priors._LOWER_GH
    perm = np.where(
        (cut_s & ~cut_t)[:, None],
        np.array(_SIGNAL_FIRST),
        np.where((cut_s & cut_t)[:, None], np.array(_BOTH), np.array(_BACKGROUND_FIRST)),
    )
    count = len(windows)
    index = np.arange(count)
    permuted = cov_u[index[:, None, None], perm[:, :, None], perm[:, None, :]]
    low = _cholesky3(permuted)
    loadings_u = np.zeros_like(low)
    loadings_u[index[:, None], perm, :] = low
    loadings = np.einsum("ia,wab->wib", _FROM_STG, loadings_u)
    lower = np.full((count, 3), -np.inf)
    lower[:, 0] = np.where(cut_s & ~cut_t, bound_s, np.where(cut_t, bound_t, -np.inf))
    second = _bound(windows.signal, low[:, 1, 1])
    on_axis = np.abs(low[:, 1, 0]) <= _TILT * low[:, 1, 1]
    lower[:, 1] = np.where(cut_s & cut_t & on_axis, second, -np.inf)
    s_axis = np.where(cut_s & ~cut_t, 0, np.where(cut_s & cut_t & on_axis, 1, -1))
    return loadings, lower, s_axis.astype(np.int64)


def _scales(
    windows: WindowArrays, loadings: NDArray[np.float64], purpose: Purpose
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Scales (t, t_order, width) of the coordinates (z1, z2, z3, gamma), three (W, 4) arrays.

    t is a coordinate's prior width against the scale on which the integrand varies (it picks the
    rule), t_order >= t the scale that sets the order of a Gauss rule (it adds the polynomial
    growth ``B^n`` of the Poisson terms at backgrounds far below n, which a Gauss rule integrates
    exactly from order (n + 1) / 2 on), and width the integrand's width at its peak.
    """
    s0, g0, h0 = windows.signal, windows.stat_background, windows.other_background
    b0 = g0 + h0
    n = windows.n.astype(np.float64)
    n_ref = n if purpose == "posterior" else np.maximum(n, np.ceil(b0 + 6.0 * np.sqrt(b0) + 6.0))
    # background: curvature scale of ln Pois(n; B) at B = b0, and its slope
    curvature = np.sqrt(n_ref + 1.0) / (b0 + 1.0)
    slope = np.abs(n_ref - b0) / (b0 + 1.0)
    d_s = np.abs(loadings[:, 0, :])
    d_b = np.abs(loadings[:, 1, :] + loadings[:, 2, :])
    g_shift = windows.stat_width * g0
    d_b = np.concatenate([d_b, g_shift[:, None]], axis=1)
    t = np.sqrt((d_b * curvature[:, None]) ** 2 + (0.3 * d_b * slope[:, None]) ** 2)
    # the polynomial growth: ln B^n changes by n d / (b0 + d) over a prior width d
    sd_b = np.sqrt((d_b**2).sum(axis=1))
    poly = np.abs(n_ref - b0) / np.maximum(b0 + sd_b, 1e-300)
    t_order = np.maximum(t, 0.3 * d_b * poly[:, None])
    # the trapezoidal rule's error depends on the width of the integrand, not on where it peaks:
    # the curvature scale at the peak (B near n; at b0 when n > b0, which is wider)
    at_peak = np.sqrt(n_ref + 1.0) / (np.minimum(n_ref, b0) + 1.0)
    width = d_b * at_peak[:, None]
    if purpose == "posterior":
        # signal: S enters through sigma * S; posterior quantities vary like the limit, ~ 1 / S
        events = np.maximum(n - b0, 0.0) + 1.5 * np.sqrt(n + 1.0) + 1.5
        lever = np.maximum(2.0, events / np.sqrt(n + 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_s = np.where(s0[:, None] > 0, d_s / np.where(s0 > 0, s0, 1.0)[:, None], np.inf)
        signal_term = np.where(d_s > 0, t_s * lever[:, None], 0.0)
        signal_term = np.concatenate([signal_term, np.zeros((len(n), 1))], axis=1)
        t, t_order, width = t + signal_term, t_order + signal_term, width + signal_term
    return t, t_order, width


def _plan(
    windows: WindowArrays,
    loadings: NDArray[np.float64],
    lower: NDArray[np.float64],
    s_axis: NDArray[np.int64],
    purpose: Purpose,
    tolerance: float,
    max_order: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rule kind and size of each coordinate (z1, z2, z3, gamma) per window, two (W, 4) arrays.

    Untruncated coordinates: a Gauss-Hermite rule (t <= 0.7) or the trapezoidal rule. Truncated
    ones: the Gauss rule of the truncated normal while the integrand is wider than the prior
    (``width <= 0.7``), Gauss-Legendre panels (:func:`panel_rule`) otherwise.
    """
    t, t_order, width = _scales(windows, loadings, purpose)
    delta = windows.stat_width
    bounds = np.concatenate(
        [lower, np.where(delta > 0, -1.0 / np.where(delta > 0, delta, 1.0), -np.inf)[:, None]], 1
    )
    d_s = np.abs(loadings[:, 0, :])
    d_b = np.abs(loadings[:, 1, :] + loadings[:, 2, :])
    active = np.concatenate([(d_s + d_b) > 0, (delta > 0)[:, None]], axis=1)
    half = math.sqrt(2.0 * math.log(1.0 / tolerance)) + 1.0
    truncated = bounds > priors._LOWER_GH
    trapezoid = (t > priors.TRAPEZOID_SCALE) & (bounds <= -half)
    # a truncated prior much wider than the integrand: Gauss-Legendre panels (a Gauss rule of the
    # truncated normal cannot resolve it; the trapezoidal rule is not accurate at a bound)
    panels = (width > priors.TRAPEZOID_SCALE) & (bounds > -half)
    kind = np.where(
        trapezoid, _TRAPEZOID, np.where(panels, _PANELS, np.where(truncated, _TRUNCATED, _GH))
    )
    finite_width = np.where(np.isfinite(width), width, 1e3)
    size = np.where(
        trapezoid,
        priors.trapezoid_size(finite_width, tolerance),
        np.where(
            panels,
            _panel_order(tolerance) * _panel_count(np.maximum(bounds, -half), half, finite_width),
            priors.order_for(t_order, tolerance, max_order),
        ),
    )
    if purpose == "posterior":
        gauss = ~trapezoid & ~panels
        size = np.where(
            gauss, np.maximum(size, _pole_order(windows, loadings, tolerance, max_order)), size
        )
        grading = _signal_grading(windows, loadings, bounds, s_axis, tolerance)
        kind = np.where(grading > 0, _PANELS + grading, kind)
        count = _panel_count(np.maximum(bounds, -half), half, finite_width)
        size = np.where(grading > 0, _panel_order(tolerance) * (count + grading), size)
    kind = np.where(active, kind, _GH)
    size = np.where(active, size, 1)
    return kind.astype(np.int64), size.astype(np.int64)


def _pole_order(
    windows: WindowArrays, loadings: NDArray[np.float64], tolerance: float, max_order: int
) -> NDArray[np.int64]:
    """Gauss orders (W, 4) for the pole of posterior integrals at S = 0, per coordinate.

    Posterior integrals contain ``int_0^x Pois(n | B + S u) du``, which falls like 1 / S once
    ``S x`` exceeds the count: a pole at S = 0, ``d = s0 / |A_Sc|`` prior sd away along
    coordinate c. A Gauss rule of order n integrates ``1 / (1 + z / d)`` against the normal with
    an error of about ``(2 n / (e d^2))^n`` (the first omitted terms of its series against the
    normal moments), smallest near ``n = d^2 / 2`` at about ``exp(-d^2 / 2)``: where that exceeds
    the tolerance the signal coordinate gets graded panels instead (:func:`_signal_grading`).
    The order is the smallest n with that error below the tolerance (capped); the estimate is
    within a factor 4 of the limits' measured errors at 17 % signal uncertainty (d = 5.9).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=5, signal=1.0, backgrounds={"b": 5.0},
        ...                                        signal_shifts={"eff": 0.17})])
        >>> _pole_order(ws, _loadings(ws)[0], 1e-7, 24)[0].tolist()
        [12, 1, 1, 1]
    """
    shift = np.abs(loadings[:, 0, :])
    with np.errstate(divide="ignore"):
        d2 = np.where(
            shift > 0, (windows.signal[:, None] / np.where(shift > 0, shift, 1.0)) ** 2, np.inf
        )
    n = np.arange(1, max_order + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        error = n * np.log(2.0 * n / (math.e * d2[..., None]))
    enough = error <= math.log(tolerance)
    order = np.where(enough.any(-1), enough.argmax(-1) + 1, max_order)
    return np.concatenate([order, np.ones((order.shape[0], 1), dtype=order.dtype)], axis=1)


def _signal_grading(
    windows: WindowArrays,
    loadings: NDArray[np.float64],
    bounds: NDArray[np.float64],
    s_axis: NDArray[np.int64],
    tolerance: float,
) -> NDArray[np.int64]:
    """Grading levels (W, 4) of the coordinate that carries the bound S >= 0 (0 elsewhere).

    Posterior integrals over the signal yield S contain ``int_0^x Pois(n | B + S u) du``, which
    turns from ``x Pois(n; B)`` into ``~1 / S`` at ``S ~ (n + 1) / x``: with x up to the
    sigma_max check point ``10 sigma_max``, a kink down to ``S* = 1 / (10 sigma_max)`` next to
    the bound. The panels are graded geometrically from the first panel's width down to S*.
    Only where the prior density at the bound, ``phi(bound)``, exceeds the tolerance: below it
    the kink's share of the integral is negligible and the truncated Gauss rule stays.
    """
    rows = np.flatnonzero(s_axis >= 0)
    axis = s_axis[rows]
    dense = np.exp(-0.5 * bounds[rows, axis] ** 2) / math.sqrt(2.0 * math.pi) > tolerance
    rows, axis = rows[dense], axis[dense]
    sd = np.maximum(np.abs(loadings[rows, 0, axis]), 1e-300)
    half = math.sqrt(2.0 * math.log(1.0 / tolerance)) + 1.0
    step = (half - np.maximum(bounds[rows, axis], -half)) / 2.0
    kink = 1.0 / (10.0 * np.maximum(windows.sigma_max[rows], 1e-300)) / sd
    levels = np.ceil(np.log(np.maximum(step / kink, 1.0)) / -math.log(_GRADING_RATIO))
    out = np.zeros(bounds.shape, dtype=np.int64)
    out[rows, axis] = np.clip(levels, 1, _MAX_GRADING).astype(np.int64)
    return out


def _panel_count(
    low: NDArray[np.float64], high: float, scale: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Number of panels on [low, high] for an integrand of scale t (rounded up to a fixed set)."""
    width = np.minimum(_PANEL_MAX_WIDTH, _PANEL_RESOLUTION / np.maximum(scale, 1e-300))
    need = np.ceil((high - low) / width)
    counts = np.asarray(_PANEL_COUNTS)
    index = np.minimum(np.searchsorted(counts, need), counts.size - 1)
    result: NDArray[np.int64] = counts[index].astype(np.int64)
    return result


def _panel_order(tolerance: float) -> int:
    """Gauss-Legendre order of each panel of :func:`panel_rule`: ``4 + ceil(log10(1 / tolerance))``.

    The panels are :data:`_PANEL_RESOLUTION` integrand scales wide; calibrated on the limits of
    ``tests/stats/test_quadrature_accuracy.py`` (truncated priors 20-100 % wide): 8 points err by
    up to 5e-6, 10 by 1e-7, 12 by 5e-9.

    Example:
        >>> _panel_order(1e-7), _panel_order(1e-8)
        (11, 12)
    """
    return 4 + math.ceil(math.log10(1.0 / tolerance) - 1e-9)


def panel_rule(
    panels: int, bounds: NDArray[np.float64], tolerance: float, grading: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Composite Gauss-Legendre rule of the standard normal on ``[max(bound, -L), L]`` per row.

    ``L = sqrt(2 ln(1/tolerance)) + 1`` as for the trapezoidal rule. ``panels`` equal panels of
    :func:`_panel_order` nodes each; with ``grading = J > 0`` the first panel is split
    geometrically towards the bound into ``J + 1`` panels of widths shrinking by
    :data:`_GRADING_RATIO` (for integrands that vary fast next to the bound). The weights are
    ``w_GL * phi(z)``, normalised (the truncated normal).

    Example:
        >>> z, w = panel_rule(6, np.array([-1.0, -50.0]), 1e-8, grading=2)
        >>> z.shape, bool(z[0].min() > -1.0), round(float((w[1] * z[1] ** 2).sum()), 8)
        ((2, 96), True, 1.0)
    """
    half = math.sqrt(2.0 * math.log(1.0 / tolerance)) + 1.0
    low = np.maximum(np.asarray(bounds, dtype=np.float64), -half)
    step = (half - low) / panels
    edges = low[:, None] + step[:, None] * np.arange(panels + 1)[None, :]
    if grading > 0:
        fine = low[:, None] + step[:, None] * _GRADING_RATIO ** np.arange(grading, 0, -1)[None, :]
        edges = np.concatenate([edges[:, :1], fine, edges[:, 1:]], axis=1)
    gx, gw = np.polynomial.legendre.leggauss(_panel_order(tolerance))
    a, b = edges[:, :-1, None], edges[:, 1:, None]
    z = (0.5 * (a + b) + 0.5 * (b - a) * gx).reshape(low.size, -1)
    w = (0.5 * (b - a) * gw).reshape(low.size, -1) * np.exp(-0.5 * z * z)
    return z, w / w.sum(axis=1, keepdims=True)


#: Gauss rules of truncated normals computed in this process, by (order, bound): a scan plans the
#: nodes of the same windows several times (observed and expected counts, p-values)
_TRUNCATED_RULES: dict[tuple[int, float], tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
_TRUNCATED_RULES_MAX = 200_000


def _truncated_rule(
    size: int, bounds: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``priors.normal_rule(size, bounds)``, each distinct bound computed once per process."""
    keys = [(size, float(b)) for b in bounds]
    missing = sorted({key[1] for key in keys if key not in _TRUNCATED_RULES})
    if missing:
        if len(_TRUNCATED_RULES) + len(missing) > _TRUNCATED_RULES_MAX:
            _TRUNCATED_RULES.clear()
            missing = sorted({key[1] for key in keys})
        z, w = priors.normal_rule(size, np.array(missing))
        for bound, zi, wi in zip(missing, z, w, strict=True):
            _TRUNCATED_RULES[size, bound] = (zi, wi)
    if not keys:
        return np.empty((0, size)), np.empty((0, size))
    rules = [_TRUNCATED_RULES[key] for key in keys]
    return np.stack([r[0] for r in rules]), np.stack([r[1] for r in rules])


def _rule(
    kind: int, size: int, bounds: NDArray[np.float64], tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights (m, size) of one coordinate for m windows."""
    m = bounds.size
    if kind >= _PANELS:
        grading = kind - _PANELS
        return panel_rule(size // _panel_order(tolerance) - grading, bounds, tolerance, grading)
    if kind == _TRUNCATED:
        return _truncated_rule(size, bounds)
    if kind == _TRAPEZOID:
        z, w = priors.trapezoid_rule(size, tolerance)
    else:
        z, w = priors.normal_rule(size)
    return np.broadcast_to(z, (m, size)), np.broadcast_to(w, (m, size))


def window_nodes(
    windows: WindowArrays,
    *,
    purpose: Purpose = "posterior",
    tolerance: float = priors.QUADRATURE_TOLERANCE,
    max_order: int = 24,
) -> tuple[NodeSet, ...]:
    """Quadrature nodes of the prior of every window, grouped by rule.

    Coordinates: ``(S, G, H) = (s0, g0, h0) + A z`` with ``A`` from a Cholesky factor of the
    covariance (:func:`_loadings`), ``z`` standard normal (truncated where a coordinate carries the
    bound of S or of the background), and ``gamma = 1 + delta z4`` truncated at 0. Each
    coordinate's scale t is its effect on the Poisson terms relative to the scale on which they
    vary: at the observed count (``purpose="posterior"``), or at counts up to ``B + 6 sqrt(B) + 6``
    (``purpose="pvalue"``, for the p-value tables of the look-elsewhere toys). The rule of each
    coordinate follows (module docstring, :func:`_plan`): Gauss rules of order
    :func:`priors.order_for`, the trapezoidal rule of :func:`priors.trapezoid_size` nodes, or
    Gauss-Legendre panels (:func:`panel_rule`), graded towards S's bound for posteriors.

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> spec = window_spec(n=2, signal=1.0, backgrounds={"mumu": 1.0}, stat_errors={"mumu": 0.5})
        >>> (group,) = window_nodes(WindowSet.from_specs([spec]))
        >>> round(float(group.weight.sum()), 12), bool((group.background >= 0).all())
        (1.0, True)
    """
    loadings, lower, s_axis = _loadings(windows)
    kind, size = _plan(windows, loadings, lower, s_axis, purpose, tolerance, max_order)
    delta = windows.stat_width
    bounds = np.concatenate(
        [lower, np.where(delta > 0, -1.0 / np.where(delta > 0, delta, 1.0), -np.inf)[:, None]], 1
    )
    base = np.stack([windows.signal, windows.stat_background, windows.other_background], 1)
    keys, inverse = np.unique(np.concatenate([kind, size], 1), axis=0, return_inverse=True)
    groups: list[NodeSet] = []
    for g, key in enumerate(keys):
        rows = np.flatnonzero(inverse.ravel() == g)
        groups.append(_group_nodes(windows, rows, key, loadings, bounds, base, tolerance))
    return tuple(groups)


def _group_nodes(
    windows: WindowArrays,
    rows: NDArray[np.int64],
    key: NDArray[np.int64],
    loadings: NDArray[np.float64],
    bounds: NDArray[np.float64],
    base: NDArray[np.float64],
    tolerance: float,
) -> NodeSet:
    """The nodes of the windows ``rows`` that share the rule kinds and sizes ``key`` (8,)."""
    delta = windows.stat_width
    m = rows.size
    rules = [_rule(int(key[c]), int(key[4 + c]), bounds[rows, c], tolerance) for c in range(4)]
    sizes = tuple(int(k) for k in key[4:])
    z = np.zeros((m, 3, *sizes[:3]))
    weight = np.ones((m, *sizes))
    for c in range(4):
        shape = [m, 1, 1, 1, 1]
        shape[1 + c] = sizes[c]
        weight = weight * rules[c][1].reshape(shape)
    # shifts of (S, G, H) at the (z1, z2, z3) grid: (m, 3, k1, k2, k3)
    shift = np.zeros((m, 3, *sizes[:3]))
    for c in range(3):
        shape = [m, 1, 1, 1, 1]
        shape[2 + c] = sizes[c]
        shift = shift + loadings[rows, :, c][:, :, None, None, None] * rules[c][0].reshape(shape)
    del z
    values = base[rows][:, :, None, None, None] + shift
    gamma = 1.0 + delta[rows, None, None, None, None] * rules[3][0].reshape(m, 1, 1, 1, -1)
    sig = np.broadcast_to(values[:, 0, ..., None], (m, *sizes)).reshape(m, -1)
    bkg = (gamma * values[:, 1, ..., None] + values[:, 2, ..., None]).reshape(m, -1)
    # truncated nodes keep their place with weight 0 (dropping the ones that are zero in every
    # row would make a window's sums depend on the other windows of its group)
    return NodeSet(
        rows=rows,
        n=windows.n[rows],
        signal=np.maximum(sig, 0.0),
        background=np.maximum(bkg, 0.0),
        weight=_truncate(sig, bkg, weight.reshape(m, -1)),
    )


def _truncate(
    signal: NDArray[np.float64], background: NDArray[np.float64], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Zero weight where S < 0 or B < 0 (rounding-level negatives count as 0); renormalise."""
    scale = np.abs(signal).max(axis=-1, keepdims=True) + np.abs(background).max(
        axis=-1, keepdims=True
    )
    eps = 1e-13 * scale
    allowed = (signal >= -eps) & (background >= -eps)
    w = np.where(allowed, weight, 0.0)
    total = w.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise InputError(None, "prior", "a nuisance prior with a non-empty allowed region")
    normalised: NDArray[np.float64] = w / total
    return normalised
