"""Interpretation: eps^2 alpha_D limits, interpolation over the plane, reinterpretation.

Coupling limits (analysis.md section 4). The search limits the cross section sigma of
e+e- -> A' h', A' -> mu mu, h' invisible per window. The model predicts
sigma * B = (eps^2 alpha_D) * sigma_1 * B(A' -> mu mu), with sigma_1 the cross section at
eps^2 alpha_D = 1 and B from the PDG R data (:mod:`dhstat.physics.decay`), so

    (eps^2 alpha_D)_UL = sigma_UL' / (sigma_1 * B(A' -> mu mu)),

where sigma_UL' is the window's upper limit recomputed by the stats engine with the 4 %
B(A' -> mu mu) uncertainty included as a *constrained modifier*: a symmetric histosys ``br_mumu``
on the signal (relative size ``[interpretation] br_mumu_rel_uncertainty``), i.e. a Gaussian
smearing of the signal yield truncated at zero, marginalised together with the window's own
nuisance parameters (:func:`add_signal_uncertainty`). It enters the coupling limits only, never
the sigma limits.

What sigma means. dhstat's signal efficiencies are normalised to the ISR-inclusive cross section
(the signal simulation includes ISR), while the paper's formula divides by the Born cross section.
Both conventions are written, and every output says which one is primary
(``[interpretation] cross_section``, default ``"born"`` as in analysis.md section 4):
``"born"`` divides by the Born cross section of analysis.md section 3, ``"isr"`` by the
ISR-inclusive cross section sigma_ISR(s) = int_0^x_max W(x) sigma_Born(s (1 - x)) dx with the
Kuraev-Fadin radiator W(x) = beta x^(beta - 1) (1 + 3 beta / 4) - beta (1 - x / 2)
(:func:`dhstat.physics.theory.isr_radiator`), computed by Gauss-Legendre quadrature after the
substitution u = x^beta that removes the integrable singularity at x = 0.

Resonances. Windows whose M_A' lies near the narrow J/psi, psi(2S), Upsilon(1S, 2S, 3S), which
the R data do not contain, are flagged (:func:`dhstat.physics.decay.near_resonance`).

Interpolation (Fig. 2 and Fig. 3 analogues): limits known at window centres (M_A', M_h') are
interpolated piecewise linearly on the Delaunay triangulation of the centres (scipy
``LinearNDInterpolator``), by default in log10 of the limit (limits span decades); points outside
the convex hull of the centres, or outside the kinematic region M_A' + M_h' < sqrt(s), get NaN.

Reinterpretation (a model the analysis did not consider): per-window efficiencies of the new model
(:func:`read_efficiencies`, or :func:`efficiencies_from_events` from truth-level LHE events through
dhstat's detector simulation and selection) replace eps in each window's likelihood
(:func:`rescale_signal`); the stats engine gives the limits, and one window per model point is
reported by :data:`SELECTION_RULE` (best expected limit, not looking at the data).
:func:`patchsets` writes pyhf patchsets that do the same replacement in the published workspaces.

Example:
    >>> s1 = born_unit_cross_section(5.0, 2.0, sqrt_s=10.58)
    >>> round(float(s1) * 1e-8, 3)
    1.013
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from dhstat.lhe import LHEEvents

from dhstat.errors import InputError
from dhstat.physics import decay, theory
from dhstat.physics.constants import ALPHA, ELECTRON_MASS, GEV2_TO_FB
from dhstat.stats.model import WindowSet

__all__ = [
    "BR_METHOD",
    "BR_PARAMETER",
    "CROSS_SECTION_TYPES",
    "SELECTION_RULE",
    "CouplingLimits",
    "ModelPoint",
    "PointLimit",
    "PublishedWindows",
    "ScanInputs",
    "add_signal_uncertainty",
    "born_unit_cross_section",
    "coupling_curves",
    "coupling_limits",
    "couplings_document",
    "efficiencies_document",
    "efficiencies_from_events",
    "expected_counts",
    "interpolate_limits",
    "interpolate_points",
    "interpret",
    "isr_unit_cross_section",
    "patchsets",
    "read_efficiencies",
    "read_published",
    "reinterpret",
    "reinterpretation_document",
    "rescale_signal",
    "scan_inputs",
    "signal_patch",
    "unit_cross_sections",
    "window_efficiencies",
    "window_limits",
]

log = logging.getLogger(__name__)

Array = NDArray[np.float64]
CrossSectionType = Literal["born", "isr"]

#: The two cross-section types a coupling limit can be derived with.
CROSS_SECTION_TYPES: tuple[CrossSectionType, ...] = ("born", "isr")


def __dir__() -> list[str]:
    return __all__


# ----------------------------------------------------------------------------------------------
# Cross sections at eps^2 alpha_D = 1
# ----------------------------------------------------------------------------------------------


def born_unit_cross_section(
    ma: ArrayLike,
    mh: ArrayLike,
    *,
    sqrt_s: ArrayLike,
    alpha: float = ALPHA,
    gev2_to_fb: float = GEV2_TO_FB,
) -> Array:
    """Born sigma(e+e- -> A' h') [fb] at eps^2 alpha_D = 1; zero below threshold.

    sigma = pi alpha / (3 s) sqrt(lam) (lam + 12 r_A) / (1 - r_A)^2 (analysis.md section 3).

    Example:
        >>> round(float(born_unit_cross_section(5.0, 2.0, sqrt_s=10.58)) * 1e-8, 3)
        1.013
    """
    s = np.asarray(sqrt_s, dtype=np.float64) ** 2
    return theory.born_cross_section(ma, mh, s, coupling=1.0, alpha=alpha, gev2_to_fb=gev2_to_fb)


@functools.cache
def _gauss_legendre(n: int) -> tuple[Array, Array]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return np.asarray(nodes), np.asarray(weights)


def isr_unit_cross_section(
    ma: ArrayLike,
    mh: ArrayLike,
    *,
    sqrt_s: float,
    alpha: float = ALPHA,
    gev2_to_fb: float = GEV2_TO_FB,
    me: float = ELECTRON_MASS,
    nodes: int = 128,
) -> Array:
    """ISR-inclusive sigma [fb] at eps^2 alpha_D = 1: int_0^x_max W(x) sigma_Born(s(1 - x)) dx.

    With x_max = 1 - (M_A' + M_h')^2 / s. The singular term of W is integrated in u = x^beta,
    (1 + 3 beta / 4) int_0^(x_max^beta) sigma_Born(s (1 - u^(1/beta))) du, the regular term in x;
    both by ``nodes``-point Gauss-Legendre quadrature after a square-root change of variables at
    the threshold end, where sigma_Born rises like sqrt(lam).

    Example:
        >>> born = float(born_unit_cross_section(5.0, 2.0, sqrt_s=10.58))
        >>> isr = float(isr_unit_cross_section(5.0, 2.0, sqrt_s=10.58))
        >>> 1.0 < isr / born < 1.2  # sigma_Born grows as s' falls here
        True
    """
    ma_, mh_ = np.broadcast_arrays(
        np.asarray(ma, dtype=np.float64), np.asarray(mh, dtype=np.float64)
    )
    s = sqrt_s**2
    beta = float(theory.isr_beta(s, alpha=alpha, electron_mass=me))
    x_max = np.clip(1 - (ma_ + mh_) ** 2 / s, 0.0, None)
    t, w = _gauss_legendre(nodes)
    t01, w01 = 0.5 * (t + 1), 0.5 * w  # nodes and weights on [0, 1]

    def born(x: Array) -> Array:
        return born_unit_cross_section(
            ma_[..., None], mh_[..., None], sqrt_s=np.sqrt(s * (1 - x)), alpha=alpha,
            gev2_to_fb=gev2_to_fb,
        )  # fmt: skip

    # Singular term in u = x^beta, u = u_max (1 - v^2), v in [0, 1]: x(u) = u^(1/beta) is a
    # smooth polynomial-like map, and the sqrt(lam) rise of sigma_Born at threshold (u = u_max)
    # becomes analytic in v.
    u_max = x_max[..., None] ** beta
    x_s = (u_max * (1 - t01**2)) ** (1 / beta)
    term = np.sum(w01 * 2 * u_max * t01 * born(x_s), axis=-1)
    singular = (1 + 0.75 * beta) * term
    # Regular term: -beta int_0^x_max (1 - x/2) sigma_Born dx with x = x_max (1 - v^2).
    x_r = x_max[..., None] * (1 - t01**2)
    jac_r = 2 * x_max[..., None] * t01
    regular = -beta * np.sum(w01 * jac_r * (1 - x_r / 2) * born(x_r), axis=-1)
    return np.asarray(np.where(x_max > 0, singular + regular, 0.0), dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Interpolation over the (M_A', M_h') plane
# ----------------------------------------------------------------------------------------------


def interpolate_points(
    ma: ArrayLike,
    mh: ArrayLike,
    values: ArrayLike,
    ma_new: ArrayLike,
    mh_new: ArrayLike,
    *,
    method: Literal["linear", "nearest"] = "linear",
    log: bool = True,
    mh_scale: float = 1.0,
    sqrt_s: float | None = None,
) -> Array:
    """Interpolate per-window values (limits) known at window centres to new (M_A', M_h') points.

    ``"linear"``: piecewise linear on the Delaunay triangulation of the centres (scipy
    ``LinearNDInterpolator``), in log10 of the value if ``log``. ``"nearest"``: the value of the
    nearest centre (inside the convex hull only, so both methods cover the same region). Centres
    with a non-finite (or, with ``log``, non-positive) value are left out. Points outside the
    convex hull, or with M_A' + M_h' >= ``sqrt_s`` if given, are NaN. ``mh_scale`` multiplies M_h'
    before triangulating.

    Example:
        >>> ma = [4.0, 6.0, 4.0, 6.0]; mh = [1.0, 1.0, 3.0, 3.0]
        >>> interpolate_points(ma, mh, [1.0, 100.0, 1.0, 100.0], [5.0, 7.0], [2.0, 2.0]).tolist()
        [10.0, nan]
    """
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
    from scipy.spatial import Delaunay, QhullError

    x = np.asarray(ma, dtype=np.float64).ravel()
    y = np.asarray(mh, dtype=np.float64).ravel() * mh_scale
    v = np.asarray(values, dtype=np.float64).ravel()
    if not (x.shape == y.shape == v.shape):
        msg = f"ma, mh and values must have the same length, got {x.size}, {y.size}, {v.size}"
        raise ValueError(msg)
    good = np.isfinite(v) & np.isfinite(x) & np.isfinite(y)
    if log:
        good &= v > 0
    xn, yn = np.broadcast_arrays(
        np.asarray(ma_new, dtype=np.float64), np.asarray(mh_new, dtype=np.float64)
    )
    out = np.full(xn.shape, np.nan)
    if np.count_nonzero(good) < 3:
        return out
    points = np.column_stack([x[good], y[good]])
    data = np.log10(v[good]) if log else v[good]
    try:
        triangulation = Delaunay(points)
    except QhullError:
        return out  # all centres on a line: no area to interpolate over
    query = np.column_stack([xn.ravel(), yn.ravel() * mh_scale])
    inside = triangulation.find_simplex(query) >= 0
    if method == "linear":
        result = LinearNDInterpolator(triangulation, data)(query)
    else:
        result = NearestNDInterpolator(points, data)(query)
    result = np.where(inside, result, np.nan)
    if log:
        result = 10.0**result
    if sqrt_s is not None:
        result = np.where(xn.ravel() + yn.ravel() < sqrt_s, result, np.nan)
    out[...] = result.reshape(xn.shape)
    return out


def interpolate_limits(
    ma: ArrayLike,
    mh: ArrayLike,
    values: ArrayLike,
    ma_axis: ArrayLike,
    mh_axis: ArrayLike,
    *,
    method: Literal["linear", "nearest"] = "linear",
    log: bool = True,
    mh_scale: float = 1.0,
    sqrt_s: float | None = None,
) -> Array:
    """A map of limits on the grid ``ma_axis`` x ``mh_axis``: shape (len(ma_axis), len(mh_axis)).

    See :func:`interpolate_points` for the method. This is the Fig. 2 analogue's input.

    Example:
        >>> ma = [4.0, 6.0, 4.0, 6.0]; mh = [1.0, 1.0, 3.0, 3.0]
        >>> grid = interpolate_limits(ma, mh, [1.0, 1.0, 4.0, 4.0], [4.0, 5.0], [1.0, 2.0, 3.0])
        >>> grid.round(6).tolist()
        [[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]]
    """
    a, h = np.meshgrid(np.asarray(ma_axis, dtype=np.float64), np.asarray(mh_axis, dtype=np.float64),
                       indexing="ij")  # fmt: skip
    return interpolate_points(
        ma, mh, values, a, h, method=method, log=log, mh_scale=mh_scale, sqrt_s=sqrt_s
    )


def _curve(
    ma: Array,
    mh: Array,
    values: Array,
    fixed: float,
    axis: Literal["ma", "mh"],
    n: int,
    options: Mapping[str, Any],
) -> tuple[Array, Array]:
    free = ma if axis == "ma" else mh
    grid = np.linspace(float(free.min()), float(free.max()), n)
    other = np.full_like(grid, fixed)
    if axis == "ma":
        y = interpolate_points(ma, mh, values, grid, other, **options)
    else:
        y = interpolate_points(ma, mh, values, other, grid, **options)
    keep = np.isfinite(y)
    return grid[keep], y[keep]


def coupling_curves(
    couplings: Mapping[str, Any],
    *,
    mh_values: Sequence[float],
    ma_values: Sequence[float],
    points: int = 400,
    key: str = "eps2_alpha_d_ul",
) -> tuple[dict[float, tuple[Array, Array]], dict[float, tuple[Array, Array]]]:
    """Fig. 3 analogue: interpolated coupling limits versus M_A' at fixed M_h' and vice versa.

    Args:
        couplings: A ``couplings.json`` document (see :func:`couplings_document`).
        mh_values: Fixed M_h' values [GeV] of the curves versus M_A'.
        ma_values: Fixed M_A' values [GeV] of the curves versus M_h'.
        points: Points per curve before dropping those outside the interpolation region.
        key: Per-window field to interpolate (the primary limit by default).

    Returns:
        ``(versus_ma, versus_mh)``: ``{M_h': (M_A' array, limit array)}`` and
        ``{M_A': (M_h' array, limit array)}``, each curve restricted to where the interpolation
        is defined. The interpolation settings are those recorded in the document.
    """
    rows = [row for row in couplings["windows"] if row.get(key) is not None]
    ma = np.array([row["ma"] for row in rows], dtype=np.float64)
    mh = np.array([row["mh"] for row in rows], dtype=np.float64)
    values = np.array([row[key] for row in rows], dtype=np.float64)
    settings = couplings.get("interpolation", {})
    options = {
        "method": settings.get("method", "linear"),
        "log": settings.get("log", True),
        "mh_scale": settings.get("mh_scale", 1.0),
        "sqrt_s": couplings.get("sqrt_s"),
    }
    if ma.size == 0:
        empty = (np.empty(0), np.empty(0))
        return ({float(m): empty for m in mh_values}, {float(m): empty for m in ma_values})
    versus_ma = {
        float(m): _curve(ma, mh, values, float(m), "ma", points, options) for m in mh_values
    }
    versus_mh = {
        float(m): _curve(ma, mh, values, float(m), "mh", points, options) for m in ma_values
    }
    return versus_ma, versus_mh


# ----------------------------------------------------------------------------------------------
# Coupling limits
# ----------------------------------------------------------------------------------------------

#: Name of the constrained modifier that carries the B(A' -> mu mu) uncertainty.
BR_PARAMETER = "br_mumu"


def add_signal_uncertainty(window_set: WindowSet, name: str, relative: float) -> WindowSet:
    """The window set with one more symmetric histosys on the signal (relative size ``relative``).

    This is how a constrained modifier ``name`` on the signal sample (``histosys`` with
    ``hi/lo = s0 (1 +- relative)``) enters each window's likelihood: a Gaussian smearing of the
    signal yield per unit POI, independent of every other parameter, truncated so that the signal
    stays non-negative (the stats engine's zero-truncation convention).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=1, signal=2.0, backgrounds={"mumu": 1.0})])
        >>> add_signal_uncertainty(ws, "br_mumu", 0.04).shifts[0].tolist()
        [[0.08, 0.0, 0.0]]
    """
    if name in window_set.parameters:
        msg = f"the window set already has a parameter named {name!r}"
        raise ValueError(msg)
    extra = np.zeros((len(window_set), 1, 3))
    extra[:, 0, 0] = relative * window_set.signal
    return WindowSet(
        ids=window_set.ids,
        n=window_set.n,
        signal=window_set.signal,
        stat_background=window_set.stat_background,
        other_background=window_set.other_background,
        parameters=(*window_set.parameters, name),
        shifts=np.concatenate([window_set.shifts, extra], axis=1),
        stat_width=window_set.stat_width,
        sigma_max=window_set.sigma_max,
        poi=window_set.poi,
    )


def window_limits(
    window_set: WindowSet, *, prior: str = "flat", cl: float = 0.9, sigma_min: float = 0.1
) -> Array:
    """Bayesian upper limits on the POI of every window, by the stats engine (vectorised).

    A thin wrapper of :func:`dhstat.stats.bayes.window_upper_limits` (each window's own POI range;
    no sigma_max-dependence check).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})])
        >>> round(float(window_limits(ws, cl=0.9)[0]), 4)  # ln(10)
        2.3026
    """
    from dhstat.stats import bayes

    if prior not in ("flat", "log"):
        raise InputError(None, "prior", "flat or log", got=prior)
    kind: Literal["flat", "log"] = "log" if prior == "log" else "flat"
    result = bayes.window_upper_limits(
        window_set, cl=cl, prior=kind, sigma_min=sigma_min, check=False
    )
    return np.asarray(result.upper_limit, dtype=np.float64)


def unit_cross_sections(
    ma: ArrayLike, mh: ArrayLike, cfg: Mapping[str, Any]
) -> dict[CrossSectionType, Array]:
    """Born and ISR-inclusive sigma(e+e- -> A' h') [fb] at eps^2 alpha_D = 1 for the configured beams.

    Example:
        >>> from dhstat import config
        >>> units = unit_cross_sections([5.0], [2.0], config.load())
        >>> sorted(units), bool(units["isr"][0] > units["born"][0])
        (['born', 'isr'], True)
    """
    from dhstat.config import sqrt_s

    physics = cfg["physics"]
    roots = sqrt_s(cfg)
    options = {"alpha": float(physics["alpha"]), "gev2_to_fb": float(physics["gev2_to_fb"])}
    return {
        "born": born_unit_cross_section(ma, mh, sqrt_s=roots, **options),
        "isr": isr_unit_cross_section(
            ma, mh, sqrt_s=roots, me=float(physics["electron_mass"]),
            nodes=int(cfg["interpretation"]["isr_nodes"]), **options,
        ),
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class CouplingLimits:
    """Upper limits on eps^2 alpha_D per window.

    Attributes:
        ids: Window ids.
        ma: M_A' of the window centres [GeV].
        mh: M_h' of the window centres [GeV].
        priors: Priors of the converted limits (the first is the primary).
        sigma_ul: The scan's upper limits on sigma [fb] per prior (no B(A'->mumu) uncertainty).
        sigma_ul_br: The same limits recomputed with the B(A'->mumu) uncertainty [fb].
        unit_cross_section: sigma at eps^2 alpha_D = 1 [fb], per cross-section type.
        br_mumu: B(A' -> mu mu) (NaN outside the R data).
        near_resonance: Name of the nearby narrow resonance per window, ``""`` if none.
        primary: The primary cross-section type.
        credibility: Credibility level of the limits.
        sqrt_s: c.m. energy [GeV].
        br_rel_uncertainty: Relative B(A'->mumu) uncertainty included.
    """

    ids: NDArray[np.int64]
    ma: Array
    mh: Array
    priors: tuple[str, ...]
    sigma_ul: Mapping[str, Array]
    sigma_ul_br: Mapping[str, Array]
    unit_cross_section: Mapping[CrossSectionType, Array]
    br_mumu: Array
    near_resonance: tuple[str, ...]
    primary: CrossSectionType
    credibility: float
    sqrt_s: float
    br_rel_uncertainty: float

    def coupling_ul(
        self, cross_section: CrossSectionType | None = None, prior: str | None = None
    ) -> Array:
        """(eps^2 alpha_D)_UL = sigma_UL' / (sigma_1 B); NaN where B or sigma_1 is unavailable."""
        kind = cross_section or self.primary
        unit = self.unit_cross_section[kind] * self.br_mumu
        limit = self.sigma_ul_br[prior or self.priors[0]]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(unit > 0, limit / unit, np.nan)
        return np.asarray(value, dtype=np.float64)


def _first_key(mapping: Mapping[str, Any], *paths: str) -> Any:
    for path in paths:
        node: Any = mapping
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                node = None
                break
            node = node[part]
        if node is not None:
            return node
    return None


@dataclass(frozen=True, slots=True)
class ScanInputs:
    """What the interpretation takes from a scan's ``results.json``.

    Attributes:
        window_set: The per-window likelihoods (``window_model``).
        ids: Window ids (integers), aligned with ``window_set``.
        ma: M_A' per window [GeV].
        mh: M_h' per window [GeV].
        cl: Credibility level of the scan's limits.
        sigma_min: Lower end of the log prior [fb].
    """

    window_set: WindowSet
    ids: NDArray[np.int64]
    ma: Array
    mh: Array
    cl: float
    sigma_min: float


def scan_inputs(
    results: Mapping[str, Any], *, source: str | os.PathLike[str] | None = None,
    stats_table: Mapping[str, Any] | None = None,
) -> ScanInputs:  # fmt: skip
    """Read the window model, masses and limit settings from a ``results.json`` document.

    Raises:
        InputError: the document has no ``window_model`` or a window without masses.
    """
    model = results.get("window_model")
    if not isinstance(model, Mapping):
        raise InputError(source, "window_model", "the per-window likelihood table of the scan")
    try:
        window_set = WindowSet.from_dict(model)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(source, "window_model", f"a valid window model ({error})") from None
    rows = results.get("windows")
    if not isinstance(rows, Sequence):
        raise InputError(source, "windows", "a list of windows with id, ma, mh")
    masses: dict[str, tuple[float, float]] = {}
    for position, row in enumerate(rows):
        try:
            masses[str(row["id"])] = (float(row["ma"]), float(row["mh"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(source, f"windows[{position}]", "id, ma and mh") from None
    missing = [i for i in window_set.ids if i not in masses]
    if missing:
        raise InputError(source, "windows", f"an entry for window {missing[0]} of window_model")
    stats = stats_table or {}
    cl = _first_key(results, "cl", "settings.cl", "limits.cl") or stats.get("cl", 0.9)
    sigma_min = _first_key(results, "sigma_min", "settings.sigma_min", "limits.sigma_min")
    return ScanInputs(
        window_set=window_set,
        ids=np.array([int(i) for i in window_set.ids], dtype=np.int64),
        ma=np.array([masses[i][0] for i in window_set.ids], dtype=np.float64),
        mh=np.array([masses[i][1] for i in window_set.ids], dtype=np.float64),
        cl=float(cl),
        sigma_min=float(sigma_min if sigma_min is not None else stats.get("sigma_min", 0.1)),
    )


def coupling_limits(
    inputs: ScanInputs, cfg: Mapping[str, Any], *, priors: Sequence[str] | None = None
) -> CouplingLimits:
    """Upper limits on eps^2 alpha_D for every window of a scan.

    The sigma limits are recomputed by the stats engine from the scan's window model, once as they
    are and once with the B(A'->mumu) uncertainty added as a constrained signal modifier
    (:data:`BR_PARAMETER`, :func:`add_signal_uncertainty`), so both come from the same code.

    Args:
        inputs: The scan's windows (:func:`scan_inputs`).
        cfg: Configuration (``[physics]``, ``[beams]``, ``[interpretation]``).
        priors: Priors to convert (the first is the primary); default ``[interpretation] priors``.
    """
    from dhstat.config import sqrt_s

    table = cfg["interpretation"]
    priors = tuple(priors if priors is not None else table["priors"])
    relative = float(table["br_mumu_rel_uncertainty"])
    smeared = (
        add_signal_uncertainty(inputs.window_set, BR_PARAMETER, relative)
        if relative > 0
        else inputs.window_set
    )
    options = {"cl": inputs.cl, "sigma_min": inputs.sigma_min}
    sigma_ul = {p: window_limits(inputs.window_set, prior=p, **options) for p in priors}
    sigma_ul_br = {p: window_limits(smeared, prior=p, **options) for p in priors}
    physics = cfg["physics"]
    br = decay.branching_ratio_mumu(
        inputs.ma,
        electron_mass=float(physics["electron_mass"]),
        muon_mass=float(physics["muon_mass"]),
        tau_mass=float(physics["tau_mass"]),
    )
    flag = table["resonance_flag"]
    near = decay.near_resonance(
        inputs.ma,
        decay.resonances_from_config(table),
        n_widths=float(flag["n_widths"]),
        min_halfwidth=float(flag["min_halfwidth_gev"]),
    )
    return CouplingLimits(
        ids=inputs.ids,
        ma=inputs.ma,
        mh=inputs.mh,
        priors=tuple(priors),
        sigma_ul=sigma_ul,
        sigma_ul_br=sigma_ul_br,
        unit_cross_section=unit_cross_sections(inputs.ma, inputs.mh, cfg),
        br_mumu=br,
        near_resonance=near,
        primary=table["cross_section"],
        credibility=inputs.cl,
        sqrt_s=sqrt_s(cfg),
        br_rel_uncertainty=relative,
    )


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


_NOTES = {
    "born": (
        "eps2_alpha_d_ul treats the scan's sigma as the Born cross section of e+e- -> A'h' "
        "(analysis.md section 3, the paper's convention): eps^2 alpha_D = sigma_UL / "
        "(sigma_Born(eps^2 alpha_D = 1) B(A'->mumu))."
    ),
    "isr": (
        "eps2_alpha_d_ul treats the scan's sigma as the ISR-inclusive cross section (Born folded "
        "with the Kuraev-Fadin radiator; what dhstat's signal efficiencies are normalised to): "
        "eps^2 alpha_D = sigma_UL / (sigma_ISR(eps^2 alpha_D = 1) B(A'->mumu))."
    ),
}

BR_METHOD = (
    "constrained modifier: a symmetric histosys 'br_mumu' of relative size "
    "br_mumu_rel_uncertainty on the signal of every window (Gaussian prior, zero-truncated), "
    "marginalised with the window's other nuisance parameters by the stats engine; used for the "
    "coupling limits only"
)


def couplings_document(
    limits: CouplingLimits,
    cfg: Mapping[str, Any],
    *,
    source: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The ``couplings.json`` document (schema ``couplings``) of ``limits``."""
    from dhstat import __version__
    from dhstat.jsonio import canonical_digest, sha256_file

    table = cfg["interpretation"]
    windows = []
    primary = limits.coupling_ul()
    by = {
        kind: {p: limits.coupling_ul(kind, p) for p in limits.priors}
        for kind in CROSS_SECTION_TYPES
    }
    for i, window_id in enumerate(limits.ids.tolist()):
        windows.append(
            {
                "id": int(window_id),
                "ma": float(limits.ma[i]),
                "mh": float(limits.mh[i]),
                "br_mumu": _number(float(limits.br_mumu[i])),
                "sigma_unit_fb": {
                    kind: float(limits.unit_cross_section[kind][i]) for kind in CROSS_SECTION_TYPES
                },
                "sigma_ul_fb": {p: _number(float(limits.sigma_ul[p][i])) for p in limits.priors},
                "sigma_ul_br_fb": {
                    p: _number(float(limits.sigma_ul_br[p][i])) for p in limits.priors
                },
                "eps2_alpha_d_ul": _number(float(primary[i])),
                "eps2_alpha_d_ul_by": {
                    kind: {p: _number(float(by[kind][p][i])) for p in limits.priors}
                    for kind in CROSS_SECTION_TYPES
                },
                "near_resonance": limits.near_resonance[i] or None,
                "outside_r_data": bool(np.isnan(limits.br_mumu[i])),
            }
        )
    path = Path(source) if source is not None else None
    r_table = decay.load_r_ratio()
    return {
        "schema_version": "1.0.0",
        "dhstat_version": __version__,
        "source": {
            "results": str(path) if path is not None else None,
            "results_sha256": sha256_file(path) if path is not None and path.is_file() else None,
        },
        "config_digest": canonical_digest(
            {name: cfg[name] for name in ("physics", "beams", "interpretation")}
        ),
        "sqrt_s": limits.sqrt_s,
        "credibility": limits.credibility,
        "cross_section": limits.primary,
        "cross_section_note": _NOTES[limits.primary]
        + " eps2_alpha_d_ul_by gives both conventions.",
        "br_mumu_rel_uncertainty": limits.br_rel_uncertainty,
        "br_uncertainty_method": BR_METHOD,
        "r_data": (
            f"PDG 2020 R compilation (dhstat/data/pdg2020_r_ratio.dat, {r_table.range[0]}-"
            f"{r_table.range[1]} GeV, narrow J/psi, psi(2S), Upsilon(nS) not included), linear in sqrt(s)"
        ),
        "priors": list(limits.priors),
        "interpolation": dict(table["interpolation"]),
        "resonance_flag": {
            "n_widths": float(table["resonance_flag"]["n_widths"]),
            "min_halfwidth_gev": float(table["resonance_flag"]["min_halfwidth_gev"]),
            "resonances": [r.name for r in decay.resonances_from_config(table)],
        },
        "windows": windows,
    }


def interpret(results_path: str | os.PathLike[str], cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``results.json`` -> the ``couplings.json`` document (what ``dhstat interpret`` writes).

    Raises:
        InputError: the results file is missing or lacks the window model.
    """
    from dhstat.jsonio import read_json

    results = read_json(results_path)
    inputs = scan_inputs(results, source=results_path, stats_table=cfg.get("stats"))
    return couplings_document(coupling_limits(inputs, cfg), cfg, source=results_path)


# ----------------------------------------------------------------------------------------------
# Reinterpretation: limits for a model the analysis did not consider
# ----------------------------------------------------------------------------------------------

#: The rule that picks one window per model point (recorded in every reinterpretation output).
SELECTION_RULE = (
    "per model point, among the windows whose efficiency is at least min_relative_efficiency "
    "times the point's largest window efficiency, the window with the smallest expected upper "
    "limit on the model's cross section; expected = the limit for the median background-only "
    "count N = median of Poisson(B) with B the window's nominal background (the observed counts "
    "are not used to choose)"
)


@dataclass(frozen=True, slots=True)
class ModelPoint:
    """One point of a new model: its signal efficiency in each window.

    Attributes:
        name: Identifier (letters, digits, ``_.-``).
        parameters: Model parameters (e.g. masses [GeV]); written back unchanged.
        windows: Window ids with a non-zero efficiency.
        efficiency: Signal efficiency per window (selected, inside the window, C_eta cut) over all
            generated events of the model, i.e. relative to the cross section the model quotes.
        efficiency_error: Its MC statistical uncertainty (0 if not known).
    """

    name: str
    parameters: Mapping[str, float]
    windows: NDArray[np.int64]
    efficiency: Array
    efficiency_error: Array


def efficiencies_document(
    model: str, points: Sequence[ModelPoint], *, note: str = ""
) -> dict[str, Any]:
    """The ``efficiencies.json`` document (schema ``efficiencies``) of ``points``.

    Example:
        >>> point = ModelPoint("p1", {"ma": 5.0}, np.array([3]), np.array([0.2]), np.array([0.01]))
        >>> efficiencies_document("toy", [point])["points"][0]["efficiencies"]
        [{'window': 3, 'efficiency': 0.2, 'error': 0.01}]
    """
    return {
        "schema_version": "1.0.0",
        "model": model,
        "note": note,
        "points": [
            {
                "name": p.name,
                "parameters": {k: float(v) for k, v in p.parameters.items()},
                "efficiencies": [
                    {"window": int(w), "efficiency": float(e), "error": float(de)}
                    for w, e, de in zip(p.windows, p.efficiency, p.efficiency_error, strict=True)
                ],
            }
            for p in points
        ],
    }


def read_efficiencies(
    path: str | os.PathLike[str], *, window_ids: Sequence[int] | None = None
) -> tuple[str, tuple[ModelPoint, ...]]:
    """Read an efficiencies file: ``(model description, points)``.

    Raises:
        InputError: naming the file and the entry (JSON path) that is malformed, duplicated, or
            refers to a window that ``window_ids`` does not contain.
    """
    from dhstat.jsonio import read_json

    document = read_json(path, schema="efficiencies")
    known = None if window_ids is None else {int(i) for i in window_ids}
    names: set[str] = set()
    points = []
    for i, entry in enumerate(document["points"]):
        if entry["name"] in names:
            raise InputError(
                path, f"points.{i}.name", "a name not used by another point", got=entry["name"]
            )
        names.add(entry["name"])
        seen: set[int] = set()
        for j, item in enumerate(entry["efficiencies"]):
            window = int(item["window"])
            where = f"points.{i}.efficiencies.{j}.window"
            if window in seen:
                raise InputError(path, where, "each window at most once per point", got=window)
            if known is not None and window not in known:
                raise InputError(path, where, "a window id of the workspace set", got=window)
            seen.add(window)
        items = entry["efficiencies"]
        points.append(
            ModelPoint(
                name=entry["name"],
                parameters=dict(entry.get("parameters", {})),
                windows=np.array([int(x["window"]) for x in items], dtype=np.int64),
                efficiency=np.array([float(x["efficiency"]) for x in items], dtype=np.float64),
                efficiency_error=np.array(
                    [float(x.get("error", 0.0)) for x in items], dtype=np.float64
                ),
            )
        )
    return str(document["model"]), tuple(points)


def rescale_signal(
    window_set: WindowSet,
    signal: ArrayLike,
    signal_error: ArrayLike,
    *,
    mcstat: str = "mcstat_signal",
) -> WindowSet:
    """The windows with a new signal yield per unit POI (a new model's eps * L).

    The relative signal systematics of each window are kept (each histosys shift on the signal is
    scaled with the yield); the MC-statistics parameter ``mcstat`` is replaced by ``signal_error``
    (absolute, per unit POI). The POI range is scaled so that it spans the same number of signal
    events as before (``sigma_max * s_old / s_new``).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=1, signal=2.0, backgrounds={"b": 1.0},
        ...                    signal_shifts={"syst_detector": 0.1}, sigma_max=10.0)
        >>> new = rescale_signal(WindowSet.from_specs([spec]), [1.0], [0.05])
        >>> new.signal.tolist(), new.shifts[0, :, 0].round(12).tolist(), new.sigma_max.tolist()
        ([1.0], [0.05, 0.05], [20.0])
    """
    new = np.asarray(signal, dtype=np.float64).reshape(len(window_set))
    error = np.asarray(signal_error, dtype=np.float64).reshape(len(window_set))
    old = window_set.signal
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(old > 0, new / old, 0.0)
        smax = np.where(
            (old > 0) & (new > 0), window_set.sigma_max * old / new, window_set.sigma_max
        )
    parameters = window_set.parameters
    shifts = window_set.shifts.copy()
    shifts[:, :, 0] *= scale[:, None]
    if mcstat in parameters:
        shifts[:, parameters.index(mcstat), 0] = error
    else:
        parameters = (*parameters, mcstat)
        extra = np.zeros((len(window_set), 1, 3))
        extra[:, 0, 0] = error
        shifts = np.concatenate([shifts, extra], axis=1)
    return WindowSet(
        ids=window_set.ids,
        n=window_set.n,
        signal=new,
        stat_background=window_set.stat_background,
        other_background=window_set.other_background,
        parameters=parameters,
        shifts=shifts,
        stat_width=window_set.stat_width,
        sigma_max=smax,
        poi=window_set.poi,
    )


def expected_counts(window_set: WindowSet) -> NDArray[np.int64]:
    """Median of Poisson(B) per window (B = nominal total background): the 'expected' outcome.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=9, signal=1.0, backgrounds={"b": 3.2})])
        >>> expected_counts(ws).tolist()
        [3]
    """
    from scipy import stats

    return np.asarray(stats.poisson.median(window_set.background), dtype=np.int64)


def _with_counts(window_set: WindowSet, n: NDArray[np.int64]) -> WindowSet:
    return WindowSet(
        ids=window_set.ids,
        n=np.asarray(n, dtype=np.int64),
        signal=window_set.signal,
        stat_background=window_set.stat_background,
        other_background=window_set.other_background,
        parameters=window_set.parameters,
        shifts=window_set.shifts,
        stat_width=window_set.stat_width,
        sigma_max=window_set.sigma_max,
        poi=window_set.poi,
    )


@dataclass(frozen=True, slots=True)
class PointLimit:
    """Limits on one model point's cross section.

    Attributes:
        point: The model point.
        candidates: Window ids considered (efficiency above the relative threshold).
        efficiency: Efficiency in each candidate window.
        efficiency_error: Its uncertainty.
        expected: Expected upper limit [fb] per candidate (median background-only count).
        observed: Observed upper limit [fb] per candidate.
        chosen: Index into ``candidates`` of the window with the smallest expected limit (-1: none).
    """

    point: ModelPoint
    candidates: NDArray[np.int64]
    efficiency: Array
    efficiency_error: Array
    expected: Array
    observed: Array
    chosen: int

    @property
    def window(self) -> int | None:
        """Id of the chosen window (``None`` if the model has no efficiency in any window)."""
        return int(self.candidates[self.chosen]) if self.chosen >= 0 else None


def reinterpret(
    window_set: WindowSet,
    points: Sequence[ModelPoint],
    *,
    luminosity_fb: float,
    cl: float = 0.9,
    prior: str = "flat",
    sigma_min: float = 0.1,
    min_relative_efficiency: float = 0.1,
) -> tuple[PointLimit, ...]:
    """Upper limits on the cross section of each model point, per window and for the chosen window.

    Every (point, candidate window) pair becomes one window likelihood with the point's signal
    (:func:`rescale_signal`), and the stats engine computes all observed and expected limits at
    once. The window reported per point follows :data:`SELECTION_RULE`.

    Args:
        window_set: The published windows (``WindowSet.from_specs`` of the workspaces; ids are the
            window ids as strings).
        points: The model points.
        luminosity_fb: L of the workspaces (signal yield per unit POI = efficiency * L).
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"``.
        sigma_min: Lower end of the log prior [fb].
        min_relative_efficiency: Candidate windows need at least this fraction of the point's
            largest efficiency.
    """
    row_of = {int(i): r for r, i in enumerate(window_set.ids)}
    pair_point: list[int] = []
    pair_row: list[int] = []
    pair_eff: list[float] = []
    pair_err: list[float] = []
    per_point: list[NDArray[np.int64]] = []
    for k, point in enumerate(points):
        eff = point.efficiency
        top = float(eff.max()) if eff.size else 0.0
        keep = np.flatnonzero((eff > 0) & (eff >= min_relative_efficiency * top))
        per_point.append(keep)
        for j in keep:
            window = int(point.windows[j])
            if window not in row_of:
                raise InputError(
                    None, f"point {point.name}", "windows of the workspace set", got=window
                )
            pair_point.append(k)
            pair_row.append(row_of[window])
            pair_eff.append(float(eff[j]))
            pair_err.append(float(point.efficiency_error[j]))
    observed = expected = np.empty(0)
    if pair_row:
        sub = window_set.subset(pair_row)
        pairs = rescale_signal(
            sub, np.array(pair_eff) * luminosity_fb, np.array(pair_err) * luminosity_fb
        )
        observed = window_limits(pairs, cl=cl, prior=prior, sigma_min=sigma_min)
        at_median = _with_counts(pairs, expected_counts(pairs))
        expected = window_limits(at_median, cl=cl, prior=prior, sigma_min=sigma_min)
    results = []
    start = 0
    for point, keep in zip(points, per_point, strict=True):
        stop = start + keep.size
        exp, obs = expected[start:stop], observed[start:stop]
        finite = np.isfinite(exp)
        chosen = int(np.argmin(np.where(finite, exp, np.inf))) if finite.any() else -1
        results.append(
            PointLimit(
                point=point,
                candidates=point.windows[keep],
                efficiency=point.efficiency[keep],
                efficiency_error=point.efficiency_error[keep],
                expected=exp,
                observed=obs,
                chosen=chosen,
            )
        )
        start = stop
    return tuple(results)


def signal_patch(
    spec: Mapping[str, Any], signal: float, signal_error: float, *, mcstat: str = "mcstat_signal"
) -> list[dict[str, Any]]:
    """JSON-patch operations that put a new model's signal into a published window workspace.

    The signal sample's nominal becomes ``signal`` (= efficiency * L), each histosys on it is
    scaled with the nominal (relative systematics kept), ``mcstat`` is set to ``signal_error``, and
    the POI's upper bound is scaled by old / new nominal (same range in signal events). The
    operations follow RFC 6902, so ``jsonpatch`` or ``pyhf patchset apply`` can apply them.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=1, signal=2.0, backgrounds={"b": 1.0}, sigma_max=10.0)
        >>> ops = signal_patch(spec, 1.0, 0.1)
        >>> [op["path"] for op in ops]
        ['/channels/0/samples/0', '/measurements/0/config/parameters/0/bounds']
        >>> ops[0]["value"]["modifiers"][-1]["data"]
        {'hi_data': [1.1], 'lo_data': [0.9]}
    """
    samples = spec["channels"][0]["samples"]
    poi = spec["measurements"][0]["config"]["poi"]
    position = next(
        i
        for i, sample in enumerate(samples)
        if any(m["type"] == "normfactor" and m["name"] == poi for m in sample["modifiers"])
    )
    sample = samples[position]
    old = float(sample["data"][0])
    scale = signal / old if old > 0 else 0.0
    modifiers: list[dict[str, Any]] = []
    for modifier in sample["modifiers"]:
        if modifier["type"] == "histosys" and modifier["name"] != mcstat:
            hi = float(modifier["data"]["hi_data"][0]) - old
            lo = float(modifier["data"]["lo_data"][0]) - old
            data = {"hi_data": [signal + scale * hi], "lo_data": [signal + scale * lo]}
            modifiers.append({"name": modifier["name"], "type": "histosys", "data": data})
        elif modifier["name"] != mcstat:
            modifiers.append(dict(modifier))
    if signal_error > 0:
        data = {"hi_data": [signal + signal_error], "lo_data": [signal - signal_error]}
        modifiers.append({"name": mcstat, "type": "histosys", "data": data})
    ops: list[dict[str, Any]] = [
        {
            "op": "replace",
            "path": f"/channels/0/samples/{position}",
            "value": {"name": sample["name"], "data": [signal], "modifiers": modifiers},
        }
    ]
    parameters = spec["measurements"][0]["config"]["parameters"]
    for k, parameter in enumerate(parameters):
        if parameter["name"] == poi and "bounds" in parameter and old > 0 and signal > 0:
            low, high = parameter["bounds"][0]
            bounds = [[float(low), float(high) * old / signal]]
            path = f"/measurements/0/config/parameters/{k}/bounds"
            ops.append({"op": "replace", "path": path, "value": bounds})
    return ops


def _patch_name(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    return cleaned or "point"


def patchsets(
    specs: Mapping[int, Mapping[str, Any]],
    limits: Sequence[PointLimit],
    *,
    luminosity_fb: float,
    model: str,
) -> dict[int, dict[str, Any]]:
    """Pyhf patchsets, one per chosen window, with one patch per model point choosing it.

    Each patchset carries the SHA-256 digest of its window's published workspace (pyhf checks it
    before applying), labels = the model's parameter names (``point`` if it has none) and values =
    the point's parameters. Apply with ``pyhf patchset apply w<id>.json <patchset> --name <point>``.
    """
    import pyhf

    names = [tuple(_patch_name(key) for key in r.point.parameters) for r in limits]
    shared = bool(names) and len(set(names)) == 1 and len(names[0]) > 0
    labels = list(names[0]) if shared else ["point"]
    out: dict[int, dict[str, Any]] = {}
    for number, result in enumerate(limits):
        window = result.window
        if window is None:
            continue
        spec = specs[window]
        k = result.chosen
        ops = signal_patch(
            spec,
            float(result.efficiency[k]) * luminosity_fb,
            float(result.efficiency_error[k]) * luminosity_fb,
        )
        values: list[float | int] = (
            [float(v) for v in result.point.parameters.values()] if shared else [number]
        )
        patch = {
            "metadata": {"name": _patch_name(result.point.name), "values": values},
            "patch": ops,
        }
        if window not in out:
            digest = pyhf.utils.digest(spec, algorithm="sha256")
            out[window] = {
                "metadata": {
                    "description": f"{model}: signal of a reinterpreted model in window {window}",
                    "digests": {"sha256": digest},
                    "labels": labels,
                    "references": {"hepdata": "ins0000000"},
                },
                "patches": [],
                "version": "1.0.0",
            }
        out[window]["patches"].append(patch)
    return out


@dataclass(frozen=True, slots=True)
class PublishedWindows:
    """A published set of window workspaces, read for reinterpretation.

    Attributes:
        directory: The directory (``index.json`` + ``w<id>.json``).
        index: The index document (schema ``workspace-index``).
        specs: Workspace per window id.
        window_set: The windows as a :class:`WindowSet` (ids = window ids as strings).
        luminosity_fb: L of the set.
        index_sha256: SHA-256 of ``index.json``.
    """

    directory: Path
    index: Mapping[str, Any]
    specs: Mapping[int, Mapping[str, Any]]
    window_set: WindowSet
    luminosity_fb: float
    index_sha256: str


def read_published(directory: str | os.PathLike[str]) -> PublishedWindows:
    """Read and verify a workspace set written by ``dhstat workspaces`` (digests checked).

    Raises:
        InputError: missing or invalid index or workspace (see :func:`dhstat.workspace.read_set`).
    """
    from dhstat import workspace
    from dhstat.jsonio import sha256_file

    folder = Path(directory)
    published = workspace.read_set(folder)
    ids = [int(entry["id"]) for entry in published.index["windows"]]
    specs = dict(zip(ids, published.workspaces, strict=True))
    window_set = WindowSet.from_specs(
        published.workspaces,
        ids=[str(i) for i in ids],
        sources=[str(folder / entry["file"]) for entry in published.index["windows"]],
    )
    return PublishedWindows(
        directory=folder,
        index=published.index,
        specs=specs,
        window_set=window_set,
        luminosity_fb=float(published.index["luminosity_fb"]),
        index_sha256=sha256_file(folder / workspace.INDEX),
    )


def _limit(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def reinterpretation_document(
    published: PublishedWindows,
    model: str,
    limits: Sequence[PointLimit],
    *,
    cl: float,
    prior: str,
    sigma_min: float,
    min_relative_efficiency: float,
    efficiencies: str | None = None,
    events: Sequence[str] = (),
    patches: tuple[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The ``reinterpretation.json`` document (schema ``reinterpretation``)."""
    from dhstat import __version__

    points = []
    for result in limits:
        k = result.chosen
        points.append(
            {
                "name": result.point.name,
                "parameters": {key: float(v) for key, v in result.point.parameters.items()},
                "window": result.window,
                "efficiency": float(result.efficiency[k]) if k >= 0 else None,
                "expected_ul_fb": _limit(float(result.expected[k])) if k >= 0 else None,
                "observed_ul_fb": _limit(float(result.observed[k])) if k >= 0 else None,
                "candidates": [
                    {
                        "window": int(result.candidates[j]),
                        "efficiency": float(result.efficiency[j]),
                        "efficiency_error": float(result.efficiency_error[j]),
                        "expected_ul_fb": _limit(float(result.expected[j])),
                        "observed_ul_fb": _limit(float(result.observed[j])),
                    }
                    for j in range(result.candidates.size)
                ],
            }
        )
    return {
        "schema_version": "1.0.0",
        "dhstat_version": __version__,
        "model": model,
        "source": {
            "workspaces": str(published.directory),
            "index_sha256": published.index_sha256,
            "efficiencies": efficiencies,
            "events": list(events),
        },
        "cross_section_note": (
            "sigma is the cross section the model's efficiencies are normalised to (efficiency = "
            "selected events in the window / all generated events); for LHE input that is the "
            "cross section of the generated sample (ISR-inclusive if the generator included ISR)"
        ),
        "credibility": cl,
        "prior": prior,
        "sigma_min": sigma_min,
        "luminosity_fb": published.luminosity_fb,
        "rule": SELECTION_RULE,
        "min_relative_efficiency": min_relative_efficiency,
        "points": points,
        "patches": (
            {"directory": patches[0], "files": list(patches[1])} if patches is not None else None
        ),
    }


def window_efficiencies(
    mrecoil2: ArrayLike,
    mmumu2: ArrayLike,
    ceta: ArrayLike,
    weight: ArrayLike,
    index: Mapping[str, Any],
    *,
    total_weight: float,
    total_weight2: float,
) -> tuple[NDArray[np.int64], Array, Array]:
    """Per-window efficiency of selected events: (window ids, efficiency, uncertainty).

    An event counts in a window if it lies inside the window's ellipse and ``C_eta < ceta_cut``
    (the windows of a workspace index). Efficiency = sum of the weights counted / ``total_weight``
    (the sum of the weights of all generated events, ``total_weight2`` the sum of their squares).
    The uncertainty is the weighted binomial one, ``sqrt(sum_in w^2 (1 - e)^2 + sum_out w^2 e^2) /
    W`` (``sum_out`` over every generated event not counted). Only windows with a non-zero
    efficiency are returned.

    Example:
        >>> index = {"windows": [{"id": 4, "center": [4.0, 25.0], "axes": [1.0, 0.5], "angle": 0.0,
        ...                       "ceta_cut": 0.9}]}
        >>> ids, eff, err = window_efficiencies([4.1, 4.2, 9.0], [25.0, 25.1, 25.0],
        ...     [0.5, 0.95, 0.1], [1.0, 1.0, 1.0], index, total_weight=4.0, total_weight2=4.0)
        >>> ids.tolist(), eff.tolist(), round(float(err[0]), 6)  # binomial sqrt(e (1 - e) / N)
        ([4], [0.25], 0.216506)
    """
    from dhstat import windows

    entries = index["windows"]
    geometry = windows.from_ellipses(
        [e["center"] for e in entries],
        [e["axes"] for e in entries],
        [e["angle"] for e in entries],
        ceta_cut=[e["ceta_cut"] for e in entries],
        ids=[e["id"] for e in entries],
    )
    x = np.asarray(mrecoil2, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    matrix = windows.membership(geometry, x, np.asarray(mmumu2, dtype=np.float64)).tocoo()
    cuts = np.asarray([e["ceta_cut"] for e in entries], dtype=np.float64)
    counted = np.asarray(ceta, dtype=np.float64)[matrix.row] < cuts[matrix.col]
    rows, cols = matrix.row[counted], matrix.col[counted]
    n_windows = len(entries)
    sum_w = np.bincount(cols, weights=w[rows], minlength=n_windows)
    sum_w2 = np.bincount(cols, weights=w[rows] ** 2, minlength=n_windows)
    eff = sum_w / total_weight
    variance = sum_w2 * (1 - eff) ** 2 + (total_weight2 - sum_w2) * eff**2
    error = np.sqrt(np.clip(variance, 0.0, None)) / total_weight
    keep = np.flatnonzero(sum_w > 0)
    ids = np.asarray([int(e["id"]) for e in entries], dtype=np.int64)
    return ids[keep], eff[keep], error[keep]


def efficiencies_from_events(
    events: LHEEvents,
    index: Mapping[str, Any],
    cfg: Mapping[str, Any],
    *,
    rng: np.random.Generator,
    name: str,
    parameters: Mapping[str, float] | None = None,
) -> ModelPoint:
    """A model point's window efficiencies from its truth-level events (e.g. an LHE file).

    The events go through dhstat's detector simulation (:func:`dhstat.simulation.detector.
    reconstruct`) and selection (:func:`dhstat.selection.select`); each window then counts the
    selected events inside its ellipse with ``C_eta`` below its cut. Event weights (the LHE weights)
    are normalised to a sum of 1, so the efficiency is relative to the cross section of the
    generated sample.
    """
    from dhstat import lhe, selection
    from dhstat.simulation import detector

    truth = lhe.to_truth(events)
    reco = detector.reconstruct(truth, cfg=cfg, rng=rng)
    total = float(np.sum(events.weight))
    if not total > 0:
        raise InputError(
            events.source, "event weights", "a positive sum of event weights", got=total
        )
    weight = events.weight / total
    reco["weight"] = weight
    search = selection.select(reco, cfg, process="signal").search
    ids, eff, err = window_efficiencies(
        search["mrecoil2"], search["mmumu2"], search["ceta"], search["weight"], index,
        total_weight=1.0, total_weight2=float(np.sum(weight**2)),
    )  # fmt: skip
    return ModelPoint(
        name=name,
        parameters=dict(parameters or {}),
        windows=ids,
        efficiency=eff,
        efficiency_error=err,
    )
