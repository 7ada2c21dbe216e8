"""The (M_A', M_h') mass grid over the kinematic triangle and its resolution model.

Rows of constant M_A' from ``ma_min`` to ``ma_max``, each step ``step_fraction_ma * sigma(M_mumu)``;
in each row, M_h'^2 from ``mh_min^2`` upwards in steps of ``step_fraction_mh * sigma(M_recoil^2)``
while M_h' < min(M_A', sqrt(s) - M_A'). The resolutions are the smooth parametrisation of the
``[grid]`` table (:func:`resolution`).

Example:
    >>> from dhstat import config
    >>> settings = GridSettings.from_config(config.load())
    >>> g = grid_points(settings)
    >>> g.size, bool(np.all(g.ma + g.mh < settings.sqrt_s))
    (9003, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.windows.settings import GridSettings

__all__ = ["Grid", "grid_points", "resolution"]

FloatArray = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True, eq=False)
class Grid:
    """The mass grid over the whole kinematic triangle.

    Attributes:
        ma: A' mass of each point [GeV].
        mh: h' mass of each point [GeV].
        in_range: Whether the point is in the analysis range (M_A' >= ``analysis_ma_min``).
        sigma: Resolution model at each point, columns (sigma(M_recoil^2), sigma(M_mumu^2))
            [GeV^2].
    """

    ma: FloatArray
    mh: FloatArray
    in_range: NDArray[np.bool_]
    sigma: FloatArray

    @property
    def size(self) -> int:
        """Number of points in the whole triangle."""
        return int(self.ma.size)


def resolution(ma: ArrayLike, mh: ArrayLike, grid: GridSettings) -> FloatArray:
    """Resolution model of the ``[grid]`` table in the squared-mass plane.

    ``sigma(M_mumu) = hypot(rel * M_A', const)`` so ``sigma(M_mumu^2) = 2 M_A' sigma(M_mumu)``;
    ``sigma(M_recoil^2) = 2 sqrt(s) hypot(e0, e1 * p*)`` with ``p*`` the c.m. momentum of the A'.

    Args:
        ma: A' masses [GeV].
        mh: h' masses [GeV].
        grid: The ``[grid]`` settings (resolution model and sqrt(s)).

    Returns:
        Array of shape ``(..., 2)``: (sigma(M_recoil^2), sigma(M_mumu^2)) [GeV^2].

    Example:
        >>> from dhstat import config
        >>> s = resolution(5.0, 2.0, GridSettings.from_config(config.load()))
        >>> bool(0.1 < s[0] < 1.0 and 0.1 < s[1] < 0.5)
        True
    """
    ma_ = np.asarray(ma, dtype=np.float64)
    mh_ = np.asarray(mh, dtype=np.float64)
    roots = grid.sqrt_s
    s = roots * roots
    ra, rh = ma_**2 / s, mh_**2 / s
    lam = np.clip(1 + ra**2 + rh**2 - 2 * ra - 2 * rh - 2 * ra * rh, 0.0, None)
    pstar = 0.5 * roots * np.sqrt(lam)
    sig_m = np.hypot(grid.mumu_resolution_relative * ma_, grid.mumu_resolution_constant_gev)
    sig_y = 2.0 * ma_ * sig_m
    sig_x = (
        2.0
        * roots
        * np.hypot(
            grid.recoil_energy_resolution_constant_gev,
            grid.recoil_energy_resolution_slope * pstar,
        )
    )
    return np.stack(np.broadcast_arrays(sig_x, sig_y), axis=-1)


def _rows(grid: GridSettings) -> list[float]:
    """The M_A' of the grid rows, each ``step_fraction_ma * sigma(M_mumu)`` above the last."""
    rows: list[float] = []
    ma = grid.ma_min
    while ma <= grid.ma_max * (1 + 1e-12):
        rows.append(ma)
        sig_m = math.hypot(grid.mumu_resolution_relative * ma, grid.mumu_resolution_constant_gev)
        ma += grid.step_fraction_ma * sig_m
    return rows


def grid_points(grid: GridSettings) -> Grid:
    """The (M_A', M_h') grid over the triangle M_h' < M_A', M_A' + M_h' < sqrt(s).

    Args:
        grid: The ``[grid]`` settings (range, steps, resolution model and sqrt(s)).

    Returns:
        All grid points, rows of increasing M_A', each with increasing M_h'.

    Example:
        >>> from dhstat import config
        >>> g = grid_points(GridSettings.from_config(config.load()))
        >>> bool(np.all(g.mh < g.ma)), bool(8000 < g.size < 10000)
        (True, True)
    """
    roots = grid.sqrt_s
    mas: list[float] = []
    mhs: list[float] = []
    for ma in _rows(grid):
        mh_max = min(ma, roots - ma)
        x = grid.mh_min**2
        while x < mh_max * mh_max:
            mh = math.sqrt(x)
            mas.append(ma)
            mhs.append(mh)
            x += grid.step_fraction_mh * float(resolution(ma, mh, grid)[0])
    ma_arr = np.array(mas, dtype=np.float64)
    mh_arr = np.array(mhs, dtype=np.float64)
    return Grid(
        ma=ma_arr,
        mh=mh_arr,
        in_range=ma_arr >= grid.analysis_ma_min,
        sigma=resolution(ma_arr, mh_arr, grid).reshape(-1, 2),
    )
