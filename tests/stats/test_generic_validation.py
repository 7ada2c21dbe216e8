"""Limits and Bayes factors of pyhf's validation workspaces against references with no dhstat code.

References (:mod:`generic_reference`): a dense grid with pyhf's logpdf where there are at most 2 free
nuisance parameters, joint importance sampling (scipy fit, Student-t proposal) above that.
Agreement: within 1 % or 3 combined numerical standard errors, for the limit and for B10 (1 % in
B10 is 0.01 in ln B10).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stats.generic_models import lhc_like_spec
from stats.generic_reference import grid_reference, joint_is_reference

from dhstat.stats import generic, generic_bayes

DATA = Path(__file__).parents[1] / "data" / "pyhf"

#: Per workspace: one grid axis per free nuisance parameter (+-8 prior widths, or the posterior's
#: region for free parameters, wide enough that the integrand is below e^-30 at its ends).
GRIDS: dict[str, list[np.ndarray]] = {
    "1bin_normsys": [np.linspace(-8, 8, 401)],
    "1bin_lumi": [np.linspace(1.0 - 8 * 0.1, 1.0 + 8 * 0.1, 401)],
    "1bin_shapesys": [np.linspace(0.3, 1.9, 401)],
    "2bin_histosys": [np.linspace(-8, 8, 401)],
    "2bin_2channel_couplednorm": [np.linspace(-8, 8, 401)],
    "2bin_2channel_coupledhistosys": [np.linspace(-8, 8, 401)],
    "2bin_2channel_coupledshapefactor": [np.linspace(1.2, 2.8, 81), np.linspace(2.1, 3.9, 91)],
}


def _load(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return spec


def _agree(value: float, reference: float, error: float, tolerance: float) -> bool:
    return abs(value - reference) <= max(tolerance, 3.0 * error)


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_validation_workspace_matches_dense_grid(name: str) -> None:
    spec = _load(name)
    model = generic.GenericModel.from_spec(spec, source=name)
    assert model.priors
    assert all(p.kind in ("normal", "gamma", "flat") for p in model.priors)
    sigma = np.linspace(0.0, model.sigma_max, 801)
    ref_limit, ref_log_b = grid_reference(spec, GRIDS[name], sigma)
    result = generic_bayes.upper_limit(model)
    log_b, log_b_error = generic_bayes.log_bayes_factor(model)
    assert result.method == "posterior-grid"  # at most 2 nuisance parameters
    assert 0 <= result.numerical_uncertainty < 1e-3 * result.upper_limit
    assert 0 <= log_b_error < 1e-3
    assert result.proposal_ok
    # the grid reference's own error: trapezoid in sigma, spacing sigma_max / 800
    grid_error = 0.2 * model.sigma_max / 800
    assert _agree(
        result.upper_limit,
        ref_limit,
        math.hypot(result.numerical_uncertainty, grid_error),
        0.01 * ref_limit,
    ), (result.upper_limit, ref_limit, result.numerical_uncertainty)
    assert _agree(log_b, ref_log_b, log_b_error, 0.01), (log_b, ref_log_b, log_b_error)
    assert len(result.to_dict()["parameters"]) == len(model.priors)


def test_log_prior_limit_matches_dense_grid() -> None:
    name = "2bin_2channel_coupledhistosys"
    spec = _load(name)
    sigma = np.geomspace(0.05, 10.0, 2001)
    ref_limit, _ = grid_reference(spec, GRIDS[name], sigma, log_prior=True)
    result = generic_bayes.upper_limit(spec, prior="log", sigma_min=0.05)
    assert result.sigma_min == 0.05
    assert _agree(result.upper_limit, ref_limit, result.numerical_uncertainty, 0.01 * ref_limit), (
        result.upper_limit,
        ref_limit,
        result.numerical_uncertainty,
    )


def test_datadriven_example_matches_joint_importance_sampling() -> None:
    spec = _load("datadriven")
    model = generic.GenericModel.from_spec(spec, source="datadriven")
    kinds = [p.kind for p in model.priors]
    assert kinds.count("flat") == 2  # the shapefactor is free
    assert len(kinds) == 9
    ref = joint_is_reference(spec, draws=100_000, seed=3)
    result = generic_bayes.upper_limit(model)
    assert result.method == "importance-sampling"
    assert result.numerical_uncertainty > 0
    log_b, log_b_error = generic_bayes.log_bayes_factor(model)
    assert _agree(
        result.upper_limit,
        ref[0],
        math.hypot(result.numerical_uncertainty, ref[1]),
        0.01 * ref[0],
    ), (result.upper_limit, ref)
    assert _agree(log_b, ref[2], math.hypot(log_b_error, ref[3]), 0.01), (log_b, ref)


@pytest.mark.slow
def test_lhc_like_likelihood_with_free_normfactors_matches_joint_importance_sampling() -> None:
    spec = lhc_like_spec()
    model = generic.GenericModel.from_spec(spec, source="lhc-like")
    assert len(model.priors) + 1 >= 60
    assert sum(p.kind == "flat" for p in model.priors) == 2
    ref = joint_is_reference(spec, draws=200_000, seed=4)
    result = generic_bayes.upper_limit(model)
    log_b, log_b_error = generic_bayes.log_bayes_factor(model)
    assert _agree(
        result.upper_limit,
        ref[0],
        math.hypot(result.numerical_uncertainty, ref[1]),
        0.01 * ref[0],
    ), (result.upper_limit, ref)
    assert _agree(log_b, ref[2], math.hypot(log_b_error, ref[3]), 0.01), (log_b, ref)
