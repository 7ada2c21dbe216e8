"""Calibration of the ``[grid]`` resolution model against the signal simulation.

Used once, by hand, to set the resolution keys of the ``[grid]`` table: :func:`measure_resolution`
fits the no-ISR signal at some grid points (:func:`~dhstat.windows.fit.fit_ellipse`) and
:func:`fit_resolution` fits the smooth model (:func:`~dhstat.windows.grid.resolution`) to the
measured widths.

Example:
    >>> from dhstat import config
    >>> grid = GridSettings.from_config(config.load())
    >>> sigma = resolution([5.0, 7.0], [2.0, 1.0], grid)
    >>> fitted = fit_resolution(grid, [5.0, 7.0], [2.0, 1.0], sigma, free=["mumu_resolution_relative"])
    >>> round(fitted["mumu_resolution_relative"], 5)
    0.00417
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat import parallel
from dhstat.config import Config
from dhstat.windows.fit import fit_ellipse
from dhstat.windows.grid import resolution
from dhstat.windows.settings import GridSettings, WindowSettings
from dhstat.windows.simulate import STREAM, SignalSimulator, default_signal

__all__ = ["fit_resolution", "measure_resolution"]

FloatArray = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def measure_resolution(
    cfg: Config,
    ma: ArrayLike,
    mh: ArrayLike,
    *,
    simulate: SignalSimulator | None = None,
) -> FloatArray:
    """Resolutions measured from no-ISR signal simulation: the fitted mixture's standard deviations.

    Used once to calibrate the ``[grid]`` resolution model (see :func:`fit_resolution`); points
    with fewer than ``fit_min_events`` selected events give NaN.

    Args:
        cfg: The configuration.
        ma: A' masses [GeV].
        mh: h' masses [GeV].
        simulate: Signal simulator (default: dhstat.simulation + dhstat.selection).

    Returns:
        Shape (n, 2): sqrt of the diagonal of ``f S1 + (1 - f) S2`` in (M_recoil^2, M_mumu^2).
    """
    run = simulate if simulate is not None else default_signal
    settings = WindowSettings.from_config(cfg)
    out = []
    for k, (a, h) in enumerate(zip(np.atleast_1d(ma), np.atleast_1d(mh), strict=True)):
        rng = parallel.task_rng(settings.seed, STREAM, 1 << 30, k)
        arrays, _, _ = run(float(a), float(h), settings.n_events, cfg, rng, False)
        x = np.asarray(arrays["mrecoil2"], dtype=np.float64)[: settings.fit_max_events]
        y = np.asarray(arrays["mmumu2"], dtype=np.float64)[: settings.fit_max_events]
        if x.size < settings.fit_min_events:
            out.append([np.nan, np.nan])
            continue
        _, cov = fit_ellipse(x, y)
        out.append(np.sqrt(np.diag(cov)).tolist())
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def fit_resolution(
    grid: GridSettings,
    ma: ArrayLike,
    mh: ArrayLike,
    sigma: ArrayLike,
    *,
    free: Sequence[str] = (
        "mumu_resolution_relative",
        "recoil_energy_resolution_constant_gev",
        "recoil_energy_resolution_slope",
    ),
) -> dict[str, float]:
    """Least-squares (in log sigma) fit of the ``[grid]`` resolution model to measured widths.

    Args:
        grid: The ``[grid]`` settings (starting values and sqrt(s)).
        ma: A' masses [GeV].
        mh: h' masses [GeV].
        sigma: Measured (sigma(M_recoil^2), sigma(M_mumu^2)) [GeV^2], shape (n, 2); NaN rows
            are ignored.
        free: The ``[grid]`` resolution keys to fit; the others keep their configured values
            (by default the dimuon-mass floor, which the analysis range does not constrain).

    Returns:
        The fitted keys with their values.
    """
    from scipy.optimize import least_squares  # local import: start-up time

    ma_ = np.atleast_1d(np.asarray(ma, dtype=np.float64))
    mh_ = np.atleast_1d(np.asarray(mh, dtype=np.float64))
    sig = np.asarray(sigma, dtype=np.float64).reshape(-1, 2)
    ok = np.all(np.isfinite(sig), axis=1) & np.all(sig > 0, axis=1)
    ma_, mh_, sig = ma_[ok], mh_[ok], sig[ok]
    keys = tuple(free)

    def residual(p: FloatArray) -> FloatArray:
        trial = dataclasses.replace(grid, **dict(zip(keys, np.abs(p).tolist(), strict=True)))
        model = resolution(ma_, mh_, trial).reshape(-1, 2)
        return np.asarray(np.log(model / sig).ravel(), dtype=np.float64)

    start = np.array([float(getattr(grid, k)) for k in keys])
    result = least_squares(residual, start, x_scale=np.abs(start) + 1e-6)
    return {k: float(abs(v)) for k, v in zip(keys, result.x, strict=True)}
