"""Tests of dhstat.report.calibration: the run against the paper's numbers and the issue's goals."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dhstat import config, report
from dhstat.report.calibration import calibration_rows, format_calibration
from dhstat.report.summary import Summary
from dhstat.report.tables import RunTables


def _tables(limits: np.ndarray, log: np.ndarray, ma: np.ndarray) -> RunTables:
    n = limits.size
    expected = np.repeat(limits[:, None], 5, axis=1)
    columns = {
        "ma": ma,
        "mh": np.full(n, 0.5),
        "sigma_ul": limits,
        "sigma_ul_log": log,
        "sigma_ul_expected": expected,
        "sensitive": np.ones(n),
        "prior_dominated": np.zeros(n),
    }
    meta = {"summary": {"median_neighbour_overlap": 0.66, "mean_window_fraction": 0.5}}
    return RunTables(columns, {"windows": SimpleNamespace(meta=meta)})


def _by_name(rows: list[report.calibration.CalibrationRow]) -> dict[str, tuple[str, bool]]:
    return {r.quantity: (r.run, r.met) for r in rows}


def test_rows_against_independent_percentiles_and_goals() -> None:
    rng = np.random.default_rng(3)
    limits = rng.uniform(2.0, 6.0, 400)
    ma = rng.uniform(4.5, 9.5, 400)
    log = limits * (1 - rng.uniform(0.0, 0.04, 400))  # median difference ~2 %
    limits[ma > 9.0] = 6.0
    summary = Summary(
        n_in_windows=1000,
        window_counts=2500,
        expected={"mumu": 780.0, "tautau": 150.0, "eemumu": 70.0},
    )
    rows = _by_name(calibration_rows(summary, _tables(limits, log, ma), (4.0, 9.7)))
    p5, p50, p95 = np.percentile(limits, [5, 50, 95])
    observed = "90 % UL on sigma [fb], observed: 5 / 50 / 95 % of the windows"
    assert rows[observed] == (f"{p5:.2f} / {p50:.2f} / {p95:.2f}", True)  # inside 1.19-6.5
    assert rows["90 % UL on sigma [fb], observed, M_A' > 9 GeV: median"] == ("6.00", True)
    assert rows["background in the windows: mumu"] == ("78.0 %", True)
    assert rows["background in the windows: tautau"] == ("15.0 %", True)  # 3.5 points off
    assert rows["background in the windows: eemumu"] == ("7.0 %", True)  # 4 points off
    assert rows["windows per event"] == ("2.50", True)  # 2.72 - 8 %
    assert rows["median neighbour overlap"] == ("0.66", True)  # 0.75 - 12 %
    assert rows["signal fraction inside a window (with ISR)"] == ("0.50", False)  # 0.71 - 30 %
    relative = log / limits - 1
    signed, absolute = np.median(relative), np.median(np.abs(relative))
    assert rows["flat vs log prior: median of UL_log / UL_flat - 1"] == (
        f"{100 * signed:+.1f} %",
        True,
    )
    by_window = rows["flat vs log prior: median of abs(UL_log / UL_flat - 1), window by window"]
    assert by_window == (f"{100 * absolute:.1f} %", True)


def test_goals_fail_where_the_run_is_off() -> None:
    limits = np.linspace(2.0, 14.0, 200)  # median 8, 95th percentile far above 6.5
    ma = np.full(200, 9.5)
    summary = Summary(expected={"mumu": 60.0, "tautau": 35.0, "eemumu": 5.0})
    rows = _by_name(calibration_rows(summary, _tables(limits, 0.5 * limits, ma), (4.0, 9.7)))
    assert not rows["90 % UL on sigma [fb], observed: 5 / 50 / 95 % of the windows"][1]
    assert not rows["90 % UL on sigma [fb], observed, M_A' > 9 GeV: median"][1]
    assert not rows["background in the windows: mumu"][1]
    assert not rows["background in the windows: tautau"][1]
    assert not rows["flat vs log prior: median of UL_log / UL_flat - 1"][1]
    # deviations of both signs: the signed median meets the goal, window by window does not
    alternating = limits * np.where(np.arange(200) % 2 == 0, 1.1, 0.9)
    rows = _by_name(calibration_rows(Summary(), _tables(limits, alternating, ma), (4.0, 9.7)))
    assert rows["flat vs log prior: median of UL_log / UL_flat - 1"][1]
    assert not rows["flat vs log prior: median of abs(UL_log / UL_flat - 1), window by window"][1]
    # windows outside the M_A' range or without sensitivity do not count
    tables = _tables(limits, limits, np.full(200, 10.0))
    assert calibration_rows(Summary(), tables, (4.0, 9.7)) == [
        row for row in calibration_rows(Summary(), tables, (4.0, 9.7)) if "UL" not in row.quantity
    ]


def test_markdown_table_has_one_line_per_row_and_no_stray_pipes() -> None:
    rows = calibration_rows(
        Summary(n_in_windows=10, window_counts=20),
        _tables(np.full(5, 3.0), np.full(5, 3.0), np.full(5, 6.0)),
        (4.0, 9.7),
    )
    lines = format_calibration(rows)
    assert len(lines) == len(rows) + 2
    assert all(line.count("|") == 6 for line in lines)
    assert format_calibration([]) == []


def test_report_has_the_calibration_section(run_dir: Path) -> None:
    settings = report.ReportSettings.from_config(config.load())
    path = report.write_report(run_dir, settings)
    text = path.read_text(encoding="utf-8")
    assert "## Calibration against the paper" in text
    counts = report.summarize(run_dir, settings)
    assert counts.window_counts is not None
    assert counts.n_in_windows
    per_event = counts.window_counts / counts.n_in_windows
    assert f"| windows per event | {per_event:.2f} | 2.72 |" in text


@pytest.mark.parametrize("value", [0.62, 0.88])
def test_geometry_goal_is_fifteen_percent(value: float) -> None:
    tables = RunTables(
        {}, {"windows": SimpleNamespace(meta={"summary": {"median_neighbour_overlap": value}})}
    )
    (row,) = calibration_rows(Summary(), tables, (4.0, 9.7))
    assert row.met == (abs(value / 0.75 - 1) <= 0.15)
