"""A published set of window workspaces (``dhstat workspaces``), read for reinterpretation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dhstat import workspace
from dhstat.jsonio import sha256_file
from dhstat.stats.model import WindowSet

__all__ = ["PublishedWindows", "read_published"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class PublishedWindows:
    """A published set of window workspaces, read for reinterpretation.

    Attributes:
        directory: The directory (``index.json`` + ``w<id>.json``).
        index: The index document (schema ``workspace-index``).
        specs: Workspace per window id.
        window_set: The windows as a :class:`WindowSet` (ids = window ids as strings).
        luminosity_fb: L of the set.
        index_sha256: SHA-256 of ``index.json``.
    """

    directory: Path
    index: Mapping[str, Any]
    specs: Mapping[int, Mapping[str, Any]]
    window_set: WindowSet
    luminosity_fb: float
    index_sha256: str


def read_published(directory: str | os.PathLike[str]) -> PublishedWindows:
    """Read and verify a workspace set written by ``dhstat workspaces`` (digests checked).

    Raises:
        InputError: missing or invalid index or workspace (see :func:`dhstat.workspace.read_set`).
    """
    folder = Path(directory)
    published = workspace.read_set(folder)
    ids = [int(entry["id"]) for entry in published.index["windows"]]
    specs = dict(zip(ids, published.workspaces, strict=True))
    window_set = WindowSet.from_specs(
        published.workspaces,
        ids=[str(i) for i in ids],
        sources=[str(folder / entry["file"]) for entry in published.index["windows"]],
    )
    return PublishedWindows(
        directory=folder,
        index=published.index,
        specs=specs,
        window_set=window_set,
        luminosity_fb=float(published.index["luminosity_fb"]),
        index_sha256=sha256_file(folder / workspace.INDEX),
    )
