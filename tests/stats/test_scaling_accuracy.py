"""The quoted numerical error of the posterior-following integration is honest (issue 14).

The N-bin staterror model of the scaling benchmark (:func:`generic_models.scaling_spec`) has an
exact reference (:mod:`scaling_reference`: the bins factorise given the shared parameters). Over
independent seeds the deviation of ln B10 and of the limit from it must lie within 2 quoted
standard errors in about 90 % of the runs (at least 8 of 10; 95 % expected for an honest error),
within 1 % on average, and the quoted error must meet the engine's target.
"""

from __future__ import annotations

import numpy as np
import pytest
from stats.generic_models import scaling_spec
from stats.scaling_reference import ScalingReference

from dhstat.stats import generic, generic_bayes

SEEDS = 10


@pytest.mark.slow
def test_bayes_factor_and_limit_errors_are_honest_over_seeds() -> None:
    spec = scaling_spec(10)
    ref_limit, ref_log_b = ScalingReference(spec).solve()
    model = generic.GenericModel.from_spec(spec)
    log_b_dev, limit_dev, log_b_err, limit_err = [], [], [], []
    for seed in range(1, SEEDS + 1):
        settings = generic.Settings(mc_seed=seed)
        value, error = generic_bayes.log_bayes_factor(model, settings=settings)
        limit = generic_bayes.upper_limit(model, settings=settings)
        log_b_dev.append(value - ref_log_b)
        log_b_err.append(error)
        limit_dev.append(limit.upper_limit - ref_limit)
        limit_err.append(limit.numerical_uncertainty)
    b_dev, b_err = np.array(log_b_dev), np.array(log_b_err)
    l_dev, l_err = np.array(limit_dev), np.array(limit_err)
    assert (b_err > 0).all()
    assert (l_err > 0).all()
    assert (np.abs(b_dev) <= 2 * b_err).sum() >= SEEDS - 2, (b_dev, b_err)
    assert (np.abs(l_dev) <= 2 * l_err).sum() >= SEEDS - 2, (l_dev, l_err)
    assert abs(b_dev.mean()) < 0.01
    assert abs(l_dev.mean()) < 0.01 * ref_limit
    target = generic.Settings().is_target_error
    assert (b_err <= target).all()
    assert (l_err <= target * ref_limit).all()
