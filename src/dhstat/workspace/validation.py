"""Validation of window workspaces and patchsets against pyhf's schemas and dhstat's structure.

One jsonschema validator per pyhf schema file is built once (offline, no pyhf Model), and each
distinct document *structure* (:func:`_signature`) is checked once: the windows of a set share a
handful of structures, so validating thousands of them costs little more than walking them.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dhstat import systematics
from dhstat.errors import InputError
from dhstat.workspace.layout import CHANNEL

__all__ = ["check_schema", "validate", "validate_patchset"]


def __dir__() -> list[str]:
    return __all__


@functools.cache
def _pyhf_validator(name: str) -> Any:
    """A jsonschema validator for pyhf's schema ``name``, built once, resolved offline."""
    import jsonschema  # local import: start-up time (pyhf and its schema stack)
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


def check_schema(document: Any, name: str, source: str | os.PathLike[str] | None) -> None:
    """Validate against pyhf's schema ``name``; a structure seen valid before is not re-checked.

    Args:
        document: The JSON document.
        name: A pyhf schema file name (``"workspace.json"``, ``"patchset.json"``).
        source: Where the document came from, for the error message.

    Raises:
        InputError: naming ``source`` and the JSON path of the first problem.
    """
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
    check_schema(spec, "workspace.json", source)
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
    check_schema(_light(patchset), "patchset.json", source)


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
