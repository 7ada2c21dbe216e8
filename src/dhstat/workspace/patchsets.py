"""HEPData export: a set as one background-only workspace plus a pyhf patchset, and back.

Patches are labelled by ``["M_Aprime", "M_hprime"]`` (the window centre's masses); the patchset
metadata carries the set's index, so :func:`from_patchset` restores the set exactly.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dhstat.errors import InputError
from dhstat.schemas import validate as validate_document
from dhstat.workspace.files import check_entries
from dhstat.workspace.layout import LABELS, SIGNAL, to_text
from dhstat.workspace.records import WorkspaceSet
from dhstat.workspace.validation import check_schema, validate, validate_patchset

__all__ = ["from_patchset", "to_patchset"]


def __dir__() -> list[str]:
    return __all__


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
    check_schema(background_only, "workspace.json", "<background-only workspace>")
    return background_only, patchset


def _apply(document: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]) -> Any:
    """Apply a JSON patch without copying what it does not touch.

    ``replace`` operations (all that :func:`to_patchset` writes) copy only the containers along
    their path; any other operation goes through ``jsonpatch`` (a deep copy).
    """
    import jsonpatch  # type: ignore[import-untyped]  # local import: start-up time

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
    import jsonpatch  # local import: start-up time

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
        text = to_text(patched)
        spec = json.loads(text)  # an independent copy
        entries.append({**window, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
        workspaces.append(spec)
        texts.append(text)
    index = {**shared, "windows": entries}
    validate_document(index, "workspace-index", source=str(source))  # untrusted: check now
    check_entries(entries, source, where="patches[{i}].metadata.dhstat_window")
    return WorkspaceSet(index=index, workspaces=tuple(workspaces), texts=tuple(texts))
