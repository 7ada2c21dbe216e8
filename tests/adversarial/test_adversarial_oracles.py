"""The suite's own oracle: closed forms against published numbers, and the judge on known outcomes."""

from __future__ import annotations

import math
from pathlib import Path

import adversarial_workspaces as workspaces
import numpy as np
import pyhf
import pytest
from adversarial_harness import Case, Run, judge
from adversarial_oracles import (
    limit_problems,
    reference_bayes_factor,
    reference_limit,
    reference_pvalue,
    significance_problems,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

# PDG Review of Statistics, b = 0, flat prior: upper limits on s for n = 0..10 (statistics.md)
PDG_90 = [2.30, 3.89, 5.32, 6.68, 7.99, 9.27, 10.53, 11.77, 12.99, 14.21, 15.41]
PDG_95 = [3.00, 4.74, 6.30, 7.75, 9.15, 10.51, 11.84, 13.15, 14.43, 15.71, 16.96]


@pytest.mark.parametrize("n", range(11))
def test_reference_limit_reproduces_the_pdg_table(n: int) -> None:
    assert reference_limit(n, 0.0, 1.0, 0.90, 1000.0) == pytest.approx(PDG_90[n], abs=0.006)
    assert reference_limit(n, 0.0, 1.0, 0.95, 1000.0) == pytest.approx(PDG_95[n], abs=0.006)


@pytest.mark.parametrize(("n", "b", "eps", "smax"), [(0, 2.0, 1.0, 10.0), (7, 1.5, 0.4, 80.0)])
def test_reference_bayes_factor_is_the_ratio_of_marginal_likelihoods(
    n: int, b: float, eps: float, smax: float
) -> None:
    m1 = integrate.quad(lambda s: stats.poisson.pmf(n, b + eps * s), 0, smax, limit=200)[0] / smax
    want = m1 / stats.poisson.pmf(n, b)
    assert reference_bayes_factor(n, b, eps, smax) == pytest.approx(want, rel=1e-8)


def test_reference_log_prior_limit_by_direct_integration() -> None:
    n, b, eps, lo, hi = 3, 1.0, 1.0, 0.1, 50.0

    def cdf(x: float) -> float:
        f = lambda s: stats.poisson.pmf(n, b + eps * s) / s
        return integrate.quad(f, lo, x, limit=200)[0] / integrate.quad(f, lo, hi, limit=200)[0]

    limit = reference_limit(n, b, eps, 0.9, hi, prior="log", sigma_min=lo)
    assert cdf(limit) == pytest.approx(0.9, abs=1e-6)


def test_significance_invariants_catch_every_violation() -> None:
    good = {"p_value": 0.2, "z": float(stats.norm.isf(0.2)), "bayes_factor": 0.5, "sigma_max": 10.0}
    assert significance_problems(good, {}, 1e-7) == []
    one_sided = {**good, "p_value": 0.7, "z": 0.0}
    assert significance_problems(one_sided, {}, 1e-7) == []
    for bad in (
        {**good, "p_value": 1.2},
        {**good, "z": None},
        {**good, "z": 3.0},
        {**good, "bayes_factor": None},
        {**good, "bayes_factor": -1.0},
        {**good, "sigma_max": math.inf},
    ):
        assert significance_problems(bad, {}, 1e-7), bad
    reference = {"n": 4, "b": 1.5, "eps": 1.2, "sigma_max": 10.0}
    wrong_p = {**good, "p_value": reference_pvalue(4, 1.5) * 1.01}
    wrong_p["z"] = float(stats.norm.isf(wrong_p["p_value"]))
    assert any("closed form" in p for p in significance_problems(wrong_p, reference, 1e-6))


def test_limit_invariants_catch_every_violation() -> None:
    want = reference_limit(4, 1.5, 1.2, 0.9, 80.0)
    good = {"upper_limit": want, "sigma_max": 80.0, "cl": 0.9, "prior": "flat"}
    reference = {"n": 4, "b": 1.5, "eps": 1.2, "sigma_max": 80.0, "cl": 0.9}
    assert limit_problems(good, reference, 2e-3) == []
    for bad in (
        {**good, "upper_limit": 0.0},
        {**good, "upper_limit": 81.0},
        {**good, "upper_limit": math.nan},
        {**good, "cl": 1.0},
        {**good, "sigma_max": -1.0},
        {**good, "upper_limit": want * 1.01},
        {**good, "sigma_max": 100.0, "upper_limit": want},
    ):
        assert limit_problems(bad, reference, 2e-3), bad


def _case(expect: str = "either", **kwargs: object) -> Case:
    return Case("test", "label", ("limit", "ws.json"), {}, expect, **kwargs)  # type: ignore[arg-type]


def test_judge_tells_the_outcomes_apart(tmp_path: Path) -> None:
    line = "error: ws.json: observations[0]: expected a count, got nan\n"
    assert judge(_case(), Run(2, "", line), tmp_path, set())[0] == "clean_error"
    assert judge(_case("succeed"), Run(2, "", line), tmp_path, set())[0] == "wrong_result"
    assert judge(_case(culprits=("--cl",)), Run(2, "", line), tmp_path, set())[0] == "bad_error"
    two = "WARNING x: y\n" + line
    assert judge(_case(), Run(2, "", two), tmp_path, set())[0] == "bad_error"
    usage = "Usage: dhstat limit\nTry 'dhstat limit -h'\n\nError: No such option: --x\n"
    assert judge(_case(), Run(2, "", usage), tmp_path, set())[0] == "bad_error"
    assert judge(_case(), Run(1, "", line), tmp_path, set())[0] == "bad_error"
    crash = Run(None, "", "", exception="Traceback (most recent call last):\nValueError: x")
    assert judge(_case(), crash, tmp_path, set())[0] == "traceback"
    assert judge(_case(), Run(None, "", "", hang=True), tmp_path, set())[0] == "hang"
    assert judge(_case("fail"), Run(0, "ok\n", ""), tmp_path, set())[0] == "wrong_result"
    assert judge(_case(), Run(0, "ok\n", ""), tmp_path, set())[0] == "valid"
    (tmp_path / "half.json").write_text("{")
    assert judge(_case(), Run(2, "", line), tmp_path, set())[0] == "bad_error"
    (tmp_path / ".out.json.abcd1234.part.json").write_text("{")
    assert judge(_case(), Run(0, "ok\n", ""), tmp_path, {"half.json"})[0] == "wrong_result"


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(["simple", "smeared", "multibin"]), st.data())
def test_generated_valid_workspaces_are_valid_for_pyhf(family: str, data: st.DataObject) -> None:
    """The unmutated specs must be models pyhf builds and fits (else 'succeed' would be wrong)."""
    if family == "simple":
        spec = data.draw(workspaces.simple())[0]
    else:
        spec = data.draw(workspaces.smeared() if family == "smeared" else workspaces.multibin())
    workspace = pyhf.Workspace(spec)
    model = workspace.model()
    assert model.config.poi_name == "sigma"
    bestfit = pyhf.infer.mle.fit(workspace.data(model), model)
    assert np.all(np.isfinite(bestfit))
