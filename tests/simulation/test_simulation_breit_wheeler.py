"""gamma gamma -> l l angular distribution and its accepted fraction against quadrature."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from dhstat.simulation.breit_wheeler import breit_wheeler_cos, breit_wheeler_fraction

P_MIN = 1e-3


@pytest.mark.parametrize("c_max", [1.0, 0.6])
def test_breit_wheeler_angle(c_max: float) -> None:
    beta = 0.95
    n = 20000
    c = breit_wheeler_cos(np.random.default_rng(12), np.full(n, beta), np.full(n, c_max))
    assert np.all(np.abs(c) <= c_max + 1e-12)

    def pdf(t: float) -> float:
        s2 = 1 - t * t
        return (1 + 2 * beta**2 * s2 - beta**4 * (1 + s2 * s2)) / (1 - beta**2 * t * t) ** 2

    norm = quad(pdf, -c_max, c_max, limit=200)[0]
    grid = np.linspace(-c_max, c_max, 401)
    cdf = (
        np.concatenate(
            [[0.0], np.cumsum([quad(pdf, a, b)[0] for a, b in itertools.pairwise(grid)])]
        )
        / norm
    )
    assert stats.kstest(c, lambda t: np.interp(t, grid, cdf)).pvalue > P_MIN
    frac = float(breit_wheeler_fraction(np.array([c_max]), np.array([beta]))[0])
    assert frac == pytest.approx(norm / quad(pdf, -1, 1, limit=200)[0], rel=2e-3)
