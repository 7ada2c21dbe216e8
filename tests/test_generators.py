"""Truth-level generators against their formulas (KS tests with fixed seeds, p > 1e-3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from dhstat.config import load, loads
from dhstat.physics import kinematics as kin
from dhstat.physics import theory
from dhstat.simulation import generators as gen
from dhstat.simulation.isr import make_sampler

P_MIN = 1e-3
QUIET = "[simulation]\nbeam_energy_spread = false\nisr = false\n[processes.mumu]\nfsr = false\n"


@pytest.fixture(scope="module")
def quiet():  # type: ignore[no-untyped-def]
    return loads(QUIET)


def _cm_axis(cfg) -> np.ndarray:  # type: ignore[no-untyped-def]
    her, _ = kin.beam_momenta(cfg)
    axis = kin.boost(her, -kin.cm_boost(cfg))[1:]
    return axis / np.linalg.norm(axis)


def _cos_to_axis(p_lab: np.ndarray, cfg) -> np.ndarray:  # type: ignore[no-untyped-def]
    cm = kin.boost(p_lab, -kin.cm_boost(cfg))
    return cm[:, 1:] @ _cm_axis(cfg) / kin.momentum(cm)


def test_signal_production_and_helicity_angles(quiet) -> None:  # type: ignore[no-untyped-def]
    ma, mh = 2.0, 1.0
    truth = gen.generate_signal(ma, mh, 10000, cfg=quiet, rng=np.random.default_rng(7), isr=False)
    s = float(kin.mass2(sum(kin.beam_momenta(quiet))))
    ra, rh = ma * ma / s, mh * mh / s
    lam = float(theory.kallen(1, ra, rh))

    def cdf_a(c: np.ndarray) -> np.ndarray:
        return (lam * (c - c**3 / 3) + 8 * ra * c + 2 * lam / 3 + 8 * ra) / (4 * lam / 3 + 16 * ra)

    cos_a = _cos_to_axis(truth.p[:, 0] + truth.p[:, 1], quiet)
    assert stats.kstest(cos_a, cdf_a).pvalue > P_MIN
    f_l = float(theory.longitudinal_fraction(ma, mh, s))

    def cdf_eta(c: np.ndarray) -> np.ndarray:
        return 0.375 * ((c + 1) + (c**3 + 1) / 3 + f_l * ((c + 1) - (c**3 + 1)))

    her, ler = kin.beam_momenta(quiet)
    cos_eta = kin.helicity_cos(truth.p[:, 0], truth.p[:, 1], her + ler)
    assert stats.kstest(cos_eta, cdf_eta).pvalue > P_MIN
    # and it is not the unpolarised (flat) distribution at this large f_L
    assert f_l > 0.7
    assert stats.kstest(cos_eta, stats.uniform(-1, 2).cdf).pvalue < 1e-6


def test_mumu_angle_without_radiation(quiet) -> None:  # type: ignore[no-untyped-def]
    truth = gen.generate_mumu(10000, cfg=quiet, rng=np.random.default_rng(8))
    assert np.all(truth.pdg[:, 2:] == 0)  # no ISR/FSR photons
    s = float(kin.mass2(sum(kin.beam_momenta(quiet))))
    b2 = 1 - 4 * 0.1056584**2 / s

    def cdf(c: np.ndarray) -> np.ndarray:
        return ((2 - b2) * (c + 1) + b2 * (c**3 + 1) / 3) / (2 * (2 - b2) + 2 * b2 / 3)

    assert stats.kstest(_cos_to_axis(truth.p[:, 0], quiet), cdf).pvalue > P_MIN


def test_michel_spectrum() -> None:
    x0 = 0.12
    x = gen._michel(np.random.default_rng(9), 20000, x0)
    f0 = 2 * x0**3 - x0**4
    assert stats.kstest(x, lambda t: (2 * t**3 - t**4 - f0) / (1 - f0)).pvalue > P_MIN


def test_tau_decay_energy_in_tau_frame() -> None:
    tau = np.tile([1.77686, 0.0, 0.0, 0.0], (5000, 1))
    mu, nu = gen._tau_to_mu(np.random.default_rng(10), tau, 1.77686, 0.1056584)
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
    truth = gen.generate_tautau(n, cfg=quiet, rng=np.random.default_rng(16), final_state="emu")
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


def test_tautau_branching_fractions_and_normalisation() -> None:
    from dhstat.simulation import plan_background, plan_data

    cfg = load()
    sigma, b_mu, b_e = 0.919e6, 0.1739, 0.1782  # [lit], PDG
    info = gen.process_info("tautau", cfg)
    assert info.final_states["mumu"] == pytest.approx(sigma * b_mu**2)
    assert info.final_states["emu"] == pytest.approx(sigma * 2 * b_e * b_mu)
    assert info.generated_cross_section_fb == pytest.approx(sigma * (b_mu**2 + 2 * b_e * b_mu))
    lumi, norm = 3.0, 8.34
    plan = plan_background("tautau", lumi, cfg=cfg, seed=3, normalise_to_fb=norm)
    for state, b in (("mumu", b_mu**2), ("emu", 2 * b_e * b_mu)):
        tasks = [t for t in plan.tasks if t.final_state == state]
        n = sum(t.n_events for t in tasks)
        assert n == round(sigma * b * lumi)  # the mu mu stratum is the old sample size
        # every final state carries its own cross section
        assert sum(t.n_events * t.weight for t in tasks) == pytest.approx(sigma * b * norm)
    assert plan.metadata["n_generated"] == plan.n_events
    # the mixture (pseudo-data): e mu fraction 2 B_e B_mu / (B_mu^2 + 2 B_e B_mu)
    n = 40000
    mix = gen.generate_tautau(n, cfg=cfg, rng=np.random.default_rng(17))
    emu = (np.abs(mix.pdg[:, :2]) == 11).any(axis=1)
    f = 2 * b_e * b_mu / (b_mu**2 + 2 * b_e * b_mu)
    assert abs(emu.mean() - f) < 4 * np.sqrt(f * (1 - f) / n)
    assert {t.final_state for t in plan_data(0.01, cfg=cfg, seed=1).tasks} == {None}
    only = loads('[processes.tautau]\nfinal_states = ["mumu"]\n')
    assert gen.process_info("tautau", only).presampled_fraction == pytest.approx(b_mu**2)
    with pytest.raises(ValueError, match="final state"):
        gen.generate_tautau(10, cfg=cfg, rng=np.random.default_rng(1), final_state="ee")


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


@pytest.mark.parametrize("c_max", [1.0, 0.6])
def test_breit_wheeler_angle(c_max: float) -> None:
    beta = 0.95
    n = 20000
    c = gen._breit_wheeler_cos(np.random.default_rng(12), np.full(n, beta), np.full(n, c_max))
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
    frac = float(gen._bw_fraction(np.array([c_max]), np.array([beta]))[0])
    assert frac == pytest.approx(norm / quad(pdf, -1, 1, limit=200)[0], rel=2e-3)


@pytest.mark.parametrize("process", ["signal", "mumu", "tautau", "eemumu"])
def test_four_momentum_conservation(process: str) -> None:
    cfg = loads("[simulation]\nbeam_energy_spread = false\n")
    rng = np.random.default_rng(13)
    if process == "signal":
        truth = gen.generate_signal(3.0, 1.0, 3000, cfg=cfg, rng=rng, isr=True)
        assert np.any(truth.pdg[:, 3] == 22)
    else:
        truth = gen.generate(process, 3000, cfg=cfg, rng=rng)
    her, ler = kin.beam_momenta(cfg)
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
    truth = gen.generate_mumu(20000, cfg=cfg, rng=np.random.default_rng(14))
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


def test_process_info_and_cuts() -> None:
    cfg = load()
    tau = gen.process_info("tautau", cfg)
    assert tau.generated_cross_section_fb == pytest.approx(0.919e6 * 0.1739 * (0.1739 + 0.3564))
    ee = gen.process_info("eemumu", cfg)
    assert 0 < ee.presampled_fraction < 0.2
    off = loads("[simulation.generator_cuts]\nenabled = false\n")
    assert gen.process_info("eemumu", off).presampled_fraction == pytest.approx(1.0)
    truth = gen.generate_mumu(2000, cfg=cfg, rng=np.random.default_rng(15))
    mask = gen.generator_cut_mask(truth, cfg)
    theta = np.degrees(kin.polar_angle(truth.p[:, :2]))
    assert np.all((theta[mask] >= 30) & (theta[mask] <= 130))
    assert gen.generator_cut_mask(truth, off).all()
    with pytest.raises(ValueError, match="unknown process"):
        gen.process_info("qq", cfg)
