"""What the interpretation reads from a scan's ``results.json``: window model, masses, settings.

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=1, signal=2.0, backgrounds={"b": 1.0})], ids=["7"])
    >>> results = {"window_model": ws.to_dict(), "windows": [{"id": 7, "ma": 5.0, "mh": 2.0}]}
    >>> inputs = scan_inputs(results)
    >>> inputs.ids.tolist(), inputs.ma.tolist(), inputs.cl, inputs.sigma_min
    ([7], [5.0], 0.9, 0.1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats.model import WindowSet

__all__ = ["ScanInputs", "scan_inputs"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def _first_key(mapping: Mapping[str, Any], *paths: str) -> Any:
    """The value at the first dotted ``path`` present in ``mapping`` (``None`` if none is)."""
    for path in paths:
        node: Any = mapping
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                node = None
                break
            node = node[part]
        if node is not None:
            return node
    return None


@dataclass(frozen=True, slots=True)
class ScanInputs:
    """What the interpretation takes from a scan's ``results.json``.

    Attributes:
        window_set: The per-window likelihoods (``window_model``).
        ids: Window ids (integers), aligned with ``window_set``.
        ma: M_A' per window [GeV].
        mh: M_h' per window [GeV].
        cl: Credibility level of the scan's limits.
        sigma_min: Lower end of the log prior [fb].
    """

    window_set: WindowSet
    ids: NDArray[np.int64]
    ma: Array
    mh: Array
    cl: float
    sigma_min: float


def scan_inputs(
    results: Mapping[str, Any],
    *,
    source: str | os.PathLike[str] | None = None,
    cl: float = 0.9,
    sigma_min: float = 0.1,
) -> ScanInputs:
    """Read the window model, masses and limit settings from a ``results.json`` document.

    Args:
        results: The ``results.json`` document of a scan.
        source: Its path (for error messages).
        cl: Credibility level if the document records none (``[stats] cl``).
        sigma_min: Lower end of the log prior [fb] if the document records none.

    Raises:
        InputError: the document has no ``window_model`` or a window without masses.
    """
    model = results.get("window_model")
    if not isinstance(model, Mapping):
        raise InputError(source, "window_model", "the per-window likelihood table of the scan")
    try:
        window_set = WindowSet.from_dict(model)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(source, "window_model", f"a valid window model ({error})") from None
    rows = results.get("windows")
    if not isinstance(rows, Sequence):
        raise InputError(source, "windows", "a list of windows with id, ma, mh")
    masses: dict[str, tuple[float, float]] = {}
    for position, row in enumerate(rows):
        try:
            masses[str(row["id"])] = (float(row["ma"]), float(row["mh"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(source, f"windows[{position}]", "id, ma and mh") from None
    missing = [i for i in window_set.ids if i not in masses]
    if missing:
        raise InputError(source, "windows", f"an entry for window {missing[0]} of window_model")
    recorded_cl = _first_key(results, "cl", "settings.cl", "limits.cl") or cl
    recorded_min = _first_key(results, "sigma_min", "settings.sigma_min", "limits.sigma_min")
    return ScanInputs(
        window_set=window_set,
        ids=np.array([int(i) for i in window_set.ids], dtype=np.int64),
        ma=np.array([masses[i][0] for i in window_set.ids], dtype=np.float64),
        mh=np.array([masses[i][1] for i in window_set.ids], dtype=np.float64),
        cl=float(recorded_cl),
        sigma_min=float(recorded_min if recorded_min is not None else sigma_min),
    )
