"""The signal generator: e+e- -> A'(-> mu mu) h'(invisible) (analysis.md sections 3 and 5).

Production angle ``lam sin^2 + 8 r_A``; A' helicity ``3/8 [1 + c^2 + f_L (1 - 3 c^2)]``;
optional ISR (radiator x Born sigma(s')/sigma(s)).

Example:
    >>> import numpy as np
    >>> from dhstat.config import load
    >>> cfg = load()
    >>> truth = generate_signal(5.0, 2.0, 100, cfg=cfg, rng=np.random.default_rng(1), isr=False)
    >>> truth.p.shape, truth.pdg[0].tolist()
    ((100, 4, 4), [13, -13, 9000025, 0])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dhstat.physics import kinematics as kin
from dhstat.physics import theory
from dhstat.physics.constants import PDG_MUON, PDG_PHOTON
from dhstat.simulation.angles import sample_quadratic
from dhstat.simulation.frames import draw_frames
from dhstat.simulation.isr_photons import emit_isr, isr_sampler
from dhstat.simulation.settings import GeneratorSettings
from dhstat.simulation.truth import PDG_DARK_HIGGS, TruthEvents
from dhstat.simulation.vectors import around, two_body, unit, velocity

__all__ = ["draw_signal", "generate_signal"]


def __dir__() -> list[str]:
    return __all__


def generate_signal(
    ma: float,
    mh: float,
    n_events: int,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool = True,
) -> TruthEvents:
    """e+e- -> A'(-> mu- mu+) h' at truth level. Slots: mu-, mu+, h', ISR photon (or empty).

    The A' and h' are on shell (narrow widths). ``extra`` holds ``truth_ma``, ``truth_mh``.
    """
    settings = GeneratorSettings.from_config(cfg)
    return draw_signal(ma, mh, n_events, settings=settings, rng=rng, isr=isr)


def draw_signal(
    ma: float,
    mh: float,
    n_events: int,
    *,
    settings: GeneratorSettings,
    rng: np.random.Generator,
    isr: bool = True,
) -> TruthEvents:
    """As :func:`generate_signal`, with the settings read once."""
    me, mmu = settings.electron_mass, settings.muon_mass
    s0 = settings.beams.s
    if not (ma > 2 * mmu and mh >= 0 and ma + mh < settings.beams.sqrt_s):
        msg = f"need 2 m_mu < M_A' and M_A' + M_h' < sqrt(s); got M_A' = {ma}, M_h' = {mh}"
        raise ValueError(msg)
    frames = draw_frames(settings.beams, rng, n_events, spread=settings.beam_energy_spread)
    sampler = isr_sampler("signal", s0, settings.alpha, me, float(ma), float(mh)) if isr else None
    photon, rest = emit_isr(rng, frames, sampler, me)
    s_prime = kin.mass2(rest)
    root = np.sqrt(s_prime)
    ra, rh = ma * ma / s_prime, mh * mh / s_prime
    lam = theory.kallen(1.0, ra, rh)
    cos_a = sample_quadratic(rng, lam + 8 * ra, -lam)
    dir_a = unit(cos_a, rng.uniform(0, 2 * np.pi, n_events))
    p_a, p_h = two_body(root, ma, mh, dir_a)
    # A' -> mu mu: polar angle of the mu- w.r.t. the A' flight direction
    f_l = theory.longitudinal_fraction(ma, mh, s_prime)
    cos_mu = sample_quadratic(rng, 1 + f_l, 1 - 3 * f_l)
    dir_mu = around(dir_a, cos_mu, rng.uniform(0, 2 * np.pi, n_events))
    mu_minus, mu_plus = two_body(np.full(n_events, float(ma)), mmu, mmu, dir_mu)
    beta_a = velocity(p_a)
    mu_minus, mu_plus = kin.boost(mu_minus, beta_a), kin.boost(mu_plus, beta_a)
    # from the rest frame of (A' h') to the c.m. frame
    beta_rest = velocity(rest)
    parts = np.stack([mu_minus, mu_plus, p_h], axis=1)
    parts = kin.boost(parts, beta_rest[:, None, :])
    p = np.concatenate([parts, photon[:, None, :]], axis=1)
    p = frames.to_lab(p)
    pdg = np.tile(
        np.array([PDG_MUON, -PDG_MUON, PDG_DARK_HIGGS, PDG_PHOTON], np.int32), (n_events, 1)
    )
    pdg[photon[:, 0] <= 0.0, 3] = 0
    extra = {"truth_ma": np.full(n_events, float(ma)), "truth_mh": np.full(n_events, float(mh))}
    return TruthEvents(p=p, pdg=pdg, extra=extra)
