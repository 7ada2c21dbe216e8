"""The numbers of a run that the paper quotes, and the text tables printed after a run.

:func:`summarize` condenses a run directory into a :class:`Summary`; :func:`format_summary` prints
it beside the paper's values (:data:`PAPER`); :func:`format_timings` prints the per-stage timings
of a :class:`dhstat.pipeline.RunResult`.

Example:
    >>> s = Summary(n_windows=9003)
    >>> "9003" in format_summary(s)
    True
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dhstat.report.settings import ReportSettings
from dhstat.report.tables import RunTables, collect, first, ordered_processes

if TYPE_CHECKING:
    from dhstat.pipeline import RunResult

__all__ = [
    "PAPER",
    "RANGE_NOTE",
    "Summary",
    "format_summary",
    "format_timings",
    "range_windows",
    "summarize",
]

#: The paper's numbers (PRL 130, 071804), for the comparison in the summary.
PAPER: Mapping[str, Any] = {
    "n_selected": 28985,
    "fractions": {"mumu": 0.785, "tautau": 0.185, "eemumu": 0.03},
    "n_windows": 9003,
    "max_z": 3.7,
    "max_bayes_factor": 45.6,
    "max_z_mmumu": 5.44,
    "max_z_mrecoil": 3.18,
    "global_z": "< 1",
    "sigma_ul_fb": (1.7, 5.0),
    "coupling_ul": (1.7e-8, 2.0e-6),
    "ma_range": (4.0, 9.7),
}


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Summary:
    """The numbers of a run that the paper quotes (``None``: that stage has not run).

    Attributes:
        n_selected: Selected data events (all cuts before the windows).
        n_in_windows: Data events inside at least one window after its C_eta cut: what the paper
            calls "pass all the selection criteria" (28 985).
        window_counts: Sum of the window counts (an event counts in every window it falls in).
        expected: Expected background events per process (MC, scaled to the luminosity): inside
            the windows (after their C_eta cuts) when the counts exist, else after the selection.
        n_windows: Search windows.
        max_z: Largest local significance, with its ``bayes_factor``, ``ma`` and ``mh`` [GeV].
        max_bayes_factor: Bayes factor of the window with the largest Z.
        max_z_ma: M_A' (= M_mumu) of that window [GeV].
        max_z_mh: M_h' (= M_recoil) of that window [GeV].
        global_z: Global significance from the look-elsewhere toys.
        global_p: Global p-value.
        sigma_ul_range: (min, max) observed Bayesian upper limit on sigma [fb] over the range
            windows: M_A' in ``ma_range``, M_h' < M_A', sensitive and not prior-dominated.
        sigma_ul_expected_range: (min, max) of the median expected Bayesian limit [fb], same
            windows.
        cls_ul_range: (min, max) observed CLs upper limit [fb], same windows.
        cls_ul_expected_range: (min, max) median expected CLs upper limit [fb], same windows.
        coupling_ul_range: (min, max) observed upper limit on eps^2 alpha_D, same windows.
        coupling_ul_expected_range: (min, max) median expected limit on eps^2 alpha_D.
        n_range_windows: Number of windows the ranges are taken over.
        n_no_sensitivity: Windows without sensitivity (no limit).
        n_prior_dominated: Sensitive windows whose limit depends on the prior's upper edge.
        ma_range: The M_A' interval of the limit ranges [GeV].
    """

    n_selected: int | None = None
    n_in_windows: int | None = None
    window_counts: int | None = None
    expected: Mapping[str, float] | None = None
    n_windows: int | None = None
    max_z: float | None = None
    max_bayes_factor: float | None = None
    max_z_ma: float | None = None
    max_z_mh: float | None = None
    global_z: float | None = None
    global_p: float | None = None
    sigma_ul_range: tuple[float, float] | None = None
    sigma_ul_expected_range: tuple[float, float] | None = None
    cls_ul_range: tuple[float, float] | None = None
    cls_ul_expected_range: tuple[float, float] | None = None
    coupling_ul_range: tuple[float, float] | None = None
    coupling_ul_expected_range: tuple[float, float] | None = None
    n_range_windows: int | None = None
    n_no_sensitivity: int | None = None
    n_prior_dominated: int | None = None
    ma_range: tuple[float, float] = (4.0, 9.7)


# --------------------------------------------------------------------------------------------
# the numbers


def _selected_events(cutflow: Mapping[str, Any] | None) -> tuple[int | None, dict[str, float]]:
    if cutflow is None:
        return None, {}
    processes = cutflow.get("processes", {})
    expected: dict[str, float] = {}
    n_data: int | None = None
    for name in ordered_processes(processes):
        flow = processes[name]
        last = flow["samples"]["search"][-1]
        if name == "data":
            n_data = int(last["raw"])
        elif name != "signal":
            expected[name] = float(last["weighted"])
    return n_data, expected


def _largest_z(tables: RunTables) -> dict[str, Any]:
    """The largest local Z and its window's Bayes factor and masses (empty without a scan)."""
    cols = tables.columns
    values: dict[str, Any] = {}
    if tables.has("z", "ma", "mh") and np.any(~np.isnan(cols["z"])):
        best = int(np.nanargmax(cols["z"]))
        values["max_z"] = float(cols["z"][best])
        values["max_z_ma"] = float(cols["ma"][best])
        values["max_z_mh"] = float(cols["mh"][best])
        if "bayes_factor" in cols:
            values["max_bayes_factor"] = float(cols["bayes_factor"][best])
    return values


def range_windows(tables: RunTables, ma_range: tuple[float, float]) -> Any:
    """Which windows the quoted limit ranges use (a boolean mask over the windows).

    Those with M_A' in ``ma_range`` (open interval) and M_h' < M_A' that are sensitive and whose
    limit is not prior-dominated.

    Example:
        >>> import numpy as np
        >>> cols = {"ma": np.array([5.0, 5.0, 5.0, 3.0]), "mh": np.array([1.0, 1.0, 6.0, 1.0]),
        ...         "sensitive": np.array([1.0, 0.0, 1.0, 1.0]),
        ...         "prior_dominated": np.zeros(4)}
        >>> range_windows(RunTables(cols), (4.0, 9.7)).tolist()
        [True, False, False, False]
    """
    cols = tables.columns
    inside = (cols["ma"] > ma_range[0]) & (cols["ma"] < ma_range[1]) & (cols["mh"] < cols["ma"])
    if "sensitive" in cols:
        inside &= cols["sensitive"] > 0.5
    if "prior_dominated" in cols:
        inside &= ~(cols["prior_dominated"] > 0.5)
    return inside


#: The ranges of :class:`Summary`: field -> (column, quantile index of a band column or None).
_RANGES = {
    "sigma_ul_range": ("sigma_ul", None),
    "sigma_ul_expected_range": ("sigma_ul_expected", 2),
    "cls_ul_range": ("cls_ul", None),
    "cls_ul_expected_range": ("cls_ul_expected", 2),
    "coupling_ul_range": ("coupling_ul", None),
    "coupling_ul_expected_range": ("coupling_ul_expected", 2),
}


def _limit_ranges(tables: RunTables, ma_range: tuple[float, float]) -> dict[str, Any]:
    """(min, max) of the limits over :func:`range_windows`, observed and expected; the counts."""
    cols = dict(tables.columns)
    values: dict[str, Any] = {}
    if not tables.has("ma", "mh"):
        return values
    if "sigma_ul_expected" in cols and "coupling_per_fb" in cols:
        cols["coupling_ul_expected"] = cols["coupling_per_fb"][:, None] * cols["sigma_ul_expected"]
    used = range_windows(tables, ma_range)
    for key, (name, band) in _RANGES.items():
        if name in cols:
            column = cols[name] if band is None else cols[name][:, band]
            selected = column[used]
            selected = selected[np.isfinite(selected)]
            if selected.size:
                values[key] = (float(selected.min()), float(selected.max()))
    if "sigma_ul" in cols:
        values["n_range_windows"] = int(np.count_nonzero(used & np.isfinite(cols["sigma_ul"])))
    if "sensitive" in cols:
        values["n_no_sensitivity"] = int(np.count_nonzero(cols["sensitive"] < 0.5))
    if "prior_dominated" in cols:
        sensitive = cols.get("sensitive", np.ones_like(cols["prior_dominated"])) > 0.5
        values["n_prior_dominated"] = int(
            np.count_nonzero(sensitive & (cols["prior_dominated"] > 0.5))
        )
    return values


def summarize(
    outdir: str | Path, settings: ReportSettings, *, tables: RunTables | None = None
) -> Summary:
    """The paper's headline numbers for the run in ``outdir`` (``None`` where a stage is missing).

    Args:
        outdir: A run directory.
        settings: The report settings (their ``summary_ma_range`` bounds the limit ranges).
        tables: The run's tables if already read (:func:`~dhstat.report.tables.collect`).
    """
    tables = collect(outdir) if tables is None else tables
    cols = tables.columns
    ma_range = settings.summary_ma_range
    n_selected, expected = _selected_events(tables.documents.get("cutflow"))
    values: dict[str, Any] = {
        "n_selected": n_selected,
        "expected": expected or None,
        "ma_range": ma_range,
    }
    if "id" in cols:
        values["n_windows"] = len(cols["id"])
    counts = tables.documents.get("counts")
    if counts is not None:
        values["n_in_windows"] = int(np.sum(counts.cell_n_observed))
        values["window_counts"] = int(np.sum(counts.n_observed))
        # Like the paper's 28 486 +- 331: the expectation for the events inside the windows.
        in_windows = np.sum(counts.cell_background, axis=0)
        values["expected"] = {
            p: float(v) for p, v in zip(counts.processes, in_windows, strict=True)
        }
    values |= _largest_z(tables)
    lee = tables.documents.get("lee")
    if lee is not None:
        values["global_z"] = first(lee, "z_global")
        values["global_p"] = first(lee, "p_global")
    values |= _limit_ranges(tables, ma_range)
    return Summary(**values)


# --------------------------------------------------------------------------------------------
# text output


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _summary_rows(summary: Summary) -> list[tuple[str, str, str]]:
    """(quantity, this run, paper) rows of :func:`format_summary`."""
    rows: list[tuple[str, str, str]] = []
    rows.append(("selected data events (before windows)", _fmt(summary.n_selected, "d"), "-"))
    rows.append(("data events in windows (C_eta cut)", _fmt(summary.n_in_windows, "d"), "28985"))
    per_event = "-"
    if summary.window_counts is not None and summary.n_in_windows:
        per_event = f"{summary.window_counts} ({summary.window_counts / summary.n_in_windows:.2f})"
    rows.append(("window counts (per event)", per_event, "78740 (2.72)"))
    if summary.expected:
        total = sum(summary.expected.values())
        rows.append(("expected background (same events)", f"{total:.1f}", "28486 +- 331"))
        for process, value in summary.expected.items():
            share = value / total if total > 0 else 0.0
            paper = PAPER["fractions"].get(process)
            ref = f"{100 * paper:.1f} %" if paper is not None else "-"
            rows.append((f"  {process}", f"{value:.1f} ({100 * share:.1f} %)", ref))
    rows.append(("search windows", _fmt(summary.n_windows, "d"), "9003"))
    rows.append(("largest local Z [sigma]", _fmt(summary.max_z, ".2f"), "3.7"))
    rows.append(("  its Bayes factor", _fmt(summary.max_bayes_factor, ".1f"), "45.6"))
    rows.append(("  its M_mumu [GeV]", _fmt(summary.max_z_ma, ".3f"), "5.44"))
    rows.append(("  its M_recoil [GeV]", _fmt(summary.max_z_mh, ".3f"), "3.18"))
    glob = _fmt(summary.global_z, ".2f")
    if summary.global_p is not None:
        glob += f" (p = {summary.global_p:.3g})"
    rows.append(("global Z [sigma]", glob, "< 1"))
    rows += _limit_rows(summary)
    return rows


def _span(values: tuple[float, float] | None, spec: str) -> str:
    return "-" if values is None else f"{values[0]:{spec}} - {values[1]:{spec}}"


def _limit_rows(summary: Summary) -> list[tuple[str, str, str]]:
    """The limit rows of :func:`format_summary`: observed and expected, Bayesian and CLs."""
    lo, hi = summary.ma_range
    rows = [
        (f"sigma UL [fb], {lo:g} < M_A' < {hi:g}: observed", _span(summary.sigma_ul_range, ".2f"),
         "1.7 - 5.0"),
        ("  median expected", _span(summary.sigma_ul_expected_range, ".2f"), "-"),
        ("  CLs observed", _span(summary.cls_ul_range, ".2f"), "-"),
        ("  CLs median expected", _span(summary.cls_ul_expected_range, ".2f"), "-"),
        ("eps^2 alpha_D UL, same windows: observed", _span(summary.coupling_ul_range, ".2g"),
         "1.7e-08 - 2.0e-06"),
        ("  median expected", _span(summary.coupling_ul_expected_range, ".2g"), "-"),
    ]  # fmt: skip
    if summary.n_range_windows is not None:
        rows.append(("  windows of these ranges", f"{summary.n_range_windows}", "-"))
    if summary.n_no_sensitivity is not None:
        rows.append(("windows without sensitivity (no limit)", f"{summary.n_no_sensitivity}", "-"))
    if summary.n_prior_dominated is not None:
        rows.append(("prior-dominated limits (flagged)", f"{summary.n_prior_dominated}", "-"))
    return rows


#: The note printed under the summary: which windows the limit ranges use.
RANGE_NOTE = (
    "Limit ranges: windows with M_h' < M_A' in the M_A' range that are sensitive (signal yield "
    "per fb above the scan's threshold) and whose limit does not depend on the prior's upper "
    "edge sigma_max. Bayesian limits: flat prior on [0, sigma_max], the paper's method; CLs: "
    "asymptotic qtilde, for comparison."
)


def format_summary(summary: Summary) -> str:
    """The summary as an aligned text table, each line with the paper's value for comparison."""
    rows = _summary_rows(summary)
    width = max(len(r[0]) for r in rows) + 2
    value_width = max(12, *(len(r[1]) for r in rows)) + 2
    lines = ["", f"{'Summary':<{width}}{'this run':>{value_width}}   paper (PRL 130, 071804)"]
    lines += [f"{a:<{width}}{b:>{value_width}}   {c}" for a, b, c in rows]
    lines += ["", *textwrap.wrap(RANGE_NOTE, width=width + value_width + 28)]
    return "\n".join(lines)


def format_timings(result: RunResult) -> str:
    """Per-stage wall time, CPU time and peak memory of a run, as a text table."""
    lines = [
        "",
        f"{'stage':<12}{'status':>9}{'wall [s]':>10}{'cpu [s]':>10}{'peak [MB]':>11}",
    ]
    lines.extend(
        f"{stage.name:<12}{stage.status:>9}{stage.wall_s:10.1f}{stage.cpu_s:10.1f}"
        f"{stage.peak_rss_mb:11.0f}"
        for stage in result.stages
    )
    lines.append(f"{'total':<12}{'':>9}{result.wall_s:10.1f}")
    return "\n".join(lines)
