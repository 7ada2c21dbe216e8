"""Local significance and Bayes factor: closed forms and pyhf's asymptotic q0."""

from __future__ import annotations

import math

import pyhf
import pytest
from scipy import stats

from dhstat.stats import bayes, generic, significance
from dhstat.stats.model import WindowSet, window_spec


@pytest.mark.parametrize(
    ("n", "b", "s", "smax"),
    [(0, 1.0, 1.0, 100.0), (5, 1.2, 2.0, 30.0), (12, 4.0, 0.3, 100.0), (40, 35.0, 1.5, 50.0)],
)
def test_bayes_factor_closed_form(n: int, b: float, s: float, smax: float) -> None:
    spec = window_spec(n=n, signal=s, backgrounds={"b": b}, sigma_max=smax)
    s_max = s * smax
    reference = (stats.poisson.cdf(n, b) - stats.poisson.cdf(n, b + s_max)) / (
        s_max * stats.poisson.pmf(n, b)
    )
    ws = WindowSet.from_specs([spec])
    assert bayes.window_bayes_factors(ws)[0] == pytest.approx(reference, rel=1e-6)
    assert significance.significance(spec).bayes_factor == pytest.approx(reference, rel=1e-6)


def test_asymptotic_z_equals_pyhf_q0() -> None:
    spec = window_spec(
        n=14,
        signal=1.3,
        backgrounds={"mumu": 5.0, "tautau": 1.0},
        signal_shifts={"syst_detector": 0.03},
        background_shifts={"mumu": {"syst_detector": 0.1, "syst_ceta": 0.05}},
        stat_errors={"mumu": 0.4, "tautau": 0.2},
    )
    with generic.quiet_pyhf():
        ws = pyhf.Workspace(spec)
        model = ws.model()
        q0 = pyhf.infer.test_statistics.q0(
            0.0,
            ws.data(model),
            model,
            model.config.suggested_init(),
            model.config.suggested_bounds(),
            model.config.suggested_fixed(),
        )
        p0 = pyhf.infer.hypotest(0.0, ws.data(model), model, test_stat="q0")
    result = significance.significance(spec, method="asymptotic")
    assert result.z == pytest.approx(math.sqrt(float(q0)), rel=1e-6)
    assert result.p_value == pytest.approx(float(p0), rel=1e-6)
    assert result.method == "asymptotic"
