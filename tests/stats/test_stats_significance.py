"""Local significance and Bayes factor: closed forms and pyhf's asymptotic q0."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyhf
import pytest
from cli_helpers import run_main
from scipy import special, stats

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


def test_single_bin_windows_keep_the_exact_quadrature() -> None:
    spec = window_spec(
        n=9,
        signal=1.3,
        backgrounds={"mumu": 3.0, "tautau": 1.0},
        signal_shifts={"syst_detector": 0.03},
        background_shifts={"mumu": {"syst_detector": 0.1, "syst_ceta": 0.05}},
        stat_errors={"mumu": 0.4, "tautau": 0.2},
    )
    result = significance.significance(spec)
    window = significance.hybrid_pvalue(WindowSet.from_specs([spec]), [[9]])[0, 0]
    assert result.integration == "quadrature"
    assert result.p_value == pytest.approx(float(window), rel=1e-6)
    assert 0 < result.p_value_uncertainty < 1e-6 * result.p_value
    assert result.toys == 0


def test_a_million_events_give_a_finite_z() -> None:
    # p is below the smallest float: Z from ln p, against the tail series written here
    n, b = 10**6, 1.0
    spec = window_spec(n=n, signal=1.0, backgrounds={"b": b}, sigma_max=1e7)
    result = significance.significance(spec)
    log_p = stats.poisson.logpmf(n, b) - math.log1p(-b / (n + 1))
    assert result.p_value == 0.0
    assert result.z == pytest.approx(-special.ndtri_exp(log_p), rel=1e-9)
    assert result.log_bayes_factor is not None
    assert math.isfinite(result.log_bayes_factor)
    assert result.log_bayes_factor > 700  # B10 beyond the float range: reported as ln B10
    assert math.isinf(result.bayes_factor)
    # and a million events on a million background: an ordinary answer
    ordinary = significance.significance(window_spec(n=n, signal=1.0, backgrounds={"b": 1e6}))
    assert ordinary.p_value == pytest.approx(stats.poisson.sf(n - 1, 1e6), rel=1e-6)
    assert math.isfinite(ordinary.bayes_factor)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "1e-320", "1e999"])
def test_cli_bad_sigma_max_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(window_spec(n=3, signal=1.0, backgrounds={"b": 1.0})))
    code, out, err = run_main(["significance", str(path), "--sigma-max", value], capsys)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "sigma-max" in lines[0] or "sigma_max" in lines[0]


def test_cli_a_million_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # B10 beyond the float range: one line, exit 2, giving ln B10 and the finite Z
    path = tmp_path / "ws.json"
    spec = window_spec(n=10**6, signal=1.0, backgrounds={"b": 1.0}, sigma_max=1e7)
    path.write_text(json.dumps(spec))
    code, out, err = run_main(["significance", str(path)], capsys)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "ln B10 = " in lines[0]
    assert "Z = 50" in lines[0]  # Z = 5062.7, from ln p
