"""The electromagnetic calorimeter (ECL) of the fast detector: track clusters and photons.

Forward, barrel and backward regions with gaps between. Muons leave a MIP cluster (Moyal
distribution, a Landau approximation) and photons within ``merge_angle`` of a track's direction
are merged into its cluster (unresolved FSR); electrons deposit their smeared energy. Photons
inside the ECL regions are detected with an efficiency, smeared with ``sigma_E/E = a/sqrt(E) (+)
b`` and an angle resolution, and kept above the threshold. Beam-background photons: a Poisson
number per event, energies exponential below a maximum, uniform over the ECL; only those above
the threshold are stored. A charged particle in the ECL without a reconstructed track leaves a
cluster matched to no track: with ``[detector.ecl] untracked_charged_clusters`` it is a photon
candidate too.

Example:
    >>> from dhstat.config import load
    >>> from dhstat.simulation.detector_settings import DetectorSettings
    >>> det = DetectorSettings.from_config(load())
    >>> gam = add_beam_background(np.random.default_rng(1), 1000, _no_photons(), det)
    >>> sorted(gam), bool(np.all(gam["E"] > det.ecl.photon_threshold))
    (['E', 'event', 'phi', 'theta'], True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.simulation.acceptance import in_cos_ranges, in_ranges
from dhstat.simulation.detector_settings import DetectorSettings, Ecl
from dhstat.simulation.tracking import Tracks

__all__ = ["add_beam_background", "ecl_response"]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]
#: Detected photons: event index (row), energy, theta, phi.
Photons = tuple[NDArray[Any], Array, Array, Array]


def __dir__() -> list[str]:
    return __all__


def _no_photons() -> Photons:
    return np.zeros(0, np.intp), np.zeros(0), np.zeros(0), np.zeros(0)


def ecl_response(
    rng: np.random.Generator,
    tracks: Tracks,
    pg: Array,
    gam: Mask,
    settings: DetectorSettings,
) -> tuple[Array, dict[str, NDArray[Any]]]:
    """Cluster energy of each track slot ``(n, k)`` and the photons (flat, with ``event``).

    Args:
        rng: Draws the MIP, merged and electron energies, then the photons, then the beam
            background.
        tracks: The charged slots.
        pg: Truth four-vectors of the photon slots ``(n, g, 4)``.
        gam: The slot holds a photon with positive energy ``(n, g)``.
        settings: The detector settings.
    """
    ecl = settings.ecl
    hits_ecl = in_cos_ranges(tracks.cos_t, ecl.ranges) & tracks.charged
    g_pt = np.hypot(pg[..., 1], pg[..., 2])
    g_theta_true = np.arctan2(g_pt, pg[..., 3])
    g_phi_true = np.arctan2(pg[..., 2], pg[..., 1])
    g_in = gam & in_ranges(np.degrees(g_theta_true), ecl.ranges)
    unit_g = pg[..., 1:] / np.maximum(np.hypot(g_pt, pg[..., 3]), 1e-300)[..., None]
    merged, merged_energy = _merge(tracks, hits_ecl, pg, g_in, unit_g, ecl)
    cluster = _clusters(rng, tracks, hits_ecl, merged_energy, ecl)
    seen = g_in & ~merged & (rng.random(g_in.shape) < ecl.photon_efficiency)
    g_rows, g_cols = np.nonzero(seen)
    g_energy = ecl.smear_energy(rng, pg[g_rows, g_cols, 0])
    sigma_g = ecl.photon_angle_resolution_mrad * 1e-3
    g_noise = rng.standard_normal((2, g_rows.size))
    g_theta = np.clip(g_theta_true[g_rows, g_cols] + sigma_g * g_noise[0], 0.0, np.pi)
    g_phi = g_phi_true[g_rows, g_cols] + sigma_g * g_noise[1]
    physics = (g_rows, g_energy, g_theta, g_phi)
    if ecl.untracked_charged_clusters:
        physics = _with_untracked(physics, tracks, hits_ecl, cluster)
    n = tracks.track.shape[0]
    photons = add_beam_background(rng, n, physics, settings)
    return cluster, photons


def _with_untracked(physics: Photons, tracks: Tracks, hits_ecl: Mask, cluster: Array) -> Photons:
    """Add the clusters of charged particles in the ECL without a track to the photon candidates.

    Their energy is the cluster already drawn (a MIP for muons, the smeared energy for
    electrons, merged photons included), their direction the truth direction (no new random
    numbers: the stream of every event without such a particle is unchanged).
    """
    rows, cols = np.nonzero(hits_ecl & ~tracks.track & (cluster > 0))
    p = tracks.p[rows, cols]
    theta = np.arctan2(np.hypot(p[:, 1], p[:, 2]), p[:, 3])
    phi = np.arctan2(p[:, 2], p[:, 1])
    g_rows, g_energy, g_theta, g_phi = physics
    return (
        np.concatenate([g_rows, rows]),
        np.concatenate([g_energy, cluster[rows, cols]]),
        np.concatenate([g_theta, theta]),
        np.concatenate([g_phi, phi]),
    )


def _merge(
    tracks: Tracks, hits_ecl: Mask, pg: Array, g_in: Mask, unit_g: Array, ecl: Ecl
) -> tuple[Mask, Array]:
    """Photons within the merge angle of the closest track reaching the ECL join its cluster.

    Returns which photon slots merged and the merged energy of each track slot.
    """
    n, kc = tracks.track.shape
    unit_c = tracks.p[..., 1:] / np.maximum(tracks.ptot, 1e-300)[..., None]
    cos_merge = np.cos(np.radians(ecl.merge_angle_deg))
    merged = np.zeros(g_in.shape, bool)
    merged_energy = np.zeros((n, kc))
    for j in range(g_in.shape[1]):
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
    return merged, merged_energy


def _clusters(
    rng: np.random.Generator, tracks: Tracks, hits_ecl: Mask, merged_energy: Array, ecl: Ecl
) -> Array:
    """Cluster energy of each track slot: MIP (+ merged photons) for muons, E for electrons."""
    n, kc = tracks.track.shape
    mip = ecl.muon_cluster_mpv + ecl.muon_cluster_width * -np.log(
        np.maximum(rng.standard_normal((n, kc)) ** 2, 1e-300)
    )
    mip = np.clip(mip, 0.0, None)
    extra_e = np.where(
        merged_energy > 0, ecl.smear_energy(rng, np.maximum(merged_energy, 1e-9)), 0.0
    )
    electron_e = ecl.smear_energy(rng, np.maximum(tracks.p[..., 0] + merged_energy, 1e-9))
    cluster = np.where(tracks.is_mu, mip + extra_e, np.where(tracks.is_e, electron_e, 0.0))
    return np.asarray(np.where(hits_ecl, cluster, 0.0), dtype=np.float64)


def add_beam_background(
    rng: np.random.Generator, n: int, physics: Photons, settings: DetectorSettings
) -> dict[str, NDArray[Any]]:
    """Merge the physics photons with beam-background photons; keep those above threshold."""
    ecl, bkg = settings.ecl, settings.beam_background
    g_rows, g_energy, g_theta, g_phi = physics
    counts = rng.poisson(bkg.photons_per_event, n)
    b_rows = np.repeat(np.arange(n), counts)
    m = b_rows.size
    scale, e_max = bkg.energy_scale, bkg.energy_max
    b_energy = -scale * np.log(1 - rng.random(m) * (1 - np.exp(-e_max / scale)))
    lo, hi = np.radians(ecl.forward[0]), np.radians(ecl.backward[1])
    b_theta = np.arccos(rng.uniform(np.cos(hi), np.cos(lo), m))
    b_phi = rng.uniform(-np.pi, np.pi, m)
    b_keep = in_ranges(np.degrees(b_theta), ecl.ranges)
    b_energy = ecl.smear_energy(rng, b_energy)
    rows = np.concatenate([g_rows, b_rows[b_keep]])
    gam_e = np.concatenate([g_energy, b_energy[b_keep]])
    gam_theta = np.concatenate([g_theta, b_theta[b_keep]])
    gam_phi = np.concatenate([g_phi, b_phi[b_keep]])
    above = gam_e > ecl.photon_threshold
    rows, gam_e, gam_theta, gam_phi = rows[above], gam_e[above], gam_theta[above], gam_phi[above]
    order = np.argsort(rows, kind="stable")
    gam_phi = (gam_phi[order] + np.pi) % (2 * np.pi) - np.pi
    return {"E": gam_e[order], "theta": gam_theta[order], "phi": gam_phi, "event": rows[order]}
