"""Fast detector response: truth particles -> reconstructed tracks, photons and trigger flag.

All numbers come from the ``[detector]`` configuration table (analysis.md section 6):

- Tracks: charged particles (e, mu) with polar angle inside the tracking acceptance and pT above
  a minimum are found with an efficiency; pT is smeared with ``sigma(pT)/pT = a pT (+) b/beta``,
  theta and phi with a Gaussian angle resolution; impact parameters ``dr``, ``dz`` are a narrow
  Gaussian plus a wide beam-background tail.
- Particle ID: muon ID efficiency rising linearly from 0 at ``p_min`` to the plateau at
  ``p_plateau``, only inside the KLM acceptance, and in the KLM barrel only above a pT threshold;
  electrons fake muons at a fixed rate. Electron ID inside the ECL for p above a threshold, muons
  fake electrons at a fixed rate. The stored scores are uniform above (identified) or below (not)
  the configured cut.
- ECL: forward, barrel and backward regions with gaps between. Muons leave a MIP cluster (Moyal
  distribution, a Landau approximation) and photons within ``merge_angle`` of a track's direction
  are merged into its cluster (unresolved FSR); electrons deposit their smeared energy.
- Photons inside the ECL regions are detected with an efficiency, smeared with
  ``sigma_E/E = a/sqrt(E) (+) b`` and an angle resolution, and kept above the threshold.
- Beam-background photons: a Poisson number per event, energies exponential below a maximum,
  uniform over the ECL; only those above the threshold are stored.
- Trigger: a track pair within the trigger polar-angle range with an opening angle Delta phi above
  the minimum, times a flat efficiency.

Example:
    >>> import numpy as np
    >>> from dhstat.config import load
    >>> from dhstat.simulation.generators import generate_signal
    >>> cfg = load()
    >>> truth = generate_signal(5.0, 2.0, 200, cfg=cfg, rng=np.random.default_rng(3))
    >>> events = reconstruct(truth, cfg=cfg, rng=np.random.default_rng(4))
    >>> sorted(events)[:4]
    ['gam_E', 'gam_phi', 'gam_theta', 'trg_pass']
    >>> len(events["weight"]) == 200
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.physics import kinematics as kin
from dhstat.physics.constants import PDG_ELECTRON, PDG_MUON, PDG_PHOTON
from dhstat.simulation.generators import TruthEvents

__all__ = [
    "BRANCHES",
    "Reconstructed",
    "reconstruct",
    "reconstruct_padded",
    "skim_mask",
    "to_branches",
]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]

#: Reconstructed-event branches (docs/internals.md), without the optional truth branches.
BRANCHES = ntuples.EVENT_BRANCHES


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Reconstructed:
    """Reconstructed events as padded arrays (one row per event, one column per truth slot).

    Attributes:
        track: Mask (n, k): the slot is a reconstructed track.
        trk: Track quantities (n, k) keyed by field (px, py, pz, charge, dr, dz, muonID,
            electronID, clusterE).
        gam: Photon quantities, flat over all photons (E, theta, phi) plus ``event`` (index).
        trg_pass: Trigger flag (n,).
        extra: Per-event truth branches.
    """

    track: Mask
    trk: Mapping[str, NDArray[Any]]
    gam: Mapping[str, NDArray[Any]]
    trg_pass: Mask
    extra: Mapping[str, NDArray[Any]]

    def __len__(self) -> int:
        return int(self.track.shape[0])


def _in_ranges(theta_deg: Array, ranges: list[list[float]]) -> Mask:
    mask = np.zeros(theta_deg.shape, bool)
    for lo, hi in ranges:
        mask |= (theta_deg >= lo) & (theta_deg <= hi)
    return mask


def _ecl_ranges(ecl: Mapping[str, Any]) -> list[list[float]]:
    return [list(ecl["forward"]), list(ecl["barrel"]), list(ecl["backward"])]


def _scores(rng: np.random.Generator, identified: Mask, cut: float) -> Array:
    u = rng.random(identified.shape)
    return np.asarray(np.where(identified, cut + (1 - cut) * u, cut * u), dtype=np.float64)


def _cos_sin_small(d: Array) -> tuple[Array, Array]:
    """Cos and sin of small angles (resolution smearing) by their series; trig calls if large."""
    if d.size and float(np.max(np.abs(d))) > 0.1:
        return np.cos(d), np.sin(d)
    d2 = d * d
    # series to d^10 and d^11: truncation error < 1e-20 for |d| <= 0.1
    cos = 1.0 + d2 * (-1 / 2 + d2 * (1 / 24 + d2 * (-1 / 720 + d2 * (1 / 40320 - d2 / 3628800))))
    sin = d * (1.0 + d2 * (-1 / 6 + d2 * (1 / 120 + d2 * (-1 / 5040 + d2 * (1 / 362880)))))
    return cos, sin


def _in_cos_ranges(cos: Array, ranges: list[list[float]]) -> Mask:
    """Polar angle (given by its cosine) inside one of the ``[lo, hi]`` ranges [deg]."""
    mask = np.zeros(cos.shape, bool)
    for lo, hi in ranges:
        mask |= (cos <= np.cos(np.radians(lo))) & (cos >= np.cos(np.radians(hi)))
    return mask


def reconstruct_padded(
    truth: TruthEvents,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    skim: bool = False,
) -> Reconstructed:
    """Detector response on padded arrays (see :func:`reconstruct` for the flat form).

    The track arrays have one column per truth slot that holds a charged particle in some event.
    With ``skim``, only the events passing :func:`skim_mask` are returned; the skim is decided
    right after tracking and trigger, before the (costlier) rest of the detector response,
    which is drawn for the kept events only.
    """
    det = cfg["detector"]
    tracking, impact, ecl = det["tracking"], det["impact_parameters"], det["ecl"]
    muid, eid = det["muon_id"], det["electron_id"]
    n = truth.pdg.shape[0]
    apdg_all = np.abs(truth.pdg)
    charged_all = (apdg_all == PDG_MUON) | (apdg_all == PDG_ELECTRON)
    photon_all = (apdg_all == PDG_PHOTON) & (truth.p[..., 0] > 0)
    cols_c = np.flatnonzero(charged_all.any(axis=0)) if n else np.arange(0)
    cols_g = np.flatnonzero(photon_all.any(axis=0)) if n else np.arange(0)
    ecl_ranges = _ecl_ranges(ecl)

    # ---- tracks (charged columns only); angles by their cosines and sines (no trig calls)
    p = truth.p[:, cols_c]
    kc = cols_c.size
    apdg = apdg_all[:, cols_c]
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
    track = charged & _in_cos_ranges(cos_t, [[tracking["theta_min"], tracking["theta_max"]]])
    track &= pt >= tracking["pt_min"]
    track &= rng.random((n, kc)) < tracking["efficiency"]
    mass2 = np.where(is_mu, cfg["physics"]["muon_mass"], cfg["physics"]["electron_mass"]) ** 2
    beta = ptot / np.sqrt(ptot * ptot + mass2)
    rel = tracking["momentum_resolution_scale"] * np.hypot(
        tracking["pt_resolution_a"] * pt, tracking["pt_resolution_b"] / np.maximum(beta, 1e-3)
    )
    noise = rng.standard_normal((3, n, kc))
    pt_m = pt * (1 + rel * noise[0])
    sigma_angle = tracking["angle_resolution_mrad"] * 1e-3
    c_d, s_d = _cos_sin_small(sigma_angle * noise[1])
    cos_tm, sin_tm = cos_t * c_d - sin_t * s_d, sin_t * c_d + cos_t * s_d
    # theta_m clipped to [1e-6, pi - 1e-6] as the polar angle is
    sin_tm = np.maximum(sin_tm, 1e-6)
    c_d, s_d = _cos_sin_small(sigma_angle * noise[2])
    cos_pm, sin_pm = cos_p * c_d - sin_p * s_d, sin_p * c_d + cos_p * s_d
    px, py = pt_m * cos_pm, pt_m * sin_pm
    pz = pt_m * cos_tm / sin_tm
    p_m = pt_m / sin_tm

    # ---- trigger: a track pair in the angular range with a large opening angle
    trig = det["trigger"]
    in_trg = track & _in_cos_ranges(cos_tm, [[trig["theta_min"], trig["theta_max"]]])
    fired = np.zeros(n, bool)
    cos_dphi_max = np.cos(np.radians(trig["delta_phi_min"]))
    for i in range(kc):
        for j in range(i + 1, kc):
            opening = cos_pm[:, i] * cos_pm[:, j] + sin_pm[:, i] * sin_pm[:, j] < cos_dphi_max
            fired |= in_trg[:, i] & in_trg[:, j] & opening
    trg_pass = fired & (rng.random(n) < trig["efficiency"]) if kc else np.zeros(n, bool)
    extra = dict(truth.extra)
    pg_all = truth.p
    if skim:
        keep = _fast_skim(track, cos_tm, (px, py, pz), truth.pdg[:, cols_c], trg_pass, cfg)
        n = int(keep.size)
        extra = {name: np.asarray(value)[keep] for name, value in extra.items()}
        track, trg_pass = track[keep], trg_pass[keep]
        p, ptot, cos_t = p[keep], ptot[keep], cos_t[keep]
        px, py, pz, pt_m, p_m = px[keep], py[keep], pz[keep], pt_m[keep], p_m[keep]
        cos_tm, sin_tm, cos_pm, sin_pm = cos_tm[keep], sin_tm[keep], cos_pm[keep], sin_pm[keep]
        is_mu, is_e, charged = is_mu[keep], is_e[keep], charged[keep]
        photon_all, pg_all = photon_all[keep], pg_all[keep]
        pdg_c = truth.pdg[keep][:, cols_c]
    else:
        pdg_c = truth.pdg[:, cols_c]
    charge = np.where(pdg_c > 0, -1, 1).astype(np.int32)
    uniform = rng.random((3, n, kc))
    tail = uniform[0] < impact["tail_fraction"]
    ip_noise = rng.standard_normal((2, n, kc))
    dr = np.where(tail, impact["dr_tail_cm"], impact["dr_core_cm"]) * ip_noise[0]
    dz = np.where(tail, impact["dz_tail_cm"], impact["dz_core_cm"]) * ip_noise[1]
    trk: dict[str, NDArray[Any]] = {"px": px, "py": py, "pz": pz, "charge": charge}
    trk |= {"dr": dr, "dz": dz}
    trk |= {"phi": np.arctan2(sin_pm, cos_pm), "theta": np.arctan2(sin_tm, cos_tm)}

    # ---- particle ID
    ramp = np.clip((p_m - muid["p_min"]) / (muid["p_plateau"] - muid["p_min"]), 0.0, 1.0)
    in_klm = _in_cos_ranges(cos_tm, [[muid["theta_min"], muid["theta_max"]]])
    barrel = _in_cos_ranges(cos_tm, [[muid["barrel_theta_min"], muid["barrel_theta_max"]]])
    klm_ok = in_klm & ~(barrel & (pt_m < muid["barrel_pt_min"]))
    mu_eff = np.where(is_mu, muid["efficiency"] * ramp * klm_ok, muid["electron_fake_rate"])
    in_ecl = _in_cos_ranges(cos_tm, ecl_ranges)
    e_eff = np.where(
        is_e, eid["efficiency"] * in_ecl * (p_m >= eid["p_min"]), eid["muon_fake_rate"]
    )
    muon_id = _scores(rng, uniform[1] < mu_eff, muid["cut"])  # uniform[1], [2]: drawn above
    electron_id = _scores(rng, uniform[2] < e_eff, eid["cut"])

    # ---- ECL: photons close to a charged particle reaching the ECL join its cluster
    a_e, b_e = ecl["energy_resolution_stochastic"], ecl["energy_resolution_constant"]

    def smear_energy(e: Array) -> Array:
        sigma = np.hypot(a_e / np.sqrt(np.maximum(e, 1e-6)), b_e) * e
        return np.asarray(np.maximum(e + sigma * rng.standard_normal(e.shape), 0.0))

    hits_ecl = _in_cos_ranges(cos_t, ecl_ranges) & charged
    unit_c = p[..., 1:] / np.maximum(ptot, 1e-300)[..., None]
    pg = pg_all[:, cols_g]
    gam = photon_all[:, cols_g]
    g_pt = np.hypot(pg[..., 1], pg[..., 2])
    g_theta_true = np.arctan2(g_pt, pg[..., 3])
    g_phi_true = np.arctan2(pg[..., 2], pg[..., 1])
    g_in = gam & _in_ranges(np.degrees(g_theta_true), ecl_ranges)
    unit_g = pg[..., 1:] / np.maximum(np.hypot(g_pt, pg[..., 3]), 1e-300)[..., None]
    cos_merge = np.cos(np.radians(ecl["merge_angle_deg"]))
    merged = np.zeros(g_in.shape, bool)
    merged_energy = np.zeros((n, kc))
    for j in range(cols_g.size):
        if not g_in[:, j].any():
            continue
        best = np.full(n, -2.0)
        best_slot = np.zeros(n, np.int64)
        for i in range(kc):
            cos = np.einsum("nk,nk->n", unit_g[:, j], unit_c[:, i])
            closer = hits_ecl[:, i] & (cos > best)
            best = np.where(closer, cos, best)
            best_slot = np.where(closer, i, best_slot)
        joined = g_in[:, j] & (best > cos_merge)
        merged[:, j] = joined
        rows = np.flatnonzero(joined)
        np.add.at(merged_energy, (rows, best_slot[rows]), pg[rows, j, 0])
    mip = ecl["muon_cluster_mpv"] + ecl["muon_cluster_width"] * -np.log(
        np.maximum(rng.standard_normal((n, kc)) ** 2, 1e-300)
    )
    mip = np.clip(mip, 0.0, None)
    extra_e = np.where(merged_energy > 0, smear_energy(np.maximum(merged_energy, 1e-9)), 0.0)
    electron_e = smear_energy(np.maximum(p[..., 0] + merged_energy, 1e-9))
    cluster = np.where(is_mu, mip + extra_e, np.where(is_e, electron_e, 0.0))
    cluster = np.where(hits_ecl, cluster, 0.0)

    seen = g_in & ~merged & (rng.random(g_in.shape) < ecl["photon_efficiency"])
    g_rows, g_cols = np.nonzero(seen)
    g_energy = smear_energy(pg[g_rows, g_cols, 0])
    sigma_g = ecl["photon_angle_resolution_mrad"] * 1e-3
    g_noise = rng.standard_normal((2, g_rows.size))
    g_theta = np.clip(g_theta_true[g_rows, g_cols] + sigma_g * g_noise[0], 0.0, np.pi)
    g_phi = g_phi_true[g_rows, g_cols] + sigma_g * g_noise[1]
    photons = _add_beam_background(
        rng, n, (g_rows, g_energy, g_theta, g_phi), det["beam_background"], ecl, smear_energy
    )

    trk |= {"muonID": muon_id, "electronID": electron_id, "clusterE": cluster}
    return Reconstructed(track=track, trk=trk, gam=photons, trg_pass=trg_pass, extra=extra)


def _add_beam_background(
    rng: np.random.Generator,
    n: int,
    physics: tuple[NDArray[Any], Array, Array, Array],
    bkg: Mapping[str, Any],
    ecl: Mapping[str, Any],
    smear_energy: Any,
) -> dict[str, NDArray[Any]]:
    """Merge the physics photons with beam-background photons; keep those above threshold."""
    g_rows, g_energy, g_theta, g_phi = physics
    counts = rng.poisson(bkg["photons_per_event"], n)
    b_rows = np.repeat(np.arange(n), counts)
    m = b_rows.size
    scale, e_max = bkg["energy_scale"], bkg["energy_max"]
    b_energy = -scale * np.log(1 - rng.random(m) * (1 - np.exp(-e_max / scale)))
    lo, hi = np.radians(ecl["forward"][0]), np.radians(ecl["backward"][1])
    b_theta = np.arccos(rng.uniform(np.cos(hi), np.cos(lo), m))
    b_phi = rng.uniform(-np.pi, np.pi, m)
    b_keep = _in_ranges(np.degrees(b_theta), _ecl_ranges(ecl))
    b_energy = smear_energy(b_energy)
    rows = np.concatenate([g_rows, b_rows[b_keep]])
    gam_e = np.concatenate([g_energy, b_energy[b_keep]])
    gam_theta = np.concatenate([g_theta, b_theta[b_keep]])
    gam_phi = np.concatenate([g_phi, b_phi[b_keep]])
    above = gam_e > ecl["photon_threshold"]
    rows, gam_e, gam_theta, gam_phi = rows[above], gam_e[above], gam_theta[above], gam_phi[above]
    order = np.argsort(rows, kind="stable")
    gam_phi = (gam_phi[order] + np.pi) % (2 * np.pi) - np.pi
    return {"E": gam_e[order], "theta": gam_theta[order], "phi": gam_phi, "event": rows[order]}


_TRK_FIELDS = ("px", "py", "pz", "charge", "dr", "dz", "muonID", "electronID", "clusterE")


def to_branches(
    reco: Reconstructed, weight: float | Array, mask: Mask | None = None, *, jagged: bool = True
) -> dict[str, Any]:
    """The ntuple branches (docs/internals.md) of the events selected by ``mask`` (all if None).

    Track and photon branches are awkward arrays, or with ``jagged=False`` flat numpy content
    plus the counters ``ntrk`` and ``ngam`` (what :func:`dhstat.selection.select` also accepts).
    """
    n = len(reco)
    keep = np.ones(n, bool) if mask is None else mask
    track = reco.track[keep]
    counts = track.sum(axis=1)
    out: dict[str, Any] = {}
    weights = np.broadcast_to(np.asarray(weight, dtype=np.float64), (n,))[keep]
    out["weight"] = np.ascontiguousarray(weights)
    index = np.cumsum(keep) - 1  # new event index of kept events
    g_keep = keep[reco.gam["event"]]
    g_event = index[reco.gam["event"][g_keep]]
    g_counts = np.bincount(g_event, minlength=int(keep.sum()))
    if not jagged:
        out["ntrk"] = counts.astype(np.int32)
        out["ngam"] = g_counts.astype(np.int32)
    for name in _TRK_FIELDS:
        values = reco.trk[name][keep][track]
        out[f"trk_{name}"] = ak.unflatten(values, counts) if jagged else values
    for name in ("E", "theta", "phi"):
        values = reco.gam[name][g_keep]
        out[f"gam_{name}"] = ak.unflatten(values, g_counts) if jagged else values
    out["trg_pass"] = reco.trg_pass[keep]
    for name, value in reco.extra.items():
        out[name] = np.asarray(value)[keep]
    return out


def reconstruct(
    truth: TruthEvents, *, cfg: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """Reconstructed events in the ntuple schema (weight 1; truth ``extra`` branches copied).

    Flat branches are numpy arrays, jagged ones awkward arrays (``trk_*``, ``gam_*``).
    """
    return to_branches(reconstruct_padded(truth, cfg=cfg, rng=rng), 1.0)


def skim_mask(reco: Reconstructed, beta_cm: Array, cfg: Mapping[str, Any]) -> Mask:
    """Reconstruction-level skim, looser than the selection (analysis.md section 7).

    Keeps events with a pair of oppositely charged tracks, both with polar angle in the skim
    range, whose c.m. transverse momentum exceeds the skim minimum and whose recoil momentum
    (nominal beams minus the pair, muon masses) points into the skim range, and (``require_trigger``)
    that pass the trigger emulation (as every selected sample must). All true if disabled.
    """
    return _skim(reco.track, reco.trk, reco.trg_pass, beta_cm, cfg)


def _fast_skim(
    track: Mask,
    cos_theta: Array,
    momenta: tuple[Array, Array, Array],
    pdg: NDArray[np.int32],
    trg_pass: Mask,
    cfg: Mapping[str, Any],
) -> NDArray[np.intp]:
    """Indices of the events passing the skim (as :func:`skim_mask`), from the padded tracks."""
    skim = cfg["simulation"]["skim"]
    n, k = track.shape
    if not skim["enabled"]:
        return np.arange(n)
    good = track & _in_cos_ranges(cos_theta, [[skim["theta_min"], skim["theta_max"]]])
    keep = np.zeros(n, bool)
    px, py, pz = momenta
    mu2 = cfg["physics"]["muon_mass"] ** 2
    her, ler = kin.beam_momenta(cfg)
    beams = her + ler
    beta = kin.cm_boost(cfg)
    gamma = 1.0 / np.sqrt(1.0 - beta @ beta)
    g2 = gamma * gamma / (gamma + 1.0)
    c_lo = np.cos(np.radians(skim["recoil_theta_max"]))
    c_hi = np.cos(np.radians(skim["recoil_theta_min"]))
    for i in range(k):
        for j in range(i + 1, k):
            pair = good[:, i] & good[:, j] & ((pdg[:, i] > 0) != (pdg[:, j] > 0))
            if skim["require_trigger"]:
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
            ok = (pt_cm >= skim["pt_cm_min"]) & (cos_r >= c_lo) & (cos_r <= c_hi)
            keep[rows[ok]] = True
    if skim["require_trigger"]:
        keep &= trg_pass
    return np.flatnonzero(keep)


def _skim(
    track: Mask,
    trk: Mapping[str, NDArray[Any]],
    trg_pass: Mask,
    beta_cm: Array,
    cfg: Mapping[str, Any],
) -> Mask:
    skim = cfg["simulation"]["skim"]
    n, k = track.shape
    if not skim["enabled"]:
        return np.ones(n, bool)
    theta = np.degrees(trk["theta"])
    good = track & (theta >= skim["theta_min"]) & (theta <= skim["theta_max"])
    keep = np.zeros(n, bool)
    px, py, pz, q = (trk[f] for f in ("px", "py", "pz", "charge"))
    mu = cfg["physics"]["muon_mass"]
    beams = sum(kin.beam_momenta(cfg))
    for i in range(k):
        for j in range(i + 1, k):
            pair = good[:, i] & good[:, j] & (q[:, i] != q[:, j])
            if not pair.any():
                continue
            p1 = kin.four_vector(px[:, i], py[:, i], pz[:, i], mu)
            p2 = kin.four_vector(px[:, j], py[:, j], pz[:, j], mu)
            pair &= kin.pt_cm(p1, p2, beta_cm) >= skim["pt_cm_min"]
            recoil = np.degrees(kin.polar_angle(beams - p1 - p2))
            pair &= (recoil >= skim["recoil_theta_min"]) & (recoil <= skim["recoil_theta_max"])
            keep |= pair
    if skim["require_trigger"]:
        keep &= trg_pass
    return keep
