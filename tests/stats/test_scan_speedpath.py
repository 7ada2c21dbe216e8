"""The fast paths of the window scan against straightforward, independent evaluations.

References written here, without the code under test: the flat-prior posterior CDF from
``scipy.special.gammaincc`` (and ``scipy.integrate.quad`` where it is ill-conditioned), roots by
``scipy.optimize.brentq``, the log-prior CDF by ``quad`` on ``m(sigma) / sigma``, incomplete gamma
functions and Poisson probabilities from scipy, and the scan of a merged window set against the
same windows one at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from dhstat.stats import _core, expected, nodes, priors, single_bin, window_bayes
from dhstat.stats.model import WindowSet, window_spec

CASES = [  # n, nominal S, nominal B, relative spread of (S, B) over the nodes, sigma_max
    (0, 1.5, 0.1, 0.1, 100.0),
    (1, 2.0, 0.0, 0.3, 100.0),
    (3, 0.7, 2.5, 0.5, 20.0),
    (12, 1.2, 0.5, 0.2, 100.0),
    (60, 0.3, 55.0, 0.2, 1000.0),
    (752, 1.866, 741.6, 0.0, 1000.0),  # one node, a flat CDF far from the root (Halley's guard)
    (800, 1.1, 760.0, 0.15, 100.0),
    (30, 0.01, 0.1, 0.0, 100.0),  # prior-dominated: the likelihood rises over all of [0, smax]
]


def _nodes(s: float, b: float, spread: float, k: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    if spread == 0.0 or k == 1:
        return np.array([[s]]), np.array([[b]]), np.ones((1, 1))
    signal = s * np.clip(1.0 + spread * rng.standard_normal(k), 0.05, None)
    background = b * np.clip(1.0 + spread * rng.standard_normal(k), 0.0, None)
    weight = rng.uniform(0.1, 1.0, k)
    return signal[None], background[None], (weight / weight.sum())[None]


def _flat_cdf(n: int, s: np.ndarray, b: np.ndarray, w: np.ndarray, x: float) -> float:
    """sum_k W_k int_0^x Pois(n | B_k + S_k t) dt, straightforwardly."""
    a = n + 1.0
    upper = special.gammaincc(a, b) - special.gammaincc(a, b + s * x)
    lower = special.gammainc(a, b + s * x) - special.gammainc(a, b)
    area = np.where(b + s * x <= a, lower, upper)
    return float((w * area / s).sum())


def _flat_reference(n: int, s: np.ndarray, b: np.ndarray, w: np.ndarray, smax: float) -> float:
    if n == 30 and s[0, 0] < 0.1:
        # deep in the lower tail the incomplete gamma difference cancels: integrate directly
        def cdf(x: float) -> float:
            def density(t: float) -> float:
                return float(stats.poisson.pmf(n, b[0, 0] + s[0, 0] * t))

            return float(integrate.quad(density, 0.0, x, epsabs=0.0, epsrel=1e-13)[0])
    else:

        def cdf(x: float) -> float:
            return _flat_cdf(n, s[0], b[0], w[0], x)

    total = cdf(smax)
    return float(optimize.brentq(lambda x: cdf(x) - 0.9 * total, 0.0, smax, xtol=1e-14, rtol=1e-14))


@pytest.mark.parametrize(("n", "s", "b", "spread", "smax"), CASES)
@pytest.mark.parametrize("k", [1, 7])
def test_flat_limits_against_brentq(
    n: int, s: float, b: float, spread: float, smax: float, k: int
) -> None:
    sig, bkg, w = _nodes(s, b, spread, k, seed=n + k)
    limit = single_bin.flat_limit_nodes(np.array([float(n)]), sig, bkg, w, 0.9, np.array([smax]))
    assert limit[0] == pytest.approx(_flat_reference(n, sig, bkg, w, smax), rel=1e-9)


@pytest.mark.parametrize(("n", "s", "b", "spread", "smax"), CASES)
def test_flat_limit_check_reuses_the_first_solve(
    n: int, s: float, b: float, spread: float, smax: float
) -> None:
    """The check limit equals a fresh solve on [0, 10 smax] where it is computed."""
    sig, bkg, w = _nodes(s, b, spread, 7, seed=n)
    x, top = np.array([float(n)]), np.array([smax])
    limit, at_check = single_bin.flat_limit_checked(x, sig, bkg, w, 0.9, top, 10.0 * top, 0.01)
    assert limit[0] == pytest.approx(single_bin.flat_limit_nodes(x, sig, bkg, w, 0.9, top)[0])
    if at_check[0] != limit[0]:
        fresh = _flat_reference(n, sig, bkg, w, 10.0 * smax)
        assert at_check[0] == pytest.approx(fresh, rel=1e-9)
    else:  # skipped: the mass beyond smax is negligible, so the limits agree
        assert _flat_reference(n, sig, bkg, w, 10.0 * smax) == pytest.approx(limit[0], rel=1e-6)


@pytest.mark.parametrize(
    ("n", "s", "b", "smin"),
    [(0, 1.5, 0.1, 0.5), (2, 1.0, 0.3, 1.0), (5, 0.4, 1.5, 0.2), (4, 3.0, 0.0, 2.0)],
)
def test_log_series_limit_against_quad(n: int, s: float, b: float, smin: float) -> None:
    sig, bkg, w = _nodes(s, b, 0.3, 5, seed=n)
    smax = 100.0

    def density(t: float) -> float:
        return float((w[0] * stats.poisson.pmf(n, bkg[0] + sig[0] * t)).sum() / t)

    edges = np.geomspace(smin, smax, 40)

    def cdf(x: float) -> float:
        parts = [e for e in edges if e < x]
        if not parts:
            return 0.0
        pieces = zip(parts, [*parts[1:], x], strict=True)
        return sum(
            integrate.quad(density, lo, hi, epsabs=0.0, epsrel=1e-13)[0] for lo, hi in pieces
        )

    total = cdf(smax)
    ref = optimize.brentq(lambda x: cdf(x) - 0.9 * total, smin, smax, xtol=1e-13, rtol=1e-13)
    limit = single_bin.log_limit_nodes(
        np.array([float(n)]), sig, bkg, w, 0.9, np.array([smin]), np.array([smax])
    )
    assert limit[0] == pytest.approx(ref, rel=1e-8)


def test_integer_tails_against_scipy() -> None:
    y = np.array([[0.0, 1e-8, 0.03, 0.7, 2.0, 5.0, 9.0, 40.0, 700.0]])
    for first in (1.0, 3.0):
        p, q = single_bin._integer_tails(np.array([[first]]), np.array([[first + 5]]), 6, y)
        a = first + np.arange(6)
        ref_p = special.gammainc(a[None, None, :], y[..., None])
        ref_q = special.gammaincc(a[None, None, :], y[..., None])
        np.testing.assert_allclose(p, ref_p, rtol=1e-13, atol=0.0)
        np.testing.assert_allclose(q, ref_q, rtol=1e-13, atol=1e-300)


def test_fast_pmf_against_scipy() -> None:
    n = np.array([[0.0], [1.0], [7.0], [900.0]])
    mu = np.array([[0.0, 1e-6, 0.5, 3.0, 850.0, 2000.0]])
    np.testing.assert_allclose(_core.fast_pmf(n, mu), stats.poisson.pmf(n, mu), rtol=1e-12)


def test_halley_solver_on_a_flat_far_tail() -> None:
    """Far from the root the Halley correction is large: the solver must not crawl."""
    cdf = stats.norm(50.0, 1.0).cdf

    def func(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        pdf = stats.norm.pdf(x, 50.0, 1.0)
        return cdf(x), pdf, -(x - 50.0) * pdf

    target = np.array([0.9, 0.5])
    root = _core.solve_increasing_halley(
        func, target, np.zeros(2), np.full(2, 1000.0), np.array([900.0, 1.0])
    )
    np.testing.assert_allclose(root, stats.norm.ppf(target, 50.0, 1.0), rtol=1e-12)


def test_truncated_rule_cache_matches_priors() -> None:
    bounds = np.array([-1.3, -0.2, -1.3, 0.4])
    z, w = nodes._truncated_rule(6, bounds)
    ref_z, ref_w = priors.normal_rule(6, bounds)
    np.testing.assert_array_equal(z, ref_z)
    np.testing.assert_array_equal(w, ref_w)


def test_merged_groups_give_the_limits_of_each_window_alone() -> None:
    """Windows of different quadrature rules scanned together and one at a time: the same bytes.

    (Determinism: a window's results must not depend on the other windows of its chunk.)
    """
    specs = [
        window_spec(n=0, signal=1.5, backgrounds={"b": 0.1}),
        window_spec(n=2, signal=1.0, backgrounds={"b": 0.5}, stat_errors={"b": 0.2}),
        window_spec(n=4, signal=0.8, backgrounds={"b": 1.5}, signal_shifts={"eff": 0.1}),
        window_spec(
            n=9,
            signal=1.2,
            backgrounds={"b": 6.0},
            background_shifts={"b": {"sys": 1.0}},
            stat_errors={"b": 0.5},
        ),
    ]
    together = WindowSet.from_specs(specs)
    assert len(together.nodes()) > 1
    for prior in ("flat", "log"):
        joint = window_bayes.window_upper_limits(together, prior=prior, sigma_min=0.5)
        for i, spec in enumerate(specs):
            alone = window_bayes.window_upper_limits(
                WindowSet.from_specs([spec]), prior=prior, sigma_min=0.5
            )
            assert joint.upper_limit[i] == alone.upper_limit[0]
            assert np.array_equal(joint.limit_at_check[i], alone.limit_at_check[0], equal_nan=True)
    joint_bf = window_bayes.window_bayes_factors(together)
    for i, spec in enumerate(specs):
        assert joint_bf[i] == window_bayes.window_bayes_factors(WindowSet.from_specs([spec]))[0]


def test_groups_of_equal_size_are_merged() -> None:
    specs = [window_spec(n=n, signal=1.0, backgrounds={"b": 0.5}) for n in (0, 3)]
    specs.append(window_spec(n=1, signal=1.0, backgrounds={"b": 0.5}, stat_errors={"b": 0.1}))
    groups = WindowSet.from_specs(specs).nodes()
    merged = window_bayes._merged(groups)
    assert len(merged) == len({g.signal.shape[1] for g in groups})
    assert sorted(np.concatenate([g.rows for g in merged]).tolist()) == [0, 1, 2]


def test_rows_of_a_batch_do_not_influence_each_other() -> None:
    """The same bytes for a row alone and in a batch (other counts, other series lengths)."""
    sig, bkg, w = _nodes(1.0, 0.4, 0.3, 5, seed=3)
    counts = np.array([0.0, 1.0, 3.0, 5.0, 40.0])
    m = counts.size
    s, b, ww = np.repeat(sig, m, 0), np.repeat(bkg, m, 0), np.repeat(w, m, 0)
    smin, smax = np.full(m, 0.7), np.full(m, 100.0)
    log_batch = single_bin.log_limit_nodes(counts, s, b, ww, 0.9, smin, smax)
    flat_batch = single_bin.flat_limit_nodes(counts, s, b, ww, 0.9, smax)
    for i in range(m):
        one = slice(i, i + 1)
        log_one = single_bin.log_limit_nodes(counts[one], sig, bkg, w, 0.9, smin[one], smax[one])
        flat_one = single_bin.flat_limit_nodes(counts[one], sig, bkg, w, 0.9, smax[one])
        assert log_batch[i] == log_one[0]
        assert flat_batch[i] == flat_one[0]


def test_truncated_nodes_of_other_windows_do_not_change_a_window() -> None:
    """Windows whose priors are cut at B >= 0 on different nodes: the same bytes together and alone.

    A 90-92 % staterror on one background next to an 83-90 % uncertainty on the other: the cut is
    an indicator on the nodes, and it zeroes different nodes of the two windows of one rule.
    """

    def spec(n: int, a: float, b: float, sys: float, stat: float) -> dict[str, Any]:
        return window_spec(
            n=n,
            signal=1.0,
            backgrounds={"a": a, "b": b},
            background_shifts={"b": {"sys": sys}},
            stat_errors={"a": stat},
        )

    specs = [spec(3, 1.0, 0.5, 0.45, 0.9), spec(3, 1.2, 0.6, 0.5, 1.1)]
    together = WindowSet.from_specs(specs)
    (group,) = together.nodes()
    zero = group.weight == 0
    assert zero.any(axis=1).all()
    assert not np.array_equal(zero[0], zero[1])
    joint = [
        window_bayes.window_upper_limits(together).upper_limit,
        window_bayes.window_upper_limits(together, prior="log", sigma_min=0.5).upper_limit,
        expected.expected_upper_limits(together),
        window_bayes.window_bayes_factors(together),
    ]
    for i, one in enumerate(specs):
        alone = WindowSet.from_specs([one])
        assert joint[0][i] == window_bayes.window_upper_limits(alone).upper_limit[0]
        log_alone = window_bayes.window_upper_limits(alone, prior="log", sigma_min=0.5)
        assert joint[1][i] == log_alone.upper_limit[0]
        assert np.array_equal(joint[2][i], expected.expected_upper_limits(alone)[0])
        assert joint[3][i] == window_bayes.window_bayes_factors(alone)[0]
