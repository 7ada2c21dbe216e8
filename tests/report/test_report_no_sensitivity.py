"""A run in which no window has any sensitivity: the report still sums up (regression)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from dhstat import config, report
from dhstat.report.tables import BANDS

_EXPECTED_KEYS = (
    "upper_limit_flat_expected",
    "upper_limit_log_expected",
    "cls_upper_limit_expected",
    "z_expected",
)
_LIMIT_KEYS = ("upper_limit_flat", "upper_limit_log", "cls_upper_limit")


def _without_sensitivity(run_dir: Path, target: Path) -> Path:
    """A copy of ``run_dir`` whose scan has no sensitive window (no limits, no expected bands)."""
    shutil.copytree(run_dir, target)
    path = target / "results.json"
    scan = json.loads(path.read_text())
    for window in scan["windows"]:
        window["sensitive"] = False
        window["flags"] = ["no_sensitivity"]
        for key in (*_EXPECTED_KEYS, *_LIMIT_KEYS):
            if key in window:
                window[key] = None
    path.write_text(json.dumps(scan))
    return target


def test_summary_of_a_run_without_any_sensitive_window(run_dir: Path, tmp_path: Path) -> None:
    root = _without_sensitivity(run_dir, tmp_path / "run")
    tables = report.collect(root)
    n = len(tables.columns["id"])
    # every expected limit keeps its band shape, all NaN (it used to collapse to 1-D)
    assert {"sigma_ul_expected", "cls_ul_expected"} <= set(tables.columns)
    for name in ("sigma_ul_expected", "sigma_ul_log_expected", "cls_ul_expected"):
        if name in tables.columns:
            column = tables.columns[name]
            assert column.shape == (n, len(BANDS))
            assert np.isnan(column).all()
    assert tables.columns["z_expected"].shape == (n,)  # one value per window, not a band
    summary = report.summarize(root, report.ReportSettings.from_config(config.load()))
    assert summary.n_no_sensitivity == n
    assert summary.sigma_ul_range is None
    assert summary.sigma_ul_expected_range is None
    assert summary.cls_ul_expected_range is None
    assert summary.n_windows == n
    assert "median expected" in report.format_summary(summary)
