"""Kinematics against closed forms (analysis.md section 2-3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dhstat.config import load, loads
from dhstat.physics import kinematics as kin
from dhstat.physics.beams import Beams
from dhstat.simulation.signal import generate_signal


@pytest.fixture(scope="module")
def cfg():  # type: ignore[no-untyped-def]
    return load()


def _random_four(rng: np.random.Generator, n: int, mass: float = 0.3) -> np.ndarray:
    p = rng.normal(0, 3, (n, 3))
    return kin.four_vector(p[:, 0], p[:, 1], p[:, 2], mass)


def test_beams_give_sqrt_s_and_boost(cfg) -> None:  # type: ignore[no-untyped-def]
    her, ler = Beams.from_config(cfg).momenta()
    assert math.sqrt(float(kin.mass2(her + ler))) == pytest.approx(10.5796, abs=5e-5)
    # closed form: s = 2 me^2 + 2 (E1 E2 + p1 p2 cos(2a))
    me, a = 0.51099895e-3, 0.0415
    p1, p2 = math.sqrt(7.004**2 - me**2), math.sqrt(4.002**2 - me**2)
    s = 2 * me**2 + 2 * (7.004 * 4.002 + p1 * p2 * math.cos(2 * a))
    assert float(kin.mass2(her + ler)) == pytest.approx(s, rel=1e-12)
    beta = Beams.from_config(cfg).cm_velocity()
    assert beta == pytest.approx([0.04149, 0.0, 0.27253], abs=5e-6)
    b = float(np.linalg.norm(beta))
    assert b / math.sqrt(1 - b * b) == pytest.approx(0.2868, abs=5e-5)
    cm = kin.boost(her + ler, -beta)
    assert cm[1:] == pytest.approx([0, 0, 0], abs=1e-12)
    assert cm[0] == pytest.approx(math.sqrt(s), rel=1e-12)


def test_boost_inverse_and_invariance(rng: np.random.Generator) -> None:
    p = _random_four(rng, 1000)
    beta = rng.uniform(-0.55, 0.55, (1000, 3))
    q = kin.boost(p, beta)
    assert kin.boost(q, -beta) == pytest.approx(p, rel=1e-12, abs=1e-12)
    assert kin.mass2(q) == pytest.approx(kin.mass2(p), rel=1e-9, abs=1e-10)
    # a particle at rest acquires velocity beta
    rest = np.tile([2.0, 0.0, 0.0, 0.0], (1000, 1))
    moving = kin.boost(rest, beta)
    assert moving[:, 1:] / moving[:, :1] == pytest.approx(beta, rel=1e-12, abs=1e-14)
    # boost along z agrees with the textbook formula
    b = 0.6
    g = 1 / math.sqrt(1 - b * b)
    one = kin.boost(p[0], [0, 0, b])
    assert one[0] == pytest.approx(g * (p[0, 0] + b * p[0, 3]))
    assert one[3] == pytest.approx(g * (p[0, 3] + b * p[0, 0]))
    assert one[1:3] == pytest.approx(p[0, 1:3])


def test_angles_closed_forms(rng: np.random.Generator) -> None:
    p = _random_four(rng, 500)
    theta = kin.polar_angle(p)
    assert np.cos(theta) == pytest.approx(p[:, 3] / kin.momentum(p))
    phi = kin.azimuth(p)
    assert np.tan(phi) == pytest.approx(p[:, 2] / p[:, 1], rel=1e-9)
    q = _random_four(rng, 500)
    dphi = kin.delta_phi(p, q)
    assert np.all((dphi >= 0) & (dphi <= np.pi))
    cos = (p[:, 1] * q[:, 1] + p[:, 2] * q[:, 2]) / (
        np.hypot(p[:, 1], p[:, 2]) * np.hypot(q[:, 1], q[:, 2])
    )
    assert np.cos(dphi) == pytest.approx(cos, abs=1e-12)
    assert kin.delta_phi(p, q) == pytest.approx(kin.delta_phi(q, p))


def test_recoil_mass_sign_kept() -> None:
    assert float(kin.recoil_mass2([10.0, 0, 0, 0], [2.0, 0, 0, 9.0])) == pytest.approx(64 - 81)


def test_pt_cm_against_construction(cfg, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    beta = Beams.from_config(cfg).cm_velocity()
    p1_cm, p2_cm = _random_four(rng, 200, 0.1), _random_four(rng, 200, 0.1)
    expected = np.hypot(p1_cm[:, 1] + p2_cm[:, 1], p1_cm[:, 2] + p2_cm[:, 2])
    got = kin.pt_cm(kin.boost(p1_cm, beta), kin.boost(p2_cm, beta), beta)
    assert got == pytest.approx(expected, rel=1e-9)


def test_helicity_cos_against_explicit_boost(cfg, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    her, ler = Beams.from_config(cfg).momenta()
    total = her + ler
    mu1, mu2 = _random_four(rng, 300, 0.1056584), _random_four(rng, 300, 0.1056584)
    q = mu1 + mu2
    b = q[:, 1:] / q[:, :1]
    mu_rest = kin.boost(mu1, -b)
    cm_rest = kin.boost(np.broadcast_to(total, mu1.shape), -b)
    expected = np.sum(mu_rest[:, 1:] * cm_rest[:, 1:], axis=1) / (
        np.linalg.norm(mu_rest[:, 1:], axis=1) * np.linalg.norm(cm_rest[:, 1:], axis=1)
    )
    assert kin.helicity_cos(mu1, mu2, total) == pytest.approx(expected, abs=1e-9)
    # the c.m. system is seen opposite to the dimuon momentum (c.m. frame): mu- along the
    # dimuon direction in the c.m. frame has cos(eta) = -1
    cm = kin.boost(np.stack([mu1, mu2]), -Beams.from_config(cfg).cm_velocity())
    along = np.sum(
        kin.boost(cm[0], -(cm[0] + cm[1])[:, 1:] / (cm[0] + cm[1])[:, :1])[:, 1:]
        * (cm[0] + cm[1])[:, 1:],
        axis=1,
    )
    sign = np.sign(kin.helicity_cos(mu1, mu2, total))
    assert np.all(sign == -np.sign(along))


def test_signal_truth_recoil_mass_is_mh() -> None:
    cfg = loads("[simulation]\nbeam_energy_spread = false\n")
    her, ler = Beams.from_config(cfg).momenta()
    truth = generate_signal(5.0, 2.0, 2000, cfg=cfg, rng=np.random.default_rng(3), isr=False)
    visible = truth.p[:, 0] + truth.p[:, 1]
    mrec = np.sqrt(kin.recoil_mass2(her + ler, visible))
    assert mrec == pytest.approx(2.0, rel=1e-9)
    assert np.sqrt(kin.mass2(visible)) == pytest.approx(5.0, rel=1e-9)
    # masses are invariant under the boost to the c.m. frame
    cm = kin.boost(visible, -Beams.from_config(cfg).cm_velocity())
    assert kin.mass2(cm) == pytest.approx(kin.mass2(visible), rel=1e-10)
