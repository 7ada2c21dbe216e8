"""The run against the paper where a physicist checks first: the calibration table of the report.

Each :class:`CalibrationRow` holds one quantity of the run, the paper's value and the goal the
comparison is held to (the issue-18 goals: the limit range's bulk and 95th percentile, background
composition within 5 points, window geometry within 15 %, flat vs log prior below 3 %), and
whether the run meets it. :func:`calibration_rows` computes them from a run's tables and
:class:`~dhstat.report.summary.Summary`; :func:`format_calibration` renders the Markdown table.

Example:
    >>> import numpy as np
    >>> from dhstat.report.summary import Summary
    >>> from dhstat.report.tables import RunTables
    >>> summary = Summary(n_in_windows=100, window_counts=270)
    >>> rows = calibration_rows(summary, RunTables({}), (4.0, 9.7))
    >>> [(r.quantity, r.run, r.met) for r in rows]
    [('windows per event', '2.70', True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dhstat.report.summary import PAPER, Summary, range_windows
from dhstat.report.tables import RunTables

__all__ = ["CalibrationRow", "calibration_rows", "format_calibration"]


def __dir__() -> list[str]:
    return __all__


#: The paper's window geometry (PRL 130, 071804): neighbour overlap, signal fraction in a window,
#: windows per selected event (78 740 / 28 985).
PAPER_WINDOWS = {"overlap": 0.75, "containment": 0.71, "per_event": 78740 / 28985}

#: Relative tolerance of the window-geometry goals, and the absolute one of the composition.
GEOMETRY_TOLERANCE = 0.15
COMPOSITION_POINTS = 5.0
#: Goal of the flat vs log prior comparison: median relative difference of the limits.
LOG_PRIOR_GOAL = 0.03
#: Goal of the limit range: [low, high] x the paper's 1.7-5.0 fb.
RANGE_FACTORS = (0.7, 1.3)


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    """One quantity of the run beside the paper's value and the goal it is held to.

    Attributes:
        quantity: What is compared.
        run: This run's value, formatted.
        paper: The paper's value, formatted.
        goal: The goal in words.
        met: Whether the run meets the goal.
    """

    quantity: str
    run: str
    paper: str
    goal: str
    met: bool


def _percentiles(values: Any) -> Any:
    return np.percentile(values, [5, 50, 95])


def _limit_rows(tables: RunTables, ma_range: tuple[float, float]) -> list[CalibrationRow]:
    """The limit range's percentiles (observed, expected), the M_A' > 9 GeV median, the coupling."""
    cols = tables.columns
    if not tables.has("ma", "mh", "sigma_ul"):
        return []
    used = range_windows(tables, ma_range) & np.isfinite(cols["sigma_ul"])
    if not np.any(used):
        return []
    low, high = PAPER["sigma_ul_fb"]
    lo, hi = low * RANGE_FACTORS[0], high * RANGE_FACTORS[1]
    goal = f"5-95 % inside {lo:.2f}-{hi:.2f}"
    rows = []
    series = [("observed", cols["sigma_ul"])]
    if "sigma_ul_expected" in cols:
        series.append(("median expected", cols["sigma_ul_expected"][:, 2]))
    for name, column in series:
        values = column[used & np.isfinite(column)]
        p5, p50, p95 = _percentiles(values)
        rows.append(
            CalibrationRow(
                f"90 % UL on sigma [fb], {name}: 5 / 50 / 95 % of the windows",
                f"{p5:.2f} / {p50:.2f} / {p95:.2f}",
                f"{low:.1f} - {high:.1f}",
                goal,
                bool(p5 >= lo and p95 <= hi),
            )
        )
    upper = used & (cols["ma"] > 9.0)
    if np.any(upper):
        median = float(np.median(cols["sigma_ul"][upper]))
        rows.append(
            CalibrationRow(
                "90 % UL on sigma [fb], observed, M_A' > 9 GeV: median",
                f"{median:.2f}",
                f"within {high:.1f}",
                f"<= {hi:.2f}",
                median <= hi,
            )
        )
    if "coupling_ul" in cols:
        coupling = cols["coupling_ul"][used & np.isfinite(cols["coupling_ul"])]
        if coupling.size:
            top = float(np.percentile(coupling, 95))
            paper_top = PAPER["coupling_ul"][1]
            rows.append(
                CalibrationRow(
                    "eps^2 alpha_D UL, observed: 95 % of the windows",
                    f"{top:.2g}",
                    f"up to {paper_top:.1e}",
                    f"<= {paper_top * RANGE_FACTORS[1]:.1e}",
                    top <= paper_top * RANGE_FACTORS[1],
                )
            )
    return rows


def _log_prior_row(tables: RunTables, ma_range: tuple[float, float]) -> list[CalibrationRow]:
    """Flat vs log-prior limits over the range windows, the paper's "< 3 %" read both ways.

    The median of the signed and of the absolute relative difference (docs/log-prior.md).
    """
    cols = tables.columns
    if not tables.has("ma", "mh", "sigma_ul", "sigma_ul_log"):
        return []
    used = range_windows(tables, ma_range)
    flat, log = cols["sigma_ul"][used], cols["sigma_ul_log"][used]
    ok = np.isfinite(flat) & np.isfinite(log) & (flat > 0)
    if not np.any(ok):
        return []
    relative = log[ok] / flat[ok] - 1
    signed = float(np.median(relative))
    absolute = float(np.median(np.abs(relative)))
    goal = f"< {100 * LOG_PRIOR_GOAL:g} %"
    return [
        CalibrationRow(
            "flat vs log prior: median of UL_log / UL_flat - 1",
            f"{100 * signed:+.1f} %",
            "< 3 %",
            f"magnitude {goal}",
            abs(signed) < LOG_PRIOR_GOAL,
        ),
        CalibrationRow(
            "flat vs log prior: median of abs(UL_log / UL_flat - 1), window by window",
            f"{100 * absolute:.1f} %",
            "< 3 %",
            goal,
            absolute < LOG_PRIOR_GOAL,
        ),
    ]


def _composition_rows(summary: Summary) -> list[CalibrationRow]:
    """The expected background in the windows, per process, against the paper's fractions."""
    if not summary.expected:
        return []
    total = sum(summary.expected.values())
    rows = []
    for process, paper in PAPER["fractions"].items():
        if process not in summary.expected or total <= 0:
            continue
        share = 100 * summary.expected[process] / total
        rows.append(
            CalibrationRow(
                f"background in the windows: {process}",
                f"{share:.1f} %",
                f"{100 * paper:.1f} %",
                f"within {COMPOSITION_POINTS:g} points",
                abs(share - 100 * paper) <= COMPOSITION_POINTS,
            )
        )
    return rows


def _geometry_row(name: str, value: float | None, paper: float) -> list[CalibrationRow]:
    if value is None or not np.isfinite(value):
        return []
    met = abs(value / paper - 1) <= GEOMETRY_TOLERANCE
    goal = f"within {100 * GEOMETRY_TOLERANCE:g} %"
    return [CalibrationRow(name, f"{value:.2f}", f"{paper:.2f}", goal, met)]


def _window_rows(summary: Summary, tables: RunTables) -> list[CalibrationRow]:
    """Windows per event, neighbour overlap and signal containment against the paper."""
    per_event = None
    if summary.window_counts is not None and summary.n_in_windows:
        per_event = summary.window_counts / summary.n_in_windows
    rows = _geometry_row("windows per event", per_event, PAPER_WINDOWS["per_event"])
    search = tables.documents.get("windows")
    stored = {} if search is None else dict(search.meta.get("summary", {}))
    rows += _geometry_row(
        "median neighbour overlap", stored.get("median_neighbour_overlap"), PAPER_WINDOWS["overlap"]
    )
    rows += _geometry_row(
        "signal fraction inside a window (with ISR)",
        stored.get("mean_window_fraction"),
        PAPER_WINDOWS["containment"],
    )
    return rows


def calibration_rows(
    summary: Summary, tables: RunTables, ma_range: tuple[float, float]
) -> list[CalibrationRow]:
    """The calibration table of a run: every quantity its tables allow, with its goal.

    Args:
        summary: The run's :class:`~dhstat.report.summary.Summary`.
        tables: The run's tables (:func:`~dhstat.report.tables.collect`).
        ma_range: The M_A' interval of the limit ranges [GeV].
    """
    return [
        *_limit_rows(tables, ma_range),
        *_composition_rows(summary),
        *_window_rows(summary, tables),
        *_log_prior_row(tables, ma_range),
    ]


def format_calibration(rows: Sequence[CalibrationRow]) -> list[str]:
    """The Markdown lines of the calibration table (nothing when there are no rows).

    Example:
        >>> row = CalibrationRow("windows per event", "2.46", "2.72", "within 15 %", True)
        >>> format_calibration([row])[-1]
        '| windows per event | 2.46 | 2.72 | within 15 % | yes |'
    """
    if not rows:
        return []
    lines = [
        "| quantity | this run | paper | goal | met |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.quantity} | {r.run} | {r.paper} | {r.goal} | {'yes' if r.met else 'no'} |"
        for r in rows
    ]
    return lines
