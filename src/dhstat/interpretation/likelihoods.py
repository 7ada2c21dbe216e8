"""Window likelihoods for the interpretation: modified window sets and their upper limits.

Each window's likelihood is a row of a :class:`dhstat.stats.model.WindowSet`. The coupling limits
add the B(A' -> mu mu) uncertainty to it as a constrained signal modifier
(:func:`add_signal_uncertainty`); the reinterpretation replaces the signal by a new model's
(:func:`rescale_signal`) and evaluates it at the median background-only count
(:func:`expected_counts`, :func:`with_counts`). :func:`window_limits` runs the stats engine on
all windows at once.

Example:
    >>> from dhstat.stats.model import window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})])
    >>> round(float(window_limits(rescale_signal(ws, [2.0], [0.0]), cl=0.9)[0]), 4)  # ln(10) / 2
    1.1513
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.errors import InputError
from dhstat.stats.model import WindowSet

__all__ = [
    "add_signal_uncertainty",
    "expected_counts",
    "rescale_signal",
    "window_limits",
    "with_counts",
]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def add_signal_uncertainty(window_set: WindowSet, name: str, relative: float) -> WindowSet:
    """The window set with one more symmetric histosys on the signal (relative size ``relative``).

    This is how a constrained modifier ``name`` on the signal sample (``histosys`` with
    ``hi/lo = s0 (1 +- relative)``) enters each window's likelihood: a Gaussian smearing of the
    signal yield per unit POI, independent of every other parameter, truncated so that the signal
    stays non-negative (the stats engine's zero-truncation convention).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=1, signal=2.0, backgrounds={"mumu": 1.0})])
        >>> add_signal_uncertainty(ws, "br_mumu", 0.04).shifts[0].tolist()
        [[0.08, 0.0, 0.0]]
    """
    if name in window_set.parameters:
        msg = f"the window set already has a parameter named {name!r}"
        raise ValueError(msg)
    extra = np.zeros((len(window_set), 1, 3))
    extra[:, 0, 0] = relative * window_set.signal
    return WindowSet(
        ids=window_set.ids,
        n=window_set.n,
        signal=window_set.signal,
        stat_background=window_set.stat_background,
        other_background=window_set.other_background,
        parameters=(*window_set.parameters, name),
        shifts=np.concatenate([window_set.shifts, extra], axis=1),
        stat_width=window_set.stat_width,
        sigma_max=window_set.sigma_max,
        poi=window_set.poi,
    )


def window_limits(
    window_set: WindowSet, *, prior: str = "flat", cl: float = 0.9, sigma_min: float = 0.1
) -> Array:
    """Bayesian upper limits on the POI of every window, by the stats engine (vectorised).

    A thin wrapper of :func:`dhstat.stats.bayes.window_upper_limits` (each window's own POI range;
    no sigma_max-dependence check).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})])
        >>> round(float(window_limits(ws, cl=0.9)[0]), 4)  # ln(10)
        2.3026
    """
    from dhstat.stats import bayes  # local import: start-up time (scipy.optimize)

    if prior not in ("flat", "log"):
        raise InputError(None, "prior", "flat or log", got=prior)
    kind: Literal["flat", "log"] = "log" if prior == "log" else "flat"
    result = bayes.window_upper_limits(
        window_set, cl=cl, prior=kind, sigma_min=sigma_min, check=False
    )
    return np.asarray(result.upper_limit, dtype=np.float64)


def rescale_signal(
    window_set: WindowSet,
    signal: ArrayLike,
    signal_error: ArrayLike,
    *,
    mcstat: str = "mcstat_signal",
) -> WindowSet:
    """The windows with a new signal yield per unit POI (a new model's eps * L).

    The relative signal systematics of each window are kept (each histosys shift on the signal is
    scaled with the yield); the MC-statistics parameter ``mcstat`` is replaced by ``signal_error``
    (absolute, per unit POI). The POI range is scaled so that it spans the same number of signal
    events as before (``sigma_max * s_old / s_new``).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=1, signal=2.0, backgrounds={"b": 1.0},
        ...                    signal_shifts={"syst_detector": 0.1}, sigma_max=10.0)
        >>> new = rescale_signal(WindowSet.from_specs([spec]), [1.0], [0.05])
        >>> new.signal.tolist(), new.shifts[0, :, 0].round(12).tolist(), new.sigma_max.tolist()
        ([1.0], [0.05, 0.05], [20.0])
    """
    new = np.asarray(signal, dtype=np.float64).reshape(len(window_set))
    error = np.asarray(signal_error, dtype=np.float64).reshape(len(window_set))
    old = window_set.signal
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(old > 0, new / old, 0.0)
        smax = np.where(
            (old > 0) & (new > 0), window_set.sigma_max * old / new, window_set.sigma_max
        )
    parameters = window_set.parameters
    shifts = window_set.shifts.copy()
    shifts[:, :, 0] *= scale[:, None]
    if mcstat in parameters:
        shifts[:, parameters.index(mcstat), 0] = error
    else:
        parameters = (*parameters, mcstat)
        extra = np.zeros((len(window_set), 1, 3))
        extra[:, 0, 0] = error
        shifts = np.concatenate([shifts, extra], axis=1)
    return WindowSet(
        ids=window_set.ids,
        n=window_set.n,
        signal=new,
        stat_background=window_set.stat_background,
        other_background=window_set.other_background,
        parameters=parameters,
        shifts=shifts,
        stat_width=window_set.stat_width,
        sigma_max=smax,
        poi=window_set.poi,
    )


def expected_counts(window_set: WindowSet) -> NDArray[np.int64]:
    """Median of Poisson(B) per window (B = nominal total background): the 'expected' outcome.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=9, signal=1.0, backgrounds={"b": 3.2})])
        >>> expected_counts(ws).tolist()
        [3]
    """
    from scipy import stats  # local import: start-up time

    return np.asarray(stats.poisson.median(window_set.background), dtype=np.int64)


def with_counts(window_set: WindowSet, n: NDArray[np.int64]) -> WindowSet:
    """The windows with the observed counts replaced by ``n``."""
    return WindowSet(
        ids=window_set.ids,
        n=np.asarray(n, dtype=np.int64),
        signal=window_set.signal,
        stat_background=window_set.stat_background,
        other_background=window_set.other_background,
        parameters=window_set.parameters,
        shifts=window_set.shifts,
        stat_width=window_set.stat_width,
        sigma_max=window_set.sigma_max,
        poi=window_set.poi,
    )
