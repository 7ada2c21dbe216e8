"""Theory of the signal: Born cross section of e+e- -> A'h', its angular distributions, and ISR.

Formulas of analysis.md section 3 (minimal secluded U(1), Batell, Pospelov, Ritz, PRD 79, 115008;
Kuraev-Fadin leading-log radiator). Masses in GeV, s in GeV^2, cross sections in fb. The A'
widths and B(A' -> mu mu) are in :mod:`dhstat.physics.decay`.

Example:
    >>> round(float(born_cross_section(5.0, 2.0, 10.58**2, coupling=1e-8)), 3)
    1.013
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.physics.constants import ALPHA, ELECTRON_MASS, GEV2_TO_FB

__all__ = [
    "born_cross_section",
    "helicity_pdf",
    "isr_beta",
    "isr_radiator",
    "kallen",
    "longitudinal_fraction",
    "production_angle_pdf",
]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def kallen(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> Array:
    """Kallen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc.

    Example:
        >>> float(kallen(1.0, 0.0, 0.0))
        1.0
    """
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (a, b, c))
    return np.asarray(a * a + b * b + c * c - 2 * a * b - 2 * a * c - 2 * b * c, dtype=np.float64)


def born_cross_section(
    ma: ArrayLike,
    mh: ArrayLike,
    s: ArrayLike,
    *,
    coupling: ArrayLike = 1.0,
    alpha: float = ALPHA,
    gev2_to_fb: float = GEV2_TO_FB,
) -> Array:
    """Born cross section of e+e- -> A'h' [fb] for ``coupling`` = eps^2 alpha_D.

    ``sigma = pi alpha coupling / (3 s) sqrt(lam) (lam + 12 r_A) / (1 - r_A)^2`` with
    ``r_A = M_A'^2/s``, ``r_h = M_h'^2/s``, ``lam = lambda(1, r_A, r_h)``; zero below threshold.

    Example:
        >>> float(born_cross_section(5.0, 6.0, 100.0))
        0.0
    """
    ma, mh, s = (np.asarray(x, dtype=np.float64) for x in (ma, mh, s))
    ra, rh = ma * ma / s, mh * mh / s
    lam = kallen(1.0, ra, rh)
    open_ = (lam > 0) & (np.sqrt(ra) + np.sqrt(rh) < 1)
    lam = np.where(open_, lam, 0.0)
    sigma = (
        np.pi
        * alpha
        * np.asarray(coupling)
        / (3 * s)
        * np.sqrt(lam)
        * (lam + 12 * ra)
        / (1 - ra) ** 2
    )
    return np.asarray(np.where(open_, sigma * gev2_to_fb, 0.0), dtype=np.float64)


def production_angle_pdf(cos_theta: ArrayLike, ma: ArrayLike, mh: ArrayLike, s: ArrayLike) -> Array:
    """Normalised dsigma/dcos(theta*) of the A' in the c.m. frame: ``lam sin^2 + 8 r_A``.

    Example:
        >>> from scipy.integrate import quad
        >>> round(quad(lambda c: float(production_angle_pdf(c, 5.0, 2.0, 111.9)), -1, 1)[0], 12)
        1.0
    """
    c = np.asarray(cos_theta, dtype=np.float64)
    ra = np.asarray(ma, dtype=np.float64) ** 2 / np.asarray(s, dtype=np.float64)
    rh = np.asarray(mh, dtype=np.float64) ** 2 / np.asarray(s, dtype=np.float64)
    lam = kallen(1.0, ra, rh)
    return np.asarray((lam * (1 - c * c) + 8 * ra) / (4 * lam / 3 + 16 * ra), dtype=np.float64)


def longitudinal_fraction(ma: ArrayLike, mh: ArrayLike, s: ArrayLike) -> Array:
    """Longitudinal polarisation fraction of the A': ``E*^2 / (E*^2 + 2 M_A'^2)``.

    ``E* = (s + M_A'^2 - M_h'^2) / (2 sqrt(s))`` is the A' energy in the c.m. frame.

    Example:
        >>> round(float(longitudinal_fraction(1e-3, 0.0, 100.0)), 6)
        1.0
    """
    ma, mh, s = (np.asarray(x, dtype=np.float64) for x in (ma, mh, s))
    e_star = (s + ma * ma - mh * mh) / (2 * np.sqrt(s))
    return np.asarray(e_star**2 / (e_star**2 + 2 * ma * ma), dtype=np.float64)


def helicity_pdf(cos_eta: ArrayLike, f_l: ArrayLike) -> Array:
    """Normalised dN/dcos(eta) = 3/8 [1 + cos^2 + f_L (1 - 3 cos^2)] of A' -> mu mu.

    Example:
        >>> float(helicity_pdf(0.5, 1/3))
        0.5
    """
    c = np.asarray(cos_eta, dtype=np.float64)
    return np.asarray(
        0.375 * (1 + c * c + np.asarray(f_l, dtype=np.float64) * (1 - 3 * c * c)),
        dtype=np.float64,
    )


def isr_beta(s: ArrayLike, *, alpha: float = ALPHA, electron_mass: float = ELECTRON_MASS) -> Array:
    """ISR collinear factor beta = (2 alpha / pi) (ln(s / m_e^2) - 1).

    Example:
        >>> round(float(isr_beta(10.5796**2)), 4)
        0.0877
    """
    s = np.asarray(s, dtype=np.float64)
    return np.asarray(2 * alpha / np.pi * (np.log(s / electron_mass**2) - 1), dtype=np.float64)


def isr_radiator(x: ArrayLike, beta: ArrayLike) -> Array:
    """Leading-log Kuraev-Fadin radiator W(x) = beta x^(beta-1) (1 + 3 beta/4) - beta (1 - x/2).

    ``x = 1 - s'/s`` is the fraction of s lost to ISR; ``W`` integrates to 1 over [0, 1].

    Example:
        >>> from scipy.integrate import quad
        >>> round(quad(lambda x: float(isr_radiator(x, 0.0877)), 0, 1)[0], 8)
        1.0
    """
    x = np.asarray(x, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.asarray(b * x ** (b - 1) * (1 + 0.75 * b) - b * (1 - x / 2), dtype=np.float64)
