"""Normalisation of the background processes as generated, and the generator cuts."""

from __future__ import annotations

import numpy as np
import pytest

from dhstat.config import load, loads
from dhstat.physics import kinematics as kin
from dhstat.simulation.backgrounds import process_info
from dhstat.simulation.cuts import generator_cut_mask
from dhstat.simulation.mumu import generate_mumu
from dhstat.simulation.plans import plan_background, plan_data
from dhstat.simulation.tautau import generate_tautau


def test_tautau_branching_fractions_and_normalisation() -> None:
    cfg = load()
    sigma, b_mu, b_e = 0.919e6, 0.1739, 0.1782  # [lit], PDG
    info = process_info("tautau", cfg)
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
    mix = generate_tautau(n, cfg=cfg, rng=np.random.default_rng(17))
    emu = (np.abs(mix.pdg[:, :2]) == 11).any(axis=1)
    f = 2 * b_e * b_mu / (b_mu**2 + 2 * b_e * b_mu)
    assert abs(emu.mean() - f) < 4 * np.sqrt(f * (1 - f) / n)
    assert {t.final_state for t in plan_data(0.01, cfg=cfg, seed=1).tasks} == {None}
    only = loads('[processes.tautau]\nfinal_states = ["mumu"]\n')
    assert process_info("tautau", only).presampled_fraction == pytest.approx(b_mu**2)
    with pytest.raises(ValueError, match="final state"):
        generate_tautau(10, cfg=cfg, rng=np.random.default_rng(1), final_state="ee")


def test_process_info_and_cuts() -> None:
    cfg = load()
    tau = process_info("tautau", cfg)
    assert tau.generated_cross_section_fb == pytest.approx(0.919e6 * 0.1739 * (0.1739 + 0.3564))
    ee = process_info("eemumu", cfg)
    assert 0 < ee.presampled_fraction < 0.2
    off = loads("[simulation.generator_cuts]\nenabled = false\n")
    assert process_info("eemumu", off).presampled_fraction == pytest.approx(1.0)
    truth = generate_mumu(2000, cfg=cfg, rng=np.random.default_rng(15))
    mask = generator_cut_mask(truth, cfg)
    theta = np.degrees(kin.polar_angle(truth.p[:, :2]))
    assert np.all((theta[mask] >= 30) & (theta[mask] <= 130))
    assert generator_cut_mask(truth, off).all()
    with pytest.raises(ValueError, match="unknown process"):
        process_info("qq", cfg)
