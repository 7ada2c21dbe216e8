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
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dhstat import schemas
from dhstat.errors import InputError
from dhstat.jsonio import canonical_digest
from dhstat.physics.beams import Beams

__all__ = ["TABLES", "Config", "default_text", "load", "loads", "sqrt_s"]

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
            self._digests[key] = canonical_digest({name: self.data[name] for name in key})
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
        if "ma" in node and "mh" in node:
            yield path, node
        for key, value in node.items():
            yield from _mass_points(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _mass_points(item, f"{path}[{index}]")


def _check(document: Mapping[str, Any], source: str) -> None:
    roots = sqrt_s(document)
    for path, point in _mass_points(document, ""):
        if point["ma"] + point["mh"] >= roots:
            raise InputError(
                source,
                f"{path}.ma + {path}.mh",
                f"M_A' + M_h' < sqrt(s) = {roots:.4f} GeV",
                got=point["ma"] + point["mh"],
            )


def loads(text: str, *, source: str = "<string>") -> Config:
    """Parse, merge over the defaults, and validate a configuration given as TOML text."""
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(source, "(syntax)", f"valid TOML ({error})") from None
    document = _merge(_defaults(), user)
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
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "(file)", "an existing configuration file") from None
    return loads(text, source=str(source))
