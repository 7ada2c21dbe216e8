from __future__ import annotations

import numpy as np
import pytest

from dhstat import interpretation


def _plane(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    ma = rng.uniform(2.0, 9.0, n)
    mh = rng.uniform(0.1, 1.0, n) * ma
    return ma, mh


def test_linear_interpolation_is_exact_for_linear_functions(rng: np.random.Generator) -> None:
    ma, mh = _plane(rng)
    values = 3.0 + 0.5 * ma - 0.2 * mh
    qa, qh = rng.uniform(4.0, 6.0, 50), rng.uniform(1.0, 2.0, 50)
    got = interpretation.interpolate_points(ma, mh, values, qa, qh, log=False)
    np.testing.assert_allclose(got, 3.0 + 0.5 * qa - 0.2 * qh, rtol=1e-12)


def test_log_interpolation_is_exact_for_power_laws(rng: np.random.Generator) -> None:
    ma, mh = _plane(rng)
    values = 10 ** (-8 + 0.3 * ma + 0.1 * mh)
    qa, qh = rng.uniform(4.0, 6.0, 50), rng.uniform(1.0, 2.0, 50)
    got = interpretation.interpolate_points(ma, mh, values, qa, qh, log=True)
    np.testing.assert_allclose(got, 10 ** (-8 + 0.3 * qa + 0.1 * qh), rtol=1e-10)


def test_values_at_centres_and_outside_hull() -> None:
    ma = np.array([4.0, 6.0, 4.0, 6.0, 5.0])
    mh = np.array([1.0, 1.0, 3.0, 3.0, 2.0])
    values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    for method in ("linear", "nearest"):
        got = interpretation.interpolate_points(ma, mh, values, ma, mh, method=method)
        np.testing.assert_allclose(got, values, rtol=1e-12)
        outside = interpretation.interpolate_points(
            ma, mh, values, [3.9, 5.0], [2.0, 3.1], method=method
        )
        assert np.all(np.isnan(outside))


def test_kinematic_limit_and_bad_values_masked() -> None:
    ma = np.array([4.0, 9.0, 4.0, 9.0])
    mh = np.array([0.5, 0.5, 4.0, 4.0])
    values = np.array([1.0, 1.0, 1.0, np.nan])
    got = interpretation.interpolate_points(ma, mh, values, [5.0, 8.0], [1.0, 3.0], sqrt_s=10.58)
    assert got[0] == pytest.approx(1.0)
    assert np.isnan(got[1])  # 8 + 3 > sqrt(s)


def test_map_shape_and_orientation() -> None:
    ma = np.array([4.0, 6.0, 4.0, 6.0])
    mh = np.array([1.0, 1.0, 3.0, 3.0])
    grid = interpretation.interpolate_limits(
        ma, mh, ma * 10 + mh, [4.0, 5.0, 6.0], [1.0, 3.0], log=False
    )
    assert grid.shape == (3, 2)
    np.testing.assert_allclose(grid, [[41.0, 43.0], [51.0, 53.0], [61.0, 63.0]])


def test_coupling_curves_follow_document_settings(rng: np.random.Generator) -> None:
    ma, mh = _plane(rng)
    values = 10 ** (-7 + 0.2 * ma)
    doc = {
        "sqrt_s": 10.58,
        "interpolation": {"method": "linear", "log": True, "mh_scale": 1.0},
        "windows": [
            {"ma": float(a), "mh": float(h), "eps2_alpha_d_ul": float(v)}
            for a, h, v in zip(ma, mh, values, strict=True)
        ],
    }
    versus_ma, versus_mh = interpretation.coupling_curves(doc, mh_values=[1.0], ma_values=[6.0])
    x, y = versus_ma[1.0]
    assert x.size > 10
    np.testing.assert_allclose(y, 10 ** (-7 + 0.2 * x), rtol=1e-10)
    x, y = versus_mh[6.0]
    assert x.size > 10
    np.testing.assert_allclose(y, 10 ** (-7 + 0.2 * 6.0), rtol=1e-10)
