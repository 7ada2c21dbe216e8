r"""Maps of per-window quantities over the (M_h', M_A') plane, drawn at the window centres.

Each colour scale spans the physical range of its quantity: the local significance Z (one-sided,
so never below 0) from 0 to its largest value, the mass resolutions over the windows where they
are defined. Values that are undefined (NaN) are drawn grey.

Example:
    >>> import numpy as np
    >>> fig = observed_counts(np.array([5.0, 6.0]), np.array([1.0, 2.0]), np.array([3, 0]))
    >>> fig.axes[0].get_xlabel()
    "$\\mathit{M}_{\\mathit{h'}}$ [GeV]"
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

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

__all__ = [
    "efficiency_map",
    "local_significance_map",
    "observed_counts",
    "resolution_map",
    "sensitivity_map",
]

Array = NDArray[np.float64]

#: Colour of undefined values (NaN) in the maps.
UNDEFINED = "0.8"


def __dir__() -> list[str]:
    return __all__


def _points(ax: Axes, x: Array, y: Array, c: Array, *, norm: Normalize, cmap: str) -> Any:
    """A scatter of the window centres coloured by ``c`` (largest on top, NaN grey)."""
    colours = mpl.colormaps[cmap].with_extremes(bad=UNDEFINED)
    order = np.argsort(np.nan_to_num(c, nan=-np.inf), kind="stable")
    size = max(0.5, min(12.0, 3000.0 / max(len(x), 1)))
    return ax.scatter(
        x[order], y[order], c=c[order], s=size, norm=norm, cmap=colours, linewidths=0,
        plotnonfinite=True, rasterized=len(x) > 2000,
    )  # fmt: skip


def _mass_scatter(
    ma: ArrayLike,
    mh: ArrayLike,
    values: ArrayLike,
    *,
    title: str,
    style: Style,
    norm: Normalize,
    cmap: str = "viridis",
    extend: str = "neither",
) -> Figure:
    with rc(style):
        fig, ax = figure(style)
        points = _points(ax, array(mh), array(ma), array(values), norm=norm, cmap=cmap)
        bar = fig.colorbar(points, ax=ax, label=title, extend=extend)
        if isinstance(norm, LogNorm):
            plain_log_ticks(bar)
        ax.set_xlabel(MH_LABEL)
        ax.set_ylabel(MA_LABEL)
        label(ax, style)
    return fig


def observed_counts(
    ma: ArrayLike, mh: ArrayLike, n_observed: ArrayLike, *, style: Style | None = None
) -> Figure:
    """Fig. 1 analogue: observed events in each search window, drawn at the window centres.

    Args:
        ma: Window centres in M_A' [GeV].
        mh: Window centres in M_h' [GeV].
        n_observed: Observed events per window.
        style: Figure size, fonts and label.
    """
    n = array(n_observed)
    top = max(float(np.nanmax(n, initial=1.0)), 1.0)
    if top > 10:
        # log scale: empty windows drawn grey (the colour bar starts at 1 event)
        style = style or Style()
        fig = _mass_scatter(
            ma, mh, np.where(n > 0, n, np.nan), title="Observed events per window",
            style=style, norm=LogNorm(1.0, top),
        )  # fmt: skip
        if np.any(n == 0):
            fig.axes[0].text(
                0.97, 0.03, "grey: no event", transform=fig.axes[0].transAxes, ha="right",
                va="bottom", fontsize=style.font_size - 1.5,
            )  # fmt: skip
        return fig
    return _mass_scatter(
        ma, mh, n, title="Observed events per window", style=style or Style(),
        norm=Normalize(0.0, top),
    )  # fmt: skip


def local_significance_map(
    ma: ArrayLike, mh: ArrayLike, z: ArrayLike, *, style: Style | None = None
) -> Figure:
    """Local significance Z of every window at its centre, the largest marked.

    Z is one-sided (an excess over the background): the colour scale runs from 0 to the largest
    Z (at least 3). A deficit, written as a negative Z by runs of dhstat before one-sided Z, is
    drawn as 0; an infinite Z (p = 0) at the top of the scale.
    """
    values = array(z)
    finite = values[np.isfinite(values)]
    top = max(3.0, float(np.max(finite, initial=0.0)))
    fig = _mass_scatter(
        ma, mh, np.clip(values, 0.0, top), title=r"Local significance $\mathit{Z}$ [$\sigma$]",
        style=style or Style(), norm=Normalize(0.0, top), cmap="magma_r",
    )  # fmt: skip
    if np.any(~np.isnan(values)):
        best = int(np.nanargmax(values))
        x, y = float(array(mh)[best]), float(array(ma)[best])
        ax = fig.axes[0]
        ax.plot(x, y, marker="o", mfc="none", mec="C0", ms=7, mew=1.2)
        ax.annotate(
            rf"$\mathit{{Z}}$ = {values[best]:.2f}",
            (x, y),
            textcoords="offset points",
            xytext=(7, 4),
            fontsize=(style or Style()).font_size - 1,
        )
    return fig


def efficiency_map(
    ma: ArrayLike, mh: ArrayLike, efficiency: ArrayLike, *, style: Style | None = None
) -> Figure:
    """Signal efficiency (selection, window and C_eta cut) at each window centre, in percent."""
    eff = 100.0 * array(efficiency)
    top = max(float(np.nanmax(eff, initial=1.0)), 1.0)
    return _mass_scatter(
        ma, mh, eff, title="Signal efficiency [%]", style=style or Style(),
        norm=Normalize(0.0, top),
    )  # fmt: skip


def _resolution_norm(values: Array) -> Normalize:
    """Linear from the smallest to the largest defined value; log if they span > a factor 10."""
    defined = values[np.isfinite(values) & (values > 0)]
    if defined.size == 0:
        return Normalize(0.0, 1.0)
    lo, hi = float(defined.min()), float(defined.max())
    if hi > 10 * lo:
        return LogNorm(lo, hi)
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def resolution_map(
    ma: ArrayLike,
    mh: ArrayLike,
    sigma_mumu: ArrayLike,
    sigma_recoil: ArrayLike,
    *,
    style: Style | None = None,
) -> Figure:
    """Mass resolutions of the window fits: M_mumu (top) and M_recoil (bottom), in MeV.

    A resolution in M is defined only where the window lies at M^2 > 0 (the fits are in squared
    masses, sigma(M) = sigma(M^2) / 2M): pass NaN elsewhere (the M_h' ~ 0 windows, whose
    ellipses reach M_recoil^2 < 0); those windows are drawn grey, outside the colour scale.
    """
    style = style or Style()
    with rc(style):
        fig, axes = figure(style, 0.7, nrows=2, sharex=True)
        for ax, values, name in (
            (axes[0], sigma_mumu, r"$\sigma(\mathit{M}_{\mu\mu})$ [MeV]"),
            (axes[1], sigma_recoil, r"$\sigma(\mathit{M}_{\rm recoil})$ [MeV]"),
        ):
            v = 1000.0 * array(values)
            points = _points(ax, array(mh), array(ma), v, norm=_resolution_norm(v), cmap="viridis")
            bar = fig.colorbar(points, ax=ax, label=name)
            if isinstance(bar.norm, LogNorm):
                plain_log_ticks(bar)
            ax.set_ylabel(MA_LABEL)
        axes[1].set_xlabel(MH_LABEL)
        if np.any(np.isnan(array(sigma_recoil))):
            axes[1].text(
                0.97, 0.95, "grey: undefined\n(window reaches $\\mathit{M}^2 \\leq 0$)",
                transform=axes[1].transAxes, ha="right", va="top",
                fontsize=style.font_size - 1.5,
            )  # fmt: skip
        label(axes[0], style)
    return fig


def sensitivity_map(
    ma: ArrayLike,
    mh: ArrayLike,
    z_expected: ArrayLike,
    *,
    sigma_fb: float | None = None,
    style: Style | None = None,
) -> Figure:
    """Median expected significance at each window centre for a signal of ``sigma_fb`` fb.

    Args:
        ma: Window centres in M_A' [GeV].
        mh: Window centres in M_h' [GeV].
        z_expected: Median expected local Z [sigma] (NaN: not computed, drawn grey).
        sigma_fb: The signal cross section assumed [fb], for the colour bar's title.
        style: Figure size, fonts and label.
    """
    z = array(z_expected)
    top = max(3.0, float(np.nanmax(np.where(np.isfinite(z), z, np.nan), initial=0.0)))
    title = r"Median expected $\mathit{Z}$ [$\sigma$]"
    if sigma_fb is not None:
        title += f", signal {sigma_fb:g} fb"
    style = style or Style()
    fig = _mass_scatter(
        ma, mh, np.clip(z, 0.0, top), title=title, style=style, norm=Normalize(0.0, top),
        cmap="viridis",
    )  # fmt: skip
    if np.any(np.isnan(z)):
        fig.axes[0].text(
            0.97, 0.03, "grey: no sensitivity", transform=fig.axes[0].transAxes, ha="right",
            va="bottom", fontsize=style.font_size - 1.5,
        )  # fmt: skip
    return fig
