"""The physics processes of the analysis, named once.

``BACKGROUNDS`` are the paper's Standard Model backgrounds in the order every table lists them;
``PROCESSES`` are all samples a selected-events file of the default analysis holds, in the order of
their integer code (the ``process`` column of ``selected.root``).

A run with its own ``[[samples]]`` may name other background processes: its process list is
:func:`run_processes` of them (``data`` and ``signal`` first, codes 0 and 1), recorded in the
metadata ``processes`` of its selected-events file, which every later stage reads
(:func:`dhstat.selection.selected_processes`); :func:`backgrounds_of` gives the backgrounds back.

Example:
    >>> PROCESSES.index("mumu")
    2
    >>> BACKGROUNDS
    ('mumu', 'tautau', 'eemumu')
    >>> run_processes() == PROCESSES
    True
    >>> run_processes(["qed_mumu", "twophoton"])
    ('data', 'signal', 'qed_mumu', 'twophoton')
    >>> backgrounds_of(PROCESSES)
    ('mumu', 'tautau', 'eemumu')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

__all__ = [
    "BACKGROUNDS",
    "NOT_BACKGROUNDS",
    "PROCESSES",
    "Background",
    "backgrounds_of",
    "run_processes",
]

#: A Standard Model background of the paper.
Background = Literal["mumu", "tautau", "eemumu"]

#: The paper's backgrounds: mu mu(gamma), tau tau(gamma), e e mu mu.
BACKGROUNDS: Final[tuple[Background, ...]] = ("mumu", "tautau", "eemumu")

#: The processes of every run that are not backgrounds, codes 0 and 1 of every process list.
NOT_BACKGROUNDS: Final[tuple[str, str]] = ("data", "signal")

#: Every sample of a selected-events file, in the order of its integer process code.
PROCESSES: Final[tuple[str, ...]] = (*NOT_BACKGROUNDS, *BACKGROUNDS)


def __dir__() -> list[str]:
    return __all__


def run_processes(backgrounds: Iterable[str] = BACKGROUNDS) -> tuple[str, ...]:
    """The process list of a run: ``data``, ``signal``, then ``backgrounds`` (first occurrences).

    The default backgrounds give :data:`PROCESSES`.
    """
    return (*NOT_BACKGROUNDS, *dict.fromkeys(b for b in backgrounds if b not in NOT_BACKGROUNDS))


def backgrounds_of(processes: Iterable[str]) -> tuple[str, ...]:
    """The background processes of a process list, in its order."""
    return tuple(p for p in processes if p not in NOT_BACKGROUNDS)
