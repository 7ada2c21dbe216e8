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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dhstat.report.settings import ReportSettings
from dhstat.report.tables import RunTables, collect, first, ordered_processes

if TYPE_CHECKING:
    from dhstat.pipeline import RunResult

__all__ = ["PAPER", "Summary", "format_summary", "format_timings", "summarize"]

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
        sigma_ul_range: (min, max) upper limit on sigma [fb] for M_A' in ``ma_range``.
        coupling_ul_range: (min, max) upper limit on eps^2 alpha_D for M_A' in ``ma_range``.
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
    coupling_ul_range: tuple[float, float] | None = None
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


def _limit_ranges(tables: RunTables, ma_range: tuple[float, float]) -> dict[str, Any]:
    """(min, max) of the sigma and coupling limits for M_A' in ``ma_range`` and M_h' < M_A'."""
    cols = tables.columns
    values: dict[str, Any] = {}
    if tables.has("ma", "mh"):
        inside = (cols["ma"] > ma_range[0]) & (cols["ma"] < ma_range[1]) & (cols["mh"] < cols["ma"])
        for name, key in (("sigma_ul", "sigma_ul_range"), ("coupling_ul", "coupling_ul_range")):
            if name in cols:
                sel = cols[name][inside]
                sel = sel[np.isfinite(sel)]
                if sel.size:
                    values[key] = (float(sel.min()), float(sel.max()))
    return values


def summarize(outdir: str | Path, settings: ReportSettings) -> Summary:
    """The paper's headline numbers for the run in ``outdir`` (``None`` where a stage is missing).

    Args:
        outdir: A run directory.
        settings: The report settings (their ``summary_ma_range`` bounds the limit ranges).
    """
    tables = collect(outdir)
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
    lo, hi = summary.ma_range
    sigma = summary.sigma_ul_range
    coupling = summary.coupling_ul_range
    rows.append(
        (
            f"sigma UL [fb], {lo:g} < M_A' < {hi:g}",
            f"{sigma[0]:.2f} - {sigma[1]:.2f}" if sigma else "-",
            "1.7 - 5.0",
        )
    )
    rows.append(
        (
            "eps^2 alpha_D UL, same range",
            f"{coupling[0]:.2g} - {coupling[1]:.2g}" if coupling else "-",
            "1.7e-08 - 2.0e-06",
        )
    )
    return rows


def format_summary(summary: Summary) -> str:
    """The summary as an aligned text table, each line with the paper's value for comparison."""
    rows = _summary_rows(summary)
    width = max(len(r[0]) for r in rows) + 2
    value_width = max(12, *(len(r[1]) for r in rows)) + 2
    lines = ["", f"{'Summary':<{width}}{'this run':>{value_width}}   paper (PRL 130, 071804)"]
    lines += [f"{a:<{width}}{b:>{value_width}}   {c}" for a, b, c in rows]
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
