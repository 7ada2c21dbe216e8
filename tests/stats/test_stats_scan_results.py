"""The scan's honest flags and conventions: no limit without sensitivity, quoted ranges, p and Z."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dhstat import schemas
from dhstat.stats import bayes, cls, expected, scan, significance
from dhstat.stats.model import WindowSet, window_spec


def _windows() -> WindowSet:
    specs = [
        window_spec(n=0, signal=0.0, backgrounds={"b": 0.3}),  # efficiency 0
        window_spec(n=1, signal=0.01, backgrounds={"b": 0.3}),  # below min_signal_per_fb
        window_spec(n=0, signal=1.2, backgrounds={"b": 0.2}),
        window_spec(
            n=4,
            signal=1.4,
            backgrounds={"mumu": 2.0},
            signal_shifts={"syst_detector": 0.1},
            background_shifts={"mumu": {"syst_detector": 0.2}},
            stat_errors={"mumu": 0.3},
        ),
        # prior-dominated: a large background with a large systematic uncertainty
        window_spec(
            n=980,
            signal=0.8,
            backgrounds={"mumu": 1000.0},
            background_shifts={"mumu": {"syst_detector": 90.0}},
        ),
    ]
    return WindowSet.from_specs(specs, ids=["zero", "tiny", "a", "b", "wide"])


def test_windows_without_sensitivity_get_no_limit_and_leave_the_ranges() -> None:
    result = scan.scan(_windows(), settings=scan.ScanSettings(min_signal_per_fb=0.025))
    doc = result.to_dict()
    schemas.validate(doc, "scan")
    rows = {r["id"]: r for r in doc["windows"]}
    for name in ("zero", "tiny"):
        row = rows[name]
        assert row["sensitive"] is False
        assert "no_sensitivity" in row["flags"]
        for key in (
            "upper_limit_flat",
            "upper_limit_log",
            "upper_limit_flat_expected",
            "cls_upper_limit",
            "cls_upper_limit_expected",
            "z_expected",
        ):
            assert row[key] is None, (name, key)
        assert row["p_value"] is not None
        assert row["z"] is not None
    assert rows["wide"]["sensitive"]
    assert "sigma_max" in rows["wide"]["flags"]
    for name in ("a", "b"):
        row = rows[name]
        assert row["sensitive"]
        assert row["flags"] == []
        assert len(row["upper_limit_flat_expected"]) == 5
        assert len(row["cls_upper_limit_expected"]) == 5
        assert row["z_expected"] >= 0
    summary = doc["summary"]
    assert summary["n_no_sensitivity"] == 2
    assert summary["n_prior_dominated"] == 1
    assert summary["limit_range_windows"]["n"] == 2
    assert "sensitive" in summary["limit_range_windows"]["selection"]
    # the ranges are over "a" and "b" only, recomputed here from the library
    quoted = WindowSet.from_specs(
        [window_spec(n=0, signal=1.2, backgrounds={"b": 0.2})]
    )  # "a" alone: its limit is the minimum (N = 0, B = 0.2)
    low = bayes.window_upper_limits(quoted, cl=0.9).upper_limit[0]
    flats = [rows["a"]["upper_limit_flat"], rows["b"]["upper_limit_flat"]]
    assert summary["upper_limit_flat"]["min"] == pytest.approx(low, rel=1e-12)
    assert summary["upper_limit_flat"]["max"] == max(flats)
    assert summary["upper_limit_flat"]["max"] < rows["wide"]["upper_limit_flat"]
    assert summary["cls_upper_limit"]["max"] == max(
        rows["a"]["cls_upper_limit"], rows["b"]["cls_upper_limit"]
    )
    settings = doc["settings"]
    assert settings["min_signal_per_fb"] == 0.025
    assert settings["sensitivity_sigma_fb"] == 5.0
    assert settings["cl"] == 0.9
    assert "qtilde" in settings["cls"]
    assert "max(0" in settings["z_convention"]


def test_scan_numbers_are_those_of_the_library_functions() -> None:
    windows = _windows()
    result = scan.scan(windows)
    sensitive = np.array([False, False, True, True, True])
    assert result.sensitive.tolist() == sensitive.tolist()
    rows = np.flatnonzero(sensitive)
    bands = expected.expected_upper_limits(windows, cl=0.9, rows=rows)
    np.testing.assert_allclose(result.flat_expected, bands, rtol=1e-12)
    limits = cls.cls_upper_limits(windows, cl=0.9, rows=rows)
    np.testing.assert_allclose(result.cls_limits.observed, limits.observed, rtol=1e-12)
    z5 = expected.expected_significance(windows, 5.0, rows=rows)
    np.testing.assert_allclose(result.z_expected, z5, rtol=1e-12)
    # the median expected flat limit of a background-free-like window: limit at the median N
    assert np.isnan(result.flat.upper_limit[~sensitive]).all()


@pytest.mark.parametrize(("n", "b"), [(0, 0.3), (0, 7.0), (1, 5.0), (3, 3.0), (9, 2.0)])
def test_p_is_a_probability_and_z_is_one_sided(n: int, b: float) -> None:
    spec = window_spec(
        n=n,
        signal=1.0,
        backgrounds={"mumu": b},
        background_shifts={"mumu": {"syst_detector": 0.09 * b}},
        stat_errors={"mumu": 0.2 * b},
    )
    windows = WindowSet.from_specs([spec])
    p = significance.hybrid_pvalue(windows, windows.n[:, None])[0, 0]
    generic = significance.significance(spec)
    for value, z in ((p, significance.z_of_p([p])[0]), (generic.p_value, generic.z)):
        assert 0.0 <= value <= 1.0
        assert math.isfinite(z)
        assert z >= 0.0
        assert z == pytest.approx(max(0.0, float(stats.norm.isf(value))), abs=1e-12)
    if n == 0:
        assert p == 1.0
        assert generic.p_value == 1.0
        assert generic.z == 0.0


def test_z_of_p_convention_on_edge_values() -> None:
    z = significance.z_of_p([1.0, 1.0000000000000002, 0.5, 0.8, 0.0])
    assert z.tolist() == [0.0, 0.0, 0.0, 0.0, math.inf]
