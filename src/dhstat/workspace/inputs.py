"""Reading the inputs of the workspaces stage: ``counts.json`` joined with ``windows.json``.

Value problems are reported per window (file, window id, field); structural problems by the
schemas ``counts`` and ``windows``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dhstat.errors import InputError
from dhstat.jsonio import read_json, sha256_file
from dhstat.processes import BACKGROUNDS
from dhstat.schemas import validate as validate_document
from dhstat.workspace.records import WindowInput

__all__ = ["join_inputs", "read_inputs"]


def __dir__() -> list[str]:
    return __all__


def _finite(value: Any, source: str, where: str, *, lower: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, where, "a number", got=value)
    number = float(value)
    if not math.isfinite(number) or number < lower:
        raise InputError(source, where, f"a finite number >= {lower:g}", got=value)
    return number


def _pair(value: Any, source: str, where: str) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise InputError(source, where, "a pair of numbers", got=value)
    return (
        _finite(value[0], source, f"{where}[0]", lower=-math.inf),
        _finite(value[1], source, f"{where}[1]", lower=-math.inf),
    )


def _leaves(node: Any) -> Iterable[list[Any]]:
    if isinstance(node, list):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _leaves(value)


def _row(node: Any, i: int) -> Any:
    if isinstance(node, list):
        return node[i]
    return {key: _row(value, i) for key, value in node.items()}


def _entries(document: Any, source: str) -> list[Mapping[str, Any]]:
    """The per-window objects of a document's ``windows``.

    ``windows`` is columnar (one list per key, nested objects of lists allowed, as in
    ``counts.json`` and ``windows.json``) or a list of objects.
    """
    entries = document.get("windows") if isinstance(document, Mapping) else None
    if isinstance(entries, Mapping):
        lengths = {len(leaf) for leaf in _leaves(entries)}
        if len(lengths) != 1:
            raise InputError(source, "windows", "columns of equal length (one entry per window)")
        return [_row(entries, i) for i in range(lengths.pop())]
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise InputError(source, "windows", "columns of values (one entry per window)")
    return entries


def _by_id(document: Any, source: str) -> dict[int, Mapping[str, Any]]:
    found: dict[int, Mapping[str, Any]] = {}
    for position, entry in enumerate(_entries(document, source)):
        window_id = entry.get("id")
        if isinstance(window_id, bool) or not isinstance(window_id, int) or window_id < 0:
            raise InputError(source, f"windows.id[{position}]", "an integer id >= 0", got=window_id)
        if window_id in found:
            raise InputError(source, f"window {window_id}", "unique window ids (duplicate id)")
        found[window_id] = entry
    return found


def join_inputs(
    counts: Mapping[str, Any],
    windows: Mapping[str, Any],
    *,
    counts_source: str | os.PathLike[str] = "<counts>",
    windows_source: str | os.PathLike[str] = "<windows>",
) -> tuple[float, tuple[WindowInput, ...]]:
    """Join a ``counts`` and a ``windows`` document (as read from JSON) window by window.

    Both documents are columnar (see ``schemas/counts.json`` and ``schemas/windows.json``). The
    counts give N, the backgrounds and the efficiency; the windows give the masses, the ellipse and
    the C_eta cut.

    Returns:
        The luminosity [fb^-1] and the windows in the order of the windows document.

    Raises:
        InputError: naming the file and the window: ids that do not match between the files,
            duplicate ids, negative or non-finite yields or errors, an efficiency outside [0, 1].

    Example:
        >>> counts = {"luminosity_fb": 8.0, "windows": {"id": [0], "n_observed": [2],
        ...     "background": {"mumu": {"yield": [1.5], "stat_error": [0.1]}},
        ...     "efficiency": [0.1], "efficiency_error": [0.01], "ceta_cut": [0.9]}}
        >>> windows = {"windows": {"id": [0], "ma": [5.0], "mh": [1.0], "center": [[1.0, 25.0]],
        ...     "axes": [[0.3, 0.02]], "angle": [0.0], "ceta_cut": [0.9]}}
        >>> lumi, (w,) = join_inputs(counts, windows)
        >>> lumi, w.background["mumu"], w.efficiency
        (8.0, (1.5, 0.1), 0.1)
    """
    c_src, w_src = str(counts_source), str(windows_source)
    luminosity = counts.get("luminosity_fb")
    luminosity = _finite(luminosity, c_src, "luminosity_fb")
    if luminosity <= 0:
        raise InputError(c_src, "luminosity_fb", "a positive luminosity", got=luminosity)
    by_window = _by_id(windows, w_src)
    by_count = _by_id(counts, c_src)
    missing = sorted(set(by_window) - set(by_count))
    if missing:
        raise InputError(c_src, f"window {missing[0]}", f"counts for every window of {w_src}")
    extra = sorted(set(by_count) - set(by_window))
    if extra:
        raise InputError(c_src, f"window {extra[0]}", f"only windows that {w_src} defines")
    order = _process_order(counts.get("processes"), c_src)
    result = [
        _window(window_id, geometry, by_count[window_id], c_src=c_src, w_src=w_src, order=order)
        for window_id, geometry in by_window.items()
    ]
    return luminosity, tuple(result)


def _process_order(processes: Any, source: str) -> Sequence[str] | None:
    """The counts' ``processes`` list (the order of the workspaces' background samples)."""
    if processes is None:
        return None
    if not isinstance(processes, list) or not all(isinstance(p, str) for p in processes):
        raise InputError(source, "processes", "a list of process names", got=processes)
    return processes


def _ordered(
    background: Mapping[str, tuple[float, float]], order: Sequence[str] | None
) -> dict[str, tuple[float, float]]:
    """``background`` in the counts' process order (processes it does not list after them).

    Without a ``processes`` list: the paper's processes first, the others sorted by name.
    """
    if order is None:
        paper = [p for p in BACKGROUNDS if p in background]
        order = [*paper, *sorted(set(background) - set(paper))]
    first = {p: background[p] for p in order if p in background}
    return first | {p: v for p, v in background.items() if p not in first}


def _window(
    window_id: int,
    geometry: Mapping[str, Any],
    count: Mapping[str, Any],
    *,
    c_src: str,
    w_src: str,
    order: Sequence[str] | None = None,
) -> WindowInput:
    """One window from its entries in the windows (``geometry``) and counts (``count``) files.

    The fields are checked in the order they appear below: the counts first, then the geometry.
    """
    at = f"window {window_id}"
    n_observed = count.get("n_observed")
    if isinstance(n_observed, bool) or not isinstance(n_observed, int) or n_observed < 0:
        raise InputError(c_src, f"{at}: n_observed", "an integer count >= 0", got=n_observed)
    background = _ordered(_background(count.get("background"), c_src, at), order)
    efficiency = _finite(count.get("efficiency"), c_src, f"{at}: efficiency")
    if efficiency > 1:
        raise InputError(c_src, f"{at}: efficiency", "an efficiency in [0, 1]", got=efficiency)
    efficiency_error = _finite(count.get("efficiency_error"), c_src, f"{at}: efficiency_error")
    return WindowInput(
        id=window_id,
        ma=_finite(geometry.get("ma"), w_src, f"{at}: ma"),
        mh=_finite(geometry.get("mh"), w_src, f"{at}: mh"),
        center=_pair(geometry.get("center"), w_src, f"{at}: center"),
        axes=_pair(geometry.get("axes"), w_src, f"{at}: axes"),
        angle=_finite(geometry.get("angle"), w_src, f"{at}: angle", lower=-math.inf),
        ceta_cut=_finite(geometry.get("ceta_cut"), w_src, f"{at}: ceta_cut"),
        n_observed=n_observed,
        background=background,
        efficiency=efficiency,
        efficiency_error=efficiency_error,
    )


def _background(document: Any, source: str, at: str) -> dict[str, tuple[float, float]]:
    """A window's ``{process: (yield, stat_error)}`` from its counts entry ``background``."""
    if not isinstance(document, Mapping) or not document:
        raise InputError(source, f"{at}: background", "{process: {yield, stat_error}}")
    background = {}
    for process, item in document.items():
        if not isinstance(item, Mapping):
            raise InputError(source, f"{at}: background.{process}", "{yield, stat_error}")
        background[str(process)] = (
            _finite(item.get("yield"), source, f"{at}: background.{process}.yield"),
            _finite(item.get("stat_error"), source, f"{at}: background.{process}.stat_error"),
        )
    return background


def _read_document(path: str | os.PathLike[str]) -> Any:
    """Read a JSON input, letting NaN/Infinity through.

    The per-window checks of :func:`join_inputs` then name the window; the schema is checked after.
    """
    try:
        return read_json(path)
    except InputError as error:
        if error.field != "(value)":
            raise
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_inputs(
    counts_path: str | os.PathLike[str], windows_path: str | os.PathLike[str]
) -> tuple[float, tuple[WindowInput, ...], dict[str, str]]:
    """Read and join ``counts.json`` and ``windows.json`` (schemas ``counts``, ``windows``).

    Value problems are reported per window (file, window id, field); structural problems by the
    schemas.

    Returns:
        The luminosity [fb^-1], the windows, and the SHA-256 of both files
        (``counts_sha256``, ``windows_sha256``) for the provenance.

    Raises:
        InputError: see :func:`join_inputs`; also missing files, bad JSON, schema mismatches.
    """
    counts = _read_document(counts_path)
    windows = _read_document(windows_path)
    luminosity, joined = join_inputs(
        counts, windows, counts_source=counts_path, windows_source=windows_path
    )
    validate_document(windows, "windows", source=Path(windows_path))
    validate_document(counts, "counts", source=Path(counts_path))
    digests = {
        "counts_sha256": sha256_file(counts_path),
        "windows_sha256": sha256_file(windows_path),
    }
    return luminosity, joined, digests
