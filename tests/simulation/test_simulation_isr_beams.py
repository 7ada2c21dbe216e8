"""ISR from both beams in the mu mu(gamma) generator (issue 18): split law and kinematics.

References are independent of the code under test: scipy's Beta distribution for the split,
four-momentum conservation, the pair mass of the single-photon model drawn from the same stream.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dhstat.config import loads
from dhstat.physics import kinematics as kin
from dhstat.physics import theory
from dhstat.physics.beams import Beams
from dhstat.simulation.isr_photons import split_isr
from dhstat.simulation.mumu import generate_mumu

BETA = 0.0877
ON = "[simulation]\nbeam_energy_spread = false\nisr_both_beams = true\n"
OFF = "[simulation]\nbeam_energy_spread = false\nisr_both_beams = false\n"


def test_split_conserves_the_product_and_follows_beta() -> None:
    rng = np.random.default_rng(11)
    x = rng.uniform(0.0, 0.95, 100_000)
    x1, x2 = split_isr(rng, x, BETA)
    assert np.allclose((1 - x1) * (1 - x2), 1 - x, rtol=0, atol=1e-12)
    assert np.all((x1 >= 0) & (x1 <= x + 1e-15) & (x2 >= 0) & (x2 <= x + 1e-15))
    # the share of the first beam in -ln(1 - x) is Beta(beta/2, beta/2)
    t = np.log1p(-x1) / np.log1p(-x)
    ok = x > 0.01
    # compare in a central range where the float resolution of t is irrelevant
    tc = t[ok]
    inner = (tc > 1e-3) & (tc < 1 - 1e-3)
    ref = stats.beta(BETA / 2, BETA / 2)
    p_inner = ref.cdf(1 - 1e-3) - ref.cdf(1e-3)
    assert abs(inner.mean() - p_inner) < 4 * np.sqrt(p_inner * (1 - p_inner) / tc.size)
    cond = stats.kstest(tc[inner], lambda v: (ref.cdf(v) - ref.cdf(1e-3)) / p_inner)
    assert cond.pvalue > 1e-3


def test_split_of_zero_loss_is_zero() -> None:
    x1, x2 = split_isr(np.random.default_rng(1), np.zeros(5), BETA)
    assert np.all(x1 == 0)
    assert np.all(x2 == 0)


@pytest.fixture(scope="module")
def samples() -> tuple[object, np.ndarray, np.ndarray]:
    on, off = loads(ON), loads(OFF)
    t_on = generate_mumu(40_000, cfg=on, rng=np.random.default_rng(5))
    t_off = generate_mumu(40_000, cfg=off, rng=np.random.default_rng(5))
    return on, t_on, t_off


def test_four_momentum_is_conserved(samples) -> None:  # type: ignore[no-untyped-def]
    cfg, t_on, _ = samples
    beams = Beams.from_config(cfg).total()
    total = t_on.p.sum(axis=1)
    assert t_on.p.shape[1] == 5
    assert np.allclose(total, beams[None, :], atol=1e-9)


def test_pair_mass_is_the_single_photon_models(samples) -> None:  # type: ignore[no-untyped-def]
    _, t_on, t_off = samples
    # the total loss x is drawn first from the same stream: the mu mu (+ FSR) mass is the same
    pair_on = kin.mass2(t_on.p[:, 0] + t_on.p[:, 1] + t_on.p[:, 3])
    pair_off = kin.mass2(t_off.p[:, 0] + t_off.p[:, 1] + t_off.p[:, 3])
    assert np.allclose(pair_on, pair_off, rtol=1e-9, atol=1e-9)


def test_photon_system_gains_mass(samples) -> None:  # type: ignore[no-untyped-def]
    cfg, t_on, t_off = samples
    s = float(kin.mass2(Beams.from_config(cfg).total()))
    isr_on = kin.mass2(t_on.p[:, 2] + t_on.p[:, 4])
    assert np.all(kin.mass2(t_off.p[:, 2]) < 1e-9)
    # collinear opposite photons: M^2 = x1 x2 s / ... ; both photons carry >= 10 % of the
    # loss with probability P(0.1 < t < 0.9) of Beta(beta/2, beta/2) (small-x events)
    e1, e2 = t_on.p[:, 2, 0], t_on.p[:, 4, 0]
    x = 2 * (e1 + e2) / np.sqrt(s)
    beta = float(theory.isr_beta(s))
    small = (x > 1e-3) & (x < 0.05)
    share = e1[small] / (e1[small] + e2[small])
    both = (share > 0.1) & (share < 0.9)
    p_ref = stats.beta(beta / 2, beta / 2).cdf(0.9) - stats.beta(beta / 2, beta / 2).cdf(0.1)
    sd = np.sqrt(p_ref * (1 - p_ref) / small.sum())
    assert abs(both.mean() - p_ref) < 4 * sd + 0.01
    assert np.mean(isr_on > 1.0) > 0.01
