"""Track and pair cuts: impact parameters, the opposite-charge pair, identification, angles.

Each step returns masks over all input events, as ``cut name -> (pass, nonfinite)`` (the
``nonfinite`` mask marks events whose inputs to the cut are NaN or infinite), plus what later
steps need. Per-pair quantities are indexed by the pair (:class:`Pairs`); ``Pairs.scatter`` puts
them back on the events (events without a pair fail).

* :func:`track_cuts`: ``impact_parameters`` (>= 2 good tracks), ``two_tracks`` (exactly two,
  opposite charges);
* :func:`identification_cuts`: ``muon_id`` and the e mu control sample's ``emu_id``;
* :func:`angle_cuts`: four-vectors (muon mass; electron mass for the e mu electron),
  ``track_theta`` and ``delta_phi``;
* :func:`cluster_energy_cut`: ECL cluster energy of the muons (of the muon only in e mu events).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics
from dhstat.selection.branches import Events, any_per_event
from dhstat.selection.settings import SelectionSettings

__all__ = [
    "Identification",
    "Masks",
    "PairMomenta",
    "Pairs",
    "angle_cuts",
    "cluster_energy_cut",
    "identification_cuts",
    "track_cuts",
]

Int = NDArray[np.int64]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

#: Cut name -> (events passing, events whose inputs to the cut are not finite).
Masks = dict[str, tuple[Bool, Bool]]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Pairs:
    """The pair of good tracks of the events with exactly two.

    Attributes:
        n: Number of input events.
        event: Event index of each pair.
        first: Track index (into the flat track content) of the first track of each pair.
        second: Track index of the second track.
        charge: Charge of every track (flat content).
        position: Per event, the index of its pair (-1: none).
    """

    n: int
    event: Int
    first: Int
    second: Int
    charge: NDArray[Any]
    position: Int

    def per_pair(self, values: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        """A track quantity (flat content) for the first and the second track of each pair."""
        a = np.asarray(values, dtype=np.float64)
        return a[self.first], a[self.second]

    def scatter(self, values: NDArray[Any], fill: Any) -> NDArray[Any]:
        """A per-pair quantity per event; ``fill`` for events without a pair."""
        out = np.full(self.n, fill, dtype=np.asarray(values).dtype)
        out[self.event] = values
        return out


@dataclass(frozen=True, slots=True)
class Identification:
    """Which pairs are e mu pairs and where their electron is.

    Attributes:
        is_emu: The pair is one muon and one electron (with finite muon identification).
        electron_first: In e mu pairs, the first track is the electron.
    """

    is_emu: Bool
    electron_first: Bool


@dataclass(frozen=True, slots=True)
class PairMomenta:
    """Lab four-vectors of the two tracks of each pair.

    Attributes:
        first: ``(E, px, py, pz)`` of the first track, one row per pair.
        second: Same for the second track.
        bad: Per event: a track momentum of its pair is not finite.
    """

    first: Float
    second: Float
    bad: Bool


def track_cuts(events: Events, settings: SelectionSettings) -> tuple[Pairs, Masks]:
    """``impact_parameters`` and ``two_tracks``; only good tracks count from here on."""
    n, tevt, trk = events.n, events.track_event, events.tracks
    dr = np.asarray(trk["trk_dr"], dtype=np.float64)
    dz = np.asarray(trk["trk_dz"], dtype=np.float64)
    ip_finite = np.isfinite(dr) & np.isfinite(dz)
    good = ip_finite & (np.abs(dr) < settings.dr_max_cm) & (np.abs(dz) < settings.dz_max_cm)
    ip_bad = any_per_event(tevt, ~ip_finite, n)
    ngood = np.bincount(tevt[good], minlength=n)
    if events.good_tracks is not None:  # flat layout: both daughters good, and the event's count
        ngood = np.where(ngood == 2, np.asarray(events.good_tracks, dtype=np.int64), 0)

    # the pair of good tracks of events with exactly two
    good_index = np.flatnonzero(good)
    pair_index = good_index[ngood[tevt[good_index]] == 2].reshape(-1, 2)
    pair_evt = tevt[pair_index[:, 0]]
    i1, i2 = pair_index[:, 0], pair_index[:, 1]
    charge = np.asarray(trk["trk_charge"])
    opposite = charge[i1] * charge[i2] < 0
    two_tracks = np.zeros(n, dtype=bool)
    two_tracks[pair_evt] = opposite
    position = np.full(n, -1, dtype=np.int64)
    position[pair_evt] = np.arange(len(pair_evt))
    pairs = Pairs(n, pair_evt, i1, i2, charge, position)
    masks = {
        "impact_parameters": (ngood >= 2, ip_bad),
        "two_tracks": (two_tracks, np.zeros(n, dtype=bool)),
    }
    return pairs, masks


def identification_cuts(
    events: Events, pairs: Pairs, settings: SelectionSettings
) -> tuple[Identification, Masks]:
    """``muon_id`` (both muons) and ``emu_id`` (one muon and one electron that is not a muon)."""
    trk = events.tracks
    mu_thr, el_thr = settings.muon_id_min, settings.electron_id_min
    mid1, mid2 = pairs.per_pair(trk["trk_muonID"])
    eid1, eid2 = pairs.per_pair(trk["trk_electronID"])
    mu1, mu2 = mid1 > mu_thr, mid2 > mu_thr
    el1, el2 = (eid1 > el_thr) & ~mu1, (eid2 > el_thr) & ~mu2
    mu_bad = ~(np.isfinite(mid1) & np.isfinite(mid2))
    muon_id = pairs.scatter(mu1 & mu2, False)
    muon_id_bad = pairs.scatter(mu_bad, False)
    emu = (mu1 & el2) | (mu2 & el1)
    emu_bad = mu_bad | ~(np.isfinite(eid1) & np.isfinite(eid2))
    emu_id = pairs.scatter(emu if settings.control.emu else np.zeros_like(emu), False)
    emu_id_bad = pairs.scatter(emu_bad, False)
    electron_is_1 = el1 & mu2  # in e mu events: which track is the electron
    identification = Identification(is_emu=emu & ~mu_bad, electron_first=electron_is_1)
    return identification, {"muon_id": (muon_id, muon_id_bad), "emu_id": (emu_id, emu_id_bad)}


def angle_cuts(
    events: Events, pairs: Pairs, ident: Identification, settings: SelectionSettings
) -> tuple[PairMomenta, Masks]:
    """Four-vectors of the pair, ``track_theta`` (both tracks) and ``delta_phi``."""
    trk = events.tracks
    px1, px2 = pairs.per_pair(trk["trk_px"])
    py1, py2 = pairs.per_pair(trk["trk_py"])
    pz1, pz2 = pairs.per_pair(trk["trk_pz"])
    mom_bad = ~np.isfinite(np.stack([px1, py1, pz1, px2, py2, pz2])).all(axis=0)
    m_mu = settings.muon_mass
    m_e = settings.beams.electron_mass
    m1 = np.where(ident.is_emu & ident.electron_first, m_e, m_mu)
    m2 = np.where(ident.is_emu & ~ident.electron_first, m_e, m_mu)
    with np.errstate(invalid="ignore"):
        p1 = kinematics.four_vector(px1, py1, pz1, m1)
        p2 = kinematics.four_vector(px2, py2, pz2, m2)
        theta1, theta2 = kinematics.polar_angle(p1), kinematics.polar_angle(p2)
    tmin = np.radians(settings.track_theta_min_deg)
    tmax = np.radians(settings.track_theta_max_deg)
    track_theta = pairs.scatter(
        (theta1 >= tmin) & (theta1 <= tmax) & (theta2 >= tmin) & (theta2 <= tmax), False
    )
    kin_bad = pairs.scatter(mom_bad, False)
    with np.errstate(invalid="ignore"):
        dphi = kinematics.delta_phi(p1, p2)
    delta_phi = pairs.scatter(dphi > np.radians(settings.delta_phi_min_deg), False)
    momenta = PairMomenta(first=p1, second=p2, bad=kin_bad)
    return momenta, {"track_theta": (track_theta, kin_bad), "delta_phi": (delta_phi, kin_bad)}


def cluster_energy_cut(
    events: Events, pairs: Pairs, ident: Identification, settings: SelectionSettings
) -> Masks:
    """``cluster_energy``: each muon's ECL cluster below the cut (the electron is exempt)."""
    ce1, ce2 = pairs.per_pair(events.tracks["trk_clusterE"])
    emax = settings.muon_cluster_energy_max
    electron_1 = ident.is_emu & ident.electron_first
    electron_2 = ident.is_emu & ~ident.electron_first
    ok1 = np.where(electron_1, True, ce1 < emax)
    ok2 = np.where(electron_2, True, ce2 < emax)
    ce_bad1 = ~np.isfinite(ce1) & ~electron_1
    ce_bad2 = ~np.isfinite(ce2) & ~electron_2
    cluster_energy = pairs.scatter(ok1 & ok2, False)
    cluster_bad = pairs.scatter(ce_bad1 | ce_bad2, False)
    return {"cluster_energy": (cluster_energy, cluster_bad)}
