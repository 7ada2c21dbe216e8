"""The global significance of the largest local excess from the toys' maxima.

The global p-value is ``P(max_w Z_w >= Z_obs,max | background only)`` (statistics.md, section 5):
the fraction of toys whose largest local Z reaches the observed one, with its binomial and
Clopper-Pearson uncertainties, the global Z, the trials factor and the Gross-Vitells cross-check.

Example:
    >>> round(p_global_independent(np.array([0.01, 0.02])), 10)
    0.0298
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from dhstat.errors import InputError
from dhstat.lee.grossvitells import GrossVitells, fit_gross_vitells
from dhstat.lee.toys import BatchResult

__all__ = ["LeeResult", "global_significance", "p_global_independent", "summarise"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class LeeResult:
    """The global significance of the largest local excess.

    Attributes:
        n_toys: Number of toys.
        z_local: Observed largest local Z (from the same tables as the toys).
        window: Index of the window with the largest observed Z.
        p_local: Its local p-value, ``Phi_bar(z_local)``.
        n_above: Toys whose largest Z is >= z_local.
        p_global: ``n_above / n_toys``.
        p_global_error: Binomial Monte Carlo uncertainty, sqrt(p (1 - p) / n).
        p_global_interval: Clopper-Pearson 68.27 % interval of p_global.
        trials_factor: p_global / p_local.
        max_z: Largest local Z per toy (the distribution), in toy order.
        argmax: Window index of each toy's largest Z.
        gross_vitells: The Gross-Vitells cross-check (``None`` without Euler characteristics).
    """

    n_toys: int
    z_local: float
    window: int
    p_local: float
    n_above: int
    p_global: float
    p_global_error: float
    p_global_interval: tuple[float, float]
    trials_factor: float
    max_z: NDArray[np.float64] = field(repr=False)
    argmax: NDArray[np.int64] = field(repr=False)
    gross_vitells: GrossVitells | None = None

    @property
    def z_global(self) -> float | None:
        """One-sided global Z, ``max(0, Phi^-1(1 - p_global))`` (the scan's convention).

        ``None`` when no toy reached z_local (p_global = 0: Z is above what the toys resolve).
        """
        if self.p_global <= 0:
            return None
        return max(0.0, float(stats.norm.isf(self.p_global)))


def _clopper_pearson(k: int, n: int, cl: float = 0.6827) -> tuple[float, float]:
    alpha = 1 - cl
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def global_significance(
    max_z: NDArray[np.float64],
    z_local: float,
    *,
    window: int = -1,
    argmax: NDArray[np.int64] | None = None,
    euler: NDArray[np.int64] | None = None,
    thresholds: Sequence[float] = (),
) -> LeeResult:
    """Global p, Z, trials factor (and Gross-Vitells) from the toys' largest local Z.

    Example:
        >>> r = global_significance(np.array([0.5, 1.5, 2.5, 3.5]), 2.0)
        >>> r.p_global, r.n_above, round(r.trials_factor, 2)
        (0.5, 2, 21.98)
    """
    max_z = np.asarray(max_z, dtype=np.float64)
    n = int(max_z.size)
    if n == 0:
        raise InputError(None, "n_toys", "at least one toy")
    k = int(np.count_nonzero(max_z >= z_local))
    p = k / n
    p_local = float(stats.norm.sf(z_local))
    gv = None
    if euler is not None and len(thresholds) and np.asarray(euler).size:
        gv = fit_gross_vitells(thresholds, euler, z_local)
    return LeeResult(
        n_toys=n,
        z_local=float(z_local),
        window=int(window),
        p_local=p_local,
        n_above=k,
        p_global=p,
        p_global_error=math.sqrt(p * (1 - p) / n),
        p_global_interval=_clopper_pearson(k, n),
        trials_factor=p / p_local if p_local > 0 else math.inf,
        max_z=max_z,
        argmax=np.full(n, -1, dtype=np.int64) if argmax is None else np.asarray(argmax),
        gross_vitells=gv,
    )


def p_global_independent(p_local: NDArray[np.float64]) -> float:
    """``1 - prod_w (1 - p_w)``: the global p of independent windows (the reference for tests)."""
    return float(-np.expm1(np.sum(np.log1p(-np.asarray(p_local, dtype=np.float64)))))


def summarise(
    results: Mapping[int, BatchResult],
    *,
    n_toys: int,
    batch_size: int,
    z_local: float,
    window: int,
    thresholds: Sequence[float],
) -> LeeResult:
    """Combine batch results (all batches of the run, any order) into the global result."""
    n_batches = -(-n_toys // batch_size)
    missing = [i for i in range(n_batches) if i not in results]
    if missing:
        raise InputError(None, "batches", f"all {n_batches} batches", got=f"missing {missing[:5]}")
    ordered = [results[i] for i in range(n_batches)]
    max_z = np.concatenate([r.max_z for r in ordered])
    if max_z.size != n_toys:
        raise InputError(None, "batches", f"{n_toys} toys in total", got=int(max_z.size))
    argmax = np.concatenate([r.argmax for r in ordered])
    euler = np.concatenate([r.euler for r in ordered]).reshape(-1, len(thresholds))
    return global_significance(
        max_z, z_local, window=window, argmax=argmax, euler=euler, thresholds=thresholds
    )
