"""The physics processes of the analysis, named once.

``BACKGROUNDS`` are the paper's Standard Model backgrounds in the order every table lists them;
``PROCESSES`` are all samples a selected-events file can hold, in the order of their integer code
(the ``process`` column of ``selected.root``).

Example:
    >>> PROCESSES.index("mumu")
    2
    >>> BACKGROUNDS
    ('mumu', 'tautau', 'eemumu')
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["BACKGROUNDS", "PROCESSES", "Background"]

#: A Standard Model background of the paper.
Background = Literal["mumu", "tautau", "eemumu"]

#: The paper's backgrounds: mu mu(gamma), tau tau(gamma), e e mu mu.
BACKGROUNDS: Final[tuple[Background, ...]] = ("mumu", "tautau", "eemumu")

#: Every sample of a selected-events file, in the order of its integer process code.
PROCESSES: Final[tuple[str, ...]] = ("data", "signal", *BACKGROUNDS)


def __dir__() -> list[str]:
    return __all__
