"""Vectorised four-vector kinematics: boosts, masses and angles.

Four-vectors are float64 arrays of shape ``(..., 4)`` ordered ``(E, px, py, pz)`` in GeV; every
function works on any leading shape and broadcasts. Frames: the laboratory frame has z along the
solenoid axis (direction of the e- beam up to the crossing angle), x in the crossing plane pointing
outwards of the ring, as in Belle II. The c.m. frame is reached from the laboratory by the pure
boost ``boost(p, -beams.cm_velocity())`` with the full three-vector (never z alone); its axes are the
boosted laboratory axes (no extra rotation), see :func:`pt_cm` for the consequence.

Example:
    >>> from dhstat.physics.beams import Beams
    >>> beams = Beams(e_her=7.004, e_ler=4.002, half_crossing_angle=0.0415, electron_mass=0.000511)
    >>> her, ler = beams.momenta()
    >>> round(float(np.sqrt(mass2(her + ler))), 4)
    10.5796
    >>> beta = beams.cm_velocity()
    >>> [round(float(b), 5) for b in beta]
    [0.04149, 0.0, 0.27253]
    >>> cm = boost(her + ler, -beta)
    >>> bool(np.allclose(cm[1:], 0.0, atol=1e-12))
    True
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "azimuth",
    "boost",
    "delta_phi",
    "four_vector",
    "helicity_cos",
    "mass2",
    "momentum",
    "polar_angle",
    "pt_cm",
    "recoil_mass2",
]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def four_vector(px: ArrayLike, py: ArrayLike, pz: ArrayLike, mass: ArrayLike) -> Array:
    """Four-vectors ``(E, px, py, pz)`` of particles with the given momenta [GeV/c] and mass [GeV].

    Example:
        >>> four_vector(3.0, 0.0, 4.0, 0.0).tolist()
        [5.0, 3.0, 0.0, 4.0]
    """
    px, py, pz, m = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (px, py, pz, mass))
    )
    energy = np.sqrt(px * px + py * py + pz * pz + m * m)
    return np.stack([energy, px, py, pz], axis=-1)


def boost(p: ArrayLike, beta: ArrayLike) -> Array:
    """Lorentz-boost four-vectors ``p`` into a frame moving with velocity ``-beta``.

    That is, a particle at rest becomes a particle with velocity ``beta``; ``boost(p, -beta)``
    brings vectors of a system moving with ``beta`` to its rest frame, and
    ``boost(boost(p, b), -b) == p``. ``beta`` has shape ``(..., 3)`` and broadcasts against ``p``;
    ``|beta| < 1`` is required, ``beta = 0`` is the identity.

    Example:
        >>> boost([1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.6]).round(12).tolist()
        [1.25, 0.0, 0.0, 0.75]
    """
    p = np.asarray(p, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    b2 = bx * bx + by * by + bz * bz
    if np.any(b2 >= 1.0):
        msg = "boost velocity must satisfy |beta| < 1"
        raise ValueError(msg)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    energy, x, y, z = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    bp = bx * x + by * y + bz * z
    # (gamma - 1) / b2 = gamma^2 / (gamma + 1), finite at beta = 0
    factor = gamma * gamma / (gamma + 1.0) * bp + gamma * energy
    out = np.empty(np.broadcast_shapes(p.shape, (*b.shape[:-1], 4)), dtype=np.float64)
    out[..., 0] = gamma * (energy + bp)
    out[..., 1] = x + factor * bx
    out[..., 2] = y + factor * by
    out[..., 3] = z + factor * bz
    return out


def mass2(p: ArrayLike) -> Array:
    """Invariant mass squared ``E^2 - |p|^2`` [GeV^2], sign kept.

    Example:
        >>> float(mass2([5.0, 3.0, 0.0, 4.0]))
        0.0
    """
    p = np.asarray(p, dtype=np.float64)
    return np.asarray(
        p[..., 0] ** 2 - p[..., 1] ** 2 - p[..., 2] ** 2 - p[..., 3] ** 2, dtype=np.float64
    )


def recoil_mass2(p_beams_total: ArrayLike, p_visible: ArrayLike) -> Array:
    """Recoil mass squared ``(P_beams - p_visible)^2`` [GeV^2]; can be negative, sign kept.

    Example:
        >>> float(recoil_mass2([10.0, 0, 0, 0], [5.0, 0, 0, 3.0]))
        16.0
    """
    return mass2(np.asarray(p_beams_total, dtype=np.float64) - np.asarray(p_visible))


def momentum(p: ArrayLike) -> Array:
    """Magnitude of the 3-momentum [GeV/c].

    Example:
        >>> float(momentum([5.0, 3.0, 0.0, 4.0]))
        5.0
    """
    p = np.asarray(p, dtype=np.float64)
    return np.asarray(np.sqrt(p[..., 1] ** 2 + p[..., 2] ** 2 + p[..., 3] ** 2), dtype=np.float64)


def polar_angle(p: ArrayLike) -> Array:
    """Polar angle theta in [0, pi] with respect to the z axis of the frame of ``p`` [rad].

    Example:
        >>> round(float(polar_angle([1.0, 1.0, 0.0, 0.0])), 6)
        1.570796
    """
    p = np.asarray(p, dtype=np.float64)
    pt = np.hypot(p[..., 1], p[..., 2])
    return np.asarray(np.arctan2(pt, p[..., 3]), dtype=np.float64)


def azimuth(p: ArrayLike) -> Array:
    """Azimuthal angle phi in (-pi, pi] around the z axis [rad].

    Example:
        >>> round(float(azimuth([1.0, 0.0, 1.0, 0.0])), 6)
        1.570796
    """
    p = np.asarray(p, dtype=np.float64)
    return np.asarray(np.arctan2(p[..., 2], p[..., 1]), dtype=np.float64)


def delta_phi(p1: ArrayLike, p2: ArrayLike) -> Array:
    """Azimuthal opening angle between two momenta, in [0, pi] [rad].

    Example:
        >>> round(float(delta_phi([1, 1, 0, 0], [1, -1, 0.001, 0])), 3)
        3.141
    """
    d = np.abs(azimuth(p1) - azimuth(p2))
    return np.asarray(np.where(d > np.pi, 2.0 * np.pi - d, d), dtype=np.float64)


def pt_cm(p1: ArrayLike, p2: ArrayLike, beta_cm: ArrayLike) -> Array:
    """Transverse momentum of ``p1 + p2`` in the c.m. frame [GeV/c].

    The lab four-vectors are boosted to the c.m. frame with the full boost ``-beta_cm``; the
    transverse momentum is taken with respect to the z axis of that frame, i.e. the boosted
    laboratory (solenoid) axis, without rotating it onto the beam line. (In the c.m. frame the
    e- beam is 5.8 mrad off this axis, so pT w.r.t. the beam line differs by at most
    0.006 x the dimuon c.m. momentum.)

    Example:
        >>> float(pt_cm([1.0, 0.3, 0.4, 0.0], [1.0, 0.0, 0.0, 0.5], [0.0, 0.0, 0.0]))
        0.5
    """
    total = np.asarray(p1, dtype=np.float64) + np.asarray(p2, dtype=np.float64)
    cm = boost(total, -np.asarray(beta_cm, dtype=np.float64))
    return np.asarray(np.hypot(cm[..., 1], cm[..., 2]), dtype=np.float64)


def helicity_cos(p_mu_minus: ArrayLike, p_mu_plus: ArrayLike, p_total: ArrayLike) -> Array:
    """cos(eta), eta the helicity angle of the dimuon system (the paper's definition).

    eta is the angle, in the dimuon rest frame, between the momentum direction of the c.m.
    system (the four-vector ``p_total`` of the colliding beams, i.e. opposite to the dimuon
    momentum seen from the c.m. frame) and the momentum direction of the mu-. It is computed
    from invariants, so the frame of the inputs does not matter (all in the same frame, usually
    the laboratory):
    ``cos eta = (E1 EP - p1.P) / (|p1*| |P*|)`` with ``E1 = p1.Q/M``, ``EP = P.Q/M``,
    ``|p1*| = sqrt(E1^2 - p1^2)``, ``|P*| = sqrt(EP^2 - P^2)``, ``Q = p_mu- + p_mu+``, ``M^2 = Q^2``.
    ``C_eta = |cos eta|``. Undefined (NaN) if the dimuon is at rest in the c.m. frame.

    Example:
        >>> mu_minus, mu_plus = [2.0, 0, 0, 1.0], [2.0, 0, 0, -1.0]
        >>> round(float(helicity_cos(mu_minus, mu_plus, [10.0, 1.0, 0.0, 0.0])), 12)
        0.0
    """
    p1 = np.asarray(p_mu_minus, dtype=np.float64)
    q = p1 + np.asarray(p_mu_plus, dtype=np.float64)
    big_p = np.asarray(p_total, dtype=np.float64)
    m = np.sqrt(np.maximum(mass2(q), 0.0))
    e1 = _dot(p1, q) / m
    ep = _dot(big_p, q) / m
    mag1 = np.sqrt(np.maximum(e1 * e1 - mass2(p1), 0.0))
    magp = np.sqrt(np.maximum(ep * ep - mass2(big_p), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (e1 * ep - _dot(p1, big_p)) / (mag1 * magp)
    return np.asarray(np.clip(cos, -1.0, 1.0), dtype=np.float64)


def _dot(a: Array, b: Array) -> Array:
    """Minkowski product (+,-,-,-)."""
    return np.asarray(
        a[..., 0] * b[..., 0]
        - a[..., 1] * b[..., 1]
        - a[..., 2] * b[..., 2]
        - a[..., 3] * b[..., 3],
        dtype=np.float64,
    )
