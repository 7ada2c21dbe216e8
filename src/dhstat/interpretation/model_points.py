"""A new model's points and their per-window efficiencies: the ``efficiencies.json`` format.

Example:
    >>> point = ModelPoint("p1", {"ma": 5.0}, np.array([3]), np.array([0.2]), np.array([0.01]))
    >>> efficiencies_document("toy", [point])["model"]
    'toy'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.jsonio import read_json

__all__ = ["ModelPoint", "efficiencies_document", "read_efficiencies"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ModelPoint:
    """One point of a new model: its signal efficiency in each window.

    Attributes:
        name: Identifier (letters, digits, ``_.-``).
        parameters: Model parameters (e.g. masses [GeV]); written back unchanged.
        windows: Window ids with a non-zero efficiency.
        efficiency: Signal efficiency per window (selected, inside the window, C_eta cut) over all
            generated events of the model, i.e. relative to the cross section the model quotes.
        efficiency_error: Its MC statistical uncertainty (0 if not known).
    """

    name: str
    parameters: Mapping[str, float]
    windows: NDArray[np.int64]
    efficiency: Array
    efficiency_error: Array


def efficiencies_document(
    model: str, points: Sequence[ModelPoint], *, note: str = ""
) -> dict[str, Any]:
    """The ``efficiencies.json`` document (schema ``efficiencies``) of ``points``.

    Example:
        >>> point = ModelPoint("p1", {"ma": 5.0}, np.array([3]), np.array([0.2]), np.array([0.01]))
        >>> efficiencies_document("toy", [point])["points"][0]["efficiencies"]
        [{'window': 3, 'efficiency': 0.2, 'error': 0.01}]
    """
    return {
        "schema_version": "1.0.0",
        "model": model,
        "note": note,
        "points": [
            {
                "name": p.name,
                "parameters": {k: float(v) for k, v in p.parameters.items()},
                "efficiencies": [
                    {"window": int(w), "efficiency": float(e), "error": float(de)}
                    for w, e, de in zip(p.windows, p.efficiency, p.efficiency_error, strict=True)
                ],
            }
            for p in points
        ],
    }


def read_efficiencies(
    path: str | os.PathLike[str], *, window_ids: Sequence[int] | None = None
) -> tuple[str, tuple[ModelPoint, ...]]:
    """Read an efficiencies file: ``(model description, points)``.

    Raises:
        InputError: naming the file and the entry (JSON path) that is malformed, duplicated, or
            refers to a window that ``window_ids`` does not contain.
    """
    document = read_json(path, schema="efficiencies")
    known = None if window_ids is None else {int(i) for i in window_ids}
    names: set[str] = set()
    points = []
    for i, entry in enumerate(document["points"]):
        if entry["name"] in names:
            raise InputError(
                path, f"points.{i}.name", "a name not used by another point", got=entry["name"]
            )
        names.add(entry["name"])
        seen: set[int] = set()
        for j, item in enumerate(entry["efficiencies"]):
            window = int(item["window"])
            where = f"points.{i}.efficiencies.{j}.window"
            if window in seen:
                raise InputError(path, where, "each window at most once per point", got=window)
            if known is not None and window not in known:
                raise InputError(path, where, "a window id of the workspace set", got=window)
            seen.add(window)
        items = entry["efficiencies"]
        points.append(
            ModelPoint(
                name=entry["name"],
                parameters=dict(entry.get("parameters", {})),
                windows=np.array([int(x["window"]) for x in items], dtype=np.int64),
                efficiency=np.array([float(x["efficiency"]) for x in items], dtype=np.float64),
                efficiency_error=np.array(
                    [float(x.get("error", 0.0)) for x in items], dtype=np.float64
                ),
            )
        )
    return str(document["model"]), tuple(points)
