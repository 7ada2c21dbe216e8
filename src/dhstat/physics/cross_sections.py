"""Cross sections of e+e- -> A' h' at eps^2 alpha_D = 1: Born and ISR-inclusive.

The coupling limits divide a cross-section limit by sigma_1 = sigma(eps^2 alpha_D = 1), in one of
two conventions (:data:`CROSS_SECTION_TYPES`). ``"born"`` is the Born cross section of analysis.md
section 3 (:func:`dhstat.physics.theory.born_cross_section`); ``"isr"`` is the ISR-inclusive cross
section sigma_ISR(s) = int_0^x_max W(x) sigma_Born(s (1 - x)) dx with the Kuraev-Fadin radiator
W(x) = beta x^(beta - 1) (1 + 3 beta / 4) - beta (1 - x / 2)
(:func:`dhstat.physics.theory.isr_radiator`), computed by Gauss-Legendre quadrature after the
substitution u = x^beta that removes the integrable singularity at x = 0. Masses in GeV, cross
sections in fb.

Example:
    >>> s1 = born_unit_cross_section(5.0, 2.0, sqrt_s=10.58)
    >>> round(float(s1) * 1e-8, 3)
    1.013
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.physics import theory
from dhstat.physics.constants import ALPHA, ELECTRON_MASS, GEV2_TO_FB

__all__ = [
    "CROSS_SECTION_TYPES",
    "CrossSectionType",
    "born_unit_cross_section",
    "isr_unit_cross_section",
    "unit_cross_sections",
]

Array = NDArray[np.float64]

#: A convention for sigma: the Born or the ISR-inclusive cross section.
CrossSectionType = Literal["born", "isr"]

#: The two cross-section types a coupling limit can be derived with.
CROSS_SECTION_TYPES: tuple[CrossSectionType, ...] = ("born", "isr")


def __dir__() -> list[str]:
    return __all__


def born_unit_cross_section(
    ma: ArrayLike,
    mh: ArrayLike,
    *,
    sqrt_s: ArrayLike,
    alpha: float = ALPHA,
    gev2_to_fb: float = GEV2_TO_FB,
) -> Array:
    """Born sigma(e+e- -> A' h') [fb] at eps^2 alpha_D = 1; zero below threshold.

    sigma = pi alpha / (3 s) sqrt(lam) (lam + 12 r_A) / (1 - r_A)^2 (analysis.md section 3).

    Example:
        >>> round(float(born_unit_cross_section(5.0, 2.0, sqrt_s=10.58)) * 1e-8, 3)
        1.013
    """
    s = np.asarray(sqrt_s, dtype=np.float64) ** 2
    return theory.born_cross_section(ma, mh, s, coupling=1.0, alpha=alpha, gev2_to_fb=gev2_to_fb)


@functools.cache
def _gauss_legendre(n: int) -> tuple[Array, Array]:
    """Nodes and weights of the ``n``-point Gauss-Legendre rule on [-1, 1] (cached)."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return np.asarray(nodes), np.asarray(weights)


def isr_unit_cross_section(
    ma: ArrayLike,
    mh: ArrayLike,
    *,
    sqrt_s: float,
    alpha: float = ALPHA,
    gev2_to_fb: float = GEV2_TO_FB,
    me: float = ELECTRON_MASS,
    nodes: int = 128,
) -> Array:
    """ISR-inclusive sigma [fb] at eps^2 alpha_D = 1: int_0^x_max W(x) sigma_Born(s(1 - x)) dx.

    With x_max = 1 - (M_A' + M_h')^2 / s. The singular term of W is integrated in u = x^beta,
    (1 + 3 beta / 4) int_0^(x_max^beta) sigma_Born(s (1 - u^(1/beta))) du, the regular term in x;
    both by ``nodes``-point Gauss-Legendre quadrature after a square-root change of variables at
    the threshold end, where sigma_Born rises like sqrt(lam).

    Example:
        >>> born = float(born_unit_cross_section(5.0, 2.0, sqrt_s=10.58))
        >>> isr = float(isr_unit_cross_section(5.0, 2.0, sqrt_s=10.58))
        >>> 1.0 < isr / born < 1.2  # sigma_Born grows as s' falls here
        True
    """
    ma_, mh_ = np.broadcast_arrays(
        np.asarray(ma, dtype=np.float64), np.asarray(mh, dtype=np.float64)
    )
    s = sqrt_s**2
    beta = float(theory.isr_beta(s, alpha=alpha, electron_mass=me))
    x_max = np.clip(1 - (ma_ + mh_) ** 2 / s, 0.0, None)
    t, w = _gauss_legendre(nodes)
    t01, w01 = 0.5 * (t + 1), 0.5 * w  # nodes and weights on [0, 1]

    def born(x: Array) -> Array:
        return born_unit_cross_section(
            ma_[..., None], mh_[..., None], sqrt_s=np.sqrt(s * (1 - x)), alpha=alpha,
            gev2_to_fb=gev2_to_fb,
        )  # fmt: skip

    # Singular term in u = x^beta, u = u_max (1 - v^2), v in [0, 1]: x(u) = u^(1/beta) is a
    # smooth polynomial-like map, and the sqrt(lam) rise of sigma_Born at threshold (u = u_max)
    # becomes analytic in v.
    u_max = x_max[..., None] ** beta
    x_s = (u_max * (1 - t01**2)) ** (1 / beta)
    term = np.sum(w01 * 2 * u_max * t01 * born(x_s), axis=-1)
    singular = (1 + 0.75 * beta) * term
    # Regular term: -beta int_0^x_max (1 - x/2) sigma_Born dx with x = x_max (1 - v^2).
    x_r = x_max[..., None] * (1 - t01**2)
    jac_r = 2 * x_max[..., None] * t01
    regular = -beta * np.sum(w01 * jac_r * (1 - x_r / 2) * born(x_r), axis=-1)
    return np.asarray(np.where(x_max > 0, singular + regular, 0.0), dtype=np.float64)


def unit_cross_sections(
    ma: ArrayLike,
    mh: ArrayLike,
    *,
    sqrt_s: float,
    alpha: float = ALPHA,
    gev2_to_fb: float = GEV2_TO_FB,
    electron_mass: float = ELECTRON_MASS,
    isr_nodes: int = 128,
) -> dict[CrossSectionType, Array]:
    """Born and ISR-inclusive sigma(e+e- -> A' h') [fb] at eps^2 alpha_D = 1 at ``sqrt_s``.

    Args:
        ma: M_A' [GeV].
        mh: M_h' [GeV].
        sqrt_s: c.m. energy of the beams [GeV].
        alpha: Fine-structure constant.
        gev2_to_fb: GeV^-2 -> fb.
        electron_mass: m_e [GeV] (the ISR collinear factor).
        isr_nodes: Gauss-Legendre nodes per sub-integral of the ISR convolution.

    Example:
        >>> from dhstat import config
        >>> from dhstat.physics.beams import Beams
        >>> beams = Beams.from_config(config.load())
        >>> units = unit_cross_sections([5.0], [2.0], sqrt_s=beams.sqrt_s)
        >>> sorted(units), bool(units["isr"][0] > units["born"][0])
        (['born', 'isr'], True)
    """
    options = {"alpha": alpha, "gev2_to_fb": gev2_to_fb}
    return {
        "born": born_unit_cross_section(ma, mh, sqrt_s=sqrt_s, **options),
        "isr": isr_unit_cross_section(
            ma, mh, sqrt_s=sqrt_s, me=electron_mass, nodes=isr_nodes, **options
        ),
    }
