"""The ISR sampler against quadrature (KS tests with fixed seeds, p > 1e-3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from dhstat.physics import theory
from dhstat.simulation.isr import make_sampler

P_MIN = 1e-3


def test_isr_sampler_against_quadrature() -> None:
    s, ma, mh = 10.5796**2, 5.0, 2.0
    beta = float(theory.isr_beta(s))
    sigma0 = float(theory.born_cross_section(ma, mh, s))
    x_max = 1 - (ma + mh) ** 2 / s

    def density(x: float) -> float:
        return float(theory.isr_radiator(x, beta) * theory.born_cross_section(ma, mh, s * (1 - x)))

    sampler = make_sampler(
        beta, x_max, lambda x: theory.born_cross_section(ma, mh, s * (1 - x)) / sigma0
    )
    norm = quad(density, 0, x_max, points=[1e-6, 1e-3], limit=400)[0]
    assert sampler.integral == pytest.approx(norm / sigma0, rel=1e-4)
    x = sampler.sample(np.random.default_rng(11), 20000)
    # reference CDF by quadrature on a grid uniform in z = x^beta (where the CDF is smooth)
    z = np.linspace(0.0, x_max**beta, 600)
    edges = z ** (1 / beta)
    pieces = [quad(density, a, b)[0] for a, b in itertools.pairwise(edges)]
    cdf_z = np.concatenate([[0.0], np.cumsum(pieces)]) / norm
    assert stats.kstest(x, lambda t: np.interp(t**beta, z, cdf_z)).pvalue > P_MIN
    # pure radiator: closed-form CDF a^beta (1 + 3 beta/4) - beta (a - a^2/4)
    flat = make_sampler(beta, 0.9, np.ones_like)
    y = flat.sample(np.random.default_rng(12), 20000)

    def closed(a: np.ndarray) -> np.ndarray:
        return a**beta * (1 + 0.75 * beta) - beta * (a - a * a / 4)

    assert stats.kstest(y, lambda a: closed(a) / closed(np.float64(0.9))).pvalue > P_MIN
