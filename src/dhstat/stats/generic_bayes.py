"""Bayesian upper limit and Bayes factor of any pyhf workspace with one POI (the generic path).

The nuisance integral uses the prior nodes of :class:`dhstat.stats.generic.GenericModel`
(quadrature, or Monte Carlo batches whose spread is the reported numerical uncertainty). For one bin
the sigma integrals are the closed forms of :mod:`dhstat.stats.single_bin`; for several bins a
composite Gauss-Legendre rule in sigma (flat prior) or ln sigma (log prior) over the posterior's
support (:func:`_numeric_limit`). See :mod:`dhstat.stats.bayes` for the formulae.

Example:
    >>> from dhstat.stats.model import window_spec
    >>> round(upper_limit(window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})).upper_limit, 3)
    2.303
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from dhstat.errors import InputError
from dhstat.stats import _core, priors, single_bin
from dhstat.stats.generic import GenericModel, GenericNodes, Settings
from dhstat.stats.single_bin import Prior

__all__ = ["UpperLimit", "bayes_factor", "upper_limit"]

# the logger of dhstat.stats.bayes, where these functions lived: log records keep their name
log = logging.getLogger("dhstat.stats.bayes")

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class UpperLimit:
    """A Bayesian upper limit on the POI of one workspace.

    Attributes:
        upper_limit: The limit (POI units; fb for window workspaces).
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"``.
        poi: POI name.
        sigma_max: Upper end of the POI prior.
        sigma_min: Lower end of the log prior (``None`` for the flat prior).
        sigma_max_dependent: The flat limit moved by more than the tolerance when sigma_max was
            multiplied by the check factor (always False for the log prior).
        limit_at_check: The flat limit with ``check_factor * sigma_max`` (``None`` for log).
        method: ``"quadrature"`` or ``"monte-carlo"`` (nuisance integration).
        numerical_uncertainty: Monte Carlo standard error of the limit (0 for quadrature).
        n_nodes: Number of prior nodes used.
    """

    upper_limit: float
    cl: float
    prior: str
    poi: str
    sigma_max: float
    sigma_min: float | None
    sigma_max_dependent: bool
    limit_at_check: float | None
    method: str
    numerical_uncertainty: float
    n_nodes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the output of ``dhstat limit --json``)."""
        doc: dict[str, Any] = {
            "upper_limit": self.upper_limit,
            "cl": self.cl,
            "prior": self.prior,
            "poi": self.poi,
            "sigma_max": self.sigma_max,
            "sigma_max_dependent": self.sigma_max_dependent,
            "method": self.method,
            "numerical_uncertainty": self.numerical_uncertainty,
            "n_nodes": self.n_nodes,
            "truncation": priors.TRUNCATION,
        }
        if self.sigma_min is not None:
            doc["sigma_min"] = self.sigma_min
        if self.limit_at_check is not None:
            doc["limit_at_check"] = self.limit_at_check
        return doc


_PANELS = 160
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


def _log_marginal(nodes: GenericNodes, observed: Array, sigma: Array) -> Array:
    """``ln m(sigma)`` for a vector of sigma values (multi-bin generic models)."""
    out = np.empty(sigma.size)
    logw = np.log(np.where(nodes.weight > 0, nodes.weight, 1e-300))
    logw = np.where(nodes.weight > 0, logw, -np.inf)
    step = max(1, 2_000_000 // max(nodes.weight.size * observed.size, 1))
    for start in range(0, sigma.size, step):
        x = sigma[start : start + step]
        mu = nodes.background[None, :, :] + nodes.signal[None, :, :] * x[:, None, None]
        ll = _core.log_pmf(observed[None, None, :], mu).sum(-1) + logw[None, :]
        out[start : start + step] = special.logsumexp(ll, axis=1)
    return out


def _numeric_limit(
    nodes: GenericNodes,
    observed: Array,
    cl: float,
    prior: Prior,
    smin: float,
    smax: float,
) -> tuple[float, float]:
    """(limit, log of the flat marginal integral) by composite Gauss-Legendre over the support."""
    grid = np.concatenate([[0.0], smax * np.logspace(-9, 0, 200)])
    values = _log_marginal(nodes, observed, grid)
    peak = values.max()
    alive = np.flatnonzero(values >= peak - 50.0)
    top = grid[min(alive.max() + 1, grid.size - 1)]
    if prior == "flat":
        lo, hi = 0.0, top
    else:
        lo, hi = math.log(smin), math.log(max(top, smin * 1.000001))

    def integrand(x: Array) -> Array:
        sigma = x if prior == "flat" else np.exp(x)
        value: Array = np.exp(_log_marginal(nodes, observed, sigma) - peak)
        return value

    edges = np.linspace(lo, hi, _PANELS + 1)
    half = 0.5 * np.diff(edges)
    points = (edges[:-1, None] + half[:, None] * (_GL_X[None, :] + 1.0)).ravel()
    panel = (integrand(points).reshape(_PANELS, -1) * _GL_W[None, :]).sum(1) * half
    cumulative = np.concatenate([[0.0], np.cumsum(panel)])
    total = cumulative[-1]
    log_total = math.log(total) + peak if total > 0 else -math.inf
    if total <= 0:
        return math.nan, log_total
    target = cl * total
    i = int(np.clip(np.searchsorted(cumulative, target) - 1, 0, _PANELS - 1))

    def partial(x: float) -> float:
        h = 0.5 * (x - edges[i])
        pts = edges[i] + h * (_GL_X + 1.0)
        return float(cumulative[i] + h * (integrand(pts) * _GL_W).sum() - target)

    root = optimize.brentq(partial, edges[i], edges[i + 1], xtol=1e-14, rtol=1e-12)
    limit = root if prior == "flat" else math.exp(root)
    return float(limit), log_total


def _generic_limit(
    model: GenericModel,
    nodes: GenericNodes,
    cl: float,
    prior: Prior,
    smin: float,
    smax: float,
) -> float:
    if model.n_bins == 1:
        n = model.observed[:1].astype(np.float64)
        s, b, w = nodes.signal.T, nodes.background.T, nodes.weight[None, :]
        if prior == "flat":
            return float(single_bin.flat_limit_nodes(n, s, b, w, cl, np.array([smax]))[0])
        return float(
            single_bin.log_limit_nodes(n, s, b, w, cl, np.array([smin]), np.array([smax]))[0]
        )
    return _numeric_limit(nodes, model.observed, cl, prior, smin, smax)[0]


def _model(workspace: GenericModel | dict[str, Any]) -> GenericModel:
    if isinstance(workspace, GenericModel):
        return workspace
    return GenericModel.from_spec(workspace)


def upper_limit(
    workspace: GenericModel | dict[str, Any],
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float = 0.5,
    settings: Settings | None = None,
) -> UpperLimit:
    """Bayesian upper limit on the POI of any pyhf workspace with one POI.

    Args:
        workspace: A workspace document (dict) or a prepared :class:`GenericModel`.
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"`` (flat in ln POI on [sigma_min, sigma_max]).
        sigma_max: Prior range (default: the POI's upper bound in the workspace).
        sigma_min: Lower end of the log prior.
        settings: Numerical settings (default: :class:`Settings`).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> result = upper_limit(window_spec(n=1, signal=1.0, backgrounds={"b": 0.0}))
        >>> round(result.upper_limit, 2), result.prior, result.sigma_max  # PDG: 3.89
        (3.89, 'flat', 100.0)
    """
    settings = settings or Settings()
    model = _model(workspace)
    if not 0 < cl < 1:
        raise InputError(model.source, "cl", "a credibility level in (0, 1)", got=cl)
    if prior not in ("flat", "log"):
        raise InputError(model.source, "prior", "flat or log", got=prior)
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    if not smax > 0:
        raise InputError(model.source, "sigma_max", "a positive number", got=smax)
    if prior == "log" and not 0 < sigma_min < smax:
        raise InputError(model.source, "sigma_min", "0 < sigma_min < sigma_max", got=sigma_min)
    nodes = model.nodes(settings)
    limit = _generic_limit(model, nodes, cl, prior, sigma_min, smax)
    uncertainty = 0.0
    if nodes.method == "monte-carlo":
        parts = [
            _generic_limit(model, part, cl, prior, sigma_min, smax) for part in nodes.batches()
        ]
        uncertainty = float(np.std(parts, ddof=1) / math.sqrt(len(parts)))
    at_check: float | None = None
    dependent = False
    if prior == "flat":
        at_check = _generic_limit(
            model, nodes, cl, prior, sigma_min, settings.sigma_max_check_factor * smax
        )
        dependent = bool(abs(at_check / limit - 1.0) > settings.sigma_max_tolerance)
        if dependent:
            log.warning(
                "%s: the flat-prior limit depends on sigma_max: %.6g at sigma_max = %g, %.6g at %g",
                model.source,
                limit,
                smax,
                at_check,
                settings.sigma_max_check_factor * smax,
            )
    return UpperLimit(
        upper_limit=float(limit),
        cl=cl,
        prior=prior,
        poi=model.poi,
        sigma_max=smax,
        sigma_min=float(sigma_min) if prior == "log" else None,
        sigma_max_dependent=dependent,
        limit_at_check=at_check,
        method=nodes.method,
        numerical_uncertainty=uncertainty,
        n_nodes=int(nodes.weight.size),
    )


def _generic_log_bayes_factor(model: GenericModel, nodes: GenericNodes, smax: float) -> float:
    if model.n_bins == 1:
        n = model.observed[:1].astype(np.float64)
        return float(
            single_bin.log_bayes_factor_nodes(
                n, nodes.signal.T, nodes.background.T, nodes.weight[None, :], np.array([smax])
            )[0]
        )
    _, log_total = _numeric_limit(nodes, model.observed, 0.5, "flat", 0.0, smax)
    log_m0 = float(_log_marginal(nodes, model.observed, np.zeros(1))[0])
    return log_total - math.log(smax) - log_m0


def bayes_factor(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    settings: Settings | None = None,
) -> tuple[float, float]:
    """Bayes factor B10 of any workspace (flat POI prior on [0, sigma_max]).

    Returns:
        ``(B10, numerical uncertainty)`` (the uncertainty is 0 for quadrature).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> bf, err = bayes_factor(window_spec(n=0, signal=1.0, backgrounds={"b": 1.0}))
        >>> round(bf, 6), err  # (1 - e^-100) / 100
        (0.01, 0.0)
    """
    settings = settings or Settings()
    model = _model(workspace)
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    nodes = model.nodes(settings)
    value = _generic_log_bayes_factor(model, nodes, smax)
    uncertainty = 0.0
    if nodes.method == "monte-carlo":
        parts = [math.exp(_generic_log_bayes_factor(model, p, smax)) for p in nodes.batches()]
        uncertainty = float(np.std(parts, ddof=1) / math.sqrt(len(parts)))
    return (math.exp(value) if value < 700 else math.inf), uncertainty
