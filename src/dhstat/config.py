"""The analysis configuration: the only source of settings.

A configuration is one TOML document with one table per stage (``[beams]``, ``[selection]``,
``[grid]``, ...). The built-in default reproduces the paper's setting; a user file needs to give only
what it changes and is merged over the default table by table, key by key. The merged document is
validated against ``schemas/config.json`` (unknown keys and wrong types are errors) and then
checked across fields (e.g. every configured (M_A', M_h') point must satisfy M_A' + M_h' < sqrt(s)).

Example:
    >>> cfg = load()
    >>> cfg["dataset"]["luminosity_fb"]
    8.34
    >>> round(sqrt_s(cfg), 4)
    10.5796
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dhstat import schemas
from dhstat.errors import InputError
from dhstat.jsonio import canonical_digest, read_text
from dhstat.physics.beams import Beams

__all__ = ["TABLES", "Config", "default_text", "load", "loads", "preset_path", "presets", "sqrt_s"]

#: The configuration tables in pipeline order.
TABLES = (
    "run",
    "physics",
    "beams",
    "dataset",
    "processes",
    "signal",
    "detector",
    "simulation",
    "selection",
    "grid",
    "windows",
    "systematics",
    "stats",
    "lee",
    "interpretation",
    "report",
)


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Config(Mapping[str, Any]):
    """A validated analysis configuration: a read-only mapping of table name to table.

    Attributes:
        data: The merged, validated document (do not mutate).
        source: Where the user part came from (``"<default>"`` for the built-in default).
    """

    data: Mapping[str, Any]
    source: str = "<default>"
    _digests: dict[tuple[str, ...], str] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, table: str) -> Any:
        return self.data[table]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def digest(self, *tables: str) -> str:
        """SHA-256 of the given tables (all tables if none given), for provenance and caching."""
        key = tables or tuple(self.data)
        if key not in self._digests:
            # a table the configuration does not have (the optional ``samples``) is left out, so
            # the digest of a configuration without it is what it was before the table existed
            present = {name: self.data[name] for name in key if name in self.data}
            self._digests[key] = canonical_digest(present)
        return self._digests[key]

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the configuration as plain dicts."""
        return copy.deepcopy(dict(self.data))


def _default_files() -> list[Path]:
    folder = Path(str(resources.files("dhstat"))) / "data" / "config"
    return [folder / f"{table}.toml" for table in TABLES if (folder / f"{table}.toml").is_file()]


def default_text() -> str:
    """The built-in default configuration as commented TOML (what ``dhstat config show`` prints)."""
    header = (
        "# dhstat analysis configuration: the built-in default (the paper's setting).\n"
        "# Copy this file, change what you need (or keep only what you change), and pass it\n"
        "# with --config. Units: GeV, GeV^2, fb, fb^-1; angles in degrees.\n"
    )
    parts = [header]
    parts.extend(path.read_text(encoding="utf-8") for path in _default_files())
    return "\n".join(parts)


def _preset_folder() -> Path:
    return Path(str(resources.files("dhstat"))) / "data" / "presets"


def presets() -> tuple[str, ...]:
    """Names of the packaged preset configurations (``dhstat run --preset NAME``), sorted.

    Example:
        >>> "quick" in presets()
        True
    """
    return tuple(sorted(path.stem for path in _preset_folder().glob("*.toml")))


def preset_path(name: str) -> Path:
    """The file of the packaged preset configuration ``name``, to pass to :func:`load`.

    A preset is a configuration file shipped with dhstat (``dhstat/data/presets/<name>.toml``);
    like any user file it gives only what it changes from the default.

    Raises:
        InputError: there is no preset of that name (the message lists the presets there are).

    Example:
        >>> preset_path("quick").name
        'quick.toml'
        >>> load(preset_path("quick"))["grid"]["ma_min"]
        5.0
    """
    folder = _preset_folder()
    if name not in presets():
        available = ", ".join(presets()) or "none"
        expected = f"the name of a packaged preset ({available})"
        raise InputError(folder, "(preset)", expected, got=name)
    return folder / f"{name}.toml"


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _defaults() -> dict[str, Any]:
    document: dict[str, Any] = {}
    for path in _default_files():
        document = _merge(document, tomllib.loads(path.read_text(encoding="utf-8")))
    return document


def sqrt_s(cfg: Mapping[str, Any]) -> float:
    """Nominal c.m. energy in GeV of the configured beams (:attr:`dhstat.physics.beams.Beams.sqrt_s`)."""
    return Beams.from_config(cfg).sqrt_s


def _mass_points(node: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if "ma" in node and "mh" in node and _is_number(node["ma"], node["mh"]):
            yield path, node
        for key, value in node.items():
            yield from _mass_points(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _mass_points(item, f"{path}[{index}]")


#: Pairs of keys ``<x>_min`` / ``<x>_max`` (any key and its name with the token ``min`` replaced by
#: ``max``) must be ordered, ``min < max``; these may also be equal (one C_eta cut; fixed sizes).
_MAY_BE_EQUAL = frozenset({"windows.ceta_cut_min", "windows.fit_min_events"})

#: Two-element arrays that are intervals ``[low, high]`` with ``low < high`` (``[]``: every item).
_INTERVALS = (
    "detector.ecl.forward",
    "detector.ecl.barrel",
    "detector.ecl.backward",
    "selection.macroregions.regions[].mmumu",
    "selection.macroregions.regions[].mrecoil",
    "report.summary_ma_range",
)

#: Arrays that must be strictly increasing.
_INCREASING = (
    "systematics.mass_resolution.ma_gev",
    "systematics.window_offset.ma_gev",
    "lee.gv_thresholds",
)

#: Arrays of values at nodes, and the array of nodes they must match in length.
_SAME_LENGTH = (
    ("systematics.mass_resolution.signal", "systematics.mass_resolution.ma_gev"),
    ("systematics.window_offset.signal", "systematics.window_offset.ma_gev"),
)

#: TOML integers are 64-bit; larger ones overflow wherever numpy meets them.
_INT64 = 2**63


def _numbers(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every number (not bool) of a document with its dotted path."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _numbers(item, f"{path}[{index}]")
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield path, node


def _check_numbers(document: Mapping[str, Any], source: str) -> None:
    """Every number finite (TOML allows nan and inf) and every integer within 64 bits."""
    for path, value in _numbers(document, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(source, path, "a finite number", got=value)
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise InputError(source, path, "an integer within 64 bits", got=value)


def _check_integers(user: Any, default: Any, source: str, path: str = "") -> None:
    """A number where the default has an integer must be an integer (TOML ``1e300`` is a float).

    JSON Schema counts an integral float as an integer, so a seed of ``1e300`` would pass it.
    """
    if isinstance(user, Mapping) and isinstance(default, Mapping):
        for key, value in user.items():
            if key in default:
                where = f"{path}.{key}" if path else str(key)
                _check_integers(value, default[key], source, where)
    elif isinstance(user, float) and _is_number(default) and isinstance(default, int):
        raise InputError(source, path, "an integer", got=user)


def _lookup(document: Any, pattern: str) -> Iterator[tuple[str, Any]]:
    """The values at a dotted path whose ``[]`` parts mean every item of a list."""
    found: list[tuple[str, Any]] = [("", document)]
    for part in pattern.split("."):
        key, every = part.removesuffix("[]"), part.endswith("[]")
        step = []
        for path, node in found:
            if isinstance(node, Mapping) and key in node:
                where = f"{path}.{key}" if path else key
                if every and isinstance(node[key], list):
                    step += [(f"{where}[{i}]", item) for i, item in enumerate(node[key])]
                elif not every:
                    step.append((where, node[key]))
        found = step
    yield from found


def _is_number(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _min_max_pairs(node: Any, path: str) -> Iterator[tuple[str, Any, str, Any]]:
    """``(path of x_min, value, path of x_max, value)`` for every such pair of sibling keys."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            tokens = str(key).split("_")
            partner = "_".join("max" if token == "min" else token for token in tokens)
            if "min" in tokens and partner in node and _is_number(value, node[partner]):
                yield where, value, f"{path}.{partner}" if path else partner, node[partner]
            yield from _min_max_pairs(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _min_max_pairs(item, f"{path}[{index}]")


def _check_order(document: Mapping[str, Any], source: str) -> None:
    """Lower ends below upper ends, increasing nodes, and node arrays of matching length."""
    for low_path, low, high_path, high in _min_max_pairs(document, ""):
        if low_path in _MAY_BE_EQUAL and not low <= high:
            raise InputError(source, low_path, f"at most {high_path} = {high}", got=low)
        if low_path not in _MAY_BE_EQUAL and not low < high:
            raise InputError(source, low_path, f"less than {high_path} = {high}", got=low)
    for pattern in _INTERVALS:
        for path, (low, high) in _lookup(document, pattern):
            if not low < high:
                expected = "an interval [low, high] with low < high"
                raise InputError(source, path, expected, got=[low, high])
    for pattern in _INCREASING:
        for path, values in _lookup(document, pattern):
            if any(b <= a for a, b in itertools.pairwise(values)):
                raise InputError(source, path, "strictly increasing values", got=values)
    for values_path, nodes_path in _SAME_LENGTH:
        values, nodes = (
            dict(_lookup(document, path)).get(path) for path in (values_path, nodes_path)
        )
        if values is not None and nodes is not None and len(values) != len(nodes):
            expected = f"as many values as {nodes_path} ({len(nodes)})"
            raise InputError(source, values_path, expected, got=len(values))


def _check(document: Mapping[str, Any], source: str) -> None:
    _check_order(document, source)
    stats = document["stats"]
    if not math.isfinite(stats["sigma_max"] * stats["sigma_max_check_factor"]):
        expected = "a value that stays finite times stats.sigma_max_check_factor"
        raise InputError(source, "stats.sigma_max", expected, got=stats["sigma_max"])
    roots = sqrt_s(document)
    for path, point in _mass_points(document, ""):
        if point["ma"] + point["mh"] >= roots:
            raise InputError(
                source,
                f"{path}.ma + {path}.mh",
                f"M_A' + M_h' < sqrt(s) = {roots:.4f} GeV",
                got=point["ma"] + point["mh"],
            )


#: Keys of one ``[[samples]]`` table (schemas/config.samples.json) and the kinds of sample.
_SAMPLE_KEYS = (
    "name",
    "kind",
    "process",
    "files",
    "tree",
    "weight",
    "luminosity_fb",
    "cross_section_fb",
    "generated_events",
    "ma",
    "mh",
    "branches",
)
_SAMPLE_KINDS = ("data", "background", "signal")


def _check_samples(samples: Any, source: str) -> None:
    """The ``[[samples]]`` tables' keys and kinds, with errors naming the sample (before the schema).

    The schema would name a sample only by its index; these messages also give its name.
    """
    if samples is None:
        return
    if not isinstance(samples, list):
        raise InputError(source, "samples", "an array of tables [[samples]]", got=samples)
    names: set[str] = set()
    for index, table in enumerate(samples):
        if not isinstance(table, Mapping):
            raise InputError(source, f"samples[{index}]", "a table", got=table)
        name = table.get("name")
        where = f"samples[{index}] ({name!r})" if isinstance(name, str) else f"samples[{index}]"
        unknown = sorted(set(table) - set(_SAMPLE_KEYS))
        if unknown:
            expected = f"no key {unknown[0]!r} (unknown key; allowed: {', '.join(_SAMPLE_KEYS)})"
            raise InputError(source, f"{where}.{unknown[0]}", expected)
        if "kind" in table and table["kind"] not in _SAMPLE_KINDS:
            expected = f"one of {', '.join(_SAMPLE_KINDS)}"
            raise InputError(source, f"{where}.kind", expected, got=table["kind"])
        if isinstance(name, str):
            if name in names:
                raise InputError(source, f"{where}.name", "a name no other sample has", got=name)
            names.add(name)


def loads(text: str, *, source: str = "<string>") -> Config:
    """Parse, merge over the defaults, and validate a configuration given as TOML text."""
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(source, "(syntax)", f"valid TOML ({error})") from None
    except RecursionError:
        raise InputError(source, "(syntax)", "TOML nested less deeply") from None
    _check_numbers(user, source)
    defaults = _defaults()
    _check_integers(user, defaults, source)
    _check_samples(user.get("samples"), source)
    document = _merge(defaults, user)
    schemas.validate(document, "config", source=source)
    _check(document, source)
    return Config(data=document, source=source)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the configuration at ``path`` (merged over the defaults), or the default if ``None``.

    Raises:
        InputError: the file is missing, is not TOML, has unknown keys or wrong values.
    """
    if path is None:
        return loads("", source="<default>")
    source = Path(path)
    return loads(read_text(source, what="configuration file"), source=str(source))
