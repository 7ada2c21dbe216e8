"""Interpolation of per-window limits over the (M_A', M_h') plane (Fig. 2 and Fig. 3 analogues).

Limits known at window centres (M_A', M_h') are interpolated piecewise linearly on the Delaunay
triangulation of the centres (scipy ``LinearNDInterpolator``), by default in log10 of the limit
(limits span decades); points outside the convex hull of the centres, or outside the kinematic
region M_A' + M_h' < sqrt(s), get NaN.

Example:
    >>> ma, mh, limits = [4.0, 6.0, 4.0], [1.0, 1.0, 3.0], [1.0, 100.0, 1.0]
    >>> interpolate_points(ma, mh, limits, [4.5], [1.5]).round(6)  # log10 linear: 10^0.5
    array([3.162278])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["coupling_curves", "interpolate_limits", "interpolate_points"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def interpolate_points(
    ma: ArrayLike,
    mh: ArrayLike,
    values: ArrayLike,
    ma_new: ArrayLike,
    mh_new: ArrayLike,
    *,
    method: Literal["linear", "nearest"] = "linear",
    log: bool = True,
    mh_scale: float = 1.0,
    sqrt_s: float | None = None,
) -> Array:
    """Interpolate per-window values (limits) known at window centres to new (M_A', M_h') points.

    ``"linear"``: piecewise linear on the Delaunay triangulation of the centres (scipy
    ``LinearNDInterpolator``), in log10 of the value if ``log``. ``"nearest"``: the value of the
    nearest centre (inside the convex hull only, so both methods cover the same region). Centres
    with a non-finite (or, with ``log``, non-positive) value are left out. Points outside the
    convex hull, or with M_A' + M_h' >= ``sqrt_s`` if given, are NaN. ``mh_scale`` multiplies M_h'
    before triangulating.

    Example:
        >>> ma = [4.0, 6.0, 4.0, 6.0]; mh = [1.0, 1.0, 3.0, 3.0]
        >>> interpolate_points(ma, mh, [1.0, 100.0, 1.0, 100.0], [5.0, 7.0], [2.0, 2.0]).tolist()
        [10.0, nan]
    """
    # local import: start-up time (scipy.interpolate, scipy.spatial)
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
    from scipy.spatial import Delaunay, QhullError

    x = np.asarray(ma, dtype=np.float64).ravel()
    y = np.asarray(mh, dtype=np.float64).ravel() * mh_scale
    v = np.asarray(values, dtype=np.float64).ravel()
    if not (x.shape == y.shape == v.shape):
        msg = f"ma, mh and values must have the same length, got {x.size}, {y.size}, {v.size}"
        raise ValueError(msg)
    good = np.isfinite(v) & np.isfinite(x) & np.isfinite(y)
    if log:
        good &= v > 0
    xn, yn = np.broadcast_arrays(
        np.asarray(ma_new, dtype=np.float64), np.asarray(mh_new, dtype=np.float64)
    )
    out = np.full(xn.shape, np.nan)
    if np.count_nonzero(good) < 3:
        return out
    points = np.column_stack([x[good], y[good]])
    data = np.log10(v[good]) if log else v[good]
    try:
        triangulation = Delaunay(points)
    except QhullError:
        return out  # all centres on a line: no area to interpolate over
    query = np.column_stack([xn.ravel(), yn.ravel() * mh_scale])
    inside = triangulation.find_simplex(query) >= 0
    if method == "linear":
        result = LinearNDInterpolator(triangulation, data)(query)
    else:
        result = NearestNDInterpolator(points, data)(query)
    result = np.where(inside, result, np.nan)
    if log:
        result = 10.0**result
    if sqrt_s is not None:
        result = np.where(xn.ravel() + yn.ravel() < sqrt_s, result, np.nan)
    out[...] = result.reshape(xn.shape)
    return out


def interpolate_limits(
    ma: ArrayLike,
    mh: ArrayLike,
    values: ArrayLike,
    ma_axis: ArrayLike,
    mh_axis: ArrayLike,
    *,
    method: Literal["linear", "nearest"] = "linear",
    log: bool = True,
    mh_scale: float = 1.0,
    sqrt_s: float | None = None,
) -> Array:
    """A map of limits on the grid ``ma_axis`` x ``mh_axis``: shape (len(ma_axis), len(mh_axis)).

    See :func:`interpolate_points` for the method. This is the Fig. 2 analogue's input.

    Example:
        >>> ma = [4.0, 6.0, 4.0, 6.0]; mh = [1.0, 1.0, 3.0, 3.0]
        >>> grid = interpolate_limits(ma, mh, [1.0, 1.0, 4.0, 4.0], [4.0, 5.0], [1.0, 2.0, 3.0])
        >>> grid.round(6).tolist()
        [[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]]
    """
    a, h = np.meshgrid(np.asarray(ma_axis, dtype=np.float64), np.asarray(mh_axis, dtype=np.float64),
                       indexing="ij")  # fmt: skip
    return interpolate_points(
        ma, mh, values, a, h, method=method, log=log, mh_scale=mh_scale, sqrt_s=sqrt_s
    )


def _curve(
    ma: Array,
    mh: Array,
    values: Array,
    fixed: float,
    axis: Literal["ma", "mh"],
    n: int,
    options: Mapping[str, Any],
) -> tuple[Array, Array]:
    """One curve of :func:`coupling_curves`: ``n`` points along ``axis``, the other mass fixed."""
    free = ma if axis == "ma" else mh
    grid = np.linspace(float(free.min()), float(free.max()), n)
    other = np.full_like(grid, fixed)
    if axis == "ma":
        y = interpolate_points(ma, mh, values, grid, other, **options)
    else:
        y = interpolate_points(ma, mh, values, other, grid, **options)
    keep = np.isfinite(y)
    return grid[keep], y[keep]


def coupling_curves(
    couplings: Mapping[str, Any],
    *,
    mh_values: Sequence[float],
    ma_values: Sequence[float],
    points: int = 400,
    key: str = "eps2_alpha_d_ul",
) -> tuple[dict[float, tuple[Array, Array]], dict[float, tuple[Array, Array]]]:
    """Fig. 3 analogue: interpolated coupling limits versus M_A' at fixed M_h' and vice versa.

    Args:
        couplings: A ``couplings.json`` document (see :func:`couplings_document`).
        mh_values: Fixed M_h' values [GeV] of the curves versus M_A'.
        ma_values: Fixed M_A' values [GeV] of the curves versus M_h'.
        points: Points per curve before dropping those outside the interpolation region.
        key: Per-window field to interpolate (the primary limit by default).

    Returns:
        ``(versus_ma, versus_mh)``: ``{M_h': (M_A' array, limit array)}`` and
        ``{M_A': (M_h' array, limit array)}``, each curve restricted to where the interpolation
        is defined. The interpolation settings are those recorded in the document.
    """
    rows = [row for row in couplings["windows"] if row.get(key) is not None]
    ma = np.array([row["ma"] for row in rows], dtype=np.float64)
    mh = np.array([row["mh"] for row in rows], dtype=np.float64)
    values = np.array([row[key] for row in rows], dtype=np.float64)
    settings = couplings.get("interpolation", {})
    options = {
        "method": settings.get("method", "linear"),
        "log": settings.get("log", True),
        "mh_scale": settings.get("mh_scale", 1.0),
        "sqrt_s": couplings.get("sqrt_s"),
    }
    if ma.size == 0:
        empty = (np.empty(0), np.empty(0))
        return ({float(m): empty for m in mh_values}, {float(m): empty for m in ma_values})
    versus_ma = {
        float(m): _curve(ma, mh, values, float(m), "ma", points, options) for m in mh_values
    }
    versus_mh = {
        float(m): _curve(ma, mh, values, float(m), "mh", points, options) for m in ma_values
    }
    return versus_ma, versus_mh
