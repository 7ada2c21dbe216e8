"""The look of every figure: mplhep's HEP style at a journal column's size, the label, saving.

Every figure is drawn inside :func:`rc` (mplhep's ``ROOT`` style, scaled to :class:`Style`'s
width and font size) on a :class:`matplotlib.figure.Figure` made by :func:`figure`, so nothing
touches pyplot's global state (:func:`save` draws inside :func:`rc` too: text is laid out when
drawn). :func:`label` writes the experiment label ("Belle II-like simulation") above the top left
of an axes and the luminosity (and sqrt(s)) above its right end, with
:func:`mplhep.label.exp_label`. :func:`save` writes each configured format atomically, with
no creation date in PDF and SVG files, so that a rerun gives identical bytes.

Example:
    >>> Style(luminosity_fb=8.34, sqrt_s_gev=10.58).luminosity_text()
    '8.34 fb$^{-1}$ (10.58 GeV)'
    >>> Style().luminosity_text() is None
    True
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib as mpl
import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from numpy.typing import ArrayLike, NDArray

from dhstat.jsonio import atomic_path

__all__ = [
    "MA_LABEL",
    "MH_LABEL",
    "Style",
    "array",
    "figure",
    "label",
    "plain_log_ticks",
    "rc",
    "save",
]

#: mplhep 1.x takes one font size per label part; 0.3.x one size for all.
_MPLHEP_1 = int(mplhep.__version__.split(".")[0]) >= 1

#: Axis titles of the masses. Math is upright (mplhep's ROOT style); variables are set italic
#: explicitly, which also draws the prime large enough to read.
MA_LABEL = r"$\mathit{M}_{\mathit{A'}}$ [GeV]"
MH_LABEL = r"$\mathit{M}_{\mathit{h'}}$ [GeV]"

#: Metadata that would change from one run to the next, removed per format (reproducible bytes).
_NO_DATES: Mapping[str, Mapping[str, Any]] = {
    "pdf": {"CreationDate": None, "ModDate": None},
    "svg": {"Date": None},
    "png": {},
}


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Style:
    """Size, text and label of the figures.

    Attributes:
        width_in: Width of a one-panel figure [inches] (3.4 in: one PRL column); multi-panel
            figures are twice as wide (a full page width).
        font_size: Base font size [pt].
        dpi: Resolution of raster output [dots per inch].
        formats: File formats :func:`save` writes.
        experiment: Bold part of the label above each figure ("Belle II-like").
        label_text: Italic text after it ("simulation").
        luminosity_fb: Integrated luminosity of the run [fb^-1], written above the top right of
            each figure (None: not written).
        sqrt_s_gev: Centre-of-mass energy [GeV], written after the luminosity (None: not written).
    """

    width_in: float = 3.4
    font_size: float = 8.0
    dpi: int = 200
    formats: tuple[str, ...] = ("png", "pdf")
    experiment: str = "Belle II-like"
    label_text: str = "simulation"
    luminosity_fb: float | None = None
    sqrt_s_gev: float | None = None

    @classmethod
    def from_config(
        cls,
        report: Mapping[str, Any],
        *,
        luminosity_fb: float | None = None,
        sqrt_s_gev: float | None = None,
    ) -> Style:
        """The style from a configuration's ``[report]`` table and the run's luminosity."""
        return cls(
            width_in=float(report["width_in"]),
            font_size=float(report["font_size"]),
            dpi=int(report["dpi"]),
            formats=tuple(report["formats"]),
            experiment=str(report.get("label_experiment", "Belle II-like")),
            label_text=str(report.get("label_text", "simulation")),
            luminosity_fb=luminosity_fb,
            sqrt_s_gev=sqrt_s_gev,
        )

    def luminosity_text(self, *, energy: bool = True) -> str | None:
        """The text above the top right: luminosity and, if ``energy``, sqrt(s) (None: neither)."""
        parts = []
        if self.luminosity_fb is not None:
            parts.append(f"{self.luminosity_fb:.3g} fb$^{{-1}}$")
        if energy and self.sqrt_s_gev is not None:
            text = f"{self.sqrt_s_gev:.2f} GeV"
            parts.append(f"({text})" if parts else text)
        return " ".join(parts) or None


def _rc_params(style: Style) -> dict[str, Any]:
    """The ROOT style of mplhep, scaled from its 10-inch canvas to ``style``'s column width."""
    size = style.font_size
    params = dict(mplhep.style.ROOT)
    params.pop("figure.figsize", None)
    params.update(
        {
            "font.size": size,
            "axes.labelsize": size,
            "axes.titlesize": size,
            "xtick.labelsize": size - 1,
            "ytick.labelsize": size - 1,
            "legend.fontsize": size - 1,
            "legend.handlelength": 1.4,
            "legend.borderaxespad": 0.4,
            "axes.linewidth": 0.6,
            "lines.linewidth": 1.0,
            "patch.linewidth": 0.6,
            "hatch.linewidth": 0.5,
            "xtick.major.size": 3.5,
            "ytick.major.size": 3.5,
            "xtick.minor.size": 1.75,
            "ytick.minor.size": 1.75,
            "xtick.major.width": 0.6,
            "ytick.major.width": 0.6,
            "xtick.minor.width": 0.5,
            "ytick.minor.width": 0.5,
            "xtick.major.pad": 3.0,
            "ytick.major.pad": 3.0,
            "axes.unicode_minus": True,
            "pdf.fonttype": 42,
            "svg.hashsalt": "dhstat",
            "savefig.dpi": style.dpi,
        }
    )
    return params


@contextlib.contextmanager
def rc(style: Style) -> Iterator[None]:
    """Matplotlib settings of every dhstat figure (mplhep's ROOT style at ``style``'s size)."""
    with mpl.rc_context(cast("Any", _rc_params(style))):
        yield


def figure(
    style: Style,
    aspect: float = 0.8,
    *,
    nrows: int = 1,
    ncols: int = 1,
    width: float = 1.0,
    **subplots: Any,
) -> tuple[Figure, Any]:
    """A constrained-layout figure ``width`` columns wide with ``nrows`` x ``ncols`` axes.

    The height is ``aspect`` x the column width per row. Call it inside :func:`rc`.
    """
    size = (style.width_in * width, style.width_in * aspect * nrows)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, **subplots)
    return fig, axes


def label(ax: Axes, style: Style) -> None:
    """The experiment label above the top left of ``ax``, the luminosity above its top right.

    sqrt(s) follows the luminosity on figures at least 1.5 columns wide (on one column, label
    and luminosity would overlap).
    """
    size = style.font_size
    wide = ax.get_figure().get_figwidth() >= 1.5 * style.width_in  # type: ignore[union-attr]
    # mplhep 1.x: one size per part; no draw of the whole figure to measure an offset text
    # (dhstat's axes have none)
    extra: dict[str, Any] = (
        {"fontsize": (size * 1.15, size, size - 0.5, size - 0.5), "scilocator_adjust": False}
        if _MPLHEP_1
        else {"fontsize": size}
    )
    mplhep.label.exp_label(
        exp=style.experiment,
        llabel=style.label_text,
        rlabel=style.luminosity_text(energy=wide) or "",
        loc=0,
        ax=ax,
        **extra,
    )


def plain_log_ticks(bar: Colorbar) -> None:
    """Label a logarithmic colour bar with plain numbers (2, 5, 10, 20, ...), not 2 x 10^0.

    Minor ticks get labels too when the bar spans few decades: 2, 3 and 5 within 1.2 decades,
    2 and 5 within 3 decades.
    """
    lo, hi = float(bar.norm.vmin or 1.0), float(bar.norm.vmax or 10.0)
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 0.0
    leading = {2, 3, 5} if decades <= 1.2 else ({2, 5} if decades <= 3 else set())

    def major(value: float, _: Any) -> str:
        return f"{value:g}"

    def minor(value: float, _: Any) -> str:
        if value <= 0:
            return ""
        digit = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
        return f"{value:g}" if digit in leading else ""

    bar.ax.yaxis.set_major_formatter(FuncFormatter(major))
    bar.ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def array(values: ArrayLike) -> NDArray[np.float64]:
    """``values`` as a float64 array."""
    return np.asarray(values, dtype=np.float64)


@contextlib.contextmanager
def _quiet_font_subsetting() -> Iterator[None]:
    """Silence fontTools while it embeds the fonts in a PDF.

    It logs every subsetting step (INFO) and warns that TeX Gyre Heros' creation timestamp
    "seems very low" (WARNING), for each file: noise, not a problem of the figure.
    """
    logger = logging.getLogger("fontTools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def save(fig: Figure, path_stem: str | Path, style: Style | None = None) -> list[Path]:
    """Write ``fig`` as ``<path_stem>.<format>`` for each format of ``style``, atomically.

    PDF and SVG files carry no creation date, so the same figure gives the same bytes.

    Returns:
        The files written.
    """
    style = style or Style()
    stem = Path(path_stem)
    written = []
    with rc(style), _quiet_font_subsetting():
        for fmt in style.formats:
            target = stem.with_name(f"{stem.name}.{fmt}")
            with atomic_path(target) as temporary:
                fig.savefig(temporary, format=fmt, dpi=style.dpi, metadata=dict(_NO_DATES[fmt]))
            written.append(target)
    return written
