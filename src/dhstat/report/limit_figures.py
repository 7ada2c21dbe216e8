"""The limit figures of a run: limit maps (observed, expected, ratio) and Fig. 3 analogues.

Limits known at the window centres are interpolated with :mod:`dhstat.interpretation` (the
method and options recorded in ``couplings.json``; by default piecewise linear in log10 of the
limit). Only windows with sensitivity enter the interpolation; a point of the plane whose nearest
window has no sensitivity gets no limit (grey in the maps), and one whose nearest window has a
prior-dominated limit is marked (hatched in the maps, dotted in the Fig. 3 curves).
:func:`limit_maps` is also the source of the interpolated limit table of the HEPData submission.

Example:
    >>> import numpy as np
    >>> cols = {"ma": np.array([4.0, 6.0, 4.0, 6.0]), "mh": np.array([1.0, 1.0, 3.0, 3.0]),
    ...         "sigma_ul": np.array([2.0, 2.0, 8.0, 8.0])}
    >>> maps = limit_maps(RunTables(cols), 3)
    >>> maps.observed[:, 1].round(6).tolist()  # log-linear between 2 and 8 fb at M_h' = 2 GeV
    [4.0, 4.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dhstat.report.settings import ReportSettings
from dhstat.report.tables import Array, RunTables

if TYPE_CHECKING:
    from dhstat.plots import Style

__all__ = ["LimitMaps", "limit_figures", "limit_maps", "slice_limits"]

Emit = Callable[[Any, str], None]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class LimitMaps:
    """Limits interpolated on a regular (M_A', M_h') grid, with the masks of the flags.

    Attributes:
        ma_axis: M_A' of the grid's rows [GeV].
        mh_axis: M_h' of the grid's columns [GeV].
        observed: Observed Bayesian upper limit on sigma [fb], shape (rows, columns); NaN outside
            the searched region and where there is no sensitivity.
        expected: Expected limits [fb], shape (5, rows, columns): the -2, -1, 0, +1, +2 sigma
            quantiles (None when the scan has none).
        cls_observed: Observed CLs upper limit [fb] (None when the scan has none).
        cls_expected: Median expected CLs upper limit [fb] (None when the scan has none).
        prior_dominated: Where the nearest window's limit is prior-dominated.
        no_sensitivity: Where the nearest window has no sensitivity.
    """

    ma_axis: Array
    mh_axis: Array
    observed: Array
    expected: Array | None
    cls_observed: Array | None
    cls_expected: Array | None
    prior_dominated: Any
    no_sensitivity: Any


def _options(tables: RunTables) -> dict[str, Any]:
    """The interpolation options recorded by the interpretation stage (or its defaults)."""
    couplings = tables.documents.get("couplings") or {}
    recorded = couplings.get("interpolation", {})
    return {
        "method": recorded.get("method", "linear"),
        "log": recorded.get("log", True),
        "mh_scale": recorded.get("mh_scale", 1.0),
        "sqrt_s": tables.sqrt_s_gev,
    }


def _sensitive(tables: RunTables) -> Any:
    cols = tables.columns
    if "sensitive" in cols:
        return cols["sensitive"] > 0.5
    return np.ones(len(cols["ma"]), dtype=bool)


def _prior(tables: RunTables) -> Any:
    cols = tables.columns
    if "prior_dominated" in cols:
        return cols["prior_dominated"] > 0.5
    return np.zeros(len(cols["ma"]), dtype=bool)


class _Interpolator:
    """Per-window values and flags of a run, interpolated to fixed (M_A', M_h') query points.

    The values follow :func:`dhstat.interpretation.interpolate_points` (same method, log10,
    M_h' scale and kinematic cut; a test checks that they agree): piecewise linear on the
    Delaunay triangulation of the windows with a value. The triangles are located with
    matplotlib's trapezoid-map finder instead of scipy's ``Delaunay.find_simplex``, whose
    barycentric transforms (one LAPACK call per triangle) take tens of seconds on a busy
    machine for the default windows.
    """

    def __init__(self, tables: RunTables, ma: Any, mh: Any) -> None:
        # local import: start-up time (scipy.spatial)
        from scipy.spatial import cKDTree

        cols = tables.columns
        options = _options(tables)
        self.method = options["method"]
        self.log = bool(options["log"])
        self.shape = np.shape(ma)
        scale = float(options["mh_scale"])
        self.points = np.column_stack([cols["ma"], cols["mh"] * scale])
        self.query = np.column_stack([np.ravel(ma), np.ravel(mh) * scale])
        sqrt_s = options["sqrt_s"]
        self.kinematic = (
            np.ones(len(self.query), dtype=bool)
            if sqrt_s is None
            else np.ravel(ma) + np.ravel(mh) < float(sqrt_s)
        )
        self.sensitive = _sensitive(tables)
        self._triangulations: dict[bytes, Any] = {}
        located = np.all(np.isfinite(self.points), axis=1)
        self.inside = self._triangle(located) >= 0
        index = np.flatnonzero(located)
        nearest = cKDTree(self.points[index]).query(self.query)[1] if index.size else None
        self.nearest = None if nearest is None else index[nearest]
        self.no_sensitivity = self.flag(~self.sensitive)

    def _triangulation(self, good: Any) -> Any:
        """The Delaunay triangulation of the ``good`` windows (None if they span no area)."""
        # local import: start-up time (scipy.spatial)
        from matplotlib.tri import Triangulation
        from scipy.spatial import Delaunay, QhullError

        key = np.packbits(good).tobytes()
        if key not in self._triangulations:
            found = None
            if np.count_nonzero(good) >= 3:
                points = self.points[good]
                try:
                    simplices = Delaunay(points).simplices
                    found = Triangulation(points[:, 0], points[:, 1], simplices)
                except (QhullError, ValueError):
                    found = None  # all centres on a line: no area to interpolate over
            self._triangulations[key] = found
        return self._triangulations[key]

    def _triangle(self, good: Any) -> Any:
        """The triangle (of the ``good`` windows) holding each query point; -1 outside."""
        triangulation = self._triangulation(good)
        if triangulation is None:
            return np.full(len(self.query), -1)
        finder = triangulation.get_trifinder()
        return np.asarray(finder(self.query[:, 0], self.query[:, 1]))

    def values(self, values: Array) -> Array:
        """``values`` of the sensitive windows, interpolated; NaN where there is no sensitivity."""
        # local import: start-up time (matplotlib.tri, scipy.interpolate)
        from matplotlib.tri import LinearTriInterpolator
        from scipy.interpolate import NearestNDInterpolator

        v = np.asarray(values, dtype=np.float64)
        good = self.sensitive & np.isfinite(v) & np.all(np.isfinite(self.points), axis=1)
        if self.log:
            good &= v > 0
        out = np.full(len(self.query), np.nan)
        triangulation = self._triangulation(good)
        if triangulation is not None:
            data = np.log10(v[good]) if self.log else v[good]
            if self.method == "linear":
                interpolated = LinearTriInterpolator(triangulation, data)(
                    self.query[:, 0], self.query[:, 1]
                )
                result = np.ma.filled(interpolated.astype(np.float64), np.nan)
            else:
                inside = self._triangle(good) >= 0
                nearest = NearestNDInterpolator(self.points[good], data)(self.query)
                result = np.where(inside, nearest, np.nan)
            out = 10.0**result if self.log else result
        out = np.where(self.kinematic & ~self.no_sensitivity.ravel(), out, np.nan)
        return out.reshape(self.shape)

    def flag(self, flag: Any) -> Any:
        """The nearest window's ``flag`` at each point (False outside the searched region)."""
        if self.nearest is None:
            return np.zeros(self.shape, dtype=bool)
        hit = np.asarray(flag, dtype=bool)[self.nearest] & self.inside & self.kinematic
        return hit.reshape(self.shape)


def limit_maps(tables: RunTables, points: int) -> LimitMaps:
    """The limits of ``tables`` interpolated on a ``points`` x ``points`` grid over the windows.

    ``tables`` must have the columns ``ma``, ``mh`` and ``sigma_ul``.
    """
    cols = tables.columns
    ma_axis = np.linspace(float(np.nanmin(cols["ma"])), float(np.nanmax(cols["ma"])), points)
    mh_axis = np.linspace(float(np.nanmin(cols["mh"])), float(np.nanmax(cols["mh"])), points)
    ma, mh = np.meshgrid(ma_axis, mh_axis, indexing="ij")
    run = _Interpolator(tables, ma, mh)
    expected = None
    if "sigma_ul_expected" in cols:
        expected = np.stack([run.values(cols["sigma_ul_expected"][:, k]) for k in range(5)])
    cls_observed = run.values(cols["cls_ul"]) if "cls_ul" in cols else None
    cls_expected = None
    if "cls_ul_expected" in cols:
        cls_expected = run.values(cols["cls_ul_expected"][:, 2])
    return LimitMaps(
        ma_axis=ma_axis,
        mh_axis=mh_axis,
        observed=run.values(cols["sigma_ul"]),
        expected=expected,
        cls_observed=cls_observed,
        cls_expected=cls_expected,
        prior_dominated=run.flag(_prior(tables)),
        no_sensitivity=run.no_sensitivity,
    )


def slice_limits(
    tables: RunTables,
    fixed: Sequence[float],
    *,
    versus: str,
    points: int = 400,
) -> dict[float, tuple[Array, Array, Array | None, Any]]:
    """Limits along slices of the plane: M_h' fixed (``versus="ma"``) or M_A' fixed.

    The limits are on eps^2 alpha_D when the run has coupling limits (the expected ones scaled
    from sigma by each window's eps^2 alpha_D per fb), else on sigma [fb].

    Returns:
        For each fixed mass, (x, observed, expected of shape (5, len(x)) or None,
        prior-dominated), from the first to the last point with an observed limit (points in
        between without one, where there is no sensitivity, are NaN: gaps in the curves).
    """
    cols = tables.columns
    coupling = tables.has("coupling_ul", "coupling_per_fb")
    observed = cols["coupling_ul"] if coupling else cols["sigma_ul"]
    factor = cols["coupling_per_fb"] if coupling else np.ones(len(cols["ma"]))
    free = cols["ma"] if versus == "ma" else cols["mh"]
    grid = np.linspace(float(np.nanmin(free)), float(np.nanmax(free)), points)
    # every slice at once: (len(fixed), points) query points, located once
    along = np.broadcast_to(grid, (len(fixed), points))
    across = np.broadcast_to(np.asarray(fixed, dtype=np.float64)[:, None], (len(fixed), points))
    run = _Interpolator(tables, *((along, across) if versus == "ma" else (across, along)))
    obs = run.values(observed)
    prior = run.flag(_prior(tables))
    expected = None
    if "sigma_ul_expected" in cols:
        band = factor[:, None] * cols["sigma_ul_expected"]
        expected = np.stack([run.values(band[:, k]) for k in range(5)])
    curves: dict[float, tuple[Array, Array, Array | None, Any]] = {}
    for row, mass in enumerate(fixed):
        finite = np.flatnonzero(np.isfinite(obs[row]))
        keep = slice(int(finite[0]), int(finite[-1]) + 1) if finite.size else slice(0, 0)
        band_row = None if expected is None else expected[:, row, keep]
        curves[float(mass)] = (grid[keep], obs[row, keep], band_row, prior[row, keep])
    return curves


def limit_figures(tables: RunTables, settings: ReportSettings, style: Style, emit: Emit) -> None:
    """Draw the limit maps and the Fig. 3 analogues the run allows (through ``emit``)."""
    from dhstat import plots  # local import: start-up time (matplotlib)

    if not tables.has("ma", "mh", "sigma_ul") or not np.any(
        np.isfinite(tables.columns["sigma_ul"])
    ):
        return
    cl = tables.cl
    maps = limit_maps(tables, settings.map_points)
    masks = {"prior_dominated": maps.prior_dominated, "no_sensitivity": maps.no_sensitivity}
    shown = [maps.observed] if maps.expected is None else [maps.observed, maps.expected[2]]
    finite = np.concatenate([m[np.isfinite(m) & (m > 0)] for m in shown])
    scale = (float(finite.min()), float(finite.max())) if finite.size else None
    axes = (maps.ma_axis, maps.mh_axis)
    emit(
        plots.sigma_limit_map(
            *axes, maps.observed, limits_range=scale, cl=cl, style=style, **masks
        ),
        "fig2_sigma_limit",
    )
    if maps.expected is not None:
        emit(
            plots.sigma_limit_map(
                *axes, maps.expected[2], kind="expected", limits_range=scale, cl=cl, style=style,
                **masks,
            ),
            "expected_sigma_limit",
        )  # fmt: skip
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = maps.observed / maps.expected[2]
        emit(plots.limit_ratio_map(*axes, ratio, style=style, **masks), "observed_over_expected")
    _fig3(tables, settings, style, emit)


def _fig3(tables: RunTables, settings: ReportSettings, style: Style, emit: Emit) -> None:
    """The Fig. 3 analogue (observed) and, with expected limits, the band figures per slice."""
    from dhstat import plots  # local import: start-up time (matplotlib)

    coupling = tables.has("coupling_ul", "coupling_per_fb")
    versus_ma = slice_limits(tables, settings.fig3_mh, versus="ma")
    versus_mh = slice_limits(tables, settings.fig3_ma, versus="mh")
    cl = tables.cl
    ylabel = (
        rf"{100 * cl:.0f}% CL UL on $\epsilon^2\alpha_{{\rm D}}$"
        if coupling
        else rf"{100 * cl:.0f}% CL UL on $\sigma$ [fb]"
    )
    if coupling:
        emit(
            plots.coupling_limits(_observed(versus_ma), _observed(versus_mh), cl=cl, style=style),
            "fig3_coupling_limits",
        )
    panels: tuple[tuple[str, Any, Literal["ma", "mh"]], ...] = (
        ("fig3_expected_vs_ma", versus_ma, "ma"),
        ("fig3_expected_vs_mh", versus_mh, "mh"),
    )
    for name, curves, versus in panels:
        bands = {m: (x, y, e, p) for m, (x, y, e, p) in curves.items() if e is not None and x.size}
        if bands:
            emit(
                plots.coupling_limit_bands(
                    bands,
                    versus=versus,
                    cl=cl,
                    ylabel=ylabel,
                    style=style,
                ),
                name,
            )


def _observed(
    curves: Mapping[float, tuple[Array, Array, Array | None, Any]],
) -> dict[float, tuple[Array, Array, Any]]:
    return {m: (x, y, p) for m, (x, y, _, p) in curves.items()}
