"""A new model's efficiency in each published window, from selected events.

:func:`window_efficiencies` counts weighted selected events inside each window's ellipse with
``C_eta`` below the window's cut; :func:`efficiencies_from_events` first runs truth-level events
(e.g. an LHE file, :mod:`dhstat.interpretation.lhe`) through dhstat's detector simulation and
selection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat import windows
from dhstat.errors import InputError
from dhstat.interpretation.model_points import ModelPoint

if TYPE_CHECKING:
    from dhstat.interpretation.lhe import LHEEvents

__all__ = ["efficiencies_from_events", "window_efficiencies"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def window_efficiencies(
    mrecoil2: ArrayLike,
    mmumu2: ArrayLike,
    ceta: ArrayLike,
    weight: ArrayLike,
    index: Mapping[str, Any],
    *,
    total_weight: float,
    total_weight2: float,
) -> tuple[NDArray[np.int64], Array, Array]:
    """Per-window efficiency of selected events: (window ids, efficiency, uncertainty).

    An event counts in a window if it lies inside the window's ellipse and ``C_eta < ceta_cut``
    (the windows of a workspace index). Efficiency = sum of the weights counted / ``total_weight``
    (the sum of the weights of all generated events, ``total_weight2`` the sum of their squares).
    The uncertainty is the weighted binomial one, ``sqrt(sum_in w^2 (1 - e)^2 + sum_out w^2 e^2) /
    W`` (``sum_out`` over every generated event not counted). Only windows with a non-zero
    efficiency are returned.

    Example:
        >>> index = {"windows": [{"id": 4, "center": [4.0, 25.0], "axes": [1.0, 0.5], "angle": 0.0,
        ...                       "ceta_cut": 0.9}]}
        >>> ids, eff, err = window_efficiencies([4.1, 4.2, 9.0], [25.0, 25.1, 25.0],
        ...     [0.5, 0.95, 0.1], [1.0, 1.0, 1.0], index, total_weight=4.0, total_weight2=4.0)
        >>> ids.tolist(), eff.tolist(), round(float(err[0]), 6)  # binomial sqrt(e (1 - e) / N)
        ([4], [0.25], 0.216506)
    """
    entries = index["windows"]
    geometry = windows.from_ellipses(
        [e["center"] for e in entries],
        [e["axes"] for e in entries],
        [e["angle"] for e in entries],
        ceta_cut=[e["ceta_cut"] for e in entries],
        ids=[e["id"] for e in entries],
    )
    x = np.asarray(mrecoil2, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    matrix = windows.membership(geometry, x, np.asarray(mmumu2, dtype=np.float64)).tocoo()
    cuts = np.asarray([e["ceta_cut"] for e in entries], dtype=np.float64)
    counted = np.asarray(ceta, dtype=np.float64)[matrix.row] < cuts[matrix.col]
    rows, cols = matrix.row[counted], matrix.col[counted]
    n_windows = len(entries)
    sum_w = np.bincount(cols, weights=w[rows], minlength=n_windows)
    sum_w2 = np.bincount(cols, weights=w[rows] ** 2, minlength=n_windows)
    eff = sum_w / total_weight
    variance = sum_w2 * (1 - eff) ** 2 + (total_weight2 - sum_w2) * eff**2
    error = np.sqrt(np.clip(variance, 0.0, None)) / total_weight
    keep = np.flatnonzero(sum_w > 0)
    ids = np.asarray([int(e["id"]) for e in entries], dtype=np.int64)
    return ids[keep], eff[keep], error[keep]


def efficiencies_from_events(
    events: LHEEvents,
    index: Mapping[str, Any],
    cfg: Mapping[str, Any],
    *,
    rng: np.random.Generator,
    name: str,
    parameters: Mapping[str, float] | None = None,
) -> ModelPoint:
    """A model point's window efficiencies from its truth-level events (e.g. an LHE file).

    The events go through dhstat's detector simulation (:func:`dhstat.simulation.detector.
    reconstruct`) and selection (:func:`dhstat.selection.select`); each window then counts the
    selected events inside its ellipse with ``C_eta`` below its cut. Event weights (the LHE weights)
    are normalised to a sum of 1, so the efficiency is relative to the cross section of the
    generated sample.

    Args:
        events: The model point's events in the lab frame (:func:`dhstat.interpretation.lhe.read`).
        index: The published workspace index (its windows' ellipses and C_eta cuts).
        cfg: Configuration, for the detector simulation and the selection (which take it).
        rng: Random numbers of the detector simulation.
        name: The point's name.
        parameters: The point's model parameters.

    Raises:
        InputError: the event weights do not have a positive sum.
    """
    # local import: start-up time (awkward and the simulation package)
    from dhstat import selection
    from dhstat.interpretation.lhe import to_truth
    from dhstat.simulation import detector

    truth = to_truth(events)
    reco = detector.reconstruct(truth, cfg=cfg, rng=rng)
    total = float(np.sum(events.weight))
    if not total > 0:
        raise InputError(
            events.source, "event weights", "a positive sum of event weights", got=total
        )
    weight = events.weight / total
    reco["weight"] = weight
    search = selection.select(reco, cfg, process="signal").search
    ids, eff, err = window_efficiencies(
        search["mrecoil2"], search["mmumu2"], search["ceta"], search["weight"], index,
        total_weight=1.0, total_weight2=float(np.sum(weight**2)),
    )  # fmt: skip
    return ModelPoint(
        name=name,
        parameters=dict(parameters or {}),
        windows=ids,
        efficiency=eff,
        efficiency_error=err,
    )
