"""Generic path: priors of free parameters, fix= and priors=, honest numerical errors, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import integrate, optimize, stats
from stats.generic_reference import grid_reference

from dhstat.cli import cli, main
from dhstat.errors import InputError
from dhstat.stats import generic, generic_bayes
from dhstat.stats.model import window_spec

DATA = Path(__file__).parents[1] / "data" / "pyhf"


def _load(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return spec


def test_free_parameters_get_flat_priors_over_their_bounds() -> None:
    model = generic.GenericModel.from_spec(_load("2bin_2channel_coupledshapefactor"))
    described = [p.describe() for p in model.priors]
    assert described == [
        {"name": "coupled_shapefactor[0]", "kind": "flat", "lower": 0.0, "upper": 10.0},
        {"name": "coupled_shapefactor[1]", "kind": "flat", "lower": 0.0, "upper": 10.0},
    ]


def test_fix_matches_a_closed_form_and_is_listed() -> None:
    """Shapefactors fixed: no nuisance left, the posterior is a product of Poisson terms in mu."""
    spec = _load("2bin_2channel_coupledshapefactor")
    result = generic_bayes.upper_limit(
        spec, fix={"coupled_shapefactor": 2.0}, settings=generic.Settings(is_samples=2000)
    )
    assert result.fixed == {"coupled_shapefactor": 2.0}
    assert result.parameters == ()
    signal = spec["channels"][0]["samples"]  # reference from the spec's numbers
    n, s, b = [], [], []
    for channel in spec["channels"]:
        obs = next(o["data"] for o in spec["observations"] if o["name"] == channel["name"])
        sig = np.zeros(len(obs))
        bkg = np.zeros(len(obs))
        for sample in channel["samples"]:
            kinds = {m["type"] for m in sample["modifiers"]}
            values = np.asarray(sample["data"], dtype=float)
            if any(m["name"] == "mu" for m in sample["modifiers"]):
                sig += values
            else:
                bkg += values * (2.0 if "shapefactor" in kinds else 1.0)
        n += list(obs)
        s += list(sig)
        b += list(bkg)
    del signal

    def like(x: float) -> float:
        return float(np.exp(stats.poisson.logpmf(n, np.add(b, np.multiply(s, x))).sum()))

    total = integrate.quad(like, 0, 10, limit=200, epsrel=1e-12)[0]
    ref = optimize.brentq(lambda u: integrate.quad(like, 0, u, limit=200)[0] - 0.9 * total, 0, 10)
    assert result.upper_limit == pytest.approx(ref, rel=1e-6)


def test_narrow_prior_override_equals_fixing() -> None:
    spec = _load("2bin_2channel_coupledhistosys")
    settings = generic.Settings(is_samples=4000)
    fixed = generic_bayes.upper_limit(spec, fix={"coupled_histosys": 0.3}, settings=settings)
    narrow = generic_bayes.upper_limit(
        spec, priors={"coupled_histosys": ("normal", 0.3, 1e-4)}, settings=settings
    )
    assert narrow.parameters[0] == {
        "name": "coupled_histosys",
        "kind": "normal",
        "mean": 0.3,
        "width": 1e-4,
        "lower": None,
    }
    error = math.hypot(fixed.numerical_uncertainty, narrow.numerical_uncertainty)
    assert abs(narrow.upper_limit - fixed.upper_limit) <= max(3 * error, 1e-3 * fixed.upper_limit)


@pytest.mark.parametrize(
    ("fix", "priors"),
    [
        ({"nope": 1.0}, None),
        ({"mu": 1.0}, None),
        ({"coupled_histosys": math.nan}, None),
        (None, {"coupled_histosys": ("flat", 2.0, 1.0)}),
        (None, {"coupled_histosys": ("cauchy", 0.0, 1.0)}),
        (None, {"mu": ("normal", 0.0, 1.0)}),
    ],
)
def test_bad_fix_or_prior_is_one_input_error(fix: Any, priors: Any) -> None:
    with pytest.raises(InputError):
        generic_bayes.upper_limit(_load("2bin_2channel_coupledhistosys"), fix=fix, priors=priors)


def test_quoted_error_is_honest_over_seeds() -> None:
    """The spread of results over seeds matches the quoted standard error within a factor 2."""
    model = generic.GenericModel.from_spec(_load("datadriven"))  # 9 parameters: sampled
    limits, errors, log_bs, log_b_errors = [], [], [], []
    for seed in range(10):
        settings = generic.Settings(is_samples=3000, is_max_samples=3000, mc_seed=seed)
        result = generic_bayes.upper_limit(model, settings=settings)
        value, error = generic_bayes.log_bayes_factor(model, settings=settings)
        limits.append(result.upper_limit)
        errors.append(result.numerical_uncertainty)
        log_bs.append(value)
        log_b_errors.append(error)
    for values, quoted in ((limits, errors), (log_bs, log_b_errors)):
        spread = float(np.std(values, ddof=1))
        typical = float(np.sqrt(np.mean(np.square(quoted))))
        assert 0.5 < spread / typical < 2.0, (spread, typical)


def test_same_seed_same_bytes() -> None:
    spec = _load("datadriven")
    a = generic_bayes.upper_limit(spec, settings=generic.Settings(is_samples=2000))
    b = generic_bayes.upper_limit(spec, settings=generic.Settings(is_samples=2000))
    assert a.to_dict() == b.to_dict()


def test_single_bin_window_keeps_exact_quadrature() -> None:
    spec = window_spec(
        n=3, signal=1.2, backgrounds={"b": 1.5}, background_shifts={"b": {"jes": 0.2}}
    )
    result = generic_bayes.upper_limit(spec)
    assert result.method == "quadrature"
    assert 0 < result.numerical_uncertainty < 1e-6 * result.upper_limit
    assert result.effective_sample_size is None


def _big_counts_spec(bins: int) -> dict[str, Any]:
    channel = {
        "name": "c",
        "samples": [
            {
                "name": "s",
                "data": [1000.0] * bins,
                "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
            },
            {
                "name": "b",
                "data": [1e6] * bins,
                "modifiers": [{"name": "bn", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}}],
            },
        ],
    }
    return {
        "channels": [channel],
        "observations": [{"name": "c", "data": [1e6] * bins}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


@pytest.mark.parametrize("bins", [1, 3])
def test_a_million_events_gives_a_finite_answer(bins: int) -> None:
    spec = _big_counts_spec(bins)
    result = generic_bayes.upper_limit(spec, settings=generic.Settings(is_samples=2000))
    value, error = generic_bayes.log_bayes_factor(spec, settings=generic.Settings(is_samples=2000))
    assert math.isfinite(result.upper_limit)
    assert result.upper_limit > 0
    assert math.isfinite(value)
    assert math.isfinite(error)
    assert math.isfinite(result.numerical_uncertainty)
    # the normsys absorbs any signal (the same shape in every bin): reference on a dense grid
    sigma = np.linspace(0.0, 10.0, 801)
    ref_limit, ref_log_b = grid_reference(spec, [np.linspace(-0.25, 0.1, 3501)], sigma)
    assert _agree(result.upper_limit, ref_limit, result.numerical_uncertainty, 0.01 * ref_limit)
    assert _agree(value, ref_log_b, error, 0.01)


def _agree(value: float, reference: float, error: float, tolerance: float) -> bool:
    return abs(value - reference) <= max(tolerance, 3.0 * error)


def test_poi_not_in_the_model_is_an_input_error() -> None:
    spec = _load("1bin_normsys")
    spec["measurements"][0]["config"]["poi"] = "not_there"
    with pytest.raises(InputError, match="not_there"):
        generic.GenericModel.from_spec(spec)


def test_cli_fix_and_prior_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(_load("2bin_2channel_coupledshapefactor")))
    runner = CliRunner()
    out = runner.invoke(
        cli,
        [
            "limit",
            str(path),
            "--fix",
            "coupled_shapefactor[0]=2",
            "--prior-of",
            "coupled_shapefactor[1]=normal:3,0.2",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["fixed"] == {"coupled_shapefactor[0]": 2.0}
    assert doc["parameters"] == [
        {
            "name": "coupled_shapefactor[1]",
            "kind": "normal",
            "mean": 3.0,
            "width": 0.2,
            "lower": None,
        }
    ]
    with pytest.raises(SystemExit) as stop:
        main(["limit", str(path), "--prior-of", "x=normal:1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --prior-of")
    assert err.count("\n") == 1
