"""Expected limits of any workspace from background-only toys, with their Monte Carlo errors.

For a single-bin window the expected limits are exact without toys (:mod:`dhstat.stats.expected`).
A multi-bin workspace has no such ordering of its outcomes, so its expected band comes from toys:
pseudo-observations drawn from the background-only prior predictive (nuisance parameters from
their priors, counts from the Poisson distribution), one Bayesian limit per toy, and the
quantiles of those limits at :data:`~dhstat.stats.expected.BAND_LEVELS`.

Each quantile carries a Monte Carlo standard error from the order statistics that bracket it:
the sample quantile at level p of n toys lies between the order statistics of ranks
``n p -+ sqrt(n p (1 - p))`` with about 68 % probability, whatever the distribution, so half that
interval is the error (no density estimate needed). An interval that collapses to one value
(limits that take few distinct values, as for small counts) gives an error of 0: the quantile is
then that value with the same probability.

Example:
    >>> import numpy as np
    >>> values = np.random.default_rng(1).normal(size=4000)
    >>> q, err = quantiles_with_errors(values, (0.5,))
    >>> bool(abs(q[0]) < 3 * err[0]), bool(0.01 < err[0] < 0.03)
    (True, True)
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.errors import InputError
from dhstat.parallel import task_rng
from dhstat.stats import hybrid
from dhstat.stats.expected import BAND_LEVELS, BAND_SIGMAS
from dhstat.stats.generic import GenericModel

__all__ = [
    "EXPECTED_SEED_KEY",
    "ToyBand",
    "expected_limits_from_toys",
    "expected_upper_limits_workspace",
    "quantiles_with_errors",
    "with_fixed_parameters",
]

#: The toys of :func:`expected_upper_limits_workspace` draw from ``task_rng(seed, this)``.
EXPECTED_SEED_KEY = 1601

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ToyBand:
    """Expected limits from toys: the median and the +-1 sd, +-2 sd quantiles, with errors.

    Attributes:
        sigmas: The band positions in standard deviations, ``(-2, -1, 0, 1, 2)``.
        limits: The limit quantile at each position.
        errors: Monte Carlo standard error of each quantile (order-statistic interval).
        toys: Number of toys.
    """

    sigmas: tuple[float, ...]
    limits: tuple[float, ...]
    errors: tuple[float, ...]
    toys: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``expected`` object of ``dhstat limit --expected --json``)."""
        return {
            "method": "toys",
            "sigmas": list(self.sigmas),
            "upper_limits": list(self.limits),
            "numerical_uncertainty": list(self.errors),
            "toys": self.toys,
        }


def quantiles_with_errors(
    values: ArrayLike, levels: Sequence[float] = BAND_LEVELS
) -> tuple[Array, Array]:
    """Sample quantiles at ``levels`` and their standard errors from the order statistics.

    Args:
        values: The sample (finite numbers).
        levels: Quantile levels in (0, 1).

    Returns:
        ``(quantiles, errors)``: the sample quantiles (linear interpolation, numpy's default) and
        half the distance between the order statistics of ranks ``n p -+ sqrt(n p (1 - p))``.

    Example:
        >>> quantiles_with_errors([1.0, 2.0, 3.0, 4.0, 5.0], (0.5,))
        (array([3.]), array([1.5]))
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0 or not np.isfinite(x).all():
        raise InputError(None, "values", "a non-empty sample of finite numbers")
    p = np.asarray(levels, dtype=np.float64)
    n = x.size
    spread = np.sqrt(n * p * (1.0 - p))
    # 0-based indices of the order statistics of ranks n p -+ sqrt(n p (1 - p)), widened outwards
    low = np.clip(np.floor(n * p - spread).astype(np.int64) - 1, 0, n - 1)
    high = np.clip(np.ceil(n * p + spread).astype(np.int64) - 1, 0, n - 1)
    return np.quantile(x, p), 0.5 * (x[high] - x[low])


def expected_limits_from_toys(
    draw_counts: Callable[[np.random.Generator, int], Array],
    limit_of: Callable[[Array], float],
    *,
    toys: int,
    rng: np.random.Generator,
    update: Callable[[int], None] | None = None,
) -> ToyBand:
    """The expected band of a limit from background-only toys.

    Args:
        draw_counts: ``draw_counts(rng, k)`` returns ``k`` pseudo-observations (rows of main-bin
            counts) drawn from the background-only prior predictive.
        limit_of: The upper limit for one pseudo-observation.
        toys: Number of toys (at least 20, so that the +-2 sd quantiles are bracketed).
        rng: The random generator (seeded from the configuration by the caller).
        update: Called with 1 after each toy (a progress bar).

    Returns:
        The quantiles at ``BAND_SIGMAS`` with their Monte Carlo errors.

    Example:
        >>> from scipy import stats
        >>> band = expected_limits_from_toys(
        ...     lambda rng, k: rng.poisson(3.0, size=(k, 1)).astype(float),
        ...     lambda n: float(stats.gamma.ppf(0.9, n[0] + 1)),  # flat prior, b = 0
        ...     toys=400,
        ...     rng=np.random.default_rng(2),
        ... )
        >>> band.limits[2] == float(stats.gamma.ppf(0.9, 4))  # N = 3 is the median count
        True
    """
    if toys < 20:
        raise InputError(None, "toys", "an integer >= 20", got=toys)
    counts = draw_counts(rng, toys)
    limits = np.empty(toys)
    for i, row in enumerate(counts):
        limits[i] = limit_of(row)
        if update is not None:
            update(1)
    bad = ~np.isfinite(limits)
    if bad.any():
        raise InputError(None, "toys", "a finite limit for every toy", got=f"{bad.sum()} not")
    quantiles, errors = quantiles_with_errors(limits, BAND_LEVELS)
    return ToyBand(
        sigmas=BAND_SIGMAS,
        limits=tuple(float(q) for q in quantiles),
        errors=tuple(float(e) for e in errors),
        toys=toys,
    )


def with_fixed_parameters(spec: Mapping[str, Any], fix: Mapping[str, float]) -> dict[str, Any]:
    """The workspace document with parameters fixed at values, as pyhf's measurement config does.

    Args:
        spec: The workspace document (not changed).
        fix: Parameter name to value (a vector parameter's name sets every component).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=1, signal=1.0, backgrounds={"b": 1.0}, background_shifts={"b": {"u": 0.1}})
        >>> fixed = with_fixed_parameters(spec, {"u": 0.5})
        >>> [p for p in fixed["measurements"][0]["config"]["parameters"] if p["name"] == "u"]
        [{'name': 'u', 'fixed': True, 'inits': [0.5]}]
    """
    out = copy.deepcopy(dict(spec))
    if not fix:
        return out
    sizes: dict[str, int] = {}
    for channel in out["channels"]:
        for sample in channel["samples"]:
            for modifier in sample["modifiers"]:
                vector = modifier["type"] in ("staterror", "shapesys", "shapefactor")
                sizes[modifier["name"]] = len(sample["data"]) if vector else 1
    for measurement in out["measurements"]:
        parameters = measurement["config"].setdefault("parameters", [])
        for name, value in fix.items():
            entry = next((p for p in parameters if p.get("name") == name), None)
            if entry is None:
                entry = {"name": name}
                parameters.append(entry)
            entry["fixed"] = True
            entry["inits"] = [float(value)] * sizes.get(name, 1)
    return out


def expected_upper_limits_workspace(
    model: GenericModel,
    limit_of: Callable[[GenericModel], float],
    *,
    toys: int,
    seed: int,
    update: Callable[[int], None] | None = None,
) -> ToyBand:
    """Expected limits of a workspace: toys from its background-only predictive, one limit each.

    The toys are those of the hybrid p-value (:func:`dhstat.stats.hybrid.background_counts`):
    constrained parameters from their constraint terms, free ones from their background-only
    Laplace posterior, parameters fixed with ``fix=`` at their values. Each toy replaces the
    model's observations (the pyhf model is not rebuilt).

    Args:
        model: The prepared model (its ``fixed`` parameters are honoured; prior overrides are not
            part of the toys and are refused).
        limit_of: The limit of one model (e.g. ``lambda m: bayes.upper_limit(m, ...).upper_limit``).
        toys: Number of toys (>= 20).
        seed: Seed of the toys (``[stats] mc_seed``).
        update: Called with 1 after each toy.

    Raises:
        InputError: the model has prior overrides or a component of a vector parameter fixed, or
            ``toys`` is below 20.
    """
    if model.overrides:
        raise InputError(
            model.source,
            "priors",
            "the workspace's own constraint terms for expected limits (toys are drawn from them)",
            got=", ".join(model.overrides),
        )
    parts = [name for name in model.fixed if "[" in name]
    if parts:
        expected = "whole parameters fixed for expected limits (pyhf fixes a vector as a whole)"
        raise InputError(model.source, "fix", expected, got=", ".join(parts))
    spec = with_fixed_parameters(model.spec, model.fixed)

    def draw(rng: np.random.Generator, size: int) -> Array:
        return hybrid.background_counts(spec, size, rng, source=model.source)

    def limit_of_counts(counts: Array) -> float:
        return limit_of(dataclasses.replace(model, observed=np.asarray(counts, dtype=np.float64)))

    return expected_limits_from_toys(
        draw,
        limit_of_counts,
        toys=toys,
        rng=task_rng(seed, EXPECTED_SEED_KEY),
        update=update,
    )
