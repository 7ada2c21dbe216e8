"""The Markdown report of a run: ``report.md`` with the summary, tables and figure links.

:func:`write_report` writes the summary compared with the paper, the ten windows with the largest
local significance, the cutflow, the stage timings of ``run.json`` and links to the figures; each
section only when its files exist.

Example:
    >>> print(_table(["a", "b"], [["1", "2"]]))
    | a | b |
    |---|---|
    | 1 | 2 |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dhstat import rundir
from dhstat.jsonio import atomic_path, read_json
from dhstat.report.settings import ReportSettings
from dhstat.report.summary import format_summary, summarize
from dhstat.report.tables import Array, collect, cutflow_yields

__all__ = ["write_report"]

#: Columns of the top-windows table: (header, column, format).
_TOP_WINDOWS = (
    ("window", "id", ".0f"),
    ("M_A' [GeV]", "ma", ".3f"),
    ("M_h' [GeV]", "mh", ".3f"),
    ("N", "n_observed", ".0f"),
    ("B", "background", ".2f"),
    ("eff", "efficiency", ".3f"),
    ("Z", "z", ".2f"),
    ("B10", "bayes_factor", ".1f"),
    ("sigma UL [fb]", "sigma_ul", ".2f"),
)


def __dir__() -> list[str]:
    return __all__


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _top_windows(cols: Mapping[str, Array]) -> list[str]:
    """The ten windows with the largest local Z, as a table section."""
    order = np.argsort(-np.nan_to_num(cols["z"], nan=-np.inf))[:10]
    rows = [
        [
            format(cols[name][int(i)], spec) if name in cols else "-"
            for _, name, spec in _TOP_WINDOWS
        ]
        for i in order
    ]
    header = [title for title, _, _ in _TOP_WINDOWS]
    return [
        "",
        "## The ten windows with the largest local significance",
        "",
        _table(header, rows),
    ]


def _cutflow(flow: Mapping[str, Any]) -> list[str]:
    """The search-sample cutflow of ``cutflow.json``, as a table section."""
    cuts, yields = cutflow_yields(flow)
    names = list(yields)
    rows = [[cut, *[f"{yields[p][k]:.4g}" for p in names]] for k, cut in enumerate(cuts)]
    return [
        "",
        "## Cutflow (search sample; MC weighted to the luminosity)",
        "",
        _table(["cut", *names], rows),
    ]


def _stages(run_record: Path) -> list[str]:
    """The per-stage timings of ``run.json``, as a table section."""
    record = read_json(run_record, schema="run")
    rows = [
        [
            s["name"],
            s["status"],
            f"{s['wall_s']:.1f}",
            f"{s['cpu_s']:.1f}",
            f"{s['peak_rss_mb']:.0f}",
        ]
        for s in record["stages"]
    ]
    return [
        "",
        "## Stages",
        "",
        _table(["stage", "status", "wall [s]", "cpu [s]", "peak [MB]"], rows),
    ]


def _figures(root: Path, pngs: Sequence[Path]) -> list[str]:
    """A section with each PNG figure, linked relative to the run directory ``root``."""
    parts = ["", "## Figures", ""]
    for path in pngs:
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        parts += [f"### {path.stem}", "", f"![{path.stem}]({rel})", ""]
    return parts


def write_report(
    outdir: str | Path, settings: ReportSettings, *, figures: Sequence[Path] = ()
) -> Path:
    """Write ``outdir/report.md``: summary versus the paper, top windows, figures, provenance.

    Args:
        outdir: A run directory.
        settings: The report settings (the summary's M_A' range, the configuration's source and
            digest for the header).
        figures: The figure files to link (:func:`~dhstat.report.make_figures`); PNGs are shown.

    Returns:
        The report's path.
    """
    root = Path(outdir)
    summary = summarize(root, settings)
    tables = collect(root)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    parts = [
        "# dhstat run report",
        "",
        (
            f"Run directory `{root}`, configuration `{settings.config_source}` "
            f"(digest `{settings.config_digest[:16]}`), written {now}."
        ),
        "",
        "## Summary compared with the paper",
        "",
        "```",
        format_summary(summary).strip(),
        "```",
    ]
    if tables.has("z", "ma", "mh"):
        parts += _top_windows(tables.columns)
    flow = tables.documents.get("cutflow")
    if flow is not None:
        parts += _cutflow(flow)
    run_record = root / rundir.RUN
    if run_record.is_file():
        parts += _stages(run_record)
    pngs = [p for p in figures if p.suffix == ".png"]
    if pngs:
        parts += _figures(root, pngs)
    target = root / rundir.REPORT
    with atomic_path(target) as temporary:
        temporary.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return target
