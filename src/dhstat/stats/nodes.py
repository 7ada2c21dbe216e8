"""Quadrature nodes of the nuisance prior of single-bin window models (the window path's planning).

The histosys parameters act on (S, G, H) linearly, so their joint effect is one Gaussian vector with
covariance ``D^T D`` (at most 3 coordinates instead of one per parameter); :func:`window_nodes`
integrates over it with a Cholesky factor (signal first where the zero-truncation of S matters, so
that it is a bound on one coordinate, handled exactly by a truncated Gauss rule; background first
otherwise) and over gamma with a truncated Gauss rule. The order of each coordinate follows from the
quadrature tolerance; coordinates whose prior is wide against the Poisson scale (large backgrounds
with 10 % systematics) use the trapezoidal rule. The truncation of B < 0 in a direction that is not
a coordinate axis is applied as an indicator on the nodes: exact when its prior mass is negligible
(all realistic windows), approximate otherwise (e.g. 50 % correlated uncertainties).

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

__all__ = ["NodeSet", "Purpose", "WindowArrays", "window_nodes"]


def __dir__() -> list[str]:
    return __all__


Purpose = Literal["posterior", "pvalue"]

_GH, _TRUNCATED, _TRAPEZOID = 0, 1, 2


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


def _loadings(windows: WindowArrays) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Loadings A (W, 3, 3): (S, G, H) shifts = A z; and the lower bound of z (W, 3).

    The coordinates are a Cholesky factorisation of ``D^T D``: signal first where the truncation of
    S at zero has prior mass above :data:`priors.NEGLIGIBLE_TRUNCATION` (so that it is a bound on z1),
    background first otherwise (so that the coordinate with the largest effect comes first and the
    signal-only remainder needs few nodes).
    """
    cov = np.einsum("wpi,wpj->wij", windows.shifts, windows.shifts)
    s0 = windows.signal
    sd_s = np.sqrt(np.maximum(cov[:, 0, 0], 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(sd_s > 0, -s0 / np.where(sd_s > 0, sd_s, 1.0), -np.inf)
    signal_first = bound > priors._LOWER_GH
    perm = np.where(signal_first[:, None], np.array([0, 1, 2]), np.array([1, 2, 0]))
    rows = np.arange(len(windows))[:, None, None]
    permuted = cov[rows, perm[:, :, None], perm[:, None, :]]
    low = _cholesky3(permuted)
    loadings = np.zeros_like(low)
    loadings[np.arange(len(windows))[:, None], perm, :] = low
    lower = np.full((len(windows), 3), -np.inf)
    lower[:, 0] = np.where(signal_first, bound, -np.inf)
    return loadings, lower


def _plan(
    windows: WindowArrays,
    loadings: NDArray[np.float64],
    lower: NDArray[np.float64],
    purpose: Purpose,
    tolerance: float,
    max_order: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rule kind and size of each coordinate (z1, z2, z3, gamma) per window, two (W, 4) arrays."""
    s0, g0, h0 = windows.signal, windows.stat_background, windows.other_background
    b0 = g0 + h0
    n = windows.n.astype(np.float64)
    n_ref = n if purpose == "posterior" else np.maximum(n, np.ceil(b0 + 6.0 * np.sqrt(b0) + 6.0))
    # background: curvature scale of ln Pois(n; B) at B = b0, and its slope
    curvature = np.sqrt(n_ref + 1.0) / (b0 + 1.0)
    slope = np.abs(n_ref - b0) / (b0 + 1.0)
    d_s = np.abs(loadings[:, 0, :])
    d_b = np.abs(loadings[:, 1, :] + loadings[:, 2, :])
    t = np.sqrt((d_b * curvature[:, None]) ** 2 + (0.3 * d_b * slope[:, None]) ** 2)
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
        t = t + signal_term
        width = width + signal_term
    delta = windows.stat_width
    g_shift = delta * g0
    t_gamma = np.sqrt((g_shift * curvature) ** 2 + (0.3 * g_shift * slope) ** 2)
    t = np.concatenate([t, t_gamma[:, None]], axis=1)
    width = np.concatenate([width, (g_shift * at_peak)[:, None]], axis=1)
    bounds = np.concatenate(
        [lower, np.where(delta > 0, -1.0 / np.where(delta > 0, delta, 1.0), -np.inf)[:, None]], 1
    )
    active = np.concatenate([(d_s + d_b) > 0, (delta > 0)[:, None]], axis=1)
    half = math.sqrt(2.0 * math.log(1.0 / tolerance)) + 1.0
    truncated = bounds > priors._LOWER_GH
    trapezoid = (t > priors.TRAPEZOID_SCALE) & (bounds <= -half)
    kind = np.where(trapezoid, _TRAPEZOID, np.where(truncated, _TRUNCATED, _GH))
    size = np.where(
        trapezoid,
        priors.trapezoid_size(np.where(np.isfinite(width), width, 1e3), tolerance),
        priors.order_for(t, tolerance, max_order),
    )
    kind = np.where(active, kind, _GH)
    size = np.where(active, size, 1)
    return kind.astype(np.int64), size.astype(np.int64)


def _rule(
    kind: int, size: int, bounds: NDArray[np.float64], tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights (m, size) of one coordinate for m windows."""
    m = bounds.size
    if kind == _TRUNCATED:
        return priors.normal_rule(size, bounds)
    if kind == _TRAPEZOID:
        z, w = priors.trapezoid_rule(size, tolerance)
    else:
        z, w = priors.normal_rule(size)
    return np.broadcast_to(z, (m, size)), np.broadcast_to(w, (m, size))


def window_nodes(
    windows: WindowArrays,
    *,
    purpose: Purpose = "posterior",
    tolerance: float = 1e-8,
    max_order: int = 24,
) -> tuple[NodeSet, ...]:
    """Quadrature nodes of the prior of every window, grouped by rule.

    Coordinates: ``(S, G, H) = (s0, g0, h0) + A z`` with ``A`` a Cholesky factor of ``D^T D``
    (:func:`_loadings`) and ``z`` standard normal, and ``gamma = 1 + delta z4`` truncated at 0. Each
    coordinate's scale t is its effect on the Poisson terms relative to the scale on which they
    vary: at the observed count (``purpose="posterior"``), or at counts up to ``B + 6 sqrt(B) + 6``
    (``purpose="pvalue"``, for the p-value tables of the look-elsewhere toys). Coordinates with
    ``t <= 0.7`` (or truncated) get a Gauss rule of order :func:`priors.order_for`, the others the
    trapezoidal rule of :func:`priors.trapezoid_size` nodes.

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> spec = window_spec(n=2, signal=1.0, backgrounds={"mumu": 1.0}, stat_errors={"mumu": 0.5})
        >>> (group,) = window_nodes(WindowSet.from_specs([spec]))
        >>> round(float(group.weight.sum()), 12), bool((group.background >= 0).all())
        (1.0, True)
    """
    loadings, lower = _loadings(windows)
    kind, size = _plan(windows, loadings, lower, purpose, tolerance, max_order)
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
    w = _truncate(sig, bkg, weight.reshape(m, -1))
    keep = w.max(axis=0) > 0 if m else np.ones(0, dtype=bool)
    return NodeSet(
        rows=rows,
        n=windows.n[rows],
        signal=np.ascontiguousarray(np.maximum(sig[:, keep], 0.0)),
        background=np.ascontiguousarray(np.maximum(bkg[:, keep], 0.0)),
        weight=np.ascontiguousarray(w[:, keep]),
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
