"""The report of a run: a summary compared with the paper, the figures and a Markdown report.

:func:`collect` reads a run directory's stage files into one per-window table (:class:`RunTables`);
:func:`summarize` condenses it into the numbers the paper quotes (:class:`Summary`: observed and
expected limits, Bayesian and CLs, over the sensitive, prior-independent windows of
:func:`range_windows`); :func:`make_figures` draws every figure of :mod:`dhstat.plots` (the limit
maps from :func:`limit_maps`) and :func:`write_report` writes ``report.md`` with the tables and
the figures. Everything tolerates a partial run: what is missing is left out (``None`` in the
summary). The configuration reaches them as one :class:`ReportSettings`, built once with
:meth:`ReportSettings.from_config`.

Modules:
    settings: :class:`ReportSettings`, the ``[report]`` table typed.
    tables: reading a run directory (:func:`collect`, :class:`RunTables`).
    summary: :class:`Summary`, :data:`PAPER`, :func:`summarize`, the text tables.
    figures: :func:`make_figures`.
    limit_figures: :func:`limit_maps` (limits interpolated over the mass plane, with the flags),
        the limit maps and the Fig. 3 analogues.
    markdown: :func:`write_report`.

Example:
    >>> s = Summary(n_windows=9003)
    >>> "9003" in format_summary(s)
    True
"""

from __future__ import annotations

from dhstat.report.figures import make_figures
from dhstat.report.limit_figures import LimitMaps, limit_maps
from dhstat.report.markdown import write_report
from dhstat.report.settings import ReportSettings
from dhstat.report.summary import (
    PAPER,
    Summary,
    format_summary,
    format_timings,
    range_windows,
    summarize,
)
from dhstat.report.tables import RunTables, collect

__all__ = [
    "PAPER",
    "LimitMaps",
    "ReportSettings",
    "RunTables",
    "Summary",
    "collect",
    "format_summary",
    "format_timings",
    "limit_maps",
    "make_figures",
    "range_windows",
    "summarize",
    "write_report",
]


def __dir__() -> list[str]:
    return __all__
