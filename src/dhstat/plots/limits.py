r"""Maps of the upper limit on sigma over the (M_h', M_A') plane: observed, expected, their ratio.

The maps take limits already interpolated on a regular grid (:mod:`dhstat.interpretation`) and
two masks on the same grid: where the limit is prior-dominated (it depends on the prior's upper
edge sigma_max; drawn hatched) and where the windows have no sensitivity (no limit; drawn grey).

Example:
    >>> import numpy as np
    >>> grid = np.full((3, 4), 5.0)
    >>> fig = sigma_limit_map(np.arange(3.0), np.arange(4.0), grid, kind="expected")
    >>> fig.axes[1].get_ylabel()
    'Median expected 90% CL UL on $\\sigma$ [fb]'
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from numpy.typing import ArrayLike

from dhstat.plots.style import (
    MA_LABEL,
    MH_LABEL,
    Style,
    array,
    figure,
    label,
    plain_log_ticks,
    rc,
)

__all__ = ["limit_ratio_map", "sigma_limit_map"]

#: Hatch pattern of prior-dominated limits, fill colour of windows without sensitivity.
PRIOR_HATCH = "////"
NO_SENSITIVITY = "0.75"


def __dir__() -> list[str]:
    return __all__


def _mask(mask: ArrayLike | None, shape: tuple[int, ...]) -> Any:
    if mask is None:
        return np.zeros(shape, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.shape != shape:
        msg = f"mask shape {m.shape} differs from the map's {shape}"
        raise ValueError(msg)
    return m


def _overlays(
    ax: Axes, x: Any, y: Any, prior_dominated: Any, no_sensitivity: Any, style: Style
) -> None:
    """Grey where there is no sensitivity, hatched where the limit is prior-dominated; legend."""
    handles = []
    if no_sensitivity.any():
        ax.contourf(x, y, no_sensitivity.astype(float), levels=[0.5, 1.5], colors=NO_SENSITIVITY)
        handles.append(Patch(facecolor=NO_SENSITIVITY, label="No sensitivity: no limit"))
    if prior_dominated.any():
        ax.contourf(
            x, y, prior_dominated.astype(float), levels=[0.5, 1.5], colors="none",
            hatches=[PRIOR_HATCH],
        )  # fmt: skip
        handles.append(
            Patch(facecolor="none", edgecolor="k", hatch=PRIOR_HATCH, label="Prior-dominated")
        )
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=style.font_size - 1.5, frameon=False)


def _limit_norm(values: Any, limits_range: tuple[float, float] | None) -> Normalize | None:
    if limits_range is not None:
        return LogNorm(*limits_range)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return None
    lo, hi = float(positive.min()), float(positive.max())
    return LogNorm(lo, hi if hi > lo else 2 * lo)


def sigma_limit_map(
    ma_axis: ArrayLike,
    mh_axis: ArrayLike,
    limits: ArrayLike,
    *,
    prior_dominated: ArrayLike | None = None,
    no_sensitivity: ArrayLike | None = None,
    kind: Literal["observed", "expected"] = "observed",
    limits_range: tuple[float, float] | None = None,
    centres: tuple[ArrayLike, ArrayLike] | None = None,
    cl: float = 0.9,
    style: Style | None = None,
) -> Figure:
    """Fig. 2 analogue: upper limit on sigma over the (M_h', M_A') plane, interpolated.

    Args:
        ma_axis: M_A' values of the map's rows [GeV].
        mh_axis: M_h' values of the map's columns [GeV].
        limits: Upper limit on sigma [fb], shape (len(ma_axis), len(mh_axis)); NaN outside the
            searched region and where there is no sensitivity.
        prior_dominated: Where the limit depends on the prior's upper edge (hatched), same shape.
        no_sensitivity: Where the windows have no sensitivity (grey, no limit), same shape.
        kind: ``"observed"`` or ``"expected"`` (the median expected limit), for the label.
        limits_range: (min, max) of the colour scale [fb] (e.g. shared by the observed and
            expected maps); default: the range of ``limits``.
        centres: Optional window centres (M_A', M_h') drawn as dots.
        cl: Credibility level, for the label.
        style: Figure size, fonts and label.
    """
    style = style or Style()
    grid = array(limits)
    x, y = array(mh_axis), array(ma_axis)
    no_sens = _mask(no_sensitivity, grid.shape)
    prior = _mask(prior_dominated, grid.shape) & ~no_sens
    shown = np.ma.masked_invalid(np.where(no_sens, np.nan, grid))
    what = "Observed" if kind == "observed" else "Median expected"
    with rc(style):
        fig, ax = figure(style)
        mesh = ax.pcolormesh(
            x, y, shown, norm=_limit_norm(shown.compressed(), limits_range), cmap="viridis",
            shading="auto", rasterized=True,
        )  # fmt: skip
        bar = fig.colorbar(mesh, ax=ax, label=rf"{what} {100 * cl:.0f}% CL UL on $\sigma$ [fb]")
        if isinstance(bar.norm, LogNorm):
            plain_log_ticks(bar)
        _overlays(ax, x, y, prior, no_sens, style)
        if centres is not None:
            ax.scatter(array(centres[1]), array(centres[0]), s=0.3, c="w", alpha=0.4, lw=0)
        ax.set_xlabel(MH_LABEL)
        ax.set_ylabel(MA_LABEL)
        label(ax, style)
    return fig


def limit_ratio_map(
    ma_axis: ArrayLike,
    mh_axis: ArrayLike,
    ratio: ArrayLike,
    *,
    prior_dominated: ArrayLike | None = None,
    no_sensitivity: ArrayLike | None = None,
    style: Style | None = None,
) -> Figure:
    """Observed over median expected upper limit on sigma, over the (M_h', M_A') plane.

    Above 1 (red): a weaker limit than expected, an excess; below 1 (blue): a deficit. The
    colour scale is logarithmic and symmetric about 1, from 1/r to r with r the largest ratio
    (or inverse ratio) of the map, between 1.5 and 10.

    Args:
        ma_axis: M_A' values of the map's rows [GeV].
        mh_axis: M_h' values of the map's columns [GeV].
        ratio: Observed / median expected limit, shape (len(ma_axis), len(mh_axis)).
        prior_dominated: Where either limit is prior-dominated (hatched), same shape.
        no_sensitivity: Where the windows have no sensitivity (grey), same shape.
        style: Figure size, fonts and label.
    """
    style = style or Style()
    grid = array(ratio)
    x, y = array(mh_axis), array(ma_axis)
    no_sens = _mask(no_sensitivity, grid.shape)
    prior = _mask(prior_dominated, grid.shape) & ~no_sens
    shown = np.ma.masked_invalid(np.where(no_sens | (grid <= 0), np.nan, grid))
    values = shown.compressed()
    spread = float(np.max(np.abs(np.log(values)), initial=0.0)) if values.size else 0.0
    bound = float(np.clip(np.exp(spread), 1.5, 10.0))
    with rc(style):
        fig, ax = figure(style)
        mesh = ax.pcolormesh(
            x, y, shown, norm=LogNorm(1 / bound, bound), cmap="RdBu_r", shading="auto",
            rasterized=True,
        )  # fmt: skip
        bar = fig.colorbar(mesh, ax=ax, label="Observed / median expected limit")
        ticks = [t for t in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0) if 1 / bound <= t <= bound]
        bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
        bar.minorticks_off()
        _overlays(ax, x, y, prior, no_sens, style)
        ax.set_xlabel(MH_LABEL)
        ax.set_ylabel(MA_LABEL)
        label(ax, style)
    return fig
