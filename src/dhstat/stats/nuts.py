"""Bayesian upper limits by sampling the joint posterior with NUTS (numpyro, on pyhf's jax backend).

For large models whose posterior is far from Gaussian, where the importance sampling of
:mod:`dhstat.stats.marginal` can only flag a poor proposal, the joint posterior of (POI, every
other free parameter) is sampled with the No-U-Turn Sampler of numpyro, whose gradients come from
pyhf's jax backend. The target is the one the other engines integrate:

* the main model's Poisson terms with ``nu_i = sigma S_i(theta) + B_i(theta)`` (pyhf's expected
  data at POI 0 and 1), zero where any S_i or B_i is negative (:data:`dhstat.stats.priors.TRUNCATION`);
* the priors of :class:`dhstat.stats.generic.GenericModel` (its ``priors``: constraint terms,
  flat over the bounds for free parameters, user overrides; ``fix`` honoured);
* the POI flat on [0, sigma_max] (or flat in ln POI on [sigma_min, sigma_max]).

NUTS moves on R^n: the model's parameters are mapped (:mod:`dhstat.stats.nuts_target`) by affine
maps (unbounded Gaussian priors), scaled exponentials (parameters bounded below) or logistic maps
(bounded intervals), with the log-Jacobians added to the log density. The limit is the ``cl``
quantile of the POI draws, with the Monte Carlo error of a quantile and the convergence
diagnostics of :mod:`dhstat.stats.chains`. numpyro and jax are the optional dependency
``dhstat[nuts]``; without them :func:`nuts_upper_limit` raises one :class:`InputError`.

Example:
    >>> settings = NutsSettings()
    >>> settings.chains, settings.draws, settings.warmup, settings.max_rhat
    (4, 1000, 500, 1.01)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.parallel import task_rng
from dhstat.stats import chains as diagnostics
from dhstat.stats import nuts_target
from dhstat.stats.generic import GenericModel, PriorOverride, Settings
from dhstat.stats.priors import TRUNCATION

__all__ = ["NUTS_SEED_KEY", "NutsLimit", "NutsSettings", "nuts_upper_limit"]

log = logging.getLogger(__name__)

Array = NDArray[np.float64]

#: Task key of the sampler's random numbers under the config seed (``task_rng(seed, *key)``).
NUTS_SEED_KEY = (0x4E555453,)

#: Fraction of POI draws in the top tenth of [0, sigma_max] above which the limit depends on it.
_EDGE_FRACTION = 1e-3


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class NutsSettings:
    """Settings of the sampler and of the convergence checks.

    Attributes:
        draws: Draws kept per chain.
        warmup: Warm-up (adaptation) iterations per chain, discarded.
        chains: Independent chains (at least 2: the split R-hat compares them).
        target_accept: Target acceptance probability of the step-size adaptation.
        max_tree_depth: Largest tree depth of NUTS (at most 2^depth leapfrog steps per draw).
        dense_mass: Adapt a dense mass matrix (default: diagonal).
        max_rhat: Largest acceptable rank-normalised split R-hat of any parameter.
        min_ess: Smallest acceptable bulk ESS of any parameter and ESS at the limit.

    Example:
        >>> NutsSettings(draws=500).chains
        4
    """

    draws: int = 1000
    warmup: int = 500
    chains: int = 4
    target_accept: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    max_rhat: float = 1.01
    min_ess: float = 400.0

    def check(self, source: str) -> None:
        """Raise :class:`InputError` for settings the sampler cannot use."""
        if not self.draws >= 20:
            raise InputError(source, "draws", "an integer >= 20", got=self.draws)
        if not self.warmup >= 10:
            raise InputError(source, "warmup", "an integer >= 10", got=self.warmup)
        if not self.chains >= 2:
            raise InputError(source, "chains", "an integer >= 2 (R-hat compares chains)")
        if not 0 < self.target_accept < 1:
            raise InputError(source, "target_accept", "a number in (0, 1)", got=self.target_accept)
        if not 1 <= self.max_tree_depth <= 15:
            raise InputError(source, "max_tree_depth", "an integer in [1, 15]")


@dataclass(frozen=True, slots=True)
class NutsLimit:
    """A Bayesian upper limit from NUTS draws of the joint posterior, with its diagnostics.

    Attributes:
        upper_limit: The ``cl`` quantile of the POI's marginal posterior (all chains pooled).
        numerical_uncertainty: Monte Carlo standard error of that quantile (from ``ess_limit``).
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"`` (the POI prior).
        poi: POI name.
        sigma_max: Upper end of the POI prior.
        sigma_min: Lower end of the log prior (``None`` for the flat prior).
        method: ``"nuts"``.
        chains: Number of chains.
        draws: Draws kept per chain.
        warmup: Warm-up iterations per chain.
        seed: The seed the random numbers came from.
        n_parameters: Dimension of the sampled space (POI included).
        rhat: Largest rank-normalised split R-hat over all parameters.
        rhat_poi: That of the POI.
        ess_bulk: Smallest bulk effective sample size over all parameters.
        ess_poi: Bulk effective sample size of the POI.
        ess_limit: Effective sample size of the indicator ``POI <= limit`` (behind the error).
        divergences: Divergent transitions after warm-up (also proposals into the truncated region).
        max_depth_hits: Draws whose trajectory stopped at the largest tree depth.
        problems: What failed the checks (empty: every diagnostic passed).
        parameters: The prior of every nuisance parameter (``Prior.describe()`` of each).
        fixed: Parameters fixed by the user, name to value.
    """

    upper_limit: float
    numerical_uncertainty: float
    cl: float
    prior: str
    poi: str
    sigma_max: float
    sigma_min: float | None
    method: str
    chains: int
    draws: int
    warmup: int
    seed: int
    n_parameters: int
    rhat: float
    rhat_poi: float
    ess_bulk: float
    ess_poi: float
    ess_limit: float
    divergences: int
    max_depth_hits: int
    problems: tuple[str, ...] = ()
    parameters: tuple[dict[str, object], ...] = ()
    fixed: dict[str, float] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """Whether every diagnostic passed (no ``problems``)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the output of ``dhstat limit --sampler nuts --json``); NaN as ``None``."""

        def number(value: float) -> float | None:
            return value if math.isfinite(value) else None

        doc: dict[str, Any] = {
            "upper_limit": self.upper_limit,
            "numerical_uncertainty": number(self.numerical_uncertainty),
            "cl": self.cl,
            "prior": self.prior,
            "poi": self.poi,
            "sigma_max": self.sigma_max,
            "method": self.method,
            "truncation": TRUNCATION,
            "sampler": {
                "chains": self.chains,
                "draws": self.draws,
                "warmup": self.warmup,
                "seed": self.seed,
                "n_parameters": self.n_parameters,
            },
            "diagnostics": {
                "converged": self.converged,
                "rhat": number(self.rhat),
                "rhat_poi": number(self.rhat_poi),
                "ess_bulk": number(self.ess_bulk),
                "ess_poi": number(self.ess_poi),
                "ess_limit": number(self.ess_limit),
                "divergences": self.divergences,
                "max_depth_hits": self.max_depth_hits,
                "problems": list(self.problems),
            },
            "parameters": [dict(p) for p in self.parameters],
            "fixed": dict(self.fixed),
        }
        if self.sigma_min is not None:
            doc["sigma_min"] = self.sigma_min
        return doc


def _run(
    target: nuts_target.Target,
    settings: NutsSettings,
    seed: int,
    libs: nuts_target.Libraries,
) -> tuple[Array, NDArray[np.bool_], NDArray[np.int64]]:
    """The draws (chains, draws, dim) in R^n, the divergent flags and the leapfrog steps."""
    rng = task_rng(seed, *NUTS_SEED_KEY)
    key = libs.jax.random.PRNGKey(int(rng.integers(0, 2**31 - 1)))
    inits = target.initial_points(rng, settings.chains, libs)
    kernel = libs.infer.NUTS(
        potential_fn=target.potential,
        target_accept_prob=settings.target_accept,
        max_tree_depth=settings.max_tree_depth,
        dense_mass=settings.dense_mass,
    )
    mcmc = libs.infer.MCMC(
        kernel,
        num_warmup=settings.warmup,
        num_samples=settings.draws,
        num_chains=settings.chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(key, init_params=libs.jnp.asarray(inits), extra_fields=("diverging", "num_steps"))
    draws = np.asarray(mcmc.get_samples(group_by_chain=True), dtype=np.float64)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    return draws, np.asarray(extra["diverging"]), np.asarray(extra["num_steps"])


@dataclass(frozen=True, slots=True)
class _Diagnostics:
    """The convergence diagnostics of one run (see :class:`NutsLimit`)."""

    rhat: float
    rhat_poi: float
    ess_bulk: float
    ess_poi: float
    divergences: int
    max_depth_hits: int


def _diagnostics(
    draws: Array, diverging: NDArray[np.bool_], steps: NDArray[np.int64], depth: int
) -> _Diagnostics:
    """R-hat and bulk ESS of every coordinate of R^n (the POI's is the first), and the counts."""
    rhats = [diagnostics.rhat(draws[:, :, j]) for j in range(draws.shape[2])]
    ess = [diagnostics.ess_bulk(draws[:, :, j]) for j in range(draws.shape[2])]
    return _Diagnostics(
        rhat=max(rhats),
        rhat_poi=rhats[0],
        ess_bulk=min(ess),
        ess_poi=ess[0],
        divergences=int(diverging.sum()),
        max_depth_hits=int((steps >= 2**depth - 1).sum()),
    )


def _problems(
    found: _Diagnostics, ess_limit: float, settings: NutsSettings, edge: float
) -> tuple[str, ...]:
    """What failed the checks, one phrase each."""
    out = []
    if not found.rhat <= settings.max_rhat:  # also NaN
        out.append(f"R-hat {found.rhat:.3f} above {settings.max_rhat:g}")
    if not found.ess_bulk >= settings.min_ess:
        out.append(f"bulk ESS {found.ess_bulk:.0f} below {settings.min_ess:g}")
    if not ess_limit >= settings.min_ess:
        out.append(f"ESS at the limit {ess_limit:.0f} below {settings.min_ess:g}")
    if found.divergences > 0:
        out.append(f"{found.divergences} divergent transitions")
    if edge > _EDGE_FRACTION:
        out.append(f"{edge:.1%} of the POI draws in the top tenth of its range: raise sigma_max")
    return tuple(out)


def _checked(
    workspace: GenericModel | Mapping[str, Any],
    fix: Mapping[str, float] | None,
    priors: Mapping[str, PriorOverride] | None,
    settings: NutsSettings,
    limits: tuple[float, str, float | None, float],
) -> tuple[GenericModel, float]:
    """The configured model and the POI's upper end, after checking every argument."""
    cl, prior, sigma_max, sigma_min = limits
    if isinstance(workspace, GenericModel):
        model = workspace.configure(fix=fix, priors=priors)
    else:
        model = GenericModel.from_spec(dict(workspace), fix=fix, priors=priors)
    settings.check(model.source)
    if not 0 < cl < 1:
        raise InputError(model.source, "cl", "a credibility level in (0, 1)", got=cl)
    if prior not in ("flat", "log"):
        raise InputError(model.source, "prior", "flat or log", got=prior)
    smax = float(sigma_max) if sigma_max is not None else model.sigma_max
    if not (smax > 0 and math.isfinite(smax)):
        raise InputError(model.source, "sigma_max", "a finite positive number", got=smax)
    if prior == "log" and not 0 < sigma_min < smax:
        raise InputError(model.source, "sigma_min", "0 < sigma_min < sigma_max", got=sigma_min)
    return model, smax


def nuts_upper_limit(
    workspace: GenericModel | Mapping[str, Any],
    *,
    cl: float = 0.9,
    prior: Literal["flat", "log"] = "flat",
    sigma_max: float | None = None,
    sigma_min: float = 0.5,
    fix: Mapping[str, float] | None = None,
    priors: Mapping[str, PriorOverride] | None = None,
    seed: int | None = None,
    settings: NutsSettings | None = None,
) -> NutsLimit:
    """Bayesian upper limit on the POI from NUTS draws of the joint posterior.

    Args:
        workspace: A workspace document (dict) or a prepared :class:`GenericModel`.
        cl: Credibility level.
        prior: ``"flat"`` on [0, sigma_max] or ``"log"`` (flat in ln POI on [sigma_min, sigma_max]).
        sigma_max: Upper end of the POI prior (default: the POI's upper bound in the workspace).
        sigma_min: Lower end of the log prior.
        fix: Parameters to fix, name to value (see :meth:`GenericModel.from_spec`).
        priors: Prior overrides, name to ``("normal", mean, width)`` or ``("flat", lo, hi)``.
        seed: Seed of every random number (default: ``Settings().mc_seed``).
        settings: Sampler settings (default: :class:`NutsSettings`).

    Raises:
        InputError: jax or numpyro missing (``pip install 'dhstat[nuts]'``), or bad arguments.

    Example:
        >>> import pytest; _ = pytest.importorskip("numpyro")  # the optional dependency
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=3, signal=1.0, backgrounds={"b": 1.0},
        ...                    background_shifts={"b": {"x": 0.2}})
        >>> result = nuts_upper_limit(spec, settings=NutsSettings(draws=300, warmup=200, chains=2))
        >>> result.method, result.n_parameters, 4 < result.upper_limit < 8
        ('nuts', 2, True)
    """
    libs = nuts_target.libraries()
    settings = settings or NutsSettings()
    seed = Settings().mc_seed if seed is None else int(seed)
    model, smax = _checked(workspace, fix, priors, settings, (cl, prior, sigma_max, sigma_min))
    start = time.perf_counter()
    with nuts_target.jax_backend(libs):
        target = nuts_target.Target.build(model, prior, sigma_min, smax, libs)
        draws, diverging, steps = _run(target, settings, seed, libs)
    poi_draws = target.poi(draws[:, :, 0])
    limit, error, ess_limit = diagnostics.quantile_with_error(poi_draws, cl)
    found = _diagnostics(draws, diverging, steps, settings.max_tree_depth)
    problems = _problems(found, ess_limit, settings, float(np.mean(poi_draws > 0.9 * smax)))
    for problem in problems:
        log.warning("%s: NUTS: %s", model.source, problem)
    log.info("%s: NUTS took %.1f s", model.source, time.perf_counter() - start)
    return NutsLimit(
        upper_limit=limit,
        numerical_uncertainty=error,
        cl=cl,
        prior=prior,
        poi=model.poi,
        sigma_max=smax,
        sigma_min=float(sigma_min) if prior == "log" else None,
        method="nuts",
        chains=settings.chains,
        draws=settings.draws,
        warmup=settings.warmup,
        seed=seed,
        n_parameters=int(draws.shape[2]),
        rhat=found.rhat,
        rhat_poi=found.rhat_poi,
        ess_bulk=found.ess_bulk,
        ess_poi=found.ess_poi,
        ess_limit=ess_limit,
        divergences=found.divergences,
        max_depth_hits=found.max_depth_hits,
        problems=problems,
        parameters=tuple(p.describe() for p in model.priors),
        fixed=dict(model.fixed),
    )
