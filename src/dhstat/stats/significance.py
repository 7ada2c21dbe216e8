"""Local significance: the hybrid (prior-predictive) p-value and the asymptotic q0 Z.

Hybrid p-value (Cousins-Highland; statistics.md section 2), signal = 0::

    p = integral P(n >= N | B(theta)) pi(theta) dtheta,      Z = max(0, Phi^-1(1 - p))

by deterministic quadrature over the nuisance prior (zero-truncated, :mod:`dhstat.stats.priors`).
p is a probability: always in [0, 1] (p = 1 exactly for N = 0). Z is one-sided, like pyhf's
discovery statistic: a deficit (p >= 1/2, N = 0 included) has Z = 0, never a negative or infinite
value; Z = +inf only when no background can produce N (p = 0). The asymptotic method is pyhf's
discovery test statistic q0 (Cowan et al., arXiv:1007.1727): ``Z = sqrt(q0)`` (0 for a deficit),
``p = norm.sf(Z)``.

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

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from dhstat.errors import InputError
from dhstat.stats import _core, generic_bayes, priors
from dhstat.stats.generic import GenericModel, Settings, quiet_pyhf
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
        integration: ``"quadrature"`` or ``"monte-carlo"`` (nuisance integration).
        p_value_uncertainty: Monte Carlo standard error of p (0 for quadrature and asymptotic).
        bayes_factor_uncertainty: Monte Carlo standard error of B10 (0 for quadrature).
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

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``dhstat significance --json``); infinities are written as null."""
        return {
            "p_value": self.p_value,
            "z": _finite_or_none(self.z),
            "bayes_factor": _finite_or_none(self.bayes_factor),
            "sigma_max": self.sigma_max,
            "method": self.method,
            "poi": self.poi,
            "integration": self.integration,
            "p_value_uncertainty": self.p_value_uncertainty,
            "bayes_factor_uncertainty": self.bayes_factor_uncertainty,
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


def _hybrid_generic(model: GenericModel, settings: Settings) -> tuple[float, float, str]:
    nodes = model.nodes(settings)
    n = model.observed
    safe = np.where(n > 0, n, 1.0)
    if model.n_bins == 1:
        p = float(_core.pvalue(n[0], nodes.background[:, 0], nodes.weight))
        uncertainty = 0.0
        if nodes.method == "monte-carlo":
            parts = [
                float(_core.pvalue(n[0], q.background[:, 0], q.weight)) for q in nodes.batches()
            ]
            uncertainty = float(np.std(parts, ddof=1) / math.sqrt(len(parts)))
        return p, uncertainty, nodes.method
    del safe
    raise InputError(
        model.source,
        "channels",
        "a single-bin model for the hybrid p-value (use --method asymptotic for several bins)",
    )


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
        q0 = float(
            pyhf.infer.test_statistics.q0(
                0.0, data, pmodel, init, bounds, pmodel.config.suggested_fixed()
            )
        )
    z = math.sqrt(max(q0, 0.0))
    return float(stats.norm.sf(z)), z


def significance(
    workspace: GenericModel | dict[str, Any],
    *,
    sigma_max: float | None = None,
    method: Method = "hybrid",
    settings: Settings | None = None,
) -> Significance:
    """Local significance and Bayes factor of any pyhf workspace with one POI.

    Args:
        workspace: A workspace document (dict) or a prepared :class:`GenericModel`.
        sigma_max: Range of the flat POI prior of the Bayes factor (default: the POI bound).
        method: ``"hybrid"`` (single-bin models) or ``"asymptotic"`` (pyhf q0).
        settings: Numerical settings.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> result = significance(window_spec(n=5, signal=1.0, backgrounds={"b": 1.0}))
        >>> from scipy import stats
        >>> bool(abs(result.z - stats.norm.isf(stats.poisson.sf(4, 1.0))) < 1e-10)
        True
    """
    settings = settings or Settings()
    model = workspace if isinstance(workspace, GenericModel) else GenericModel.from_spec(workspace)
    if method not in ("hybrid", "asymptotic"):
        raise InputError(model.source, "method", "hybrid or asymptotic", got=method)
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    bf, bf_error = generic_bayes.bayes_factor(model, sigma_max=smax, settings=settings)
    if method == "hybrid":
        p, p_error, integration = _hybrid_generic(model, settings)
        z = float(_core.z_of_p(np.array(p)))
    else:
        p, z = asymptotic_significance(model)
        p_error = 0.0
        integration = model.nodes(settings).method
    return Significance(
        p_value=p,
        z=z,
        bayes_factor=bf,
        sigma_max=smax,
        method=method,
        poi=model.poi,
        integration=integration,
        p_value_uncertainty=p_error,
        bayes_factor_uncertainty=bf_error,
    )
