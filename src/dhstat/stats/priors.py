"""Constraint terms as priors, the zero-truncation convention, and Gauss quadrature rules.

Priors (statistics.md section 1). Every constrained nuisance parameter of a pyhf model gets its
constraint term as its prior:

* ``histosys``, ``normsys`` (auxdata 0, width 1), ``staterror`` and ``lumi`` (auxdata 1, width from
  the model): Gaussian;
* ``shapesys``: Gamma(tau + 1, rate tau), the posterior of its Poisson auxiliary measurement
  ``Pois(tau | gamma tau)`` with a flat prior on gamma (tau = (nominal / uncertainty)^2).

Zero-truncation (:data:`TRUNCATION`). Multiplicative factors (``staterror``, ``lumi``, ``shapesys``)
are non-negative: their Gaussian priors are truncated at zero (handled exactly by truncated-normal
Gauss rules). Additive shifts (``histosys``) may not make an expected rate negative: a point of the
nuisance space gets prior weight zero where, in any bin, the signal yield per unit POI (the samples
that carry the POI) or the total background is < 0. The prior is normalised over the allowed
region, which does not depend on the POI, so the same normalisation enters the numerator and the
denominator of the Bayes factor and every posterior. A rate of exactly zero is allowed (a
background-free window has B = 0).

Quadrature. :func:`normal_rule` gives the Gauss rule of the standard normal truncated to
``z >= lower`` (Gauss-Hermite when the truncation is negligible, otherwise computed by the discretised
Stieltjes procedure and the Golub-Welsch eigenvalue method), :func:`gamma_rule` that of a Gamma prior,
and :func:`order_for` the order needed for a target accuracy.

Example:
    >>> nodes, weights = normal_rule(5)
    >>> round(float(weights.sum()), 12), round(float((weights * nodes**2).sum()), 12)
    (1.0, 1.0)
    >>> nodes, weights = normal_rule(8, lower=0.0)
    >>> round(float((weights * nodes).sum()), 10) == round((2 / 3.141592653589793) ** 0.5, 10)
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

__all__ = [
    "NEGLIGIBLE_TRUNCATION",
    "QUADRATURE_TOLERANCE",
    "TRUNCATION",
    "Prior",
    "gamma_rule",
    "normal_rule",
    "order_for",
    "trapezoid_rule",
    "trapezoid_size",
]


def __dir__() -> list[str]:
    return __all__


#: The zero-truncation convention, recorded in every output of the stats stage.
TRUNCATION = (
    "multiplicative factors (staterror, lumi, shapesys) >= 0; prior weight zero where, in any bin, "
    "the signal yield per unit POI or the total background is < 0; prior normalised over the "
    "allowed region (independent of the POI)"
)

#: Below this prior mass of the truncated region, a Gaussian rule ignores the truncation.
NEGLIGIBLE_TRUNCATION = 1e-12

#: The default target accuracy of the quadrature rules (``[stats] quadrature_tolerance``). The
#: rules' error models are conservative: at 1e-7 the single-bin Z agrees with adaptive integration
#: to 2e-8 and the limits move by at most 4e-7 against 1e-8 (``benchmarks/bench_stats.py``).
QUADRATURE_TOLERANCE = 1e-7

_LOWER_GH = float(special.ndtri(NEGLIGIBLE_TRUNCATION))
_DISCRETE_POINTS = 600


@dataclass(frozen=True, slots=True)
class Prior:
    """The prior of one nuisance parameter.

    Attributes:
        name: Parameter name (pyhf), with ``[i]`` for the i-th component of a vector parameter.
        kind: ``"normal"`` (mean, width, optional lower bound), ``"gamma"`` (shape tau + 1, rate
            tau, stored as ``tau``) or ``"flat"`` (uniform on [lower, upper]: free parameters).
        mean: Mean of the Gaussian (the auxdata), of the Gamma prior, or of the flat prior.
        width: Standard deviation of the Gaussian, of the Gamma or of the flat prior.
        lower: Lower truncation of the parameter (``-inf``: none).
        tau: Gamma prior: the auxiliary count tau (0 for other priors).
        upper: Upper end of the parameter (``inf``: none; finite for flat priors).
    """

    name: str
    kind: Literal["normal", "gamma", "flat"]
    mean: float
    width: float
    lower: float = -math.inf
    tau: float = 0.0
    upper: float = math.inf

    @classmethod
    def flat(cls, name: str, lower: float, upper: float) -> Prior:
        """The flat prior on [lower, upper].

        Example:
            >>> Prior.flat("mu_ttbar", 0.0, 10.0).width == 10.0 / 12**0.5
            True
        """
        return cls(
            name,
            "flat",
            0.5 * (lower + upper),
            (upper - lower) / math.sqrt(12.0),
            lower,
            0.0,
            upper,
        )

    def describe(self) -> dict[str, object]:
        """JSON form: the name, kind and parameters of this prior (``None`` for no bound).

        Example:
            >>> Prior("alpha_x", "normal", 0.0, 1.0).describe()
            {'name': 'alpha_x', 'kind': 'normal', 'mean': 0.0, 'width': 1.0, 'lower': None}
        """
        doc: dict[str, object] = {"name": self.name, "kind": self.kind}
        if self.kind == "normal":
            lower = self.lower if math.isfinite(self.lower) else None
            doc.update(mean=self.mean, width=self.width, lower=lower)
        elif self.kind == "gamma":
            doc.update(shape=self.tau + 1.0, rate=self.tau)
        else:
            doc.update(lower=self.lower, upper=self.upper)
        return doc

    def log_density(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """``ln`` of the unnormalised prior density at ``x`` (``-inf`` outside the support).

        Example:
            >>> Prior.flat("k", 0.0, 2.0).log_density(np.array([1.0, 3.0])).tolist()
            [0.0, -inf]
        """
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "gamma":
                value = special.xlogy(self.tau, x) - self.tau * x
                inside = x > 0
            elif self.kind == "flat":
                value = np.zeros_like(x)
                inside = (x >= self.lower) & (x <= self.upper)
            else:
                value = -0.5 * ((x - self.mean) / self.width) ** 2
                inside = x >= self.lower
        out: NDArray[np.float64] = np.where(inside, value, -np.inf)
        return out

    def rule(self, order: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Gauss nodes (parameter values) and normalised weights of this prior.

        Example:
            >>> x, w = Prior("gamma_stat", "normal", 1.0, 0.5, lower=0.0).rule(6)
            >>> bool((x >= 0).all()), round(float(w.sum()), 12)
            (True, 1.0)
        """
        if self.kind == "gamma":
            return gamma_rule(order, self.tau)
        if self.kind == "flat":
            x, w = _legendre(order)
            half = 0.5 * (self.upper - self.lower)
            return self.lower + half * (x + 1.0), 0.5 * w
        lower = (self.lower - self.mean) / self.width if self.width > 0 else -math.inf
        z, w = normal_rule(order, lower)
        return self.mean + self.width * z, w

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """Draw ``size`` values from this prior (truncated normals by inversion)."""
        if self.kind == "gamma":
            return rng.gamma(self.tau + 1.0, 1.0 / self.tau, size=size)
        if self.kind == "flat":
            return rng.uniform(self.lower, self.upper, size=size)
        if self.width <= 0:
            return np.full(size, self.mean)
        lower = (self.lower - self.mean) / self.width
        lo = special.ndtr(lower) if math.isfinite(lower) else 0.0
        u = lo + (1.0 - lo) * rng.random(size)
        z = special.ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))
        return np.asarray(self.mean + self.width * z, dtype=np.float64)


def order_for(scale: ArrayLike, tolerance: float, max_order: int) -> NDArray[np.int64]:
    """Gauss rule order for an integrand that varies on ``1 / scale`` prior widths.

    ``scale`` is the prior width in units of the integrand's own scale of variation (t). A Gauss rule
    of order n then errs by about ``(t^2 / (2 (1 + t^2)))^n`` (measured on Gaussian-like integrands,
    conservative for t <= 0.7); the smallest n with ``10 x^n <= tolerance`` is returned, between 1
    and ``max_order``. Above ``t = 0.7`` use :func:`trapezoid_rule`.

    Example:
        >>> order_for([0.0, 0.01, 0.6, 5.0], 1e-10, 24).tolist()
        [1, 3, 13, 24]
    """
    t = np.abs(np.asarray(scale, dtype=np.float64))
    x = 0.5 * t * t / (1.0 + t * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.ceil(np.log(tolerance / 10.0) / np.log(np.where(x > 0, x, 1e-300)))
    n = np.where(x >= 0.5, max_order, n)
    return np.clip(n, 1, max_order).astype(np.int64)


#: Above this scale t a coordinate is integrated with the trapezoidal rule.
TRAPEZOID_SCALE = 0.7
_TRAPEZOID_SIZES = (15, 21, 31, 41, 51, 61, 81, 101, 121, 161, 201, 301, 401)


def trapezoid_size(scale: ArrayLike, tolerance: float) -> NDArray[np.int64]:
    """Number of trapezoid nodes on [-L, L] for integrands of scale t (see :func:`trapezoid_rule`).

    The trapezoidal rule of step h errs by about ``exp(-2 pi^2 / ((1 + t^2) h^2))`` for a
    Gaussian-like integrand times the normal density, and the range ``L = sqrt(2 ln(1/tol)) + 1``
    holds all but a fraction ``tol`` of the prior. Sizes are rounded up to a few fixed values.

    Example:
        >>> trapezoid_size([1.0, 3.0], 1e-8).tolist()
        [31, 51]
    """
    t = np.abs(np.asarray(scale, dtype=np.float64))
    half = math.sqrt(2.0 * math.log(1.0 / tolerance)) + 1.0
    step = np.sqrt(2.0 * math.pi**2 / ((1.0 + t * t) * math.log(10.0 / tolerance)))
    need = np.ceil(2.0 * half / step) + 1
    sizes = np.asarray(_TRAPEZOID_SIZES)
    index = np.minimum(np.searchsorted(sizes, need), sizes.size - 1)
    result: NDArray[np.int64] = sizes[index].astype(np.int64)
    return result


def trapezoid_rule(size: int, tolerance: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Trapezoidal rule for the standard normal on [-L, L] with ``size`` nodes (weights sum to 1).

    Example:
        >>> z, w = trapezoid_rule(41, 1e-8)
        >>> round(float((w * z**2).sum()), 8)
        1.0
    """
    return _trapezoid_cached(int(size), float(tolerance))


@functools.cache
def _trapezoid_cached(
    size: int, tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    half = math.sqrt(2.0 * math.log(1.0 / tolerance)) + 1.0
    z = np.linspace(-half, half, size)
    w = np.exp(-0.5 * z * z)
    return z, w / w.sum()


@functools.cache
def _hermite(order: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    z, w = np.polynomial.hermite_e.hermegauss(order)
    return z, w / w.sum()


@functools.cache
def _legendre(points: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss-Legendre rule: numpy's ``leggauss`` algorithm, with scipy's starting nodes.

    ``leggauss`` starts from the eigenvalues of a dense ``points x points`` companion matrix (seconds
    for 600 points when the BLAS threads compete for busy cores); ``roots_legendre`` finds the same
    nodes in O(points^2). The Newton polish and the weights are numpy's.
    """
    legendre = np.polynomial.legendre
    x = special.roots_legendre(points)[0]
    c = np.zeros(points + 1)
    c[-1] = 1.0
    dy = legendre.legval(x, c)
    df = legendre.legval(x, legendre.legder(c))
    x = x - dy / df
    fm = legendre.legval(x, c[1:])
    fm /= np.abs(fm).max()
    df /= np.abs(df).max()
    w = 1.0 / (fm * df)
    w = 0.5 * (w + w[::-1])
    x = 0.5 * (x - x[::-1])
    w *= 2.0 / w.sum()
    return x, w


def _stieltjes(
    x: NDArray[np.float64], w: NDArray[np.float64], order: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss rules of discrete measures (rows of x, w) by Lanczos/Stieltjes + Golub-Welsch."""
    rows = x.shape[0]
    w = w / w.sum(axis=1, keepdims=True)
    alpha = np.zeros((rows, order))
    beta = np.zeros((rows, order))
    q_prev = np.zeros_like(x)
    q = np.ones_like(x)
    b_prev = np.zeros(rows)
    for k in range(order):
        a = (w * x * q * q).sum(axis=1)
        alpha[:, k] = a
        r = (x - a[:, None]) * q - b_prev[:, None] * q_prev
        # one step of re-orthogonalisation keeps the recurrence accurate at high order
        r -= (w * r * q).sum(axis=1)[:, None] * q
        b = np.sqrt((w * r * r).sum(axis=1))
        beta[:, k] = b
        q_prev, q = q, r / np.where(b > 0, b, 1.0)[:, None]
        b_prev = b
    jacobi = np.zeros((rows, order, order))
    index = np.arange(order)
    jacobi[:, index, index] = alpha
    if order > 1:
        jacobi[:, index[:-1], index[1:]] = beta[:, :-1]
        jacobi[:, index[1:], index[:-1]] = beta[:, :-1]
    nodes, vectors = np.linalg.eigh(jacobi)
    weights = vectors[:, 0, :] ** 2
    return nodes, weights / weights.sum(axis=1, keepdims=True)


def normal_rule(
    order: int, lower: ArrayLike = -math.inf
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss rule of the standard normal truncated to ``z >= lower`` (weights sum to 1).

    Args:
        order: Number of nodes.
        lower: Lower truncation (scalar, or an array: one rule per element, shape ``(*lower, order)``).

    Returns:
        ``(nodes, weights)``; for an array ``lower`` both have shape ``lower.shape + (order,)``.

    Example:
        >>> z, w = normal_rule(4, lower=[-50.0, 1.0])
        >>> z.shape, bool((z[1] > 1).all())
        ((2, 4), True)
    """
    lowers = np.asarray(lower, dtype=np.float64)
    flat = np.atleast_1d(lowers).ravel()
    nodes = np.empty((flat.size, order))
    weights = np.empty((flat.size, order))
    gh_z, gh_w = _hermite(order)
    plain = ~(flat > _LOWER_GH)
    nodes[plain] = gh_z
    weights[plain] = gh_w
    cut = np.flatnonzero(~plain)
    if cut.size:
        # one rule per distinct bound (windows share bounds, e.g. one window at several counts)
        a, inverse = np.unique(flat[cut], return_inverse=True)
        top = np.maximum(a, 0.0) + 14.0
        gx, gw = _legendre(_DISCRETE_POINTS)
        half = 0.5 * (top - a)
        x = a[:, None] + half[:, None] * (gx[None, :] + 1.0)
        logw = -0.5 * x * x + np.log(gw[None, :] * half[:, None])
        logw -= logw.max(axis=1, keepdims=True)
        z, w = _stieltjes(x, np.exp(logw), order)
        nodes[cut] = z[inverse.ravel()]
        weights[cut] = w[inverse.ravel()]
    shape = (*lowers.shape, order)
    return nodes.reshape(shape), weights.reshape(shape)


@functools.cache
def _gamma_rule_cached(order: int, tau: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    shape = tau + 1.0
    mean, sd = shape / tau, math.sqrt(shape) / tau
    low = max(0.0, mean - 40.0 * sd)
    high = mean + 60.0 * sd + 40.0 / tau
    gx, gw = _legendre(_DISCRETE_POINTS)
    half = 0.5 * (high - low)
    x = low + half * (gx + 1.0)
    with np.errstate(divide="ignore"):
        logw = special.xlogy(tau, x) - tau * x + np.log(gw * half)
    logw -= logw.max()
    nodes, weights = _stieltjes(x[None, :], np.exp(logw)[None, :], order)
    return nodes[0], weights[0]


def gamma_rule(order: int, tau: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss rule of the Gamma(tau + 1, rate tau) prior of a ``shapesys`` factor.

    Example:
        >>> x, w = gamma_rule(6, 25.0)
        >>> round(float((w * x).sum()), 10) == round(26 / 25, 10)
        True
    """
    return _gamma_rule_cached(int(order), float(tau))
