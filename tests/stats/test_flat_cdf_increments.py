"""The flat-prior CDF's shortcuts against straightforward evaluations.

:class:`dhstat.stats._flat_cdf.FlatCdf` integrates the step between a row's last point and the
next by the two-point Hermite rule, evaluates the lower tails once per distinct background, and
skips upper tails that round away. References here: a 40-point Gauss-Legendre rule on
``scipy.stats.poisson.pmf``, ``scipy.special.gammainc``/``gammaincc`` node by node.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from dhstat.stats import _core, _flat_cdf


def _area(n: float, lo: float, hi: float) -> float:
    """int_lo^hi Pois(n; mu) dmu by a 40-point Gauss-Legendre rule (the interval is short)."""
    x, w = np.polynomial.legendre.leggauss(40)
    mu = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x
    return float(0.5 * (hi - lo) * (w * stats.poisson.pmf(n, mu)).sum())


def test_hermite_step_against_gauss_legendre() -> None:
    rng = np.random.default_rng(3)
    worst, used = 0.0, 0
    for _ in range(3000):
        n = float(rng.choice([rng.integers(0, 10), rng.integers(0, 100), rng.integers(0, 3000)]))
        lo = max(n, 3.0) * 10 ** rng.uniform(-2.0, 0.4)
        scale = lo / np.sqrt((n - lo) ** 2 + n) if n > 0 else 1.0
        hi = lo + rng.uniform(-1.0, 1.0) * 0.12 * scale
        if hi <= 0:
            continue
        start, end, nn = np.array([[lo]]), np.array([[hi]]), np.array([[n]])
        pmf0, pmf1 = stats.poisson.pmf(n, start), stats.poisson.pmf(n, end)
        step, ok = _flat_cdf.hermite_step(nn, start, end, pmf0, pmf1, nn / end)
        exact = _area(n, lo, hi)
        if not ok[0, 0] or abs(exact) < 1e-250:
            continue
        used += 1
        worst = max(worst, abs(step[0, 0] / exact - 1.0))
    assert used > 1500
    assert worst < 1e-9


def test_hermite_step_refuses_long_steps() -> None:
    n, start, end = np.array([[50.0]]), np.array([[40.0]]), np.array([[48.0]])
    pmf0, pmf1 = stats.poisson.pmf(50, start), stats.poisson.pmf(50, end)
    _, ok = _flat_cdf.hermite_step(n, start, end, pmf0, pmf1, n / end)
    assert not ok[0, 0]


def test_lower_tails_once_per_distinct_background() -> None:
    rng = np.random.default_rng(5)
    values = rng.uniform(0.0, 40.0, (3, 30))
    background = np.concatenate([values, values[:, ::-1], values[:, :10]], axis=1)
    rng.permuted(background, axis=1, out=background)
    a = np.broadcast_to(np.array([[1.0], [20.0], [45.0]]), background.shape)
    p, q = _flat_cdf.lower_tails(np.ascontiguousarray(a), background)
    below = background <= a
    lower, upper = special.gammainc(a, background), special.gammaincc(a, background)
    assert np.array_equal(p, np.where(below, lower, 1.0 - upper))
    assert np.array_equal(q, np.where(below, 1.0 - lower, upper))


def _reference(n: float, s: np.ndarray, b: np.ndarray, w: np.ndarray, x: float) -> float:
    a = n + 1.0
    hi = b + s * x
    area = np.where(
        hi <= a,
        special.gammainc(a, hi) - special.gammainc(a, b),
        special.gammaincc(a, b) - special.gammaincc(a, hi),
    )
    return float((w * area / s).sum())


@pytest.mark.parametrize(("n", "s0", "b0"), [(3, 1.5, 1.0), (48, 1.9, 51.0), (640, 1.1, 584.0)])
def test_solver_sequence_of_points_matches_fresh_evaluations(n: int, s0: float, b0: float) -> None:
    rng = np.random.default_rng(n)
    k = 300
    s = s0 * np.clip(1.0 + 0.1 * rng.standard_normal((1, k)), 0.05, None)
    b = b0 * np.clip(1.0 + 0.1 * rng.standard_normal((1, k)), 0.0, None)
    w = rng.uniform(0.1, 1.0, (1, k))
    w /= w.sum()
    nn, rows = np.array([float(n)]), np.arange(1)
    cdf = _flat_cdf.FlatCdf(nn, s, b, w)
    x0 = (n - b0 + 2.0 * np.sqrt(n + 1.0) + 2.0) / s0
    # the total (far), then a solver-like sequence of nearing points (Hermite steps)
    points = [100.0, x0, x0 * 1.03, x0 * 1.031, x0 * (1.031 - 1e-6), x0 * 0.99]
    for x in points:
        value, slope, _ = cdf(np.array([x]), rows)
        fresh, _, _ = _flat_cdf.FlatCdf(nn, s, b, w)(np.array([x]), rows)
        ref = _reference(float(n), s, b, w, x)
        assert value[0] == pytest.approx(ref, rel=1e-11)
        assert value[0] == pytest.approx(fresh[0], rel=1e-11)
        pmf = (w * stats.poisson.pmf(n, b + s * x)).sum()
        assert slope[0] == pytest.approx(pmf, rel=1e-12)


def test_rows_mixing_hermite_steps_and_direct_evaluations_match_fresh_ones() -> None:
    """Rows that step far (direct evaluation on some rows only) next to rows that step near."""
    rng = np.random.default_rng(11)
    n = np.array([2.0, 40.0, 300.0, 7.0])
    k = 120
    s = 1.5 * np.clip(1.0 + 0.1 * rng.standard_normal((4, k)), 0.05, None)
    b = (n[:, None] + 1.0) * np.clip(1.0 + 0.1 * rng.standard_normal((4, k)), 0.0, None)
    w = rng.uniform(0.1, 1.0, (4, k))
    w /= w.sum(-1, keepdims=True)
    cdf = _flat_cdf.FlatCdf(n, s, b, w)
    x0 = (2.0 * np.sqrt(n + 1.0) + 2.0) / 1.5
    # row 0 and 2 move by 1e-4 (Hermite), row 1 by 40 % (direct), row 3 is not evaluated
    steps = [(np.arange(3), x0[:3]), (np.arange(3), x0[:3] * np.array([1.0001, 1.4, 0.9999]))]
    steps.append((np.array([1, 3]), np.array([x0[1] * 1.4001, x0[3]])))
    for rows, x in steps:
        value, slope, _ = cdf(x, rows)
        for i, row in enumerate(rows):
            one = np.array([row])
            sub = _flat_cdf.FlatCdf(n[one], s[one], b[one], w[one])
            fresh, fresh_slope, _ = sub(x[i : i + 1], np.arange(1))
            ref = _reference(float(n[row]), s[row], b[row], w[row], float(x[i]))
            assert value[i] == pytest.approx(ref, rel=1e-11)
            assert value[i] == pytest.approx(fresh[0], rel=1e-11)
            assert slope[i] == fresh_slope[0]


def test_fast_pmf_equals_the_xlogy_formula_for_every_shape() -> None:
    rng = np.random.default_rng(2)
    cases = [
        (np.array([[0.0], [3.0], [50.0]]), rng.uniform(0.0, 60.0, (3, 7))),
        (rng.integers(0, 9, (3, 7)).astype(float), rng.uniform(0.0, 9.0, (3, 1))),
        (np.array([0.0, 3.0, 2.0]), np.array([0.0, 2.5, 0.0])),
        (3.0, 2.5),
        (0.0, 0.0),
    ]
    for n, mu in cases:
        got = _core.fast_pmf(n, mu)
        want = stats.poisson.pmf(n, mu)
        assert np.shape(got) == np.shape(want)
        assert np.allclose(got, want, rtol=1e-13, atol=0.0)
