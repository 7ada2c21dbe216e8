"""Typed settings of the fast detector and the reconstruction skim, read once from the configuration.

:meth:`DetectorSettings.from_config` reads the ``[detector]`` tables, ``[simulation.skim]``, the
particle masses of ``[physics]`` and the beams; the detector functions take it (or one of its parts)
instead of the configuration mapping. Every number is the configured one as a float, so the
arithmetic is the same as on the configuration values.

Example:
    >>> from dhstat.config import load
    >>> det = DetectorSettings.from_config(load())
    >>> det.tracking.theta_min, det.ecl.barrel, det.skim.require_trigger
    (17.0, (32.2, 128.7), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from dhstat.physics.beams import Beams

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "BeamBackground",
    "DetectorSettings",
    "Ecl",
    "ElectronId",
    "ImpactParameters",
    "MuonId",
    "SkimSettings",
    "Tracking",
    "Trigger",
    "floats_from_table",
]

Array = NDArray[np.float64]
_T = TypeVar("_T", bound="DataclassInstance")


def __dir__() -> list[str]:
    return __all__


def floats_from_table(cls: type[_T], table: Mapping[str, Any]) -> _T:
    """A settings dataclass whose fields are all floats, from the table of the same keys."""
    return cls(**{f.name: float(table[f.name]) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Tracking:
    """``[detector.tracking]``: acceptance, efficiency and resolutions of the tracker."""

    theta_min: float
    theta_max: float
    pt_min: float
    efficiency: float
    pt_resolution_a: float
    pt_resolution_b: float
    momentum_resolution_scale: float
    angle_resolution_mrad: float


@dataclass(frozen=True, slots=True)
class ImpactParameters:
    """``[detector.impact_parameters]``: Gaussian core and beam-background tail [cm]."""

    dr_core_cm: float
    dz_core_cm: float
    tail_fraction: float
    dr_tail_cm: float
    dz_tail_cm: float


@dataclass(frozen=True, slots=True)
class MuonId:
    """``[detector.muon_id]``: KLM muon identification."""

    p_min: float
    p_plateau: float
    efficiency: float
    theta_min: float
    theta_max: float
    barrel_theta_min: float
    barrel_theta_max: float
    barrel_pt_min: float
    electron_fake_rate: float
    cut: float


@dataclass(frozen=True, slots=True)
class ElectronId:
    """``[detector.electron_id]``: ECL electron identification."""

    efficiency: float
    p_min: float
    muon_fake_rate: float
    cut: float


@dataclass(frozen=True, slots=True)
class Ecl:
    """``[detector.ecl]``: calorimeter regions [deg], resolutions, thresholds and clusters."""

    forward: tuple[float, float]
    barrel: tuple[float, float]
    backward: tuple[float, float]
    energy_resolution_stochastic: float
    energy_resolution_constant: float
    photon_angle_resolution_mrad: float
    photon_threshold: float
    photon_efficiency: float
    muon_cluster_mpv: float
    muon_cluster_width: float
    merge_angle_deg: float
    untracked_charged_clusters: bool = False

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Ecl:
        """The settings of the ``[detector.ecl]`` table."""
        return cls(
            forward=_pair(table["forward"]),
            barrel=_pair(table["barrel"]),
            backward=_pair(table["backward"]),
            energy_resolution_stochastic=float(table["energy_resolution_stochastic"]),
            energy_resolution_constant=float(table["energy_resolution_constant"]),
            photon_angle_resolution_mrad=float(table["photon_angle_resolution_mrad"]),
            photon_threshold=float(table["photon_threshold"]),
            photon_efficiency=float(table["photon_efficiency"]),
            muon_cluster_mpv=float(table["muon_cluster_mpv"]),
            muon_cluster_width=float(table["muon_cluster_width"]),
            merge_angle_deg=float(table["merge_angle_deg"]),
            untracked_charged_clusters=bool(table.get("untracked_charged_clusters", False)),
        )

    @property
    def ranges(self) -> list[list[float]]:
        """The forward, barrel and backward polar-angle ranges [deg]."""
        return [list(self.forward), list(self.barrel), list(self.backward)]

    def smear_energy(self, rng: np.random.Generator, e: Array) -> Array:
        """Energies smeared with ``sigma_E/E = a/sqrt(E) (+) b``, clipped at zero."""
        a_e, b_e = self.energy_resolution_stochastic, self.energy_resolution_constant
        sigma = np.hypot(a_e / np.sqrt(np.maximum(e, 1e-6)), b_e) * e
        return np.asarray(np.maximum(e + sigma * rng.standard_normal(e.shape), 0.0))


def _pair(values: Any) -> tuple[float, float]:
    lo, hi = values
    return float(lo), float(hi)


@dataclass(frozen=True, slots=True)
class BeamBackground:
    """``[detector.beam_background]``: Poisson photons per event, exponential energies [GeV]."""

    photons_per_event: float
    energy_scale: float
    energy_max: float


@dataclass(frozen=True, slots=True)
class Trigger:
    """``[detector.trigger]``: track-pair trigger emulation."""

    theta_min: float
    theta_max: float
    delta_phi_min: float
    efficiency: float


@dataclass(frozen=True, slots=True)
class SkimSettings:
    """``[simulation.skim]``: the reconstruction-level skim (looser than the selection)."""

    enabled: bool
    theta_min: float
    theta_max: float
    pt_cm_min: float
    recoil_theta_min: float
    recoil_theta_max: float
    require_trigger: bool

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> SkimSettings:
        """The settings of the ``[simulation.skim]`` table."""
        return cls(
            enabled=bool(table["enabled"]),
            theta_min=float(table["theta_min"]),
            theta_max=float(table["theta_max"]),
            pt_cm_min=float(table["pt_cm_min"]),
            recoil_theta_min=float(table["recoil_theta_min"]),
            recoil_theta_max=float(table["recoil_theta_max"]),
            require_trigger=bool(table["require_trigger"]),
        )


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Everything the detector response and the skim read (picklable, for worker processes).

    Attributes:
        tracking, impact, muon_id, electron_id, ecl, beam_background, trigger: The
            ``[detector]`` sub-tables.
        skim: ``[simulation.skim]``.
        muon_mass, electron_mass: [GeV] (``[physics]``).
        beams: The nominal beams (the skim's recoil and c.m. frame).
    """

    tracking: Tracking
    impact: ImpactParameters
    muon_id: MuonId
    electron_id: ElectronId
    ecl: Ecl
    beam_background: BeamBackground
    trigger: Trigger
    skim: SkimSettings
    muon_mass: float
    electron_mass: float
    beams: Beams

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> DetectorSettings:
        """The detector settings of a configuration."""
        det = cfg["detector"]
        return cls(
            tracking=floats_from_table(Tracking, det["tracking"]),
            impact=floats_from_table(ImpactParameters, det["impact_parameters"]),
            muon_id=floats_from_table(MuonId, det["muon_id"]),
            electron_id=floats_from_table(ElectronId, det["electron_id"]),
            ecl=Ecl.from_table(det["ecl"]),
            beam_background=floats_from_table(BeamBackground, det["beam_background"]),
            trigger=floats_from_table(Trigger, det["trigger"]),
            skim=SkimSettings.from_table(cfg["simulation"]["skim"]),
            muon_mass=float(cfg["physics"]["muon_mass"]),
            electron_mass=float(cfg["physics"]["electron_mass"]),
            beams=Beams.from_config(cfg),
        )
