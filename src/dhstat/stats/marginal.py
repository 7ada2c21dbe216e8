"""Posterior-centred importance sampling of a generic model's nuisance parameters.

The nuisance integral ``m(sigma) = integral p(n | sigma, theta) pi(theta) dtheta`` is estimated with
draws that follow the posterior, not the prior:

1. the joint posterior mode of (theta, sigma) and its Laplace width in sigma
   (:func:`dhstat.stats.laplace.fit` with the POI fitted), then a few *anchor* POI values from 0 to
   about 6.5 widths above the mode;
2. at each anchor the conditional mode of theta and its Hessian: a multivariate Student-t proposal
   (:data:`DF` degrees of freedom: heavy tails) centred there with the inverse Hessian as scale;
3. the same number of draws from each proposal (stratified; randomised quasi-Monte Carlo: a
   scrambled Sobol sequence per batch and proposal, :func:`_draw`), weighted by
   ``pi(theta) / q_mix(theta)`` where ``q_mix`` is the equal mixture of the proposals (the balance
   heuristic of multiple importance sampling): one set of draws serves every sigma, so ``ln m(sigma)``
   is smooth in sigma (common random numbers);
4. the draws are split into :data:`BATCHES` independent batches, each stratified over the
   proposals; the spread of the results over the batches is their numerical uncertainty.
   :mod:`dhstat.stats.generic_bayes` doubles the draws while that uncertainty is above
   ``Settings.is_target_error`` (relative) or the effective sample size is small.

A mode on a bound (a free parameter pushed to its limit by a huge count) is fitted with that
coordinate held (:func:`dhstat.stats.laplace.fit`); its proposal is narrowed to the posterior's
exponential fall-off there. :func:`prior_draws`: prior expectations at POI 0 (one-bin p-value).

With at most :data:`GRID_DIMENSIONS` nuisance parameters the draws are replaced by a dense
trapezoid grid over the same region (every proposal's +-10 widths), ``method`` ``"posterior-grid"``;
its numerical uncertainty is the difference from the half-resolution grid (an upper bound).

Because the expected counts are linear in the POI, S and B are computed once per draw and the
result is a :class:`dhstat.stats.generic.GenericNodes` set that the POI integrals of
:mod:`dhstat.stats.generic_bayes` use unchanged. Bins that no draw gives signal in contribute a factor
independent of sigma: it is folded into the weights and the bins dropped.

Example:
    >>> import json
    >>> from dhstat.stats.generic import GenericModel, Settings
    >>> from dhstat.stats.model import window_spec
    >>> spec = window_spec(n=5, signal=1.0, backgrounds={"b": 2.0}, background_shifts={"b": {"x": 0.5}})
    >>> model = GenericModel.from_spec(spec)
    >>> nodes = posterior_nodes(model, Settings(is_samples=2000), sigma_max=100.0)
    >>> nodes.nodes.method, int(nodes.nodes.batch.max()) + 1  # one parameter: a grid
    ('posterior-grid', 2)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special
from scipy.stats import qmc

from dhstat.errors import InputError
from dhstat.parallel import task_rng
from dhstat.stats import _core
from dhstat.stats.generic import GenericModel, GenericNodes, Settings
from dhstat.stats.laplace import Evaluator, Fit, fit

__all__ = [
    "BATCHES",
    "DF",
    "GRID_DIMENSIONS",
    "Posterior",
    "PriorDraws",
    "effective_sample_size",
    "posterior_nodes",
    "prior_draws",
]

Array = NDArray[np.float64]

#: Independent batches of draws (their spread gives the numerical uncertainty).
BATCHES = 10
#: Degrees of freedom of the Student-t proposals.
DF = 6.0
#: Anchor POI values, in Laplace widths of the POI from its joint mode.
_ANCHORS = (-1.5, 0.0, 1.5, 3.0, 4.5, 6.5)
#: Proposal scale: the inverse Hessian times this squared.
_INFLATE = 1.2
#: Above this many dimensions the inflation shrinks as sqrt(_FEW / dim); df grows as dim.
_FEW = 1.0
_DF_PER_DIM = 2.0
_CACHE: OrderedDict[tuple[int, Settings, float], tuple[GenericModel, Posterior, int]] = (
    OrderedDict()
)


#: The evaluator of the last model (its pyhf models, one per batch size, are reused), and its
#: proposals per sigma_max.
_EVALUATORS: dict[int, Evaluator] = {}
_PROPOSALS: dict[float, _Proposals] = {}


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Posterior:
    """Importance-sampling nodes of a model and how they were made.

    Attributes:
        nodes: S, B (active bins only), weights and batch of every draw.
        anchors: POI values whose conditional modes centre the proposals.
        sigma_hat: Joint posterior mode of the POI.
        sigma_width: Laplace width of the POI at the joint mode.
        samples: Number of draws.
        observed: Observed counts of the bins kept in ``nodes`` (those with signal).
    """

    nodes: GenericNodes
    anchors: tuple[float, ...]
    sigma_hat: float
    sigma_width: float
    samples: int
    observed: Array


def _anchors(sigma_hat: float, width: float, sigma_max: float) -> list[float]:
    values = {0.0}
    for k in _ANCHORS:
        values.add(float(min(max(sigma_hat + k * width, 0.0), sigma_max)))
    ordered = sorted(values)
    kept = [ordered[0]]
    for value in ordered[1:]:
        if value - kept[-1] > 0.5 * width:
            kept.append(value)
    return kept


@dataclass(frozen=True, slots=True)
class _Proposal:
    centre: Array
    chol: Array
    log_det: float
    df: float


def _shape(dim: int) -> tuple[float, float]:
    """Degrees of freedom and scale inflation of the proposals in ``dim`` dimensions.

    In many dimensions a Student-t's radius spreads far more than the posterior's (whose radius
    concentrates), and any scale mismatch compounds over the coordinates: both tend to a Gaussian
    with the Laplace covariance as ``dim`` grows.
    """
    return max(DF, _DF_PER_DIM * dim), 1.0 + (_INFLATE - 1.0) * min(
        1.0, math.sqrt(_FEW / max(dim, 1))
    )


def _proposal(centre: Array, hessian: Array, gradient: Array | None = None) -> _Proposal:
    """The Student-t around a mode; ``gradient`` (of ln p there) narrows it at a bound.

    A mode on a bound (a free parameter at its limit, pulled outward by a huge count) has a
    posterior that falls off exponentially, on the scale 1 / |gradient|, which can be far below
    the curvature's width: the squared gradient is added to the curvature (zero inside).
    """
    if gradient is not None:
        g = np.where(np.isfinite(gradient[: centre.size]), gradient[: centre.size], 0.0)
        hessian = hessian + np.diag(g * g)
    df, inflate = _shape(centre.size)
    # by eigenvalues, floored: a mode at the edge of the allowed region (a rate near 0) can give
    # a curvature of 1e25 in one direction, and the Hessian is then singular to rounding
    values, vectors = np.linalg.eigh(0.5 * (hessian + hessian.T))
    floor = max(float(values.max()) * 1e-15, 1e-300)
    cov = (vectors / np.maximum(values, floor)) @ vectors.T * inflate**2
    cov = 0.5 * (cov + cov.T)
    chol: Array
    try:
        chol = np.asarray(np.linalg.cholesky(cov), dtype=np.float64)
    except np.linalg.LinAlgError:
        chol = np.diag(np.sqrt(np.maximum(np.diag(cov), 1e-24)))
    return _Proposal(centre, chol, float(2.0 * np.log(np.diag(chol)).sum()), df)


#: Largest dimension of scipy's Sobol sequences (beyond, plain pseudo-random draws).
_SOBOL_MAX_DIM = 21201


def _draw(proposal: _Proposal, rng: np.random.Generator, size: int) -> Array:
    """``size`` draws of the Student-t proposal: randomised quasi-Monte Carlo.

    A scrambled Sobol sequence (seeded from ``rng``) in dim + 1 coordinates through the normal
    and chi-square quantiles: each point is exactly distributed as the proposal (unbiased; each
    batch its own scrambling, so the batches' spread stays an honest error), but the points
    fill the space evenly: a third of the error of B10 on the N-bin models of issue 14.
    """
    dim = proposal.centre.size
    if dim + 1 > _SOBOL_MAX_DIM:
        z = rng.standard_normal((size, dim))
        u = rng.chisquare(proposal.df, size) / proposal.df
    else:
        sobol = qmc.Sobol(d=dim + 1, scramble=True, seed=rng)
        points = sobol.random_base2(max(math.ceil(math.log2(size)), 1))[:size]
        points = np.clip(points, 1e-300, 1.0 - 1e-16)
        z = special.ndtri(points[:, :dim])
        u = special.chdtri(proposal.df, 1.0 - points[:, dim]) / proposal.df
    draws: Array = proposal.centre + (z @ proposal.chol.T) / np.sqrt(u)[:, None]
    return draws


def _per_proposal(samples: int, proposals: int) -> int:
    """Draws per proposal and batch: a power of two (Sobol's balance), ``samples`` in total +-40 %."""
    per = max(samples / (proposals * BATCHES), 2.0)
    return int(2 ** round(math.log2(per)))


def _log_t(proposal: _Proposal, x: Array) -> Array:
    dim = proposal.centre.size
    from scipy.linalg import solve_triangular  # local import: start-up time

    df = proposal.df
    y = solve_triangular(proposal.chol, (x - proposal.centre).T, lower=True)
    d2 = (y * y).sum(axis=0)
    log_norm = (
        special.gammaln(0.5 * (df + dim))
        - special.gammaln(0.5 * df)
        - 0.5 * dim * math.log(df * math.pi)
        - 0.5 * proposal.log_det
    )
    value: Array = log_norm - 0.5 * (df + dim) * np.log1p(d2 / df)
    return value


@dataclass(frozen=True, slots=True)
class _Proposals:
    components: list[_Proposal]
    anchors: list[float]
    sigma_hat: float
    width: float


def _check_possible(evaluator: Evaluator) -> None:
    """Counts in a bin where the model expects none at any parameter value: bad input.

    The rates are those at the priors' means and +-1 width of each parameter: pyhf's modifiers
    scale a bin's rate or interpolate between its variations, so a bin empty at all of these
    points is empty everywhere (the likelihood is 0 for every POI and nuisance value).
    """
    count = len(evaluator.priors)
    centre = np.array([p.mean for p in evaluator.priors], dtype=np.float64)
    width = np.array([p.width for p in evaluator.priors], dtype=np.float64)
    width = np.where(np.isfinite(width), width, 1.0)
    points = np.tile(centre, (2 * count + 1, 1))
    index = np.arange(count)
    points[1 + 2 * index, index] += width
    points[2 + 2 * index, index] -= width
    signal, background = evaluator.rates(evaluator.clip(points))
    possible = ((signal != 0) | (background != 0)).any(axis=0)
    impossible = np.flatnonzero(~possible & (evaluator.n > 0))
    if impossible.size:
        i = int(impossible[0])
        raise InputError(
            evaluator.model.source,
            f"observations (bin {i})",
            "no counts where the model expects none for every parameter value (likelihood 0)",
            got=int(evaluator.n[i]),
        )


def _proposals(evaluator: Evaluator, sigma_max: float) -> _Proposals:
    _check_possible(evaluator)
    start = np.array([p.mean for p in evaluator.priors], dtype=np.float64)
    s0, _ = evaluator.rates(start[None, :])
    guess = 1.0 / max(float(s0.sum()), 1e-300)
    joint = fit(evaluator, start, sigma=min(guess, sigma_max), fit_sigma=True, sigma_max=sigma_max)
    try:
        inverse = np.linalg.inv(joint.hessian)
        width = float(math.sqrt(max(inverse[-1, -1], 0.0)))
        # the conditional mode moves with sigma as -H_tt^-1 H_ts (Gaussian approximation)
        slope = -np.linalg.solve(joint.hessian[:-1, :-1], joint.hessian[:-1, -1])
    except np.linalg.LinAlgError:
        width, slope = sigma_max, np.zeros(joint.theta.size)
    width = min(max(width, 1e-12 * sigma_max), sigma_max)
    anchors = _anchors(joint.sigma, width, sigma_max)
    components = []
    # the extrapolated start stays within _REACH prior widths of the joint mode (a sigma_max of
    # 1e300 would put it at 1e300, where the priors' squares overflow)
    widths = np.array([p.width for p in evaluator.priors], dtype=np.float64)
    reach = _REACH * np.where(np.isfinite(widths), widths, 1.0)
    for sigma in anchors:
        start = joint.theta + np.clip(slope * (sigma - joint.sigma), -reach, reach)
        result = fit(evaluator, start, sigma=sigma, tolerance=1e-6, max_iterations=20)
        components.append(_proposal(result.theta, result.hessian, result.gradient))
        components.extend(
            _proposal(other.theta, other.hessian, other.gradient)
            for other in _other_modes(evaluator, result, sigma)
        )
    return _Proposals(components, anchors, joint.sigma, width)


#: Largest shift (in prior widths) of a conditional fit's start from the joint mode.
_REACH = 100.0
#: Steps (in conditional widths) along each coordinate from a mode where further modes are sought.
_RAY = np.array([0.75, 1.5, 2.25, 3.0, 4.0, 5.0])
#: A further mode is kept if its log posterior is within this of the mode's.
_KEEP = 25.0


def _other_modes(evaluator: Evaluator, mode: Fit, sigma: float) -> list[Fit]:
    """Further posterior modes along the coordinate axes through ``mode`` (one batched scan).

    Piecewise interpolations (pyhf's histosys code 0 and normsys code 1 have a kink at 0) can give
    a posterior with a mode on each side of the kink: along every coordinate the log posterior is
    scanned out to 5 conditional widths both ways; where it rises again, a fit starts there, and a
    mode that is distinct (more than one width away) and not negligible is returned.
    """
    # interpolated (normsys, histosys: normal priors centred at 0) coordinates only: the others
    # (staterror, lumi, shapesys, free factors) scale rates linearly, a log-concave posterior
    scanned = np.array(
        [j for j, p in enumerate(evaluator.priors) if p.kind == "normal" and p.mean == 0.0],
        dtype=np.int64,
    )
    count = scanned.size
    try:
        widths = np.sqrt(np.maximum(np.diag(np.linalg.inv(mode.hessian)), 0.0))
    except np.linalg.LinAlgError:
        return []
    if not count:
        return []
    steps = np.concatenate([-_RAY[::-1], _RAY])
    points = np.repeat(mode.theta[None, :], count * steps.size, axis=0)
    rows = np.arange(points.shape[0])
    coordinate = scanned[rows // steps.size]
    points[rows, coordinate] += np.tile(steps, count) * widths[coordinate]
    points = evaluator.clip(points)
    s, b = evaluator.rates(points)
    values = evaluator.log_posterior(points, sigma, s, b).reshape(count, steps.size)
    found: list[Fit] = []
    half = _RAY.size
    for j in range(count):
        for columns in (np.arange(half - 1, -1, -1), np.arange(half, 2 * half)):
            side = values[j, columns]
            with np.errstate(invalid="ignore"):  # -inf - -inf where truncated
                rising = np.flatnonzero(np.diff(side) > 1e-6)
            if not rising.size:
                continue
            k = int(rising[0]) + 1
            if side[k] < mode.log_posterior - _KEEP:
                continue
            index = int(columns[k])
            start = points[j * steps.size + index]
            other = fit(evaluator, start, sigma=sigma, tolerance=1e-6, max_iterations=20)
            distance = np.abs((other.theta - mode.theta) / np.maximum(widths, 1e-300)).max()
            known = [f.theta for f in found]
            if (
                other.log_posterior > mode.log_posterior - _KEEP
                and distance > 1.0
                and all(np.abs((other.theta - x) / widths).max() > 1.0 for x in known)
            ):
                found.append(other)
    return found


def _fold(
    signal: Array, background: Array, logw: Array, observed: Array
) -> tuple[Array, Array, Array, Array]:
    """Drop the bins without signal, folding their sigma-independent likelihood into ``logw``."""
    active = (signal > 0).any(axis=0)
    if active.all():
        return signal, background, logw, observed
    b = background[:, ~active]
    logw = logw + _core.log_pmf(observed[None, ~active], b).sum(axis=1)
    return signal[:, active], background[:, active], logw, observed[active]


def _nodes(
    evaluator: Evaluator, proposals: list[_Proposal], samples: int, seed: int
) -> tuple[GenericNodes, Array]:
    per = _per_proposal(samples, len(proposals))
    draws, batch = [], []
    for b in range(BATCHES):
        for j, proposal in enumerate(proposals):
            draws.append(_draw(proposal, task_rng(seed, b, j), per))
            batch.append(np.full(per, b, dtype=np.int64))
    theta = np.concatenate(draws)
    log_q = special.logsumexp(np.stack([_log_t(p, theta) for p in proposals]), axis=0)
    logw = evaluator.log_prior(theta) - log_q
    return _finish(evaluator, theta, logw, np.concatenate(batch), "importance-sampling")


#: Up to this many nuisance parameters a dense grid over the posterior replaces the draws; its
#: points per dimension.
GRID_DIMENSIONS = 2
_GRID_POINTS = {1: 401, 2: 121}
#: The grid spans the proposals' centres +- this many of their widths.
_GRID_SPAN = 10.0
#: Below this effective number of grid points at an anchor (the posterior narrower than the
#: spacing) the grid is replaced by draws.
_MIN_GRID_ESS = 2.0


def _grid_nodes(evaluator: Evaluator, proposals: list[_Proposal]) -> tuple[GenericNodes, Array]:
    """A trapezoid grid over every proposal's +-10 widths (within the priors' supports).

    Batch 0 holds the grid of every other point (the half-resolution grid), batch 1 the rest: the
    difference of the results of the two resolutions bounds the error of the full grid.
    """
    dim = proposals[0].centre.size
    centres = np.stack([p.centre for p in proposals])
    widths = np.stack([np.sqrt((p.chol**2).sum(axis=1)) for p in proposals])
    low = np.maximum((centres - _GRID_SPAN * widths).min(axis=0), evaluator.lower)
    high = np.minimum((centres + _GRID_SPAN * widths).max(axis=0), evaluator.upper)
    size = _GRID_POINTS[dim]
    axes = [np.linspace(lo, hi, size) for lo, hi in zip(low, high, strict=True)]
    mesh = np.meshgrid(*axes, indexing="ij")
    theta = np.stack([m.ravel() for m in mesh], axis=1)
    index = np.stack(np.meshgrid(*[np.arange(size)] * dim, indexing="ij"), axis=-1)
    coarse = (index % 2 == 0).all(axis=-1).ravel()
    batch = np.where(coarse, 0, 1).astype(np.int64)
    return _finish(evaluator, theta, evaluator.log_prior(theta), batch, "posterior-grid")


def _finish(
    evaluator: Evaluator, theta: Array, logw: Array, batch: NDArray[np.int64], method: str
) -> tuple[GenericNodes, Array]:
    """Nodes from points and log weights: rates, zero-truncation, bins without signal folded."""
    inside = np.isfinite(logw)
    signal = np.zeros((theta.shape[0], evaluator.model.n_bins))
    background = np.zeros_like(signal)
    if inside.any():
        signal[inside], background[inside] = evaluator.rates(theta[inside])
    scale = np.abs(signal).max() + np.abs(background).max()
    eps = 1e-13 * scale
    allowed = inside & (signal >= -eps).all(axis=1) & (background >= -eps).all(axis=1)
    allowed &= np.isfinite(signal).all(axis=1) & np.isfinite(background).all(axis=1)
    if not allowed.any():
        raise InputError(
            evaluator.model.source, "(priors)", "nuisance priors with a non-empty allowed region"
        )
    np.maximum(signal, 0.0, out=signal)
    np.maximum(background, 0.0, out=background)
    signal, background, logw, observed = _fold(
        signal, background, np.where(allowed, logw, -np.inf), evaluator.n
    )
    # the log weights are kept: far in a prior's tail (huge counts) the weights underflow while
    # the likelihood makes up for it
    logw = logw - logw[allowed].max()
    weight = np.exp(logw)
    total = float(weight.sum())  # >= 1: the largest weight is 1
    weight /= total
    logw = logw - math.log(total)
    return GenericNodes(signal, background, weight, batch, method, (), logw), observed


def posterior_nodes(
    model: GenericModel, settings: Settings, *, sigma_max: float, samples: int | None = None
) -> Posterior:
    """Importance-sampling nodes that follow the posterior of ``model`` for POI in [0, sigma_max].

    The last few results are cached (by model, settings and ``sigma_max``).
    """
    count = settings.is_samples if samples is None else samples
    key = (id(model), settings, float(sigma_max))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is model and hit[2] >= count:  # as many draws asked for
        _CACHE.move_to_end(key)
        return hit[1]
    evaluator = _EVALUATORS.get(id(model))
    if evaluator is None or evaluator.model is not model:
        evaluator = Evaluator(model)
        _EVALUATORS.clear()
        _PROPOSALS.clear()
        _EVALUATORS[id(model)] = evaluator
    proposals = _PROPOSALS.get(float(sigma_max))
    if proposals is None:
        proposals = _PROPOSALS[float(sigma_max)] = _proposals(evaluator, sigma_max)
    grid = None
    if len(model.priors) <= GRID_DIMENSIONS:
        grid = _grid_nodes(evaluator, proposals.components)
        # a posterior narrower than the grid's spacing (huge counts): draws follow it instead
        if min(effective_sample_size(*grid, a) for a in proposals.anchors) < _MIN_GRID_ESS:
            grid = None
    if grid is not None:
        nodes, observed = grid
    else:
        nodes, observed = _nodes(evaluator, proposals.components, count, settings.mc_seed)
    result = Posterior(
        nodes,
        tuple(proposals.anchors),
        proposals.sigma_hat,
        proposals.width,
        int(nodes.weight.size),
        observed,
    )
    _CACHE[key] = (model, result, count)
    while len(_CACHE) > 4:
        _CACHE.popitem(last=False)
    return result


@dataclass(frozen=True, slots=True)
class PriorDraws:
    """Draws for prior expectations: ``E_pi[f | allowed] = sum_k r_k f_k / sum_k r_k``.

    ``r_k = exp(log_ratio[k])`` (self-normalised importance sampling over the allowed region);
    the same within each batch gives the estimates whose spread is the numerical uncertainty.

    Attributes:
        signal: S_i at each draw, shape (k, bins) (every bin, none folded).
        background: B_i at each draw, shape (k, bins).
        log_ratio: ``ln pi(theta) - ln q(theta)`` (prior over the proposal mixture, up to one
            constant), ``-inf`` outside the allowed region, shape (k,).
        batch: Batch of each draw (:data:`BATCHES` batches), shape (k,).
    """

    signal: Array
    background: Array
    log_ratio: Array
    batch: NDArray[np.int64]


def _prior_proposal(evaluator: Evaluator) -> _Proposal:
    """A Student-t matched to the priors' means and widths (the defensive component)."""
    mean = np.array([p.mean for p in evaluator.priors], dtype=np.float64)
    width = np.array([p.width for p in evaluator.priors], dtype=np.float64)
    width = np.where(np.isfinite(width) & (width > 0), width, 1.0)
    return _proposal(mean, np.diag(1.0 / width**2))


def prior_draws(model: GenericModel, settings: Settings, samples: int | None = None) -> PriorDraws:
    """Draws for expectations over the nuisance prior at POI 0, where the data put the posterior.

    The proposal is a defensive mixture: Student-t components at the posterior mode(s) at POI 0
    (:func:`dhstat.stats.laplace.fit`, with the further modes of piecewise interpolations) and one
    matched to the priors, in equal parts (balance heuristic). So an integrand far in the priors'
    tails (a count far above the background: the hybrid p-value) and one spread like the prior
    are both estimated with a bounded variance.

    Example:
        >>> from dhstat.stats.generic import GenericModel, Settings
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=40, signal=1.0, backgrounds={"b": 2.0},
        ...                    background_shifts={"b": {"x": 0.5}})
        >>> draws = prior_draws(GenericModel.from_spec(spec), Settings(), samples=2000)
        >>> draws.background.shape[1], int(draws.batch.max()) + 1
        (1, 10)
    """
    count = settings.is_samples if samples is None else samples
    evaluator = Evaluator(model)
    _check_possible(evaluator)
    start = np.array([p.mean for p in evaluator.priors], dtype=np.float64)
    mode = fit(evaluator, start, sigma=0.0)
    components = [_proposal(mode.theta, mode.hessian, mode.gradient), _prior_proposal(evaluator)]
    components[1:1] = [
        _proposal(other.theta, other.hessian, other.gradient)
        for other in _other_modes(evaluator, mode, 0.0)
    ]
    per = _per_proposal(count, len(components))
    draws, batch = [], []
    for b in range(BATCHES):
        for j, proposal in enumerate(components):
            draws.append(_draw(proposal, task_rng(settings.mc_seed, b, j), per))
            batch.append(np.full(per, b, dtype=np.int64))
    theta = np.concatenate(draws)
    log_q = special.logsumexp(np.stack([_log_t(p, theta) for p in components]), axis=0)
    log_ratio = evaluator.log_prior(theta) - log_q
    inside = np.isfinite(log_ratio)
    signal = np.zeros((theta.shape[0], model.n_bins))
    background = np.zeros_like(signal)
    if inside.any():
        signal[inside], background[inside] = evaluator.rates(theta[inside])
    finite: NDArray[np.bool_] = np.asarray(
        np.isfinite(signal).all(axis=1) & np.isfinite(background).all(axis=1)
    )
    scale = np.abs(np.where(finite[:, None], signal, 0.0)).max()
    scale += np.abs(np.where(finite[:, None], background, 0.0)).max()
    eps = 1e-13 * scale
    with np.errstate(invalid="ignore"):
        allowed = inside & finite & (signal >= -eps).all(axis=1) & (background >= -eps).all(axis=1)
    if not allowed.any():
        raise InputError(
            model.source, "(priors)", "nuisance priors with a non-empty allowed region"
        )
    signal = np.where(allowed[:, None], np.maximum(signal, 0.0), 0.0)
    background = np.where(allowed[:, None], np.maximum(background, 0.0), 0.0)
    log_ratio = np.where(allowed, log_ratio, -np.inf)
    return PriorDraws(signal, background, log_ratio, np.concatenate(batch))


def effective_sample_size(nodes: GenericNodes, observed: Array, sigma: float) -> float:
    """Kish's effective sample size of the posterior weights at one POI value.

    Example:
        >>> nodes = GenericNodes(np.ones((4, 1)), np.ones((4, 1)), np.full(4, 0.25),
        ...                      np.zeros(4, dtype=np.int64), "importance-sampling", ())
        >>> effective_sample_size(nodes, np.array([1.0]), 1.0)
        4.0
    """
    mu = nodes.background + sigma * nodes.signal
    ll = _core.log_pmf(observed[None, :], mu).sum(axis=1) + nodes.log_weights()
    ll = ll[np.isfinite(ll)]
    if not ll.size:
        return 0.0
    p = np.exp(ll - ll.max())
    p /= p.sum()
    return float(1.0 / (p * p).sum())
