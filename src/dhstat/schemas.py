"""JSON schemas of every document dhstat reads or writes, validated offline.

The schemas live in the repository's top-level ``schemas/`` folder, which is the single source: a wheel
ships a copy as ``dhstat/schemas``, and an editable install (or a source checkout) reads the
repository folder directly. All schemas are JSON Schema 2020-12 and are identified as
``urn:dhstat:schema:<version>:<name>``; references between them are resolved from a local
:class:`referencing.Registry`, so validation never touches the network.

Example:
    >>> sorted(name for name in names() if name.startswith("config"))[:2]
    ['config', 'config.beams']
    >>> validate({"schema_version": "1.0.0"}, "config", source="x.toml")
    Traceback (most recent call last):
    ...
    dhstat.errors.InputError: x.toml: (top level): expected no key 'schema_version' ...
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

from dhstat.errors import InputError

__all__ = ["SCHEMA_VERSION", "directory", "load", "names", "schema_id", "validate"]

SCHEMA_VERSION = "1.0.0"


def __dir__() -> list[str]:
    return __all__


def schema_id(name: str) -> str:
    """The ``$id`` of schema ``name``.

    Example:
        >>> schema_id("counts")
        'urn:dhstat:schema:1.0.0:counts'
    """
    return f"urn:dhstat:schema:{SCHEMA_VERSION}:{name}"


@functools.cache
def directory() -> Path:
    """The folder holding the schemas: inside the installed package, else the repository's."""
    packaged = Path(str(resources.files("dhstat"))) / "schemas"
    if (packaged / "config.json").is_file():
        return packaged
    repository = Path(__file__).resolve().parents[2] / "schemas"
    if (repository / "config.json").is_file():
        return repository
    msg = f"dhstat's schemas are missing: looked in {packaged} and {repository}"
    raise FileNotFoundError(msg)


def names() -> list[str]:
    """Names of all shipped schemas (file names without ``.json``)."""
    return sorted(path.stem for path in directory().glob("*.json"))


@functools.cache
def load(name: str) -> Mapping[str, Any]:
    """The schema document ``name`` (e.g. ``"counts"``)."""
    path = directory() / f"{name}.json"
    if not path.is_file():
        msg = f"no schema named {name!r} in {directory()}"
        raise KeyError(msg)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resources_ = [
        (load(name)["$id"], referencing.Resource.from_contents(dict(load(name))))
        for name in names()
    ]
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(resources_)
    return registry


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(dict(load(name)), registry=_registry())


def _errors(document: Any, name: str) -> Iterator[jsonschema.ValidationError]:
    yield from _validator(name).iter_errors(document)


#: Longest part of a validation message quoted in an error (an instance can be a huge array).
_MESSAGE_CHARS = 200


def _printable(text: str) -> str:
    """``text`` on one line: control characters (a key with a newline) as escapes."""
    return text if text.isprintable() else repr(text)[1:-1]


def _path(error: jsonschema.ValidationError) -> str:
    parts = [_printable(str(part)) for part in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _short(message: str) -> str:
    message = _printable(message)
    if len(message) <= _MESSAGE_CHARS:
        return message
    return message[: _MESSAGE_CHARS - 3] + "..."


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The most specific error under a combinator (``anyOf``/``oneOf``/``$ref``)."""
    best = error
    while best.context:
        best = max(best.context, key=lambda e: len(e.absolute_path))
    return best


def validate(document: Any, name: str, *, source: str | Path | None = None) -> None:
    """Validate ``document`` against schema ``name``.

    Raises:
        InputError: naming ``source``, the JSON path of the first problem and what was expected.
    """
    errors = sorted(_errors(document, name), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = _deepest(errors[0])
    field = _path(error)
    if error.validator == "additionalProperties":
        unknown = sorted(
            set(error.instance) - set(error.schema.get("properties", {}))
            if isinstance(error.instance, dict)
            else []
        )
        allowed = ", ".join(sorted(error.schema.get("properties", {}))) or "none"
        what = (
            f"no key {unknown[0]!r} (unknown key; allowed: {allowed})" if unknown else "known keys"
        )
        raise InputError(source, field, what)
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        where = f"{field}.{missing[0]}" if error.absolute_path else missing[0]
        raise InputError(source, where, "a value (this key is required)")
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    expected = f"{description or 'a valid value'} [{_short(error.message)}]"
    raise InputError(source, field, expected)
