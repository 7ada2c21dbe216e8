"""Files of a workspace set: ``DIR/index.json`` plus ``DIR/w<id>.json``, and its ``.tar.gz`` archive.

The index (schema ``workspace-index``) lists the windows, their ellipses and C_eta cuts, the file
names, the SHA-256 of every file and the provenance.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dhstat.errors import InputError
from dhstat.jsonio import atomic_path, dumps, loads_json, read_json, read_text, write_json
from dhstat.schemas import validate as validate_document
from dhstat.workspace.layout import INDEX
from dhstat.workspace.records import WorkspaceSet
from dhstat.workspace.validation import validate

__all__ = ["archive", "check_entries", "load", "read_set", "save_set"]


def __dir__() -> list[str]:
    return __all__


def check_entries(
    entries: Sequence[Mapping[str, Any]],
    source: str | os.PathLike[str],
    *,
    where: str = "windows[{i}]",
) -> None:
    """Check the windows of an index: unique ids, and one file per window that is not the index.

    File names are compared ignoring case (two names that differ only in case are one file on
    some file systems), so no window's workspace can overwrite another's or the index.

    Args:
        entries: The index's ``windows`` entries.
        source: The file they come from.
        where: How the messages name entry ``i`` (its JSON path in ``source``).

    Raises:
        InputError: naming the entry (``windows[i].id`` or ``windows[i].file``).

    Example:
        >>> check_entries([{"id": 1, "file": "w1.json"}, {"id": 2, "file": "W1.json"}], "p.json")
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: p.json: windows[1].file: expected a file name no other window uses (windows[0] has it), got 'W1.json'
    """
    ids: dict[Any, int] = {}
    files: dict[str, int] = {}
    for i, entry in enumerate(entries):
        window_id, name, at = entry["id"], str(entry["file"]), where.format(i=i)
        if window_id in ids:
            expected = f"an id no other window has ({where.format(i=ids[window_id])} has it)"
            raise InputError(source, f"{at}.id", expected, got=window_id)
        if name.casefold() == INDEX.casefold():
            raise InputError(source, f"{at}.file", f"a file name other than {INDEX}", got=name)
        if name.casefold() in files:
            other = where.format(i=files[name.casefold()])
            expected = f"a file name no other window uses ({other} has it)"
            raise InputError(source, f"{at}.file", expected, got=name)
        ids[window_id] = i
        files[name.casefold()] = i


def save_set(workspace_set: WorkspaceSet, directory: str | os.PathLike[str]) -> Path:
    """Write ``DIR/w<id>.json`` for every window and ``DIR/index.json``; returns the index path.

    Everything is first written to a staging folder next to ``DIR`` (and the index validated
    against its schema); a new ``DIR`` then appears with one rename, an existing one gets its files
    replaced one by one, the index last. An error before that point leaves ``DIR`` untouched.
    Files of an older set that the new index does not list are left alone.
    """
    folder = Path(directory)
    check_entries(workspace_set.index["windows"], folder / INDEX)
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
    check_entries(index["windows"], folder / INDEX)
    workspaces = []
    texts = []
    for entry in index["windows"]:
        path = folder / entry["file"]
        text = read_text(path, what=f"workspace file of window {entry['id']}")
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != entry["sha256"]:
            raise InputError(path, "(sha256)", f"the digest listed in {folder / INDEX}")
        spec = loads_json(text, source=path)
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
    check_entries(workspace_set.index["windows"], path)
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
