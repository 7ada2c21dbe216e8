"""Polar-angle acceptance of the detector parts: ``[lo, hi]`` ranges in degrees.

Example:
    >>> import numpy as np
    >>> in_ranges(np.array([10.0, 40.0]), [[30.0, 50.0]]).tolist()
    [False, True]
    >>> in_cos_ranges(np.cos(np.radians([10.0, 40.0])), [[30.0, 50.0]]).tolist()
    [False, True]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["in_cos_ranges", "in_ranges"]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


def __dir__() -> list[str]:
    return __all__


def in_ranges(theta_deg: Array, ranges: Sequence[Sequence[float]]) -> Mask:
    """Polar angle [deg] inside one of the ``[lo, hi]`` ranges [deg]."""
    mask = np.zeros(theta_deg.shape, bool)
    for lo, hi in ranges:
        mask |= (theta_deg >= lo) & (theta_deg <= hi)
    return mask


def in_cos_ranges(cos: Array, ranges: Sequence[Sequence[float]]) -> Mask:
    """Polar angle (given by its cosine) inside one of the ``[lo, hi]`` ranges [deg]."""
    mask = np.zeros(cos.shape, bool)
    for lo, hi in ranges:
        mask |= (cos <= np.cos(np.radians(lo))) & (cos >= np.cos(np.radians(hi)))
    return mask
