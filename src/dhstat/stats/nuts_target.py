"""The log posterior that :mod:`dhstat.stats.nuts` samples, on R^n, written with pyhf's jax backend.

A point ``y`` of R^n is ``(y_poi, z_1 ... z_k)``. Each coordinate maps to its parameter by a
smooth bijection chosen from the parameter's prior (:class:`dhstat.stats.priors.Prior`), scaled so
that one unit of ``z`` is about one prior width near the prior's centre:

* Gaussian prior, no bound: ``x = mean + width z`` (log-Jacobian ``ln width``);
* bounded below (truncated Gaussian of a multiplicative factor, Gamma of a shapesys):
  ``x = lower + c exp(k z)`` with ``c = mean - lower`` and ``k = width / c`` (log-Jacobian
  ``ln width + k z``);
* flat on [lower, upper] (free parameters): ``x = lower + (upper - lower) logistic(z)``;
* the POI: ``sigma = sigma_max logistic(y_poi)`` (flat prior), or
  ``ln sigma = ln sigma_min + ln(sigma_max / sigma_min) logistic(y_poi)`` (log prior).

The potential energy is minus the sum of the main model's Poisson terms, the priors' log
densities and the log-Jacobians; it is ``+inf`` where the truncation convention gives prior weight
zero. pyhf's model is built and traced with the jax backend set only inside
:func:`jax_backend`, which restores the previous backend on leaving.

Example:
    >>> import pytest; _ = pytest.importorskip("numpyro")  # the optional dependency
    >>> libs = libraries()
    >>> from dhstat.stats.model import window_spec
    >>> model = GenericModel.from_spec(window_spec(n=3, signal=1.0, backgrounds={"b": 1.0}))
    >>> with jax_backend(libs):
    ...     target = Target.build(model, "flat", 0.5, 100.0, libs)
    ...     energy = float(target.potential(libs.jnp.zeros(1)))
    >>> round(energy, 6) == round(-(3 * math.log(51.0) - 51.0) - math.log(25.0), 6)
    True
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from dhstat.errors import InputError
from dhstat.stats.checks import quiet_pyhf
from dhstat.stats.generic import GenericModel
from dhstat.stats.priors import Prior

__all__ = ["DEPENDENCY", "SAMPLER", "Libraries", "Target", "jax_backend", "libraries"]

Array = NDArray[np.float64]

#: The sampler's name in messages (the command-line option that asks for it).
SAMPLER = "--sampler nuts"
#: How to install the optional dependency of the sampler.
DEPENDENCY = "pip install 'dhstat[nuts]'"

#: Codes of the maps from R to a parameter's range.
_AFFINE, _EXPONENTIAL, _LOGISTIC = 0, 1, 2
#: Largest number of attempts to find a starting point of finite density per chain.
_START_TRIES = 30


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Libraries:
    """The optional modules (typed ``Any``: they may be absent when the package is checked)."""

    jax: Any
    jnp: Any
    infer: Any
    pyhf: Any


def libraries() -> Libraries:
    """jax, jax.numpy, numpyro.infer and pyhf, with jax in double precision.

    Raises:
        InputError: jax or numpyro is not installed (one line naming the install command).
    """
    try:
        jax = importlib.import_module("jax")
        infer = importlib.import_module("numpyro.infer")
    except ImportError as error:
        raise InputError(
            SAMPLER,
            "optional dependency",
            f"jax and numpyro installed ({DEPENDENCY})",
            got=f"no module {error.name}",
        ) from None
    jax.config.update("jax_enable_x64", True)  # pyhf's jax backend sets it too
    pyhf = importlib.import_module("pyhf")
    return Libraries(jax, importlib.import_module("jax.numpy"), infer, pyhf)


@contextlib.contextmanager
def jax_backend(libs: Libraries) -> Iterator[None]:
    """Set pyhf's jax backend (64-bit) inside the block; the previous backend and optimizer after it."""
    previous = libs.pyhf.get_backend()
    libs.pyhf.set_backend("jax", precision="64b")
    try:
        yield
    finally:
        libs.pyhf.set_backend(*previous)


def _maps(prior_list: tuple[Prior, ...]) -> dict[str, Array]:
    """Per nuisance component: map code, offset, scale, rate, and prior code/mean/width/tau."""
    rows = []
    for p in prior_list:
        if p.kind == "flat":
            rows.append((_LOGISTIC, p.lower, p.upper - p.lower, 0.0))
        elif p.kind == "gamma" or math.isfinite(p.lower):
            lower = 0.0 if p.kind == "gamma" else p.lower
            c = max(p.mean - lower, p.width)
            rows.append((_EXPONENTIAL, lower, c, p.width / c))
        else:
            rows.append((_AFFINE, p.mean, p.width, 0.0))
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    kinds = {"normal": 0, "gamma": 1, "flat": 2}
    return {
        "map": table[:, 0],
        "offset": table[:, 1],
        "scale": table[:, 2],
        "rate": table[:, 3],
        "prior": np.array([kinds[p.kind] for p in prior_list], dtype=np.float64),
        "mean": np.array([p.mean for p in prior_list], dtype=np.float64),
        "width": np.array([p.width for p in prior_list], dtype=np.float64),
        "tau": np.array([p.tau for p in prior_list], dtype=np.float64),
    }


@dataclass(frozen=True, slots=True)
class Target:
    """The potential energy on R^n of one model, and the map of its first coordinate to the POI.

    Attributes:
        potential: ``y -> -ln posterior density`` in R^n (a jax function, ``+inf`` outside).
        dim: n (1 + the number of nuisance components).
        prior: ``"flat"`` or ``"log"`` (the POI prior).
        sigma_min: Lower end of the log prior.
        sigma_max: Upper end of the POI prior.
        start: A point of finite density to start the search for the mode from.
    """

    potential: Callable[[Any], Any]
    dim: int
    prior: str
    sigma_min: float
    sigma_max: float
    start: Array

    @classmethod
    def build(
        cls, model: GenericModel, prior: str, sigma_min: float, sigma_max: float, libs: Libraries
    ) -> Target:
        """The target of ``model`` (call inside :func:`jax_backend`)."""
        jnp, nn = libs.jnp, libs.jax.nn
        with quiet_pyhf():
            pyhf_model = libs.pyhf.Workspace(dict(model.spec)).model(batch_size=2)
        base = np.tile(model.init, (2, 1))
        base[:, model.poi_index] = (0.0, 1.0)
        index = np.asarray(model.parameter_index, dtype=np.int64)
        m = {k: jnp.asarray(v) for k, v in _maps(model.priors).items()}
        n = jnp.asarray(model.observed)
        nominal = np.asarray(pyhf_model.main_model.expected_data(jnp.asarray(base)))
        eps = 1e-13 * float(np.abs(nominal).max(initial=0.0) + 1e-300)
        if prior == "flat":
            poi_offset, poi_span = 0.0, sigma_max
        else:
            poi_offset, poi_span = math.log(sigma_min), math.log(sigma_max / sigma_min)

        def potential(y: Any) -> Any:
            y0, z = y[0], y[1:]
            log_j0 = math.log(poi_span) + nn.log_sigmoid(y0) + nn.log_sigmoid(-y0)
            u = poi_offset + poi_span * nn.sigmoid(y0)
            sigma = u if prior == "flat" else jnp.exp(u)
            grows = jnp.where(m["map"] == _EXPONENTIAL, m["rate"] * z, 0.0)
            x = jnp.where(
                m["map"] == _AFFINE,
                m["offset"] + m["scale"] * z,
                jnp.where(
                    m["map"] == _EXPONENTIAL,
                    m["offset"] + m["scale"] * jnp.exp(grows),
                    m["offset"] + m["scale"] * nn.sigmoid(z),
                ),
            )
            log_j = jnp.where(
                m["map"] == _LOGISTIC,
                jnp.log(m["scale"]) + nn.log_sigmoid(z) + nn.log_sigmoid(-z),
                jnp.log(m["width"]) + grows,
            )
            positive = jnp.where(m["prior"] == 1, x, 1.0)
            log_prior = jnp.where(
                m["prior"] == 0,
                -0.5 * ((x - m["mean"]) / m["width"]) ** 2,
                jnp.where(m["prior"] == 1, m["tau"] * (jnp.log(positive) - positive), 0.0),
            )
            rates = pyhf_model.main_model.expected_data(jnp.asarray(base).at[:, index].set(x))
            b, s = rates[0], rates[1] - rates[0]
            allowed = jnp.all(b >= -eps) & jnp.all(s >= -eps)
            nu = jnp.maximum(b, 0.0) + sigma * jnp.maximum(s, 0.0)
            possible = allowed & jnp.all((nu > 0) | (n == 0))
            safe = jnp.where(nu > 0, nu, 1.0)
            log_like = jnp.sum(jnp.where(n > 0, n * jnp.log(safe), 0.0) - nu)
            total = log_like + jnp.sum(log_prior) + jnp.sum(log_j) + log_j0
            return jnp.where(possible, -total, jnp.inf)

        start = np.zeros(1 + index.size)
        signal = float(np.sum(nominal[1] - nominal[0]))
        excess = math.sqrt(float(np.sum(model.observed)) + 1.0) + 1.0
        guess = excess / signal if signal > 0 else 0.01 * sigma_max
        start[0] = cls._poi_coordinate(guess, prior, sigma_min, sigma_max)
        return cls(potential, 1 + int(index.size), prior, sigma_min, sigma_max, start)

    @staticmethod
    def _poi_coordinate(sigma: float, prior: str, sigma_min: float, sigma_max: float) -> float:
        """The coordinate of a POI value (clipped into the open prior range)."""
        if prior == "flat":
            fraction = sigma / sigma_max
        else:
            fraction = math.log(sigma / sigma_min) / math.log(sigma_max / sigma_min)
        fraction = min(max(fraction, 1e-6), 0.5)
        return float(special.logit(fraction))

    def poi(self, y0: Array) -> Array:
        """POI values of first coordinates ``y0`` (any shape).

        Example:
            >>> target = Target(lambda y: y, 1, "flat", 0.5, 10.0, np.zeros(1))
            >>> target.poi(np.array([0.0])).tolist()
            [5.0]
        """
        fraction = special.expit(np.asarray(y0, dtype=np.float64))
        if self.prior == "flat":
            out: Array = self.sigma_max * fraction
            return out
        span = math.log(self.sigma_max / self.sigma_min)
        values: Array = self.sigma_min * np.exp(span * fraction)
        return values

    def initial_points(self, rng: np.random.Generator, chains: int, libs: Libraries) -> Array:
        """One start per chain: the mode on R^n plus a uniform jitter in [-1, 1] per coordinate.

        The mode is found by L-BFGS from :attr:`start` (the start itself if that fails); the
        jitter is halved until the density is finite there (the truncated region).
        """
        value_and_grad = libs.jax.jit(libs.jax.value_and_grad(self.potential))

        def fun(y: Array) -> tuple[float, Array]:
            value, grad = value_and_grad(libs.jnp.asarray(y))
            return float(value), np.asarray(grad, dtype=np.float64)

        best = optimize.minimize(fun, self.start, jac=True, method="L-BFGS-B")
        centre = np.asarray(best.x, dtype=np.float64)
        if not np.isfinite(fun(centre)[0]):
            centre = self.start.copy()
        points = np.empty((chains, self.dim))
        for c in range(chains):
            jitter = rng.uniform(-1.0, 1.0, self.dim)
            for _ in range(_START_TRIES):
                if np.isfinite(fun(centre + jitter)[0]):
                    break
                jitter = 0.5 * jitter
            points[c] = centre + jitter
        return points
