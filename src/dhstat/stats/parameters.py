"""The prior of every nuisance parameter of a pyhf model, and the user's fixes and overrides.

Constrained parameters take their constraint term as prior (:mod:`dhstat.stats.priors`): Gaussian
for normsys, histosys, lumi and staterror (truncated at 0 for the multiplicative ones), the Gamma
posterior of the Poisson auxiliary measurement for shapesys. Free parameters other than the POI
(normfactors, shapefactors) get a flat prior over their bounds in the workspace. ``fix`` removes
parameters (set to a value, as pyhf's ``fixed_params``); ``priors`` replaces a prior by
``("normal", mean, width)`` or ``("flat", lower, upper)``.

Example:
    >>> _override("alpha", ("flat", -2.0, 2.0), "ws.json").describe()
    {'name': 'alpha', 'kind': 'flat', 'lower': -2.0, 'upper': 2.0}
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats import priors
from dhstat.stats.priors import Prior

__all__ = ["MAX_COUNT", "PriorOverride", "build_priors"]

#: Largest yield or observed count accepted: beyond it the Poisson log-likelihood's dependence on
#: the POI is lost in double-precision rounding (``n ln mu`` carries an absolute error of about
#: ``1e-16 n ln mu``, 3e-5 at 1e10), so results would be silently wrong.
MAX_COUNT = 1e10

#: A prior chosen by the user for one parameter: ``("normal", mean, width)`` or
#: ``("flat", lower, upper)``.
PriorOverride = tuple[Literal["normal", "flat"], float, float]

_MULTIPLICATIVE = {"staterror", "lumi", "shapesys"}


def __dir__() -> list[str]:
    return __all__


def build_priors(
    config: Any,
    fix: dict[str, float],
    overrides: dict[str, PriorOverride],
    init: NDArray[np.float64],
    fixed: list[bool],
    modifier_type: dict[str, str],
    source: str,
) -> tuple[list[Prior], list[int]]:
    """The prior and parameter-vector position of every free nuisance component.

    ``init`` and ``fixed`` (pyhf's suggested values) are updated in place with ``fix``.
    """
    _apply_fix(config, fix, init, fixed, source)
    _check_override_names(config, overrides, source)
    bounds = config.suggested_bounds()
    prior_list: list[Prior] = []
    index: list[int] = []
    for name in config.par_order:
        if name == config.poi_name:
            continue
        pset = config.param_set(name)
        slot = config.par_slice(name)
        for i, position in enumerate(range(slot.start, slot.stop)):
            label = name if pset.n_parameters == 1 else f"{name}[{i}]"
            if fixed[position]:
                continue
            chosen = overrides.get(label, overrides.get(name))
            if chosen is not None:
                prior = _override(label, chosen, source)
            else:
                kind = modifier_type.get(name)
                prior = _prior(pset, i, label, kind, bounds[position], source)
            prior_list.append(prior)
            index.append(position)
    return prior_list, index


def _apply_fix(
    config: Any, fix: dict[str, float], init: NDArray[np.float64], fixed: list[bool], source: str
) -> None:
    """Fix parameters (``name`` or ``name[i]``) in ``init`` and ``fixed``, in place."""
    for key, value in fix.items():
        name, _, rest = key.partition("[")
        if name not in config.par_order:
            raise InputError(source, f"fix {key}", "the name of a parameter of the model")
        if name == config.poi_name:
            raise InputError(source, f"fix {key}", "a parameter other than the POI")
        if not math.isfinite(value):
            raise InputError(source, f"fix {key}", "a finite value", got=value)
        slot = config.par_slice(name)
        positions = list(range(slot.start, slot.stop))
        if rest:
            i = int(rest.rstrip("]")) if rest.rstrip("]").isdigit() else -1
            if not 0 <= i < len(positions):
                raise InputError(source, f"fix {key}", f"an index below {len(positions)}")
            positions = [positions[i]]
        for position in positions:
            init[position] = float(value)
            fixed[position] = True


def _check_override_names(config: Any, overrides: dict[str, PriorOverride], source: str) -> None:
    for key in overrides:
        name = key.partition("[")[0]
        if name not in config.par_order or name == config.poi_name:
            raise InputError(
                source, f"prior of {key}", "the name of a parameter other than the POI"
            )


def _override(label: str, chosen: PriorOverride, source: str) -> priors.Prior:
    """The prior chosen by the user for one parameter."""
    try:
        kind, a, b = chosen
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        raise InputError(
            source, f"prior of {label}", "(normal, mean, width) or (flat, lower, upper)", got=chosen
        ) from None
    if kind == "normal" and math.isfinite(a) and 0 < b < math.inf:
        return priors.Prior(label, "normal", a, b)
    if kind == "flat" and math.isfinite(a) and math.isfinite(b) and a < b:
        return priors.Prior.flat(label, a, b)
    expected = "(normal, mean, width > 0) or (flat, lower, upper > lower), finite"
    raise InputError(source, f"prior of {label}", expected, got=chosen)


def _prior(
    pset: Any, i: int, label: str, modifier: str | None, bounds: Any, source: str
) -> priors.Prior:
    """The prior of component ``i`` of a pyhf parameter set: constraint term, or flat."""
    kind = type(pset).__name__
    if kind == "constrained_by_normal":
        mean = float(pset.auxdata[i])
        sigmas = getattr(pset, "sigmas", None)
        width = float(sigmas[i]) if sigmas is not None else 1.0
        lower = 0.0 if modifier in _MULTIPLICATIVE else -math.inf
        prior = priors.Prior(label, "normal", mean, width, lower=lower)
    elif kind == "constrained_by_poisson":
        tau = float(pset.factors[i])
        with np.errstate(all="ignore"):
            prior = priors.Prior(
                label, "gamma", (tau + 1) / tau, math.sqrt(tau + 1) / tau, 0.0, tau
            )
    else:  # a free parameter (normfactor, shapefactor): flat over its bounds
        lower, upper = (float(x) for x in bounds)
        if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
            expected = "finite bounds lower < upper (the flat prior of a free parameter)"
            raise InputError(source, f"bounds of {label}", expected, got=[lower, upper])
        prior = priors.Prior.flat(label, lower, upper)
    if not (abs(prior.mean) <= MAX_COUNT and 0 < prior.width <= MAX_COUNT):
        expected = f"a prior of mean and positive width at most {MAX_COUNT:.0e} in size"
        raise InputError(source, f"parameter {label}", expected, got=(prior.mean, prior.width))
    return prior
