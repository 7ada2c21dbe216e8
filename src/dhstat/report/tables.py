"""Reading a run directory: its stage documents and one per-window table aligned by window.

:func:`collect` reads what a run directory holds (``windows.json``, ``counts.json``,
``results.json``, ``couplings.json``, ``cutflow.json``, ``lee.json``; each optional) into a
:class:`RunTables`. :func:`cutflow_yields` reads the search-sample cutflow of ``cutflow.json`` in
the paper's process order (:func:`ordered_processes`).

Example:
    >>> ordered_processes(["signal", "eemumu", "zz", "data", "mumu"])
    ['data', 'mumu', 'eemumu', 'signal', 'zz']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import counting, rundir, windows
from dhstat.jsonio import read_json
from dhstat.processes import BACKGROUNDS

__all__ = [
    "Array",
    "RunTables",
    "collect",
    "cutflow_yields",
    "first",
    "ordered_processes",
]

Array = NDArray[np.float64]

#: The paper's process order of the tables: data, the backgrounds, then the signal.
_ORDER = ("data", *BACKGROUNDS, "signal")

#: The optional JSON stage documents: (name in RunTables.documents, file, schema).
_DOCUMENTS = (
    ("cutflow", rundir.CUTFLOW, "cutflow"),
    ("scan", rundir.RESULTS, "scan"),
    ("lee", rundir.LEE, "lee"),
    ("couplings", rundir.COUPLINGS, "couplings"),
)

#: Per-window columns read from the scan and coupling documents: name -> (block, keys).
_SCAN_COLUMNS = {
    "ma": ("scan", ("ma",)),
    "mh": ("scan", ("mh",)),
    "z": ("scan", ("z",)),
    "p_value": ("scan", ("p_value",)),
    "bayes_factor": ("scan", ("bayes_factor",)),
    "sigma_ul": ("scan", ("upper_limit_flat",)),
    "sigma_ul_log": ("scan", ("upper_limit_log",)),
    "coupling_ul": ("couplings", ("eps2_alpha_d_ul",)),
}


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class RunTables:
    """Per-window columns (aligned by window) and run-level documents of a run directory.

    Attributes:
        columns: Column name -> array over windows. Names (when present): ``id``, ``ma``, ``mh``
            [GeV], ``n_observed``, ``background``, ``background_error``, ``efficiency``, ``z``,
            ``p_value``, ``bayes_factor``, ``sigma_ul`` [fb], ``coupling_ul``; per-process
            backgrounds as ``background_<process>``.
        documents: The stage documents that were found, by stage name (``"windows"``, ...).
    """

    columns: Mapping[str, Array] = field(default_factory=dict)
    documents: Mapping[str, Any] = field(default_factory=dict)

    def has(self, *names: str) -> bool:
        """Whether all the named columns are present."""
        return all(name in self.columns for name in names)


def _columns(block: Any) -> dict[str, Any]:
    """A per-window block as columns, whether it is stored as columns or as a list of rows."""
    if isinstance(block, Mapping):
        return dict(block)
    keys = {key for row in block for key in row}
    return {key: [row.get(key) for row in block] for key in keys}


def first(node: Any, *keys: str) -> Any:
    """The value at the first of the dotted ``keys`` present in ``node`` (None if none is).

    Example:
        >>> first({"a": {"b": 1}}, "x", "a.b")
        1
    """
    for key in keys:
        current: Any = node
        for part in key.split("."):
            if not isinstance(current, Mapping) or part not in current:
                break
            current = current[part]
        else:
            return current
    return None


def _aligned(ids: NDArray[np.int64], block: Mapping[str, Any], keys: Sequence[str]) -> Array | None:
    """Column ``keys[0]`` (or the first present) of ``block``, reordered to the window ``ids``."""
    values = first(block, *keys)
    if values is None or "id" not in block:
        return None
    try:
        column = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    position = {str(i): k for k, i in enumerate(block["id"])}
    if column.ndim != 1 or any(str(int(i)) not in position for i in ids):
        return None
    return column[[position[str(int(i))] for i in ids]]


def _documents(root: Path) -> dict[str, Any]:
    """The JSON stage documents of the run directory ``root`` that exist, by stage name."""
    docs: dict[str, Any] = {}
    for stage, name, schema in _DOCUMENTS:
        path = root / name
        if path.is_file():
            docs[stage] = read_json(path, schema=schema)
    return docs


def _window_columns(
    root: Path, docs: dict[str, Any], columns: dict[str, Array]
) -> NDArray[np.int64] | None:
    """Add the columns of ``windows.json`` and ``counts.json`` (and their documents); the ids."""
    ids: NDArray[np.int64] | None = None
    if (root / rundir.WINDOWS).is_file():
        search = windows.load(root / rundir.WINDOWS)
        docs["windows"] = search
        ids = search.ids
        columns |= {
            "ma": search.ma,
            "mh": search.mh,
            "efficiency": search.efficiency,
            "ceta_cut": search.ceta_cut,
        }
    if (root / rundir.COUNTS).is_file():
        counts = counting.load(root / rundir.COUNTS)
        docs["counts"] = counts
        order = np.arange(len(counts))
        if ids is None:
            ids = counts.ids
        else:
            position = {int(i): k for k, i in enumerate(counts.ids)}
            order = np.asarray([position[int(i)] for i in ids], dtype=np.int64)
        columns["n_observed"] = counts.n_observed[order].astype(np.float64)
        columns["efficiency"] = counts.efficiency[order]
        columns["background"] = counts.background_total[order]
        for k, process in enumerate(counts.processes):
            columns[f"background_{process}"] = counts.background[order, k]
            columns[f"background_{process}_error"] = counts.stat_error[order, k]
    return ids


def _restore_infinities(columns: dict[str, Array]) -> None:
    """The scan writes null for an infinite Z (p = 0 or 1) and an infinite Bayes factor."""
    missing = np.isnan(columns["z"])
    columns["z"] = np.where(missing & (columns["p_value"] <= 0), np.inf, columns["z"])
    columns["z"] = np.where(missing & (columns["p_value"] >= 1), -np.inf, columns["z"])
    if "bayes_factor" in columns:
        columns["bayes_factor"] = np.where(
            np.isnan(columns["bayes_factor"]) & (columns["p_value"] == 0),
            np.inf,
            columns["bayes_factor"],
        )


def collect(outdir: str | Path) -> RunTables:
    """Read the stage files of the run directory ``outdir`` into aligned per-window columns.

    Columns are aligned with the windows of ``windows.json`` (else of ``counts.json``, else of
    ``results.json``).
    """
    root = Path(outdir)
    docs = _documents(root)
    columns: dict[str, Array] = {}
    ids = _window_columns(root, docs, columns)
    blocks = {
        "scan": _columns(docs["scan"]["windows"]) if "scan" in docs else None,
        "couplings": _columns(docs["couplings"]["windows"]) if "couplings" in docs else None,
    }
    if ids is None:
        for block in blocks.values():
            if block is not None and "id" in block:
                ids = np.asarray(block["id"], dtype=np.int64)
                break
    if ids is None:
        return RunTables({}, docs)
    columns["id"] = ids.astype(np.float64)
    for name, (source, keys) in _SCAN_COLUMNS.items():
        block = blocks[source]
        if block is None or name in columns:
            continue
        column = _aligned(ids, block, keys)
        if column is not None:
            columns[name] = column
    if "z" in columns and "p_value" in columns:
        _restore_infinities(columns)
    couplings = blocks["couplings"]
    if couplings is not None and "sigma_ul" not in columns:
        column = _aligned(ids, couplings, ("sigma_ul", "sigma_ul_fb"))
        if column is not None:
            columns["sigma_ul"] = column
    return RunTables(columns, docs)


def ordered_processes(names: Any) -> list[str]:
    """Process names in the paper's order (data, mumu, tautau, eemumu, signal), others after."""
    return sorted(names, key=lambda p: (_ORDER.index(p) if p in _ORDER else len(_ORDER), p))


def cutflow_yields(flow: Mapping[str, Any]) -> tuple[list[str], dict[str, list[float]]]:
    """The cut names and each process's yield after each cut of a ``cutflow.json`` document.

    The yields are those of the search sample, from its input on: raw counts for the data,
    weighted to the luminosity for the simulation; processes in :func:`ordered_processes` order.
    """
    cuts: list[str] = []
    yields: dict[str, list[float]] = {}
    processes = flow.get("processes", {})
    for name in ordered_processes(processes):
        process = processes[name]
        rows = process["samples"]["search"]
        cuts = ["input", *[row["cut"] for row in rows]]
        key = "raw" if name == "data" else "weighted"
        yields[name] = [float(process["input"][key]), *[float(row[key]) for row in rows]]
    return cuts, yields
