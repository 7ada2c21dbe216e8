"""The figures of a run: every figure of :mod:`dhstat.plots` its files allow, in ``figures/``.

:func:`make_figures` reads the run directory (:func:`~dhstat.report.tables.collect`) and draws
the window maps (counts, local Z, efficiency, resolutions, expected significance), a few windows
over the density of the selected events, the look-elsewhere Z_max distribution, the cutflow
(simulation stacked against the data) and the limit figures of :mod:`dhstat.report.limit_figures`
(observed and expected limit maps, their ratio, Fig. 3 analogues with the expected bands). Every
figure carries the run's luminosity. Matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dhstat import rundir, selection
from dhstat.report.limit_figures import limit_figures
from dhstat.report.settings import ReportSettings
from dhstat.report.tables import Array, RunTables, collect, cut_label, cutflow_yields, first

if TYPE_CHECKING:
    from dhstat.plots import Style

__all__ = ["make_figures", "plot_style"]

Emit = Callable[[Any, str], None]


def __dir__() -> list[str]:
    return __all__


def plot_style(settings: ReportSettings, tables: RunTables) -> Style:
    """The figures' style: the report settings, with the run's luminosity and sqrt(s)."""
    from dhstat import plots  # local import: start-up time (matplotlib)

    return plots.Style(
        width_in=settings.width_in,
        font_size=settings.font_size,
        dpi=settings.dpi,
        formats=settings.formats,
        experiment=settings.label_experiment,
        label_text=settings.label_text,
        luminosity_fb=tables.luminosity_fb,
        sqrt_s_gev=tables.sqrt_s_gev,
    )


def make_figures(outdir: str | Path, settings: ReportSettings) -> list[Path]:
    """Draw every figure the run's files allow into ``outdir/figures``; return the files written.

    Args:
        outdir: A run directory.
        settings: The report settings (figure style, ellipses drawn, map points, Fig. 3 slices).
    """
    from dhstat import plots  # local import: start-up time (matplotlib)

    root = Path(outdir)
    target = root / rundir.FIGURES
    tables = collect(root)
    style = plot_style(settings, tables)
    written: list[Path] = []

    def emit(fig: Any, name: str) -> None:
        written.extend(plots.save(fig, target / name, style))

    _window_maps(tables, style, emit)
    _event_figures(root, tables, settings, style, emit)
    limit_figures(tables, settings, style, emit)
    return written


def _window_maps(tables: RunTables, style: Style, emit: Emit) -> None:
    """Counts, local Z, efficiency, resolutions and expected significance at the window centres."""
    from dhstat import plots  # local import: start-up time (matplotlib)

    cols = tables.columns
    if not tables.has("ma", "mh"):
        return
    ma, mh = cols["ma"], cols["mh"]
    if "n_observed" in cols:
        emit(plots.observed_counts(ma, mh, cols["n_observed"], style=style), "fig1_counts")
    if "z" in cols:
        emit(plots.local_significance_map(ma, mh, cols["z"], style=style), "local_z")
    if "efficiency" in cols:
        emit(plots.efficiency_map(ma, mh, cols["efficiency"], style=style), "efficiency")
    if "z_expected" in cols and np.any(np.isfinite(cols["z_expected"])):
        sigma = first(tables.documents.get("scan"), "settings.sensitivity_sigma_fb")
        emit(
            plots.sensitivity_map(
                ma, mh, cols["z_expected"], sigma_fb=None if sigma is None else float(sigma),
                style=style,
            ),
            "expected_significance",
        )  # fmt: skip
    windows = tables.documents.get("windows")
    if windows is not None:
        sig_mumu, sig_recoil = _resolutions(windows.center, windows.axes, windows.angle)
        emit(plots.resolution_map(ma, mh, sig_mumu, sig_recoil, style=style), "resolution")


def _event_figures(
    root: Path, tables: RunTables, settings: ReportSettings, style: Style, emit: Emit
) -> None:
    """The windows over the selected events, the Z_max distribution and the cutflow."""
    from dhstat import plots  # local import: start-up time (matplotlib)

    windows = tables.documents.get("windows")
    events = _selected_masses(root) if windows is not None else None
    if windows is not None and events is not None:
        emit(
            plots.windows_over_events(
                events[0], events[1], windows.center, windows.axes, windows.angle,
                limit=settings.ellipses_drawn, style=style,
            ),
            "windows",
        )  # fmt: skip
    lee = tables.documents.get("lee")
    if lee is not None:
        emit(
            plots.max_z_distribution(
                np.asarray(lee["max_z"], dtype=float),
                float(lee["z_local"]),
                global_z=lee["z_global"],
                style=style,
            ),
            "max_z",
        )
    flow = tables.documents.get("cutflow")
    if flow is not None:
        cuts, yields = cutflow_yields(flow)
        emit(plots.cutflow(yields, [cut_label(c) for c in cuts], style=style), "cutflow")


def _resolutions(centers: Array, axes: Array, angles: Array) -> tuple[Array, Array]:
    """Mass resolutions from the window ellipses (2-sigma contours in squared masses).

    The ellipse half-extent along y = M_mumu^2 is 2 sigma(M^2) = 2 * 2 M sigma(M), hence
    sigma(M) = extent / (4 M); likewise for the recoil mass (x). The resolution in M is defined
    only where the ellipse stays at M^2 > 0 (else the window reaches M = 0 and the linear
    relation fails, as for the M_h' ~ 0 windows): NaN there.
    """
    a, b = axes[:, 0], axes[:, 1]
    c, s = np.cos(angles), np.sin(angles)
    extent_x = np.sqrt((a * c) ** 2 + (b * s) ** 2)
    extent_y = np.sqrt((a * s) ** 2 + (b * c) ** 2)
    defined_x = centers[:, 0] > extent_x
    defined_y = centers[:, 1] > extent_y
    mass_x = np.sqrt(np.where(defined_x, centers[:, 0], 1.0))
    mass_y = np.sqrt(np.where(defined_y, centers[:, 1], 1.0))
    sig_mumu = np.where(defined_y, extent_y / (4 * mass_y), np.nan)
    sig_recoil = np.where(defined_x, extent_x / (4 * mass_x), np.nan)
    return sig_mumu, sig_recoil


def _selected_masses(root: Path) -> tuple[Array, Array] | None:
    """M_recoil^2 and M_mumu^2 of the selected data events (None without a selected file)."""
    path = root / rundir.SELECTED
    if not path.is_file():
        return None
    processes = selection.selected_processes([path])
    sample = selection.read_selected([path], processes=processes)
    data = sample["process"] == processes.index("data")
    return np.asarray(sample["mrecoil2"])[data], np.asarray(sample["mmumu2"])[data]
