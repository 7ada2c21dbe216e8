from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from data_synthetic import NO_SENSITIVITY, PRIOR_DOMINATED

from dhstat import counting, report, windows
from dhstat.errors import InputError
from dhstat.jsonio import write_json
from dhstat.report.tables import read_scan


def test_collect_aligns_counts_with_windows(run_dir: Path) -> None:
    tables = report.collect(run_dir)
    counts = counting.load(run_dir / "counts.json")
    search = windows.load(run_dir / "windows.json")
    cols = tables.columns
    assert cols["id"].tolist() == search.ids.tolist()
    assert cols["ma"] == pytest.approx(search.ma)
    assert cols["n_observed"].tolist() == counts.n_observed.tolist()
    assert cols["background"] == pytest.approx(counts.background.sum(axis=1))


def test_collect_reads_expected_limits_cls_and_flags(run_dir: Path) -> None:
    scan = json.loads((run_dir / "results.json").read_text())
    rows = {int(w["id"]): w for w in scan["windows"]}
    cols = report.collect(run_dir).columns
    ids = cols["id"].astype(int)
    for k, i in enumerate(ids):
        row = rows[int(i)]
        band = row["upper_limit_flat_expected"]
        if band is None:
            assert np.isnan(cols["sigma_ul_expected"][k]).all()
            assert np.isnan(cols["sigma_ul"][k])
            assert np.isnan(cols["cls_ul"][k])
        else:
            assert cols["sigma_ul_expected"][k].tolist() == pytest.approx(band)
            assert cols["cls_ul_expected"][k].tolist() == pytest.approx(
                row["cls_upper_limit_expected"]
            )
            assert cols["cls_ul"][k] == pytest.approx(row["cls_upper_limit"])
        assert cols["sensitive"][k] == float(row["sensitive"])
        assert cols["prior_dominated"][k] == float("sigma_max" in row["flags"])
    k_none = int(np.flatnonzero(ids == NO_SENSITIVITY)[0])
    k_prior = int(np.flatnonzero(ids == PRIOR_DOMINATED)[0])
    assert cols["sensitive"][k_none] == 0.0
    assert cols["prior_dominated"][k_prior] == 1.0
    assert cols["sensitive"].sum() == len(ids) - 1


def _as_before_issue_16(document: dict) -> dict:
    """A results.json as scans wrote it before the expected limits: no new keys, two-sided Z."""
    new = {"sensitive", "z_expected", "upper_limit_flat_expected", "cls_upper_limit",
           "cls_upper_limit_expected"}  # fmt: skip
    for row in document["windows"]:
        for key in new:
            row.pop(key, None)
        row["flags"] = [f for f in row["flags"] if f != "no_sensitivity"]
        row["z"] = -1.5 if row["z"] == 0 else row["z"]
    for key in ("sensitivity_sigma_fb", "min_signal_per_fb", "z_convention", "expected", "cls"):
        document["settings"].pop(key)
    for key in ("n_no_sensitivity", "n_prior_dominated", "limit_range_windows"):
        document["summary"].pop(key, None)
    return document


def test_an_older_results_file_is_reported_without_the_new_columns(
    run_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "run"
    shutil.copytree(run_dir, old)
    document = _as_before_issue_16(json.loads((old / "results.json").read_text()))
    (old / "results.json").write_text(json.dumps(document))
    cols = report.collect(old).columns
    assert "sigma_ul_expected" not in cols
    assert "cls_ul" not in cols
    # the sensitivity falls back to a non-zero efficiency: the zero-efficiency window has none
    assert cols["sensitive"][cols["id"] == NO_SENSITIVITY].tolist() == [0.0]
    assert cols["sensitive"].sum() == len(cols["id"]) - 1
    summary = report.summarize(old, report.ReportSettings.from_config(_config()))
    assert summary.sigma_ul_range is not None
    assert summary.sigma_ul_expected_range is None


def test_a_broken_results_file_is_still_refused(run_dir: Path, tmp_path: Path) -> None:
    document = json.loads((run_dir / "results.json").read_text())
    document["windows"][0]["n"] = -3
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"windows\.0\.n"):
        read_scan(path)


def test_a_current_results_file_is_read_unchanged(run_dir: Path, tmp_path: Path) -> None:
    document = json.loads((run_dir / "results.json").read_text())
    write_json(tmp_path / "results.json", document, schema="scan")
    assert read_scan(tmp_path / "results.json") == document


def _config():
    from dhstat import config

    return config.load()
