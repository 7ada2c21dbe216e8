"""Independent references for the generic path: pyhf's ``logpdf`` only, no dhstat code.

pyhf's ``Model.logpdf(pars, data)`` (main Poisson terms plus the constraint terms at the auxdata) is
the unnormalised log posterior with the constraint terms as priors; free parameters get a flat prior
over their bounds (``-inf`` outside). Negative rates make pyhf's logpdf NaN: read as ``-inf``.

* :func:`grid_reference`: dense tensor grids in the nuisance parameters and in the POI.
* :func:`joint_is_reference`: importance sampling of (POI, nuisances) jointly from one Student-t
  around the joint mode (found with scipy), the limit as the weighted quantile of the POI draws; the
  Bayes factor from the joint evidence and a second importance sampling at POI = 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyhf
from scipy import optimize, special, stats

__all__ = ["grid_reference", "joint_is_reference"]


class _Posterior:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.workspace = pyhf.Workspace(spec)
        self.model = self.workspace.model()
        config = self.model.config
        self.config = config
        self.data = np.asarray(self.workspace.data(self.model), dtype=float)
        self.init = np.asarray(config.suggested_init(), dtype=float)
        fixed = config.suggested_fixed()
        self.bounds = np.asarray(config.suggested_bounds(), dtype=float)
        self.poi = config.poi_index
        self.free = [i for i in range(config.npars) if i != self.poi and not fixed[i]]
        owner = {}
        for name in config.par_order:
            part = config.par_slice(name)
            for i in range(part.start, part.stop):
                owner[i] = name
        self.unconstrained = np.array(
            [not config.param_set(owner[i]).constrained for i in self.free], dtype=bool
        )
        self._models: dict[int, Any] = {}

    def logp(self, sigma: np.ndarray, theta: np.ndarray) -> np.ndarray:
        k = theta.shape[0]
        if k not in self._models:
            self._models[k] = self.workspace.model(batch_size=k)
        pars = np.tile(self.init, (k, 1))
        pars[:, self.free] = theta
        pars[:, self.poi] = sigma
        with np.errstate(all="ignore"):
            value = np.asarray(self._models[k].logpdf(pars, np.tile(self.data, (k, 1))), float)
        value = value.ravel()
        lo, hi = self.bounds[self.free, 0], self.bounds[self.free, 1]
        outside = ((theta < lo) | (theta > hi))[:, self.unconstrained].any(axis=1)
        return np.where(np.isnan(value) | outside, -np.inf, value)


def grid_reference(
    spec: dict[str, Any],
    axes: list[np.ndarray],
    sigma: np.ndarray,
    cl: float = 0.9,
    log_prior: bool = False,
) -> tuple[float, float]:
    """(limit, ln B10) from a dense grid: ``axes`` per free nuisance, ``sigma`` spans [0, sigma_max].

    With ``log_prior`` the POI prior is flat in ln sigma on [sigma[0], sigma[-1]] (ln B10 is then
    not meaningful).
    """
    post = _Posterior(spec)
    mesh = np.meshgrid(*axes, indexing="ij")
    theta = np.stack([g.ravel() for g in mesh], axis=1)
    log_volume = sum(math.log(a[1] - a[0]) for a in axes)
    log_like = np.array(
        [special.logsumexp(post.logp(np.full(theta.shape[0], s), theta)) for s in sigma]
    )
    log_like += log_volume
    f = np.exp(log_like - log_like.max())
    if log_prior:
        f = f / sigma
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(sigma))])
    limit = float(np.interp(cl * cdf[-1], cdf, sigma))
    smax = float(sigma[-1])
    log_b = math.log(cdf[-1]) + log_like.max() - math.log(smax) - log_like[0]
    return limit, float(log_b)


def _gradient(post: _Posterior, x: np.ndarray, fit_sigma: bool, h: float = 1e-5) -> np.ndarray:
    """Central differences; one-sided (second order) for a POI at its lower bound 0."""
    count = x.size
    points = np.tile(x, (2 * count + 2, 1))
    points[np.arange(count), np.arange(count)] += h
    points[count + np.arange(count), np.arange(count)] -= h
    points[2 * count, -1] += 2 * h
    values = _logp_x(post, points, fit_sigma, x)
    with np.errstate(invalid="ignore"):
        grad = (values[:count] - values[count : 2 * count]) / (2 * h)
        if fit_sigma and x[-1] < h:
            grad[-1] = (-3 * values[-1] + 4 * values[count - 1] - values[2 * count]) / (2 * h)
    return np.where(np.isfinite(grad), grad, 0.0)


def _logp_x(post: _Posterior, points: np.ndarray, fit_sigma: bool, x: np.ndarray) -> np.ndarray:
    if fit_sigma:
        sigma = points[:, -1]
        value = post.logp(sigma, points[:, :-1])
        return np.where(sigma >= 0, value, -np.inf)
    return post.logp(np.full(points.shape[0], _SIGMA[0]), points)


_SIGMA = [0.0]


def _mode(post: _Posterior, start: np.ndarray, fit_sigma: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mode and covariance (inverse of the finite-difference Hessian) of ln p."""
    lo = np.where(post.unconstrained, post.bounds[post.free, 0], -np.inf)
    hi = np.where(post.unconstrained, post.bounds[post.free, 1], np.inf)
    bounds = list(zip(lo, hi, strict=True)) + (
        [(0.0, post.bounds[post.poi, 1])] if fit_sigma else []
    )
    bounds = [
        (None if not np.isfinite(a) else a, None if not np.isfinite(b) else b) for a, b in bounds
    ]

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        value = float(_logp_x(post, x[None, :], fit_sigma, x)[0])
        if not np.isfinite(value):
            return 1e300, np.zeros_like(x)
        return -value, -_gradient(post, x, fit_sigma)

    found = optimize.minimize(
        f,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
    )
    x = found.x
    count = x.size
    h = 1e-4
    hess = np.empty((count, count))
    for j in range(count):
        e = np.zeros(count)
        e[j] = h
        if fit_sigma and j == count - 1 and x[-1] < h:  # forward difference at the bound
            hess[j] = (_gradient(post, x + e, fit_sigma) - _gradient(post, x, fit_sigma)) / h
        else:
            hess[j] = (_gradient(post, x + e, fit_sigma) - _gradient(post, x - e, fit_sigma)) / (
                2 * h
            )
    hess = -0.5 * (hess + hess.T)
    w, v = np.linalg.eigh(hess)
    w = np.maximum(w, 1e-6 * w.max())
    return x, (v / w) @ v.T


def _t_sample(
    mean: np.ndarray, cov: np.ndarray, draws: int, rng: np.random.Generator, df: float
) -> tuple[np.ndarray, np.ndarray]:
    dist = stats.multivariate_t(loc=mean, shape=cov, df=df)
    x = dist.rvs(size=draws, random_state=rng).reshape(draws, -1)
    return x, dist.logpdf(x)


def joint_is_reference(
    spec: dict[str, Any], draws: int = 200_000, seed: int = 1, cl: float = 0.9, df: float = 10.0
) -> tuple[float, float, float, float]:
    """(limit, its MC error, ln B10, its MC error) by joint importance sampling."""
    post = _Posterior(spec)
    rng = np.random.default_rng(seed)
    start = np.append(post.init[post.free], 0.5)
    x, cov = _mode(post, start, True)
    smax = float(post.bounds[post.poi, 1])
    sample, log_q = _t_sample(x, cov * 1.3**2, draws, rng, df)
    logp = np.full(draws, -np.inf)
    keep = (sample[:, -1] >= 0) & (sample[:, -1] <= smax)
    for chunk in np.array_split(np.flatnonzero(keep), max(1, keep.sum() // 20000)):
        logp[chunk] = _logp_x(post, sample[chunk], True, x)
    log_w = logp - log_q
    w = np.exp(log_w - log_w.max())
    order = np.argsort(sample[:, -1])
    cdf = np.cumsum(w[order]) / w.sum()
    limit = float(sample[order, -1][np.searchsorted(cdf, cl)])
    # error of the weighted quantile: delta method over 20 batches
    parts = []
    for b in range(20):
        sel = order[(order % 20) == b]
        c = np.cumsum(w[sel]) / w[sel].sum()
        parts.append(float(sample[sel, -1][np.searchsorted(c, cl)]))
    limit_error = float(np.std(parts, ddof=1) / math.sqrt(20))
    log_z1 = special.logsumexp(log_w) - math.log(draws)
    _SIGMA[0] = 0.0
    x0, cov0 = _mode(post, post.init[post.free], False)
    sample0, log_q0 = _t_sample(x0, cov0 * 1.3**2, draws, rng, df)
    logp0 = np.concatenate(
        [_logp_x(post, c, False, x0) for c in np.array_split(sample0, max(1, draws // 20000))]
    )
    log_w0 = logp0 - log_q0
    log_z0 = special.logsumexp(log_w0) - math.log(draws)
    log_b = float(log_z1 - math.log(smax) - log_z0)

    def rel_error(lw: np.ndarray) -> float:
        w = np.exp(lw - lw.max())
        return float(np.std(w) / (w.mean() * math.sqrt(lw.size)))

    return limit, limit_error, log_b, math.hypot(rel_error(log_w), rel_error(log_w0))
