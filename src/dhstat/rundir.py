"""The run directory's file names, in one place.

A run directory holds every stage's outputs under these names (relative to it); ``dhstat run``
writes them, ``dhstat report`` and the notebooks read them. docs/internals.md describes each file.

Example:
    >>> from pathlib import Path
    >>> (Path("results") / COUNTS).as_posix()
    'results/counts.json'
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CHECKPOINTS",
    "COUNTS",
    "COUPLINGS",
    "CUTFLOW",
    "FIGURES",
    "LEE",
    "LOCK",
    "MACROREGIONS",
    "NTUPLES",
    "REPORT",
    "RESULTS",
    "RUN",
    "SELECTED",
    "STAMPS",
    "WINDOWS",
    "WORKSPACES",
    "WORKSPACE_INDEX",
]


def __dir__() -> list[str]:
    return __all__


NTUPLES: Final = "ntuples"
SELECTED: Final = "selected.root"
CUTFLOW: Final = "cutflow.json"
MACROREGIONS: Final = "macroregions.json"
WINDOWS: Final = "windows.json"
COUNTS: Final = "counts.json"
WORKSPACES: Final = "workspaces"
WORKSPACE_INDEX: Final = "workspaces/index.json"
RESULTS: Final = "results.json"
LEE: Final = "lee.json"
COUPLINGS: Final = "couplings.json"
REPORT: Final = "report.md"
FIGURES: Final = "figures"
#: Timings and status of the last ``dhstat run`` (schema ``run``).
RUN: Final = "run.json"
#: One stamp per finished stage (hidden).
STAMPS: Final = ".stamps"
#: In-stage checkpoints of long stages (hidden; removed when the stage finishes).
CHECKPOINTS: Final = ".checkpoints"
#: Locked (``flock``) while a ``dhstat run`` writes the directory (hidden; it stays, unlocked).
LOCK: Final = ".lock"
