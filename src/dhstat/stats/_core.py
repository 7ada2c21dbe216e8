"""Numerical kernels shared by the window path and the generic single-bin path.

All functions work on quadrature nodes of one-bin models: arrays ``n`` (m,), ``signal`` S and
``background`` B (m, k) and normalised weights W (m, k). The POI integrals are done in closed form:

* flat prior: ``J(s) = int_0^s Pois(n | B + S x) dx = [F(n; B) - F(n; B + S s)] / S`` (regularised
  incomplete gamma functions; a Gauss-Legendre rule when S s is small against the Poisson scale);
* log prior: ``int_lo^hi Pois(n | B + S x) / x dx`` by the binomial expansion
  ``Pois(n | B + y) = sum_j Pois(n - j; B) y^j e^-y / j!``, which gives
  ``Pois(n; B) [E1(S lo) - E1(S hi)] + sum_{j>=1} Pois(n - j; B) / j [P(j, S hi) - P(j, S lo)]``
  (all terms positive; terms with negligible ``Pois(n - j; B)`` are dropped).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

__all__ = [
    "fast_pmf",
    "flat_integral",
    "log_density",
    "log_integral",
    "log_pmf",
    "pvalue",
    "solve_increasing",
    "solve_increasing_halley",
    "z_of_p",
]

Array = NDArray[np.float64]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W


def __dir__() -> list[str]:
    return __all__


def log_pmf(n: Array, mu: Array) -> Array:
    """``ln Pois(n; mu)`` (``mu = 0``: 0 for n = 0, -inf otherwise; ``mu = inf``: -inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value: Array = special.xlogy(n, mu) - mu - special.gammaln(n + 1.0)
    return np.where(np.isposinf(mu), -np.inf, value)


def pmf(n: Array, mu: Array) -> Array:
    """``Pois(n; mu)``."""
    value: Array = np.exp(log_pmf(n, mu))
    return value


def fast_pmf(n: Array, mu: Array, log_factorial: Array | None = None) -> Array:
    """``Pois(n; mu)`` as :func:`pmf` (equal to rounding), several times faster on large arrays.

    ``n ln mu`` with numpy's vectorised logarithm instead of ``xlogy``; ``log_factorial`` is
    ``ln n!`` (broadcasting like n), passed when it is already known.

    Example:
        >>> bool(np.allclose(fast_pmf(np.array([0.0, 3.0]), np.array([0.0, 2.5])),
        ...                  pmf(np.array([0.0, 3.0]), np.array([0.0, 2.5])), rtol=1e-14))
        True
    """
    if log_factorial is None:
        log_factorial = special.gammaln(np.asarray(n) + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        power = np.where(n > 0, n * np.log(mu), 0.0)
    value: Array = np.exp(power - mu - log_factorial)
    return value


def pvalue(n: Array, background: Array, weight: Array) -> Array:
    """``sum_k W_k P(X >= n | B_k) / sum_k W_k`` (the hybrid p-value, in [0, 1]).

    ``n`` broadcasts against the nodes (m, k).
    """
    n = np.asarray(n, dtype=np.float64)
    safe = np.where(n > 0, n, 1.0)
    tail = np.where(n > 0, special.gammainc(safe, background), 1.0)
    # quadrature weights sum to 1 only up to rounding: normalise (p(0) = 1 exactly), keep p in [0, 1]
    total = np.asarray(weight).sum(axis=-1)
    value: Array = np.clip((weight * tail).sum(axis=-1) / total, 0.0, 1.0)
    return value


def _scale(n: Array, mu: Array) -> Array:
    value: Array = (mu + 1.0) / np.sqrt((n - mu) ** 2 + n + 1.0)
    return value


def poisson_area(n: Array, low: Array, width: Array) -> Array:
    """``int_low^{low + width} Pois(n; mu) dmu`` for ``width >= 0``, to full relative precision."""
    high = low + width
    a, lo, hi = np.broadcast_arrays(n + 1.0, low, high)
    lower_side = hi <= a
    diff = np.empty(a.shape)
    diff[lower_side] = special.gammainc(a[lower_side], hi[lower_side]) - special.gammainc(
        a[lower_side], lo[lower_side]
    )
    upper = ~lower_side
    diff[upper] = special.gammaincc(a[upper], lo[upper]) - special.gammaincc(a[upper], hi[upper])
    small = width < 0.05 * _scale(n, low)
    if np.any(small):
        nb, lb, wb = np.broadcast_arrays(n, low, width)
        ns, ls, ws = nb[small], lb[small], wb[small]
        mu = ls[:, None] + ws[:, None] * _GL_X
        diff = np.array(diff, dtype=np.float64, copy=True)
        diff[small] = ws * (pmf(ns[:, None], mu) * _GL_W).sum(axis=-1)
    value: Array = np.maximum(diff, 0.0)
    return value


def flat_integral(n: Array, signal: Array, background: Array, sigma: Array) -> Array:
    """``int_0^sigma Pois(n | B + S x) dx`` per node (n, sigma broadcast against (m, k))."""
    width = signal * sigma
    area = poisson_area(n, background, width)
    safe = np.where(signal > 0, signal, 1.0)
    value: Array = np.where(signal > 0, area / safe, sigma * pmf(n, background))
    return value


def log_density(n: Array, signal: Array, background: Array, weight: Array, sigma: Array) -> Array:
    """``ln sum_k W_k Pois(n | B_k + S_k sigma)``; sigma broadcasts as (m,) against (m, k)."""
    terms = np.log(np.where(weight > 0, weight, 1e-300)) + log_pmf(
        n[:, None], background + signal * sigma[:, None]
    )
    terms = np.where(weight > 0, terms, -np.inf)
    value: Array = special.logsumexp(terms, axis=-1)
    return value


def _j_range(n: Array, background: Array) -> tuple[Array, Array]:
    """Range of j (count attributed to signal) with non-negligible ``Pois(n - j; B)``."""
    b_lo = background.min(axis=-1)
    b_hi = background.max(axis=-1)
    k_lo = np.floor(b_lo - 13.0 * np.sqrt(b_lo) - 14.0)
    k_hi = np.ceil(b_hi + 13.0 * np.sqrt(b_hi) + 14.0)
    j_lo = np.clip(n - k_hi, 0, None)
    j_hi = np.clip(n - k_lo, None, n)
    return j_lo, j_hi


def log_integral(n: Array, signal: Array, background: Array, low: Array, high: Array) -> Array:
    """``int_low^high Pois(n | B + S x) / x dx`` per node; low, high of shape (m,).

    Args:
        n: Counts (m,).
        signal: S (m, k).
        background: B (m, k).
        low: Lower ends (m,), > 0.
        high: Upper ends (m,), >= low.
    """
    j_lo, j_hi = _j_range(n, background)
    span = int(np.max(j_hi - j_lo)) + 1 if n.size else 1
    j = j_lo[:, None] + np.arange(span)[None, :]  # (m, J)
    valid = j <= j_hi[:, None]
    jj = np.where(valid, j, 0.0)[:, None, :]  # (m, 1, J)
    nn = n[:, None, None]
    coeff = np.where(
        valid[:, None, :], np.exp(log_pmf(nn - jj, background[..., None])), 0.0
    )  # (m, k, J)
    ylo = (signal * low[:, None])[..., None]
    yhi = (signal * high[:, None])[..., None]
    positive = jj >= 1
    a = np.where(positive, jj, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = (
            np.where(
                yhi <= a,
                special.gammainc(a, yhi) - special.gammainc(a, ylo),
                special.gammaincc(a, ylo) - special.gammaincc(a, yhi),
            )
            / a
        )
        zero_term = np.where(
            signal[..., None] > 0,
            special.exp1(np.where(ylo > 0, ylo, 1.0)) - special.exp1(np.where(yhi > 0, yhi, 1.0)),
            np.log(high / low)[:, None, None],
        )
    terms = np.where(positive, np.maximum(up, 0.0), zero_term)
    value: Array = (coeff * terms).sum(axis=-1)
    return value


def _shrink_bracket(
    xa: Array, residual: Array, lo: Array, hi: Array, active: NDArray[np.intp]
) -> tuple[Array, Array]:
    """The brackets of the ``active`` problems after evaluating them at ``xa`` (updated in place)."""
    below = residual < 0
    la = np.where(below, xa, lo[active])
    ha = np.where(below, hi[active], xa)
    lo[active], hi[active] = la, ha
    return la, ha


def _bisection(la: Array, ha: Array) -> Array:
    """The bracket's middle: geometric when it spans decades, arithmetic otherwise."""
    wide = (la > 0) & (ha > 4.0 * la)
    middle: Array = np.where(wide, np.sqrt(np.maximum(la, 1e-300) * ha), 0.5 * (la + ha))
    return middle


def solve_increasing(
    func: Callable[[Array, NDArray[np.intp]], tuple[Array, Array]],
    target: Array,
    low: Array,
    high: Array,
    start: Array,
    *,
    rtol: float = 1e-12,
    iterations: int = 100,
) -> Array:
    """Solve ``f(x) = target`` for increasing f on [low, high]: safeguarded Newton, vectorised.

    ``func(x, rows)`` returns ``(f(x), f'(x))`` for the problems ``rows`` (indices into ``target``)
    at their points ``x``: only the problems that have not converged yet are evaluated. The bracket
    shrinks at every step; a Newton step that leaves it is replaced by bisection (geometric when the
    bracket spans decades).

    Example:
        >>> square = lambda x, rows: (x * x, 2.0 * x)
        >>> root = solve_increasing(square, np.array([2.0, 9.0]), np.zeros(2), np.full(2, 5.0),
        ...                         np.ones(2))
        >>> np.round(root, 12).tolist()
        [1.414213562373, 3.0]
    """
    lo, hi = low.astype(np.float64).copy(), high.astype(np.float64).copy()
    x = np.clip(start, lo, hi).astype(np.float64)
    active = np.arange(x.size)
    for _ in range(iterations):
        if not active.size:
            break
        xa = x[active]
        value, slope = func(xa, active)
        residual = value - target[active]
        la, ha = _shrink_bracket(xa, residual, lo, hi, active)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = xa - residual / slope
        ok = np.isfinite(newton) & (newton > la) & (newton < ha) & (slope > 0)
        middle = _bisection(la, ha)
        step = np.where(ok, newton, middle)
        change = np.abs(step - xa)
        # Newton converges quadratically: after an accepted step of relative size <= sqrt(rtol) /
        # 10 the next correction would be far below rtol (saves the confirming evaluation)
        converged = (
            (change <= rtol * np.abs(xa))
            | (ok & (change <= 0.1 * math.sqrt(rtol) * np.abs(xa)))
            | (ha - la <= rtol * np.abs(ha))
        )
        x[active] = step
        active = active[~converged]
    return x


def solve_increasing_halley(
    func: Callable[[Array, NDArray[np.intp]], tuple[Array, Array, Array]],
    target: Array,
    low: Array,
    high: Array,
    start: Array,
    *,
    rtol: float = 1e-12,
    iterations: int = 100,
) -> Array:
    """Solve ``f(x) = target`` for increasing f on [low, high]: safeguarded Halley, vectorised.

    As :func:`solve_increasing`, with ``func(x, rows)`` returning ``(f, f', f'')``. Halley's step
    converges cubically; it falls back to Newton's step where its correction is large (far from
    the root) and to bisection where the step leaves the bracket.

    Example:
        >>> square = lambda x, rows: (x * x, 2.0 * x, 2.0 + 0.0 * x)
        >>> root = solve_increasing_halley(square, np.array([2.0, 9.0]), np.zeros(2),
        ...                                np.full(2, 5.0), np.ones(2))
        >>> np.round(root, 12).tolist()
        [1.414213562373, 3.0]
    """
    lo, hi = low.astype(np.float64).copy(), high.astype(np.float64).copy()
    x = np.clip(start, lo, hi).astype(np.float64)
    active = np.arange(x.size)
    for _ in range(iterations):
        if not active.size:
            break
        xa = x[active]
        value, slope, curvature = func(xa, active)
        residual = value - target[active]
        la, ha = _shrink_bracket(xa, residual, lo, hi, active)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = residual / slope
            t = 0.5 * newton * curvature / slope
            step = np.where(np.abs(t) < 0.5, xa - newton / (1.0 - t), xa - newton)
        ok = np.isfinite(step) & (step >= la) & (step <= ha) & (slope > 0)
        middle = _bisection(la, ha)
        step = np.where(ok, step, middle)
        change = np.abs(step - xa)
        # cubic convergence: after an accepted step of relative size <= rtol^(1/3) / 10 the next
        # correction is far below rtol (saves the confirming evaluation)
        converged = (ok & (change <= 0.1 * rtol ** (1.0 / 3.0) * np.abs(xa))) | (
            ha - la <= rtol * np.abs(ha)
        )
        x[active] = step
        active = active[~converged]
    return x


def z_of_p(p: Array) -> Array:
    """One-sided ``Z = max(0, Phi^-1(1 - p))``: 0 for p >= 1/2 (deficits, p = 1), +inf for p = 0.

    p is clipped to [0, 1] first (quadrature weights sum to 1 only up to rounding).
    """
    clipped = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    value: Array = np.maximum(np.asarray(stats.norm.isf(clipped), dtype=np.float64), 0.0)
    return value
