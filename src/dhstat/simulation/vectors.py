"""Vectorised three- and four-vector helpers of the generators (directions, two-body decays).

Every function works on ``n`` events at once: directions are ``(n, 3)`` unit vectors,
four-vectors ``(n, 4)`` ordered ``(E, px, py, pz)`` [GeV].

Example:
    >>> import numpy as np
    >>> unit(np.array([1.0]), np.array([0.0])).tolist()
    [[0.0, 0.0, 1.0]]
    >>> a, b = two_body(np.array([10.0]), 0.0, 0.0, np.array([[0.0, 0.0, 1.0]]))
    >>> a.tolist(), b.tolist()
    ([[5.0, 0.0, 0.0, 5.0]], [[5.0, -0.0, -0.0, -5.0]])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import theory

__all__ = ["around", "basis", "direction_from_one_minus_cos", "two_body", "unit", "velocity"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def unit(cos: Array | float, phi: Array | float) -> Array:
    """Unit vectors at polar angle ``acos(cos)`` and azimuth ``phi`` around z."""
    cos, phi = np.asarray(cos, dtype=np.float64), np.asarray(phi, dtype=np.float64)
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, None))
    return np.stack([sin * np.cos(phi), sin * np.sin(phi), cos], axis=-1)


def basis(axis: Array) -> tuple[Array, Array]:
    """Two unit vectors orthogonal to the unit vectors ``axis`` (n, 3) and to each other."""
    ax, ay, az = axis[:, 0], axis[:, 1], axis[:, 2]
    use_x = np.abs(ax) < 0.9
    # e1 = axis x h / |axis x h| with h = x (if |ax| < 0.9) or y
    e1 = np.empty_like(axis)
    e1[:, 0] = np.where(use_x, 0.0, -az)
    e1[:, 1] = np.where(use_x, az, 0.0)
    e1[:, 2] = np.where(use_x, -ay, ax)
    e1 /= np.sqrt(np.einsum("ij,ij->i", e1, e1))[:, None]
    e2 = np.empty_like(axis)
    e2[:, 0] = ay * e1[:, 2] - az * e1[:, 1]
    e2[:, 1] = az * e1[:, 0] - ax * e1[:, 2]
    e2[:, 2] = ax * e1[:, 1] - ay * e1[:, 0]
    return e1, e2


def around(axis: Array, cos: Array, phi: Array) -> Array:
    """Unit vectors at polar angle acos(cos) and azimuth phi around ``axis`` (n, 3)."""
    e1, e2 = basis(axis)
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, None))
    return (
        cos[:, None] * axis + (sin * np.cos(phi))[:, None] * e1 + (sin * np.sin(phi))[:, None] * e2
    )


def direction_from_one_minus_cos(axis: Array, one_minus_cos: Array, phi: Array | float) -> Array:
    """As :func:`around`, with the polar angle given by ``1 - cos`` (accurate for tiny angles)."""
    phi = np.asarray(phi, dtype=np.float64)
    cos = 1.0 - one_minus_cos
    sin = np.sqrt(np.clip(one_minus_cos * (2.0 - one_minus_cos), 0.0, None))
    e1, e2 = basis(axis)
    return (
        cos[:, None] * axis + (sin * np.cos(phi))[:, None] * e1 + (sin * np.sin(phi))[:, None] * e2
    )


def two_body(
    mass: Array, m1: float | Array, m2: float | Array, direction: Array
) -> tuple[Array, Array]:
    """Four-vectors of a two-body decay at rest: particle 1 along ``direction`` (n, 3)."""
    lam = theory.kallen(mass * mass, np.asarray(m1) ** 2, np.asarray(m2) ** 2)
    p = np.sqrt(np.clip(lam, 0.0, None)) / (2 * mass)
    vec = p[:, None] * direction
    e1 = np.sqrt(p * p + np.asarray(m1) ** 2)
    e2 = np.sqrt(p * p + np.asarray(m2) ** 2)
    return (
        np.concatenate([e1[:, None], vec], axis=1),
        np.concatenate([e2[:, None], -vec], axis=1),
    )


def velocity(p: Array) -> Array:
    """Velocities ``p / E`` (..., 3) of four-vectors (..., 4)."""
    return np.asarray(p[..., 1:] / p[..., :1], dtype=np.float64)
