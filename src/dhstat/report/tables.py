"""Reading a run directory: its stage documents and one per-window table aligned by window.

:func:`collect` reads what a run directory holds (``windows.json``, ``counts.json``,
``results.json``, ``couplings.json``, ``cutflow.json``, ``lee.json``; each optional) into a
:class:`RunTables`. Fields that older ``results.json`` files lack (the expected limits, CLs, the
sensitivity flag) are simply absent from the table; the sensitivity then falls back to a
non-zero efficiency. :func:`cutflow_yields` reads the search-sample cutflow of ``cutflow.json`` in
the paper's process order (:func:`ordered_processes`); :data:`CUT_LABELS` names its cuts for
readers.

Example:
    >>> ordered_processes(["signal", "eemumu", "zz", "data", "mumu"])
    ['data', 'mumu', 'eemumu', 'zz', 'signal']
    >>> cut_label("photon_recoil"), cut_label("my_cut")
    ('No photon near recoil', 'my_cut')
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
from numpy.typing import NDArray

from dhstat import counting, rundir, schemas, windows
from dhstat.errors import InputError
from dhstat.jsonio import read_json
from dhstat.processes import BACKGROUNDS

__all__ = [
    "BANDS",
    "CUT_LABELS",
    "Array",
    "RunTables",
    "collect",
    "cut_label",
    "cutflow_yields",
    "first",
    "ordered_processes",
    "read_scan",
]

log = logging.getLogger(__name__)

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

#: Per-window columns read from the scan and coupling documents: name -> (block, keys). The
#: expected limits (:data:`_BAND_COLUMNS`) have shape (windows, 5): the :data:`BANDS` quantiles.
_SCAN_COLUMNS = {
    "ma": ("scan", ("ma",)),
    "mh": ("scan", ("mh",)),
    "z": ("scan", ("z",)),
    "p_value": ("scan", ("p_value",)),
    "bayes_factor": ("scan", ("bayes_factor",)),
    "sigma_ul": ("scan", ("upper_limit_flat",)),
    "sigma_ul_log": ("scan", ("upper_limit_log",)),
    "sigma_ul_expected": ("scan", ("upper_limit_flat_expected",)),
    "sigma_ul_log_expected": ("scan", ("upper_limit_log_expected",)),
    "cls_ul": ("scan", ("cls_upper_limit",)),
    "cls_ul_expected": ("scan", ("cls_upper_limit_expected",)),
    "z_expected": ("scan", ("z_expected",)),
    "sensitive": ("scan", ("sensitive",)),
    "sigma_max": ("scan", ("sigma_max",)),
    "coupling_ul": ("couplings", ("eps2_alpha_d_ul",)),
}

#: The expected quantiles of the expected limits, in order: -2, -1, 0 (median), +1, +2
#: standard deviations under the background-only hypothesis.
BANDS = (-2, -1, 0, 1, 2)

#: The columns of :data:`_SCAN_COLUMNS` holding one value per band of :data:`BANDS`.
_BAND_COLUMNS = frozenset({"sigma_ul_expected", "sigma_ul_log_expected", "cls_ul_expected"})

#: Readable names of the cuts of :data:`dhstat.selection.CUTS` (for figures and tables).
CUT_LABELS: Mapping[str, str] = {
    "input": "Input (skimmed)",
    "trigger": "Trigger",
    "impact_parameters": "Impact parameters",
    "two_tracks": "Two tracks",
    "muon_id": "Muon ID",
    "emu_id": "e and mu ID",
    "track_theta": "Track polar angle",
    "delta_phi": "Azimuthal opening",
    "cluster_energy": "Muon cluster energy",
    "recoil_theta": "Recoil polar angle",
    "photon_energy": "Photon energy veto",
    "photon_recoil": "No photon near recoil",
    "photon_control": "Hard photon",
    "pt_cm": r"Dimuon $\mathit{p}_{\rm T}$ (c.m.)",
}


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class RunTables:
    """Per-window columns (aligned by window) and run-level documents of a run directory.

    Attributes:
        columns: Column name -> array over windows. Names (when present): ``id``, ``ma``, ``mh``
            [GeV], ``n_observed``, ``background``, ``efficiency``, ``ceta_cut``, ``z``,
            ``p_value``, ``bayes_factor``, ``sigma_ul`` and ``sigma_ul_log`` [fb] (observed
            Bayesian limits, flat and log prior), ``sigma_ul_expected`` [fb] (shape (n, 5), the
            :data:`BANDS` quantiles), ``cls_ul`` and ``cls_ul_expected`` [fb], ``z_expected``,
            ``sigma_max`` [fb], ``coupling_ul`` and ``coupling_per_fb`` (eps^2 alpha_D per fb
            of limit), and the flags as 1.0 / 0.0: ``sensitive``, ``prior_dominated``;
            per-process backgrounds as ``background_<process>`` (and ``..._error``). A missing
            value (no limit, not computed) is NaN.
        documents: The stage documents that were found, by stage name (``"windows"``, ...).
    """

    columns: Mapping[str, Array] = field(default_factory=dict)
    documents: Mapping[str, Any] = field(default_factory=dict)

    def has(self, *names: str) -> bool:
        """Whether all the named columns are present."""
        return all(name in self.columns for name in names)

    @property
    def luminosity_fb(self) -> float | None:
        """The data's integrated luminosity [fb^-1] (counts or scan document; None if unknown)."""
        counts = self.documents.get("counts")
        if counts is not None:
            return float(counts.luminosity_fb)
        value = first(self.documents.get("scan"), "luminosity_fb")
        return None if value is None else float(value)

    @property
    def sqrt_s_gev(self) -> float | None:
        """The centre-of-mass energy [GeV] (couplings or windows document; None if unknown)."""
        value = first(self.documents.get("couplings"), "sqrt_s")
        search = self.documents.get("windows")
        if value is None and search is not None:
            value = first(search.meta, "sqrt_s")
        return None if value is None else float(value)

    @property
    def cl(self) -> float:
        """The credibility level of the limits (the scan's settings; 0.9 without a scan)."""
        value = first(self.documents.get("scan"), "settings.cl")
        return 0.9 if value is None else float(value)


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


def _numbers(values: Sequence[Any], *, width: int = 0) -> Array | None:
    """Per-window values as floats: scalars give shape (n,), lists (n, k); None is NaN.

    ``width`` > 0 is the k of a column of lists: all None (no window has the values) then gives
    shape (n, width), all NaN.
    """
    width = max((len(v) for v in values if isinstance(v, list | tuple)), default=width)
    rows: list[Any]
    if width:
        rows = [
            [np.nan if x is None else x for x in v]
            if isinstance(v, list | tuple)
            else [np.nan] * width
            for v in values
        ]
    else:
        rows = [np.nan if v is None else v for v in values]
    try:
        column = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return column if column.ndim == (2 if width else 1) else None


def _aligned(
    ids: NDArray[np.int64], block: Mapping[str, Any], keys: Sequence[str], *, width: int = 0
) -> Array | None:
    """Column ``keys[0]`` (or the first present) of ``block``, reordered to the window ``ids``.

    ``width``: see :func:`_numbers`.
    """
    values = first(block, *keys)
    if values is None or "id" not in block:
        return None
    column = _numbers(values, width=width)
    position = {str(i): k for k, i in enumerate(block["id"])}
    if column is None or any(str(int(i)) not in position for i in ids):
        return None
    return column[[position[str(int(i))] for i in ids]]


#: Keys of ``results.json`` that scans before the expected limits (issue 16) did not write.
_NEW_SCAN_KEYS = frozenset(
    {
        "sensitive", "z_expected", "upper_limit_flat_expected", "upper_limit_log_expected",
        "cls_upper_limit", "cls_upper_limit_expected", "sensitivity_sigma_fb",
        "min_signal_per_fb", "z_convention", "expected", "cls", "n_no_sensitivity",
        "n_prior_dominated", "limit_range_windows",
    }
)  # fmt: skip


def _relaxed(node: Any, key: str = "") -> Any:
    """The scan schema without the requirements older scans cannot meet.

    The new keys are not required, and Z may be negative (older scans wrote two-sided Z).
    """
    if isinstance(node, list):
        return [_relaxed(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    result = {k: _relaxed(v, k) for k, v in node.items()}
    if isinstance(result.get("required"), list):
        result["required"] = [k for k in result["required"] if k not in _NEW_SCAN_KEYS]
    if key == "z" and "anyOf" in result:
        result = {k: v for k, v in result.items() if k != "anyOf"} | {"type": ["number", "null"]}
    return result


def read_scan(path: Path) -> Any:
    """``results.json``, validated; a scan written before the expected limits is accepted too.

    Such an older document must match the current schema except for the keys it lacks (and
    its two-sided Z); its report then simply has no expected limits, CLs or sensitivity flag.

    Raises:
        InputError: the document matches neither.
    """
    document = read_json(path)
    try:
        schemas.validate(document, "scan", source=path)
    except InputError:
        relaxed = jsonschema.Draft202012Validator(_relaxed(schemas.load("scan")))
        if next(relaxed.iter_errors(document), None) is not None:
            raise
        log.warning("%s predates the expected limits: reported without them", path)
    return document


def _documents(root: Path) -> dict[str, Any]:
    """The JSON stage documents of the run directory ``root`` that exist, by stage name.

    ``results.json`` must be readable (:func:`read_scan`); another document that does not match
    its schema (e.g. written by an older dhstat) is left out of the report, with a warning.
    """
    docs: dict[str, Any] = {}
    for stage, name, schema in _DOCUMENTS:
        path = root / name
        if not path.is_file():
            continue
        if schema == "scan":
            docs[stage] = read_scan(path)
            continue
        try:
            docs[stage] = read_json(path, schema=schema)
        except InputError as error:
            log.warning("left out of the report: %s", error)
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
    """The scan writes null for an infinite Z (p = 0) and an infinite Bayes factor.

    Older scans also wrote null for p = 1; Z is one-sided, so that is Z = 0.
    """
    missing = np.isnan(columns["z"])
    columns["z"] = np.where(missing & (columns["p_value"] <= 0), np.inf, columns["z"])
    columns["z"] = np.where(missing & (columns["p_value"] >= 1), 0.0, columns["z"])
    if "bayes_factor" in columns:
        columns["bayes_factor"] = np.where(
            np.isnan(columns["bayes_factor"]) & (columns["p_value"] == 0),
            np.inf,
            columns["bayes_factor"],
        )


def _state(root: Path) -> tuple[Any, ...]:
    """The identity of the files :func:`collect` reads: path, size and modification time."""
    names = (rundir.WINDOWS, rundir.COUNTS, *(name for _, name, _ in _DOCUMENTS))
    stats: list[tuple[str, int | None, int | None]] = []
    for name in names:
        try:
            info = (root / name).stat()
        except OSError:
            stats.append((name, None, None))
        else:
            stats.append((name, info.st_size, info.st_mtime_ns))
    return (str(root.resolve()), *stats)


def collect(outdir: str | Path) -> RunTables:
    """Read the stage files of the run directory ``outdir`` into aligned per-window columns.

    Columns are aligned with the windows of ``windows.json`` (else of ``counts.json``, else of
    ``results.json``). The figures, the summary and the report of one run all read it: the
    tables of the last few runs are kept while their files are unchanged (same size and
    modification time), so that a report validates each file once. Treat them as read-only.
    """
    root = Path(outdir)
    return _collect(_state(root), root)


@functools.lru_cache(maxsize=4)
def _collect(state: tuple[Any, ...], root: Path) -> RunTables:
    """:func:`collect` for the files in the given ``state`` (the cache key)."""
    del state  # only the cache key
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
        width = len(BANDS) if name in _BAND_COLUMNS else 0
        column = _aligned(ids, block, keys, width=width)
        if column is not None:
            columns[name] = column
    if "z" in columns and "p_value" in columns:
        _restore_infinities(columns)
    couplings = blocks["couplings"]
    if couplings is not None and "sigma_ul" not in columns:
        column = _aligned(ids, couplings, ("sigma_ul", "sigma_ul_fb"))
        if column is not None:
            columns["sigma_ul"] = column
    if couplings is not None:
        _coupling_factor(ids, couplings, docs["couplings"], columns)
    if blocks["scan"] is not None:
        _flags(ids, blocks["scan"], columns)
    return RunTables(columns, docs)


def _coupling_factor(
    ids: NDArray[np.int64], block: Mapping[str, Any], document: Any, columns: dict[str, Array]
) -> None:
    """``coupling_per_fb``: eps^2 alpha_D per fb, 1 / (sigma(eps^2 alpha_D = 1) B(A' -> mumu))."""
    convention = str(first(document, "cross_section") or "born")
    units = block.get("sigma_unit_fb")
    if units is None or "br_mumu" not in block:
        return
    unit = [u.get(convention) if isinstance(u, Mapping) else None for u in units]
    per = [
        None if u is None or b is None or u * b <= 0 else 1.0 / (u * b)
        for u, b in zip(unit, block["br_mumu"], strict=True)
    ]
    column = _aligned(ids, {"id": block["id"], "per": per}, ("per",))
    if column is not None:
        columns["coupling_per_fb"] = column


def _flags(ids: NDArray[np.int64], block: Mapping[str, Any], columns: dict[str, Array]) -> None:
    """``prior_dominated`` and ``sensitive`` (1.0 / 0.0) from the scan's flags.

    Prior-dominated: flag ``sigma_max`` (or ``sigma_max_dependent``). Sensitive: the scan's
    ``sensitive``; for scans written before it, no ``no_sensitivity`` flag and a non-zero
    efficiency.
    """
    flags = block.get("flags")
    if flags is None:
        return
    as_sets = [set(f or ()) for f in flags]
    prior = [("sigma_max" in f) for f in as_sets]
    if "sigma_max_dependent" in block:
        prior = [p or bool(d) for p, d in zip(prior, block["sigma_max_dependent"], strict=True)]
    no_sens = [("no_sensitivity" in f) for f in as_sets]
    table = {"id": block["id"], "prior": prior, "no_sens": no_sens}
    prior_col = _aligned(ids, table, ("prior",))
    no_sens_col = _aligned(ids, table, ("no_sens",))
    if prior_col is None or no_sens_col is None:
        return
    columns["prior_dominated"] = prior_col
    if "sensitive" in columns:
        columns["sensitive"] = np.where(np.isnan(columns["sensitive"]), 0.0, columns["sensitive"])
    else:
        efficiency = columns.get("efficiency")
        positive = np.ones(len(ids)) if efficiency is None else (efficiency > 0).astype(float)
        columns["sensitive"] = positive * (1.0 - no_sens_col)


def cut_label(cut: str) -> str:
    """The readable name of a cut (:data:`CUT_LABELS`; the code name for unknown cuts)."""
    return CUT_LABELS.get(cut, cut)


def ordered_processes(names: Any) -> list[str]:
    """Process names in the paper's order (data, mumu, tautau, eemumu, signal).

    A run's other background processes come after the paper's, sorted by name, before the signal.
    """
    signal = _ORDER.index("signal")
    rank = {p: float(k) for k, p in enumerate(_ORDER)}
    return sorted(names, key=lambda p: (rank.get(p, signal - 0.5), p))


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
