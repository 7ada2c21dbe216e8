"""The colliding beams: nominal four-momenta, the c.m. velocity and sqrt(s), defined once.

Every stage that needs the beams builds one :class:`Beams` from the ``[beams]`` and ``[physics]``
tables (:meth:`Beams.from_config`) and passes it, or the numbers it gives, down: physics functions
take numbers, never the configuration mapping. Each beam makes the half crossing angle ``a`` with
the z axis in the x-z plane: ``p_HER = |p|(sin a, 0, cos a)``, ``p_LER = |p|(sin a, 0, -cos a)``
(analysis.md section 2). ``s`` is the invariant mass squared of the two nominal beams.

Example:
    >>> from dhstat.config import load
    >>> beams = Beams.from_config(load())
    >>> round(beams.sqrt_s, 4)
    10.5796
    >>> her, ler = beams.momenta()
    >>> round(float(her[0]), 3), round(float(ler[3]), 3)
    (7.004, -3.999)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics.kinematics import mass2

__all__ = ["Beams"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Beams:
    """The SuperKEKB-like beams.

    Attributes:
        e_her: Energy of the e- (high-energy ring) beam [GeV].
        e_ler: Energy of the e+ (low-energy ring) beam [GeV].
        half_crossing_angle: Angle of each beam to the z axis [rad].
        electron_mass: [GeV].
        energy_spread_her: Gaussian energy spread of the e- beam [GeV].
        energy_spread_ler: Gaussian energy spread of the e+ beam [GeV].
    """

    e_her: float
    e_ler: float
    half_crossing_angle: float
    electron_mass: float
    energy_spread_her: float = 0.0
    energy_spread_ler: float = 0.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Beams:
        """The beams of a configuration's ``[beams]`` and ``[physics]`` tables."""
        beams = cfg["beams"]
        return cls(
            e_her=float(beams["e_her"]),
            e_ler=float(beams["e_ler"]),
            half_crossing_angle=float(beams["half_crossing_angle_mrad"]) * 1e-3,
            electron_mass=float(cfg["physics"]["electron_mass"]),
            energy_spread_her=float(beams["energy_spread_her_mev"]) * 1e-3,
            energy_spread_ler=float(beams["energy_spread_ler_mev"]) * 1e-3,
        )

    def momenta(self) -> tuple[Array, Array]:
        """Nominal lab four-vectors ``(E, px, py, pz)`` of the e- (HER) and e+ (LER) beams."""
        me, a = self.electron_mass, self.half_crossing_angle
        out = []
        for energy, sign in ((self.e_her, 1.0), (self.e_ler, -1.0)):
            p = np.sqrt(energy * energy - me * me)
            out.append(
                np.array([energy, p * np.sin(a), 0.0, sign * p * np.cos(a)], dtype=np.float64)
            )
        return out[0], out[1]

    def total(self) -> Array:
        """Four-vector of the two nominal beams together."""
        her, ler = self.momenta()
        return her + ler

    def cm_velocity(self) -> Array:
        """Velocity 3-vector beta of the c.m. frame in the laboratory (``P_beams / E_beams``).

        Example:
            >>> beta = Beams(7.004, 4.002, 0.0415, 0.000511).cm_velocity()
            >>> round(float(np.linalg.norm(beta) / np.sqrt(1 - beta @ beta)), 4)
            0.2868
        """
        total = self.total()
        return np.asarray(total[1:] / total[0], dtype=np.float64)

    @property
    def s(self) -> float:
        """Invariant mass squared of the nominal beams [GeV^2]."""
        return float(mass2(self.total()))

    @property
    def sqrt_s(self) -> float:
        """Nominal c.m. energy [GeV]."""
        return math.sqrt(self.s)
