"""Initial-state radiation in the generators: the sampler of each final state and the photon.

The fraction ``x = 1 - s'/s`` lost to ISR is drawn from the Kuraev-Fadin radiator folded with
the ratio of Born cross sections ``sigma(s')/sigma(s)`` (:mod:`dhstat.simulation.isr`); the
photon is emitted along the beams with the dipole angular distribution ``1/(1 - beta cos)``.

Example:
    >>> sampler = isr_sampler("pair", 10.58**2, 0.0072973525693, 0.000511, 0.1056584, 1.0)
    >>> round(sampler.integral, 3)
    1.243
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import theory
from dhstat.simulation.angles import dipole_cos
from dhstat.simulation.frames import Frames
from dhstat.simulation.isr import IsrSampler, make_sampler

__all__ = ["emit_isr", "isr_sampler"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@lru_cache(maxsize=64)
def isr_sampler(kind: str, s: float, alpha: float, me: float, a: float, b: float) -> IsrSampler:
    """The ISR sampler at ``s`` [GeV^2] of a final state, tabulated once per argument set.

    ``kind`` ``"signal"``: A'(mass ``a``) h'(mass ``b``), ratio of Born cross sections;
    ``"pair"``: fermion pair of mass ``a`` from an s-channel photon, pair mass above ``b``.
    """
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


def emit_isr(
    rng: np.random.Generator, frames: Frames, sampler: IsrSampler | None, me: float
) -> tuple[Array, Array]:
    """ISR photon four-vectors in the c.m. frame and the four-momentum left for the hard process."""
    n = frames.sqrt_s.shape[0]
    energy = frames.sqrt_s / 2
    x = sampler.sample(rng, n) if sampler is not None else np.zeros(n)
    omega = x * frames.sqrt_s / 2
    p_e = np.sqrt(energy * energy - me * me)
    one_minus_beta = me * me / (energy * (energy + p_e))
    beta = p_e / energy
    omc = dipole_cos(rng, one_minus_beta, beta)
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
