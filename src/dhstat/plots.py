"""Figures of a dhstat run: one function per figure, each returning a matplotlib Figure.

The functions take arrays (window masses, counts, limits, ...) and only draw: no statistics, no
interpolation (the interpolated limit map and the Fig. 3 curves come from
:mod:`dhstat.interpretation`). Figures are made with :class:`matplotlib.figure.Figure` directly, so
nothing touches pyplot's global state, and are sized for one column of a journal page
(:class:`Style`). :func:`save` writes each figure in every configured format, atomically.

Masses on the axes are in GeV, squared masses in GeV^2, cross sections in fb.

Example:
    >>> import numpy as np
    >>> fig = observed_counts(np.array([5.0, 6.0]), np.array([1.0, 2.0]), np.array([3, 0]))
    >>> fig.axes[0].get_xlabel()
    "$M_{h'}$ [GeV]"
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from numpy.typing import ArrayLike

from dhstat.jsonio import atomic_path

__all__ = [
    "Style",
    "coupling_limits",
    "cutflow",
    "efficiency_map",
    "local_significance_map",
    "max_z_distribution",
    "observed_counts",
    "resolution_map",
    "save",
    "sigma_limit_map",
    "windows_over_events",
]

MA_LABEL = "$M_{A'}$ [GeV]"
MH_LABEL = "$M_{h'}$ [GeV]"


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Style:
    """Size and text of the figures.

    Attributes:
        width_in: Width of a one-panel figure [inches] (3.4 in: one PRL column).
        font_size: Base font size [pt].
        dpi: Resolution of raster output [dots per inch].
        formats: File formats :func:`save` writes.
    """

    width_in: float = 3.4
    font_size: float = 8.0
    dpi: int = 200
    formats: tuple[str, ...] = ("png", "pdf")

    @classmethod
    def from_config(cls, report: Mapping[str, Any]) -> Style:
        """The style from a configuration's ``[report]`` table."""
        return cls(
            width_in=float(report["width_in"]),
            font_size=float(report["font_size"]),
            dpi=int(report["dpi"]),
            formats=tuple(report["formats"]),
        )


@contextlib.contextmanager
def _rc(style: Style) -> Iterator[None]:
    size = style.font_size
    with mpl.rc_context(
        {
            "font.size": size,
            "axes.labelsize": size,
            "axes.titlesize": size,
            "xtick.labelsize": size - 1,
            "ytick.labelsize": size - 1,
            "legend.fontsize": size - 1,
            "axes.linewidth": 0.6,
            "lines.linewidth": 1.0,
            "xtick.direction": "in",
            "ytick.direction": "in",
            "xtick.top": True,
            "ytick.right": True,
        }
    ):
        yield


def _figure(style: Style, aspect: float = 0.8, *, nrows: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=(style.width_in, style.width_in * aspect * nrows), layout="constrained")
    axes = fig.subplots(nrows, 1)
    return fig, axes


def _array(values: ArrayLike) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(values, dtype=np.float64)


def save(fig: Figure, path_stem: str | Path, style: Style | None = None) -> list[Path]:
    """Write ``fig`` as ``<path_stem>.<format>`` for each format of ``style``, atomically.

    Returns:
        The files written.
    """
    style = style or Style()
    stem = Path(path_stem)
    written = []
    for fmt in style.formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(target) as temporary:
            fig.savefig(temporary, format=fmt, dpi=style.dpi)
        written.append(target)
    return written


def _mass_scatter(
    ma: ArrayLike,
    mh: ArrayLike,
    values: ArrayLike,
    *,
    label: str,
    style: Style,
    norm: Normalize | None = None,
    cmap: str = "viridis",
    title: str | None = None,
) -> Figure:
    x, y, c = _array(mh), _array(ma), _array(values)
    colours = mpl.colormaps[cmap].with_extremes(bad="0.85")
    order = np.argsort(c, kind="stable")
    with _rc(style):
        fig, ax = _figure(style)
        size = max(0.5, min(12.0, 3000.0 / max(len(x), 1)))
        points = ax.scatter(
            x[order],
            y[order],
            c=c[order],
            s=size,
            norm=norm,
            cmap=colours,
            linewidths=0,
            plotnonfinite=True,
        )
        fig.colorbar(points, ax=ax, label=label)
        ax.set_xlabel(MH_LABEL)
        ax.set_ylabel(MA_LABEL)
        if title:
            ax.set_title(title)
    return fig


def observed_counts(
    ma: ArrayLike, mh: ArrayLike, n_observed: ArrayLike, *, style: Style | None = None
) -> Figure:
    """Fig. 1 analogue: observed events in each search window, drawn at the window centres.

    Args:
        ma: Window centres in M_A' [GeV].
        mh: Window centres in M_h' [GeV].
        n_observed: Observed events per window.
        style: Figure size and fonts.
    """
    n = _array(n_observed)
    top = max(float(n.max(initial=1.0)), 1.0)
    norm = LogNorm(vmin=1.0, vmax=max(top, 10.0)) if top > 10 else Normalize(0.0, top)
    shown = np.where(n > 0, n, np.nan) if top > 10 else n
    return _mass_scatter(
        ma, mh, shown, label="Observed events per window", style=style or Style(), norm=norm
    )


def local_significance_map(
    ma: ArrayLike, mh: ArrayLike, z: ArrayLike, *, style: Style | None = None
) -> Figure:
    """Local significance Z of every window at its centre (deficits negative), largest marked."""
    values = _array(z)
    finite = values[np.isfinite(values)]
    bound = max(3.0, float(np.max(np.abs(finite), initial=0.0)))
    fig = _mass_scatter(
        ma,
        mh,
        np.clip(values, -bound, bound),  # +-inf drawn at the ends of the scale, NaN grey
        label=r"Local significance $Z$ [$\sigma$]",
        style=style or Style(),
        norm=Normalize(-bound, bound),
        cmap="RdBu_r",
    )
    if np.any(~np.isnan(values)):
        best = int(np.nanargmax(values))
        ax = fig.axes[0]
        ax.plot(_array(mh)[best], _array(ma)[best], marker="o", mfc="none", mec="k", ms=7)
        ax.annotate(
            f"$Z$ = {values[best]:.2f}",
            (_array(mh)[best], _array(ma)[best]),
            textcoords="offset points",
            xytext=(6, -10),
        )
    return fig


def efficiency_map(
    ma: ArrayLike, mh: ArrayLike, efficiency: ArrayLike, *, style: Style | None = None
) -> Figure:
    """Signal efficiency (selection, window and C_eta cut) at each window centre."""
    eff = 100.0 * _array(efficiency)
    return _mass_scatter(
        ma,
        mh,
        eff,
        label="Signal efficiency [%]",
        style=style or Style(),
        norm=Normalize(0.0, max(float(eff.max(initial=1.0)), 1.0)),
    )


def resolution_map(
    ma: ArrayLike,
    mh: ArrayLike,
    sigma_mumu: ArrayLike,
    sigma_recoil: ArrayLike,
    *,
    style: Style | None = None,
) -> Figure:
    """Mass resolutions of the window fits: M_mumu (top) and M_recoil (bottom), in MeV."""
    style = style or Style()
    with _rc(style):
        fig, axes = _figure(style, 0.7, nrows=2)
        for ax, values, name in (
            (axes[0], sigma_mumu, r"$\sigma(M_{\mu\mu})$ [MeV]"),
            (axes[1], sigma_recoil, r"$\sigma(M_{\rm recoil})$ [MeV]"),
        ):
            v = 1000.0 * _array(values)
            positive = v[v > 0]
            norm = (
                LogNorm(float(positive.min()), float(positive.max()))
                if positive.size and positive.max() > 3 * positive.min()
                else None
            )
            points = ax.scatter(
                _array(mh), _array(ma), c=v, s=max(0.5, min(8.0, 2000.0 / max(v.size, 1))),
                norm=norm, cmap="viridis", linewidths=0,
            )  # fmt: skip
            fig.colorbar(points, ax=ax, label=name)
            ax.set_ylabel(MA_LABEL)
        axes[1].set_xlabel(MH_LABEL)
    return fig


def sigma_limit_map(
    ma_axis: ArrayLike,
    mh_axis: ArrayLike,
    limits: ArrayLike,
    *,
    centres: tuple[ArrayLike, ArrayLike] | None = None,
    cl: float = 0.9,
    style: Style | None = None,
) -> Figure:
    """Fig. 2 analogue: upper limit on sigma over the (M_A', M_h') plane, interpolated.

    Args:
        ma_axis: M_A' values of the map's rows [GeV].
        mh_axis: M_h' values of the map's columns [GeV].
        limits: Upper limit on sigma [fb], shape (len(ma_axis), len(mh_axis)); NaN outside the
            searched region.
        centres: Optional window centres (M_A', M_h') drawn as dots.
        cl: Credibility level, for the label.
        style: Figure size and fonts.
    """
    style = style or Style()
    grid = np.ma.masked_invalid(_array(limits))
    with _rc(style):
        fig, ax = _figure(style)
        positive = grid.compressed()
        positive = positive[positive > 0]
        norm = LogNorm(float(positive.min()), float(positive.max())) if positive.size else None
        mesh = ax.pcolormesh(
            _array(mh_axis), _array(ma_axis), grid, norm=norm, cmap="viridis", shading="auto",
            rasterized=True,
        )  # fmt: skip
        fig.colorbar(mesh, ax=ax, label=rf"{100 * cl:.0f}% CL upper limit on $\sigma$ [fb]")
        if centres is not None:
            ax.scatter(_array(centres[1]), _array(centres[0]), s=0.3, c="w", alpha=0.4, lw=0)
        ax.set_xlabel(MH_LABEL)
        ax.set_ylabel(MA_LABEL)
    return fig


def coupling_limits(
    versus_ma: Mapping[float, tuple[ArrayLike, ArrayLike]],
    versus_mh: Mapping[float, tuple[ArrayLike, ArrayLike]],
    *,
    cl: float = 0.9,
    style: Style | None = None,
) -> Figure:
    """Fig. 3 analogue: eps^2 alpha_D limits versus M_A' (top) and versus M_h' (bottom).

    Args:
        versus_ma: For each fixed M_h' [GeV], the curve (M_A' [GeV], limit on eps^2 alpha_D).
        versus_mh: For each fixed M_A' [GeV], the curve (M_h' [GeV], limit on eps^2 alpha_D).
        cl: Credibility level, for the label.
        style: Figure size and fonts.
    """
    style = style or Style()
    label = rf"{100 * cl:.0f}% CL UL on $\epsilon^2\alpha_D$"
    with _rc(style):
        fig, (top, bottom) = _figure(style, 0.75, nrows=2)
        for ax, curves, fixed, xlabel in (
            (top, versus_ma, "M_{h'}", MA_LABEL),
            (bottom, versus_mh, "M_{A'}", MH_LABEL),
        ):
            for index, (mass, (x, y)) in enumerate(sorted(curves.items())):
                yy = _array(y)
                if not np.any(yy > 0):
                    continue  # the slice misses the searched region: no curve, no legend entry
                ax.plot(
                    _array(x),
                    np.where(yy > 0, yy, np.nan),
                    color=f"C{index}",
                    label=f"${fixed}$ = {mass:g} GeV",
                )
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            if ax.get_lines():
                ax.legend(frameon=False, ncols=2)
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
    values = _array(max_z)
    values = values[np.isfinite(values)]
    with _rc(style):
        fig, ax = _figure(style, 0.7)
        shown = observed if math.isfinite(observed) else float(values.max(initial=0.0)) + 1.0
        lo = min(float(values.min(initial=shown)), shown) - 0.2
        hi = max(float(values.max(initial=shown)), shown) + 0.2
        bins = np.linspace(lo, hi, 41)
        counts, _, _ = ax.hist(
            values, bins=bins, histtype="stepfilled", alpha=0.6, label=f"{values.size} toys"
        )
        label = f"observed {observed:.2f}"
        if global_z is not None:
            label += rf" (global {global_z:.2f}$\sigma$)"
        ax.axvline(shown, color="C3", label=label)
        if np.any(counts > 0):
            ax.set_yscale("log")
        ax.set_xlabel(r"Largest local significance $Z_{\max}$ [$\sigma$]")
        ax.set_ylabel("Toys per bin")
        ax.legend(frameon=False)
    return fig


def windows_over_events(
    recoil2: ArrayLike,
    mumu2: ArrayLike,
    centers: ArrayLike,
    axes: ArrayLike,
    angles: ArrayLike,
    *,
    limit: int = 300,
    style: Style | None = None,
) -> Figure:
    """Selected events in the (M_recoil^2, M_mumu^2) plane with window ellipses drawn over them.

    Args:
        recoil2: M_recoil^2 of the selected events [GeV^2].
        mumu2: M_mumu^2 of the selected events [GeV^2].
        centers: Window centres, shape (n, 2): (M_recoil^2, M_mumu^2) [GeV^2].
        axes: Semi-axes, shape (n, 2): (major, minor) [GeV^2].
        angles: Angle of the major axis with the x axis [rad], shape (n,).
        limit: At most this many windows are drawn (every k-th one).
        style: Figure size and fonts.
    """
    style = style or Style()
    c, a, t = _array(centers).reshape(-1, 2), _array(axes).reshape(-1, 2), _array(angles)
    step = max(1, math.ceil(len(c) / max(limit, 1)))
    with _rc(style):
        fig, ax = _figure(style, 0.9)
        ax.scatter(_array(recoil2), _array(mumu2), s=0.2, c="k", alpha=0.4, lw=0, rasterized=True)
        for i in range(0, len(c), step):
            ax.add_patch(
                Ellipse(
                    (float(c[i, 0]), float(c[i, 1])),
                    2 * float(a[i, 0]),
                    2 * float(a[i, 1]),
                    angle=math.degrees(float(t[i])),
                    fill=False,
                    lw=0.3,
                    color="C0",
                )
            )
        ax.set_xlabel(r"$M_{\rm recoil}^2$ [GeV$^2$]")
        ax.set_ylabel(r"$M_{\mu\mu}^2$ [GeV$^2$]")
        ax.set_title(f"{len(c)} windows (every {step}. drawn)" if step > 1 else f"{len(c)} windows")
    return fig


def cutflow(
    yields: Mapping[str, Sequence[float]],
    cuts: Sequence[str],
    *,
    style: Style | None = None,
) -> Figure:
    """Cutflow: weighted yield of each process after each cut (log scale).

    Args:
        yields: For each process, the yield after each cut (same order as ``cuts``).
        cuts: Cut names.
        style: Figure size and fonts.
    """
    style = style or Style()
    with _rc(style):
        fig, ax = _figure(style, 1.0)
        x = np.arange(len(cuts))
        for process, values in yields.items():
            v = _array(values)
            extra = {"color": "k", "marker": "s"} if process == "data" else {"marker": "o"}
            ax.plot(x, np.where(v > 0, v, np.nan), ms=2.5, label=process, **extra)
        ax.set_yscale("log")
        ax.set_xticks(x, list(cuts), rotation=60, ha="right")
        ax.set_ylabel("Events after cut")
        ax.legend(frameon=False)
    return fig
