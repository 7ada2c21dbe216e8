"""Ellipse geometry of the windows: covariance contours, areas and quadratic forms.

The window of a grid point is the ``n_sigma`` contour ``{d : d^T S^-1 d <= n_sigma^2}`` of a
covariance ``S`` around the fitted centre; for a single Gaussian it contains
``1 - exp(-n_sigma^2 / 2)`` of it (86.5 % for 2). An ellipse is stored as its semi-axes and the
angle of its major axis to the x axis; membership tests use the equivalent quadratic form
``A dx^2 + B dx dy + C dy^2 <= 1``.

Example:
    >>> axes, angle = covariance_ellipse([[1.0, 0.0], [0.0, 1.0]], n_sigma=1.0)
    >>> round(float(ellipse_area(axes)), 6)
    3.141593
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["covariance_ellipse", "ellipse_area", "ellipse_quadratic"]

FloatArray = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def covariance_ellipse(cov: ArrayLike, n_sigma: float = 2.0) -> tuple[FloatArray, FloatArray]:
    """Semi-axes and angle of the ``n_sigma`` contour ``d^T cov^-1 d = n_sigma^2``.

    Args:
        cov: Covariance matrices, shape ``(..., 2, 2)``.
        n_sigma: Size of the contour in standard deviations.

    Returns:
        ``(axes, angle)``: semi-major and semi-minor axes ``(..., 2)`` and the angle of the major
        axis to the x axis in (-pi/2, pi/2] ``(...)``.

    Example:
        >>> axes, angle = covariance_ellipse([[4.0, 0.0], [0.0, 1.0]])
        >>> axes.tolist(), float(angle)
        ([4.0, 2.0], 0.0)
    """
    c = np.asarray(cov, dtype=np.float64)
    vals, vecs = np.linalg.eigh(c)
    vals = np.clip(vals, 0.0, None)
    axes = n_sigma * np.sqrt(vals[..., ::-1])
    major = vecs[..., :, 1]
    angle = np.arctan2(major[..., 1], major[..., 0])
    angle = np.where(angle > np.pi / 2, angle - np.pi, angle)
    angle = np.where(angle <= -np.pi / 2, angle + np.pi, angle)
    return axes, angle


def ellipse_area(axes: ArrayLike) -> FloatArray:
    """Area ``pi a b`` of ellipses with semi-axes ``axes`` (shape ``(..., 2)``) [GeV^4].

    Example:
        >>> round(float(ellipse_area([2.0, 1.0])), 6)
        6.283185
    """
    a = np.asarray(axes, dtype=np.float64)
    return np.asarray(np.pi * a[..., 0] * a[..., 1], dtype=np.float64)


def ellipse_quadratic(axes: FloatArray, angle: FloatArray) -> FloatArray:
    """Coefficients (A, B, C) of ``A dx^2 + B dx dy + C dy^2 <= 1`` per window, shape (n, 3).

    Args:
        axes: Semi-major and semi-minor axes, shape (n, 2).
        angle: Angle of the major axis to the x axis [rad], shape (n,).

    Example:
        >>> q = ellipse_quadratic(np.array([[2.0, 1.0]]), np.array([np.pi / 2]))
        >>> (q.round(12) + 0.0).tolist()
        [[1.0, 0.0, 0.25]]
    """
    c, s = np.cos(angle), np.sin(angle)
    ia = 1.0 / np.maximum(axes[:, 0], 1e-300) ** 2
    ib = 1.0 / np.maximum(axes[:, 1], 1e-300) ** 2
    return np.stack([c * c * ia + s * s * ib, 2 * s * c * (ia - ib), s * s * ia + c * c * ib], 1)
