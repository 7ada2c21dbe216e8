"""Figures of the selected events: the search windows over the event density, and the cutflow.

Example:
    >>> fig = cutflow({"data": [100.0, 50.0], "mumu": [90.0, 45.0]}, ["Input", "Trigger"])
    >>> [t.get_text() for t in fig.axes[1].get_xticklabels()]
    ['Input', 'Trigger']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from numpy.typing import ArrayLike, NDArray

from dhstat.plots.style import Style, array, figure, label, rc

__all__ = ["PROCESS_LABELS", "cutflow", "spread_out", "windows_over_events"]

#: Legend labels of the processes.
PROCESS_LABELS: Mapping[str, str] = {
    "data": "Data",
    "mumu": r"$\mu^+\mu^-(\gamma)$",
    "tautau": r"$\tau^+\tau^-(\gamma)$",
    "eemumu": r"$\mathrm{e}^+\mathrm{e}^-\mu^+\mu^-$",
    "signal": "Signal",
}

#: Fill colours of the simulated backgrounds (mplhep's colour cycle).
_COLOURS = {"mumu": "#5790fc", "tautau": "#f89c20", "eemumu": "#e42536"}


def __dir__() -> list[str]:
    return __all__


def spread_out(points: ArrayLike, k: int) -> NDArray[np.int64]:
    """Indices of ``k`` of the ``points`` (shape (n, 2)) spread over their extent.

    Greedy farthest-point selection in coordinates scaled to the points' extent, starting from
    the point nearest their mean: deterministic, and every chosen point is as far as possible
    from those chosen before it.

    Example:
        >>> spread_out([[0, 0], [0.1, 0], [5, 5], [10, 10]], 3).tolist()
        [2, 0, 3]
    """
    p = array(points).reshape(-1, 2)
    n = len(p)
    if n == 0 or k <= 0:
        return np.empty(0, dtype=np.int64)
    scale = np.ptp(p, axis=0)
    q = (p - p.min(axis=0)) / np.where(scale > 0, scale, 1.0)
    chosen = [int(np.argmin(np.sum((q - q.mean(axis=0)) ** 2, axis=1)))]
    distance = np.sum((q - q[chosen[0]]) ** 2, axis=1)
    while len(chosen) < min(k, n):
        nxt = int(np.argmax(distance))
        if distance[nxt] <= 0:
            break
        chosen.append(nxt)
        distance = np.minimum(distance, np.sum((q - q[nxt]) ** 2, axis=1))
    return np.asarray(chosen, dtype=np.int64)


def _region(centers: Any, axes: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """The (x, y) ranges covered by the window ellipses, with a 4 % margin."""
    reach = np.max(axes, axis=1)
    lo = np.min(centers - reach[:, None], axis=0)
    hi = np.max(centers + reach[:, None], axis=0)
    margin = 0.04 * (hi - lo)
    lo, hi = lo - margin, hi + margin
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def _density(
    ax: Axes, x: Any, y: Any, region: tuple[tuple[float, float], tuple[float, float]], fig: Figure
) -> None:
    """The events in ``region`` as a 2-D histogram, logarithmic colour scale, white where empty."""
    if x.size == 0:
        return
    bins = (np.linspace(*region[0], 201), np.linspace(*region[1], 201))
    counts, xe, ye = np.histogram2d(x, y, bins=bins)
    shown = np.ma.masked_less_equal(counts.T, 0)
    top = max(float(counts.max()), 2.0)
    blues = ListedColormap(mpl.colormaps["Blues"](np.linspace(0.2, 1.0, 256)))  # 1 event visible
    mesh = ax.pcolormesh(xe, ye, shown, norm=LogNorm(1.0, top), cmap=blues, rasterized=True)
    fig.colorbar(mesh, ax=ax, label="Data events per bin")


def windows_over_events(
    recoil2: ArrayLike,
    mumu2: ArrayLike,
    centers: ArrayLike,
    axes: ArrayLike,
    angles: ArrayLike,
    *,
    limit: int = 12,
    style: Style | None = None,
) -> Figure:
    """A few search windows (ellipses) over the density of selected events.

    The plot shows the region the windows cover (M_recoil < M_mumu); events outside it are left
    out.

    Args:
        recoil2: M_recoil^2 of the selected events [GeV^2].
        mumu2: M_mumu^2 of the selected events [GeV^2].
        centers: Window centres, shape (n, 2): (M_recoil^2, M_mumu^2) [GeV^2].
        axes: Semi-axes, shape (n, 2): (major, minor) [GeV^2].
        angles: Angle of the major axis with the x axis [rad], shape (n,).
        limit: At most this many windows are drawn, spread over the plane (:func:`spread_out`).
        style: Figure size, fonts and label.
    """
    style = style or Style()
    c, a, t = array(centers).reshape(-1, 2), array(axes).reshape(-1, 2), array(angles)
    chosen = spread_out(c, limit)
    x_range, y_range = _region(c, a) if len(c) else ((-1.0, 1.0), (0.0, 1.0))
    with rc(style):
        fig, ax = figure(style, 0.85)
        _density(ax, array(recoil2), array(mumu2), (x_range, y_range), fig)
        for i in chosen:
            for fill in (True, False):
                ax.add_patch(
                    Ellipse(
                        (float(c[i, 0]), float(c[i, 1])), 2 * float(a[i, 0]), 2 * float(a[i, 1]),
                        angle=math.degrees(float(t[i])), fill=fill, lw=0.9, color="#e42536",
                        alpha=0.3 if fill else 1.0,
                    )
                )  # fmt: skip
        if chosen.size:
            ax.plot([], [], color="#e42536", lw=1.0, label=f"{chosen.size} of {len(c)} windows")
            ax.legend(loc="upper right", fontsize=style.font_size - 1)
        ax.set_xlim(*x_range)
        ax.set_ylim(*y_range)
        ax.set_xlabel(r"$\mathit{M}_{\rm recoil}^2$ [GeV$^2$]")
        ax.set_ylabel(r"$\mathit{M}_{\mu\mu}^2$ [GeV$^2$]")
        label(ax, style)
    return fig


def _ratio_panel(ax: Axes, x: Any, data: Any, total: Any) -> None:
    """Data / simulation with the data's Poisson error, and a line at 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, data / total, np.nan)
        error = np.where(total > 0, np.sqrt(data) / total, np.nan)
    ax.axhline(1.0, color="0.4", lw=0.6, ls="--")
    ax.errorbar(x, ratio, yerr=error, fmt="o", color="k", ms=2.5, lw=0.8)
    finite = ratio[np.isfinite(ratio)]
    spread = float(np.max(np.abs(finite - 1.0), initial=0.0)) if finite.size else 0.0
    half = min(max(0.1, 1.3 * spread), 1.0)
    ax.set_ylim(1.0 - half, 1.0 + half)
    ax.set_ylabel("Data / MC")


def cutflow(
    yields: Mapping[str, Sequence[float]],
    cuts: Sequence[str],
    *,
    style: Style | None = None,
) -> Figure:
    """Cutflow: the simulated backgrounds stacked against the data after each cut, and their ratio.

    The y axis is logarithmic when the yields span more than a factor 30, else linear from 0
    (in thousands or millions of events above 10 000).

    Args:
        yields: For each process, the yield after each cut (same order as ``cuts``): ``"data"``
            (raw counts, drawn as points with Poisson errors), the backgrounds (weighted to the
            data luminosity, stacked in the given order); ``"signal"`` is not drawn.
        cuts: The cut labels shown on the x axis.
        style: Figure size, fonts and label.
    """
    style = style or Style()
    x = np.arange(len(cuts))
    mc = {p: array(v) for p, v in yields.items() if p not in ("data", "signal")}
    data = array(yields["data"]) if "data" in yields else None
    shown = np.concatenate([sum(mc.values(), np.zeros(len(cuts))), [] if data is None else data])
    largest = float(np.max(shown, initial=0.0))
    smallest = float(np.min(shown[shown > 0], initial=largest))
    logarithmic = largest > 30 * smallest  # the stack's totals and the data decide
    # a linear axis counts in thousands (or millions): no offset text under the label
    power = 0 if logarithmic or largest < 1e4 else 3 * int(math.log10(largest) // 3)
    with rc(style):
        fig, (top, bottom) = figure(
            style, 0.6, nrows=2, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
        scale = 10.0**-power
        base = np.zeros(len(cuts))
        for process, values in mc.items():
            top.bar(
                x, scale * values, width=0.85, bottom=scale * base, color=_COLOURS.get(process),
                label=PROCESS_LABELS.get(process, process), lw=0,
            )  # fmt: skip
            base = base + values
        if data is not None:
            top.errorbar(
                x, scale * data, yerr=scale * np.sqrt(data), fmt="o", color="k", ms=2.5, lw=0.8,
                label=PROCESS_LABELS["data"],
            )  # fmt: skip
            if mc:
                _ratio_panel(bottom, x, data, base)
        if logarithmic:
            top.set_yscale("log")
            top.set_ylim(0.3 * smallest, 6 * largest)
        else:
            top.set_ylim(0.0, 1.35 * scale * largest)
        top.set_ylabel("Events after cut" + (f" [$10^{power}$]" if power else ""))
        handles, names = top.get_legend_handles_labels()
        top.legend(handles[::-1], names[::-1], ncols=2, loc="upper right")
        bottom.set_xticks(x, list(cuts), rotation=45, ha="right", rotation_mode="anchor")
        bottom.set_xlim(-0.6, len(cuts) - 0.4)
        bottom.minorticks_off()
        bottom.tick_params(axis="x", which="both", top=False)
        label(top, style)
    return fig
