"""Gross-Vitells cross-check of the global p-value (Vitells & Gross, Astropart. Phys. 35 (2011) 230).

With the one-sided statistic ``q = max(Z, 0)^2`` the expected Euler characteristic of the
excursion set ``{q_w > u}`` is ``E[phi(A_u)] = P(q > u) + exp(-u/2) (N1 + N2 sqrt(u))``; for a
one-sided statistic the zeroth-order term is ``P(q > u) = Phi_bar(sqrt(u)) = P(chi2_1 > u) / 2``.
``N1, N2`` are fitted by weighted least squares to the mean Euler characteristic of the toys at low
thresholds (:mod:`dhstat.lee.euler`) and the formula is evaluated at ``u = Z_obs,max^2``.

The result is a bound, not an estimate: ``P(max q > u) <= E[phi(A_u)]`` (tight at high u). At low
u the expected Euler characteristic exceeds 1 and is no probability, so the reported ``p_global``
is ``E[phi(A_u)]`` clipped to [0, 1] (an upper bound on the global p; ``z_global``, one-sided, a
lower bound on the global Z); the unclipped value is kept as ``expected_euler``.

Example:
    >>> round(float(expected_euler(0.0, 0.0, 0.0)), 3)
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = ["BOUND", "GrossVitells", "expected_euler", "fit_gross_vitells"]

#: What the Gross-Vitells numbers are (``gross_vitells.bound`` of ``lee.json``).
BOUND = "p_global is an upper bound on the global p-value (z_global a lower bound on the global Z)"


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class GrossVitells:
    """The Gross-Vitells fit and extrapolation.

    Attributes:
        thresholds: Thresholds u (on q = max(Z, 0)^2).
        mean_euler: Mean Euler characteristic per threshold over the toys.
        mean_euler_error: Its standard error.
        n_toys: Toys used.
        n1: Fitted N1.
        n2: Fitted N2.
        covariance: 2 x 2 covariance of (N1, N2) (thresholds treated as independent).
        u: Threshold of the extrapolation (observed max Z squared).
        p_global: ``E[phi(A_u)]`` clipped to [0, 1]: an upper bound on the global p-value.
        p_global_error: Uncertainty of ``E[phi(A_u)]`` from the fit.
        expected_euler: ``E[phi(A_u)]`` itself (above 1 at low u).
    """

    thresholds: tuple[float, ...]
    mean_euler: tuple[float, ...]
    mean_euler_error: tuple[float, ...]
    n_toys: int
    n1: float
    n2: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    u: float
    p_global: float
    p_global_error: float
    expected_euler: float

    @property
    def z_global(self) -> float | None:
        """Lower bound on the global Z: ``max(0, Phi^-1(1 - p_global))`` (``None`` for p = 0)."""
        return max(0.0, float(stats.norm.isf(self.p_global))) if self.p_global > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "thresholds": list(self.thresholds),
            "mean_euler": list(self.mean_euler),
            "mean_euler_error": list(self.mean_euler_error),
            "n_toys": self.n_toys,
            "n1": self.n1,
            "n2": self.n2,
            "covariance": [list(row) for row in self.covariance],
            "u": self.u,
            "p_global": self.p_global,
            "p_global_error": self.p_global_error,
            "z_global": self.z_global,
            "expected_euler": self.expected_euler,
            "bound": BOUND,
        }


def expected_euler(u: NDArray[np.float64] | float, n1: float, n2: float) -> NDArray[np.float64]:
    """``E[phi(A_u)] = Phi_bar(sqrt(u)) + exp(-u/2) (N1 + N2 sqrt(u))`` (one-sided, 2-D)."""
    u = np.asarray(u, dtype=np.float64)
    root = np.sqrt(u)
    value: NDArray[np.float64] = stats.norm.sf(root) + np.exp(-u / 2) * (n1 + n2 * root)
    return value


def fit_gross_vitells(
    thresholds: Sequence[float], euler: NDArray[np.int64], z_obs: float
) -> GrossVitells:
    """Fit N1, N2 to the mean Euler characteristics and extrapolate to ``u = z_obs^2``.

    Args:
        thresholds: Thresholds u.
        euler: Euler characteristic per toy and threshold, shape (T, len(thresholds)).
        z_obs: The observed largest local Z.

    Example:
        >>> u = [1.0, 2.0, 3.0]
        >>> phi = np.array([[round(float(expected_euler(x, 5.0, 2.0)))] * 1 for x in u]).T
        >>> fit = fit_gross_vitells(u, np.repeat(phi, 2, axis=0), 3.0)
        >>> fit.n_toys, round(fit.p_global, 3)
        (2, 0.151)
        >>> low = fit_gross_vitells(u, np.repeat(phi, 2, axis=0), 0.5)  # E[phi] > 1 at low u
        >>> low.expected_euler > 1, low.p_global, low.z_global
        (True, 1.0, 0.0)
    """
    u = np.asarray(thresholds, dtype=np.float64)
    phi = np.asarray(euler, dtype=np.float64).reshape(-1, u.size)
    t = phi.shape[0]
    mean = phi.mean(axis=0) if t else np.zeros(u.size)
    error = phi.std(axis=0, ddof=1) / math.sqrt(t) if t > 1 else np.ones(u.size)
    error = np.maximum(error, 1.0 / max(t, 1))  # a floor: never infinite weights
    root = np.sqrt(u)
    design = np.stack([np.exp(-u / 2), root * np.exp(-u / 2)], axis=1)
    target = mean - stats.norm.sf(root)
    weight = 1.0 / error
    if u.size >= 2:
        solution, *_ = np.linalg.lstsq(design * weight[:, None], target * weight, rcond=None)
        covariance = np.linalg.pinv((design * weight[:, None] ** 2).T @ design)
    else:
        solution = np.zeros(2)
        covariance = np.zeros((2, 2))
    n1, n2 = float(solution[0]), float(solution[1])
    u_obs = float(z_obs) ** 2 if z_obs > 0 else 0.0
    euler_u = float(expected_euler(u_obs, n1, n2))
    gradient = np.array([1.0, math.sqrt(u_obs)]) * math.exp(-u_obs / 2)
    p_error = float(math.sqrt(max(float(gradient @ covariance @ gradient), 0.0)))
    return GrossVitells(
        thresholds=tuple(float(x) for x in u),
        mean_euler=tuple(float(x) for x in mean),
        mean_euler_error=tuple(float(x) for x in error),
        n_toys=t,
        n1=n1,
        n2=n2,
        covariance=(
            (float(covariance[0, 0]), float(covariance[0, 1])),
            (float(covariance[1, 0]), float(covariance[1, 1])),
        ),
        u=u_obs,
        p_global=min(max(euler_u, 0.0), 1.0),
        p_global_error=p_error,
        expected_euler=euler_u,
    )
