"""Initial-state radiation in the generators: the sampler of each final state and the photon.

The fraction ``x = 1 - s'/s`` lost to ISR is drawn from the Kuraev-Fadin radiator folded with
the ratio of Born cross sections ``sigma(s')/sigma(s)`` (:mod:`dhstat.simulation.isr`); the
photon is emitted along the beams with the dipole angular distribution ``1/(1 - beta cos)``.
:func:`split_isr` shares a drawn ``x`` between the two beams (one photon each), as the product of
two leading-log electron structure functions does.

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

__all__ = ["emit_isr", "isr_sampler", "split_isr"]

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


def split_isr(rng: np.random.Generator, x: Array, beta: float) -> tuple[Array, Array]:
    """Share the ISR energy loss ``x = 1 - s'/s`` between the two beams: ``(x1, x2)``.

    In the leading-log structure-function picture each incoming lepton radiates independently,
    ``D(x_i) ~ (beta/2) x_i^(beta/2 - 1)`` [lit: Kuraev-Fadin, Sov. J. Nucl. Phys. 41 (1985) 466;
    KKMC, the paper's mu mu(gamma) generator, radiates from both beams]. Their convolution is
    the radiator ``beta x^(beta - 1)`` of the total loss, and for a given total the share of one
    beam is ``t ~ Beta(beta/2, beta/2)``. The split is applied to ``-ln(1 - x)`` so that
    ``(1 - x1)(1 - x2) = 1 - x`` exactly: two photons collinear with opposite beams leave the
    pair the same ``s'`` as the single photon would. The distribution of ``x`` (and so every
    cross section) is unchanged; only the recoil system gains a mass ``sqrt(x1 x2 s)``.

    Args:
        rng: Draws one Beta variate per event.
        x: Total energy-loss fractions, shape ``(n,)``, in [0, 1).
        beta: The ISR collinear factor ``(2 alpha/pi)(ln(s/m_e^2) - 1)``.

    Returns:
        ``(x1, x2)``: the losses of the first and the second beam.

    Example:
        >>> x1, x2 = split_isr(np.random.default_rng(1), np.array([0.0, 0.3]), 0.0877)
        >>> bool(np.allclose((1 - x1) * (1 - x2), [1.0, 0.7])), bool(np.all(x1 >= 0))
        (True, True)
    """
    t = np.nan_to_num(rng.beta(0.5 * beta, 0.5 * beta, x.shape[0]), nan=0.0)
    log_rest = np.log1p(-np.clip(x, 0.0, 1.0 - 1e-15))
    x1 = -np.expm1(t * log_rest)
    x2 = -np.expm1((1.0 - t) * log_rest)
    return np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
