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
    assert summary.max_z is not None
    assert summary.max_z >= 0.0  # one-sided Z
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


def test_limit_ranges_use_sensitive_prior_independent_windows_only(run_dir: Path) -> None:
    import json

    from data_synthetic import NO_SENSITIVITY, PRIOR_DOMINATED

    settings = report.ReportSettings.from_config(config.load())
    scan = json.loads((run_dir / "results.json").read_text())
    rows = {int(w["id"]): w for w in scan["windows"]}
    # the zero-efficiency window gets no limit at all; the other one is flagged prior-dominated
    assert rows[NO_SENSITIVITY]["upper_limit_flat"] is None
    assert rows[NO_SENSITIVITY]["cls_upper_limit"] is None
    assert "sigma_max" in rows[PRIOR_DOMINATED]["flags"]
    lo, hi = settings.summary_ma_range
    used = [
        w
        for w in rows.values()
        if lo < w["ma"] < hi
        and w["mh"] < w["ma"]
        and w["sensitive"]
        and "sigma_max" not in w["flags"]
    ]
    assert NO_SENSITIVITY not in {w["id"] for w in used}
    assert PRIOR_DOMINATED not in {w["id"] for w in used}
    summary = report.summarize(run_dir, settings)
    observed = [w["upper_limit_flat"] for w in used]
    expected = [w["upper_limit_flat_expected"][2] for w in used]
    cls = [w["cls_upper_limit"] for w in used]
    assert summary.sigma_ul_range == pytest.approx((min(observed), max(observed)))
    assert summary.sigma_ul_expected_range == pytest.approx((min(expected), max(expected)))
    assert summary.cls_ul_range == pytest.approx((min(cls), max(cls)))
    assert summary.n_range_windows == len(used)
    assert summary.n_no_sensitivity == 1
    assert summary.n_prior_dominated == 1
    # the prior-dominated limit (~85 fb) would otherwise be the top of the quoted range
    assert summary.sigma_ul_range[1] < rows[PRIOR_DOMINATED]["upper_limit_flat"]
    text = report.format_summary(summary)
    assert "median expected" in text
    assert "CLs observed" in text
    assert "sensitive" in text  # the note says which windows
    assert "sigma_max" in text


def test_coupling_ranges_follow_the_same_windows(run_dir: Path) -> None:
    import json

    from data_synthetic import NO_SENSITIVITY, PRIOR_DOMINATED

    settings = report.ReportSettings.from_config(config.load())
    couplings = json.loads((run_dir / "couplings.json").read_text())
    lo, hi = settings.summary_ma_range
    values = [
        w["eps2_alpha_d_ul"]
        for w in couplings["windows"]
        if lo < w["ma"] < hi
        and w["mh"] < w["ma"]
        and w["id"] not in (NO_SENSITIVITY, PRIOR_DOMINATED)
    ]
    summary = report.summarize(run_dir, settings)
    assert summary.coupling_ul_range == pytest.approx((min(values), max(values)))
    # expected: eps^2 alpha_D = sigma / (sigma_unit * B), the observed limit's conversion
    for w in couplings["windows"]:
        if w["eps2_alpha_d_ul"] is not None and w["sigma_ul_fb"]["flat"] is not None:
            factor = w["eps2_alpha_d_ul"] / w["sigma_ul_br_fb"]["flat"]
            assert factor == pytest.approx(1 / (w["sigma_unit_fb"]["born"] * w["br_mumu"]))
    assert summary.coupling_ul_expected_range is not None
