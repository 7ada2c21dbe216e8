"""Typed settings of the selection: every cut value of ``[selection]`` and the beams, read once.

:meth:`SelectionSettings.from_config` reads the ``[selection]``, ``[beams]`` and ``[physics]``
tables at the stage entry; :func:`dhstat.selection.select` and the file workers take the frozen
(and picklable) result instead of the configuration mapping. Angles stay in degrees, as configured.

Example:
    >>> from dhstat.config import load
    >>> settings = SelectionSettings.from_config(load())
    >>> settings.pt_cm_min, settings.control.emu
    (0.1, True)
    >>> import pickle
    >>> pickle.loads(pickle.dumps(settings)) == settings
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dhstat.physics.beams import Beams

__all__ = ["ControlSettings", "SelectionSettings"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ControlSettings:
    """The control samples' cuts (``[selection.control]``).

    Attributes:
        mumugamma_photon_energy_min: Energy a mu mu gamma photon must exceed [GeV].
        mumugamma_photon_theta_min_deg: Lower edge of the photon's polar angle (ECL barrel).
        mumugamma_photon_theta_max_deg: Upper edge of the photon's polar angle.
        emu: Whether the e mu control sample is selected at all.
    """

    mumugamma_photon_energy_min: float
    mumugamma_photon_theta_min_deg: float
    mumugamma_photon_theta_max_deg: float
    emu: bool

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> ControlSettings:
        """The settings of a ``[selection.control]`` table."""
        return cls(
            mumugamma_photon_energy_min=float(table["mumugamma_photon_energy_min"]),
            mumugamma_photon_theta_min_deg=float(table["mumugamma_photon_theta_min_deg"]),
            mumugamma_photon_theta_max_deg=float(table["mumugamma_photon_theta_max_deg"]),
            emu=bool(table["emu"]),
        )


@dataclass(frozen=True, slots=True)
class SelectionSettings:
    """Cut values of the search selection, the control samples, the beams and the muon mass.

    Attributes:
        require_trigger: Whether the ``trigger`` cut requires ``trg_pass``.
        dr_max_cm: Largest ``|dr|`` of a good track [cm].
        dz_max_cm: Largest ``|dz|`` of a good track [cm].
        muon_id_min: Muon identification a muon must exceed.
        electron_id_min: Electron identification an electron must exceed.
        track_theta_min_deg: Lower edge of the tracks' polar angle.
        track_theta_max_deg: Upper edge of the tracks' polar angle.
        delta_phi_min_deg: Azimuthal opening angle the pair must exceed.
        muon_cluster_energy_max: ECL cluster energy each muon must stay below [GeV].
        recoil_theta_min_deg: Lower edge of the recoil momentum's polar angle.
        recoil_theta_max_deg: Upper edge of the recoil momentum's polar angle.
        photon_energy_min: Energy above which a cluster counts as a photon [GeV].
        photon_energy_total_max: Total photon energy the search sample stays below [GeV].
        photon_recoil_angle_min_deg: No photon may lie closer to the recoil than this.
        pt_cm_min: c.m. transverse momentum the dimuon must exceed [GeV/c].
        control: The control samples' cuts.
        beams: The nominal beams (recoil, c.m. frame; electron mass of the e mu electron).
        muon_mass: [GeV].
    """

    require_trigger: bool
    dr_max_cm: float
    dz_max_cm: float
    muon_id_min: float
    electron_id_min: float
    track_theta_min_deg: float
    track_theta_max_deg: float
    delta_phi_min_deg: float
    muon_cluster_energy_max: float
    recoil_theta_min_deg: float
    recoil_theta_max_deg: float
    photon_energy_min: float
    photon_energy_total_max: float
    photon_recoil_angle_min_deg: float
    pt_cm_min: float
    control: ControlSettings
    beams: Beams
    muon_mass: float

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> SelectionSettings:
        """The settings of a configuration's ``[selection]``, ``[beams]`` and ``[physics]``."""
        s = cfg["selection"]
        return cls(
            require_trigger=bool(s["require_trigger"]),
            dr_max_cm=float(s["dr_max_cm"]),
            dz_max_cm=float(s["dz_max_cm"]),
            muon_id_min=float(s["muon_id_min"]),
            electron_id_min=float(s["electron_id_min"]),
            track_theta_min_deg=float(s["track_theta_min_deg"]),
            track_theta_max_deg=float(s["track_theta_max_deg"]),
            delta_phi_min_deg=float(s["delta_phi_min_deg"]),
            muon_cluster_energy_max=float(s["muon_cluster_energy_max"]),
            recoil_theta_min_deg=float(s["recoil_theta_min_deg"]),
            recoil_theta_max_deg=float(s["recoil_theta_max_deg"]),
            photon_energy_min=float(s["photon_energy_min"]),
            photon_energy_total_max=float(s["photon_energy_total_max"]),
            photon_recoil_angle_min_deg=float(s["photon_recoil_angle_min_deg"]),
            pt_cm_min=float(s["pt_cm_min"]),
            control=ControlSettings.from_config(s["control"]),
            beams=Beams.from_config(cfg),
            muon_mass=float(cfg["physics"]["muon_mass"]),
        )

    @classmethod
    def of(cls, cfg: SelectionSettings | Mapping[str, Any]) -> SelectionSettings:
        """``cfg`` itself if it is already settings, else :meth:`from_config` of it.

        Example:
            >>> from dhstat.config import load
            >>> settings = SelectionSettings.from_config(load())
            >>> SelectionSettings.of(settings) is settings
            True
        """
        return cfg if isinstance(cfg, SelectionSettings) else cls.from_config(cfg)
