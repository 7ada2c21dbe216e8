"""Les Houches event files: moved to :mod:`dhstat.interpretation.lhe`.

This module re-exports the public names of :mod:`dhstat.interpretation.lhe` and is kept for one
release. Note that :func:`read` and :func:`write` now take ``beams=`` (a
:class:`dhstat.physics.beams.Beams`) instead of ``cfg=``.
"""

from __future__ import annotations

from dhstat.interpretation.lhe import VISIBLE_PDG, LHEEvents, read, to_truth, write

__all__ = ["VISIBLE_PDG", "LHEEvents", "read", "to_truth", "write"]


def __dir__() -> list[str]:
    return __all__
