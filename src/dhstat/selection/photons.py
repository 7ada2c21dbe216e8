"""Photon cuts: the search sample's vetoes and the mu mu gamma control sample's photon.

A photon is an ECL cluster above ``photon_energy_min``. The search (and e mu) samples require
``photon_energy`` (total photon energy below the cut) and ``photon_recoil`` (no photon within the
configured angle of the recoil momentum); the mu mu gamma control sample replaces both by
``photon_control`` (at least one photon above the control energy in the ECL barrel) [paper].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.selection.branches import Events, PhotonSummary, any_per_event
from dhstat.selection.settings import ControlSettings, SelectionSettings
from dhstat.selection.tracks import Masks, Pairs
from dhstat.selection.variables import Recoil

__all__ = ["Photons", "photon_cuts"]

Int = NDArray[np.int64]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Photons:
    """The ECL clusters of all events (flat content).

    Attributes:
        n: Number of input events.
        event: Event index of each cluster.
        energy: Cluster energy [GeV].
        theta: Polar angle [rad].
        phi: Azimuth [rad].
        energy_finite: The energy is finite.
        angle_finite: Both angles are finite.
        photon: The cluster counts as a photon (finite energy above ``photon_energy_min``).
    """

    n: int
    event: Int
    energy: Float
    theta: Float
    phi: Float
    energy_finite: Bool
    angle_finite: Bool
    photon: Bool

    @classmethod
    def of(cls, events: Events, photon_energy_min: float) -> Photons:
        """The clusters of ``events``."""
        gam = events.photons
        e_gam = np.asarray(gam["gam_E"], dtype=np.float64)
        th_gam = np.asarray(gam["gam_theta"], dtype=np.float64)
        ph_gam = np.asarray(gam["gam_phi"], dtype=np.float64)
        e_finite = np.isfinite(e_gam)
        return cls(
            n=events.n,
            event=events.photon_event,
            energy=e_gam,
            theta=th_gam,
            phi=ph_gam,
            energy_finite=e_finite,
            angle_finite=np.isfinite(th_gam) & np.isfinite(ph_gam),
            photon=e_finite & (e_gam > photon_energy_min),
        )


def photon_cuts(
    events: Events, pairs: Pairs, recoil: Recoil, settings: SelectionSettings
) -> tuple[NDArray[Any], Masks]:
    """Total photon energy per event; ``photon_energy``, ``photon_recoil``, ``photon_control``.

    With event-level photons (:attr:`Events.photon_summary`) the vetoes cut on the given total
    energy and smallest photon-recoil angle, and ``photon_control`` on the largest barrel photon
    energy (no event passes it when that is not given).
    """
    if events.photon_summary is not None:
        return _summary_cuts(events.photon_summary, settings)
    photons = Photons.of(events, settings.photon_energy_min)
    egamma_total, energy = _energy_veto(photons, settings.photon_energy_total_max)
    masks: Masks = {
        "photon_energy": energy,
        "photon_recoil": _recoil_veto(photons, pairs, recoil, settings.photon_recoil_angle_min_deg),
        "photon_control": _control_photon(photons, settings.control),
    }
    return egamma_total, masks


def _summary_cuts(
    summary: PhotonSummary, settings: SelectionSettings
) -> tuple[NDArray[Any], Masks]:
    """The photon cuts on event-level quantities: total energy, recoil angle, barrel photon."""
    total = np.asarray(summary.total_energy, dtype=np.float64)
    angle = np.asarray(summary.recoil_angle, dtype=np.float64)
    none = np.zeros(len(total), dtype=bool)
    with np.errstate(invalid="ignore"):
        energy = total < settings.photon_energy_total_max
        recoil = angle >= np.radians(settings.photon_recoil_angle_min_deg)
        control = (none, none)
        if summary.barrel_max_energy is not None:
            barrel = np.asarray(summary.barrel_max_energy, dtype=np.float64)
            hard = barrel > settings.control.mumugamma_photon_energy_min
            control = (hard, ~np.isfinite(barrel))
    masks: Masks = {
        "photon_energy": (energy, ~np.isfinite(total)),
        "photon_recoil": (recoil, ~np.isfinite(angle)),
        "photon_control": control,
    }
    return total, masks


def _energy_veto(photons: Photons, total_max: float) -> tuple[NDArray[Any], tuple[Bool, Bool]]:
    """Total photon energy per event, and whether it is below ``total_max``."""
    n, gevt, e_gam, photon = photons.n, photons.event, photons.energy, photons.photon
    egamma_total = np.bincount(gevt[photon], weights=e_gam[photon], minlength=n)
    e_bad = any_per_event(gevt, ~photons.energy_finite, n)
    return egamma_total, (egamma_total < total_max, e_bad)


def _recoil_veto(
    photons: Photons, pairs: Pairs, recoil: Recoil, angle_min_deg: float
) -> tuple[Bool, Bool]:
    """No photon within ``angle_min_deg`` of the recoil momentum."""
    n, gevt, photon = photons.n, photons.event, photons.photon
    th_gam, ph_gam = photons.theta, photons.phi
    angle_bad = any_per_event(gevt, photon & ~photons.angle_finite, n)
    direction = np.full((n, 3), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        direction[pairs.event] = recoil.vector[:, 1:] / recoil.p[:, None]
        u = direction[gevt]
        sin_t = np.sin(th_gam)
        cos_near = sin_t * np.cos(ph_gam) * u[:, 0] + sin_t * np.sin(ph_gam) * u[:, 1]
        cos_near += np.cos(th_gam) * u[:, 2]
        near = photon & (cos_near > np.cos(np.radians(angle_min_deg)))
    return ~any_per_event(gevt, near, n), angle_bad


def _control_photon(photons: Photons, control: ControlSettings) -> tuple[Bool, Bool]:
    """At least one photon above the control energy inside the ECL barrel."""
    n, gevt, e_gam, th_gam = photons.n, photons.event, photons.energy, photons.theta
    photon = photons.photon
    bmin = np.radians(control.mumugamma_photon_theta_min_deg)
    bmax = np.radians(control.mumugamma_photon_theta_max_deg)
    hard = (
        photon & (e_gam > control.mumugamma_photon_energy_min) & (th_gam >= bmin) & (th_gam <= bmax)
    )
    photon_control = any_per_event(gevt, hard, n)
    bad = any_per_event(gevt, ~photons.energy_finite | (photon & ~photons.angle_finite), n)
    return photon_control, bad
