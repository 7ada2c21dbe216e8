"""TOML text from plain data (the test writes configurations; tomllib only reads), and paths.

TOML allows ``nan`` and ``inf``, so they are written as such: a generated configuration can hold
every float. Paths into a document are dotted with list indices, ``a.b[0].c``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any


def toml_value(value: Any) -> str:
    """A TOML value (inline); floats keep nan/inf, which TOML allows.

    Example:
        >>> toml_value([1.0, math.nan, {"a": True}])
        '[1.0, nan, { a = true }]'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    msg = f"no TOML for {value!r}"
    raise TypeError(msg)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def toml_document(document: Mapping[str, Any]) -> str:
    """A TOML document: one ``[table]`` header per nested table, arrays of tables inline.

    Example:
        >>> print(toml_document({"stats": {"cl": 0.9, "sub": {"x": 1}}}), end="")
        [stats]
        cl = 0.9
        <BLANKLINE>
        [stats.sub]
        x = 1
    """
    lines: list[str] = []

    def table(name: str, node: Mapping[str, Any]) -> None:
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        subtables = []
        for key, value in node.items():
            if isinstance(value, Mapping) and value:
                subtables.append((key, value))
            else:
                lines.append(f"{_key(key)} = {toml_value(value)}")
        for key, value in subtables:
            table(f"{name}.{_key(key)}", value)

    for name, node in document.items():
        if isinstance(node, Mapping):
            table(_key(name), node)
        else:
            lines.insert(0, f"{_key(name)} = {toml_value(node)}")
    return "\n".join(lines) + "\n"


def _parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.split("."):
        if "[" in piece:
            name, index = piece[:-1].split("[")
            parts += [name, int(index)]
        else:
            parts.append(piece)
    return parts


def get(document: Any, path: str) -> Any:
    """The value at a dotted path (``a.b[0].c``)."""
    node = document
    for part in _parts(path):
        node = node[part]
    return node


def put(document: Any, path: str, value: Any) -> None:
    """Set the value at a dotted path."""
    parts = _parts(path)
    node = document
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf (scalar or array of scalars) of a document, with its path."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list) and node and all(isinstance(v, Mapping) for v in node):
        for index, item in enumerate(node):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, node
