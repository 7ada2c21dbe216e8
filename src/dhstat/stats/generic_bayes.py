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


#: Gauss-Legendre panels over the posterior's bulk, and over each stretch of the support beyond it.
_PANELS = 96
_TAIL_PANELS = 16
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
#: The support of the POI integrals: where ``ln m`` is within this of its maximum (e^-40 = 4e-18).
_DROP = 40.0
#: Points per decade of the grid that locates the posterior, and the grid's largest size.
_PER_DECADE = 12
_MAX_GRID = 4000
#: Below this integral of m the closed forms of :mod:`~dhstat.stats.single_bin` lose precision
#: (m underflows in linear space): the one-bin path then integrates in log space as well.
_TINY = 1e-250
#: ``ln`` of the largest float: a larger ``ln B10`` cannot be given as a number.
_LOG_MAX = math.log(np.finfo(np.float64).max)


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


def _grid(nodes: GenericNodes, low: float, high: float) -> Array:
    """Points of [low, high] that locate the posterior: ``low``, then geometric up to ``high``.

    The geometric part starts below the smallest POI at which the signal changes any count by
    1e-3 (and below ``1e-9 high``), so a posterior far narrower than the prior range is found.
    """
    s_total = float(nodes.signal.sum(-1).max()) if nodes.signal.size else 0.0
    start = high * 1e-9
    if s_total > 0:
        start = min(start, 1e-3 / s_total)
    start = max(start, low)
    if not start < high:
        return np.array([low, high])
    count = math.ceil(_PER_DECADE * math.log10(high / start)) + 1
    points = np.geomspace(start, high, min(max(count, 50), _MAX_GRID))
    return np.unique(np.concatenate([[low], points, [high]]))


@dataclass(frozen=True, slots=True)
class _Support:
    """Where the POI integrand matters: the bulk around the mode, and the whole support.

    Attributes:
        bulk: (low, high) around the mode where ``ln m`` is within :data:`_DROP` of ``peak``.
        span: (low, high) also holding every other part that matters (further modes, long tails).
        peak: The maximum of ``ln m`` on the range.
    """

    bulk: tuple[float, float]
    span: tuple[float, float]
    peak: float


def _support(
    nodes: GenericNodes, observed: Array, low: float, high: float, log: bool, source: str
) -> _Support:
    """Locate the posterior on [low, high]: grid, refined mode, flanks found by root finding."""

    def f(x: float) -> float:
        return float(_log_marginal(nodes, observed, np.array([x]))[0])

    grid = _grid(nodes, low, high)
    values = _log_marginal(nodes, observed, grid)
    i = int(np.argmax(values))
    mode, peak = float(grid[i]), float(values[i])
    if not math.isfinite(peak):  # e.g. counts in a bin where nothing is expected
        expected = f"counts the model can give for some POI in [{low:g}, {high:g}] (likelihood 0)"
        raise InputError(source, "observations", expected)
    a, b = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, grid.size - 1)])
    if b > a:
        found = optimize.minimize_scalar(
            lambda x: -f(x), bounds=(a, b), method="bounded", options={"xatol": 1e-13 * b}
        )
        if -float(found.fun) > peak:
            mode, peak = float(found.x), -float(found.fun)
    level = peak - _DROP
    below = values < level
    left = np.flatnonzero(below & (grid < mode))
    right = np.flatnonzero(below & (grid > mode))
    lo, hi = low, high
    if left.size:
        j = int(left.max())
        inner = min(float(grid[j + 1]), mode)
        lo = optimize.brentq(lambda x: f(x) - level, float(grid[j]), inner, xtol=1e-14 * inner)
    if right.size:
        j = int(right.min())
        inner = max(float(grid[j - 1]), mode)
        hi = optimize.brentq(lambda x: f(x) - level, inner, float(grid[j]), rtol=1e-13)
    # other parts that matter: further modes, and tails whose width makes up for their height
    mass = values + np.log(np.gradient(np.log(grid) if log else grid))
    width = (math.log(hi / lo) if log else hi - lo) or 1.0
    keep = np.flatnonzero(~below | (mass >= peak + math.log(width) - _DROP))
    if not keep.size:  # a mode far narrower than the grid's spacing: the bulk is all
        return _Support(bulk=(lo, hi), span=(lo, hi), peak=peak)
    span_lo = min(lo, float(grid[max(int(keep.min()) - 1, 0)]))
    span_hi = max(hi, float(grid[min(int(keep.max()) + 1, grid.size - 1)]))
    return _Support(bulk=(lo, hi), span=(span_lo, span_hi), peak=peak)


def _edges(support: _Support, log: bool) -> Array:
    """Panel ends in the integration variable (sigma, or ln sigma for the log prior)."""

    def x(value: float) -> float:
        return math.log(value) if log else value

    (lo, hi), (span_lo, span_hi) = support.bulk, support.span
    parts = [np.linspace(x(lo), x(hi), _PANELS + 1)]
    if span_lo < lo:
        parts.append(np.linspace(x(span_lo), x(lo), _TAIL_PANELS + 1))
    if span_hi > hi:
        parts.append(np.linspace(x(hi), x(span_hi), _TAIL_PANELS + 1))
    return np.unique(np.concatenate(parts))


def _numeric_limit(
    nodes: GenericNodes,
    observed: Array,
    cl: float,
    prior: Prior,
    smin: float,
    smax: float,
    source: str,
) -> tuple[float, float]:
    """(limit, ln of the marginal integral over the prior range), in log space throughout.

    Composite Gauss-Legendre over the posterior's support (:func:`_support`), the integrand scaled
    by its maximum, so any count that passes :func:`dhstat.stats.generic.check_spec` works.
    """
    log = prior == "log"
    support = _support(nodes, observed, smin if log else 0.0, smax, log, source)
    peak = support.peak

    def integrand(x: Array) -> Array:
        sigma = np.exp(x) if log else x
        value: Array = np.exp(_log_marginal(nodes, observed, sigma) - peak)
        return value

    edges = _edges(support, log)
    count = edges.size - 1
    half = 0.5 * np.diff(edges)
    points = (edges[:-1, None] + half[:, None] * (_GL_X[None, :] + 1.0)).ravel()
    panel = (integrand(points).reshape(count, -1) * _GL_W[None, :]).sum(1) * half
    cumulative = np.concatenate([[0.0], np.cumsum(panel)])
    total = cumulative[-1]
    if not total > 0:
        return math.nan, -math.inf
    log_total = math.log(total) + peak
    target = cl * total
    i = int(np.clip(np.searchsorted(cumulative, target) - 1, 0, count - 1))

    def partial(x: float) -> float:
        h = 0.5 * (x - edges[i])
        pts = edges[i] + h * (_GL_X + 1.0)
        return float(cumulative[i] + h * (integrand(pts) * _GL_W).sum() - target)

    root = optimize.brentq(partial, edges[i], edges[i + 1], xtol=1e-14, rtol=1e-12)
    limit = math.exp(root) if log else root
    return float(limit), log_total


def _closed_form_usable(n: Array, s: Array, b: Array, w: Array, smax: float) -> bool:
    """Whether the one-bin closed forms keep their precision: m does not underflow."""
    total = float((w * _core.flat_integral(n[:, None], s, b, np.array([[smax]]))).sum())
    return math.isfinite(total) and total > _TINY


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
        if _closed_form_usable(n, s, b, w, smax):
            if prior == "flat":
                limit = single_bin.flat_limit_nodes(n, s, b, w, cl, np.array([smax]))[0]
            else:
                limit = single_bin.log_limit_nodes(
                    n, s, b, w, cl, np.array([smin]), np.array([smax])
                )[0]
            if math.isfinite(limit):
                return float(limit)
    return _numeric_limit(nodes, model.observed, cl, prior, smin, smax, model.source)[0]


def _check_sigma_max(model: GenericModel, sigma_max: float | None, factor: float = 1.0) -> float:
    """The POI range: ``sigma_max`` or the workspace's bound; finite and positive (also x factor)."""
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    if not (smax > 0 and math.isfinite(smax * factor)):
        expected = "a finite positive number" + (f" (also x {factor:g})" if factor != 1 else "")
        raise InputError(model.source, "sigma_max", expected, got=smax)
    return smax


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
    smax = _check_sigma_max(model, sigma_max, settings.sigma_max_check_factor)
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
        s, b, w = nodes.signal.T, nodes.background.T, nodes.weight[None, :]
        if _closed_form_usable(n, s, b, w, smax):
            value = float(single_bin.log_bayes_factor_nodes(n, s, b, w, np.array([smax]))[0])
            if math.isfinite(value):
                return value
    _, log_total = _numeric_limit(nodes, model.observed, 0.5, "flat", 0.0, smax, model.source)
    log_m0 = float(_log_marginal(nodes, model.observed, np.zeros(1))[0])
    return log_total - math.log(smax) - log_m0


def log_bayes_factor(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    settings: Settings | None = None,
) -> tuple[float, float]:
    """``ln B10`` of any workspace (flat POI prior on [0, sigma_max]), finite for any valid input.

    The one-bin closed forms are used where m does not underflow; otherwise (and for several bins)
    the integral is taken in log space, so very large counts still give the right ``ln B10``.

    Returns:
        ``(ln B10, numerical uncertainty of ln B10)`` (the uncertainty is 0 for quadrature).

    Raises:
        InputError: ``sigma_max`` not finite and positive.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> value, err = log_bayes_factor(window_spec(n=0, signal=1.0, backgrounds={"b": 1.0}))
        >>> round(value, 6), err  # ln((1 - e^-100) / 100)
        (-4.60517, 0.0)
    """
    settings = settings or Settings()
    model = _model(workspace)
    smax = _check_sigma_max(model, sigma_max)
    nodes = model.nodes(settings)
    value = _generic_log_bayes_factor(model, nodes, smax)
    uncertainty = 0.0
    if nodes.method == "monte-carlo":
        parts = [_generic_log_bayes_factor(model, p, smax) for p in nodes.batches()]
        uncertainty = float(np.std(parts, ddof=1) / math.sqrt(len(parts)))
    return value, uncertainty


def bayes_factor(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    settings: Settings | None = None,
) -> tuple[float, float]:
    """Bayes factor B10 of any workspace (flat POI prior on [0, sigma_max]).

    Returns:
        ``(B10, numerical uncertainty)`` (the uncertainty is 0 for quadrature).

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
    model = _model(workspace)
    smax = _check_sigma_max(model, sigma_max)
    nodes = model.nodes(settings)
    value = _generic_log_bayes_factor(model, nodes, smax)
    if not value < _LOG_MAX:
        raise InputError(
            model.source,
            "observations",
            "data whose Bayes factor B10 is below the largest float, 1.8e308 "
            f"(ln B10 = {value:.6g}: the background-only model is excluded beyond that)",
        )
    uncertainty = 0.0
    if nodes.method == "monte-carlo":
        parts = [
            math.exp(min(_generic_log_bayes_factor(model, p, smax), _LOG_MAX))
            for p in nodes.batches()
        ]
        uncertainty = float(np.std(parts, ddof=1) / math.sqrt(len(parts)))
    return math.exp(value), uncertainty
