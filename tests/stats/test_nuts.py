"""NUTS limits (dhstat.stats.nuts) against independent references, determinism, missing dependency.

References, none of them the code under test:

* pyhf's 1-bin normsys validation spec: the existing engine's limit, validated against a dense grid
  of pyhf's logpdf in tests/stats/test_generic_validation.py (here its numerical error is 1e-8);
* the scaling model of N bins with a staterror each plus 3 shared systematics at N = 50 (53
  parameters): the exact factorised reference of tests/stats/scaling_reference.py (pyhf's
  expected_data, 1-D Gauss-Hermite per bin, a dense grid over the two background systematics);
* the prior transforms: the log densities of dhstat.stats.priors.Prior (numpy) against the jax
  potential's differences.

Tests that sample are marked slow (compiling the sampler takes 10-40 s on a busy machine).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pyhf
import pytest
from click.testing import CliRunner
from stats.generic_models import scaling_spec
from stats.scaling_reference import ScalingReference

from dhstat.cli import cli, main
from dhstat.errors import InputError
from dhstat.stats import generic_bayes, nuts, nuts_target
from dhstat.stats.generic import GenericModel
from dhstat.stats.model import window_spec

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "pyhf"


def _libraries() -> nuts_target.Libraries:
    pytest.importorskip("numpyro")
    pytest.importorskip("jax")
    return nuts_target.libraries()


def test_missing_dependency_is_one_input_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "numpyro.infer", None)  # import fails as if not installed
    with pytest.raises(InputError, match=r"pip install 'dhstat\[nuts\]'"):
        nuts.nuts_upper_limit(window_spec(n=1, signal=1.0, backgrounds={"b": 1.0}))
    path = DATA / "1bin_normsys.json"
    with pytest.raises(SystemExit) as info:
        main(["limit", str(path), "--sampler", "nuts"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: --sampler nuts:")
    assert "pip install 'dhstat[nuts]'" in lines[0]


def test_potential_is_the_posterior_of_the_engine_priors() -> None:
    """Differences of the potential match Poisson terms + Prior.log_density + log-Jacobians."""
    libs = _libraries()
    spec = window_spec(
        n=4,
        signal=1.0,
        backgrounds={"b": 2.0},
        background_shifts={"b": {"x": 0.3}},
        stat_errors={"b": 0.4},
    )
    model = GenericModel.from_spec(spec, priors={"x": ("flat", -2.0, 3.0)})
    kinds = sorted(p.kind for p in model.priors)
    assert kinds == ["flat", "normal"]
    with nuts_target.jax_backend(libs):
        target = nuts_target.Target.build(model, "flat", 0.5, 50.0, libs)
        points = np.random.default_rng(7).normal(size=(5, target.dim))
        energy = [float(target.potential(libs.jnp.asarray(y))) for y in points]
    assert pyhf.get_backend()[0].name == "numpy"  # restored
    pyhf_model = pyhf.Workspace(spec).model()
    reference = []
    for y in points:
        sigma = 50.0 / (1.0 + math.exp(-y[0]))
        log_j = math.log(50.0) - math.log1p(math.exp(-y[0])) - math.log1p(math.exp(y[0]))
        values = np.empty(len(model.priors))
        total = log_j
        for j, prior in enumerate(model.priors):
            z = y[1 + j]
            if prior.kind == "flat":
                span = prior.upper - prior.lower
                values[j] = prior.lower + span / (1 + math.exp(-z))
                total += math.log(span) - math.log1p(math.exp(-z)) - math.log1p(math.exp(z))
            else:  # multiplicative staterror: x = c exp(k z), c = mean, k = width / mean
                k = prior.width / prior.mean
                values[j] = prior.mean * math.exp(k * z)
                total += math.log(prior.width) + k * z
            total += float(prior.log_density(np.array([values[j]]))[0])
        pars = model.init
        pars[list(model.parameter_index)] = values
        pars[model.poi_index] = sigma
        expected = float(np.asarray(pyhf_model.main_model.expected_data(pars))[0])
        total += 4 * math.log(expected) - expected
        reference.append(-total)
    differences = np.diff(energy)
    assert np.allclose(differences, np.diff(reference), rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_one_bin_normsys_agrees_with_the_engine() -> None:
    _libraries()
    spec = json.loads((DATA / "1bin_normsys.json").read_text())
    engine = generic_bayes.upper_limit(spec)
    result = nuts.nuts_upper_limit(spec, settings=nuts.NutsSettings(draws=2000))
    assert result.converged, result.problems
    assert result.numerical_uncertainty < 0.03 * result.upper_limit  # a test that can fail
    combined = math.hypot(result.numerical_uncertainty, engine.numerical_uncertainty)
    assert abs(result.upper_limit - engine.upper_limit) < 3 * combined


@pytest.mark.slow
def test_scaling_model_at_50_bins_agrees_with_the_exact_reference() -> None:
    _libraries()
    spec = scaling_spec(50)
    exact, _ = ScalingReference(spec).solve(0.9)
    result = nuts.nuts_upper_limit(spec, settings=nuts.NutsSettings(draws=4000))
    assert result.converged, result.problems
    assert result.n_parameters == 54
    deviation = abs(result.upper_limit - exact)
    assert deviation < 3 * result.numerical_uncertainty
    assert deviation < 0.01 * exact
    assert result.numerical_uncertainty < 0.01 * exact


@pytest.mark.slow
def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    _libraries()
    spec = window_spec(n=5, signal=1.0, backgrounds={"b": 2.0}, background_shifts={"b": {"x": 0.5}})
    settings = nuts.NutsSettings(draws=200, warmup=100, chains=2)
    backend = pyhf.get_backend()
    model = GenericModel.from_spec(spec)  # a numpy pyhf model alive while the backend switches
    before = generic_bayes.upper_limit(model)
    first = nuts.nuts_upper_limit(model, seed=11, settings=settings)
    again = nuts.nuts_upper_limit(spec, seed=11, settings=settings)
    other = nuts.nuts_upper_limit(spec, seed=12, settings=settings)
    # the previous backend and optimizer are back, and the default engine is unaffected
    assert pyhf.get_backend() == backend
    assert generic_bayes.upper_limit(model) == before
    assert first == again
    assert first.to_dict() == again.to_dict()
    assert other.upper_limit != first.upper_limit


@pytest.mark.slow
def test_cli_prints_limit_error_and_diagnostics_and_honours_fix() -> None:
    _libraries()
    path = DATA / "1bin_normsys.json"
    args = ["limit", str(path), "--sampler", "nuts", "--draws", "300", "--json"]
    result = CliRunner().invoke(cli, [*args, "--fix", "bkg_norm=0.5"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["method"] == "nuts"
    assert doc["fixed"] == {"bkg_norm": 0.5}
    assert doc["parameters"] == []
    assert doc["sampler"]["n_parameters"] == 1
    assert doc["numerical_uncertainty"] > 0
    assert set(doc["diagnostics"]) >= {"rhat", "ess_bulk", "ess_limit", "divergences", "problems"}
    # with the nuisance parameter fixed the posterior is one-dimensional: the engine's limit
    engine = generic_bayes.upper_limit(json.loads(path.read_text()), fix={"bkg_norm": 0.5})
    assert abs(doc["upper_limit"] - engine.upper_limit) < 4 * doc["numerical_uncertainty"]
    text = CliRunner().invoke(cli, ["limit", str(path), "--sampler", "nuts", "--draws", "100"])
    assert text.exit_code == 0
    assert "R-hat" in text.stdout
    assert "numerical uncertainty (nuts, Monte Carlo)" in text.stdout


@pytest.mark.slow
@pytest.mark.parametrize("prior", ["flat", "log"])
def test_one_bin_with_staterror_and_shifts_agrees_with_the_engine(prior: str) -> None:
    """A truncated-normal staterror and two Gaussian shifts, flat and log POI prior: the engine."""
    _libraries()
    spec = window_spec(
        n=4,
        signal=1.2,
        backgrounds={"b": 2.5},
        signal_shifts={"eff": 0.1},
        background_shifts={"b": {"jes": 0.4}},
        stat_errors={"b": 0.8},
        sigma_max=40.0,
    )
    engine = generic_bayes.upper_limit(spec, prior=prior, sigma_min=0.5)  # type: ignore[arg-type]
    result = nuts.nuts_upper_limit(
        spec,
        prior=prior,
        sigma_min=0.5,
        settings=nuts.NutsSettings(draws=1500),  # type: ignore[arg-type]
    )
    assert result.converged, result.problems
    assert result.n_parameters == 4
    assert result.numerical_uncertainty < 0.03 * result.upper_limit
    combined = math.hypot(result.numerical_uncertainty, engine.numerical_uncertainty)
    assert abs(result.upper_limit - engine.upper_limit) < 3 * combined
