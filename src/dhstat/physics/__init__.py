"""Physics core: constants, four-vector kinematics and theory (cross sections, ISR, decays).

Example:
    >>> from dhstat.physics import kinematics
    >>> float(kinematics.mass2([5.0, 3.0, 0.0, 4.0]))
    0.0
"""

from __future__ import annotations

__all__: list[str] = []


def __dir__() -> list[str]:
    return __all__
