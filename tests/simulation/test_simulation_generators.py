"""Truth-level generators against their formulas (KS tests with fixed seeds, p > 1e-3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dhstat.config import load, loads
from dhstat.physics import kinematics as kin
from dhstat.physics import theory
from dhstat.physics.beams import Beams
from dhstat.simulation.backgrounds import generate
from dhstat.simulation.mumu import generate_mumu
from dhstat.simulation.signal import generate_signal
from dhstat.simulation.tautau import _michel, _tau_to_mu, generate_tautau

P_MIN = 1e-3
QUIET = "[simulation]\nbeam_energy_spread = false\nisr = false\n[processes.mumu]\nfsr = false\n"


@pytest.fixture(scope="module")
def quiet():  # type: ignore[no-untyped-def]
    return loads(QUIET)


def _cm_axis(cfg) -> np.ndarray:  # type: ignore[no-untyped-def]
    her, _ = Beams.from_config(cfg).momenta()
    axis = kin.boost(her, -Beams.from_config(cfg).cm_velocity())[1:]
    return axis / np.linalg.norm(axis)


def _cos_to_axis(p_lab: np.ndarray, cfg) -> np.ndarray:  # type: ignore[no-untyped-def]
    cm = kin.boost(p_lab, -Beams.from_config(cfg).cm_velocity())
    return cm[:, 1:] @ _cm_axis(cfg) / kin.momentum(cm)


def test_signal_production_and_helicity_angles(quiet) -> None:  # type: ignore[no-untyped-def]
    ma, mh = 2.0, 1.0
    truth = generate_signal(ma, mh, 10000, cfg=quiet, rng=np.random.default_rng(7), isr=False)
    s = float(kin.mass2(Beams.from_config(quiet).total()))
    ra, rh = ma * ma / s, mh * mh / s
    lam = float(theory.kallen(1, ra, rh))

    def cdf_a(c: np.ndarray) -> np.ndarray:
        return (lam * (c - c**3 / 3) + 8 * ra * c + 2 * lam / 3 + 8 * ra) / (4 * lam / 3 + 16 * ra)

    cos_a = _cos_to_axis(truth.p[:, 0] + truth.p[:, 1], quiet)
    assert stats.kstest(cos_a, cdf_a).pvalue > P_MIN
    f_l = float(theory.longitudinal_fraction(ma, mh, s))

    def cdf_eta(c: np.ndarray) -> np.ndarray:
        return 0.375 * ((c + 1) + (c**3 + 1) / 3 + f_l * ((c + 1) - (c**3 + 1)))

    her, ler = Beams.from_config(quiet).momenta()
    cos_eta = kin.helicity_cos(truth.p[:, 0], truth.p[:, 1], her + ler)
    assert stats.kstest(cos_eta, cdf_eta).pvalue > P_MIN
    # and it is not the unpolarised (flat) distribution at this large f_L
    assert f_l > 0.7
    assert stats.kstest(cos_eta, stats.uniform(-1, 2).cdf).pvalue < 1e-6


def test_mumu_angle_without_radiation(quiet) -> None:  # type: ignore[no-untyped-def]
    truth = generate_mumu(10000, cfg=quiet, rng=np.random.default_rng(8))
    assert np.all(truth.pdg[:, 2:] == 0)  # no ISR/FSR photons
    s = float(kin.mass2(Beams.from_config(quiet).total()))
    b2 = 1 - 4 * 0.1056584**2 / s

    def cdf(c: np.ndarray) -> np.ndarray:
        return ((2 - b2) * (c + 1) + b2 * (c**3 + 1) / 3) / (2 * (2 - b2) + 2 * b2 / 3)

    assert stats.kstest(_cos_to_axis(truth.p[:, 0], quiet), cdf).pvalue > P_MIN


def test_michel_spectrum() -> None:
    x0 = 0.12
    x = _michel(np.random.default_rng(9), 20000, x0)
    f0 = 2 * x0**3 - x0**4
    assert stats.kstest(x, lambda t: (2 * t**3 - t**4 - f0) / (1 - f0)).pvalue > P_MIN


def test_tau_decay_energy_in_tau_frame() -> None:
    tau = np.tile([1.77686, 0.0, 0.0, 0.0], (5000, 1))
    mu, nu = _tau_to_mu(np.random.default_rng(10), tau, 1.77686, 0.1056584)
    assert mu + nu == pytest.approx(tau)
    assert kin.mass2(mu) == pytest.approx(np.full(5000, 0.1056584**2), rel=1e-6)
    w = (1.77686**2 + 0.1056584**2) / (2 * 1.77686)
    x = mu[:, 0] / w
    x0 = 0.1056584 / w
    f0 = 2 * x0**3 - x0**4
    assert stats.kstest(x, lambda t: (2 * t**3 - t**4 - f0) / (1 - f0)).pvalue > P_MIN


def _michel_cdf(x0: float):  # type: ignore[no-untyped-def]
    f0 = 2 * x0**3 - x0**4
    return lambda t: (2 * t**3 - t**4 - f0) / (1 - f0)


def test_tautau_emu_electron_michel_spectrum_and_slots(quiet) -> None:  # type: ignore[no-untyped-def]
    """e mu events: the electron's energy in its tau rest frame follows 2x^2(3-2x) (m_e ~ 0)."""
    n = 20000
    truth = generate_tautau(n, cfg=quiet, rng=np.random.default_rng(16), final_state="emu")
    me, mmu, mtau = 0.51099895e-3, 0.1056584, 1.77686
    electron_minus = truth.pdg[:, 0] == 11
    assert np.all(electron_minus | (truth.pdg[:, 0] == 13))  # slot 0: the negative lepton
    assert np.all(np.where(electron_minus, truth.pdg[:, 1] == -13, truth.pdg[:, 1] == -11))
    share = electron_minus.mean()  # which tau gives the electron: 50/50
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / n)
    for lep, nu, is_e in ((0, 2, electron_minus), (1, 3, ~electron_minus)):
        tau = truth.p[:, lep] + truth.p[:, nu]  # the tau from its lepton and neutrinos
        assert np.sqrt(kin.mass2(tau)) == pytest.approx(np.full(n, mtau), rel=1e-6)
        rest = kin.boost(truth.p[:, lep], -tau[:, 1:] / tau[:, :1])
        for mass, sel in ((me, is_e), (mmu, ~is_e)):
            w = (mtau**2 + mass**2) / (2 * mtau)
            assert stats.kstest(rest[sel, 0] / w, _michel_cdf(mass / w)).pvalue > P_MIN
        energy = rest[is_e, 0]
        assert energy.min() < mmu  # electron energies go below the muon mass


@pytest.mark.parametrize("process", ["signal", "mumu", "tautau", "eemumu"])
def test_four_momentum_conservation(process: str) -> None:
    cfg = loads("[simulation]\nbeam_energy_spread = false\n")
    rng = np.random.default_rng(13)
    if process == "signal":
        truth = generate_signal(3.0, 1.0, 3000, cfg=cfg, rng=rng, isr=True)
        assert np.any(truth.pdg[:, 3] == 22)
    else:
        truth = generate(process, 3000, cfg=cfg, rng=rng)
    her, ler = Beams.from_config(cfg).momenta()
    valid = np.all(truth.pdg[:, :2] != 0, axis=1)
    total = np.where((truth.pdg != 0)[..., None], truth.p, 0.0).sum(axis=1)[valid]
    assert total == pytest.approx(np.broadcast_to(her + ler, total.shape), abs=1e-9)
    masses = {13: 0.1056584, 11: 0.51099895e-3, 22: 0.0}
    for code, mass in masses.items():
        sel = np.abs(truth.pdg) == code
        assert np.sqrt(np.clip(kin.mass2(truth.p[sel]), 0, None)) == pytest.approx(
            np.full(sel.sum(), mass), abs=2e-5
        )


def test_isr_and_fsr_photons_present() -> None:
    cfg = load()
    truth = generate_mumu(20000, cfg=cfg, rng=np.random.default_rng(14))
    isr = truth.pdg[:, 2] == 22
    fsr = truth.pdg[:, 3] == 22
    assert isr.mean() > 0.99  # soft ISR photons almost always
    # FSR probability: 2 x (alpha/2pi)(L - 1) int (1 + (1-z)^2)/z dz over [z_min, z_max]
    s = 10.5796**2
    big_l = np.log(s / 0.1056584**2) - 1
    z0, z1 = 0.005, 1 - 4 * 0.1056584**2 / s
    integral = 2 * np.log(z1 / z0) - 2 * (z1 - z0) + (z1**2 - z0**2) / 2
    expected = 2 * 0.0072973525693 / (2 * np.pi) * big_l * integral
    assert fsr.mean() == pytest.approx(expected, abs=0.02)  # ISR changes s' slightly
