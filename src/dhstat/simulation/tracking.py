"""Tracks of the fast detector: acceptance, smearing, trigger, impact parameters, particle ID.

Charged particles (e, mu) with polar angle inside the tracking acceptance and pT above a minimum
are found with an efficiency; pT is smeared with ``sigma(pT)/pT = a pT (+) b/beta``, theta and
phi with a Gaussian angle resolution (angles handled by their cosines and sines: no trig calls).
The trigger needs a track pair in its polar-angle range with an opening angle Delta phi above
the minimum, times a flat efficiency. Impact parameters ``dr``, ``dz`` are a narrow Gaussian plus
a wide beam-background tail. Muon ID rises linearly from 0 at ``p_min`` to the plateau at
``p_plateau``, only inside the KLM acceptance, and in the KLM barrel only above a pT threshold;
electrons fake muons at a fixed rate. Electron ID inside the ECL for p above a threshold, muons
fake electrons at a fixed rate. The stored scores are uniform above (identified) or below (not)
the configured cut.

Example:
    >>> from dhstat.config import load
    >>> from dhstat.simulation.detector_settings import DetectorSettings
    >>> det = DetectorSettings.from_config(load())
    >>> p = np.array([[[3.0, 3.0, 0.0, 0.0]]])
    >>> tracks = measure_tracks(np.random.default_rng(1), p, np.array([[13]]), det)
    >>> tracks.track.tolist(), bool(abs(tracks.cos_tm[0, 0]) < 0.01)
    ([[True]], True)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics.constants import PDG_ELECTRON, PDG_MUON
from dhstat.simulation.acceptance import in_cos_ranges
from dhstat.simulation.detector_settings import DetectorSettings, Trigger

__all__ = ["Tracks", "fire_trigger", "measure_tracks", "track_branches"]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Tracks:
    """Truth and measured quantities of the charged slots, padded arrays ``(n, k)``.

    Attributes:
        p: Truth four-vectors ``(n, k, 4)``.
        is_mu, is_e, charged: The slot holds a muon, an electron, either.
        ptot, cos_t: Truth momentum and cos theta.
        track: The slot is a reconstructed track.
        px, py, pz, pt_m, p_m: Measured momentum components, pT and momentum.
        cos_tm, sin_tm, cos_pm, sin_pm: Cos and sin of the measured theta and phi.
    """

    p: Array
    is_mu: Mask
    is_e: Mask
    charged: Mask
    ptot: Array
    cos_t: Array
    track: Mask
    px: Array
    py: Array
    pz: Array
    pt_m: Array
    p_m: Array
    cos_tm: Array
    sin_tm: Array
    cos_pm: Array
    sin_pm: Array

    def take(self, rows: NDArray[np.intp]) -> Tracks:
        """The tracks of the events ``rows``."""
        return Tracks(*(getattr(self, f.name)[rows] for f in fields(self)))


def _cos_sin_small(d: Array) -> tuple[Array, Array]:
    """Cos and sin of small angles (resolution smearing) by their series; trig calls if large."""
    if d.size and float(np.max(np.abs(d))) > 0.1:
        return np.cos(d), np.sin(d)
    d2 = d * d
    # series to d^10 and d^11: truncation error < 1e-20 for |d| <= 0.1
    cos = 1.0 + d2 * (-1 / 2 + d2 * (1 / 24 + d2 * (-1 / 720 + d2 * (1 / 40320 - d2 / 3628800))))
    sin = d * (1.0 + d2 * (-1 / 6 + d2 * (1 / 120 + d2 * (-1 / 5040 + d2 * (1 / 362880)))))
    return cos, sin


def measure_tracks(
    rng: np.random.Generator, p: Array, apdg: NDArray[np.int32], settings: DetectorSettings
) -> Tracks:
    """Tracking of the charged slots: acceptance and efficiency, then pT and angle smearing.

    Args:
        rng: Draws ``(n, k)`` uniforms (efficiency), then ``(3, n, k)`` normals (smearing).
        p: Truth four-vectors ``(n, k, 4)`` of the slots.
        apdg: Absolute PDG codes ``(n, k)``.
        settings: The detector settings (tracking, particle masses).
    """
    tracking = settings.tracking
    n, kc = apdg.shape
    is_mu, is_e = apdg == PDG_MUON, apdg == PDG_ELECTRON
    charged = is_mu | is_e
    px0, py0, pz0 = p[..., 1], p[..., 2], p[..., 3]
    pt2 = px0 * px0 + py0 * py0
    pt = np.sqrt(pt2)
    ptot = np.sqrt(pt2 + pz0 * pz0)
    safe_p = np.maximum(ptot, 1e-300)
    cos_t, sin_t = pz0 / safe_p, pt / safe_p
    cos_t = np.where(ptot > 0, cos_t, 1.0)
    safe_pt = np.maximum(pt, 1e-300)
    cos_p, sin_p = np.where(pt > 0, px0 / safe_pt, 1.0), py0 / safe_pt
    track = charged & in_cos_ranges(cos_t, [[tracking.theta_min, tracking.theta_max]])
    track &= pt >= tracking.pt_min
    track &= rng.random((n, kc)) < tracking.efficiency
    mass2 = np.where(is_mu, settings.muon_mass, settings.electron_mass) ** 2
    beta = ptot / np.sqrt(ptot * ptot + mass2)
    rel = tracking.momentum_resolution_scale * np.hypot(
        tracking.pt_resolution_a * pt, tracking.pt_resolution_b / np.maximum(beta, 1e-3)
    )
    noise = rng.standard_normal((3, n, kc))
    pt_m = pt * (1 + rel * noise[0])
    sigma_angle = tracking.angle_resolution_mrad * 1e-3
    c_d, s_d = _cos_sin_small(sigma_angle * noise[1])
    cos_tm, sin_tm = cos_t * c_d - sin_t * s_d, sin_t * c_d + cos_t * s_d
    # theta_m clipped to [1e-6, pi - 1e-6] as the polar angle is
    sin_tm = np.maximum(sin_tm, 1e-6)
    c_d, s_d = _cos_sin_small(sigma_angle * noise[2])
    cos_pm, sin_pm = cos_p * c_d - sin_p * s_d, sin_p * c_d + cos_p * s_d
    px, py = pt_m * cos_pm, pt_m * sin_pm
    pz = pt_m * cos_tm / sin_tm
    p_m = pt_m / sin_tm
    return Tracks(
        p=p,
        is_mu=is_mu,
        is_e=is_e,
        charged=charged,
        ptot=ptot,
        cos_t=cos_t,
        track=track,
        px=px,
        py=py,
        pz=pz,
        pt_m=pt_m,
        p_m=p_m,
        cos_tm=cos_tm,
        sin_tm=sin_tm,
        cos_pm=cos_pm,
        sin_pm=sin_pm,
    )


def fire_trigger(rng: np.random.Generator, tracks: Tracks, trigger: Trigger) -> Mask:
    """Trigger flag (n,): a track pair in the angular range with a large opening angle.

    Draws ``n`` uniforms (efficiency) if there are charged slots.
    """
    n, kc = tracks.track.shape
    in_trg = tracks.track & in_cos_ranges(tracks.cos_tm, [[trigger.theta_min, trigger.theta_max]])
    fired = np.zeros(n, bool)
    cos_dphi_max = np.cos(np.radians(trigger.delta_phi_min))
    cos_pm, sin_pm = tracks.cos_pm, tracks.sin_pm
    for i in range(kc):
        for j in range(i + 1, kc):
            opening = cos_pm[:, i] * cos_pm[:, j] + sin_pm[:, i] * sin_pm[:, j] < cos_dphi_max
            fired |= in_trg[:, i] & in_trg[:, j] & opening
    return fired & (rng.random(n) < trigger.efficiency) if kc else np.zeros(n, bool)


def _scores(rng: np.random.Generator, identified: Mask, cut: float) -> Array:
    u = rng.random(identified.shape)
    return np.asarray(np.where(identified, cut + (1 - cut) * u, cut * u), dtype=np.float64)


def track_branches(
    rng: np.random.Generator, tracks: Tracks, pdg: NDArray[np.int32], settings: DetectorSettings
) -> dict[str, NDArray[Any]]:
    """Track quantities but the cluster energy: momentum, charge, impact parameters, angles, ID.

    Draws ``(3, n, k)`` uniforms (impact-parameter tail, muon and electron ID), ``(2, n, k)``
    normals (impact parameters), then the two ID scores.
    """
    impact = settings.impact
    n, kc = tracks.track.shape
    charge = np.where(pdg > 0, -1, 1).astype(np.int32)
    uniform = rng.random((3, n, kc))
    tail = uniform[0] < impact.tail_fraction
    ip_noise = rng.standard_normal((2, n, kc))
    dr = np.where(tail, impact.dr_tail_cm, impact.dr_core_cm) * ip_noise[0]
    dz = np.where(tail, impact.dz_tail_cm, impact.dz_core_cm) * ip_noise[1]
    trk: dict[str, NDArray[Any]] = {"px": tracks.px, "py": tracks.py, "pz": tracks.pz}
    trk |= {"charge": charge, "dr": dr, "dz": dz}
    trk |= {
        "phi": np.arctan2(tracks.sin_pm, tracks.cos_pm),
        "theta": np.arctan2(tracks.sin_tm, tracks.cos_tm),
    }
    muon_id, electron_id = _particle_id(rng, tracks, uniform[1], uniform[2], settings)
    trk |= {"muonID": muon_id, "electronID": electron_id}
    return trk


def _particle_id(
    rng: np.random.Generator,
    tracks: Tracks,
    u_mu: Array,
    u_e: Array,
    settings: DetectorSettings,
) -> tuple[Array, Array]:
    """Muon and electron ID scores; ``u_mu``, ``u_e``: the uniforms that decide identification."""
    muid, eid = settings.muon_id, settings.electron_id
    p_m, pt_m, cos_tm = tracks.p_m, tracks.pt_m, tracks.cos_tm
    ramp = np.clip((p_m - muid.p_min) / (muid.p_plateau - muid.p_min), 0.0, 1.0)
    in_klm = in_cos_ranges(cos_tm, [[muid.theta_min, muid.theta_max]])
    barrel = in_cos_ranges(cos_tm, [[muid.barrel_theta_min, muid.barrel_theta_max]])
    klm_ok = in_klm & ~(barrel & (pt_m < muid.barrel_pt_min))
    mu_eff = np.where(tracks.is_mu, muid.efficiency * ramp * klm_ok, muid.electron_fake_rate)
    in_ecl = in_cos_ranges(cos_tm, settings.ecl.ranges)
    e_eff = np.where(tracks.is_e, eid.efficiency * in_ecl * (p_m >= eid.p_min), eid.muon_fake_rate)
    return _scores(rng, u_mu < mu_eff, muid.cut), _scores(rng, u_e < e_eff, eid.cut)
