"""The figures of a run: every figure of :mod:`dhstat.plots` its files allow, in ``figures/``.

:func:`make_figures` reads the run directory (:func:`~dhstat.report.tables.collect`) and draws
the window maps (counts, local Z, efficiency, resolutions), the windows over the selected events,
the look-elsewhere Z_max distribution, the cutflow and the interpretation figures (Fig. 2 and
Fig. 3 analogues, interpolated with :mod:`dhstat.interpretation`). Matplotlib is imported only
when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dhstat import interpretation, rundir, selection
from dhstat.processes import PROCESSES
from dhstat.report.settings import ReportSettings
from dhstat.report.tables import Array, RunTables, collect, cutflow_yields

if TYPE_CHECKING:
    from dhstat.plots import Style

__all__ = ["make_figures"]


def __dir__() -> list[str]:
    return __all__


def make_figures(outdir: str | Path, settings: ReportSettings) -> list[Path]:
    """Draw every figure the run's files allow into ``outdir/figures``; return the files written.

    Args:
        outdir: A run directory.
        settings: The report settings (figure style, ellipses drawn, map points, Fig. 3 slices).
    """
    from dhstat import plots  # local import: start-up time (matplotlib)

    root = Path(outdir)
    target = root / rundir.FIGURES
    style = plots.Style(
        width_in=settings.width_in,
        font_size=settings.font_size,
        dpi=settings.dpi,
        formats=settings.formats,
    )
    tables = collect(root)
    cols = tables.columns
    written: list[Path] = []

    def emit(fig: Any, name: str) -> None:
        written.extend(plots.save(fig, target / name, style))

    if tables.has("ma", "mh", "n_observed"):
        emit(
            plots.observed_counts(cols["ma"], cols["mh"], cols["n_observed"], style=style),
            "fig1_counts",
        )
    if tables.has("ma", "mh", "z"):
        emit(
            plots.local_significance_map(cols["ma"], cols["mh"], cols["z"], style=style), "local_z"
        )
    if tables.has("ma", "mh", "efficiency"):
        emit(
            plots.efficiency_map(cols["ma"], cols["mh"], cols["efficiency"], style=style),
            "efficiency",
        )
    windows = tables.documents.get("windows")
    if windows is not None:
        centers, axes, angles = windows.center, windows.axes, windows.angle
        sig_mumu, sig_recoil = _resolutions(centers, axes, angles)
        emit(
            plots.resolution_map(cols["ma"], cols["mh"], sig_mumu, sig_recoil, style=style),
            "resolution",
        )
        events = _selected_masses(root)
        if events is not None:
            emit(
                plots.windows_over_events(
                    events[0], events[1], centers, axes, angles,
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
        emit(plots.cutflow(yields, cuts, style=style), "cutflow")
    written.extend(_interpretation_figures(root, settings, tables, style))
    return written


def _resolutions(centers: Array, axes: Array, angles: Array) -> tuple[Array, Array]:
    """Mass resolutions from the window ellipses (2-sigma contours in squared masses).

    The ellipse half-extent along y = M_mumu^2 is 2 sigma(M^2) = 2 * 2 M sigma(M), hence
    sigma(M) = extent / (4 M); likewise for the recoil mass (x).
    """
    a, b = axes[:, 0], axes[:, 1]
    c, s = np.cos(angles), np.sin(angles)
    extent_x = np.sqrt((a * c) ** 2 + (b * s) ** 2)
    extent_y = np.sqrt((a * s) ** 2 + (b * c) ** 2)
    mass_x = np.sqrt(np.clip(centers[:, 0], 1e-6, None))
    mass_y = np.sqrt(np.clip(centers[:, 1], 1e-6, None))
    return extent_y / (4 * mass_y), extent_x / (4 * mass_x)


def _selected_masses(root: Path) -> tuple[Array, Array] | None:
    """M_recoil^2 and M_mumu^2 of the selected data events (None without a selected file)."""
    path = root / rundir.SELECTED
    if not path.is_file():
        return None
    sample = selection.read_selected([path])
    data = sample["process"] == PROCESSES.index("data")
    return np.asarray(sample["mrecoil2"])[data], np.asarray(sample["mmumu2"])[data]


def _interpretation_figures(
    root: Path, settings: ReportSettings, tables: RunTables, style: Style
) -> list[Path]:
    """Fig. 2 and Fig. 3 analogues, with the interpolation of :mod:`dhstat.interpretation`."""
    from dhstat import plots  # local import: start-up time (matplotlib)

    cols = tables.columns
    if not tables.has("ma", "mh", "sigma_ul"):
        return []
    written: list[Path] = []
    couplings = tables.documents.get("couplings")
    interpolation = (couplings or {}).get("interpolation", {})
    options = {
        "method": interpolation.get("method", "linear"),
        "log": interpolation.get("log", True),
        "mh_scale": interpolation.get("mh_scale", 1.0),
        "sqrt_s": (couplings or {}).get("sqrt_s"),
    }
    n = settings.map_points
    ma_axis = np.linspace(float(cols["ma"].min()), float(cols["ma"].max()), n)
    mh_axis = np.linspace(float(cols["mh"].min()), float(cols["mh"].max()), n)
    grid = interpretation.interpolate_limits(
        cols["ma"], cols["mh"], cols["sigma_ul"], ma_axis, mh_axis, **options
    )
    fig = plots.sigma_limit_map(
        ma_axis, mh_axis, grid, centres=(cols["ma"], cols["mh"]), style=style
    )
    written.extend(plots.save(fig, root / rundir.FIGURES / "fig2_sigma_limit", style))
    if couplings is not None:
        versus_ma, versus_mh = interpretation.coupling_curves(
            couplings, mh_values=settings.fig3_mh, ma_values=settings.fig3_ma
        )
        fig = plots.coupling_limits(versus_ma, versus_mh, style=style)
        written.extend(plots.save(fig, root / rundir.FIGURES / "fig3_coupling_limits", style))
    return written
