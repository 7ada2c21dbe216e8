"""Reinterpretation: limits on the cross section of a model the analysis did not consider.

Per-window efficiencies of the new model
(:func:`dhstat.interpretation.model_points.read_efficiencies`, or
:func:`dhstat.interpretation.efficiencies.efficiencies_from_events` from truth-level LHE events
through dhstat's detector simulation and selection) replace eps in each window's likelihood
(:func:`dhstat.interpretation.likelihoods.rescale_signal`); the stats engine gives the limits, and
one window per model point is reported by :data:`SELECTION_RULE` (best expected limit, not looking
at the data). :func:`dhstat.interpretation.patches.patchsets` writes pyhf patchsets that do the
same replacement in the published workspaces.

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> spec = window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})
    >>> ws = WindowSet.from_specs([spec, spec], ids=["1", "2"])
    >>> point = ModelPoint("p", {}, np.array([1, 2]), np.array([0.1, 0.2]), np.zeros(2))
    >>> result = reinterpret(ws, [point], luminosity_fb=10.0)[0]
    >>> result.window, round(float(result.observed[result.chosen]), 4)  # ln(10) / (0.2 * 10)
    (2, 1.1513)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.interpretation.likelihoods import (
    expected_counts,
    rescale_signal,
    window_limits,
    with_counts,
)
from dhstat.interpretation.model_points import ModelPoint
from dhstat.interpretation.published import PublishedWindows
from dhstat.provenance import provenance
from dhstat.stats.model import WindowSet

__all__ = ["SELECTION_RULE", "PointLimit", "reinterpret", "reinterpretation_document"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


#: The rule that picks one window per model point (recorded in every reinterpretation output).
SELECTION_RULE = (
    "per model point, among the windows whose efficiency is at least min_relative_efficiency "
    "times the point's largest window efficiency, the window with the smallest expected upper "
    "limit on the model's cross section; expected = the limit for the median background-only "
    "count N = median of Poisson(B) with B the window's nominal background (the observed counts "
    "are not used to choose)"
)


@dataclass(frozen=True, slots=True)
class PointLimit:
    """Limits on one model point's cross section.

    Attributes:
        point: The model point.
        candidates: Window ids considered (efficiency above the relative threshold).
        efficiency: Efficiency in each candidate window.
        efficiency_error: Its uncertainty.
        expected: Expected upper limit [fb] per candidate (median background-only count).
        observed: Observed upper limit [fb] per candidate.
        chosen: Index into ``candidates`` of the window with the smallest expected limit (-1: none).
    """

    point: ModelPoint
    candidates: NDArray[np.int64]
    efficiency: Array
    efficiency_error: Array
    expected: Array
    observed: Array
    chosen: int

    @property
    def window(self) -> int | None:
        """Id of the chosen window (``None`` if the model has no efficiency in any window)."""
        return int(self.candidates[self.chosen]) if self.chosen >= 0 else None


def _candidates(point: ModelPoint, min_relative_efficiency: float) -> NDArray[np.int64]:
    """Positions in ``point.windows`` of its candidate windows (efficiency above the threshold)."""
    eff = point.efficiency
    top = float(eff.max()) if eff.size else 0.0
    return np.flatnonzero((eff > 0) & (eff >= min_relative_efficiency * top))


def _pairs(
    window_set: WindowSet, points: Sequence[ModelPoint], per_point: Sequence[NDArray[np.int64]]
) -> tuple[list[int], list[float], list[float]]:
    """Row in ``window_set``, efficiency and its error of every (point, candidate window) pair.

    Raises:
        InputError: a candidate window is not in ``window_set``.
    """
    row_of = {int(i): r for r, i in enumerate(window_set.ids)}
    pair_row: list[int] = []
    pair_eff: list[float] = []
    pair_err: list[float] = []
    for point, keep in zip(points, per_point, strict=True):
        for j in keep:
            window = int(point.windows[j])
            if window not in row_of:
                raise InputError(
                    None, f"point {point.name}", "windows of the workspace set", got=window
                )
            pair_row.append(row_of[window])
            pair_eff.append(float(point.efficiency[j]))
            pair_err.append(float(point.efficiency_error[j]))
    return pair_row, pair_eff, pair_err


def _point_limits(
    points: Sequence[ModelPoint],
    per_point: Sequence[NDArray[np.int64]],
    expected: Array,
    observed: Array,
) -> tuple[PointLimit, ...]:
    """Split the pairs' limits by point and choose each point's window (:data:`SELECTION_RULE`)."""
    results = []
    start = 0
    for point, keep in zip(points, per_point, strict=True):
        stop = start + keep.size
        exp, obs = expected[start:stop], observed[start:stop]
        finite = np.isfinite(exp)
        chosen = int(np.argmin(np.where(finite, exp, np.inf))) if finite.any() else -1
        results.append(
            PointLimit(
                point=point,
                candidates=point.windows[keep],
                efficiency=point.efficiency[keep],
                efficiency_error=point.efficiency_error[keep],
                expected=exp,
                observed=obs,
                chosen=chosen,
            )
        )
        start = stop
    return tuple(results)


def reinterpret(
    window_set: WindowSet,
    points: Sequence[ModelPoint],
    *,
    luminosity_fb: float,
    cl: float = 0.9,
    prior: str = "flat",
    sigma_min: float = 0.1,
    min_relative_efficiency: float = 0.1,
) -> tuple[PointLimit, ...]:
    """Upper limits on the cross section of each model point, per window and for the chosen window.

    Every (point, candidate window) pair becomes one window likelihood with the point's signal
    (:func:`rescale_signal`), and the stats engine computes all observed and expected limits at
    once. The window reported per point follows :data:`SELECTION_RULE`.

    Args:
        window_set: The published windows (``WindowSet.from_specs`` of the workspaces; ids are the
            window ids as strings).
        points: The model points.
        luminosity_fb: L of the workspaces (signal yield per unit POI = efficiency * L).
        cl: Credibility level.
        prior: ``"flat"`` or ``"log"``.
        sigma_min: Lower end of the log prior [fb].
        min_relative_efficiency: Candidate windows need at least this fraction of the point's
            largest efficiency.

    Raises:
        InputError: a point has a candidate window that is not in ``window_set``.
    """
    per_point = [_candidates(point, min_relative_efficiency) for point in points]
    pair_row, pair_eff, pair_err = _pairs(window_set, points, per_point)
    observed = expected = np.empty(0)
    if pair_row:
        sub = window_set.subset(pair_row)
        pairs = rescale_signal(
            sub, np.array(pair_eff) * luminosity_fb, np.array(pair_err) * luminosity_fb
        )
        observed = window_limits(pairs, cl=cl, prior=prior, sigma_min=sigma_min)
        at_median = with_counts(pairs, expected_counts(pairs))
        expected = window_limits(at_median, cl=cl, prior=prior, sigma_min=sigma_min)
    return _point_limits(points, per_point, expected, observed)


def _limit(value: float) -> float | None:
    """``value`` as a JSON number, ``None`` if it is not finite."""
    return float(value) if math.isfinite(value) else None


def _point_row(result: PointLimit) -> dict[str, Any]:
    """One model point of ``reinterpretation.json``: the chosen window and every candidate."""
    k = result.chosen
    return {
        "name": result.point.name,
        "parameters": {key: float(v) for key, v in result.point.parameters.items()},
        "window": result.window,
        "efficiency": float(result.efficiency[k]) if k >= 0 else None,
        "expected_ul_fb": _limit(float(result.expected[k])) if k >= 0 else None,
        "observed_ul_fb": _limit(float(result.observed[k])) if k >= 0 else None,
        "candidates": [
            {
                "window": int(result.candidates[j]),
                "efficiency": float(result.efficiency[j]),
                "efficiency_error": float(result.efficiency_error[j]),
                "expected_ul_fb": _limit(float(result.expected[j])),
                "observed_ul_fb": _limit(float(result.observed[j])),
            }
            for j in range(result.candidates.size)
        ],
    }


def reinterpretation_document(
    published: PublishedWindows,
    model: str,
    limits: Sequence[PointLimit],
    *,
    cl: float,
    prior: str,
    sigma_min: float,
    min_relative_efficiency: float,
    efficiencies: str | None = None,
    events: Sequence[str] = (),
    patches: tuple[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The ``reinterpretation.json`` document (schema ``reinterpretation``)."""
    points = [_point_row(result) for result in limits]
    return {
        "schema_version": "1.0.0",
        **provenance(),
        "model": model,
        "source": {
            "workspaces": str(published.directory),
            "index_sha256": published.index_sha256,
            "efficiencies": efficiencies,
            "events": list(events),
        },
        "cross_section_note": (
            "sigma is the cross section the model's efficiencies are normalised to (efficiency = "
            "selected events in the window / all generated events); for LHE input that is the "
            "cross section of the generated sample (ISR-inclusive if the generator included ISR)"
        ),
        "credibility": cl,
        "prior": prior,
        "sigma_min": sigma_min,
        "luminosity_fb": published.luminosity_fb,
        "rule": SELECTION_RULE,
        "min_relative_efficiency": min_relative_efficiency,
        "points": points,
        "patches": (
            {"directory": patches[0], "files": list(patches[1])} if patches is not None else None
        ),
    }
