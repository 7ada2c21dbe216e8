"""Initial-state radiation: the Kuraev-Fadin radiator folded with a cross-section ratio.

The probability density of ``x = 1 - s'/s`` (fraction of s lost to ISR photons) is
``W(x) sigma(s') / sigma(s)`` on ``[0, x_max]`` (analysis.md section 3). The sampler tabulates its
cumulative integral in the variable ``z = x^beta``, in which the ``x^(beta-1)`` peak is flat, on a
grid refined near ``x_max`` (where ``sigma(s')/sigma(s) ~ s/s'`` grows), and inverts it by linear
interpolation. For speed the inverse is also tabulated on a uniform grid of the cumulative
probability (looked up by index, no search) below ``GUIDE_MAX``, where it is smooth; the tail
above uses the exact piecewise-linear inverse. ``integral`` is the ISR-inclusive over Born
cross-section ratio.

Example:
    >>> import numpy as np
    >>> sampler = make_sampler(0.0877, 0.5, lambda x: np.ones_like(x))
    >>> x = sampler.sample(np.random.default_rng(1), 1000)
    >>> bool(x.min() >= 0.0 and x.max() <= 0.5)
    True
    >>> from scipy.integrate import quad
    >>> from dhstat.physics.theory import isr_radiator
    >>> expected = quad(lambda t: float(isr_radiator(t, 0.0877)), 0, 0.5)[0]
    >>> abs(sampler.integral / expected - 1) < 1e-4
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dhstat.physics.theory import isr_radiator

__all__ = ["IsrSampler", "make_sampler"]

Array = NDArray[np.float64]

#: Points of the uniform inverse-CDF table and the cumulative probability up to which it is used.
GUIDE_POINTS, GUIDE_MAX = 1 << 16, 0.98


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class IsrSampler:
    """Tabulated inverse CDF of x = 1 - s'/s.

    Attributes:
        beta: The ISR collinear factor.
        x_max: Upper end of x (threshold of the final state).
        integral: Integral of ``W(x) sigma(s')/sigma(s)`` over ``[0, x_max]``.
        z: Grid in ``z = x^beta``.
        cdf: Normalised cumulative integral at ``z``.
        guide: ``z`` at the cumulative probabilities ``GUIDE_MAX x i / GUIDE_POINTS``.
    """

    beta: float
    x_max: float
    integral: float
    z: Array
    cdf: Array
    guide: Array

    def sample(self, rng: np.random.Generator, n: int) -> Array:
        """Draw ``n`` values of x."""
        u = rng.random(n)
        t = u * (GUIDE_POINTS / GUIDE_MAX)
        index = np.minimum(t.astype(np.intp), GUIDE_POINTS - 1)
        t -= index
        lo = self.guide[index]
        z = lo + t * (self.guide[index + 1] - lo)
        tail = np.flatnonzero(u >= GUIDE_MAX)
        if tail.size:
            z[tail] = np.interp(u[tail], self.cdf, self.z)
        return np.asarray(np.minimum(z ** (1.0 / self.beta), self.x_max), dtype=np.float64)


def make_sampler(
    beta: float, x_max: float, ratio: Callable[[Array], Array], *, points: int = 4000
) -> IsrSampler:
    """Tabulate the density ``W(x) ratio(x)`` on ``[0, x_max]`` for sampling.

    Args:
        beta: ISR factor (:func:`dhstat.physics.theory.isr_beta`).
        x_max: Largest x (``< 1``).
        ratio: ``sigma(s (1 - x)) / sigma(s)``, vectorised, finite on ``[0, x_max]``.
        points: Grid points per part of the grid (uniform in z, and log-spaced in 1 - x).
    """
    if not 0.0 < x_max < 1.0:
        msg = f"x_max must be in (0, 1), got {x_max}"
        raise ValueError(msg)
    z_max = x_max**beta
    z_uniform = np.linspace(0.0, z_max, points)
    one_minus = np.geomspace(1.0 - x_max, 1.0 - min(x_max, 1e-3) * 1e-3, points)
    z_tail = np.clip(1.0 - one_minus, 0.0, None) ** beta
    z = np.unique(np.concatenate([z_uniform, z_tail, [0.0, z_max]]))
    z = z[(z >= 0.0) & (z <= z_max)]
    x = z ** (1.0 / beta)
    # density in z: W(x) ratio(x) dx/dz, with dx/dz = x^(1-beta)/beta; finite at x = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        w_over = (1 + 0.75 * beta) - (1 - x / 2) * x ** (1 - beta)
    density = np.maximum(w_over * ratio(x), 0.0)
    steps = np.diff(z) * 0.5 * (density[1:] + density[:-1])
    cdf = np.concatenate([[0.0], np.cumsum(steps)])
    total = float(cdf[-1])
    # check of the transformation against the radiator itself (guards the algebra above)
    probe = np.array([0.5 * x_max])
    expected = isr_radiator(probe, beta) * probe ** (1 - beta) / beta
    got = (1 + 0.75 * beta) - (1 - probe / 2) * probe ** (1 - beta)
    assert np.allclose(expected, got)
    cdf /= total
    guide = np.interp(np.linspace(0.0, GUIDE_MAX, GUIDE_POINTS + 1), cdf, z)
    return IsrSampler(
        beta=float(beta), x_max=float(x_max), integral=total, z=z, cdf=cdf, guide=guide
    )
