"""Truth-level event generators: signal, mu mu(gamma), tau tau, e e mu mu.

Every generator returns :class:`TruthEvents`: the lab-frame four-vectors of the final-state
particles of each event, padded to a fixed number of slots, with PDG codes (0 = empty slot). This is
the form an LHE file is converted into for reinterpretation, and what
:func:`dhstat.simulation.detector.reconstruct` takes.

Frames: each event is generated in the c.m. frame of the colliding beams (z along the e- beam),
then rotated onto the lab orientation of the beam line and boosted to the laboratory with the
full c.m. velocity (83 mrad crossing, analysis.md section 2). With ``[simulation]
beam_energy_spread`` each event has its own beam energies (Gaussian spreads of ``[beams]``).

Processes (analysis.md sections 3 and 5):
- ``signal``: e+e- -> A'(-> mu mu) h'(invisible); production angle ``lam sin^2 + 8 r_A``; A'
  helicity ``3/8 [1 + c^2 + f_L (1 - 3 c^2)]``; optional ISR (radiator x Born sigma(s')/sigma(s)).
- ``mumu``: e+e- -> mu mu with ISR (radiator x s/s') and leading-log FSR (at most one photon,
  splitting function ``(1 + (1 - z)^2)/z``, dipole angular distribution around the muon).
- ``tautau``: e+e- -> tau tau with ISR and the leptonic final states the analysis needs: both
  tau -> mu nu nu (search sample) and one tau -> e nu nu, the other -> mu nu nu (e mu control
  sample), with the Michel spectrum ``2 x^2 (3 - 2 x)`` of each charged lepton in its tau rest
  frame (isotropic, unpolarised, no spin correlations).
- ``eemumu``: two-photon e+e- -> e+e- mu mu in the equivalent-photon approximation: photon energy
  fractions with ``(1 + (1 - x)^2)/x ln(Q2max/Q2min)``, virtualities ``dQ^2/Q^2``, gamma gamma ->
  mu mu with the Breit-Wheeler cross section and angular distribution.

Example:
    >>> import numpy as np
    >>> from dhstat.config import load
    >>> cfg = load()
    >>> truth = generate_signal(5.0, 2.0, 100, cfg=cfg, rng=np.random.default_rng(1), isr=False)
    >>> truth.p.shape, truth.pdg[0].tolist()
    ((100, 4, 4), [13, -13, 9000025, 0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics as kin
from dhstat.physics import theory
from dhstat.physics.constants import PDG_ELECTRON, PDG_MUON, PDG_NEUTRINO, PDG_PHOTON
from dhstat.simulation.isr import IsrSampler, make_sampler

__all__ = [
    "BACKGROUNDS",
    "PDG_DARK_HIGGS",
    "TAUTAU_FINAL_STATES",
    "ProcessInfo",
    "TruthEvents",
    "cm_to_lab",
    "generate",
    "generate_eemumu",
    "generate_mumu",
    "generate_signal",
    "generate_tautau",
    "generator_cut_mask",
    "process_info",
    "tautau_branching",
]

Array = NDArray[np.float64]
Process = Literal["mumu", "tautau", "eemumu"]

#: The background processes, in the order used for per-process random-number keys.
BACKGROUNDS: tuple[Process, ...] = ("mumu", "tautau", "eemumu")
#: PDG-style code of the invisible dark Higgs h' in truth records (any code other than
#: +-11, +-13, 22 and 0 is invisible to the detector).
PDG_DARK_HIGGS = 9000025


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class TruthEvents:
    """Final-state particles of n events at truth level.

    Attributes:
        p: Lab-frame four-vectors ``(E, px, py, pz)`` [GeV], shape ``(n, k, 4)``, float64.
        pdg: PDG codes, shape ``(n, k)``, int32: 11/-11 e-/e+, 13/-13 mu-/mu+, 22 photon; 0 marks
            an empty slot (its four-vector is ignored); any other code is invisible (neutrinos,
            h'). Convert an LHE event by putting its final-state particles (status 1) in order.
        extra: Per-event arrays (length n) copied to the reconstructed events, e.g. the truth
            masses ``truth_ma``, ``truth_mh`` of signal events.
    """

    p: Array
    pdg: NDArray[np.int32]
    extra: Mapping[str, NDArray[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.p.shape[0])

    def select(self, mask: NDArray[np.bool_]) -> TruthEvents:
        """The events where ``mask`` is true."""
        return TruthEvents(
            self.p[mask], self.pdg[mask], {k: v[mask] for k, v in self.extra.items()}
        )


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """Normalisation of a background process as generated.

    Attributes:
        process: ``mumu``, ``tautau`` or ``eemumu``.
        cross_section_fb: Total cross section of the process as configured [fb].
        generated_cross_section_fb: Cross section of the phase space actually sampled (after the
            analytic pre-cuts, before the event-by-event generator cuts) [fb]; events are
            drawn unweighted from it, so an MC event has weight ``generated_cross_section_fb x L /
            N_drawn``.
        presampled_fraction: ``generated_cross_section_fb / cross_section_fb``.
        settings: Generator settings (JSON-serialisable) for the metadata.
        final_states: ``tautau`` only: the generated cross section of each final state [fb]
            (``mumu``, ``emu``; they add up to ``generated_cross_section_fb``); empty otherwise.
    """

    process: str
    cross_section_fb: float
    generated_cross_section_fb: float
    presampled_fraction: float
    settings: Mapping[str, Any]
    final_states: Mapping[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# small vectorised helpers


def _unit(cos: Array | float, phi: Array | float) -> Array:
    cos, phi = np.asarray(cos, dtype=np.float64), np.asarray(phi, dtype=np.float64)
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, None))
    return np.stack([sin * np.cos(phi), sin * np.sin(phi), cos], axis=-1)


def _basis(axis: Array) -> tuple[Array, Array]:
    """Two unit vectors orthogonal to the unit vectors ``axis`` (n, 3) and to each other."""
    ax, ay, az = axis[:, 0], axis[:, 1], axis[:, 2]
    use_x = np.abs(ax) < 0.9
    # e1 = axis x h / |axis x h| with h = x (if |ax| < 0.9) or y
    e1 = np.empty_like(axis)
    e1[:, 0] = np.where(use_x, 0.0, -az)
    e1[:, 1] = np.where(use_x, az, 0.0)
    e1[:, 2] = np.where(use_x, -ay, ax)
    e1 /= np.sqrt(np.einsum("ij,ij->i", e1, e1))[:, None]
    e2 = np.empty_like(axis)
    e2[:, 0] = ay * e1[:, 2] - az * e1[:, 1]
    e2[:, 1] = az * e1[:, 0] - ax * e1[:, 2]
    e2[:, 2] = ax * e1[:, 1] - ay * e1[:, 0]
    return e1, e2


def _around(axis: Array, cos: Array, phi: Array) -> Array:
    """Unit vectors at polar angle acos(cos) and azimuth phi around ``axis`` (n, 3)."""
    e1, e2 = _basis(axis)
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, None))
    return (
        cos[:, None] * axis + (sin * np.cos(phi))[:, None] * e1 + (sin * np.sin(phi))[:, None] * e2
    )


def _two_body(
    mass: Array, m1: float | Array, m2: float | Array, direction: Array
) -> tuple[Array, Array]:
    """Four-vectors of a two-body decay at rest: particle 1 along ``direction`` (n, 3)."""
    lam = theory.kallen(mass * mass, np.asarray(m1) ** 2, np.asarray(m2) ** 2)
    p = np.sqrt(np.clip(lam, 0.0, None)) / (2 * mass)
    vec = p[:, None] * direction
    e1 = np.sqrt(p * p + np.asarray(m1) ** 2)
    e2 = np.sqrt(p * p + np.asarray(m2) ** 2)
    return (
        np.concatenate([e1[:, None], vec], axis=1),
        np.concatenate([e2[:, None], -vec], axis=1),
    )


def _velocity(p: Array) -> Array:
    return np.asarray(p[..., 1:] / p[..., :1], dtype=np.float64)


def _sample_quadratic(rng: np.random.Generator, a: Array, b: Array) -> Array:
    """Cos theta from the density ``a + b c^2`` on [-1, 1] (a, b arrays, a + b c^2 >= 0)."""
    n = a.shape[0]
    out = np.empty(n)
    todo = np.arange(n)
    bound = np.maximum(a, a + b)
    while todo.size:
        c = rng.uniform(-1.0, 1.0, todo.size)
        ok = rng.random(todo.size) * bound[todo] <= a[todo] + b[todo] * c * c
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def _dipole_cos(rng: np.random.Generator, one_minus_beta: Array, beta: Array) -> Array:
    """Cos theta from ``1/(1 - beta cos)`` (photon emitted by a particle of velocity beta).

    Returns ``1 - cos`` (accurate for tiny angles).
    """
    n = beta.shape[0]
    # 1 - beta c = (1 + beta) r^U with r = (1 - beta)/(1 + beta)
    r = one_minus_beta / (1.0 + beta)
    t = (1.0 + beta) * np.exp(rng.random(n) * np.log(r))
    return np.asarray(np.clip((t - one_minus_beta) / beta, 0.0, 2.0), dtype=np.float64)


def _direction_from_one_minus_cos(axis: Array, one_minus_cos: Array, phi: Array | float) -> Array:
    phi = np.asarray(phi, dtype=np.float64)
    cos = 1.0 - one_minus_cos
    sin = np.sqrt(np.clip(one_minus_cos * (2.0 - one_minus_cos), 0.0, None))
    e1, e2 = _basis(axis)
    return (
        cos[:, None] * axis + (sin * np.cos(phi))[:, None] * e1 + (sin * np.sin(phi))[:, None] * e2
    )


# ---------------------------------------------------------------------------------------------
# beams and frames


@dataclass(frozen=True, slots=True)
class _Boost:
    """A per-event boost by velocity ``(bx, by, bz)`` (structure of arrays), gamma precomputed."""

    bx: Array
    by: Array
    bz: Array
    gamma: Array
    g2: Array  # gamma^2 / (gamma + 1)

    @staticmethod
    def of(bx: Array, by: Array, bz: Array, gamma: Array) -> _Boost:
        return _Boost(bx, by, bz, gamma, gamma * gamma / (gamma + 1.0))

    def take(self, rows: NDArray[np.intp]) -> _Boost:
        return _Boost(self.bx[rows], self.by[rows], self.bz[rows], self.gamma[rows], self.g2[rows])

    def apply(self, e: Array, x: Array, y: Array, z: Array) -> tuple[Array, Array, Array, Array]:
        """As :func:`dhstat.physics.kinematics.boost`, component by component."""
        bp = self.bx * x + self.by * y + self.bz * z
        factor = self.g2 * bp + self.gamma * e
        return (
            self.gamma * (e + bp),
            x + factor * self.bx,
            y + factor * self.by,
            z + factor * self.bz,
        )


@dataclass(frozen=True, slots=True)
class _Frames:
    """Per-event c.m. energy and the transformation of c.m. vectors to the laboratory."""

    sqrt_s: Array  # (n,)
    lab: _Boost  # lab velocity of the c.m. frame
    rotation: Array  # (3, 3): c.m. beam axis (z) -> the e- beam direction in the c.m. frame

    @property
    def beta(self) -> Array:
        """Lab velocity of the c.m. frame, (n, 3)."""
        return np.stack([self.lab.bx, self.lab.by, self.lab.bz], axis=-1)

    def to_lab(self, p: Array) -> Array:
        """c.m. four-vectors (n, ..., 4) -> lab (rotation of the beam line, then the boost)."""
        c, s = self.rotation[0, 0], self.rotation[0, 2]
        n = p.shape[0]
        slots = math.prod(p.shape[1:-1])
        flat = np.asarray(p, dtype=np.float64).reshape(n, slots, 4)
        out = np.empty(flat.shape)
        for j in range(flat.shape[1]):
            x, z = flat[:, j, 1], flat[:, j, 3]
            lab = self.lab.apply(flat[:, j, 0], c * x + s * z, flat[:, j, 2], c * z - s * x)
            for i in range(4):
                out[:, j, i] = lab[i]
        return out.reshape(p.shape)


def _frames(cfg: Mapping[str, Any], rng: np.random.Generator, n: int) -> _Frames:
    her, ler = kin.beam_momenta(cfg)
    beams = cfg["beams"]
    if cfg["simulation"]["beam_energy_spread"]:
        me = float(cfg["physics"]["electron_mass"])
        spread = rng.standard_normal((2, n))
        e1 = her[0] + spread[0] * (beams["energy_spread_her_mev"] * 1e-3)
        e2 = ler[0] + spread[1] * (beams["energy_spread_ler_mev"] * 1e-3)
        p1 = np.sqrt(e1 * e1 - me * me) / np.linalg.norm(her[1:])
        p2 = np.sqrt(e2 * e2 - me * me) / np.linalg.norm(ler[1:])
        energy = e1 + e2
        px, py, pz = (p1 * her[i] + p2 * ler[i] for i in (1, 2, 3))
    else:
        total = her + ler
        energy = np.full(n, total[0])
        px, py, pz = (np.full(n, total[i]) for i in (1, 2, 3))
    sqrt_s = np.sqrt(energy * energy - (px * px + py * py + pz * pz))
    lab = _Boost.of(px / energy, py / energy, pz / energy, energy / sqrt_s)
    return _Frames(sqrt_s=sqrt_s, lab=lab, rotation=_rotation(cfg))


def cm_to_lab(p: Array, cfg: Mapping[str, Any]) -> Array:
    """Four-vectors (..., 4) from the nominal c.m. frame (z along the e- beam) to the laboratory.

    This is the transformation the generators use (rotation of the beam line onto its lab
    direction, then the full c.m. boost), e.g. for LHE events generated in the c.m. frame.

    Example:
        >>> from dhstat.config import load
        >>> cfg = load()
        >>> her, ler = kin.beam_momenta(cfg)
        >>> e = float(np.sqrt(kin.mass2(her + ler))) / 2
        >>> pz = np.sqrt(e * e - cfg["physics"]["electron_mass"] ** 2)
        >>> bool(np.allclose(cm_to_lab(np.array([e, 0.0, 0.0, pz]), cfg), her))
        True
    """
    p = np.asarray(p, dtype=np.float64)
    flat = p.reshape(-1, 4)
    m = flat.shape[0]
    bx, by, bz = (np.full(m, b) for b in kin.cm_boost(cfg))
    gamma = 1.0 / np.sqrt(1.0 - (bx * bx + by * by + bz * bz))
    frames = _Frames(sqrt_s=np.zeros(m), lab=_Boost.of(bx, by, bz, gamma), rotation=_rotation(cfg))
    return frames.to_lab(flat).reshape(p.shape)


def _rotation(cfg: Mapping[str, Any]) -> Array:
    her, _ = kin.beam_momenta(cfg)
    axis = kin.boost(her, -kin.cm_boost(cfg))[1:]
    angle = math.atan2(axis[0], axis[2])
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _nominal_s(cfg: Mapping[str, Any]) -> float:
    her, ler = kin.beam_momenta(cfg)
    return float(kin.mass2(her + ler))


# ---------------------------------------------------------------------------------------------
# ISR


@lru_cache(maxsize=64)
def _isr_sampler(kind: str, s: float, alpha: float, me: float, a: float, b: float) -> IsrSampler:
    beta = float(theory.isr_beta(s, alpha=alpha, electron_mass=me))
    if kind == "signal":
        sigma0 = float(theory.born_cross_section(a, b, s))
        x_max = 1.0 - (a + b) ** 2 / s

        def ratio(x: Array) -> Array:
            return theory.born_cross_section(a, b, s * (1 - x)) / sigma0

    elif kind == "pair":  # fermion pair of mass a, s-channel photon: beta(3 - beta^2)/(2 s)
        x_max = 1.0 - max(b**2, 4 * a * a * 1.0001) / s

        def ratio(x: Array) -> Array:
            b1 = np.sqrt(np.clip(1 - 4 * a * a / (s * (1 - x)), 0.0, None))
            b0 = math.sqrt(1 - 4 * a * a / s)
            return np.asarray(b1 * (3 - b1 * b1) / (b0 * (3 - b0 * b0)) / (1 - x))

    else:  # pragma: no cover - internal
        raise ValueError(kind)
    return make_sampler(beta, x_max, ratio)


def _isr(
    rng: np.random.Generator, frames: _Frames, sampler: IsrSampler | None, me: float
) -> tuple[Array, Array]:
    """ISR photon four-vectors in the c.m. frame and the four-momentum left for the hard process."""
    n = frames.sqrt_s.shape[0]
    energy = frames.sqrt_s / 2
    x = sampler.sample(rng, n) if sampler is not None else np.zeros(n)
    omega = x * frames.sqrt_s / 2
    p_e = np.sqrt(energy * energy - me * me)
    one_minus_beta = me * me / (energy * (energy + p_e))
    beta = p_e / energy
    omc = _dipole_cos(rng, one_minus_beta, beta)
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    sin = np.sqrt(np.clip(omc * (2.0 - omc), 0.0, None))
    azimuth = rng.uniform(0, 2 * np.pi, n)
    photon = np.empty((n, 4))
    photon[:, 0] = omega
    photon[:, 1] = omega * sin * np.cos(azimuth)
    photon[:, 2] = omega * sin * np.sin(azimuth)
    photon[:, 3] = omega * side * (1.0 - omc)
    rest = np.zeros((n, 4))
    rest[:, 0] = frames.sqrt_s
    rest -= photon
    return photon, rest


# ---------------------------------------------------------------------------------------------
# signal


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
    physics = cfg["physics"]
    me, mmu = float(physics["electron_mass"]), float(physics["muon_mass"])
    s0 = _nominal_s(cfg)
    if not (ma > 2 * mmu and mh >= 0 and ma + mh < math.sqrt(s0)):
        msg = f"need 2 m_mu < M_A' and M_A' + M_h' < sqrt(s); got M_A' = {ma}, M_h' = {mh}"
        raise ValueError(msg)
    frames = _frames(cfg, rng, n_events)
    sampler = (
        _isr_sampler("signal", s0, float(physics["alpha"]), me, float(ma), float(mh))
        if isr
        else None
    )
    photon, rest = _isr(rng, frames, sampler, me)
    s_prime = kin.mass2(rest)
    root = np.sqrt(s_prime)
    ra, rh = ma * ma / s_prime, mh * mh / s_prime
    lam = theory.kallen(1.0, ra, rh)
    cos_a = _sample_quadratic(rng, lam + 8 * ra, -lam)
    dir_a = _unit(cos_a, rng.uniform(0, 2 * np.pi, n_events))
    p_a, p_h = _two_body(root, ma, mh, dir_a)
    # A' -> mu mu: polar angle of the mu- w.r.t. the A' flight direction
    f_l = theory.longitudinal_fraction(ma, mh, s_prime)
    cos_mu = _sample_quadratic(rng, 1 + f_l, 1 - 3 * f_l)
    dir_mu = _around(dir_a, cos_mu, rng.uniform(0, 2 * np.pi, n_events))
    mu_minus, mu_plus = _two_body(np.full(n_events, float(ma)), mmu, mmu, dir_mu)
    beta_a = _velocity(p_a)
    mu_minus, mu_plus = kin.boost(mu_minus, beta_a), kin.boost(mu_plus, beta_a)
    # from the rest frame of (A' h') to the c.m. frame
    beta_rest = _velocity(rest)
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


# ---------------------------------------------------------------------------------------------
# mu mu (gamma)


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


def _to_lab(
    frames: _Frames, lab: _Boost, e: Array, x: Array, y: Array, z: Array
) -> tuple[Array, Array, Array, Array]:
    """c.m. components -> lab components (rotation of the beam line, then the boost)."""
    c, s = frames.rotation[0, 0], frames.rotation[0, 2]
    return lab.apply(e, c * x + s * z, y, c * z - s * x)


def _cos_sin(rng: np.random.Generator, n: int) -> tuple[Array, Array]:
    """Cos and sin of ``n`` uniform azimuths (one cosine, the sine from it: no second trig call)."""
    phi = rng.uniform(-np.pi, np.pi, n)
    cos = np.cos(phi)
    return cos, np.copysign(np.sqrt(np.maximum(1.0 - cos * cos, 0.0)), phi)


def _lepton_window(cfg: Mapping[str, Any], skim: bool) -> tuple[float, float, float] | None:
    """Truth-level (cos theta_max, cos theta_min, p_min) both leptons of a 2-track event need.

    The generator cuts, narrowed (with ``skim``) to the truth-level image of the reconstruction
    skim for events whose only charged particles are the two leptons: the trigger and the skim
    need both tracks inside ``[max(trigger, skim) theta_min, min(...) theta_max]``, so their
    truth angles must be inside it widened by 10 x the angle resolution (probability < 1e-22
    per track of a difference). ``None`` if the generator cuts are disabled.
    """
    cuts = cfg["simulation"]["generator_cuts"]
    if not cuts["enabled"]:
        return None
    lo, hi = float(cuts["theta_min"]), float(cuts["theta_max"])
    sk, det = cfg["simulation"]["skim"], cfg["detector"]
    if skim and sk["enabled"] and sk["require_trigger"]:
        margin = math.degrees(10 * det["tracking"]["angle_resolution_mrad"] * 1e-3)
        trig = det["trigger"]
        lo = max(lo, max(sk["theta_min"], trig["theta_min"]) - margin)
        hi = min(hi, min(sk["theta_max"], trig["theta_max"]) + margin)
    return math.cos(math.radians(hi)), math.cos(math.radians(lo)), float(cuts["p_min"])


def generate_mumu(
    n_events: int, *, cfg: Mapping[str, Any], rng: np.random.Generator, skim: bool = False
) -> TruthEvents:
    """e+e- -> mu- mu+ (ISR gamma) (FSR gamma). Slots: mu-, mu+, ISR photon, FSR photon.

    With ``skim``, only the events passing :func:`generator_cut_mask` (and the truth-level image
    of the reconstruction skim, see ``_lepton_window``) are returned, and the photons are
    boosted to the laboratory only for them; the result is distributed as
    ``generate_mumu(n).select(cuts)``.
    """
    physics, settings = cfg["physics"], cfg["processes"]["mumu"]
    me, mmu, alpha = (
        float(physics["electron_mass"]),
        float(physics["muon_mass"]),
        float(physics["alpha"]),
    )
    n = n_events
    s0 = _nominal_s(cfg)
    frames = _frames(cfg, rng, n)
    sampler = (
        _isr_sampler("pair", s0, alpha, me, mmu, float(settings["min_mass"]))
        if cfg["simulation"]["isr"]
        else None
    )
    # ISR photon in the c.m. frame (as _isr, component by component)
    sqrt_s = frames.sqrt_s
    energy = 0.5 * sqrt_s
    x = sampler.sample(rng, n) if sampler is not None else np.zeros(n)
    omega = x * energy
    p_e = np.sqrt(energy * energy - me * me)
    omc = _dipole_cos(rng, me * me / (energy * (energy + p_e)), p_e / energy)
    side = np.copysign(omega, rng.random(n) - 0.5)
    cos_a, sin_a = _cos_sin(rng, n)
    k_t = omega * np.sqrt(np.clip(omc * (2.0 - omc), 0.0, None))
    kx, ky, kz = k_t * cos_a, k_t * sin_a, side * (1.0 - omc)
    # the mu mu (+ FSR) system: mass sqrt(s (1 - x)), velocity -k / (sqrt(s) - omega)
    e_rest = sqrt_s - omega
    root = np.sqrt(np.maximum(e_rest * e_rest - omega * omega, 0.0))
    to_cm = _Boost.of(-kx / e_rest, -ky / e_rest, -kz / e_rest, e_rest / root)
    beta2 = np.clip(1 - 4 * mmu * mmu / (root * root), 0.0, None)
    cos = _cubic_quadratic_cos(rng, 2 - beta2, beta2)
    cos_p, sin_p = _cos_sin(rng, n)
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, None))
    dx, dy, dz = sin * cos_p, sin * sin_p, cos
    # muons in the pair frame: back to back, except for the events with an FSR photon
    e_mu = 0.5 * root
    p_mu = np.sqrt(np.clip(e_mu * e_mu - mmu * mmu, 0.0, None))
    minus = [e_mu, p_mu * dx, p_mu * dy, p_mu * dz]
    plus = [e_mu.copy(), -minus[1], -minus[2], -minus[3]]
    fsr_rows = np.zeros(0, np.intp)
    if settings["fsr"]:
        radiate = _fsr_flags(rng, root, mmu, alpha, float(settings["fsr_min_fraction"]))
        fsr_rows = np.flatnonzero(radiate)
        direction = np.stack([dx[fsr_rows], dy[fsr_rows], dz[fsr_rows]], axis=1)
        mu_m, mu_p, gamma = _fsr_kinematics(
            rng, root[fsr_rows], direction, mmu, float(settings["fsr_min_fraction"])
        )
        for i in range(4):
            minus[i][fsr_rows] = mu_m[:, i]
            plus[i][fsr_rows] = mu_p[:, i]
    lab = frames.lab
    lab_minus = _to_lab(frames, lab, *to_cm.apply(*minus))
    lab_plus = _to_lab(frames, lab, *to_cm.apply(*plus))
    keep: NDArray[np.intp] | None = None
    window = _lepton_window(cfg, skim) if skim else None
    if window is not None:
        c_lo, c_hi, p_min = window
        ok = np.ones(n, bool)
        for _, px, py, pz in (lab_minus, lab_plus):
            mom2 = px * px + py * py + pz * pz
            cz = pz / np.sqrt(mom2)
            ok &= (cz >= c_lo) & (cz <= c_hi) & (mom2 >= p_min * p_min)
        keep = np.flatnonzero(ok)
    m = n if keep is None else keep.size
    p = np.zeros((m, 4, 4))
    for slot, vec in ((0, lab_minus), (1, lab_plus)):
        for i in range(4):
            p[:, slot, i] = vec[i] if keep is None else vec[i][keep]
    # photons, for the kept events only
    rows = np.arange(n) if keep is None else keep
    isr_lab = _to_lab(frames, lab.take(rows), omega[rows], kx[rows], ky[rows], kz[rows])
    for i in range(4):
        p[:, 2, i] = isr_lab[i]
    pdg = np.tile(np.array([PDG_MUON, -PDG_MUON, PDG_PHOTON, 0], np.int32), (m, 1))
    pdg[omega[rows] <= 0.0, 2] = 0
    if fsr_rows.size:
        # FSR photons of kept events: position of each kept radiating event among the kept
        where = np.searchsorted(rows, fsr_rows)
        kept_fsr = (where < m) & (rows[np.minimum(where, m - 1)] == fsr_rows) if m else where < 0
        g = gamma[kept_fsr]
        target = where[kept_fsr]
        sub = fsr_rows[kept_fsr]
        g_cm = to_cm.take(sub).apply(g[:, 0], g[:, 1], g[:, 2], g[:, 3])
        g_lab = _to_lab(frames, lab.take(sub), *g_cm)
        for i in range(4):
            p[target, 3, i] = g_lab[i]
        pdg[target, 3] = np.where(g[:, 0] > 0.0, PDG_PHOTON, 0)
    return TruthEvents(p=p, pdg=pdg)


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
    omc = _dipole_cos(rng, one_minus_beta, p_mu / e_mu)
    k_dir = _direction_from_one_minus_cos(emitter_dir, omc, rng.uniform(0, 2 * np.pi, m))
    gamma = np.concatenate([omega[:, None], omega[:, None] * k_dir], axis=1)
    system = -gamma
    system[:, 0] += root
    m_sys = np.sqrt(np.clip(kin.mass2(system), 4 * mass * mass, None))
    minus, plus = _two_body(m_sys, mass, mass, mu_dir)
    beta_sys = _velocity(system)
    return kin.boost(minus, beta_sys), kin.boost(plus, beta_sys), gamma


# ---------------------------------------------------------------------------------------------
# tau tau


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
    direction = _unit(rng.uniform(-1, 1, n), rng.uniform(0, 2 * np.pi, n))
    lep = np.concatenate([e[:, None], p[:, None] * direction], axis=1)
    rest = np.zeros((n, 4))
    rest[:, 0] = mtau
    nu = rest - lep
    beta = _velocity(tau)
    return kin.boost(lep, beta), kin.boost(nu, beta)


def _tau_to_mu(
    rng: np.random.Generator, tau: Array, mtau: float, mmu: float
) -> tuple[Array, Array]:
    """Tau -> mu nu nu (Michel, isotropic): muon and neutrino-pair four-vectors in the given frame."""
    return _tau_to_lepton(rng, tau, mtau, mmu)


#: Leptonic final states of the tau tau sample: (charged lepton of tau-, of tau+) per event.
TAUTAU_FINAL_STATES = ("mumu", "emu")


def tautau_branching(cfg: Mapping[str, Any]) -> dict[str, float]:
    """Branching fraction of each configured tau tau final state (``[processes.tautau]``).

    ``mumu``: B(tau -> mu nu nu)^2; ``emu``: 2 B(tau -> e nu nu) B(tau -> mu nu nu) (either tau
    gives the electron).

    Example:
        >>> from dhstat.config import load
        >>> {k: round(v, 5) for k, v in tautau_branching(load()).items()}
        {'mumu': 0.03024, 'emu': 0.06198}
    """
    settings = cfg["processes"]["tautau"]
    b_mu, b_e = float(settings["branching_mu"]), float(settings["branching_e"])
    table = {"mumu": b_mu * b_mu, "emu": 2.0 * b_e * b_mu}
    return {name: table[name] for name in TAUTAU_FINAL_STATES if name in settings["final_states"]}


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
    physics = cfg["physics"]
    me, mmu, mtau = (float(physics[k]) for k in ("electron_mass", "muon_mass", "tau_mass"))
    s0 = _nominal_s(cfg)
    frames = _frames(cfg, rng, n_events)
    sampler = (
        _isr_sampler("pair", s0, float(physics["alpha"]), me, mtau, 0.0)
        if cfg["simulation"]["isr"]
        else None
    )
    photon, rest = _isr(rng, frames, sampler, me)
    if final_state is None:
        branching = tautau_branching(cfg)
        names = list(branching)
        fractions = np.array([branching[k] for k in names])
        cdf = np.cumsum(fractions / fractions.sum())
        pick = np.minimum(np.searchsorted(cdf, rng.random(n_events), side="right"), len(names) - 1)
        emu = np.asarray(pick == names.index("emu")) if "emu" in names else np.zeros(n_events, bool)
    elif final_state in TAUTAU_FINAL_STATES:
        emu = np.full(n_events, final_state == "emu")
    else:
        msg = f"unknown tau tau final state {final_state!r}; expected one of {TAUTAU_FINAL_STATES}"
        raise ValueError(msg)
    electron_minus = emu & (rng.random(n_events) < 0.5)
    electron_plus = emu & ~electron_minus
    root = np.sqrt(kin.mass2(rest))
    beta_t = np.sqrt(np.clip(1 - 4 * mtau * mtau / (root * root), 0.0, None))
    cos = _sample_quadratic(rng, 2 - beta_t**2, beta_t**2)
    direction = _unit(cos, rng.uniform(0, 2 * np.pi, n_events))
    tau_minus, tau_plus = _two_body(root, mtau, mtau, direction)
    l_minus, nu_minus = _tau_to_lepton(rng, tau_minus, mtau, np.where(electron_minus, me, mmu))
    l_plus, nu_plus = _tau_to_lepton(rng, tau_plus, mtau, np.where(electron_plus, me, mmu))
    beta_rest = _velocity(rest)
    parts = kin.boost(np.stack([l_minus, l_plus, nu_minus, nu_plus], axis=1), beta_rest[:, None, :])
    codes = [PDG_MUON, -PDG_MUON, PDG_NEUTRINO, PDG_NEUTRINO, PDG_PHOTON]
    pdg = np.tile(np.array(codes, np.int32), (n_events, 1))
    pdg[electron_minus, 0] = PDG_ELECTRON
    pdg[electron_plus, 1] = -PDG_ELECTRON
    pdg[photon[:, 0] <= 0.0, 4] = 0
    others = np.concatenate([parts[:, 2:], photon[:, None, :]], axis=1)
    # the two leptons are the only charged particles: the skim window applies
    return _finish(frames, parts[:, :2], others, pdg, cfg, skim=skim, window=True)


def _finish(
    frames: _Frames,
    leptons: Array,
    others: Array,
    pdg: NDArray[np.int32],
    cfg: Mapping[str, Any],
    *,
    skim: bool,
    window: bool,
) -> TruthEvents:
    """Lab-frame truth events from c.m. slots: the two leptons (slots 0, 1), then the others.

    With ``skim``, only events passing :func:`generator_cut_mask` (and, if ``window``, i.e.
    the leptons are the only charged particles, the truth-level image of the reconstruction
    skim) are kept, and the other slots are boosted to the laboratory for them only.
    """
    if not skim:
        return TruthEvents(p=frames.to_lab(np.concatenate([leptons, others], axis=1)), pdg=pdg)
    lab = frames.to_lab(leptons)
    mask = generator_cut_mask(TruthEvents(p=lab, pdg=pdg), cfg)
    bounds = _lepton_window(cfg, True) if window else None
    if bounds is not None:
        cos = lab[..., 3] / np.maximum(kin.momentum(lab), 1e-300)
        mask &= np.all((cos >= bounds[0]) & (cos <= bounds[1]), axis=1)
    keep = np.flatnonzero(mask)
    kept = _Frames(frames.sqrt_s[keep], frames.lab.take(keep), frames.rotation)
    p = np.concatenate([lab[keep], kept.to_lab(others[keep])], axis=1)
    return TruthEvents(p=p, pdg=pdg[keep])


# ---------------------------------------------------------------------------------------------
# e e mu mu (two-photon)


def _breit_wheeler_total(w: Array, m: float, alpha: float) -> Array:
    """sigma(gamma gamma -> l l) [GeV^-2] (Breit-Wheeler)."""
    beta = np.sqrt(np.clip(1 - 4 * m * m / (w * w), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.log((1 + beta) / np.maximum(1 - beta, 1e-300))
        value = 2 * np.pi * alpha**2 / (w * w) * ((3 - beta**4) * log - 2 * beta * (2 - beta**2))
    return np.asarray(np.where(beta > 0, value, 0.0), dtype=np.float64)


def _breit_wheeler_cos(rng: np.random.Generator, beta: Array, c_max: Array | None = None) -> Array:
    """Cos theta* of gamma gamma -> l l: [1 + 2b^2 s^2 - b^4 (1 + s^4)]/(1 - b^2 c^2)^2.

    Restricted to ``|cos| <= c_max`` if given. Proposal ``1/(1 - b^2 c^2)`` (uniform in
    ``atanh(b c)``), acceptance ``num / (1 - b^2 c^2) / 2 <= 1``.
    """
    n = beta.shape[0]
    limit = np.ones(n) if c_max is None else c_max
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        b = beta[todo]
        a = np.arctanh(b * limit[todo])
        c = np.tanh(rng.uniform(-1, 1, todo.size) * a) / b
        ok = rng.random(todo.size) <= _bw_ratio(c, b) / 2.0
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def _bw_ratio(c: Array, b: Array) -> Array:
    s2 = 1 - c * c
    num = 1 + 2 * b * b * s2 - b**4 * (1 + s2 * s2)
    return np.asarray(num / (1 - b * b * c * c), dtype=np.float64)


def _bw_fraction(c_max: Array, beta: Array, points: int = 64) -> Array:
    """Fraction of the Breit-Wheeler angular distribution inside |cos| <= c_max."""
    t = (np.arange(points) + 0.5) / points  # midpoints in the proposal variable
    a_full = np.arctanh(beta)
    a_cut = np.arctanh(beta * c_max)

    def integral(a: Array) -> Array:
        c = np.tanh(a[..., None] * t) / beta[..., None]
        return np.asarray(a * _bw_ratio(c, beta[..., None]).mean(axis=-1))

    with np.errstate(invalid="ignore", divide="ignore"):
        frac = integral(a_cut) / integral(a_full)
    return np.asarray(np.nan_to_num(np.clip(frac, 0.0, 1.0)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _PhotonTable:
    """Piecewise-constant sampling table of (u = ln x1 x2, y = ln(x1/x2)/2) for eemumu."""

    u_edges: Array
    y_edges: Array
    cdf: Array  # flattened cumulative over cells inside the pre-cut
    fraction: float  # integral inside the pre-cut / integral over the whole process
    q2_pt: float  # virtuality pre-cut: at least one side with pT_e above this [GeV]
    c_max: Array  # (nu, ny): largest |cos theta*| of the muons that can pass the cuts
    cells: NDArray[np.intp]  # the cells with positive probability ...
    cells_cdf: Array  # ... and the cdf at them
    guide: NDArray[np.intp]  # first position in cells_cdf above k / GUIDE, k = 0 .. GUIDE

    def sample_cells(self, u: Array) -> NDArray[np.intp]:
        """Cells for uniform numbers ``u``: as ``searchsorted(cdf, u, "right")``, by guide table."""
        cdf, last = self.cells_cdf, self.cells_cdf.size - 1
        index = self.guide[(u * (self.guide.size - 1)).astype(np.intp)]
        todo = np.flatnonzero(cdf[np.minimum(index, last)] <= u)
        while todo.size:  # a few steps: guide intervals hold few cells
            index[todo] += 1
            todo = todo[cdf[np.minimum(index[todo], last)] <= u[todo]]
        return np.asarray(self.cells[np.minimum(index, last)], dtype=np.intp)


def _photon_flux_weight(x: Array, s: float, me: float, q2_max: float) -> tuple[Array, Array, Array]:
    """EPA weight (1 + (1-x)^2)/2 ln(Q2max/Q2min) (the 1/x is in the measure); Q2 limits."""
    energy = math.sqrt(s) / 2
    q2_min = me * me * x * x / np.clip(1 - x, 1e-300, None)
    q2_hi = np.minimum(q2_max, 4 * energy * energy * (1 - x))
    log = np.log(np.maximum(q2_hi, 1e-300) / np.maximum(q2_min, 1e-300))
    weight = np.where(log > 0, (1 + (1 - x) ** 2) / 2 * log, 0.0)
    return np.asarray(weight), q2_min, q2_hi


def _tagged_probability(x: Array, q2_min: Array, q2_hi: Array, pt: float) -> Array:
    """P(pT of the scattered electron > pt) under dQ^2/Q^2, with pT^2 ~ Q^2 (1 - x)."""
    q2_cut = pt * pt / np.clip(1 - x, 1e-12, None)
    lo = np.clip(q2_cut, q2_min, q2_hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.log(q2_hi / lo) / np.log(q2_hi / q2_min)
    return np.asarray(np.nan_to_num(np.clip(p, 0.0, 1.0)), dtype=np.float64)


def _decay_limit(
    u_lo: Array, u_hi: Array, y: Array, half: float, s: float, mmu: float, cuts: tuple[float, ...]
) -> Array:
    """Largest |cos theta*| (w.r.t. the beam axis) allowing both muons to pass the cuts.

    For a gamma gamma system of mass sqrt(e^u s) and c.m. rapidity y can pass the lab cuts ``(theta_lo, theta_hi, p_min,
    y_boost)``; evaluated as a union over the cell (u edges, y +- half) with the system pT
    neglected (the margins of the cuts cover it). 0 where nothing passes.
    """
    theta_lo, theta_hi, p_min, y_boost = cuts
    c = np.linspace(0.0, 1.0, 51)
    best = np.zeros(np.broadcast_shapes(u_lo.shape, y.shape))
    for u in (u_lo, u_hi):
        w = np.sqrt(np.exp(u) * s)
        e_star = w / 2
        p_star = np.sqrt(np.clip(e_star**2 - mmu * mmu, 0.0, None))
        for dy in (-half, 0.0, half):
            ylab = (y + dy + y_boost)[..., None]
            ok = np.ones((*best.shape, c.size), bool)
            for sign in (1.0, -1.0):
                pz_rest = sign * p_star[..., None] * c
                pt = p_star[..., None] * np.sqrt(1 - c * c)
                yr = np.arctanh(np.clip(pz_rest / e_star[..., None], -1 + 1e-15, 1 - 1e-15))
                mt = np.sqrt(pt * pt + mmu * mmu)
                pz = mt * np.sinh(ylab + yr)
                theta = np.degrees(np.arctan2(pt, pz))
                ok &= (theta >= theta_lo) & (theta <= theta_hi) & (np.hypot(pt, pz) >= p_min)
            allowed = np.where(ok, c, -1.0).max(axis=-1)
            best = np.maximum(best, np.where(allowed >= 0, np.minimum(allowed + 0.03, 1.0), 0.0))
    return best


@lru_cache(maxsize=8)
def _photon_table(
    s: float,
    me: float,
    mmu: float,
    alpha: float,
    w_min: float,
    q2_max: float,
    y_lo: float,
    y_hi: float,
    q2_pt: float,
    decay_cuts: tuple[float, ...] | None,
    bins: int = 200,
) -> _PhotonTable:
    u_min = math.log(w_min * w_min / s)
    u_edges = np.linspace(u_min, 0.0, bins + 1)
    y_max = -u_min / 2
    y_edges = np.linspace(-y_max, y_max, 2 * bins + 1)
    uc = 0.5 * (u_edges[1:] + u_edges[:-1])
    yc = 0.5 * (y_edges[1:] + y_edges[:-1])
    uu, yy = np.meshgrid(uc, yc, indexing="ij")
    x1, x2 = np.exp(uu / 2 + yy), np.exp(uu / 2 - yy)
    inside = (x1 < 1) & (x2 < 1)
    f1, q1lo, q1hi = _photon_flux_weight(np.minimum(x1, 1 - 1e-12), s, me, q2_max)
    f2, q2lo, q2hi = _photon_flux_weight(np.minimum(x2, 1 - 1e-12), s, me, q2_max)
    w = np.sqrt(np.exp(uu) * s)
    density = np.where(inside, f1 * f2 * _breit_wheeler_total(w, mmu, alpha), 0.0)
    total = float(density.sum())
    keep = (yy >= y_lo) & (yy <= y_hi)
    if q2_pt > 0:
        p1 = _tagged_probability(x1, q1lo, q1hi, q2_pt)
        p2 = _tagged_probability(x2, q2lo, q2hi, q2_pt)
        tagged = 1 - (1 - p1) * (1 - p2)
    else:
        tagged = np.ones_like(density)
    if decay_cuts is not None:
        margin = decay_cuts[4]
        half = 0.5 * (y_edges[1] - y_edges[0]) + margin
        c_max = _decay_limit(
            u_edges[:-1][:, None], u_edges[1:][:, None], yc[None, :], half, s, mmu, decay_cuts[:4]
        )
        beta = np.sqrt(np.clip(1 - 4 * mmu * mmu / (w * w), 1e-12, None))
        accepted = _bw_fraction(c_max, beta)
    else:
        c_max = np.ones_like(density)
        accepted = np.ones_like(density)
    cut_density = np.where(keep, density * tagged * accepted, 0.0)
    cdf = np.cumsum(cut_density.ravel())
    fraction = float(cdf[-1]) / total
    cdf /= cdf[-1]
    cells = np.flatnonzero(np.diff(cdf, prepend=0.0) > 0)
    guide = np.searchsorted(cdf[cells], np.arange(_GUIDE + 1) / _GUIDE, side="right")
    return _PhotonTable(u_edges, y_edges, cdf, fraction, q2_pt, c_max, cells, cdf[cells], guide)


#: Size of the guide table of the e e mu mu cell sampling.
_GUIDE = 1 << 17


def _eemumu_table(cfg: Mapping[str, Any]) -> _PhotonTable:
    physics, settings = cfg["physics"], cfg["processes"]["eemumu"]
    cuts = cfg["simulation"]["generator_cuts"]
    s0 = _nominal_s(cfg)
    if cuts["enabled"]:
        y_boost = float(np.arctanh(kin.cm_boost(cfg)[2]))
        eta_hi = -math.log(math.tan(math.radians(cuts["theta_min"]) / 2))
        eta_lo = -math.log(math.tan(math.radians(cuts["theta_max"]) / 2))
        margin = float(cuts["eemumu_rapidity_margin"])
        y_lo, y_hi = eta_lo - y_boost - margin, eta_hi - y_boost + margin
        q2_pt = float(cuts["eemumu_pt_min"]) / 2
        decay: tuple[float, ...] | None = (
            float(cuts["theta_min"]) - 5.0,
            float(cuts["theta_max"]) + 5.0,
            float(cuts["p_min"]) - 0.15,
            y_boost,
            margin,
        )
    else:
        y_lo, y_hi, q2_pt, decay = -1e9, 1e9, 0.0, None
    return _photon_table(
        s0,
        float(physics["electron_mass"]),
        float(physics["muon_mass"]),
        float(physics["alpha"]),
        float(settings["min_mass"]),
        float(settings["q2_max"]),
        y_lo,
        y_hi,
        q2_pt,
        decay,
    )


def _sample_q2(rng: np.random.Generator, lo: Array, hi: Array) -> Array:
    return np.asarray(lo * np.exp(rng.random(lo.shape[0]) * np.log(hi / lo)), dtype=np.float64)


def generate_eemumu(
    n_events: int, *, cfg: Mapping[str, Any], rng: np.random.Generator, skim: bool = False
) -> TruthEvents:
    """e+e- -> e+e- mu+mu- (two-photon). Slots: mu-, mu+, e-, e+.

    With ``skim``, only the events passing :func:`generator_cut_mask` are returned.

    ``n_events`` events are drawn from the pre-sampled phase space (see :func:`process_info`).
    """
    physics = cfg["physics"]
    me, mmu = float(physics["electron_mass"]), float(physics["muon_mass"])
    table = _eemumu_table(cfg)
    frames = _frames(cfg, rng, n_events)
    n = n_events
    cell = table.sample_cells(rng.random(n))
    ny = table.y_edges.size - 1
    iu, iy = np.divmod(cell, ny)
    u = table.u_edges[iu] + rng.random(n) * (table.u_edges[iu + 1] - table.u_edges[iu])
    y = table.y_edges[iy] + rng.random(n) * (table.y_edges[iy + 1] - table.y_edges[iy])
    x1 = np.minimum(np.exp(u / 2 + y), 1 - 1e-9)
    x2 = np.minimum(np.exp(u / 2 - y), 1 - 1e-9)
    energy = frames.sqrt_s / 2
    q2_max = float(cfg["processes"]["eemumu"]["q2_max"])
    sides = []
    for x in (x1, x2):
        q2_min = me * me * x * x / (1 - x)
        q2_hi = np.maximum(np.minimum(q2_max, 4 * energy * energy * (1 - x)), q2_min)
        sides.append((x, q2_min, q2_hi))
    if table.q2_pt > 0:
        p1 = _tagged_probability(x1, sides[0][1], sides[0][2], table.q2_pt)
        p2 = _tagged_probability(x2, sides[1][1], sides[1][2], table.q2_pt)
        total = 1 - (1 - p1) * (1 - p2)
        r = rng.random(n) * total
        both = r < p1 * p2
        only1 = (~both) & (r < p1 * p2 + p1 * (1 - p2))
        only2 = ~(both | only1)
        tagged1, tagged2 = both | only1, both | only2
    else:
        tagged1 = tagged2 = np.zeros(n, bool)
    q2s = []
    for (x, lo, hi), tagged in zip(sides, (tagged1, tagged2), strict=True):
        q2_cut = np.clip(table.q2_pt**2 / (1 - x), lo, hi) if table.q2_pt > 0 else lo
        low = np.where(tagged, q2_cut, lo)
        high = np.where(tagged, hi, q2_cut) if table.q2_pt > 0 else hi
        q2s.append(_sample_q2(rng, low, np.maximum(high, low * (1 + 1e-12))))
    electrons = []
    for (x, _, _), q2, sign in zip(sides, q2s, (1.0, -1.0), strict=True):
        e_out = (1 - x) * energy
        cos = np.clip(1 - q2 / (2 * energy * e_out), -1.0, 1.0)
        p_out = np.sqrt(np.clip(e_out * e_out - me * me, 0.0, None))
        direction = _unit(cos, rng.uniform(0, 2 * np.pi, n))
        direction[:, 2] *= sign
        electrons.append(np.concatenate([e_out[:, None], p_out[:, None] * direction], axis=1))
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
    beta_sys = _velocity(system)
    axis = kin.boost(q1, -beta_sys)[:, 1:]
    axis /= np.linalg.norm(axis, axis=1)[:, None]
    beta_mu = np.sqrt(1 - 4 * mmu * mmu / (w * w))
    cos_star = _breit_wheeler_cos(rng, beta_mu, table.c_max[iu, iy])
    direction = _around(axis, cos_star, rng.uniform(0, 2 * np.pi, n))
    flip = rng.random(n) < 0.5  # which muon goes along the direction
    direction[flip] *= -1
    mu_minus, mu_plus = _two_body(w, mmu, mmu, direction)
    mu_minus, mu_plus = kin.boost(mu_minus, beta_sys), kin.boost(mu_plus, beta_sys)
    pdg = np.tile(np.array([PDG_MUON, -PDG_MUON, 11, -11], np.int32), (n, 1))
    pdg[~ok] = 0  # below the mu mu threshold (virtual photons): no final state
    muons = np.stack([mu_minus, mu_plus], axis=1)
    # the electrons may be tracks too: no skim window
    return _finish(frames, muons, np.stack(electrons, axis=1), pdg, cfg, skim=skim, window=False)


# ---------------------------------------------------------------------------------------------
# normalisation and generator cuts


def process_info(process: str, cfg: Mapping[str, Any]) -> ProcessInfo:
    """Cross sections of a background process as generated (see :class:`ProcessInfo`).

    ``tautau``: sigma x (B_mu^2 + 2 B_e B_mu) for the final states mu mu and e mu (analytic,
    :func:`tautau_branching`; ``final_states`` gives each). ``eemumu``: the
    fraction of the equivalent-photon phase space inside the analytic pre-cuts (rapidity of the
    gamma gamma system, virtuality) is integrated on the sampling grid. ``mumu``: no pre-cut.

    Example:
        >>> from dhstat.config import load
        >>> info = process_info("tautau", load())
        >>> round(info.presampled_fraction, 5), round(info.final_states["mumu"] / info.cross_section_fb, 5)
        (0.09222, 0.03024)
    """
    if process not in BACKGROUNDS:
        msg = f"unknown process {process!r}; expected one of {BACKGROUNDS}"
        raise ValueError(msg)
    settings = dict(cfg["processes"][process])
    sigma = float(settings["cross_section_fb"])
    final_states: dict[str, float] = {}
    if process == "tautau":
        final_states = {k: sigma * b for k, b in tautau_branching(cfg).items()}
        fraction = sum(tautau_branching(cfg).values())
    elif process == "eemumu":
        fraction = _eemumu_table(cfg).fraction
    else:
        fraction = 1.0
    generator = {
        "process": process,
        "settings": settings,
        "isr": bool(cfg["simulation"]["isr"]),
        "beam_energy_spread": bool(cfg["simulation"]["beam_energy_spread"]),
        "generator_cuts": dict(cfg["simulation"]["generator_cuts"]),
    }
    return ProcessInfo(process, sigma, sigma * fraction, fraction, generator, final_states)


def generator_cut_mask(truth: TruthEvents, cfg: Mapping[str, Any]) -> NDArray[np.bool_]:
    """Events passing the event-by-event generator cuts (all true when they are disabled).

    Both charged leptons in slots 0, 1 (muons, or an electron and a muon in tau tau e mu events)
    must have lab polar angles in ``[theta_min, theta_max]`` and momenta above ``p_min``
    (muons) or ``electron_p_min`` (electrons); for ``eemumu`` also a c.m. transverse momentum
    of the dimuon above ``eemumu_pt_min``. These are looser than the selection (analysis.md
    section 7) by more than the resolution.
    """
    cuts = cfg["simulation"]["generator_cuts"]
    n = len(truth)
    if not cuts["enabled"]:
        return np.ones(n, bool)
    lep = truth.p[:, :2]
    apdg = np.abs(truth.pdg[:, :2])
    theta = np.degrees(kin.polar_angle(lep))
    mask = np.all((theta >= cuts["theta_min"]) & (theta <= cuts["theta_max"]), axis=1)
    p_min = np.where(apdg == PDG_ELECTRON, cuts["electron_p_min"], cuts["p_min"])
    mask &= np.all(kin.momentum(lep) >= p_min, axis=1)
    mask &= np.all((apdg == PDG_MUON) | (apdg == PDG_ELECTRON), axis=1)
    if truth.pdg.shape[1] == 4 and np.any(np.abs(truth.pdg[:, 2]) == PDG_ELECTRON):
        beta = kin.cm_boost(cfg)
        mask &= kin.pt_cm(lep[:, 0], lep[:, 1], beta) >= cuts["eemumu_pt_min"]
    return np.asarray(mask, dtype=np.bool_)


def generate(
    process: str,
    n_events: int,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    skim: bool = False,
    final_state: str | None = None,
) -> TruthEvents:
    """Generate ``n_events`` of a background process.

    With ``skim``, only the events passing the generator cuts (:func:`generator_cut_mask`)
    are returned (``mumu``, ``tautau``: also the truth-level image of the reconstruction skim,
    which cannot change the skimmed sample; the rejected events are not completed). ``final_state``: see
    :func:`generate_tautau`.

    Example:
        >>> from dhstat.config import load
        >>> len(generate("tautau", 10, cfg=load(), rng=np.random.default_rng(2)))
        10
    """
    if process == "mumu":
        return generate_mumu(n_events, cfg=cfg, rng=rng, skim=skim)
    if process == "tautau":
        return generate_tautau(n_events, cfg=cfg, rng=rng, final_state=final_state, skim=skim)
    if process == "eemumu":
        return generate_eemumu(n_events, cfg=cfg, rng=rng, skim=skim)
    msg = f"unknown process {process!r}; expected one of {BACKGROUNDS}"
    raise ValueError(msg)
