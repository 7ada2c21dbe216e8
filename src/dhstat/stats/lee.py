"""Moved to :mod:`dhstat.lee` (``from dhstat import lee``); this module is kept for one release.

It re-exports exactly the public names of :mod:`dhstat.lee`.
"""

from __future__ import annotations

from dhstat import lee as _lee
from dhstat.lee import *

__all__ = list(_lee.__all__)


def __dir__() -> list[str]:
    return __all__
