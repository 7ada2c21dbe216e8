"""The provenance every file dhstat writes carries, built in one place.

Example:
    >>> block = provenance(seed=7)
    >>> sorted(block)
    ['dhstat_version', 'seed']
    >>> sorted(provenance(pyhf=True))
    ['dhstat_version', 'pyhf_version']
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from dhstat import __version__

__all__ = ["provenance", "pyhf_version"]


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
