"""The provenance every file dhstat writes carries, built in one place.

Paths recorded in a document are relative to the document's own folder
(:func:`relative_path`), so that a run gives the same bytes in any directory.

Example:
    >>> block = provenance(seed=7)
    >>> sorted(block)
    ['dhstat_version', 'seed']
    >>> sorted(provenance(pyhf=True))
    ['dhstat_version', 'pyhf_version']
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import PurePath
from typing import Any

from dhstat import __version__

__all__ = ["provenance", "pyhf_version", "relative_path"]


def __dir__() -> list[str]:
    return __all__


def pyhf_version() -> str:
    """The installed pyhf version (without importing pyhf)."""
    return metadata.version("pyhf")


def provenance(*, pyhf: bool = False, **fields: Any) -> dict[str, Any]:
    """``{"dhstat_version": ..., **fields}``, plus ``"pyhf_version"`` when ``pyhf`` is true."""
    block: dict[str, Any] = {"dhstat_version": __version__}
    if pyhf:
        block["pyhf_version"] = pyhf_version()
    block.update(fields)
    return block


def relative_path(path: str | os.PathLike[str], home: str | os.PathLike[str]) -> str:
    """``path`` as a document in the folder ``home`` records it: relative to ``home``, with ``/``.

    Example:
        >>> relative_path("/run/ntuples/data.root", "/run")
        'ntuples/data.root'
        >>> relative_path("/data/sel.root", "/run/out")
        '../../data/sel.root'
    """
    start = os.path.abspath(home)  # noqa: PTH100 - no symlink resolution: the path as the user gave it
    try:
        return PurePath(os.path.relpath(os.path.abspath(path), start)).as_posix()  # noqa: PTH100
    except ValueError:  # another drive (Windows): no relative path exists
        return str(path)
