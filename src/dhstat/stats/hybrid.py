"""The hybrid (prior-predictive) p-value of any pyhf workspace, by toys of a test statistic.

For one bin the hybrid p-value is ``P(n' >= N)`` under the background-only prior predictive and
is computed exactly by quadrature (:mod:`dhstat.stats.significance`). For several bins "at least as
signal-like as the data" needs an ordering of count vectors, a test statistic ``t(n)``; then::

    p = P(t(n') >= t(N)),   n' ~ Pois(B(theta)),  theta ~ pi(theta),  POI = 0

estimated from toys, with its Monte Carlo error.

**Test statistic.** ``t(n) = sum_i n_i ln(1 + s_i / b_i)``: the log likelihood ratio of a signal
at the reference POI value ``mu_ref`` against background only, with the nuisance parameters at
their nominal values (constrained ones at pyhf's initial values, i.e. the centres of their
constraints; free ones at the background-only fit), up to terms that do not depend on n. By the Neyman-Pearson lemma it is the most powerful
statistic for that simple alternative; it needs no fit per toy (so millions of toys are cheap); it
weights each bin by its signal-to-background ratio; and for a single bin it is a positive multiple
of n, so the p-value reduces to ``P(n' >= N)``, the one-bin definition. ``mu_ref`` defaults to the
POI value whose total signal is ``3 sqrt(B_total + 1)`` (a signal at the edge of sensitivity, where
the choice matters most); any positive value gives a valid p-value. Bins with ``b_i = 0`` use
``b_i = 1e-9 (s_i + max b)`` (a finite, large weight).

**Predictive distribution of the nuisance parameters.**

* Constrained parameters: their constraint terms as priors, as in the Bayes factor
  (:mod:`dhstat.stats.priors`): Gaussian for normsys, histosys, lumi and staterror (the
  multiplicative lumi and staterror truncated at zero), ``Gamma(tau + 1, rate tau)`` for shapesys.
  Draws where any expected count is negative (a histosys template) are rejected: the prior is
  zero-truncated, as in the Bayes factor.
* Free parameters (normfactors other than the POI, shapefactors): a flat prior over their bounds
  is not a usable predictive (it would spread the background over the whole range). They are
  drawn from their background-only posterior given the observed data, Laplace-approximated: a
  Gaussian at the background-only posterior mode (POI = 0: the maximum of pyhf's logpdf) with covariance
  the inverse Fisher information (all non-fixed parameters, then marginalised to the free ones),
  clipped to their bounds (:func:`dhstat.stats.laplace.fit`). This is the usual treatment of
  background normalisations measured in control regions; it uses the data once more (for the
  normalisations), which the result records (``free_parameter_treatment``).
* Fixed parameters stay at their initial values; the POI is 0.

**Monte Carlo error.** With ``k`` of ``N`` toys at ``t >= t(N)``: ``p = k / N``, standard error
``sqrt(p (1 - p) / N)``, and the one-sided 95 % Clopper-Pearson upper bound of p (the answer when
``k = 0``: Z is then only bounded from below, ``z_lower``). The error of Z is the half-width of
``Z(p -+ SE)``. Toys run in batches of ``batch_size`` (one batched ``pyhf.Model`` built once) until
the relative error of p is below ``target_relative_error`` (after ``min_toys``) or ``max_toys``
is reached. Batch ``j`` draws from ``parallel.task_rng(seed, j)``: the same settings give the same
numbers.

Example:
    >>> from dhstat.stats.model import window_spec
    >>> spec = window_spec(n=4, signal=1.0, backgrounds={"b": 1.0})
    >>> result = hybrid_pvalue(spec, settings=HybridSettings(max_toys=20_000))
    >>> from scipy import stats
    >>> exact = float(stats.poisson.sf(3, 1.0))
    >>> bool(abs(result.p_value - exact) < 4 * result.p_value_uncertainty)
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from dhstat.errors import InputError
from dhstat.parallel import task_rng
from dhstat.stats import _core, laplace
from dhstat.stats.generic import GenericModel, check_spec, quiet_pyhf

__all__ = [
    "STATISTIC",
    "HybridPValue",
    "HybridSettings",
    "background_counts",
    "free_parameters",
    "hybrid_pvalue",
]

Array = NDArray[np.float64]

#: The test statistic, as recorded in results.
STATISTIC = "sum_i n_i ln(1 + s_i(mu_ref) / b_i), nuisance parameters at nominal values"
FREE_TREATMENT = (
    "background-only posterior from the observed data, Laplace approximation (Gaussian at the "
    "POI = 0 fit, inverse Fisher information as covariance), clipped to the bounds"
)
_MULTIPLICATIVE = {"staterror", "lumi", "shapesys"}
_REFERENCE_Z = 3.0


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class HybridSettings:
    """Settings of the toy hybrid p-value.

    Attributes:
        target_relative_error: Stop when the standard error of p over p is below this.
        min_toys: Toys before the first stopping check.
        max_toys: Most toys (the answer is a bound when none exceeds the data).
        batch_size: Toys per batch (the batch size of the pyhf model).
        seed: Master seed of the toys.
        reference_poi: ``mu_ref`` of the test statistic (default: see the module docstring).

    Example:
        >>> HybridSettings().max_toys
        1000000
    """

    target_relative_error: float = 0.05
    min_toys: int = 10_000
    max_toys: int = 1_000_000
    batch_size: int = 2_000
    seed: int = 20230224
    reference_poi: float | None = None

    def check(self, source: str) -> None:
        """Raise :class:`InputError` for settings that cannot work."""
        if not (0 < self.target_relative_error < math.inf):
            expected = "a positive finite target_relative_error"
            raise InputError(
                source, "target_relative_error", expected, got=self.target_relative_error
            )
        if not 1 <= self.batch_size <= self.max_toys or self.min_toys < 1:
            expected = "1 <= batch_size <= max_toys and min_toys >= 1"
            got = (self.batch_size, self.min_toys, self.max_toys)
            raise InputError(source, "toys", expected, got=got)
        ref = self.reference_poi
        if ref is not None and not (0 < ref < math.inf):
            raise InputError(source, "reference_poi", "a positive finite POI value", got=ref)


@dataclass(frozen=True, slots=True)
class HybridPValue:
    """The toy hybrid p-value and how it was obtained.

    Attributes:
        p_value: ``k / N``.
        p_value_uncertainty: Binomial standard error ``sqrt(p (1 - p) / N)`` (when no toy
            exceeds, k = 0, the 95 % upper bound: the error is then not smaller than that).
        p_value_upper: One-sided 95 % Clopper-Pearson upper bound of p.
        z: ``max(0, norm.isf(p))`` (+inf when no toy exceeds: see ``z_lower``).
        z_uncertainty: Half-width of ``Z(p -+ SE)`` (+inf when k = 0).
        z_lower: Z of ``p_value_upper`` (a 95 % lower bound of Z).
        n_toys: Toys used (N).
        n_exceeding: Toys with ``t >= t(N)`` (k).
        n_rejected: Draws rejected by the zero-truncation (a negative expected count).
        t_observed: The test statistic of the data.
        reference_poi: ``mu_ref`` of the test statistic.
        statistic: The test statistic (:data:`STATISTIC`).
        free_parameters: The free parameters (drawn from their Laplace posterior).
        free_parameter_treatment: How they were drawn (``None`` without free parameters).
    """

    p_value: float
    p_value_uncertainty: float
    p_value_upper: float
    z: float
    z_uncertainty: float
    z_lower: float
    n_toys: int
    n_exceeding: int
    n_rejected: int
    t_observed: float
    reference_poi: float
    statistic: str = STATISTIC
    free_parameters: tuple[str, ...] = field(default=())
    free_parameter_treatment: str | None = None


@dataclass(frozen=True, slots=True)
class _Slot:
    """One component of a non-fixed, non-POI parameter and its predictive distribution."""

    index: int
    label: str
    kind: str  # "normal", "gamma" or "free"
    mean: float = 0.0
    width: float = 1.0
    lower: float = -math.inf
    tau: float = 0.0


@dataclass(frozen=True, slots=True)
class _Setup:
    model: Any  # pyhf.Model, unbatched (fits)
    data: Array  # observations + auxdata
    observed: Array
    init: Array
    bounds: Array  # (npar, 2)
    fixed: tuple[bool, ...]
    poi: int
    slots: tuple[_Slot, ...]


def _slot(pset: Any, i: int, index: int, label: str, modifier: str | None) -> _Slot:
    kind = type(pset).__name__
    if kind == "constrained_by_normal":
        sigmas = getattr(pset, "sigmas", None)
        width = float(sigmas[i]) if sigmas is not None else 1.0
        lower = 0.0 if modifier in _MULTIPLICATIVE else -math.inf
        return _Slot(index, label, "normal", float(pset.auxdata[i]), width, lower)
    if kind == "constrained_by_poisson":
        tau = float(pset.factors[i])
        return _Slot(index, label, "gamma", (tau + 1) / tau, math.sqrt(tau + 1) / tau, 0.0, tau)
    return _Slot(index, label, "free")


def _setup(spec: Mapping[str, Any]) -> _Setup:
    import pyhf  # local import: start-up time

    with quiet_pyhf():
        workspace = pyhf.Workspace(dict(spec))
        model = workspace.model()
        data = np.asarray(workspace.data(model), dtype=np.float64)
    config = model.config
    types = dict(config.modifiers)
    fixed = tuple(bool(f) for f in config.suggested_fixed())
    slots = []
    for name in config.par_order:
        if name == config.poi_name:
            continue
        pset = config.param_set(name)
        start = config.par_slice(name).start
        for i in range(pset.n_parameters):
            if not fixed[start + i]:
                label = name if pset.n_parameters == 1 else f"{name}[{i}]"
                slots.append(_slot(pset, i, start + i, label, types.get(name)))
    bounds = np.asarray(config.suggested_bounds(), dtype=np.float64)
    init = np.clip(
        np.asarray(config.suggested_init(), dtype=np.float64), bounds[:, 0], bounds[:, 1]
    )
    init[config.poi_index] = 0.0
    return _Setup(
        model=model,
        data=data,
        observed=data[: config.nmaindata],
        init=init,
        bounds=bounds,
        fixed=fixed,
        poi=int(config.poi_index),
        slots=tuple(slots),
    )


def free_parameters(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The free parameters of a workspace: non-fixed, unconstrained, not the POI.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> free_parameters(window_spec(n=1, signal=1.0, backgrounds={"b": 1.0}))
        ()
    """
    return tuple(s.label for s in _setup(spec).slots if s.kind == "free")


def _evaluate(batched: Any, points: Array, data: Array | None = None) -> Array:
    """Expected main counts (or ``logpdf`` given ``data``) at many points, in padded batches."""
    size = int(batched.batch_size)
    out = []
    for start in range(0, points.shape[0], size):
        block = points[start : start + size]
        count = block.shape[0]
        if count < size:
            block = np.concatenate([block, np.repeat(block[-1:], size - count, axis=0)])
        with np.errstate(all="ignore"), quiet_pyhf():
            if data is not None:
                value = np.asarray(batched.logpdf(block, data), dtype=np.float64)
            else:
                value = np.asarray(batched.main_model.expected_data(block), dtype=np.float64)
        out.append(value[:count])
    return np.concatenate(out)


def _batched(spec: Mapping[str, Any], size: int) -> Any:
    import pyhf  # local import: start-up time

    with quiet_pyhf():
        return pyhf.Workspace(dict(spec)).model(batch_size=size)


def _draw_constrained(slot: _Slot, rng: np.random.Generator, size: int) -> Array:
    if slot.kind == "gamma":
        return rng.gamma(slot.tau + 1.0, 1.0 / slot.tau, size)
    if slot.lower == -math.inf:
        return slot.mean + slot.width * rng.standard_normal(size)
    a = (slot.lower - slot.mean) / slot.width
    draws = stats.truncnorm.rvs(a, math.inf, size=size, random_state=rng)
    return np.asarray(slot.mean + slot.width * draws, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Predictive:
    setup: _Setup
    centre: Array  # parameters: fixed at init, free at the fit, POI 0
    free_index: list[int]
    free_mean: Array
    free_factor: Array

    def draw(self, rng: np.random.Generator, size: int) -> Array:
        pars = np.tile(self.centre, (size, 1))
        for slot in self.setup.slots:
            if slot.kind != "free":
                pars[:, slot.index] = _draw_constrained(slot, rng, size)
        if self.free_index:
            z = rng.standard_normal((size, len(self.free_index)))
            values = self.free_mean + z @ self.free_factor.T
            low, high = self.setup.bounds[self.free_index].T
            pars[:, self.free_index] = np.clip(values, low, high)
        return pars


def _weights(
    batched: Any, centre: Array, poi: int, reference: float | None, source: str
) -> tuple[Array, float]:
    """Per-bin weights ``ln(1 + s_i / b_i)`` of the test statistic and the reference POI."""
    points = np.tile(centre, (2, 1))
    points[1, poi] = 1.0
    rates = _evaluate(batched, points)
    b, s_unit = rates[0], rates[1] - rates[0]
    total = float(s_unit.sum())
    if not (total > 0 and math.isfinite(total)) or np.any(b < 0):
        expected = (
            "a model whose POI adds expected counts (positive signal, non-negative background)"
        )
        raise InputError(source, "(model)", expected)
    mu = (
        reference
        if reference is not None
        else _REFERENCE_Z * math.sqrt(float(b.sum()) + 1.0) / total
    )
    s = np.maximum(mu * s_unit, 0.0)
    floor = 1e-9 * (s + float(b.max()))
    return np.log1p(s / np.maximum(b, np.where(floor > 0, floor, 1e-300))), mu


def _result(
    k: int, n: int, rejected: int, t_obs: float, mu: float, free: tuple[str, ...]
) -> HybridPValue:
    p = k / n
    se = math.sqrt(p * (1 - p) / n)
    upper = float(stats.beta.ppf(0.95, k + 1, n - k)) if k < n else 1.0
    z_hi, z_lo = _core.z_of_p(np.array([max(p - se, 0.0), min(p + se, 1.0)]))
    z = float(_core.z_of_p(np.array(p)))
    z_err = 0.5 * float(z_hi - z_lo) if k > 0 else math.inf
    return HybridPValue(
        p_value=p,
        p_value_uncertainty=se if k > 0 else upper,
        p_value_upper=upper,
        z=z,
        z_uncertainty=z_err,
        z_lower=float(_core.z_of_p(np.array(upper))),
        n_toys=n,
        n_exceeding=k,
        n_rejected=rejected,
        t_observed=t_obs,
        reference_poi=mu,
        free_parameters=free,
        free_parameter_treatment=FREE_TREATMENT if free else None,
    )


def _predictive(spec: Mapping[str, Any], setup: _Setup, source: str) -> _Predictive:
    free = [k for k, s in enumerate(setup.slots) if s.kind == "free"]
    centre = setup.init.copy()
    if not free:
        return _Predictive(setup, centre, [], np.zeros(0), np.zeros((0, 0)))
    model = GenericModel.from_spec(spec, source=source)
    position = {index: k for k, index in enumerate(model.parameter_index)}
    evaluator = laplace.Evaluator(model)
    start = model.init[list(model.parameter_index)]
    mode = laplace.fit(evaluator, start, sigma=0.0)
    if not (mode.converged and np.all(np.isfinite(mode.theta))):
        raise InputError(source, "(free parameters)", "a background-only fit that converges")
    try:
        covariance = np.linalg.inv(mode.hessian)
    except np.linalg.LinAlgError:
        raise InputError(
            source, "(free parameters)", "free parameters the data constrain"
        ) from None
    index = [setup.slots[k].index for k in free]
    columns = [position[i] for i in index]
    sub = covariance[np.ix_(columns, columns)]
    values, vectors = np.linalg.eigh(0.5 * (sub + sub.T))
    factor = vectors * np.sqrt(np.maximum(values, 0.0))
    best = mode.theta[columns]
    centre[index] = best
    return _Predictive(setup, centre, index, best, factor)


def hybrid_pvalue(
    spec: Mapping[str, Any],
    *,
    source: str = "<workspace>",
    settings: HybridSettings | None = None,
) -> HybridPValue:
    """The hybrid p-value of a pyhf workspace with one POI, from toys (see the module docstring).

    Args:
        spec: The workspace document (checked with :func:`dhstat.stats.generic.check_spec`).
        source: Where it came from (for messages).
        settings: Toy settings.

    Raises:
        InputError: the workspace is invalid, its POI adds no expected counts, or the
            background-only fit of its free parameters fails (all before any toy is drawn).
    """
    settings = settings or HybridSettings()
    settings.check(source)
    check_spec(spec, source)
    setup = _setup(spec)
    batched = _batched(spec, settings.batch_size)
    predictive = _predictive(spec, setup, source)
    weights, mu = _weights(batched, predictive.centre, setup.poi, settings.reference_poi, source)
    t_obs = float(setup.observed @ weights)
    tie = 1e-9 * max(abs(t_obs), 1.0)
    k = n = rejected = 0
    batch = 0
    while n < settings.max_toys:
        rng = task_rng(settings.seed, batch)
        rates = _evaluate(batched, predictive.draw(rng, settings.batch_size))
        good = np.all(np.isfinite(rates) & (rates >= 0), axis=1)
        rejected += int((~good).sum())
        counts = rng.poisson(np.where(good[:, None], rates, 0.0))[good]
        take = min(counts.shape[0], settings.max_toys - n)
        t = counts[:take] @ weights
        k += int((t >= t_obs - tie).sum())
        n += take
        batch += 1
        if n == 0 and batch >= 10:
            raise InputError(source, "(priors)", "nuisance priors with a non-empty allowed region")
        if n >= settings.min_toys and k > 0:
            p = k / n
            if math.sqrt((1 - p) / (n * p)) < settings.target_relative_error:
                break
    free = tuple(s.label for s in setup.slots if s.kind == "free")
    return _result(k, n, rejected, t_obs, mu, free)


def background_counts(
    spec: Mapping[str, Any],
    size: int,
    rng: np.random.Generator,
    *,
    source: str = "<workspace>",
    batch_size: int = 2000,
) -> Array:
    """Pseudo-observations drawn from the background-only predictive of :func:`hybrid_pvalue`.

    The nuisance parameters are drawn as for the hybrid p-value (constrained ones from their
    priors, free ones from their background-only Laplace posterior), draws with a negative expected
    count are rejected, and the main-bin counts are Poisson. These are the toys of expected limits.

    Args:
        spec: The workspace document.
        size: Number of pseudo-observations.
        rng: The random generator.
        source: Where the workspace came from (for messages).
        batch_size: Parameter points per batched pyhf evaluation.

    Returns:
        Counts, shape ``(size, main bins)``, as floats.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=4, signal=1.0, backgrounds={"b": 3.0})
        >>> counts = background_counts(spec, 4000, np.random.default_rng(1))
        >>> counts.shape, bool(abs(counts.mean() - 3.0) < 0.1)
        ((4000, 1), True)
    """
    check_spec(spec, source)
    setup = _setup(spec)
    predictive = _predictive(spec, setup, source)
    batched = _batched(spec, max(1, min(batch_size, size)))
    out: list[Array] = []
    drawn = 0
    for attempt in range(1000):
        rates = _evaluate(batched, predictive.draw(rng, int(batched.batch_size)))
        good = np.all(np.isfinite(rates) & (rates >= 0), axis=1)
        counts = rng.poisson(rates[good]).astype(np.float64)
        out.append(counts)
        drawn += counts.shape[0]
        if drawn >= size:
            return np.concatenate(out)[:size]
        if drawn == 0 and attempt >= 9:
            break
    raise InputError(source, "(priors)", "nuisance priors with a non-empty allowed region")
