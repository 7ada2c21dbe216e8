"""The selected signal points in the selected-events file, and reading them back for the windows.

:func:`write_selected_samples` writes the selected-events file of :mod:`dhstat.selection.selected`
(trees ``search``, ``control_mumugamma``, ``control_emu``) plus, when there are signal samples,
a tree ``signal``: the :data:`~dhstat.selection.VARIABLES` of every signal event passing the search
selection, with ``point`` (int32 index into the metadata list ``signal_points``), ``ma`` and
``mh`` [GeV]. Each entry of ``signal_points`` is ``{"sample", "ma", "mh", "generated_events",
"read", "selected"}``: a point with no selected event is still listed (its efficiency is 0).

:func:`read_signal_points` is the interface of the windows stage:
``read_signal_points(paths) -> [(ma, mh, columns, generated_events), ...]`` where ``columns`` are
the search-sample columns as the selection writes them (``mmumu2``, ``mrecoil2`` [GeV^2],
``ceta``, ``p_recoil``, ``theta_recoil``, ``phi_recoil``, ``pt_cm``, ``egamma_total``,
``weight``; float64), and the efficiency of a point is ``columns["weight"].sum() /
generated_events`` (``weight`` is the signal sample's own weight, 1 unless it declares one).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.samples.selecting import SamplesSelection
from dhstat.selection import VARIABLES, write_selected

__all__ = ["SIGNAL_TREE", "read_signal_points", "write_selected_samples"]

#: The tree of the selected signal events.
SIGNAL_TREE = "signal"

SignalPointData = tuple[float, float, dict[str, NDArray[np.float64]], float]


def __dir__() -> list[str]:
    return __all__


def write_selected_samples(path: str | Path, selection: SamplesSelection) -> None:
    """Write the selected-events file of a samples selection atomically (see the module docstring).

    Without signal points the file is exactly what :func:`dhstat.selection.write_selected` writes.
    """
    if not selection.signal:
        write_selected(path, selection.output)
        return
    columns: dict[str, list[NDArray[Any]]] = {name: [] for name in (*VARIABLES, "ma", "mh")}
    columns["point"] = []
    entries = []
    for k, point in enumerate(selection.signal):
        n = len(point.search["weight"])
        for name in VARIABLES:
            columns[name].append(np.asarray(point.search[name], dtype=np.float64))
        columns["ma"].append(np.full(n, point.ma))
        columns["mh"].append(np.full(n, point.mh))
        columns["point"].append(np.full(n, k, dtype=np.int32))
        entries.append(
            {
                "sample": point.sample,
                "ma": point.ma,
                "mh": point.mh,
                "generated_events": point.generated_events,
                "read": point.read,
                "selected": n,
            }
        )
    tree = {name: np.concatenate(parts) for name, parts in columns.items()}
    write_selected(
        path,
        selection.output,
        extra_trees={SIGNAL_TREE: tree},
        extra_metadata={"signal_points": entries},
    )


def _points(path: Path) -> list[dict[str, Any]]:
    meta = ntuples.read_metadata(path)
    points = meta.get("signal_points")
    expected = "signal points: a selected-events file of [[samples]] with signal samples"
    if not isinstance(points, list) or not points:
        raise InputError(path, "dhstat_metadata.signal_points", expected)
    for k, point in enumerate(points):
        ok = isinstance(point, dict) and all(
            isinstance(point.get(key), int | float) for key in ("ma", "mh", "generated_events")
        )
        if not ok or not point["generated_events"] > 0:
            raise InputError(path, f"dhstat_metadata.signal_points[{k}]", expected, got=point)
    return points


def read_signal_points(paths: Sequence[str | Path]) -> list[SignalPointData]:
    """The selected signal points of selected-events files, for the windows stage.

    Points with the same (ma, mh), in one file or several, are merged: their events are
    concatenated and their generated events added. Points come in order of first appearance.

    Returns:
        ``[(ma, mh, columns, generated_events), ...]``: masses [GeV], the search-sample columns
        of the selected events (:data:`~dhstat.selection.VARIABLES`, float64) and the events
        generated at the point (the efficiency is ``columns["weight"].sum() /
        generated_events``).

    Raises:
        InputError: a file is missing, unreadable, or holds no signal points.

    Example:
        >>> import tempfile, pathlib
        >>> from dhstat.samples.selecting import SelectedPoint
        >>> from dhstat.selection import SAMPLES, Cutflow, SelectionOutput
        >>> empty = {v: np.zeros(0) for v in VARIABLES}
        >>> search = {v: np.ones(2) for v in VARIABLES}
        >>> output = SelectionOutput({s: empty | {"process": np.zeros(0, np.int32)}
        ...     for s in SAMPLES}, {}, {}, "0" * 64, 8.34)
        >>> point = SelectedPoint("sig", 5.0, 1.0, 10, 10, search, Cutflow.empty())
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "selected.root"
        >>> write_selected_samples(path, SamplesSelection(output, (point,)))
        >>> [(ma, mh, len(c["weight"]), n) for ma, mh, c, n in read_signal_points([path])]
        [(5.0, 1.0, 2, 10.0)]
    """
    merged: dict[tuple[float, float], tuple[list[dict[str, NDArray[np.float64]]], float]] = {}
    for path in (Path(p) for p in paths):
        points = _points(path)
        arrays = ntuples.read_tree(path, SIGNAL_TREE, [*VARIABLES, "point"])
        index = np.asarray(arrays["point"], dtype=np.int64)
        if index.size and not (index.min() >= 0 and index.max() < len(points)):
            raise InputError(path, f"{SIGNAL_TREE}.point", f"indices into the {len(points)} points")
        for k, point in enumerate(points):
            mask = index == k
            columns = {name: np.asarray(arrays[name], np.float64)[mask] for name in VARIABLES}
            key = (float(point["ma"]), float(point["mh"]))
            parts, generated = merged.get(key, ([], 0.0))
            merged[key] = ([*parts, columns], generated + float(point["generated_events"]))
    return [
        (ma, mh, {name: np.concatenate([p[name] for p in parts]) for name in VARIABLES}, generated)
        for (ma, mh), (parts, generated) in merged.items()
    ]
