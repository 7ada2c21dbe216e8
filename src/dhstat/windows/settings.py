"""The windows stage's settings: the ``[grid]`` and ``[windows]`` tables, typed.

:class:`GridSettings` holds the grid's range, steps and resolution model together with the nominal
sqrt(s) of the beams (:class:`dhstat.physics.beams.Beams`); :class:`WindowSettings` holds it and the
``[windows]`` table (fit, candidate C_eta cuts, Punzi optimisation, batching) with the master seed
and the data luminosity. Both are built once from the configuration (``from_config``) at the entry
of the stage and passed down; the signal and background simulators still take the configuration.

Example:
    >>> from dhstat import config
    >>> settings = WindowSettings.from_config(config.load())
    >>> settings.n_events, settings.ceta_cut_steps, round(settings.grid.sqrt_s, 4)
    (10000, 51, 10.5796)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dhstat.physics.beams import Beams

__all__ = ["GridSettings", "WindowSettings"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class GridSettings:
    """The ``[grid]`` table: range and steps of the mass grid and its resolution model.

    Attributes:
        ma_min: Lowest A' mass of the grid [GeV].
        ma_max: Highest A' mass of the grid [GeV].
        mh_min: Lowest h' mass of each A' row [GeV].
        analysis_ma_min: Windows are made only for grid points with M_A' >= this [GeV].
        step_fraction_ma: Step between A' rows in units of sigma(M_mumu).
        step_fraction_mh: Step of M_h'^2 within a row in units of sigma(M_recoil^2).
        mumu_resolution_relative: Relative term of sigma(M_mumu).
        mumu_resolution_constant_gev: Constant term of sigma(M_mumu) [GeV].
        recoil_energy_resolution_constant_gev: Constant term of the recoil energy resolution [GeV].
        recoil_energy_resolution_slope: Slope of the recoil energy resolution in p* [1].
        sqrt_s: Nominal c.m. energy of the beams [GeV].
    """

    ma_min: float
    ma_max: float
    mh_min: float
    analysis_ma_min: float
    step_fraction_ma: float
    step_fraction_mh: float
    mumu_resolution_relative: float
    mumu_resolution_constant_gev: float
    recoil_energy_resolution_constant_gev: float
    recoil_energy_resolution_slope: float
    sqrt_s: float

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> GridSettings:
        """The ``[grid]`` table of ``cfg``, with sqrt(s) from its ``[beams]`` and ``[physics]``."""
        g = cfg["grid"]
        return cls(
            ma_min=float(g["ma_min"]),
            ma_max=float(g["ma_max"]),
            mh_min=float(g["mh_min"]),
            analysis_ma_min=float(g["analysis_ma_min"]),
            step_fraction_ma=float(g["step_fraction_ma"]),
            step_fraction_mh=float(g["step_fraction_mh"]),
            mumu_resolution_relative=float(g["mumu_resolution_relative"]),
            mumu_resolution_constant_gev=float(g["mumu_resolution_constant_gev"]),
            recoil_energy_resolution_constant_gev=float(g["recoil_energy_resolution_constant_gev"]),
            recoil_energy_resolution_slope=float(g["recoil_energy_resolution_slope"]),
            sqrt_s=Beams.from_config(cfg).sqrt_s,
        )


@dataclass(frozen=True, slots=True)
class WindowSettings:
    """The ``[windows]`` table with the grid, the master seed and the data luminosity.

    Attributes:
        grid: The ``[grid]`` settings.
        seed: Master seed (``[run] seed``).
        data_luminosity_fb: Luminosity of the data (``[dataset] luminosity_fb``) [fb^-1].
        n_events: Signal events simulated per grid point, without and with ISR.
        fit_max_events: At most this many selected no-ISR events enter an ellipse fit.
        fit_min_events: Fewer selected no-ISR events than this: the resolution model is used.
        n_sigma: Window size in standard deviations of the window's fitted covariance.
        contour: Which fitted covariance the window is the contour of (``"tail"``, ``"mixture"``).
        punzi_a: Punzi's number of sigmas ``a``.
        ceta_cut_min: First (tightest) candidate C_eta cut.
        ceta_cut_max: Last (loosest) candidate C_eta cut.
        ceta_cut_steps: Number of candidate C_eta cuts.
        batch_size: Grid points per executor task.
        punzi_background_luminosity_fb: Simulated background luminosity per process [fb^-1].
        punzi_background_chunks: Independent tasks per background process.
    """

    grid: GridSettings
    seed: int
    data_luminosity_fb: float
    n_events: int
    fit_max_events: int
    fit_min_events: int
    n_sigma: float
    contour: str
    punzi_a: float
    ceta_cut_min: float
    ceta_cut_max: float
    ceta_cut_steps: int
    batch_size: int
    punzi_background_luminosity_fb: float
    punzi_background_chunks: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> WindowSettings:
        """The ``[windows]`` and ``[grid]`` tables, seed and luminosity of ``cfg``."""
        w = cfg["windows"]
        return cls(
            grid=GridSettings.from_config(cfg),
            seed=int(cfg["run"]["seed"]),
            data_luminosity_fb=float(cfg["dataset"]["luminosity_fb"]),
            n_events=int(w["n_events"]),
            fit_max_events=int(w["fit_max_events"]),
            fit_min_events=int(w["fit_min_events"]),
            n_sigma=float(w["n_sigma"]),
            contour=str(w["contour"]),
            punzi_a=float(w["punzi_a"]),
            ceta_cut_min=float(w["ceta_cut_min"]),
            ceta_cut_max=float(w["ceta_cut_max"]),
            ceta_cut_steps=int(w["ceta_cut_steps"]),
            batch_size=int(w["batch_size"]),
            punzi_background_luminosity_fb=float(w["punzi_background_luminosity_fb"]),
            punzi_background_chunks=int(w["punzi_background_chunks"]),
        )
