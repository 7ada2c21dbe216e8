"""Files of a workspace set: ``DIR/index.json`` plus ``DIR/w<id>.json``, and its ``.tar.gz`` archive.

The index (schema ``workspace-index``) lists the windows, their ellipses and C_eta cuts, the file
names, the SHA-256 of every file and the provenance.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from dhstat.errors import InputError
from dhstat.jsonio import atomic_path, dumps, read_json, write_json
from dhstat.schemas import validate as validate_document
from dhstat.workspace.layout import INDEX
from dhstat.workspace.records import WorkspaceSet
from dhstat.workspace.validation import validate

__all__ = ["archive", "load", "read_set", "save_set"]


def __dir__() -> list[str]:
    return __all__


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
