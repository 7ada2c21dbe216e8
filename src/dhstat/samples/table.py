"""The ``[[samples]]`` table describing ntuples, as TOML text (what ``dhstat simulate`` writes).

``dhstat simulate --output DIR`` writes ``DIR/samples.toml`` next to its ntuples: the pseudo-data
and one background sample per MC file, whose ``weight`` branch is already normalised to the data
luminosity (so no normalisation key). Paths are relative to the table's folder; the table is a
configuration file of its own (``dhstat run --config DIR/samples.toml``), or its tables can be
copied into another configuration in that folder.

Example:
    >>> print(simulation_samples(["data.root", "mc_mumu.root"]))  # doctest: +NORMALIZE_WHITESPACE
    # The samples of `dhstat simulate`: weights already normalised to the data luminosity.
    <BLANKLINE>
    [[samples]]
    name = "data"
    kind = "data"
    files = ["data.root"]
    <BLANKLINE>
    [[samples]]
    name = "mumu"
    kind = "background"
    process = "mumu"
    files = ["mc_mumu.root"]
    weight = "weight"
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dhstat.jsonio import atomic_path
from dhstat.processes import BACKGROUNDS

__all__ = ["samples_toml", "simulation_samples", "write_samples_table"]


def __dir__() -> list[str]:
    return __all__


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            msg = f"a TOML value must be finite, got {value}"
            raise ValueError(msg)
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for every str json writes
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    msg = f"no TOML form for {type(value).__name__}"
    raise TypeError(msg)


def samples_toml(samples: Sequence[Mapping[str, Any]], *, comment: str = "") -> str:
    """``[[samples]]`` tables (key -> number, string, list or table of strings) as TOML text.

    Example:
        >>> import tomllib
        >>> text = samples_toml([{"name": "s", "kind": "signal", "files": ["a.root"],
        ...     "ma": 5.0, "mh": 1.0, "branches": {"trk_px": "mu_{i}_px"}}])
        >>> tomllib.loads(text)["samples"][0]["branches"]
        {'trk_px': 'mu_{i}_px'}
    """
    lines = [f"# {line}" for line in comment.splitlines()]
    for sample in samples:
        lines += ["", "[[samples]]"]
        lines += [f"{key} = {_value(value)}" for key, value in sample.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def simulation_samples(names: Sequence[str]) -> str:
    """The samples table of the ntuples ``dhstat simulate`` wrote (file names in its folder)."""
    tables: list[dict[str, Any]] = []
    for name in names:
        stem = Path(name).stem
        process = stem.removeprefix("mc_")
        if stem == "data":
            tables.append({"name": "data", "kind": "data", "files": [name]})
        elif stem.startswith("mc_") and process in BACKGROUNDS:
            tables.append(
                {
                    "name": process,
                    "kind": "background",
                    "process": process,
                    "files": [name],
                    "weight": "weight",
                }
            )
    comment = "The samples of `dhstat simulate`: weights already normalised to the data luminosity."
    return samples_toml(tables, comment=comment)


def write_samples_table(folder: Path, names: Sequence[str]) -> Path:
    """Write ``folder/samples.toml`` for the ntuples ``names`` (atomically); returns its path."""
    path = folder / "samples.toml"
    with atomic_path(path) as temporary:
        temporary.write_text(simulation_samples(names), encoding="utf-8")
    return path
