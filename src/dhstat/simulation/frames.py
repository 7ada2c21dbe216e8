"""Frames of the generators: per-event c.m. energies and the c.m.-to-laboratory transformation.

Each event is generated in the c.m. frame of the colliding beams (z along the e- beam), then
rotated onto the lab orientation of the beam line and boosted to the laboratory with the full
c.m. velocity (83 mrad crossing, analysis.md section 2). With ``[simulation]
beam_energy_spread`` each event has its own beam energies (Gaussian spreads of ``[beams]``).

Example:
    >>> from dhstat.config import load
    >>> beams = Beams.from_config(load())
    >>> frames = draw_frames(beams, np.random.default_rng(1), 3, spread=False)
    >>> [round(float(x), 4) for x in frames.sqrt_s]
    [10.5796, 10.5796, 10.5796]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics as kin
from dhstat.physics.beams import Beams

__all__ = ["Boost", "Frames", "beam_line_rotation", "cm_to_lab", "draw_frames", "to_lab"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Boost:
    """A per-event boost by velocity ``(bx, by, bz)`` (structure of arrays), gamma precomputed."""

    bx: Array
    by: Array
    bz: Array
    gamma: Array
    g2: Array  # gamma^2 / (gamma + 1)

    @staticmethod
    def of(bx: Array, by: Array, bz: Array, gamma: Array) -> Boost:
        """The boost by ``(bx, by, bz)`` with Lorentz factor ``gamma`` (given, not recomputed)."""
        return Boost(bx, by, bz, gamma, gamma * gamma / (gamma + 1.0))

    def take(self, rows: NDArray[np.intp]) -> Boost:
        """The boosts of the events ``rows``."""
        return Boost(self.bx[rows], self.by[rows], self.bz[rows], self.gamma[rows], self.g2[rows])

    def apply(self, e: Array, x: Array, y: Array, z: Array) -> tuple[Array, Array, Array, Array]:
        """As :func:`dhstat.physics.kinematics.boost`, component by component."""
        bp = self.bx * x + self.by * y + self.bz * z
        factor = self.g2 * bp + self.gamma * e
        return (
            self.gamma * (e + bp),
            x + factor * self.bx,
            y + factor * self.by,
            z + factor * self.bz,
        )


def to_lab(
    rotation: Array, lab: Boost, e: Array, x: Array, y: Array, z: Array
) -> tuple[Array, Array, Array, Array]:
    """c.m. components -> lab components (rotation of the beam line, then the boost)."""
    c, s = rotation[0, 0], rotation[0, 2]
    return lab.apply(e, c * x + s * z, y, c * z - s * x)


@dataclass(frozen=True, slots=True)
class Frames:
    """Per-event c.m. energy and the transformation of c.m. vectors to the laboratory."""

    sqrt_s: Array  # (n,)
    lab: Boost  # lab velocity of the c.m. frame
    rotation: Array  # (3, 3): c.m. beam axis (z) -> the e- beam direction in the c.m. frame

    @property
    def beta(self) -> Array:
        """Lab velocity of the c.m. frame, (n, 3)."""
        return np.stack([self.lab.bx, self.lab.by, self.lab.bz], axis=-1)

    def take(self, rows: NDArray[np.intp]) -> Frames:
        """The frames of the events ``rows``."""
        return Frames(self.sqrt_s[rows], self.lab.take(rows), self.rotation)

    def to_lab(self, p: Array) -> Array:
        """c.m. four-vectors (n, ..., 4) -> lab (rotation of the beam line, then the boost)."""
        n = p.shape[0]
        slots = math.prod(p.shape[1:-1])
        flat = np.asarray(p, dtype=np.float64).reshape(n, slots, 4)
        out = np.empty(flat.shape)
        for j in range(flat.shape[1]):
            lab = to_lab(
                self.rotation, self.lab, flat[:, j, 0], flat[:, j, 1], flat[:, j, 2], flat[:, j, 3]
            )
            for i in range(4):
                out[:, j, i] = lab[i]
        return out.reshape(p.shape)


def draw_frames(beams: Beams, rng: np.random.Generator, n: int, *, spread: bool) -> Frames:
    """The frames of ``n`` events; with ``spread``, Gaussian beam energies (two normal draws each)."""
    her, ler = beams.momenta()
    if spread:
        me = beams.electron_mass
        noise = rng.standard_normal((2, n))
        e1 = her[0] + noise[0] * beams.energy_spread_her
        e2 = ler[0] + noise[1] * beams.energy_spread_ler
        p1 = np.sqrt(e1 * e1 - me * me) / np.linalg.norm(her[1:])
        p2 = np.sqrt(e2 * e2 - me * me) / np.linalg.norm(ler[1:])
        energy = e1 + e2
        px, py, pz = (p1 * her[i] + p2 * ler[i] for i in (1, 2, 3))
    else:
        total = her + ler
        energy = np.full(n, total[0])
        px, py, pz = (np.full(n, total[i]) for i in (1, 2, 3))
    sqrt_s = np.sqrt(energy * energy - (px * px + py * py + pz * pz))
    lab = Boost.of(px / energy, py / energy, pz / energy, energy / sqrt_s)
    return Frames(sqrt_s=sqrt_s, lab=lab, rotation=beam_line_rotation(beams))


def beam_line_rotation(beams: Beams) -> Array:
    """Rotation (3, 3) about y of the c.m. z axis onto the e- beam direction in the c.m. frame."""
    her, _ = beams.momenta()
    axis = kin.boost(her, -beams.cm_velocity())[1:]
    angle = math.atan2(axis[0], axis[2])
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def cm_to_lab(p: Array, cfg: Mapping[str, Any]) -> Array:
    """Four-vectors (..., 4) from the nominal c.m. frame (z along the e- beam) to the laboratory.

    This is the transformation the generators use (rotation of the beam line onto its lab
    direction, then the full c.m. boost), e.g. for LHE events generated in the c.m. frame.

    Example:
        >>> from dhstat.config import load
        >>> cfg = load()
        >>> her, ler = Beams.from_config(cfg).momenta()
        >>> e = float(np.sqrt(kin.mass2(her + ler))) / 2
        >>> pz = np.sqrt(e * e - cfg["physics"]["electron_mass"] ** 2)
        >>> bool(np.allclose(cm_to_lab(np.array([e, 0.0, 0.0, pz]), cfg), her))
        True
    """
    beams = Beams.from_config(cfg)
    p = np.asarray(p, dtype=np.float64)
    c, s = (float(v) for v in beam_line_rotation(beams)[0, [0, 2]])
    x, z = p[..., 1], p[..., 3]
    rotated = np.stack([p[..., 0], c * x + s * z, p[..., 2], c * z - s * x], axis=-1)
    return kin.boost(rotated, beams.cm_velocity())
