from __future__ import annotations

import re
from pathlib import Path

import pytest

from dhstat import config, report


def test_summary_reads_the_cutflow_and_windows(run_dir: Path) -> None:
    from dhstat import counting

    summary = report.summarize(run_dir, report.ReportSettings.from_config(config.load()))
    assert summary.n_selected == 3000
    # The paper's 28 985 (and its expectation) are the events inside the windows: from the cells.
    counts = counting.load(run_dir / "counts.json")
    in_windows = counts.cell_background.sum(axis=0)
    assert summary.expected == pytest.approx(dict(zip(counts.processes, in_windows, strict=True)))
    assert summary.n_in_windows == int(counts.cell_n_observed.sum())
    assert summary.window_counts == int(counts.n_observed.sum())
    assert summary.n_windows == 18
    assert summary.max_z is None  # no scan in this run
    text = report.format_summary(summary)
    assert re.search(r"selected data events \(before windows\)\s+3000\s+-", text)
    assert re.search(
        rf"data events in windows \(C_eta cut\)\s+{summary.n_in_windows}\s+28985", text
    )
    share = 100 * in_windows[0] / in_windows.sum()
    assert re.search(rf"mumu\s+{in_windows[0]:.1f} \({share:.1f} %\)\s+78.5 %", text)


def test_empty_directory_gives_an_empty_summary(tmp_path: Path) -> None:
    summary = report.summarize(tmp_path, report.ReportSettings.from_config(config.load()))
    assert summary.n_windows is None
    assert summary.n_selected is None
    assert "9003" in report.format_summary(summary)
