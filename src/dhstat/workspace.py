"""One pyhf workspace per search window: build, validate, save, load, index, patchset export.

The per-window workspace is dhstat's central artefact: every number dhstat reports for a window can
be recomputed from that window's JSON alone, with pyhf and nothing else. Its structure is fixed:

- one channel ``window`` with one bin, observation ``[N]``;
- sample ``signal`` with nominal ``[eps * L]`` and a ``normfactor`` ``sigma`` (the POI: the cross
  section in fb, bounds ``[0, sigma_max]`` in the measurement ``measurement``), histosys
  ``syst_detector``, ``syst_mass_resolution``, ``syst_window_offset``, ``mcstat_signal``;
- samples ``mumu``, ``tautau``, ``eemumu`` (every background process of the counts, so
  reinterpretation sees the composition), each with histosys ``syst_detector`` (the same parameter
  as on the signal: correlated), ``syst_ceta`` and staterror ``mcstat_background``.

Names, meanings and values of the systematics are documented in :mod:`dhstat.systematics`.

Zero backgrounds: every window keeps all background samples, also those with a zero yield (their
histosys variations are then zero too and change nothing), so all windows have the same samples.
pyhf's staterror divides by the window's total background, so ``mcstat_background`` is a
staterror only when the window's total background and its total MC error are both positive. A
window without any simulated background event does not have a background known to be zero: it is
known to be below about one MC event. Given zero MC events of weight w, the background's
posterior (flat prior) is exponential with mean and standard deviation w; such a window's first
background sample gets the nominal w and a symmetric histosys ``mcstat_background`` of +-w (the
moment-matched Gaussian, zero-truncated by the statistics engine), where w is the largest mean MC
event weight of the processes (sum w^2 / sum w over all windows). A background of exactly zero
would make any observed event infinitely significant.

A set of windows is written as ``DIR/index.json`` (schema ``workspace-index``: the windows, their
ellipses and C_eta cuts, file names, SHA-256 of every file, provenance) plus ``DIR/w<id>.json``.
For HEPData it can be exported as one background-only workspace plus a pyhf patchset whose patches
are labelled by ``["M_Aprime", "M_hprime"]``, and materialised back.

Example:
    >>> from dhstat import config, systematics
    >>> cfg = config.load()
    >>> window = WindowInput(
    ...     id=7, ma=5.0, mh=2.0, center=(4.0, 25.0), axes=(0.5, 0.05), angle=0.1,
    ...     ceta_cut=0.9, n_observed=3,
    ...     background={"mumu": (2.0, 0.2), "tautau": (0.5, 0.1), "eemumu": (0.0, 0.0)},
    ...     efficiency=0.25, efficiency_error=0.005)
    >>> rules = systematics.rules_from_config(cfg)
    >>> spec = build(window, systematics.evaluate(rules, 5.0, 2.0), luminosity_fb=8.34,
    ...              sigma_max=100.0)
    >>> validate(spec)
    >>> [sample["name"] for sample in spec["channels"][0]["samples"]]
    ['signal', 'mumu', 'tautau', 'eemumu']
    >>> spec["channels"][0]["samples"][0]["data"], spec["observations"][0]["data"]
    ([2.085], [3])
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from dhstat import __version__, systematics
from dhstat.errors import InputError
from dhstat.jsonio import atomic_path, dumps, read_json, sha256_file, write_json
from dhstat.schemas import SCHEMA_VERSION
from dhstat.schemas import validate as validate_document

__all__ = [
    "BACKGROUNDS",
    "CHANNEL",
    "INDEX",
    "LABELS",
    "MEASUREMENT",
    "SIGNAL",
    "WindowInput",
    "WorkspaceSet",
    "archive",
    "build",
    "build_set",
    "empty_background_error",
    "from_patchset",
    "join_inputs",
    "load",
    "read_inputs",
    "read_set",
    "save_set",
    "sigma_max",
    "to_patchset",
    "validate",
    "validate_patchset",
]

log = logging.getLogger(__name__)

CHANNEL = "window"
MEASUREMENT = "measurement"
SIGNAL = "signal"
#: Background processes in the order they appear in a workspace (others follow, sorted).
BACKGROUNDS = ("mumu", "tautau", "eemumu")
#: File name of the index of a set.
INDEX = "index.json"
#: Patchset labels (HEPData convention): the window centre's masses.
LABELS = ("M_Aprime", "M_hprime")


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class WindowInput:
    """Everything one window's workspace is built from (one entry of counts + windows).

    Attributes:
        id: Window id.
        ma: M_A' of the window centre [GeV].
        mh: M_h' of the window centre [GeV].
        center: Ellipse centre (M_recoil^2, M_mumu^2) [GeV^2].
        axes: Ellipse semi-axes (major, minor) [GeV^2].
        angle: Ellipse orientation, major axis vs the M_recoil^2 axis [rad].
        ceta_cut: The window's C_eta cut (events with C_eta below it are counted).
        n_observed: Observed count N.
        background: Per process: (expected yield, MC statistical error).
        efficiency: Signal efficiency in [0, 1].
        efficiency_error: MC statistical error of the efficiency.
    """

    id: int
    ma: float
    mh: float
    center: tuple[float, float]
    axes: tuple[float, float]
    angle: float
    ceta_cut: float
    n_observed: int
    background: Mapping[str, tuple[float, float]]
    efficiency: float
    efficiency_error: float


@dataclass(frozen=True, slots=True)
class WorkspaceSet:
    """A validated set of window workspaces and its index, ready to write.

    Attributes:
        index: The index document (schema ``workspace-index``); window ``i`` of
            ``index["windows"]`` is workspace ``i``.
        workspaces: One pyhf workspace per window.
        texts: The exact file content of each workspace (its SHA-256 is in the index).
    """

    index: Mapping[str, Any]
    workspaces: tuple[dict[str, Any], ...]
    texts: tuple[str, ...]


# ----------------------------------------------------------------------------- validation


@functools.cache
def _pyhf_validator(name: str) -> Any:
    """A jsonschema validator for pyhf's schema ``name``, built once, resolved offline."""
    import jsonschema
    import pyhf
    import referencing
    import referencing.jsonschema

    folder = Path(str(pyhf.schema.path)) / pyhf.schema.version
    resources = []
    for path in sorted(folder.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = referencing.jsonschema.DRAFT6.create_resource(contents)
        resources.append((contents["$id"], resource))
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(resources)
    # Draft 6 ignores the siblings of "$ref" (the thin files' "$id"), so refer to them by URI.
    uri = json.loads((folder / name).read_text(encoding="utf-8"))["$id"]
    return jsonschema.Draft6Validator({"$ref": uri}, registry=registry)


#: Structures (see :func:`_signature`) already found valid, per schema name.
_VALID: dict[str, set[str]] = {}


_TOKENS = re.compile(r'("(?:[^"\\]|\\.)*")|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')


def _number_marker(match: re.Match[str]) -> str:
    return match.group(1) or "#"


def _signature(document: Any) -> str | None:
    """``document`` as canonical JSON with every number replaced by ``#``: its *structure*.

    pyhf's workspace and patchset schemas constrain numbers only by type (no minimum, maximum or
    integer), while strings (kept verbatim, including any digits inside them), booleans, nulls,
    keys and array lengths are all kept, so two documents with the same signature are either both
    valid or both invalid.

    Example:
        >>> _signature({"b": [1.5, -2e-3], "a": "v1.0"})
        '{"a": "v1.0", "b": [#, #]}'
    """
    try:
        text = json.dumps(document, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):  # not plain JSON data: never cached, always fully checked
        return None
    return _TOKENS.sub(_number_marker, text)


def _check_schema(document: Any, name: str, source: str | os.PathLike[str] | None) -> None:
    """Validate against pyhf's schema ``name``; a structure seen valid before is not re-checked."""
    signature = _signature(document)
    seen = _VALID.setdefault(name, set())
    if signature is not None and signature in seen:
        return
    error = next(iter(_pyhf_validator(name).iter_errors(document)), None)
    if error is None:
        if signature is not None and len(seen) < 4096:
            seen.add(signature)
        return
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    path = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    raise InputError(source, path, f"a valid pyhf {name} document [{error.message}]")


def validate(spec: Any, *, source: str | os.PathLike[str] | None = None) -> None:
    """Validate a window workspace against pyhf's ``workspace.json`` and dhstat's structure.

    Uses one validator built once from pyhf's schema files (no pyhf Model is built, no network),
    and checks each distinct document *structure* once: the windows of a set share a handful of
    structures, so validating thousands of them costs little more than walking them (see
    :func:`_signature` for why this is exact). Beyond pyhf's schema it
    checks what a pyhf Model would reject and what dhstat promises: one channel ``window`` with one
    bin, the POI ``sigma`` on the signal, finite non-negative yields.

    Raises:
        InputError: naming ``source`` and the JSON path of the first problem.
    """
    _check_schema(spec, "workspace.json", source)
    channels = spec["channels"]
    if len(channels) != 1 or channels[0]["name"] != CHANNEL:
        raise InputError(source, "channels", f"exactly one channel named {CHANNEL!r}")
    observations = {obs["name"]: obs["data"] for obs in spec["observations"]}
    if list(observations) != [CHANNEL] or len(observations[CHANNEL]) != 1:
        raise InputError(source, "observations", f"one observation of channel {CHANNEL!r}")
    count = observations[CHANNEL][0]
    if not (math.isfinite(count) and count >= 0):
        raise InputError(source, "observations/0/data/0", "a finite count >= 0", got=count)
    poi_found = False
    for s_index, sample in enumerate(channels[0]["samples"]):
        where = f"channels/0/samples/{s_index}"
        values = [*sample["data"]]
        for modifier in sample["modifiers"]:
            if modifier["type"] == "histosys":
                values += modifier["data"]["hi_data"] + modifier["data"]["lo_data"]
            elif modifier["type"] in {"staterror", "shapesys"}:
                values += modifier["data"]
            poi_found |= modifier["type"] == "normfactor" and modifier["name"] == systematics.POI
        if any(len(item) != 1 for item in _bin_arrays(sample)):
            raise InputError(source, where, "one bin in the data of the sample and its modifiers")
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise InputError(source, where, "finite, non-negative yields and variations")
    measurement = spec["measurements"][0]
    if measurement["config"]["poi"] != systematics.POI or not poi_found:
        raise InputError(source, "measurements/0/config/poi", f"the POI {systematics.POI!r}")


def _bin_arrays(sample: Mapping[str, Any]) -> Iterable[Sequence[float]]:
    yield sample["data"]
    for modifier in sample["modifiers"]:
        if modifier["type"] == "histosys":
            yield modifier["data"]["hi_data"]
            yield modifier["data"]["lo_data"]
        elif modifier["type"] in {"staterror", "shapesys"}:
            yield modifier["data"]


def validate_patchset(patchset: Any, *, source: str | os.PathLike[str] | None = None) -> None:
    """Validate a patchset against pyhf's ``patchset.json`` (one compiled validator).

    Raises:
        InputError: naming ``source`` and the JSON path of the first problem.
    """
    _check_schema(_light(patchset), "patchset.json", source)


def _light(patchset: Any) -> Any:
    """The patchset with every value the schema leaves unconstrained replaced by ``None``.

    pyhf's patchset schema accepts anything as a JSON-patch ``value`` and as an extra metadata
    key, so this copy is valid exactly when the patchset is, and it is cheap to validate (the
    workspaces the patches produce are validated on their own).
    """
    if not isinstance(patchset, dict) or not isinstance(patchset.get("patches"), list):
        return patchset
    known = {"name", "values"}
    patches = []
    for patch in patchset["patches"]:
        if not isinstance(patch, dict):
            patches.append(patch)
            continue
        light = dict(patch)
        metadata = patch.get("metadata")
        if isinstance(metadata, dict):
            light["metadata"] = {k: (v if k in known else None) for k, v in metadata.items()}
        operations = patch.get("patch")
        if isinstance(operations, list):
            light["patch"] = [
                {**op, "value": None} if isinstance(op, dict) and "value" in op else op
                for op in operations
            ]
        patches.append(light)
    metadata = patchset.get("metadata")
    if isinstance(metadata, dict):
        fixed = {"digests", "labels", "description", "references"}
        metadata = {k: (v if k in fixed else None) for k, v in metadata.items()}
    return {**patchset, "patches": patches, "metadata": metadata}


# ----------------------------------------------------------------------------- building


def sigma_max(cfg: Mapping[str, Any]) -> float:
    """Upper bound of the POI [fb]: ``[stats] sigma_max`` (the upper end of the prior on sigma).

    Example:
        >>> from dhstat import config
        >>> sigma_max(config.load()) > 0
        True
    """
    return float(cfg["stats"]["sigma_max"])


def _histosys(name: str, nominal: float, relative: float) -> dict[str, Any]:
    return {
        "name": name,
        "type": "histosys",
        "data": {"hi_data": [nominal * (1.0 + relative)], "lo_data": [nominal * (1.0 - relative)]},
    }


def _processes(background: Mapping[str, Any]) -> list[str]:
    known = [name for name in BACKGROUNDS if name in background]
    return known + sorted(set(background) - set(BACKGROUNDS))


def build(
    window: WindowInput,
    uncertainties: systematics.WindowSystematics,
    *,
    luminosity_fb: float,
    sigma_max: float,
    mc_statistics: bool = True,
    empty_background_error: float = 0.0,
) -> dict[str, Any]:
    """The pyhf workspace of one window (a plain dict, see the module docstring).

    Args:
        window: The window's counts and geometry.
        uncertainties: Its relative systematic uncertainties (:func:`dhstat.systematics.evaluate`).
        luminosity_fb: Integrated luminosity L [fb^-1]: the signal nominal is efficiency * L.
        sigma_max: Upper bound of the POI ``sigma`` [fb].
        mc_statistics: Add ``mcstat_signal`` and ``mcstat_background``.
        empty_background_error: The weight w [events] of one MC event: a window without any
            simulated background event gets a background of w +- w (see the module
            docstring); 0 leaves such a window with a zero background.

    Example:
        >>> w = WindowInput(1, 5.0, 2.0, (4.0, 25.0), (0.5, 0.05), 0.0, 0.9, 0,
        ...                 {"mumu": (1.0, 0.1)}, 0.1, 0.0)
        >>> s = systematics.WindowSystematics({"syst_detector": 0.02}, {"syst_detector": 0.02})
        >>> spec = build(w, s, luminosity_fb=10.0, sigma_max=50.0)
        >>> spec["channels"][0]["samples"][1]["modifiers"][0]["data"]
        {'hi_data': [1.02], 'lo_data': [0.98]}
        >>> spec["measurements"][0]["config"]["parameters"]
        [{'name': 'sigma', 'bounds': [[0.0, 50.0]], 'inits': [1.0]}]
    """
    signal_nominal = window.efficiency * luminosity_fb
    signal_modifiers: list[dict[str, Any]] = [
        {"name": systematics.POI, "type": "normfactor", "data": None}
    ]
    signal_modifiers += [
        _histosys(name, signal_nominal, relative) for name, relative in uncertainties.signal.items()
    ]
    if mc_statistics:
        relative = window.efficiency_error / window.efficiency if window.efficiency > 0 else 0.0
        signal_modifiers.append(_histosys(systematics.MCSTAT_SIGNAL, signal_nominal, relative))
    samples = [{"name": SIGNAL, "data": [signal_nominal], "modifiers": signal_modifiers}]
    processes = _processes(window.background)
    total = sum(window.background[name][0] for name in processes)
    total_error = sum(window.background[name][1] for name in processes)
    staterror = mc_statistics and total > 0 and total_error > 0
    empty = mc_statistics and total == 0 and empty_background_error > 0 and bool(processes)
    for name in processes:
        value, error = window.background[name]
        floor = empty and name == processes[0]
        if floor:
            value = empty_background_error
        modifiers = [
            _histosys(parameter, value, relative)
            for parameter, relative in uncertainties.background.items()
        ]
        if staterror:
            modifiers.append(
                {"name": systematics.MCSTAT_BACKGROUND, "type": "staterror", "data": [error]}
            )
        elif floor:
            modifiers.append(_histosys(systematics.MCSTAT_BACKGROUND, value, 1.0))
        samples.append({"name": name, "data": [value], "modifiers": modifiers})
    init = 1.0 if sigma_max > 2.0 else sigma_max / 2.0
    parameter = {"name": systematics.POI, "bounds": [[0.0, float(sigma_max)]], "inits": [init]}
    return {
        "channels": [{"name": CHANNEL, "samples": samples}],
        "observations": [{"name": CHANNEL, "data": [window.n_observed]}],
        "measurements": [
            {"name": MEASUREMENT, "config": {"poi": systematics.POI, "parameters": [parameter]}}
        ],
        "version": "1.0.0",
    }


def _text(spec: Any) -> str:
    """The file content of a workspace: ``jsonio.dumps(spec, indent=None)`` (compact one line).

    ``allow_nan=False`` refuses NaN and infinity, as ``jsonio.dumps`` does.
    """
    return json.dumps(spec, sort_keys=True, allow_nan=False) + "\n"


def _file_name(window_id: int) -> str:
    return f"w{window_id}.json"


def _parameters(rules: systematics.Rules) -> list[dict[str, str]]:
    skip = (
        set() if rules.mc_statistics else {systematics.MCSTAT_SIGNAL, systematics.MCSTAT_BACKGROUND}
    )
    return [
        {"name": m.name, "type": m.kind, "samples": m.samples, "meaning": m.meaning}
        for m in systematics.CATALOGUE
        if m.name not in skip
    ]


def _versions() -> tuple[str, str]:
    return __version__, metadata.version("pyhf")


def empty_background_error(windows: Sequence[WindowInput]) -> float:
    """The MC-statistics uncertainty [events] given to windows without simulated background.

    It is the largest mean MC event weight of the background processes, sum w^2 / sum w over
    all windows (the yield of one MC event), 0 if no window has any background.

    Example:
        >>> w = WindowInput(1, 5.0, 2.0, (4.0, 25.0), (0.5, 0.05), 0.0, 0.9, 0,
        ...                 {"mumu": (2.0, 0.2 ** 0.5), "tautau": (0.0, 0.0)}, 0.1, 0.0)
        >>> round(empty_background_error([w]), 12)
        0.1
    """
    yields: dict[str, float] = {}
    squares: dict[str, float] = {}
    for window in windows:
        for name, (value, error) in window.background.items():
            yields[name] = yields.get(name, 0.0) + value
            squares[name] = squares.get(name, 0.0) + error**2
    weights = [squares[name] / yields[name] for name in yields if yields[name] > 0]
    return max(weights, default=0.0)


def build_set(
    windows: Sequence[WindowInput],
    rules: systematics.Rules,
    *,
    luminosity_fb: float,
    sigma_max: float,
    provenance: Mapping[str, Any],
    progress: Callable[[int], None] | None = None,
) -> WorkspaceSet:
    """Build and validate the workspaces of all windows and their index.

    Args:
        windows: The windows (see :func:`read_inputs`), ids unique.
        rules: The systematics rules (:func:`dhstat.systematics.rules_from_config`).
        luminosity_fb: Integrated luminosity [fb^-1].
        sigma_max: Upper bound of the POI [fb].
        provenance: ``config_digest``, ``seed`` and the SHA-256 of the inputs (``counts_sha256``,
            ``windows_sha256``, may be ``None``); the dhstat and pyhf versions are added.
        progress: Called with the number of newly built windows.

    Raises:
        InputError: a duplicate window id or a workspace that fails validation. (The index is
            validated against its schema when it is written.)
    """
    entries = []
    workspaces = []
    texts = []
    seen: set[int] = set()
    empty_error = empty_background_error(windows)
    for count, window in enumerate(windows, start=1):
        if window.id in seen:
            where = "<windows>"
            raise InputError(where, f"window {window.id}", "unique window ids (duplicate)")
        seen.add(window.id)
        spec = build(
            window,
            systematics.evaluate(rules, window.ma, window.mh),
            luminosity_fb=luminosity_fb,
            sigma_max=sigma_max,
            mc_statistics=rules.mc_statistics,
            empty_background_error=empty_error,
        )
        validate(spec, source=f"<workspace of window {window.id}>")
        text = _text(spec)
        workspaces.append(spec)
        texts.append(text)
        entries.append(
            {
                "id": window.id,
                "ma": window.ma,
                "mh": window.mh,
                "center": list(window.center),
                "axes": list(window.axes),
                "angle": window.angle,
                "ceta_cut": window.ceta_cut,
                "file": _file_name(window.id),
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            }
        )
        if progress is not None and count % 256 == 0:
            progress(256)
    if progress is not None and len(windows) % 256:
        progress(len(windows) % 256)
    dhstat_version, pyhf_version = _versions()
    index = {
        "schema_version": SCHEMA_VERSION,
        "channel": CHANNEL,
        "measurement": MEASUREMENT,
        "poi": systematics.POI,
        "poi_bounds_fb": [0.0, float(sigma_max)],
        "luminosity_fb": float(luminosity_fb),
        "parameters": _parameters(rules),
        "systematics": _jsonable(rules.table),
        "provenance": {
            "config_digest": provenance.get("config_digest"),
            "seed": provenance.get("seed"),
            "counts_sha256": provenance.get("counts_sha256"),
            "windows_sha256": provenance.get("windows_sha256"),
            "dhstat_version": dhstat_version,
            "pyhf_version": pyhf_version,
        },
        "windows": entries,
    }
    return WorkspaceSet(index=index, workspaces=tuple(workspaces), texts=tuple(texts))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# ----------------------------------------------------------------------------- inputs


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
    result = []
    for window_id, geometry in by_window.items():
        count = by_count[window_id]
        at = f"window {window_id}"
        n_observed = count.get("n_observed")
        if isinstance(n_observed, bool) or not isinstance(n_observed, int) or n_observed < 0:
            raise InputError(c_src, f"{at}: n_observed", "an integer count >= 0", got=n_observed)
        background_doc = count.get("background")
        if not isinstance(background_doc, Mapping) or not background_doc:
            raise InputError(c_src, f"{at}: background", "{process: {yield, stat_error}}")
        background = {}
        for process, item in background_doc.items():
            if not isinstance(item, Mapping):
                raise InputError(c_src, f"{at}: background.{process}", "{yield, stat_error}")
            background[str(process)] = (
                _finite(item.get("yield"), c_src, f"{at}: background.{process}.yield"),
                _finite(item.get("stat_error"), c_src, f"{at}: background.{process}.stat_error"),
            )
        efficiency = _finite(count.get("efficiency"), c_src, f"{at}: efficiency")
        if efficiency > 1:
            raise InputError(c_src, f"{at}: efficiency", "an efficiency in [0, 1]", got=efficiency)
        efficiency_error = _finite(count.get("efficiency_error"), c_src, f"{at}: efficiency_error")
        result.append(
            WindowInput(
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
        )
    return luminosity, tuple(result)


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


# ----------------------------------------------------------------------------- files


def save_set(workspace_set: WorkspaceSet, directory: str | os.PathLike[str]) -> Path:
    """Write ``DIR/w<id>.json`` for every window and ``DIR/index.json``; returns the index path.

    Everything is first written to a staging folder next to ``DIR`` (and the index validated
    against its schema); a new ``DIR`` then appears with one rename, an existing one gets its files
    replaced one by one, the index last. An error before that point leaves ``DIR`` untouched.
    Files of an older set that the new index does not list are left alone.
    """
    folder = Path(directory)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        names = [entry["file"] for entry in workspace_set.index["windows"]]
        for name, text in zip(names, workspace_set.texts, strict=True):
            (staging / name).write_text(text, encoding="utf-8")
        write_json(staging / INDEX, workspace_set.index, schema="workspace-index")
        if not folder.exists():
            staging.chmod(0o755)
            staging.replace(folder)
        else:
            for name in [*names, INDEX]:
                (staging / name).replace(folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / INDEX


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one window workspace and validate it (:func:`validate`).

    Raises:
        InputError: missing file, not JSON, or not a valid dhstat window workspace.
    """
    spec: dict[str, Any] = read_json(path)
    validate(spec, source=path)
    return spec


def read_set(directory: str | os.PathLike[str]) -> WorkspaceSet:
    """Read a set written by :func:`save_set`, checking every file's SHA-256 against the index.

    Raises:
        InputError: a missing or invalid index or workspace, or a file whose digest differs.
    """
    folder = Path(directory)
    index = read_json(folder / INDEX, schema="workspace-index")
    workspaces = []
    texts = []
    for entry in index["windows"]:
        path = folder / entry["file"]
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(path, "(file)", f"the workspace of window {entry['id']}") from None
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != entry["sha256"]:
            raise InputError(path, "(sha256)", f"the digest listed in {folder / INDEX}")
        spec = json.loads(text)
        validate(spec, source=path)
        workspaces.append(spec)
        texts.append(text)
    return WorkspaceSet(index=index, workspaces=tuple(workspaces), texts=tuple(texts))


def archive(workspace_set: WorkspaceSet, path: str | os.PathLike[str]) -> Path:
    """Write the set as a reproducible ``.tar.gz`` (``index.json`` + ``w<id>.json``).

    The archive's bytes depend only on the set (sorted members, zero mtimes, no owners), so a
    regenerated set gives an identical archive. pyhf users open it with ``tar xzf`` alone.
    """
    validate_document(workspace_set.index, "workspace-index", source=str(path))
    members = [(INDEX, dumps(workspace_set.index))]
    members += [
        (entry["file"], text)
        for entry, text in zip(workspace_set.index["windows"], workspace_set.texts, strict=True)
    ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, text in sorted(members):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    target = Path(path)
    with (
        atomic_path(target) as temporary,
        temporary.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
    ):
        compressed.write(buffer.getvalue())
    return target


# ----------------------------------------------------------------------------- patchsets


def _digest(document: Any) -> str:
    """The digest pyhf gives a workspace (``pyhf.utils.digest``: sorted keys, default separators)."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_patchset(
    workspace_set: WorkspaceSet,
    *,
    hepdata: str = "ins0000000",
    description: str = "dhstat window workspaces",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Export a set as one background-only workspace plus a pyhf patchset (HEPData convention).

    The background-only workspace is the first window's workspace without its signal sample
    (a template: its POI is only defined once a patch adds the signal). Patch ``w<id>`` replaces
    the channel's samples and the observation with those of window ``<id>``, so applying it gives
    that window's workspace exactly; its metadata values are ``[M_A', M_h']`` of the window centre
    (labels ``["M_Aprime", "M_hprime"]``) and it carries the window's index entry. The patchset
    metadata carries the rest of the index, so :func:`from_patchset` restores the set exactly.

    Args:
        workspace_set: The set.
        hepdata: The HEPData record (``ins`` + 7 digits) the patchset metadata must reference.
        description: Patchset description.

    Returns:
        ``(background_only, patchset)``.
    """
    first = workspace_set.workspaces[0]
    background_only = copy.deepcopy(first)
    samples = background_only["channels"][0]["samples"]
    background_only["channels"][0]["samples"] = [s for s in samples if s["name"] != SIGNAL]
    patches = []
    for entry, spec in zip(workspace_set.index["windows"], workspace_set.workspaces, strict=True):
        window = {k: v for k, v in entry.items() if k != "sha256"}
        patches.append(
            {
                "metadata": {
                    "name": Path(entry["file"]).stem,
                    "values": [entry["ma"], entry["mh"]],
                    "dhstat_window": window,
                },
                "patch": [
                    {
                        "op": "replace",
                        "path": "/channels/0/samples",
                        "value": spec["channels"][0]["samples"],
                    },
                    {"op": "replace", "path": "/observations", "value": spec["observations"]},
                    {"op": "replace", "path": "/measurements", "value": spec["measurements"]},
                ],
            }
        )
    shared = {k: v for k, v in workspace_set.index.items() if k != "windows"}
    patchset = {
        "metadata": {
            "description": description,
            "digests": {"sha256": _digest(background_only)},
            "labels": list(LABELS),
            "references": {"hepdata": hepdata},
            "dhstat_index": shared,
        },
        "patches": patches,
        "version": "1.0.0",
    }
    validate_patchset(patchset, source="<patchset>")
    _check_schema(background_only, "workspace.json", "<background-only workspace>")
    return background_only, patchset


def _apply(document: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]) -> Any:
    """Apply a JSON patch without copying what it does not touch.

    ``replace`` operations (all that :func:`to_patchset` writes) copy only the containers along
    their path; any other operation goes through ``jsonpatch`` (a deep copy).
    """
    import jsonpatch  # type: ignore[import-untyped]

    if any(op.get("op") != "replace" for op in operations):
        return jsonpatch.apply_patch(copy.deepcopy(dict(document)), list(operations))
    result: Any = dict(document)
    for op in operations:
        parts = jsonpatch.JsonPointer(op["path"]).parts
        if not parts:
            result = op["value"]
            continue
        node = result
        for part in parts[:-1]:
            key: Any = int(part) if isinstance(node, list) else part
            child = node[key]
            node[key] = list(child) if isinstance(child, list) else dict(child)
            node = node[key]
        last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
        node[last]  # a replace needs an existing target: KeyError/IndexError otherwise
        node[last] = op["value"]
    return result


def from_patchset(
    patchset: Mapping[str, Any],
    background_only: Mapping[str, Any],
    *,
    source: str | os.PathLike[str] = "<patchset>",
) -> WorkspaceSet:
    """Materialise the per-window workspaces and the index from a :func:`to_patchset` patchset.

    Raises:
        InputError: an invalid patchset, a background-only workspace whose digest differs from
            the one the patchset records, or a patch that does not give a valid workspace.
    """
    import jsonpatch

    validate_patchset(patchset, source=source)
    metadata = patchset["metadata"]
    recorded = metadata["digests"].get("sha256")
    if recorded is not None and recorded != _digest(background_only):
        raise InputError(
            source, "metadata.digests.sha256", "the digest of the background-only workspace"
        )
    shared = metadata.get("dhstat_index")
    if not isinstance(shared, Mapping):
        raise InputError(source, "metadata.dhstat_index", "the index written by dhstat")
    entries = []
    workspaces = []
    texts = []
    for position, patch in enumerate(patchset["patches"]):
        window = patch["metadata"].get("dhstat_window")
        if not isinstance(window, Mapping):
            raise InputError(
                source, f"patches[{position}].metadata.dhstat_window", "the window entry"
            )
        try:
            patched = _apply(background_only, patch["patch"])
        except (
            jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException,
            KeyError,
            IndexError,
            ValueError,
            TypeError,
        ) as error:
            raise InputError(
                source, f"patches[{position}].patch", f"an applicable patch ({error})"
            ) from None
        validate(patched, source=f"{source!s} (patch {patch['metadata']['name']})")
        text = _text(patched)
        spec = json.loads(text)  # an independent copy
        entries.append({**window, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
        workspaces.append(spec)
        texts.append(text)
    index = {**shared, "windows": entries}
    validate_document(index, "workspace-index", source=str(source))  # untrusted: check now
    return WorkspaceSet(index=index, workspaces=tuple(workspaces), texts=tuple(texts))
