"""Bayesian upper limit and Bayes factor of any pyhf workspace with one POI (the generic path).

The nuisance integral uses the prior nodes of :class:`dhstat.stats.generic.GenericModel`
(quadrature, or Monte Carlo batches whose spread is the reported numerical uncertainty). For one bin
the sigma integrals are the closed forms of :mod:`dhstat.stats.single_bin`; for several bins a
composite Gauss-Legendre rule in sigma (flat prior) or ln sigma (log prior) over the posterior's
support (:func:`dhstat.stats.poi_integral.numeric_limit`); for importance-sampling draws the
tabulated integrals of :class:`dhstat.stats.poi_integral.Curve`. See :mod:`dhstat.stats.bayes` for the formulae.

Example:
    >>> from dhstat.stats.model import window_spec
    >>> round(upper_limit(window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})).upper_limit, 3)
    2.303
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats import generic, marginal, poi_integral, priors, single_bin
from dhstat.stats.generic import GenericModel, GenericNodes, PriorOverride, Settings
from dhstat.stats.single_bin import Prior

__all__ = ["UpperLimit", "bayes_factor", "log_bayes_factor", "upper_limit"]

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
        method: ``"quadrature"`` (prior nodes, single-bin models), ``"posterior-grid"`` (a
            dense grid over the posterior, up to 2 nuisance parameters) or
            ``"importance-sampling"`` (posterior-centred draws, :mod:`dhstat.stats.marginal`).
        numerical_uncertainty: Standard error of the limit over independent batches of draws;
            for the grid the difference from the half-resolution grid (an upper bound); for
            quadrature :func:`dhstat.stats.generic.quadrature_error` (from a rule of twice the
            orders).
        n_nodes: Number of nodes (or draws) used.
        parameters: The prior of every nuisance parameter (``Prior.describe()`` of each).
        fixed: Parameters fixed by the user, name to value.
        effective_sample_size: Importance sampling: the smallest effective sample size of the
            posterior weights at POI 0 and at the limit (``None`` for quadrature).
        proposal_ok: Importance sampling: whether that size reached the required minimum.
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
    parameters: tuple[dict[str, object], ...] = ()
    fixed: dict[str, float] = field(default_factory=dict)
    effective_sample_size: float | None = None
    proposal_ok: bool = True

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
            "parameters": [dict(p) for p in self.parameters],
            "fixed": dict(self.fixed),
            "proposal_ok": self.proposal_ok,
        }
        if self.effective_sample_size is not None:
            doc["effective_sample_size"] = self.effective_sample_size
        if self.sigma_min is not None:
            doc["sigma_min"] = self.sigma_min
        if self.limit_at_check is not None:
            doc["limit_at_check"] = self.limit_at_check
        return doc


#: ``ln`` of the largest float: a larger ``ln B10`` cannot be given as a number.
_LOG_MAX = math.log(np.finfo(np.float64).max)


@dataclass(frozen=True, slots=True)
class _Integration:
    """The nodes of the nuisance integral and the observed counts of the bins they keep."""

    nodes: GenericNodes
    observed: Array
    source: str
    posterior: marginal.Posterior | None = None

    def curve(
        self, low: float, high: float, log: bool
    ) -> tuple[poi_integral.Curve, poi_integral.Support]:
        """The likelihood table of the draws over the posterior's support in [low, high]."""
        support = poi_integral.support(
            _subset(self.nodes), self.observed, low, high, log, self.source
        )
        log_weight = self.nodes.log_weights()
        curve = poi_integral.Curve.build(
            self.nodes.signal,
            self.nodes.background,
            log_weight,
            self.observed,
            support.bulk,
            support.span,
            batch=self.nodes.batch,
            log=log,
        )
        return curve, support


def _subset(nodes: GenericNodes) -> GenericNodes:
    """At most :data:`_SUPPORT_DRAWS` draws (evenly spread): enough to locate the posterior."""
    log_weight = nodes.log_weights()
    counted = np.flatnonzero(np.isfinite(log_weight))  # evenly spread over the draws that count
    step = max(counted.size // _SUPPORT_DRAWS, 1)
    if step == 1 and counted.size == log_weight.size:
        return nodes
    pick = counted[::step]
    log_kept = log_weight[pick] - float(log_weight[pick].max())
    weight = np.exp(log_kept)
    total = float(weight.sum())  # >= 1: the largest weight is 1
    return GenericNodes(
        nodes.signal[pick],
        nodes.background[pick],
        weight / total,
        nodes.batch[pick],
        nodes.method,
        nodes.orders,
        log_kept - math.log(total),
    )


#: Largest sigma_max of the one-bin closed-form limits (beyond, the integral in log space).
_CLOSED_FORM_SIGMA_MAX = 1e150
#: Draws used to locate the posterior's support in the POI.
_SUPPORT_DRAWS = 2000
#: Smallest effective sample size accepted before the draws are doubled.
_MIN_ESS = 400.0


def _integration(
    model: GenericModel, settings: Settings, smax: float, samples: int | None = None
) -> _Integration:
    if model.quadrature_exact(settings):
        return _Integration(model.nodes(settings), model.observed, model.source)
    posterior = marginal.posterior_nodes(model, settings, sigma_max=smax, samples=samples)
    return _Integration(posterior.nodes, posterior.observed, model.source, posterior)


def _refined(model: GenericModel, settings: Settings) -> _Integration:
    """The prior nodes of the check rule (:func:`dhstat.stats.generic.refined`)."""
    return _Integration(model.nodes(generic.refined(settings)), model.observed, model.source)


def _generic_limit(work: _Integration, cl: float, prior: Prior, smin: float, smax: float) -> float:
    nodes, observed = work.nodes, work.observed
    if observed.size == 1:
        n = observed[:1].astype(np.float64)
        s, b, w = nodes.signal.T, nodes.background.T, nodes.weight[None, :]
        # the closed forms' root finder bisects geometrically: lo * hi overflows above ~1e154
        if smax <= _CLOSED_FORM_SIGMA_MAX and poi_integral.closed_form_usable(n, s, b, w, smax):
            if prior == "flat":
                limit = single_bin.flat_limit_nodes(n, s, b, w, cl, np.array([smax]))[0]
            else:
                limit = single_bin.log_limit_nodes(
                    n, s, b, w, cl, np.array([smin]), np.array([smax])
                )[0]
            if math.isfinite(limit):
                return float(limit)
    return poi_integral.numeric_limit(nodes, observed, cl, prior, smin, smax, work.source)[0]


def _check_sigma_max(model: GenericModel, sigma_max: float | None, factor: float = 1.0) -> float:
    """The POI range: ``sigma_max`` or the workspace's bound; finite and positive (also x factor)."""
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    # a denormal sigma_max is positive but its reciprocal overflows
    if not (sys.float_info.min <= smax and math.isfinite(smax * factor)):
        expected = "a finite positive number (at least 2.2e-308)" + (
            f" (also x {factor:g})" if factor != 1 else ""
        )
        raise InputError(model.source, "sigma_max", expected, got=smax)
    return smax


def _model(
    workspace: GenericModel | dict[str, Any],
    fix: Mapping[str, float] | None = None,
    priors: Mapping[str, PriorOverride] | None = None,
) -> GenericModel:
    if isinstance(workspace, GenericModel):
        return workspace.configure(fix=fix, priors=priors)
    return GenericModel.from_spec(workspace, fix=fix, priors=priors)


def _standard_error(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return math.inf
    return float(np.std(finite, ddof=1) / math.sqrt(len(finite)))


def _ess(work: _Integration, sigmas: tuple[float, ...]) -> float:
    return min(marginal.effective_sample_size(work.nodes, work.observed, s) for s in sigmas)


@dataclass(frozen=True, slots=True)
class _Limit:
    work: _Integration
    limit: float
    error: float
    at_check: float | None
    ess: float | None


def _sampled_limit(
    work: _Integration, cl: float, prior: Prior, smin: float, smax: float, factor: float
) -> _Limit:
    """Limit, its batch standard error and (flat prior) the limit at ``factor * smax``."""
    log = prior == "log"
    curve, support = work.curve(smin if log else 0.0, smax, log)
    limit = curve.limit(cl)
    if work.nodes.method == "posterior-grid":  # the half-resolution grid bounds the error
        coarse = curve.limit(cl, [0])
        # an empty half grid bounds the error only by the range the limit lies in
        error = abs(limit - coarse) if math.isfinite(coarse) else max(limit, smax - limit)
    else:
        error = _standard_error([curve.limit(cl, [b]) for b in range(curve.batches)])
    at_check: float | None = None
    if not log:
        at_check = limit  # the posterior beyond sigma_max is below e^-40 of its peak
        if support.span[1] >= smax * (1.0 - 1e-9):
            wide, _ = work.curve(0.0, factor * smax, log)
            at_check = wide.limit(cl)
    ess = None if work.nodes.method == "posterior-grid" else _ess(work, (0.0, limit))
    return _Limit(work, limit, error, at_check, ess)


def _limit_and_error(
    model: GenericModel, settings: Settings, cl: float, prior: Prior, smin: float, smax: float
) -> _Limit:
    """The limit with its error; draws doubled while the ESS is small or the error above target."""
    samples = settings.is_samples
    factor = settings.sigma_max_check_factor
    while True:
        work = _integration(model, settings, smax, samples)
        if work.posterior is None:
            limit = _generic_limit(work, cl, prior, smin, smax)
            at_check = _generic_limit(work, cl, prior, smin, factor * smax)
            fine = _generic_limit(_refined(model, settings), cl, prior, smin, smax)
            error = generic.quadrature_error(model, limit, fine, settings)
            return _Limit(work, limit, error, at_check if prior == "flat" else None, None)
        result = _sampled_limit(work, cl, prior, smin, smax, factor)
        precise = result.error <= settings.is_target_error * result.limit
        if result.ess is None or 2 * samples > settings.is_max_samples:
            return result
        if result.ess >= _MIN_ESS and precise:
            return result
        samples *= 2


def upper_limit(
    workspace: GenericModel | dict[str, Any],
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float = 0.5,
    settings: Settings | None = None,
    fix: Mapping[str, float] | None = None,
    priors: Mapping[str, PriorOverride] | None = None,
) -> UpperLimit:
    """Bayesian upper limit on the POI of any pyhf workspace with one POI.

    Args:
        workspace: A workspace document (dict) or a prepared :class:`GenericModel`.
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"`` (flat in ln POI on [sigma_min, sigma_max]).
        sigma_max: Prior range (default: the POI's upper bound in the workspace).
        sigma_min: Lower end of the log prior.
        settings: Numerical settings (default: :class:`Settings`).
        fix: Parameters to fix, name to value (see :meth:`GenericModel.from_spec`).
        priors: Prior overrides, name to ``("normal", mean, width)`` or ``("flat", lo, hi)``.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> result = upper_limit(window_spec(n=1, signal=1.0, backgrounds={"b": 0.0}))
        >>> round(result.upper_limit, 2), result.prior, result.sigma_max  # PDG: 3.89
        (3.89, 'flat', 100.0)
    """
    settings = settings or Settings()
    model = _model(workspace, fix, priors)
    if not 0 < cl < 1:
        raise InputError(model.source, "cl", "a credibility level in (0, 1)", got=cl)
    if prior not in ("flat", "log"):
        raise InputError(model.source, "prior", "flat or log", got=prior)
    smax = _check_sigma_max(model, sigma_max, settings.sigma_max_check_factor)
    if prior == "log" and not 0 < sigma_min < smax:
        raise InputError(model.source, "sigma_min", "0 < sigma_min < sigma_max", got=sigma_min)
    found = _limit_and_error(model, settings, cl, prior, sigma_min, smax)
    work, limit, uncertainty = found.work, found.limit, found.error
    at_check, ess = found.at_check, found.ess
    dependent = False
    if at_check is not None:
        tolerance = max(settings.sigma_max_tolerance, 3 * uncertainty / limit)
        dependent = bool(abs(at_check / limit - 1.0) > tolerance)
        if dependent:
            log.warning(
                "%s: the flat-prior limit depends on sigma_max: %.6g at sigma_max = %g, %.6g at %g",
                model.source,
                limit,
                smax,
                at_check,
                settings.sigma_max_check_factor * smax,
            )
    ok = ess is None or ess >= _MIN_ESS
    if not ok:
        log.warning("%s: importance sampling effective sample size only %.0f", model.source, ess)
    return UpperLimit(
        upper_limit=float(limit),
        cl=cl,
        prior=prior,
        poi=model.poi,
        sigma_max=smax,
        sigma_min=float(sigma_min) if prior == "log" else None,
        sigma_max_dependent=dependent,
        limit_at_check=at_check,
        method=work.nodes.method,
        numerical_uncertainty=uncertainty,
        n_nodes=int(work.nodes.weight.size),
        parameters=tuple(p.describe() for p in model.priors),
        fixed=dict(model.fixed),
        effective_sample_size=ess,
        proposal_ok=ok,
    )


def _generic_log_bayes_factor(work: _Integration, smax: float) -> float:
    nodes, observed = work.nodes, work.observed
    if observed.size == 1:
        n = observed[:1].astype(np.float64)
        s, b, w = nodes.signal.T, nodes.background.T, nodes.weight[None, :]
        if poi_integral.closed_form_usable(n, s, b, w, smax):
            value = float(single_bin.log_bayes_factor_nodes(n, s, b, w, np.array([smax]))[0])
            if math.isfinite(value):
                return value
    _, log_total = poi_integral.numeric_limit(nodes, observed, 0.5, "flat", 0.0, smax, work.source)
    log_m0 = float(poi_integral.log_marginal(nodes, observed, np.zeros(1))[0])
    return log_total - math.log(smax) - log_m0


def _curve_log_bf(curve: poi_integral.Curve, batches: list[int] | None, smax: float) -> float:
    return curve.log_integral(batches) - math.log(smax) - curve.log_m0(batches)


def _log_bayes_factor_and_error(
    model: GenericModel, settings: Settings, smax: float
) -> tuple[float, float]:
    """``ln B10`` and its numerical uncertainty (0 for prior-node quadrature)."""
    samples = settings.is_samples
    while True:
        work = _integration(model, settings, smax, samples)
        if work.posterior is None:
            value = _generic_log_bayes_factor(work, smax)
            fine = _generic_log_bayes_factor(_refined(model, settings), smax)
            return value, generic.quadrature_error(model, value, fine, settings, log=True)
        curve, _ = work.curve(0.0, smax, False)
        value = _curve_log_bf(curve, None, smax)
        if work.nodes.method == "posterior-grid":  # bounded by the half-resolution grid's
            return value, abs(value - _curve_log_bf(curve, [0], smax))
        ess = _ess(work, (0.0, work.posterior.sigma_hat))
        parts = [_curve_log_bf(curve, [b], smax) for b in range(curve.batches)]
        error = _standard_error(parts)
        precise = ess >= _MIN_ESS and error <= settings.is_target_error
        if precise or 2 * samples > settings.is_max_samples:
            return value, error
        samples *= 2


def log_bayes_factor(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    settings: Settings | None = None,
    fix: Mapping[str, float] | None = None,
    priors: Mapping[str, PriorOverride] | None = None,
) -> tuple[float, float]:
    """``ln B10`` of any workspace (flat POI prior on [0, sigma_max]), finite for any valid input.

    The one-bin closed forms are used where m does not underflow; otherwise (and for several bins)
    the integral is taken in log space, so very large counts still give the right ``ln B10``.

    Returns:
        ``(ln B10, numerical uncertainty of ln B10)`` (for quadrature the difference from the
        rule of twice the orders).

    Raises:
        InputError: ``sigma_max`` not finite and positive.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> value, err = log_bayes_factor(window_spec(n=0, signal=1.0, backgrounds={"b": 1.0}))
        >>> round(value, 6), err  # ln((1 - e^-100) / 100)
        (-4.60517, 0.0)
    """
    settings = settings or Settings()
    model = _model(workspace, fix, priors)
    smax = _check_sigma_max(model, sigma_max)
    return _log_bayes_factor_and_error(model, settings, smax)


def bayes_factor(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    settings: Settings | None = None,
    fix: Mapping[str, float] | None = None,
    priors: Mapping[str, PriorOverride] | None = None,
) -> tuple[float, float]:
    """Bayes factor B10 of any workspace (flat POI prior on [0, sigma_max]).

    Returns:
        ``(B10, numerical uncertainty)`` (for quadrature from a rule of twice the orders).

    Raises:
        InputError: ``sigma_max`` not finite and positive, or B10 beyond the largest float (the
            message gives ``ln B10``, which :func:`log_bayes_factor` returns).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> bf, err = bayes_factor(window_spec(n=0, signal=1.0, backgrounds={"b": 1.0}))
        >>> round(bf, 6), err  # (1 - e^-100) / 100
        (0.01, 0.0)
    """
    settings = settings or Settings()
    model = _model(workspace, fix, priors)
    smax = _check_sigma_max(model, sigma_max)
    value, log_error = _log_bayes_factor_and_error(model, settings, smax)
    if not value < _LOG_MAX:
        raise InputError(
            model.source,
            "observations",
            "data whose Bayes factor B10 is below the largest float, 1.8e308 "
            f"(ln B10 = {value:.6g}: the background-only model is excluded beyond that)",
        )
    # the error of B10 from that of ln B10 (the batches' B10 themselves are biased upwards)
    uncertainty = math.exp(value) * log_error
    return math.exp(value), uncertainty
