"""The reconstruction-level skim, looser than the selection (analysis.md section 7).

Keeps events with a pair of oppositely charged tracks, both with polar angle in the skim range,
whose c.m. transverse momentum exceeds the skim minimum and whose recoil momentum (nominal beams
minus the pair, muon masses) points into the skim range, and (``require_trigger``) that pass the
trigger emulation (as every selected sample must). :func:`skim_mask` works on reconstructed
events; :func:`fast_skim` decides the same on the padded tracks right after tracking, before the
rest of the detector response.

Example:
    >>> from dhstat.config import load
    >>> from dhstat.simulation.detector_settings import DetectorSettings
    >>> det = DetectorSettings.from_config(load())
    >>> track = np.ones((1, 2), bool)
    >>> momenta = (np.array([[1.0, -1.0]]), np.array([[0.5, -0.3]]), np.array([[1.2, 1.2]]))
    >>> pdg = np.array([[13, -13]], np.int32)
    >>> cos = momenta[2] / np.sqrt(sum(v * v for v in momenta))
    >>> fast_skim(track, cos, momenta, pdg, np.ones(1, bool), det).tolist()
    [0]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics as kin
from dhstat.physics.beams import Beams
from dhstat.simulation.acceptance import in_cos_ranges
from dhstat.simulation.detector_settings import DetectorSettings, SkimSettings
from dhstat.simulation.reconstructed import Reconstructed

__all__ = ["fast_skim", "skim_mask"]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


def __dir__() -> list[str]:
    return __all__


def skim_mask(reco: Reconstructed, beta_cm: Array, cfg: Mapping[str, Any]) -> Mask:
    """Reconstruction-level skim, looser than the selection (analysis.md section 7).

    Keeps events with a pair of oppositely charged tracks, both with polar angle in the skim
    range, whose c.m. transverse momentum exceeds the skim minimum and whose recoil momentum
    (nominal beams minus the pair, muon masses) points into the skim range, and
    (``require_trigger``) that pass the trigger emulation (as every selected sample must). All
    true if disabled.
    """
    skim = SkimSettings.from_table(cfg["simulation"]["skim"])
    muon_mass = float(cfg["physics"]["muon_mass"])
    return _skim(reco, beta_cm, skim, muon_mass, Beams.from_config(cfg))


def fast_skim(
    track: Mask,
    cos_theta: Array,
    momenta: tuple[Array, Array, Array],
    pdg: NDArray[np.int32],
    trg_pass: Mask,
    settings: DetectorSettings,
) -> NDArray[np.intp]:
    """Indices of the events passing the skim (as :func:`skim_mask`), from the padded tracks."""
    skim = settings.skim
    n, k = track.shape
    if not skim.enabled:
        return np.arange(n)
    good = track & in_cos_ranges(cos_theta, [[skim.theta_min, skim.theta_max]])
    keep = np.zeros(n, bool)
    px, py, pz = momenta
    mu2 = settings.muon_mass**2
    beams = settings.beams.total()
    beta = settings.beams.cm_velocity()
    gamma = 1.0 / np.sqrt(1.0 - beta @ beta)
    g2 = gamma * gamma / (gamma + 1.0)
    c_lo = np.cos(np.radians(skim.recoil_theta_max))
    c_hi = np.cos(np.radians(skim.recoil_theta_min))
    for i in range(k):
        for j in range(i + 1, k):
            pair = good[:, i] & good[:, j] & ((pdg[:, i] > 0) != (pdg[:, j] > 0))
            if skim.require_trigger:
                pair &= trg_pass
            rows = np.flatnonzero(pair)
            if not rows.size:
                continue
            a = [v[rows, i] for v in (px, py, pz)]
            b = [v[rows, j] for v in (px, py, pz)]
            e = np.sqrt(a[0] ** 2 + a[1] ** 2 + a[2] ** 2 + mu2)
            e += np.sqrt(b[0] ** 2 + b[1] ** 2 + b[2] ** 2 + mu2)
            sx, sy, sz = a[0] + b[0], a[1] + b[1], a[2] + b[2]
            # pT of the pair in the c.m. frame (boost by -beta_cm)
            factor = g2 * (beta[0] * sx + beta[1] * sy + beta[2] * sz) - gamma * e
            pt_cm = np.hypot(sx + factor * beta[0], sy + factor * beta[1])
            rx, ry, rz = beams[1] - sx, beams[2] - sy, beams[3] - sz
            cos_r = rz / np.sqrt(rx * rx + ry * ry + rz * rz)
            ok = (pt_cm >= skim.pt_cm_min) & (cos_r >= c_lo) & (cos_r <= c_hi)
            keep[rows[ok]] = True
    if skim.require_trigger:
        keep &= trg_pass
    return np.flatnonzero(keep)


def _skim(reco: Reconstructed, beta_cm: Array, skim: SkimSettings, mu: float, beams: Beams) -> Mask:
    track, trk, trg_pass = reco.track, reco.trk, reco.trg_pass
    n, k = track.shape
    if not skim.enabled:
        return np.ones(n, bool)
    theta = np.degrees(trk["theta"])
    good = track & (theta >= skim.theta_min) & (theta <= skim.theta_max)
    keep = np.zeros(n, bool)
    px, py, pz, q = (trk[f] for f in ("px", "py", "pz", "charge"))
    total = beams.total()
    for i in range(k):
        for j in range(i + 1, k):
            pair = good[:, i] & good[:, j] & (q[:, i] != q[:, j])
            if not pair.any():
                continue
            p1 = kin.four_vector(px[:, i], py[:, i], pz[:, i], mu)
            p2 = kin.four_vector(px[:, j], py[:, j], pz[:, j], mu)
            pair &= kin.pt_cm(p1, p2, beta_cm) >= skim.pt_cm_min
            recoil = np.degrees(kin.polar_angle(total - p1 - p2))
            pair &= (recoil >= skim.recoil_theta_min) & (recoil <= skim.recoil_theta_max)
            keep |= pair
    if skim.require_trigger:
        keep &= trg_pass
    return keep
