"""Limit curves along slices of the mass plane (Fig. 3 analogues) and the Z_max distribution.

:func:`coupling_limits` draws the observed limits of every slice in two panels (the paper's
Fig. 3); :func:`coupling_limit_bands` draws, one panel per slice, the observed limit over the
expected one's +-1 sigma (green) and +-2 sigma (yellow) bands.

Example:
    >>> import numpy as np
    >>> x = np.linspace(4, 9, 5)
    >>> band = np.outer([0.5, 0.7, 1.0, 1.4, 2.0], np.full(5, 1e-7))
    >>> fig = coupling_limit_bands({1.0: (x, np.full(5, 1.2e-7), band)}, versus="ma")
    >>> len(fig.axes[0].collections)  # the two bands
    2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatterSciNotation
from numpy.typing import ArrayLike

from dhstat.plots.style import MA_LABEL, MH_LABEL, Style, array, figure, label, rc

__all__ = ["BAND_COLOURS", "coupling_limit_bands", "coupling_limits", "max_z_distribution"]

#: Fill colours of the expected limit's +-1 sigma and +-2 sigma bands (the HEP convention).
BAND_COLOURS = {"1sigma": "#00cc00", "2sigma": "#ffcc00"}

#: Hatch pattern of prior-dominated limits; colour of stretches without a limit.
PRIOR_HATCH = "////"
NO_LIMIT = "0.85"

_SLICE = {
    "ma": (r"\mathit{M}_{\mathit{h'}}", MA_LABEL),
    "mh": (r"\mathit{M}_{\mathit{A'}}", MH_LABEL),
}


def __dir__() -> list[str]:
    return __all__


def _positive(values: ArrayLike) -> Any:
    v = array(values)
    return np.where(v > 0, v, np.nan)


def _prior_mask(curve: Sequence[Any], n: int) -> Any:
    """The optional prior-dominated mask of a curve tuple (all False when not given)."""
    if len(curve) > 3 or (len(curve) == 3 and np.asarray(curve[2]).ndim == 1):
        mask = np.asarray(curve[-1], dtype=bool)
        if mask.shape == (n,):
            return mask
    return np.zeros(n, dtype=bool)


def _runs(mask: Any) -> list[tuple[int, int]]:
    """(first, last) indices of the runs of True in ``mask``.

    Example:
        >>> _runs(np.array([0, 1, 1, 0, 1], dtype=bool))
        [(1, 2), (4, 4)]
    """
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _dilate(mask: Any) -> Any:
    """``mask`` grown by one point on each side (so that dotted and solid segments join)."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    return grown


def coupling_limits(
    versus_ma: Mapping[float, Sequence[ArrayLike]],
    versus_mh: Mapping[float, Sequence[ArrayLike]],
    *,
    cl: float = 0.9,
    style: Style | None = None,
) -> Figure:
    """Fig. 3 analogue: eps^2 alpha_D limits versus M_A' (top) and versus M_h' (bottom).

    Args:
        versus_ma: For each fixed M_h' [GeV], the curve (M_A' [GeV], limit on eps^2 alpha_D)
            and optionally a third array, True where the limit is prior-dominated (drawn dotted).
        versus_mh: For each fixed M_A' [GeV], the curve (M_h' [GeV], limit on eps^2 alpha_D)
            and optionally the prior-dominated mask.
        cl: Credibility level, for the label.
        style: Figure size, fonts and label.
    """
    style = style or Style()
    ylabel = rf"{100 * cl:.0f}% CL UL on $\epsilon^2\alpha_{{\rm D}}$"
    with rc(style):
        fig, (top, bottom) = figure(style, 0.75, nrows=2)
        for ax, curves, (fixed, xlabel) in (
            (top, versus_ma, _SLICE["ma"]),
            (bottom, versus_mh, _SLICE["mh"]),
        ):
            dotted = False
            for index, (mass, curve) in enumerate(sorted(curves.items())):
                x, yy = array(curve[0]), _positive(curve[1])
                if not np.any(np.isfinite(yy)):
                    continue  # the slice misses the searched region: no curve, no legend entry
                prior = _prior_mask(curve, len(x))
                solid = np.where(prior, np.nan, yy)
                ax.plot(x, solid, color=f"C{index}", label=f"${fixed}$ = {mass:g} GeV")
                if prior.any():
                    ax.plot(x, np.where(_dilate(prior), yy, np.nan), color=f"C{index}", ls=":")
                    dotted = True
            if dotted:
                ax.plot([], [], color="0.4", ls=":", label="Prior-dominated")
            ax.set_yscale("log")
            _log_labels(ax)
            _headroom(ax, [c[1] for c in curves.values()])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if ax.get_lines():
                ax.legend(ncols=2, loc="upper right", fontsize=style.font_size - 1.5)
        label(top, style)
    return fig


def _band_panel(ax: Any, x: Any, observed: Any, expected: Any, prior: Any) -> set[str]:
    """One slice: bands, median expected, observed; prior-dominated hatched, gaps grey.

    Returns:
        Which markings were drawn (``"prior"``, ``"gap"``), for the legend.
    """
    drawn = set()
    obs = _positive(observed)
    for first, last in _runs(~np.isfinite(obs)):
        if first > 0 and last < len(x) - 1:  # a gap inside the curve: no sensitivity there
            ax.axvspan(x[first - 1], x[last + 1], color=NO_LIMIT, lw=0, zorder=0.5)
            drawn.add("gap")
    for first, last in _runs(prior):
        ax.axvspan(
            x[max(first - 1, 0)], x[min(last + 1, len(x) - 1)], facecolor="none",
            edgecolor="0.45", hatch=PRIOR_HATCH, lw=0, zorder=1.5,
        )  # fmt: skip
        drawn.add("prior")
    e = np.vstack([_positive(row) for row in array(expected).reshape(5, -1)])
    ax.fill_between(x, e[0], e[4], color=BAND_COLOURS["2sigma"], lw=0)
    ax.fill_between(x, e[1], e[3], color=BAND_COLOURS["1sigma"], lw=0)
    ax.plot(x, e[2], color="k", ls="--", lw=0.8)
    ax.plot(x, obs, color="k", lw=1.0)
    ax.set_yscale("log")
    return drawn


def _band_legend(drawn: set[str]) -> tuple[list[Any], list[str]]:
    """Legend entries of the band figures: observed first, as in the paper's figures."""
    handles: list[Any] = [
        Line2D([], [], color="k", lw=1.0),
        Line2D([], [], color="k", ls="--", lw=0.8),
        Patch(color=BAND_COLOURS["1sigma"], lw=0),
        Patch(color=BAND_COLOURS["2sigma"], lw=0),
    ]
    labels = ["Observed", "Median expected", r"Expected $\pm1\sigma$", r"Expected $\pm2\sigma$"]
    if "prior" in drawn:
        handles.append(Patch(facecolor="none", edgecolor="0.45", hatch=PRIOR_HATCH, lw=0))
        labels.append("Prior-dominated")
    if "gap" in drawn:
        handles.append(Patch(color=NO_LIMIT, lw=0))
        labels.append("No sensitivity")
    return handles, labels


def _headroom(ax: Any, values: Sequence[Any]) -> None:
    """Room above the curves of a log axis for the legend: they fill its lower 70 %."""
    finite = np.concatenate([np.ravel(_positive(v)) for v in values] or [np.empty(0)])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        lo, hi = float(finite.min()) / 1.3, float(finite.max()) * 1.3
        ax.set_ylim(lo, hi * (hi / lo) ** (0.3 / 0.7))


def _log_labels(axes: Any) -> None:
    """Log y axes: minor ticks labelled (2, 5 x 10^k) only when the axis spans < 2 decades."""
    for ax in np.ravel(axes):
        ax.yaxis.set_minor_formatter(
            LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2.0, 0.5))
        )


def coupling_limit_bands(
    curves: Mapping[float, Sequence[ArrayLike]],
    *,
    versus: Literal["ma", "mh"],
    cl: float = 0.9,
    ylabel: str | None = None,
    style: Style | None = None,
) -> Figure:
    """Fig. 3 analogue with the expected bands: one panel per slice of the mass plane.

    Gaps inside a curve (no limit: no sensitivity there) are shaded grey; prior-dominated
    stretches are hatched. One legend, below the panels, serves them all.

    Args:
        curves: For each fixed mass [GeV] (M_h' if ``versus="ma"``, else M_A'), the curve
            (x [GeV], observed limit, expected limit of shape (5, len(x)): the -2 sigma, -1 sigma,
            median, +1 sigma and +2 sigma quantiles under the background-only hypothesis) and
            optionally a fourth array, True where the limit is prior-dominated (hatched).
        versus: The mass along the slices, ``"ma"`` (M_A') or ``"mh"`` (M_h').
        cl: Credibility level, for the default label.
        ylabel: The y axis title (default: the upper limit on eps^2 alpha_D).
        style: Figure size, fonts and label; the figure is two columns wide.
    """
    style = style or Style()
    fixed, xlabel = _SLICE[versus]
    ylabel = ylabel or rf"{100 * cl:.0f}% CL UL on $\epsilon^2\alpha_{{\rm D}}$"
    items = sorted(curves.items())
    ncols = 2 if len(items) > 1 else 1
    nrows = max(1, math.ceil(len(items) / ncols))
    drawn: set[str] = set()
    with rc(style):
        fig, axes = figure(
            style, 0.6 if ncols == 2 else 0.75, nrows=nrows, ncols=ncols, width=ncols,
            squeeze=False, sharey=True,
        )  # fmt: skip
        flat = axes.ravel()
        for k, (mass, curve) in enumerate(items):
            ax, x = flat[k], array(curve[0])
            drawn |= _band_panel(ax, x, curve[1], curve[2], _prior_mask(curve, len(x)))
            ax.text(
                0.04, 0.06, f"${fixed}$ = {mass:g} GeV", transform=ax.transAxes,
                ha="left", va="bottom",
            )  # fmt: skip
            if k % ncols == 0:
                ax.set_ylabel(ylabel)
            ax.set_xlabel(xlabel)
        for ax in flat[len(items) :]:
            ax.set_axis_off()
        _log_labels(flat)
        handles, labels = _band_legend(drawn)
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
        label(flat[0], style)
    return fig


def max_z_distribution(
    max_z: ArrayLike,
    observed: float,
    *,
    global_z: float | None = None,
    style: Style | None = None,
) -> Figure:
    """Distribution of the largest local Z in background-only toys, with the observed value."""
    style = style or Style()
    values = array(max_z)
    values = values[np.isfinite(values)]
    with rc(style):
        fig, ax = figure(style, 0.7)
        shown = observed if math.isfinite(observed) else float(values.max(initial=0.0)) + 1.0
        lo = min(float(values.min(initial=shown)), shown) - 0.2
        hi = max(float(values.max(initial=shown)), shown) + 0.2
        bins = np.linspace(lo, hi, 41)
        counts, _, _ = ax.hist(
            values, bins=bins, histtype="stepfilled", color="C0", alpha=0.6,
            label=f"{values.size} background-only toys",
        )  # fmt: skip
        text = rf"Observed $\mathit{{Z}}_{{\max}}$ = {observed:.2f}"
        if global_z is not None:
            text += rf" (global {global_z:.2f}$\sigma$)"
        ax.axvline(shown, color="C2", label=text)
        if np.any(counts > 0):
            ax.set_yscale("log")
        ax.set_xlabel(r"Largest local significance $\mathit{Z}_{\max}$ [$\sigma$]")
        ax.set_ylabel("Toys per bin")
        ax.legend(loc="upper left", fontsize=style.font_size - 1.5)
        label(ax, style)
    return fig
