"""Expected limits of any workspace from toys: against the exact single-bin band, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dhstat.cli import main
from dhstat.errors import InputError
from dhstat.stats import bayes, expected, expected_toys, generic
from dhstat.stats.model import WindowSet, window_spec


def test_the_quantile_errors_cover_the_true_quantiles() -> None:
    # 400 samples of 300 exponential draws: the true quantile lies within 2 quoted errors of the
    # sample quantile in about 95 % of the samples, at every band level (distribution-free).
    rng = np.random.default_rng(5)
    true = stats.expon.ppf(expected.BAND_LEVELS)
    inside = np.zeros(len(true))
    for _ in range(400):
        q, err = expected_toys.quantiles_with_errors(rng.exponential(size=300))
        inside += np.abs(q - true) <= 2 * err
    assert np.all(inside / 400 > 0.9), inside / 400
    assert np.all(inside / 400 < 0.995), inside / 400


def test_single_bin_toys_agree_with_the_exact_band() -> None:
    # the exact band needs no toys (limit monotone in N): the toys must agree within 2 errors
    spec = window_spec(n=4, signal=1.0, backgrounds={"b": 3.0}, background_shifts={"b": {"u": 0.2}})
    exact = expected.expected_upper_limits(WindowSet.from_specs([spec]), sigma_max=100.0)[0]
    model = generic.GenericModel.from_spec(spec)
    band = expected_toys.expected_upper_limits_workspace(
        model, lambda m: bayes.upper_limit(m, sigma_max=100.0).upper_limit, toys=300, seed=1
    )
    q, err = np.array(band.limits), np.array(band.errors)
    assert np.all(np.abs(q - exact) <= 2 * err + 1e-4 * exact), (q, err, exact)
    assert band.toys == 300
    assert band.sigmas == expected.BAND_SIGMAS


def test_fixed_parameters_are_fixed_in_the_toys() -> None:
    # with the systematic (a histosys of +-0.2 events) fixed at +3 sd the background is 3.6
    spec = window_spec(n=4, signal=1.0, backgrounds={"b": 3.0}, background_shifts={"b": {"u": 0.2}})
    fixed = expected_toys.with_fixed_parameters(spec, {"u": 3.0})
    from dhstat.stats import hybrid

    counts = hybrid.background_counts(fixed, 4000, np.random.default_rng(2))
    assert counts.mean() == pytest.approx(3.6, rel=0.03)
    free = hybrid.background_counts(spec, 4000, np.random.default_rng(2))
    assert free.mean() == pytest.approx(3.0, rel=0.03)


def test_prior_overrides_and_component_fixes_are_refused() -> None:
    spec = window_spec(n=4, signal=1.0, backgrounds={"b": 3.0}, background_shifts={"b": {"u": 0.2}})
    model = generic.GenericModel.from_spec(spec, priors={"u": ("normal", 0.0, 2.0)})
    with pytest.raises(InputError, match="constraint terms"):
        expected_toys.expected_upper_limits_workspace(model, lambda m: 1.0, toys=20, seed=1)
    with pytest.raises(InputError, match="toys"):
        expected_toys.expected_limits_from_toys(
            lambda rng, k: np.zeros((k, 1)), lambda n: 1.0, toys=5, rng=np.random.default_rng(1)
        )


def test_the_command_line_gives_the_band_of_a_two_bin_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = window_spec(n=4, signal=1.0, backgrounds={"b": 3.0}, background_shifts={"b": {"u": 0.2}})
    channel = spec["channels"][0]
    for sample, extra in zip(channel["samples"], (0.5, 6.0), strict=True):
        sample["data"].append(extra)
        for modifier in sample["modifiers"]:
            if modifier["type"] == "histosys":
                modifier["data"]["hi_data"].append(extra * 1.1)
                modifier["data"]["lo_data"].append(extra * 0.9)
    spec["observations"][0]["data"].append(7)
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    main(["limit", str(path), "--expected", "--toys", "40", "--json"])
    doc = json.loads(capsys.readouterr().out)
    band = doc["expected"]
    assert band["method"] == "toys"
    assert band["toys"] == 40
    assert band["sigmas"] == list(expected.BAND_SIGMAS)
    limits = np.array(band["upper_limits"])
    assert np.all(np.diff(limits) >= 0)
    assert np.all(limits > 0)
    assert np.all(np.array(band["numerical_uncertainty"]) >= 0)
