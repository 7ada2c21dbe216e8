"""Local significance: the hybrid (prior-predictive) p-value and the asymptotic q0 Z.

Hybrid p-value (Cousins-Highland; statistics.md section 2), signal = 0::

    p = integral P(n >= N | B(theta)) pi(theta) dtheta,      Z = max(0, Phi^-1(1 - p))

by deterministic quadrature over the nuisance prior (zero-truncated, :mod:`dhstat.stats.priors`).
p is a probability: always in [0, 1] (p = 1 exactly for N = 0). Z is one-sided, like pyhf's
discovery statistic: a deficit (p >= 1/2, N = 0 included) has Z = 0, never a negative or infinite
value; Z = +inf only when no background can produce N (p = 0). When p is below the smallest
float (a count far above any background), Z comes from ``ln p`` (a tail series), so it stays finite.
The asymptotic method is pyhf's discovery test statistic q0 (Cowan et al., arXiv:1007.1727):
``Z = sqrt(q0)`` (0 for a deficit), ``p = norm.sf(Z)``.

Which hybrid computation a workspace gets (decided before any heavy computation):

* one bin and no free parameters (the windows): exact quadrature over the priors, as above, where
  it is exact (:meth:`~dhstat.stats.generic.GenericModel.quadrature_exact`); otherwise (a count far
  in the tail, a nuisance parameter the data pull far from its prior) the same integral by
  importance sampling that follows the integrand (:func:`dhstat.stats.marginal.prior_draws`: the
  posterior at POI 0 and the priors, a defensive mixture), with its numerical uncertainty; ``ln p``
  is summed in log space, so Z is right also where p underflows;
* several bins, or free parameters (normfactors other than the POI, shapefactors): toys of the
  test statistic ``sum_i n_i ln(1 + s_i / b_i)`` under the background-only prior predictive, with
  their Monte Carlo error and adaptive toy count (:mod:`dhstat.stats.hybrid`, which documents the
  statistic and the treatment of free parameters).

:func:`hybrid_pvalue` is THE p-value function of window sets: the observed p-values of the scan and
the p(n) tables of the look-elsewhere toys are both computed by it.

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=4, signal=1.0, backgrounds={"b": 1.0})])
    >>> from scipy import stats
    >>> bool(abs(hybrid_pvalue(ws, ws.n[:, None])[0, 0] - stats.poisson.sf(3, 1.0)) < 1e-15)
    True
"""

from __future__ import annotations

import logging
import math
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from dhstat.errors import InputError
from dhstat.stats import _core, generic_bayes, hybrid, marginal, priors
from dhstat.stats.generic import GenericModel, Settings, quadrature_error, quiet_pyhf, refined
from dhstat.stats.hybrid import HybridSettings
from dhstat.stats.model import WindowSet

__all__ = [
    "Significance",
    "asymptotic_significance",
    "hybrid_pvalue",
    "significance",
    "z_of_p",
]

Method = Literal["hybrid", "asymptotic"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Significance:
    """Local significance and Bayes factor of one workspace.

    Attributes:
        p_value: Local p-value.
        z: One-sided ``max(0, norm.isf(p_value))`` (+inf only for p = 0).
        bayes_factor: B10 with a flat POI prior on [0, sigma_max] (may be inf).
        sigma_max: Upper end of the POI prior of the Bayes factor.
        method: ``"hybrid"`` or ``"asymptotic"`` (the p-value; the Bayes factor is always
            integrated over the priors).
        poi: POI name.
        integration: How p was obtained: ``"quadrature"`` (exact, one bin),
            ``"importance-sampling"`` (one bin, where quadrature is not exact), ``"toys"``
            (hybrid by toys) or ``"asymptotic"``.
        p_value_uncertainty: Monte Carlo standard error of p (toys, importance sampling); for
            quadrature :func:`dhstat.stats.generic.quadrature_error`; 0 for asymptotic.
        bayes_factor_uncertainty: Numerical standard error of B10 (``B10 x`` that of ln B10).
        log_bayes_factor: ``ln B10`` (finite also where B10 overflows a float).
        z_uncertainty: Monte Carlo error of Z (toys; +inf when no toy exceeds the data).
        z_lower: 95 % lower bound of Z (toys: from the Clopper-Pearson bound of p), else Z.
        toys: Toys used (0 without toys).
        statistic: The toys' test statistic (``None`` without toys).
        reference_poi: ``mu_ref`` of the test statistic (``None`` without toys).
        free_parameters: Free parameters of the model (drawn from their Laplace posterior).
        free_parameter_treatment: How free parameters entered the p-value (``None`` if none).
        log_p_value: ``ln p`` where known without rounding (one bin: finite also where p
            underflows to 0; ``None`` for toys and the asymptotic method).
    """

    p_value: float
    z: float
    bayes_factor: float
    sigma_max: float
    method: str
    poi: str
    integration: str
    p_value_uncertainty: float = 0.0
    bayes_factor_uncertainty: float = 0.0
    log_bayes_factor: float | None = None
    z_uncertainty: float = 0.0
    z_lower: float | None = None
    toys: int = 0
    statistic: str | None = None
    reference_poi: float | None = None
    free_parameters: tuple[str, ...] = ()
    free_parameter_treatment: str | None = None
    log_p_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``dhstat significance --json``); infinities are written as null."""
        return {
            "p_value": self.p_value,
            "log_p_value": self.log_p_value,
            "z": _finite_or_none(self.z),
            "bayes_factor": _finite_or_none(self.bayes_factor),
            "log_bayes_factor": self.log_bayes_factor,
            "sigma_max": self.sigma_max,
            "method": self.method,
            "poi": self.poi,
            "integration": self.integration,
            "p_value_uncertainty": self.p_value_uncertainty,
            "bayes_factor_uncertainty": _finite_or_none(self.bayes_factor_uncertainty),
            "z_uncertainty": _finite_or_none(self.z_uncertainty),
            "z_lower": None if self.z_lower is None else _finite_or_none(self.z_lower),
            "toys": self.toys,
            "statistic": self.statistic,
            "reference_poi": self.reference_poi,
            "free_parameters": list(self.free_parameters),
            "free_parameter_treatment": self.free_parameter_treatment,
            "truncation": priors.TRUNCATION,
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def z_of_p(p: ArrayLike) -> NDArray[np.float64]:
    """One-sided ``Z = max(0, norm.isf(p))`` of p-values (clipped to [0, 1] first).

    Deficits (p >= 1/2) have Z = 0 (like pyhf's q0); p = 0 gives +inf.

    Example:
        >>> z_of_p([1.0, 0.9, 0.5, 0.0013498980316301, 1.0000000000000002]).round(6).tolist()
        [0.0, 0.0, 0.0, 3.0, 0.0]
    """
    return _core.z_of_p(np.asarray(p, dtype=np.float64))


def hybrid_pvalue(windows: WindowSet, n: ArrayLike) -> NDArray[np.float64]:
    """Hybrid p-value ``P(n' >= n)`` of every window for counts ``n``.

    Args:
        windows: The window set (its own quadrature settings are used).
        n: Counts, broadcastable to (W, k) (e.g. ``windows.n[:, None]`` or a table of counts).

    Returns:
        p-values of shape (W, k), in [0, 1] (exactly 1 for n = 0).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 2.0})])
        >>> hybrid_pvalue(ws, [[0, 1]]).round(6).tolist()
        [[1.0, 0.864665]]
    """
    counts = np.asarray(n)
    if counts.ndim < 2:
        counts = counts.reshape(-1, 1) if counts.ndim == 1 else counts.reshape(1, 1)
    counts = np.broadcast_to(counts, (len(windows), counts.shape[-1]))
    if np.any(counts < 0):
        raise InputError(None, "n", "non-negative counts")
    out = np.empty(counts.shape)
    for group in windows.nodes("pvalue"):
        m, k = group.background.shape
        per = max(1, 4_000_000 // max(m * k, 1))
        rows = group.rows
        for start in range(0, counts.shape[1], per):
            cols = slice(start, start + per)
            c = counts[rows, cols].astype(np.float64)
            out[rows, cols] = _core.pvalue(
                c[:, :, None], group.background[:, None, :], group.weight[:, None, :]
            )
    return out


def _log_tail(n: float, background: NDArray[np.float64]) -> NDArray[np.float64]:
    """``ln P(X >= n | b)`` for ``n > b`` where P underflows: ``ln Pois(n; b) + ln sum_j t_j``.

    ``t_j = prod_{i=1..j} b / (n + i)``, summed in log space; beyond 2000 terms a geometric bound
    with ratio ``b / (n + 2001)`` (relative error below 1e-15 when ``b < n / 10``).
    """
    b = np.maximum(background, 1e-300)[:, None]
    j = np.arange(1, 2001, dtype=np.float64)[None, :]
    log_t = np.cumsum(np.log(b) - np.log(n + j), axis=1)
    ratio = b[:, 0] / (n + 2001.0)
    rest = log_t[:, -1] + np.log(ratio) - np.log1p(-np.minimum(ratio, 1 - 1e-16))
    terms = np.concatenate([np.zeros((b.shape[0], 1)), log_t, rest[:, None]], axis=1)
    value: NDArray[np.float64] = _core.log_pmf(np.array(n), b[:, 0]) + special.logsumexp(
        terms, axis=1
    )
    return value


def _quadrature_pvalue(model: GenericModel, settings: Settings) -> tuple[float, float, float]:
    """(p, Z, ln p) of a one-bin model without free parameters, exact by quadrature over the priors."""
    nodes = model.nodes(settings)
    n = float(model.observed[0])
    p = float(_core.pvalue(np.array(n), nodes.background[:, 0], nodes.weight))
    if p > 0 or n == 0:
        return p, float(_core.z_of_p(np.array(p))), math.log(p) if p > 0 else -math.inf
    keep = (nodes.weight > 0) & (nodes.background[:, 0] > 0)
    if not keep.any():  # no background can give n: p = 0 exactly
        return 0.0, math.inf, -math.inf
    logs = _log_tail(n, nodes.background[keep, 0]) + np.log(nodes.weight[keep])
    log_p = float(special.logsumexp(logs))
    return p, float(-special.ndtri_exp(log_p)), log_p


#: Below this ``ln P(X >= n | b)`` the tail series replaces ``gammainc`` (which loses precision
#: in the subnormal range); the series is summed for this many backgrounds at a time.
_LOG_SERIES = math.log(1e-280)
_SERIES_CHUNK = 1000
#: Smallest effective sample size of the p-value's importance weights before the draws double.
_MIN_P_ESS = 400.0


def _log_sf(n: float, background: NDArray[np.float64]) -> NDArray[np.float64]:
    """``ln P(X >= n | b)`` for a count ``n >= 1`` and each background (``-inf`` for b = 0)."""
    with np.errstate(divide="ignore"):
        out = np.log(special.gammainc(n, background))
    far = np.flatnonzero(~(out > _LOG_SERIES) & (background > 0))
    for start in range(0, far.size, _SERIES_CHUNK):
        part = far[start : start + _SERIES_CHUNK]
        out[part] = _log_tail(n, background[part])
    return np.asarray(out, dtype=np.float64)


def _z_of_log_p(log_p: float) -> float:
    """One-sided Z of ``ln p`` (0 for p >= 1/2), also where p underflows."""
    return max(0.0, float(-special.ndtri_exp(min(log_p, 0.0))))


@dataclass(frozen=True, slots=True)
class _SampledP:
    """A p-value by importance sampling, with its numerical uncertainty."""

    p: float
    z: float
    log_p: float
    p_error: float
    z_error: float
    z_lower: float


def _sampled_log_p(draws: marginal.PriorDraws, n: float) -> tuple[float, float, float]:
    """(ln p, relative standard error of p, effective sample size of the p integrand)."""
    terms = draws.log_ratio + _log_sf(n, draws.background[:, 0])
    log_p = float(special.logsumexp(terms) - special.logsumexp(draws.log_ratio))
    parts = []
    for b in range(int(draws.batch.max()) + 1):
        keep = draws.batch == b
        top = special.logsumexp(terms[keep])
        parts.append(float(top - special.logsumexp(draws.log_ratio[keep])))
    rel = np.exp(np.array(parts) - log_p)
    error = float(np.std(rel, ddof=1) / math.sqrt(rel.size))
    u = np.exp(terms - terms.max())
    ess = float(u.sum() ** 2 / (u * u).sum())
    return log_p, error, ess


def _sampled_pvalue(model: GenericModel, settings: Settings) -> _SampledP:
    """The one-bin hybrid p where quadrature is not exact: posterior-following draws.

    The draws are doubled (up to ``is_max_samples``) while the effective sample size of the
    integrand's weights is below :data:`_MIN_P_ESS`. The error of Z is that of ``ln p``
    propagated; ``z_lower`` is Z at p + 1.645 of its standard errors.
    """
    n = float(model.observed[0])
    if n == 0:  # P(X >= 0) = 1 for every background
        return _SampledP(1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    samples = settings.is_samples
    while True:
        draws = marginal.prior_draws(model, settings, samples)
        log_p, rel, ess = _sampled_log_p(draws, n)
        if ess >= _MIN_P_ESS or 2 * samples > settings.is_max_samples:
            break
        samples *= 2
    if not math.isfinite(log_p):  # no draw's background can give n
        return _SampledP(0.0, math.inf, -math.inf, 0.0, math.inf, math.inf)
    z = _z_of_log_p(log_p)
    spread = min(rel, 0.5)
    z_error = 0.5 * abs(
        _z_of_log_p(log_p + math.log1p(-spread)) - _z_of_log_p(log_p + math.log1p(spread))
    )
    if rel >= 0.5:  # the error of ln p is not small: Z is bounded only from below
        z_error = math.inf
    z_lower = _z_of_log_p(log_p + math.log1p(1.645 * rel))
    p = math.exp(log_p)
    return _SampledP(min(p, 1.0), z, log_p, p * rel, z_error, z_lower)


def asymptotic_significance(workspace: GenericModel | dict[str, Any]) -> tuple[float, float]:
    """``(p, Z)`` from pyhf's discovery test statistic q0 (asymptotic formulae).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> p, z = asymptotic_significance(window_spec(n=10, signal=1.0, backgrounds={"b": 3.0}))
        >>> import math
        >>> round(z, 6) == round(math.sqrt(2 * (10 * math.log(10 / 3) - 7)), 6)
        True
    """
    import pyhf  # local import: start-up time

    model = workspace if isinstance(workspace, GenericModel) else GenericModel.from_spec(workspace)
    with quiet_pyhf():
        ws = pyhf.Workspace(dict(model.spec))
        pmodel = ws.model()
        data = ws.data(pmodel)
        bounds = pmodel.config.suggested_bounds()
        # pyhf starts every normfactor at 1, which can lie outside a POI range such as [0, 0.5]
        init = [
            min(max(v, lo), hi)
            for v, (lo, hi) in zip(pmodel.config.suggested_init(), bounds, strict=True)
        ]
        pyhf_log = logging.getLogger("pyhf")  # a failed fit is reported below, in one line
        level = pyhf_log.level
        pyhf_log.setLevel(logging.CRITICAL)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                q0 = float(
                    pyhf.infer.test_statistics.q0(
                        0.0, data, pmodel, init, bounds, pmodel.config.suggested_fixed()
                    )
                )
        except pyhf.exceptions.FailedMinimization:
            expected = "a model pyhf's fit converges on (the asymptotic q0 needs both fits)"
            raise InputError(model.source, "(asymptotic fit)", expected) from None
        finally:
            pyhf_log.setLevel(level)
    z = math.sqrt(max(q0, 0.0))
    return float(stats.norm.sf(z)), z


def _sigma_max(model: GenericModel, sigma_max: float | None) -> float:
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    # a denormal sigma_max is positive but its reciprocal overflows
    if not (sys.float_info.min <= smax < math.inf):
        expected = "a finite positive number (at least the smallest normal float, 2.2e-308)"
        raise InputError(model.source, "sigma_max", expected, got=smax)
    return smax


def _bayes_factor(
    model: GenericModel, smax: float, settings: Settings
) -> tuple[float, float, float]:
    """(B10, its numerical error, ln B10): B10 = inf (and ln B10 finite) beyond the float range."""
    log_bf, log_error = generic_bayes.log_bayes_factor(model, sigma_max=smax, settings=settings)
    if log_bf >= _LOG_MAX:
        return math.inf, math.inf, log_bf
    bf = math.exp(log_bf)
    return bf, bf * log_error, log_bf


_LOG_MAX = math.log(sys.float_info.max)


def _pvalue(
    model: GenericModel,
    method: Method,
    settings: Settings,
    toys: HybridSettings,
    free: tuple[str, ...],
) -> tuple[float, float, str, dict[str, Any]]:
    """(p, Z, integration, the other fields of :class:`Significance` the method sets)."""
    extra: dict[str, Any] = {"free_parameters": free}
    if method == "asymptotic":
        p, z = asymptotic_significance(model)
        return p, z, "asymptotic", extra
    if model.n_bins == 1 and not free and model.quadrature_exact(settings):
        p, z, log_p = _quadrature_pvalue(model, settings)
        extra["log_p_value"] = log_p
        fine = _quadrature_pvalue(model, refined(settings))[0]
        extra["p_value_uncertainty"] = quadrature_error(model, p, fine, settings)
        return p, z, "quadrature", extra
    if model.n_bins == 1 and not free:
        sampled = _sampled_pvalue(model, settings)
        extra.update(
            p_value_uncertainty=sampled.p_error,
            z_uncertainty=sampled.z_error,
            z_lower=sampled.z_lower,
            log_p_value=sampled.log_p,
        )
        return sampled.p, sampled.z, "importance-sampling", extra
    toy = hybrid.hybrid_pvalue(model.spec, source=model.source, settings=toys)
    extra.update(
        p_value_uncertainty=toy.p_value_uncertainty,
        z_uncertainty=toy.z_uncertainty,
        z_lower=toy.z_lower,
        toys=toy.n_toys,
        statistic=toy.statistic,
        reference_poi=toy.reference_poi,
        free_parameter_treatment=toy.free_parameter_treatment,
    )
    return toy.p_value, toy.z, "toys", extra


def significance(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    method: Method = "hybrid",
    settings: Settings | None = None,
    toys: HybridSettings | None = None,
) -> Significance:
    """Local significance and Bayes factor of any pyhf workspace with one POI.

    Everything that can refuse the input (the method, sigma_max, the model, the toy settings) is
    checked before the p-value and the Bayes factor are computed.

    Args:
        workspace: A workspace document (dict) or a prepared :class:`GenericModel`.
        sigma_max: Range of the flat POI prior of the Bayes factor (default: the POI bound).
        method: ``"hybrid"`` (exact quadrature for one bin without free parameters, toys
            otherwise: :mod:`dhstat.stats.hybrid`) or ``"asymptotic"`` (pyhf q0).
        settings: Numerical settings of the Bayes factor (and of the quadrature).
        toys: Settings of the toys (default: :class:`~dhstat.stats.hybrid.HybridSettings`).

    Raises:
        InputError: an unknown method, sigma_max not a finite positive normal float, an invalid
            workspace or toy settings.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> result = significance(window_spec(n=5, signal=1.0, backgrounds={"b": 1.0}))
        >>> from scipy import stats
        >>> bool(abs(result.z - stats.norm.isf(stats.poisson.sf(4, 1.0))) < 1e-10)
        True
    """
    settings = settings or Settings()
    toys = toys or HybridSettings()
    source = workspace.source if isinstance(workspace, GenericModel) else "<workspace>"
    if method not in ("hybrid", "asymptotic"):
        raise InputError(source, "method", "hybrid or asymptotic", got=method)
    model = workspace if isinstance(workspace, GenericModel) else GenericModel.from_spec(workspace)
    smax = _sigma_max(model, sigma_max)
    toys.check(model.source)
    free = hybrid.free_parameters(model.spec)
    p, z, integration, extra = _pvalue(model, method, settings, toys, free)
    bf, bf_error, log_bf = _bayes_factor(model, smax, settings)
    return Significance(
        p_value=p,
        z=z,
        bayes_factor=bf,
        sigma_max=smax,
        method=method,
        poi=model.poi,
        integration=integration,
        z_lower=extra.pop("z_lower", z),
        bayes_factor_uncertainty=bf_error,
        log_bayes_factor=log_bf,
        **extra,
    )
