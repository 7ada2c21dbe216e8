"""dhstat: sliding-window searches with pyhf.

dhstat reproduces, as a reusable tool, the Belle II search for dark Higgsstrahlung
(e+e- -> A'h', A' -> mu+mu-, h' invisible; PRL 130, 071804 (2023)): from event ntuples to one
pyhf workspace per search window, local and global significances, Bayesian upper limits and
their interpretation as limits on eps^2 x alpha_D.

Each stage is a module, named after what it does; the command-line interface (``dhstat --help``)
has one subcommand per stage.

The statistics of any pyhf likelihood with one POI, in pyhf's style (imported on first use, so
``import dhstat`` stays fast): :func:`upper_limit` ``(data, model)``, :func:`bayes_factor`,
:func:`significance`, and the workspace forms :func:`upper_limit_workspace` and
:func:`significance_workspace` (a ``pyhf.Workspace``, a dict, a JSON file or a HEPData
background-only workspace + patchset + patch, also inside a ``.tar.gz``: :func:`read_workspace`).
Results are typed and frozen (:class:`UpperLimit`, :class:`Significance`).

Example:
    >>> import dhstat
    >>> dhstat.__version__
    '0.1.0'
    >>> import pyhf
    >>> model = pyhf.simplemodels.uncorrelated_background([2.0], [0.0], [0.0])
    >>> round(dhstat.upper_limit([0], model, sigma_max=50.0).upper_limit, 4)  # ln(10) / 2
    1.1513
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access).
_LAZY = {
    "Significance": "dhstat.stats.significance",
    "UpperLimit": "dhstat.stats.generic_bayes",
    "bayes_factor": "dhstat.stats.infer",
    "read_workspace": "dhstat.stats.sources",
    "significance": "dhstat.stats.infer",
    "significance_workspace": "dhstat.stats.infer",
    "upper_limit": "dhstat.stats.infer",
    "upper_limit_workspace": "dhstat.stats.infer",
}

__all__ = [
    "Significance",
    "UpperLimit",
    "__version__",
    "bayes_factor",
    "read_workspace",
    "significance",
    "significance_workspace",
    "upper_limit",
    "upper_limit_workspace",
]


def __dir__() -> list[str]:
    return __all__


def __getattr__(name: str) -> Any:
    """The API's functions and result classes, imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        message = f"module 'dhstat' has no attribute {name!r}"
        raise AttributeError(message)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
