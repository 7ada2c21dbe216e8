"""The tau tau generator: e+e- -> tau tau (ISR) with leptonic tau decays (analysis.md section 5).

The final states the analysis needs: both tau -> mu nu nu (search sample) and one tau -> e nu nu,
the other -> mu nu nu (e mu control sample), with the Michel spectrum ``2 x^2 (3 - 2 x)`` of
each charged lepton in its tau rest frame (isotropic, unpolarised, no spin correlations).

Example:
    >>> from dhstat.config import load
    >>> truth = generate_tautau(10, cfg=load(), rng=np.random.default_rng(2), final_state="emu")
    >>> sorted(set(np.abs(truth.pdg[:, :2]).ravel().tolist()))
    [11, 13]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics as kin
from dhstat.physics.constants import PDG_ELECTRON, PDG_MUON, PDG_NEUTRINO, PDG_PHOTON
from dhstat.simulation.angles import sample_quadratic
from dhstat.simulation.cuts import finish
from dhstat.simulation.frames import draw_frames
from dhstat.simulation.isr_photons import emit_isr, isr_sampler
from dhstat.simulation.settings import GeneratorSettings, TautauSettings
from dhstat.simulation.truth import TruthEvents
from dhstat.simulation.vectors import two_body, unit, velocity

__all__ = [
    "TAUTAU_FINAL_STATES",
    "draw_tautau",
    "final_state_branching",
    "generate_tautau",
    "tautau_branching",
]

Array = NDArray[np.float64]

#: Leptonic final states of the tau tau sample: (charged lepton of tau-, of tau+) per event.
TAUTAU_FINAL_STATES = ("mumu", "emu")


def __dir__() -> list[str]:
    return __all__


def _michel(rng: np.random.Generator, n: int, x0: float | Array) -> Array:
    """X from 2 x^2 (3 - 2x) on [x0, 1] (CDF 2x^3 - x^4), by Newton iteration."""
    f0 = 2 * x0**3 - x0**4
    u = f0 + rng.random(n) * (1.0 - f0)
    x = np.clip(u ** (1 / 3), x0, 1.0)
    for _ in range(30):
        f = 2 * x**3 - x**4 - u
        d = 6 * x**2 - 4 * x**3
        x = np.clip(x - f / np.maximum(d, 1e-12), x0, 1.0)
    return np.asarray(x, dtype=np.float64)


def _tau_to_lepton(
    rng: np.random.Generator, tau: Array, mtau: float, mlep: float | Array
) -> tuple[Array, Array]:
    """Tau -> l nu nu (Michel, isotropic): lepton and neutrino-pair four-vectors in the given frame.

    ``mlep`` is the lepton mass, one value or one per event (muon or electron); the lepton energy
    in the tau rest frame is ``x W`` with ``W = (m_tau^2 + m_l^2) / (2 m_tau)`` and ``x`` from the
    Michel spectrum on ``[m_l / W, 1]`` (for the electron ``m_e / W = 6e-4``: negligible).
    """
    n = tau.shape[0]
    mlep = np.broadcast_to(np.asarray(mlep, dtype=np.float64), (n,))
    w = (mtau * mtau + mlep * mlep) / (2 * mtau)
    x = _michel(rng, n, mlep / w)
    e = x * w
    p = np.sqrt(np.clip(e * e - mlep * mlep, 0.0, None))
    direction = unit(rng.uniform(-1, 1, n), rng.uniform(0, 2 * np.pi, n))
    lep = np.concatenate([e[:, None], p[:, None] * direction], axis=1)
    rest = np.zeros((n, 4))
    rest[:, 0] = mtau
    nu = rest - lep
    beta = velocity(tau)
    return kin.boost(lep, beta), kin.boost(nu, beta)


def _tau_to_mu(
    rng: np.random.Generator, tau: Array, mtau: float, mmu: float
) -> tuple[Array, Array]:
    """Tau -> mu nu nu (Michel, isotropic): muon and neutrino-pair four-vectors in the given frame."""
    return _tau_to_lepton(rng, tau, mtau, mmu)


def tautau_branching(cfg: Mapping[str, Any]) -> dict[str, float]:
    """Branching fraction of each configured tau tau final state (``[processes.tautau]``).

    ``mumu``: B(tau -> mu nu nu)^2; ``emu``: 2 B(tau -> e nu nu) B(tau -> mu nu nu) (either tau
    gives the electron).

    Example:
        >>> from dhstat.config import load
        >>> {k: round(v, 5) for k, v in tautau_branching(load()).items()}
        {'mumu': 0.03024, 'emu': 0.06198}
    """
    return final_state_branching(GeneratorSettings.from_config(cfg).tautau)


def final_state_branching(settings: TautauSettings) -> dict[str, float]:
    """As :func:`tautau_branching`, from the ``[processes.tautau]`` settings."""
    b_mu, b_e = settings.branching_mu, settings.branching_e
    table = {"mumu": b_mu * b_mu, "emu": 2.0 * b_e * b_mu}
    return {name: table[name] for name in TAUTAU_FINAL_STATES if name in settings.final_states}


def generate_tautau(
    n_events: int,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    final_state: str | None = None,
    skim: bool = False,
) -> TruthEvents:
    """e+e- -> tau tau (ISR), leptonic decays. Slots: l-, l+, nu nu, nu nu, ISR photon.

    With ``skim``, only the events passing :func:`generator_cut_mask` and the truth-level
    image of the reconstruction skim are returned (see :func:`generate_mumu`).

    ``final_state`` ``"mumu"``: both tau -> mu nu nu; ``"emu"``: one tau -> e nu nu (the tau- or
    the tau+ with equal probability), the other -> mu nu nu; ``None``: each event drawn from the
    configured final states in proportion to their branching fractions
    (:func:`tautau_branching`), as for pseudo-data. Slot 0 is always the negative lepton
    (e- or mu-), slot 1 the positive one; slot 2 (3) holds the neutrinos of the tau- (tau+).
    """
    settings = GeneratorSettings.from_config(cfg)
    return draw_tautau(n_events, settings=settings, rng=rng, final_state=final_state, skim=skim)


def _emu_events(
    rng: np.random.Generator, settings: TautauSettings, final_state: str | None, n: int
) -> NDArray[np.bool_]:
    """Which events are e mu (the others mu mu): all, none, or drawn by branching fraction."""
    if final_state is None:
        branching = final_state_branching(settings)
        names = list(branching)
        fractions = np.array([branching[k] for k in names])
        cdf = np.cumsum(fractions / fractions.sum())
        pick = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(names) - 1)
        return np.asarray(pick == names.index("emu")) if "emu" in names else np.zeros(n, bool)
    if final_state in TAUTAU_FINAL_STATES:
        return np.full(n, final_state == "emu")
    msg = f"unknown tau tau final state {final_state!r}; expected one of {TAUTAU_FINAL_STATES}"
    raise ValueError(msg)


def draw_tautau(
    n_events: int,
    *,
    settings: GeneratorSettings,
    rng: np.random.Generator,
    final_state: str | None = None,
    skim: bool = False,
) -> TruthEvents:
    """As :func:`generate_tautau`, with the settings read once."""
    me, mmu, mtau = settings.electron_mass, settings.muon_mass, settings.tau_mass
    s0 = settings.beams.s
    frames = draw_frames(settings.beams, rng, n_events, spread=settings.beam_energy_spread)
    sampler = isr_sampler("pair", s0, settings.alpha, me, mtau, 0.0) if settings.isr else None
    photon, rest = emit_isr(rng, frames, sampler, me)
    emu = _emu_events(rng, settings.tautau, final_state, n_events)
    electron_minus = emu & (rng.random(n_events) < 0.5)
    electron_plus = emu & ~electron_minus
    root = np.sqrt(kin.mass2(rest))
    beta_t = np.sqrt(np.clip(1 - 4 * mtau * mtau / (root * root), 0.0, None))
    cos = sample_quadratic(rng, 2 - beta_t**2, beta_t**2)
    direction = unit(cos, rng.uniform(0, 2 * np.pi, n_events))
    tau_minus, tau_plus = two_body(root, mtau, mtau, direction)
    l_minus, nu_minus = _tau_to_lepton(rng, tau_minus, mtau, np.where(electron_minus, me, mmu))
    l_plus, nu_plus = _tau_to_lepton(rng, tau_plus, mtau, np.where(electron_plus, me, mmu))
    beta_rest = velocity(rest)
    parts = kin.boost(np.stack([l_minus, l_plus, nu_minus, nu_plus], axis=1), beta_rest[:, None, :])
    codes = [PDG_MUON, -PDG_MUON, PDG_NEUTRINO, PDG_NEUTRINO, PDG_PHOTON]
    pdg = np.tile(np.array(codes, np.int32), (n_events, 1))
    pdg[electron_minus, 0] = PDG_ELECTRON
    pdg[electron_plus, 1] = -PDG_ELECTRON
    pdg[photon[:, 0] <= 0.0, 4] = 0
    others = np.concatenate([parts[:, 2:], photon[:, None, :]], axis=1)
    # the two leptons are the only charged particles: the skim window applies
    return finish(frames, parts[:, :2], others, pdg, settings, skim=skim, window=True)
