r"""The mu mu(gamma) generator: e+e- -> mu mu with ISR and leading-log FSR (analysis.md section 5).

ISR: radiator x s/s', the loss shared between the two beams with ``[simulation]
isr_both_beams`` (:func:`~dhstat.simulation.isr_photons.split_isr`). FSR: at most one photon,
splitting function ``(1 + (1 - z)^2)/z``, dipole angular distribution around the muon. Everything is computed component by component on
structure-of-arrays four-vectors (the largest sample of the analysis); with ``skim`` the events
outside the truth-level skim window are dropped before their photons are boosted.

Example:
    >>> from dhstat.config import load, loads
    >>> generate_mumu(10, cfg=load(), rng=np.random.default_rng(2)).p.shape  # 2nd ISR photon: slot 4
    (10, 5, 4)
    >>> one = loads("[simulation]\nisr_both_beams = false")  # the earlier one-photon model
    >>> generate_mumu(10, cfg=one, rng=np.random.default_rng(2)).p.shape
    (10, 4, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics as kin
from dhstat.physics.constants import PDG_MUON, PDG_PHOTON
from dhstat.simulation.angles import dipole_cos
from dhstat.simulation.frames import Boost, Frames, draw_frames, to_lab
from dhstat.simulation.isr import IsrSampler
from dhstat.simulation.isr_photons import isr_sampler, split_isr
from dhstat.simulation.settings import GeneratorSettings
from dhstat.simulation.truth import TruthEvents
from dhstat.simulation.vectors import direction_from_one_minus_cos, two_body, velocity

__all__ = ["draw_mumu", "generate_mumu"]

Array = NDArray[np.float64]
#: A four-vector as its components ``[E, px, py, pz]`` (arrays over events).
Components = list[Array]


def __dir__() -> list[str]:
    return __all__


def generate_mumu(
    n_events: int, *, cfg: Mapping[str, Any], rng: np.random.Generator, skim: bool = False
) -> TruthEvents:
    """e+e- -> mu- mu+ (ISR gamma) (FSR gamma).

    Slots: mu-, mu+, ISR photon, FSR photon (and the second ISR photon with ``[simulation]
    isr_both_beams``).

    With ``skim``, only the events passing :func:`generator_cut_mask` (and the truth-level image
    of the reconstruction skim, see ``GeneratorSettings.lepton_window``) are returned, and the
    photons are boosted to the laboratory only for them; the result is distributed as
    ``generate_mumu(n).select(cuts)``.
    """
    return draw_mumu(n_events, settings=GeneratorSettings.from_config(cfg), rng=rng, skim=skim)


def draw_mumu(
    n_events: int, *, settings: GeneratorSettings, rng: np.random.Generator, skim: bool = False
) -> TruthEvents:
    """As :func:`generate_mumu`, with the settings read once."""
    me, mmu, alpha = settings.electron_mass, settings.muon_mass, settings.alpha
    n = n_events
    frames = draw_frames(settings.beams, rng, n, spread=settings.beam_energy_spread)
    sampler = (
        isr_sampler("pair", settings.beams.s, alpha, me, mmu, settings.mumu.min_mass)
        if settings.isr
        else None
    )
    isr = _isr_photon(rng, frames.sqrt_s, sampler, me)
    second = None
    if settings.isr_both_beams and sampler is not None:
        isr, second = _share_between_beams(rng, isr, frames.sqrt_s, sampler.beta, me)
    # the mu mu (+ FSR) system: mass sqrt((sqrt(s) - E_K)^2 - |K|^2), velocity -K / (sqrt(s) - E_K)
    omega, kx, ky, kz = isr if second is None else [a + b for a, b in zip(isr, second, strict=True)]
    e_rest = frames.sqrt_s - omega
    k2 = kx * kx + ky * ky + kz * kz if second is not None else omega * omega
    root = np.sqrt(np.maximum(e_rest * e_rest - k2, 0.0))
    to_cm = Boost.of(-kx / e_rest, -ky / e_rest, -kz / e_rest, e_rest / root)
    minus, plus, direction = _muon_pair(rng, root, mmu)
    fsr = _Fsr.none()
    if settings.mumu.fsr:
        fsr = _radiate(rng, root, direction, mmu, alpha, settings.mumu.fsr_min_fraction)
        for i in range(4):
            minus[i][fsr.rows] = fsr.mu_minus[:, i]
            plus[i][fsr.rows] = fsr.mu_plus[:, i]
    lab_minus = to_lab(frames.rotation, frames.lab, *to_cm.apply(*minus))
    lab_plus = to_lab(frames.rotation, frames.lab, *to_cm.apply(*plus))
    window = settings.lepton_window if skim else None
    rows = np.arange(n) if window is None else _inside(window, lab_minus, lab_plus)
    return _assemble(
        frames, to_cm, rows, (lab_minus, lab_plus), (isr, second), fsr, subset=window is not None
    )


def _cos_sin(rng: np.random.Generator, n: int) -> tuple[Array, Array]:
    """Cos and sin of ``n`` uniform azimuths (one cosine, the sine from it: no second trig call)."""
    phi = rng.uniform(-np.pi, np.pi, n)
    cos = np.cos(phi)
    return cos, np.copysign(np.sqrt(np.maximum(1.0 - cos * cos, 0.0)), phi)


def _isr_photon(
    rng: np.random.Generator, sqrt_s: Array, sampler: IsrSampler | None, me: float
) -> Components:
    """The ISR photon ``[omega, kx, ky, kz]`` in the c.m. frame (as ``emit_isr``, by component)."""
    n = sqrt_s.shape[0]
    energy = 0.5 * sqrt_s
    x = sampler.sample(rng, n) if sampler is not None else np.zeros(n)
    omega = x * energy
    p_e = np.sqrt(energy * energy - me * me)
    omc = dipole_cos(rng, me * me / (energy * (energy + p_e)), p_e / energy)
    side = np.copysign(omega, rng.random(n) - 0.5)
    cos_a, sin_a = _cos_sin(rng, n)
    k_t = omega * np.sqrt(np.clip(omc * (2.0 - omc), 0.0, None))
    return [omega, k_t * cos_a, k_t * sin_a, side * (1.0 - omc)]


def _share_between_beams(
    rng: np.random.Generator, isr: Components, sqrt_s: Array, beta: float, me: float
) -> tuple[Components, Components]:
    """Split the ISR photon's energy between it and a photon along the other beam.

    The first photon keeps its direction with energy ``x1 sqrt(s)/2``, ``x1`` from
    :func:`~dhstat.simulation.isr_photons.split_isr`; the second goes along the opposite beam with
    its own dipole angle and azimuth, and its energy ``omega2 = s (x - x1) / (2 sqrt(s) - 2
    omega1 (1 - cos theta12))`` leaves the pair exactly the ``s' = s (1 - x)`` drawn (``x2`` of
    the split for collinear photons), so thresholds and cross sections are unchanged.
    """
    omega, kx, ky, kz = isr
    n = omega.shape[0]
    energy = 0.5 * sqrt_s
    x = omega / energy
    x1, _ = split_isr(rng, x, beta)
    scale = np.divide(x1 * energy, omega, out=np.zeros(n), where=omega > 0)
    first = [x1 * energy, kx * scale, ky * scale, kz * scale]
    p_e = np.sqrt(energy * energy - me * me)
    omc = dipole_cos(rng, me * me / (energy * (energy + p_e)), p_e / energy)
    side = np.where(kz > 0, -1.0, np.where(kz < 0, 1.0, np.copysign(1.0, rng.random(n) - 0.5)))
    cos_a, sin_a = _cos_sin(rng, n)
    sin_t = np.sqrt(np.clip(omc * (2.0 - omc), 0.0, None))
    n2 = [sin_t * cos_a, sin_t * sin_a, side * (1.0 - omc)]
    inv = np.divide(1.0, omega, out=np.zeros(n), where=omega > 0)
    cos12 = (kx * n2[0] + ky * n2[1] + kz * n2[2]) * inv
    omega2 = sqrt_s * sqrt_s * (x - x1) / (2.0 * sqrt_s - 2.0 * first[0] * (1.0 - cos12))
    omega2 = np.clip(omega2, 0.0, None)
    return first, [omega2, omega2 * n2[0], omega2 * n2[1], omega2 * n2[2]]


def _cubic_quadratic_cos(rng: np.random.Generator, a: Array, b: Array) -> Array:
    """Cos theta from ``a + b c^2`` on [-1, 1] with ``a > 0``, ``b >= 0``, by inverting the CDF.

    The CDF is ``(a c + b c^3/3 + a + b/3) / (2a + 2b/3)``; ``c^3 + p c - q = 0`` with
    ``p = 3a/b > 0`` has one real root (Cardano), so no rejection loop is needed. For tiny ``b``
    the density is flat (``c = q/p``).
    """
    n = a.shape[0]
    target = (2.0 * rng.random(n) - 1.0) * (a + b / 3.0)  # a c + b c^3 / 3
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 3.0 * a / b
        q = 3.0 * target / b
        root = np.sqrt(0.25 * q * q + p * p * p / 27.0)
        c = np.cbrt(0.5 * q + root) + np.cbrt(0.5 * q - root)
    flat = b < 1e-9 * a
    if flat.any():
        c = np.where(flat, target / a, c)
    return np.asarray(np.clip(c, -1.0, 1.0), dtype=np.float64)


def _muon_pair(
    rng: np.random.Generator, root: Array, mmu: float
) -> tuple[Components, Components, Array]:
    """Back-to-back mu-, mu+ in the pair rest frame (``1 + beta^2 c^2``) and the mu- direction."""
    n = root.shape[0]
    beta2 = np.clip(1 - 4 * mmu * mmu / (root * root), 0.0, None)
    cos = _cubic_quadratic_cos(rng, 2 - beta2, beta2)
    cos_p, sin_p = _cos_sin(rng, n)
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, None))
    dx, dy, dz = sin * cos_p, sin * sin_p, cos
    e_mu = 0.5 * root
    p_mu = np.sqrt(np.clip(e_mu * e_mu - mmu * mmu, 0.0, None))
    minus = [e_mu, p_mu * dx, p_mu * dy, p_mu * dz]
    plus = [e_mu.copy(), -minus[1], -minus[2], -minus[3]]
    return minus, plus, np.stack([dx, dy, dz], axis=1)


@dataclass(frozen=True, slots=True)
class _Fsr:
    """The events with an FSR photon and their mu-, mu+ and photon in the pair rest frame."""

    rows: NDArray[np.intp]
    gamma: Array
    mu_minus: Array
    mu_plus: Array

    @staticmethod
    def none() -> _Fsr:
        """No FSR photon in any event."""
        return _Fsr(np.zeros(0, np.intp), np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 4)))


def _radiate(
    rng: np.random.Generator,
    root: Array,
    direction: Array,
    mmu: float,
    alpha: float,
    z_min: float,
) -> _Fsr:
    """Which pairs radiate an FSR photon, and their kinematics (muons along ``direction``)."""
    rows = np.flatnonzero(_fsr_flags(rng, root, mmu, alpha, z_min))
    mu_minus, mu_plus, gamma = _fsr_kinematics(rng, root[rows], direction[rows], mmu, z_min)
    return _Fsr(rows, gamma, mu_minus, mu_plus)


def _fsr_flags(
    rng: np.random.Generator, root: Array, mass: float, alpha: float, z_min: float
) -> NDArray[np.bool_]:
    """Whether the pair of mass ``root`` radiates an FSR photon (leading-log probability)."""
    s_prime = root * root
    z_max = 1.0 - 4 * mass * mass / s_prime
    big_l = np.log(s_prime / (mass * mass)) - 1.0
    z_lo = np.minimum(z_min, z_max)
    integral = 2 * np.log(z_max / z_lo) - 2 * (z_max - z_lo) + (z_max**2 - z_lo**2) / 2
    probability = np.clip(2 * alpha / (2 * np.pi) * big_l * integral, 0.0, 1.0)
    return np.asarray(rng.random(root.shape[0]) < probability)


def _fsr_kinematics(
    rng: np.random.Generator, root: Array, mu_dir: Array, mass: float, z_min: float
) -> tuple[Array, Array, Array]:
    """mu-, mu+ and the FSR photon in the pair rest frame, for pairs that radiate."""
    m = root.shape[0]
    z_max = 1.0 - 4 * mass * mass / (root * root)
    z_lo = np.minimum(z_min, z_max)
    # photon energy fraction z from (1 + (1 - z)^2)/z: log-uniform proposal, accept (1+(1-z)^2)/2
    z = np.zeros(m)
    todo = np.arange(m)
    while todo.size:
        u = rng.random(todo.size)
        cand = z_lo[todo] * np.exp(u * np.log(z_max[todo] / z_lo[todo]))
        ok = rng.random(todo.size) * 2.0 <= 1.0 + (1.0 - cand) ** 2
        z[todo[ok]] = cand[ok]
        todo = todo[~ok]
    omega = np.minimum(z, 0.999 * z_max) * root / 2
    which = np.where(rng.random(m) < 0.5, 1.0, -1.0)  # +1: the mu- radiates
    emitter_dir = which[:, None] * mu_dir
    e_mu = root / 2
    p_mu = np.sqrt(np.clip(e_mu * e_mu - mass * mass, 0.0, None))
    one_minus_beta = mass * mass / (e_mu * (e_mu + p_mu))
    omc = dipole_cos(rng, one_minus_beta, p_mu / e_mu)
    k_dir = direction_from_one_minus_cos(emitter_dir, omc, rng.uniform(0, 2 * np.pi, m))
    gamma = np.concatenate([omega[:, None], omega[:, None] * k_dir], axis=1)
    system = -gamma
    system[:, 0] += root
    m_sys = np.sqrt(np.clip(kin.mass2(system), 4 * mass * mass, None))
    minus, plus = two_body(m_sys, mass, mass, mu_dir)
    beta_sys = velocity(system)
    return kin.boost(minus, beta_sys), kin.boost(plus, beta_sys), gamma


def _inside(
    window: tuple[float, float, float], *muons: tuple[Array, Array, Array, Array]
) -> NDArray[np.intp]:
    """Events whose muons (lab components) are all inside the truth-level skim window."""
    c_lo, c_hi, p_min = window
    ok = np.ones(muons[0][0].shape[0], bool)
    for _, px, py, pz in muons:
        mom2 = px * px + py * py + pz * pz
        cz = pz / np.sqrt(mom2)
        ok &= (cz >= c_lo) & (cz <= c_hi) & (mom2 >= p_min * p_min)
    return np.flatnonzero(ok)


def _assemble(
    frames: Frames,
    to_cm: Boost,
    rows: NDArray[np.intp],
    muons: tuple[tuple[Array, ...], tuple[Array, ...]],
    isr_photons: tuple[Components, Components | None],
    fsr: _Fsr,
    *,
    subset: bool,
) -> TruthEvents:
    """The truth record of the events ``rows``: muons (lab), ISR and FSR photons boosted to the lab.

    ``subset``: ``rows`` is a selection (muons taken at ``rows``), else all events in order.
    Slots: mu-, mu+, ISR photon, FSR photon and, with ISR from both beams, the second ISR photon.
    """
    m = rows.size
    isr, second = isr_photons
    slots = 4 if second is None else 5
    p = np.zeros((m, slots, 4))
    for slot, vec in enumerate(muons):
        for i in range(4):
            p[:, slot, i] = vec[i][rows] if subset else vec[i]
    omega, kx, ky, kz = isr
    isr_lab = to_lab(
        frames.rotation, frames.lab.take(rows), omega[rows], kx[rows], ky[rows], kz[rows]
    )
    for i in range(4):
        p[:, 2, i] = isr_lab[i]
    pdg = np.tile(np.array([PDG_MUON, -PDG_MUON, PDG_PHOTON, 0, 0][:slots], np.int32), (m, 1))
    pdg[omega[rows] <= 0.0, 2] = 0
    if second is not None:
        w2, qx, qy, qz = (c[rows] for c in second)
        second_lab = to_lab(frames.rotation, frames.lab.take(rows), w2, qx, qy, qz)
        for i in range(4):
            p[:, 4, i] = second_lab[i]
        pdg[:, 4] = np.where(w2 > 0.0, PDG_PHOTON, 0)
    if fsr.rows.size:
        # FSR photons of kept events: position of each kept radiating event among the kept
        where = np.searchsorted(rows, fsr.rows)
        kept_fsr = (where < m) & (rows[np.minimum(where, m - 1)] == fsr.rows) if m else where < 0
        g = fsr.gamma[kept_fsr]
        target = where[kept_fsr]
        sub = fsr.rows[kept_fsr]
        g_cm = to_cm.take(sub).apply(g[:, 0], g[:, 1], g[:, 2], g[:, 3])
        g_lab = to_lab(frames.rotation, frames.lab.take(sub), *g_cm)
        for i in range(4):
            p[target, 3, i] = g_lab[i]
        pdg[target, 3] = np.where(g[:, 0] > 0.0, PDG_PHOTON, 0)
    return TruthEvents(p=p, pdg=pdg)
