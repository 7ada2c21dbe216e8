"""The Markdown report of a run: ``report.md`` with the summary, tables and figure links.

:func:`write_report` writes the summary compared with the paper (observed and expected limits,
Bayesian and CLs, and which windows the quoted ranges use), the limits over those windows, the
ten windows with the largest local significance, the cutflow, the stage timings of ``run.json``
and the figures with their captions; each section only when its files exist.

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
from dhstat.report.calibration import calibration_rows, format_calibration
from dhstat.report.settings import ReportSettings
from dhstat.report.summary import format_summary, range_windows, summarize
from dhstat.report.tables import Array, RunTables, collect, cut_label, cutflow_yields

__all__ = ["CAPTIONS", "write_report"]

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
    ("UL obs. [fb]", "sigma_ul", ".2f"),
    ("UL exp. [fb]", "sigma_ul_expected", ".2f"),
    ("CLs obs. [fb]", "cls_ul", ".2f"),
    ("CLs exp. [fb]", "cls_ul_expected", ".2f"),
)

#: Rows of the limits table: (quantity, column, quantile of a band column or None).
_LIMITS = (
    ("Bayesian UL, observed [fb]", "sigma_ul", None),
    ("Bayesian UL, median expected [fb]", "sigma_ul_expected", 2),
    ("CLs UL, observed [fb]", "cls_ul", None),
    ("CLs UL, median expected [fb]", "cls_ul_expected", 2),
    ("Bayesian UL, observed / median expected", "ratio", None),
    ("CLs / Bayesian UL, observed", "cls_over_bayes", None),
)

#: Captions of the figures, by file stem.
CAPTIONS = {
    "fig1_counts": "Observed events in each search window, at the window centre (Fig. 1 analogue).",
    "local_z": (
        "Local significance Z of each window (one-sided: 0 for a deficit); the largest is circled."
    ),
    "efficiency": "Signal efficiency of each window (selection, ellipse and C_eta cut).",
    "expected_significance": (
        "Median expected local significance of each window for the signal cross section of the "
        "scan's settings (sensitivity map)."
    ),
    "resolution": (
        "Mass resolutions of the windows from their fitted ellipses; grey where the window "
        "reaches M^2 <= 0 and the resolution in M is undefined."
    ),
    "windows": "A few search windows (2 sigma ellipses) over the density of the selected data.",
    "max_z": (
        "Largest local Z over all windows in background-only toys, with the observed value "
        "(look-elsewhere effect)."
    ),
    "cutflow": (
        "Events after each cut of the search selection: simulated backgrounds stacked (weighted "
        "to the luminosity) against the data, and their ratio."
    ),
    "fig2_sigma_limit": (
        "Observed Bayesian upper limit on sigma(e+e- -> A'h'), interpolated over the mass plane "
        "(Fig. 2 analogue); hatched: prior-dominated; grey: no sensitivity, no limit."
    ),
    "expected_sigma_limit": (
        "Median expected Bayesian upper limit under the background-only hypothesis, same "
        "colour scale as the observed map."
    ),
    "observed_over_expected": (
        "Observed over median expected limit: red, weaker than expected (an excess); blue, "
        "stronger (a deficit)."
    ),
    "fig3_coupling_limits": (
        "Observed upper limit on eps^2 alpha_D along slices of the mass plane (Fig. 3 analogue); "
        "dotted: prior-dominated."
    ),
    "fig3_expected_vs_ma": (
        "Observed limit versus M_A' over the expected one's +-1 sigma (green) and +-2 sigma "
        "(yellow) bands, at the Fig. 3 analogue's M_h' values."
    ),
    "fig3_expected_vs_mh": (
        "Observed limit versus M_h' over the expected bands, at the Fig. 3 analogue's M_A' values."
    ),
}


def __dir__() -> list[str]:
    return __all__


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _cell(cols: Mapping[str, Array], name: str, row: int, spec: str) -> str:
    """One table cell: the value, a band as "median (-1 sd, +1 sd)", "-" when missing."""
    if name not in cols:
        return "-"
    value = cols[name][row]
    if np.ndim(value) == 1:
        if not np.isfinite(value[2]):
            return "-"
        return f"{value[2]:{spec}} ({value[1]:{spec}}, {value[3]:{spec}})"
    return format(value, spec) if np.isfinite(value) or np.isinf(value) else "-"


def _flags(cols: Mapping[str, Array], row: int) -> str:
    flags = []
    if "sensitive" in cols and cols["sensitive"][row] < 0.5:
        flags.append("no sensitivity")
    if "prior_dominated" in cols and cols["prior_dominated"][row] > 0.5:
        flags.append("prior-dominated")
    return ", ".join(flags) or "-"


def _top_windows(cols: Mapping[str, Array]) -> list[str]:
    """The ten windows with the largest local Z, as a table section."""
    order = np.argsort(-np.nan_to_num(cols["z"], nan=-np.inf), kind="stable")[:10]
    rows = [
        [_cell(cols, name, int(i), spec) for _, name, spec in _TOP_WINDOWS] + [_flags(cols, int(i))]
        for i in order
    ]
    header = [title for title, _, _ in _TOP_WINDOWS] + ["flags"]
    return [
        "",
        "## The ten windows with the largest local significance",
        "",
        (
            "Limits at the credibility (confidence) level of the scan; expected: median "
            "(-1 sd, +1 sd) under the background-only hypothesis."
        ),
        "",
        _table(header, rows),
    ]


def _limits(tables: RunTables, settings: ReportSettings) -> list[str]:
    """Quantiles of the limits over the windows of the quoted ranges, as a table section."""
    cols = dict(tables.columns)
    used = range_windows(tables, settings.summary_ma_range) & np.isfinite(cols["sigma_ul"])
    if "sigma_ul_expected" in cols:
        cols["ratio"] = cols["sigma_ul"] / cols["sigma_ul_expected"][:, 2]
    if "cls_ul" in cols:
        cols["cls_over_bayes"] = cols["cls_ul"] / cols["sigma_ul"]
    rows = []
    for title, name, band in _LIMITS:
        if name not in cols:
            continue
        column = cols[name] if band is None else cols[name][:, band]
        values = column[used & np.isfinite(column)]
        if values.size:
            q = np.quantile(values, [0.0, 0.16, 0.5, 0.84, 1.0])
            rows.append([title, *(f"{v:.3g}" for v in q)])
    if not rows:
        return []
    lo, hi = settings.summary_ma_range
    return [
        "",
        "## Limits over the windows of the quoted ranges",
        "",
        (
            f"{int(np.count_nonzero(used))} windows with {lo:g} < M_A' < {hi:g} GeV and "
            "M_h' < M_A' that are sensitive and not prior-dominated. " + _flag_counts(cols)
        ),
        "",
        _table(["quantity", "min", "16 %", "median", "84 %", "max"], rows),
    ]


def _flag_counts(cols: Mapping[str, Array]) -> str:
    parts = []
    if "sensitive" in cols:
        n = int(np.count_nonzero(cols["sensitive"] < 0.5))
        parts.append(f"without sensitivity, hence without a limit (flag no_sensitivity): {n}")
    if "prior_dominated" in cols:
        sensitive = cols.get("sensitive", np.ones_like(cols["prior_dominated"])) > 0.5
        n = int(np.count_nonzero(sensitive & (cols["prior_dominated"] > 0.5)))
        parts.append(
            "with a limit that depends on the prior's upper edge sigma_max (flag sigma_max, "
            f"prior-dominated; hatched in the maps): {n}"
        )
    return ("Windows " + "; ".join(parts) + ".") if parts else ""


def _cutflow(flow: Mapping[str, Any]) -> list[str]:
    """The search-sample cutflow of ``cutflow.json``, as a table section."""
    cuts, yields = cutflow_yields(flow)
    names = list(yields)
    rows = [
        [f"{cut_label(cut)} (`{cut}`)", *[f"{yields[p][k]:.4g}" for p in names]]
        for k, cut in enumerate(cuts)
    ]
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
        if path.stem in CAPTIONS:
            parts += [f"*{CAPTIONS[path.stem]}*", ""]
    return parts


#: What the calibration table compares (its rows: :mod:`dhstat.report.calibration`).
_CALIBRATION_NOTE = (
    "Where a physicist checks first: the limit range over the windows of the quoted ranges, the "
    "background composition in the windows, the window geometry (overlap of neighbouring windows, "
    "signal fraction inside a window, windows per selected event) and the flat vs log-prior "
    "difference, each against the paper and the goal it is held to (docs/calibration.md)."
)


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
    tables = collect(root)
    summary = summarize(root, settings, tables=tables)
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
    if tables.has("ma", "mh", "sigma_ul"):
        parts += _limits(tables, settings)
    calibration = format_calibration(calibration_rows(summary, tables, settings.summary_ma_range))
    if calibration:
        parts += ["", "## Calibration against the paper", "", _CALIBRATION_NOTE, "", *calibration]
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
