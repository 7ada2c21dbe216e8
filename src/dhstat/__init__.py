"""dhstat: sliding-window searches with pyhf.

dhstat reproduces, as a reusable tool, the Belle II search for dark Higgsstrahlung
(e+e- -> A'h', A' -> mu+mu-, h' invisible; PRL 130, 071804 (2023)): from event ntuples to one
pyhf workspace per search window, local and global significances, Bayesian upper limits and
their interpretation as limits on eps^2 x alpha_D.

Each stage is a module, named after what it does; the command-line interface (``dhstat --help``)
has one subcommand per stage.

Example:
    >>> import dhstat
    >>> dhstat.__version__
    '0.1.0'
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]


def __dir__() -> list[str]:
    return __all__
