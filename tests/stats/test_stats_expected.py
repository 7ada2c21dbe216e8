"""Expected limits and expected Z against toys drawn in the test (the prior predictive of N).

The toys draw the nuisance parameters from their priors by rejection (the zero-truncation of the
window model: S >= 0, B >= 0, gamma >= 0) and N from the Poisson distribution, independently of
the library's quadrature. For a discrete N an exact q-quantile x_q of the limit satisfies
``P(L < x_q) <= q <= P(L <= x_q)``; the test checks both sides on the toys within 2 Monte Carlo
standard errors ``sqrt(q (1 - q) / T)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from dhstat.stats import bayes, expected, significance
from dhstat.stats.model import WindowSet, window_spec

TOYS = 40_000


def _windows() -> WindowSet:
    def spec(b: float, s: float, syst: float, stat: float, s_syst: float) -> dict:
        return window_spec(
            n=0,
            signal=s,
            backgrounds={"mumu": 0.8 * b, "tautau": 0.2 * b},
            signal_shifts={"syst_detector": syst * s, "mcstat_signal": s_syst * s},
            background_shifts={
                "mumu": {"syst_detector": syst * 0.8 * b},
                "tautau": {"syst_detector": syst * 0.2 * b},
            },
            stat_errors={"mumu": stat * 0.8 * b} if stat else None,
        )

    specs = [
        spec(0.4, 1.2, 0.02, 0.5, 0.1),  # small background, 50 % MC statistics
        spec(3.0, 1.4, 0.09, 0.2, 0.05),
        spec(25.0, 0.9, 0.09, 0.05, 0.3),  # signal uncertainty large enough to truncate
        spec(180.0, 1.6, 0.09, 0.03, 0.05),
        # a window without simulated background: w +- w (histosys, truncated at 0)
        window_spec(
            n=0,
            signal=0.12,
            backgrounds={"mumu": 0.1},
            background_shifts={"mumu": {"mcstat_background": 0.1}},
        ),
    ]
    return WindowSet.from_specs(specs)


def _draw(windows: WindowSet, row: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Counts N from the prior predictive of one window (rejection for the truncation)."""
    shifts = windows.shifts[row]  # (P, 3): +1 sd shifts of (S, G, H)
    delta = windows.stat_width[row]
    out: list[np.ndarray] = []
    kept = 0
    while kept < TOYS:
        theta = rng.standard_normal((TOYS, shifts.shape[0]))
        s, g, h = (
            windows.signal[row] + theta @ shifts[:, 0],
            windows.stat_background[row] + theta @ shifts[:, 1],
            windows.other_background[row] + theta @ shifts[:, 2],
        )
        gamma = 1.0 + delta * rng.standard_normal(TOYS)
        b = gamma * g + h
        ok = (s >= 0) & (b >= 0) & (gamma >= 0)
        out.append(rng.poisson(b[ok] + sigma * s[ok]))
        kept += int(ok.sum())
    return np.concatenate(out)[:TOYS]


def _bracket(samples: np.ndarray, value: float, q: float) -> tuple[bool, bool]:
    """``P(X <= value) >= q - 2 se`` and ``P(X < value) <= q + 2 se`` on the samples."""
    se = np.sqrt(q * (1 - q) / samples.size)
    return bool(np.mean(samples <= value) >= q - 2 * se), bool(
        np.mean(samples < value) <= q + 2 * se
    )


def _limits_at(windows: WindowSet, row: int, counts: np.ndarray) -> np.ndarray:
    """The library's flat limits of window ``row`` at the given counts."""
    sub = windows.subset(np.full(counts.size, row))
    sub = dataclasses.replace(sub, n=counts.astype(np.int64), _cache={})
    return bayes.window_upper_limits(sub, cl=0.9, check=False).upper_limit


def test_expected_limits_are_the_quantiles_of_toy_limits() -> None:
    windows = _windows()
    bands = expected.expected_upper_limits(windows, cl=0.9)
    counts = expected.count_quantiles(windows, expected.BAND_LEVELS)
    rng = np.random.default_rng(2016)
    for row in range(len(windows)):
        toys = _draw(windows, row, 0.0, rng)
        values, inverse = np.unique(toys, return_inverse=True)
        limits = _limits_at(windows, row, values)
        assert np.all(np.diff(limits) > 0)  # the limit increases with N
        toy_limits = limits[inverse.ravel()]
        for k, q in enumerate(expected.BAND_LEVELS):
            assert _bracket(toy_limits, bands[row, k], q) == (True, True), (row, k)
            assert _bracket(toys, counts[row, k], q) == (True, True), (row, k)
        assert np.all(np.diff(bands[row]) >= 0)


def test_expected_limits_reuse_observed_and_skip_rows() -> None:
    windows = _windows()
    full = expected.expected_upper_limits(windows, cl=0.9)
    observed = bayes.window_upper_limits(windows, cl=0.9, check=False).upper_limit
    reused = expected.expected_upper_limits(windows, cl=0.9, observed=observed, rows=[1, 3])
    assert np.isnan(reused[[0, 2, 4]]).all()
    np.testing.assert_allclose(reused[[1, 3]], full[[1, 3]], rtol=1e-12)
    log_prior = expected.expected_upper_limits(windows, cl=0.9, prior="log", rows=[1])
    assert np.all(np.diff(log_prior[1]) >= 0)
    assert np.isfinite(log_prior[1]).all()


def test_expected_significance_is_the_median_toy_z() -> None:
    windows = _windows()
    sigma = 5.0
    z_expected = expected.expected_significance(windows, sigma)
    median = expected.count_quantiles(windows, [0.5], sigma=sigma)[:, 0]
    rng = np.random.default_rng(61)
    for row in range(len(windows)):
        toys = _draw(windows, row, sigma, rng)
        assert _bracket(toys, median[row], 0.5) == (True, True), row
        values, inverse = np.unique(toys, return_inverse=True)
        p = significance.hybrid_pvalue(windows.subset([row]), values[None, :])[0]
        toy_z = significance.z_of_p(p)[inverse.ravel()]
        assert _bracket(toy_z, z_expected[row], 0.5) == (True, True), row
    assert np.all(z_expected >= 0)


def test_background_free_quantiles_and_bad_input() -> None:
    windows = WindowSet.from_specs([window_spec(n=4, signal=1.0, backgrounds={"b": 2.0})])
    counts = expected.count_quantiles(windows, [0.1, 0.5, 0.9], sigma=3.0)
    assert counts.tolist() == [stats.poisson.ppf([0.1, 0.5, 0.9], 5.0).astype(int).tolist()]
    with pytest.raises(Exception, match="levels"):
        expected.count_quantiles(windows, [0.0, 0.5])
    with pytest.raises(Exception, match="sensitivity_sigma_fb"):
        expected.expected_significance(windows, 0.0)


@pytest.mark.parametrize("skew", [0.0, 0.5, 2.0])
def test_bisection_against_a_brute_force_cdf(skew: float) -> None:
    """The bisection (large rates; its bracket starts at the normal approximation) is exact."""
    rng = np.random.default_rng(int(10 * skew))
    levels = np.array(expected.BAND_LEVELS)
    m, k = 6, 12
    scale = 10 ** rng.uniform(1.0, 4.5, (m, 1))
    mu = scale * np.exp(skew * rng.standard_normal((m, k)))  # lognormal spread: skewed mixtures
    weight = rng.uniform(0.1, 1.0, (m, k))
    weight /= weight.sum(-1, keepdims=True)
    got = expected._bisect(mu, weight, levels)
    for row in range(m):
        top = int(mu[row].max() + 12 * np.sqrt(mu[row].max()) + 40)
        counts = np.arange(top)
        cdf = (weight[row][:, None] * stats.poisson.cdf(counts[None, :], mu[row][:, None])).sum(0)
        want = [int(np.argmax(cdf >= q)) for q in levels]
        assert got[row].tolist() == want
