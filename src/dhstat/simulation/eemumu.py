"""The two-photon generator: e+e- -> e+e- mu+mu- in the equivalent-photon approximation.

Photon energy fractions with ``(1 + (1 - x)^2)/x ln(Q2max/Q2min)`` (from the sampling table of
:mod:`dhstat.simulation.photon_table`), virtualities ``dQ^2/Q^2``, gamma gamma -> mu mu with the
Breit-Wheeler cross section and angular distribution (analysis.md section 5).

Example:
    >>> from dhstat.config import load
    >>> truth = generate_eemumu(10, cfg=load(), rng=np.random.default_rng(2))
    >>> truth.pdg.shape
    (10, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics as kin
from dhstat.physics.constants import PDG_MUON
from dhstat.simulation.breit_wheeler import breit_wheeler_cos
from dhstat.simulation.cuts import finish
from dhstat.simulation.frames import draw_frames
from dhstat.simulation.photon_table import PhotonTable, eemumu_table, tagged_probability
from dhstat.simulation.settings import GeneratorSettings
from dhstat.simulation.truth import TruthEvents
from dhstat.simulation.vectors import around, two_body, unit, velocity

__all__ = ["draw_eemumu", "generate_eemumu"]

Array = NDArray[np.float64]
#: One photon side: energy fraction x and the virtuality range (Q2 min, Q2 max) [GeV^2].
Side = tuple[Array, Array, Array]


def __dir__() -> list[str]:
    return __all__


def generate_eemumu(
    n_events: int, *, cfg: Mapping[str, Any], rng: np.random.Generator, skim: bool = False
) -> TruthEvents:
    """e+e- -> e+e- mu+mu- (two-photon). Slots: mu-, mu+, e-, e+.

    With ``skim``, only the events passing :func:`generator_cut_mask` are returned.

    ``n_events`` events are drawn from the pre-sampled phase space (see :func:`process_info`).
    """
    return draw_eemumu(n_events, settings=GeneratorSettings.from_config(cfg), rng=rng, skim=skim)


def draw_eemumu(
    n_events: int, *, settings: GeneratorSettings, rng: np.random.Generator, skim: bool = False
) -> TruthEvents:
    """As :func:`generate_eemumu`, with the settings read once."""
    me, mmu = settings.electron_mass, settings.muon_mass
    table = eemumu_table(settings)
    frames = draw_frames(settings.beams, rng, n_events, spread=settings.beam_energy_spread)
    n = n_events
    cell = table.sample_cells(rng.random(n))
    ny = table.y_edges.size - 1
    iu, iy = np.divmod(cell, ny)
    u = table.u_edges[iu] + rng.random(n) * (table.u_edges[iu + 1] - table.u_edges[iu])
    y = table.y_edges[iy] + rng.random(n) * (table.y_edges[iy + 1] - table.y_edges[iy])
    x1 = np.minimum(np.exp(u / 2 + y), 1 - 1e-9)
    x2 = np.minimum(np.exp(u / 2 - y), 1 - 1e-9)
    energy = frames.sqrt_s / 2
    q2_max = settings.eemumu.q2_max
    sides = []
    for x in (x1, x2):
        q2_min = me * me * x * x / (1 - x)
        q2_hi = np.maximum(np.minimum(q2_max, 4 * energy * energy * (1 - x)), q2_min)
        sides.append((x, q2_min, q2_hi))
    q2s = _virtualities(rng, table, sides[0], sides[1])
    electrons = _scattered_electrons(rng, sides, q2s, energy, me)
    muons, ok = _muon_pair(rng, electrons, energy, me, mmu, table.c_max[iu, iy])
    pdg = np.tile(np.array([PDG_MUON, -PDG_MUON, 11, -11], np.int32), (n, 1))
    pdg[~ok] = 0  # below the mu mu threshold (virtual photons): no final state
    # the electrons may be tracks too: no skim window
    return finish(
        frames, muons, np.stack(electrons, axis=1), pdg, settings, skim=skim, window=False
    )


def _sample_q2(rng: np.random.Generator, lo: Array, hi: Array) -> Array:
    return np.asarray(lo * np.exp(rng.random(lo.shape[0]) * np.log(hi / lo)), dtype=np.float64)


def _virtualities(
    rng: np.random.Generator, table: PhotonTable, side1: Side, side2: Side
) -> list[Array]:
    """Q^2 of both photons: which sides are tagged (pT above the pre-cut), then ``dQ^2/Q^2``."""
    n = side1[0].shape[0]
    if table.q2_pt > 0:
        p1 = tagged_probability(side1[0], side1[1], side1[2], table.q2_pt)
        p2 = tagged_probability(side2[0], side2[1], side2[2], table.q2_pt)
        total = 1 - (1 - p1) * (1 - p2)
        r = rng.random(n) * total
        both = r < p1 * p2
        only1 = (~both) & (r < p1 * p2 + p1 * (1 - p2))
        only2 = ~(both | only1)
        tagged1, tagged2 = both | only1, both | only2
    else:
        tagged1 = tagged2 = np.zeros(n, bool)
    q2s = []
    for (x, lo, hi), tagged in zip((side1, side2), (tagged1, tagged2), strict=True):
        q2_cut = np.clip(table.q2_pt**2 / (1 - x), lo, hi) if table.q2_pt > 0 else lo
        low = np.where(tagged, q2_cut, lo)
        high = np.where(tagged, hi, q2_cut) if table.q2_pt > 0 else hi
        q2s.append(_sample_q2(rng, low, np.maximum(high, low * (1 + 1e-12))))
    return q2s


def _scattered_electrons(
    rng: np.random.Generator, sides: list[Side], q2s: list[Array], energy: Array, me: float
) -> list[Array]:
    """The scattered e- (along +z) and e+ (along -z) four-vectors in the c.m. frame."""
    n = int(energy.shape[0])
    electrons = []
    for (x, _, _), q2, sign in zip(sides, q2s, (1.0, -1.0), strict=True):
        e_out = (1 - x) * energy
        cos = np.clip(1 - q2 / (2 * energy * e_out), -1.0, 1.0)
        p_out = np.sqrt(np.clip(e_out * e_out - me * me, 0.0, None))
        direction = unit(cos, rng.uniform(0, 2 * np.pi, n))
        direction[:, 2] *= sign
        electrons.append(np.concatenate([e_out[:, None], p_out[:, None] * direction], axis=1))
    return electrons


def _muon_pair(
    rng: np.random.Generator,
    electrons: list[Array],
    energy: Array,
    me: float,
    mmu: float,
    c_max: Array,
) -> tuple[Array, NDArray[np.bool_]]:
    """mu-, mu+ (n, 2, 4) of gamma gamma -> mu mu in the c.m. frame; false below threshold."""
    n = int(energy.shape[0])
    beam1 = np.zeros((n, 4))
    beam1[:, 0] = energy
    beam1[:, 3] = np.sqrt(energy * energy - me * me)
    beam2 = beam1.copy()
    beam2[:, 3] *= -1
    q1 = beam1 - electrons[0]
    system = q1 + beam2 - electrons[1]
    w2 = kin.mass2(system)
    ok = w2 > 4 * mmu * mmu * 1.0001
    system[~ok] = [1.0, 0.0, 0.0, 0.0]  # placeholder, the event is dropped below
    q1[~ok] = [0.0, 0.0, 0.0, 1.0]
    w = np.sqrt(np.where(ok, w2, 1.0))
    beta_sys = velocity(system)
    axis = kin.boost(q1, -beta_sys)[:, 1:]
    axis /= np.linalg.norm(axis, axis=1)[:, None]
    beta_mu = np.sqrt(1 - 4 * mmu * mmu / (w * w))
    cos_star = breit_wheeler_cos(rng, beta_mu, c_max)
    direction = around(axis, cos_star, rng.uniform(0, 2 * np.pi, n))
    flip = rng.random(n) < 0.5  # which muon goes along the direction
    direction[flip] *= -1
    mu_minus, mu_plus = two_body(w, mmu, mmu, direction)
    mu_minus, mu_plus = kin.boost(mu_minus, beta_sys), kin.boost(mu_plus, beta_sys)
    return np.stack([mu_minus, mu_plus], axis=1), ok
