"""The report stage's settings: the ``[report]`` table and the configuration's identity, typed.

:class:`ReportSettings` is built once from the configuration (:meth:`ReportSettings.from_config`)
at the entry of ``dhstat report``, ``dhstat publish`` and the ``report`` stage of ``dhstat run``,
and passed down to :func:`~dhstat.report.make_figures`, :func:`~dhstat.report.write_report`,
:func:`~dhstat.report.summarize` and :func:`dhstat.publish.build_submission`.

Example:
    >>> from dhstat import config
    >>> settings = ReportSettings.from_config(config.load())
    >>> settings.summary_ma_range, settings.formats
    ((4.0, 9.7), ('png', 'pdf'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dhstat.config import Config

__all__ = ["ReportSettings"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """What the report, its figures and the HEPData submission take from the configuration.

    Attributes:
        width_in: Width of a one-panel figure [inches] (:class:`dhstat.plots.Style`).
        font_size: Base font size of the figures [pt].
        dpi: Resolution of raster figures [dots per inch].
        formats: File formats of every figure.
        label_experiment: Bold part of the label above every figure ("Belle II-like").
        label_text: Italic text after it ("simulation").
        ellipses_drawn: Number of window ellipses drawn over the selected events.
        map_points: Points per axis of the interpolated upper-limit maps (Fig. 2 analogue).
        hepdata_map_points: Points per axis of the interpolated limit table of the HEPData
            submission.
        fig3_mh: Fixed M_h' values [GeV] of the limit-versus-M_A' panel (Fig. 3 analogue).
        fig3_ma: Fixed M_A' values [GeV] of the limit-versus-M_h' panel.
        summary_ma_range: M_A' interval [GeV] over which the summary quotes the limit ranges.
        hepdata_max_mb: Largest size of a HEPData submission archive [MB].
        config_source: Where the configuration came from (for the report's header).
        config_digest: The configuration's digest (for the report's header).
    """

    width_in: float
    font_size: float
    dpi: int
    formats: tuple[str, ...]
    label_experiment: str
    label_text: str
    ellipses_drawn: int
    map_points: int
    hepdata_map_points: int
    fig3_mh: tuple[float, ...]
    fig3_ma: tuple[float, ...]
    summary_ma_range: tuple[float, float]
    hepdata_max_mb: float
    config_source: str
    config_digest: str

    @classmethod
    def from_config(cls, cfg: Config) -> ReportSettings:
        """The settings of the configuration ``cfg`` (its ``[report]`` table, source and digest)."""
        report: Any = cfg["report"]
        lo, hi = (float(v) for v in report["summary_ma_range"])
        return cls(
            width_in=float(report["width_in"]),
            font_size=float(report["font_size"]),
            dpi=int(report["dpi"]),
            formats=tuple(report["formats"]),
            label_experiment=str(report["label_experiment"]),
            label_text=str(report["label_text"]),
            ellipses_drawn=int(report["ellipses_drawn"]),
            map_points=int(report["map_points"]),
            hepdata_map_points=int(report["hepdata_map_points"]),
            fig3_mh=tuple(report["fig3_mh"]),
            fig3_ma=tuple(report["fig3_ma"]),
            summary_ma_range=(lo, hi),
            hepdata_max_mb=float(report["hepdata_max_mb"]),
            config_source=cfg.source,
            config_digest=cfg.digest(),
        )
