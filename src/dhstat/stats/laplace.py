"""Posterior mode and curvature of a generic model's nuisance parameters (Laplace approximation).

The unnormalised log posterior of the nuisance parameters theta at a POI value sigma is

    ln p(theta | n, sigma) = sum_i [n_i ln nu_i - nu_i] + sum_j ln pi_j(theta_j),
    nu_i = B_i(theta) + sigma S_i(theta),

with the priors pi_j of :class:`dhstat.stats.priors.Prior` (constraint terms; flat for free
parameters). It is zero where a rate is negative or a parameter outside its prior's support (the
zero-truncation of :data:`dhstat.stats.priors.TRUNCATION`).

:class:`Evaluator` gives S and B per bin for a batch of parameter points with pyhf's numpy
backend, building one ``pyhf.Model`` per batch size (never in a loop). :func:`fit` finds the mode by
Gauss-Newton steps: the Jacobian of S and B by central differences in one batched call of 2N + 1
points, the Hessian ``J^T diag(n / nu^2) J`` plus the priors' curvature, and a line search over
several step lengths in one more batched call. ``sigma`` may itself be fitted (flat prior on
[0, sigma_max]), which gives the joint mode and the POI's Laplace width.

Example:
    >>> from dhstat.stats.generic import GenericModel
    >>> from dhstat.stats.model import window_spec
    >>> model = GenericModel.from_spec(window_spec(n=5, signal=1.0, backgrounds={"b": 2.0}))
    >>> result = fit(Evaluator(model), np.array([p.mean for p in model.priors]), sigma=0.0)
    >>> bool(result.converged)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.stats.generic import GenericModel, quiet_pyhf

__all__ = ["Evaluator", "Fit", "fit"]

Array = NDArray[np.float64]

#: Largest batch of one pyhf call (memory: batch x parameters x bins per modifier).
CHUNK = 4096
_STEPS = np.array([1.0, 0.5, 0.25, 0.1, 0.03, 0.01])
_MAX_ITERATIONS = 60


def __dir__() -> list[str]:
    return __all__


class Evaluator:
    """S and B per bin at batches of nuisance values, with pyhf models cached by batch size.

    Args:
        model: The prepared generic model.
    """

    def __init__(self, model: GenericModel) -> None:
        self.model = model
        self.priors = model.priors
        self.n = model.observed
        self._models: dict[int, Any] = {}
        self._workspace: Any = None
        self._mask: Array | None = None
        self._columns = np.asarray(model.parameter_index, dtype=np.int64)
        self._base = model.init
        self.lower = np.array([p.lower for p in model.priors], dtype=np.float64)
        self.upper = np.array([p.upper for p in model.priors], dtype=np.float64)
        self.calls = 0

    def _pyhf(self, size: int) -> Any:
        import pyhf  # local import: start-up time

        size = max(size, 1)
        if size not in self._models:
            with quiet_pyhf():
                if self._workspace is None:
                    self._workspace = pyhf.Workspace(dict(self.model.spec))
                # checked by GenericModel.from_spec: no schema validation per batch size
                self._models[size] = self._workspace.model(batch_size=size, validate=False)
        return self._models[size]

    def _poi_mask(self) -> Array:
        """1 where a (sample, bin) of pyhf's by-sample yields carries the POI, shape (samples, bins)."""
        if self._mask is None:
            config = self._pyhf(1).config
            mask = np.zeros((len(config.samples), self.model.n_bins))
            for channel in self.model.spec["channels"]:
                where = config.channel_slices[channel["name"]]
                for sample in channel["samples"]:
                    names = {m["name"] for m in sample["modifiers"]}
                    if self.model.poi in names:
                        mask[config.samples.index(sample["name"]), where] = 1.0
            self._mask = mask
        return self._mask

    def rates(self, theta: Array) -> tuple[Array, Array]:
        """(S, B) of shape (k, bins) at nuisance values ``theta`` of shape (k, N).

        One pyhf evaluation per point, at POI 1, by sample: the samples that carry the POI (a
        normfactor, so linear in it) give S, the others B.
        """
        k = theta.shape[0]
        mask = self._poi_mask()
        signal = np.empty((k, self.model.n_bins))
        background = np.empty((k, self.model.n_bins))
        for start in range(0, k, CHUNK):
            block = theta[start : start + CHUNK]
            size = block.shape[0]
            # small batches get their own model; the last block of a big one is padded
            width = size if k <= CHUNK else CHUNK
            pars = np.tile(self._base, (width, 1))
            pars[:size, self._columns] = block
            pars[:, self.model.poi_index] = 1.0
            with np.errstate(all="ignore"):
                out = self._pyhf(width).main_model.expected_data(pars, return_by_sample=True)
                values = np.asarray(out, dtype=np.float64).reshape(width, mask.shape[0], -1)
            self.calls += 1
            # where a modifier overflows (inf), the other kind of sample must not get inf * 0
            kept = values[:size]
            carries = mask[None, :, :] > 0
            signal[start : start + size] = np.where(carries, kept, 0.0).sum(axis=1)
            background[start : start + size] = np.where(carries, 0.0, kept).sum(axis=1)
        return signal, background

    def log_prior(self, theta: Array) -> Array:
        """Sum of the priors' log densities, shape (k,)."""
        total = np.zeros(theta.shape[0])
        for j, prior in enumerate(self.priors):
            total += prior.log_density(theta[:, j])
        return total

    def prior_curvature(self, theta: Array) -> tuple[Array, Array]:
        """Gradient and minus the second derivative of the log prior at one point, each (N,)."""
        grad = np.zeros(theta.size)
        curv = np.zeros(theta.size)
        for j, prior in enumerate(self.priors):
            x = theta[j]
            if prior.kind == "normal":
                grad[j] = -(x - prior.mean) / prior.width**2
                curv[j] = 1.0 / prior.width**2
            elif prior.kind == "gamma":
                x = max(x, 1e-12)
                grad[j] = prior.tau / x - prior.tau
                curv[j] = prior.tau / x**2
        return grad, curv

    def log_posterior(
        self, theta: Array, sigma: Array | float, signal: Array, background: Array
    ) -> Array:
        """``ln p`` (unnormalised) at points with their S and B, ``-inf`` where truncated."""
        nu = background + np.reshape(sigma, (-1, 1)) * signal
        with np.errstate(all="ignore"):
            ll = (np.where(self.n > 0, self.n * np.log(nu), 0.0) - nu).sum(axis=1)
        allowed = (signal >= 0).all(axis=1) & (background >= 0).all(axis=1)
        value = np.where(allowed & np.isfinite(ll), ll, -np.inf) + self.log_prior(theta)
        out: Array = np.where(np.isnan(value), -np.inf, value)
        return out

    def clip(self, theta: Array) -> Array:
        """Points moved just inside the priors' supports."""
        span = np.where(np.isfinite(self.upper - self.lower), self.upper - self.lower, 1.0)
        low = self.lower + 1e-9 * span
        high = self.upper - 1e-9 * span
        return np.clip(theta, low, high)


@dataclass(frozen=True, slots=True)
class Fit:
    """The mode of the posterior and its curvature.

    Attributes:
        theta: Nuisance values at the mode, shape (N,).
        sigma: POI at the mode (the given one unless fitted).
        hessian: Minus the Hessian of ``ln p`` in (theta) or (theta, sigma), shape (N[+1], N[+1]).
        log_posterior: ``ln p`` at the mode.
        converged: Whether the last step changed ``ln p`` by less than 1e-9.
        gradient: Gradient of ``ln p`` at the mode, shape (N[+1],): zero inside the allowed
            region, large where the mode sits on a bound (a free parameter at its limit).
    """

    theta: Array
    sigma: float
    hessian: Array
    log_posterior: float
    converged: bool
    gradient: Array | None = None


def _step_sizes(evaluator: Evaluator, theta: Array) -> Array:
    """Finite-difference steps: 1e-4 of each prior's width, kept inside the support."""
    width = np.array([p.width for p in evaluator.priors], dtype=np.float64)
    h = 1e-4 * np.where(np.isfinite(width) & (width > 0), width, 1.0)
    room = np.minimum(theta - evaluator.lower, evaluator.upper - theta)
    return np.maximum(np.minimum(h, 0.5 * room), 1e-10 * np.maximum(np.abs(theta), 1.0))


def _jacobian(evaluator: Evaluator, theta: Array) -> tuple[Array, Array, Array, Array]:
    """S, B at theta and their Jacobians (bins, N) by central differences (one batched call)."""
    count = theta.size
    h = _step_sizes(evaluator, theta)
    points = np.tile(theta, (2 * count + 1, 1))
    index = np.arange(count)
    points[1 + 2 * index, index] += h
    points[2 + 2 * index, index] -= h
    signal, background = evaluator.rates(points)
    # a modifier far out (normsys pulled by a huge count) can overflow at theta +- h: such a
    # derivative is set to 0 below, and the step is then the priors' (the mode is never there)
    with np.errstate(invalid="ignore", over="ignore"):
        js = ((signal[1::2] - signal[2::2]) / (2 * h[:, None])).T
        jb = ((background[1::2] - background[2::2]) / (2 * h[:, None])).T
    js = np.where(np.isfinite(js), js, 0.0)
    jb = np.where(np.isfinite(jb), jb, 0.0)
    return signal[0], background[0], js, jb


def _newton(
    evaluator: Evaluator,
    theta: Array,
    sigma: float,
    fit_sigma: bool,
    sigma_max: float,
) -> tuple[Array, Array, Array]:
    """Gradient, Hessian (of -ln p, regularised) and S at one point (theta[, sigma])."""
    s, b, js, jb = _jacobian(evaluator, theta)
    nu = np.maximum(b + sigma * s, 1e-300)
    n = evaluator.n
    jac = jb + sigma * js
    if fit_sigma:
        jac = np.concatenate([jac, s[:, None]], axis=1)
    grad_prior, curv_prior = evaluator.prior_curvature(theta)
    if fit_sigma:
        grad_prior = np.append(grad_prior, 0.0)
        curv_prior = np.append(curv_prior, 0.0)
    # rates far below the largest one are floored so that n / nu and its square stay finite
    tiny = 1e-12 * (1.0 + float(np.max(nu)))
    floored = np.maximum(nu, tiny)
    grad = jac.T @ (n / floored - 1.0) + grad_prior
    # empty bins still bend the posterior (1 / nu at n ~ nu)
    weight = np.maximum(n, 0.5) / floored / floored  # no overflow of floored**2 (nu > 1e154)
    hess = (jac.T * weight) @ jac + np.diag(curv_prior)
    span = (
        np.append(evaluator.upper - evaluator.lower, sigma_max)
        if fit_sigma
        else (evaluator.upper - evaluator.lower)
    )
    with np.errstate(divide="ignore", over="ignore"):  # tiny spans: a huge (capped) curvature
        inverse = 1.0 / np.where(np.isfinite(span), span, 1.0)
    floor = np.where(np.isfinite(span), np.minimum(inverse, 1e150) ** 2, 1e-12)
    hess += np.diag(floor)
    return grad, hess, s


def _projected_step(
    evaluator: Evaluator,
    full: Array,
    grad: Array,
    hess: Array,
    fit_sigma: bool,
    sigma_max: float,
) -> Array:
    """The Newton step with the coordinates pinned at a bound (gradient pointing out) held.

    A huge count can push a free parameter to its bound while another one (a staterror)
    must still move far: the full Newton step, projected by clipping afterwards, would mix
    the two (their effects on the rates are nearly collinear) and gain nothing.
    """
    lower = np.append(evaluator.lower, 0.0) if fit_sigma else evaluator.lower
    upper = np.append(evaluator.upper, sigma_max) if fit_sigma else evaluator.upper
    span = np.where(np.isfinite(upper - lower), upper - lower, 1.0)
    pinned = ((full <= lower + 1e-8 * span) & (grad < 0)) | (
        (full >= upper - 1e-8 * span) & (grad > 0)
    )
    free = np.flatnonzero(~pinned)
    step = np.zeros_like(grad)
    if not free.size:
        return step
    reduced = hess[np.ix_(free, free)]
    try:
        step[free] = np.linalg.solve(reduced, grad[free])
    except np.linalg.LinAlgError:
        step[free] = grad[free] / np.maximum(np.diag(reduced), 1e-12)
    return step


def fit(
    evaluator: Evaluator,
    start: Array,
    *,
    sigma: float,
    fit_sigma: bool = False,
    sigma_max: float = math.inf,
    tolerance: float = 1e-9,
    max_iterations: int = _MAX_ITERATIONS,
) -> Fit:
    """The posterior mode in theta at ``sigma`` (or in (theta, sigma) on [0, sigma_max]).

    Args:
        evaluator: Rates of the model.
        start: Starting nuisance values, shape (N,).
        sigma: The POI (the start value when ``fit_sigma``).
        fit_sigma: Also fit the POI (flat prior on [0, sigma_max]).
        sigma_max: Upper end of the POI range when fitted.
        tolerance: Stop when a step gains less than this in ``ln p``.
        max_iterations: Largest number of Gauss-Newton steps.
    """
    theta = evaluator.clip(np.asarray(start, dtype=np.float64).copy())
    s0, b0 = evaluator.rates(theta[None, :])
    current = float(evaluator.log_posterior(theta[None, :], sigma, s0, b0)[0])
    if not math.isfinite(current):  # a start where a rate overflows: from the priors' means
        theta = evaluator.clip(np.array([p.mean for p in evaluator.priors], dtype=np.float64))
        s0, b0 = evaluator.rates(theta[None, :])
        current = float(evaluator.log_posterior(theta[None, :], sigma, s0, b0)[0])
    converged = False
    hess = np.eye(theta.size + int(fit_sigma))
    grad = np.zeros(theta.size + int(fit_sigma))
    for _ in range(max_iterations):
        grad, hess, _s = _newton(evaluator, theta, sigma, fit_sigma, sigma_max)
        full = np.append(theta, sigma) if fit_sigma else theta
        step = _projected_step(evaluator, full, grad, hess, fit_sigma, sigma_max)
        trial = full[None, :] + _STEPS[:, None] * step[None, :]
        if fit_sigma:
            trial[:, -1] = np.clip(trial[:, -1], 0.0, sigma_max)
            thetas, sigmas = evaluator.clip(trial[:, :-1]), trial[:, -1]
        else:
            thetas, sigmas = evaluator.clip(trial), np.full(trial.shape[0], sigma)
        s, b = evaluator.rates(thetas)
        values = evaluator.log_posterior(thetas, sigmas, s, b)
        best = int(np.argmax(values))
        if not values[best] > current:
            converged = True
            break
        gain = float(values[best]) - current
        theta, sigma, current = thetas[best], float(sigmas[best]), float(values[best])
        if gain < tolerance:
            converged = True
            break
    if converged:
        grad, hess, _s = _newton(evaluator, theta, sigma, fit_sigma, sigma_max)
    return Fit(
        theta=theta,
        sigma=float(sigma),
        hessian=hess,
        log_posterior=current,
        converged=converged,
        gradient=grad,
    )
