"""The chain diagnostics of dhstat.stats.chains against closed forms, calibration and numpyro.

References: the integrated autocorrelation time of an AR(1) chain, (1 + phi) / (1 - phi); the spread
of a quantile estimate over many independent replicates (the Monte Carlo error it should quote);
numpyro's own implementation of Stan's ESS and split R-hat (when numpyro is installed).
"""

from __future__ import annotations

import numpy as np
import pytest

from dhstat.stats import chains


def _ar1(rng: np.random.Generator, phi: float, shape: tuple[int, int]) -> np.ndarray:
    """AR(1) chains of unit stationary variance, started in the stationary distribution."""
    noise = rng.normal(size=shape) * np.sqrt(1 - phi * phi)
    x = np.empty(shape)
    x[:, 0] = rng.normal(size=shape[0])
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_ess_of_ar1_chains_matches_the_autocorrelation_time() -> None:
    phi = 0.6
    x = _ar1(np.random.default_rng(1), phi, (4, 20_000))
    expected = x.size * (1 - phi) / (1 + phi)  # 20 000
    assert chains.effective_sample_size(x) == pytest.approx(expected, rel=0.08)
    assert chains.ess_bulk(x) == pytest.approx(expected, rel=0.08)


def test_quantile_error_is_calibrated_over_replicates() -> None:
    """The quoted error of the 90 % quantile matches the spread over 300 independent replicates."""
    rng = np.random.default_rng(2)
    values, errors = [], []
    for _ in range(300):
        q, error, m = chains.quantile_with_error(_ar1(rng, 0.5, (4, 500)), 0.9)
        values.append(q)
        errors.append(error)
        assert 200 < m < 2000
    spread = float(np.std(values, ddof=1))
    quoted = float(np.sqrt(np.mean(np.square(errors))))
    assert 0.85 < quoted / spread < 1.2
    # and the estimates centre on the true quantile of N(0, 1)
    assert abs(np.mean(values) - 1.2815516) < 3 * spread / np.sqrt(300) + 0.01


def test_rhat_flags_chains_that_disagree() -> None:
    rng = np.random.default_rng(3)
    good = rng.normal(size=(4, 1000))
    assert chains.rhat(good) < 1.01
    shifted = good.copy()
    shifted[0] += 0.5
    assert chains.rhat(shifted) > 1.01
    wider = good.copy()
    wider[1] *= 2.0  # same location, other scale: only the folded R-hat sees it
    assert chains.split_rhat(wider) < 1.01 < chains.rhat(wider)
    drifting = good + np.linspace(0, 1, 1000)[None, :]  # each chain drifts: the halves differ
    assert chains.rhat(drifting) > 1.01


def test_constant_draws_give_nan_not_a_number_that_looks_valid() -> None:
    x = np.ones((2, 10))
    assert np.isnan(chains.effective_sample_size(x))
    q, error, m = chains.quantile_with_error(x, 0.9)
    assert q == 1.0
    assert error == np.inf
    assert np.isnan(m)
    with pytest.raises(ValueError, match="chains, draws"):
        chains.rhat(np.ones(10))


def test_against_numpyro_implementation() -> None:
    diagnostics = pytest.importorskip("numpyro.diagnostics")
    rng = np.random.default_rng(4)
    for phi in (0.0, 0.5, 0.9):
        x = _ar1(rng, phi, (3, 777)) + rng.normal(size=(3, 1)) * 0.1
        expected_ess = float(diagnostics.effective_sample_size(x))
        assert chains.effective_sample_size(x) == pytest.approx(expected_ess, rel=1e-10)
        expected_rhat = float(diagnostics.split_gelman_rubin(x))
        assert chains.split_rhat(x) == pytest.approx(expected_rhat, rel=1e-10)
