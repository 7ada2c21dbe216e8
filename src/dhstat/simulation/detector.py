"""Fast detector response: truth particles -> reconstructed tracks, photons and trigger flag.

All numbers come from the ``[detector]`` configuration table (analysis.md section 6), read once
into :class:`~dhstat.simulation.detector_settings.DetectorSettings`. The steps, each in its own
module:

- :mod:`~dhstat.simulation.tracking`: tracks (acceptance, efficiency, pT and angle smearing),
  the trigger (a track pair within the trigger polar-angle range with an opening angle Delta phi
  above the minimum, times a flat efficiency), impact parameters (a narrow Gaussian plus a wide
  beam-background tail) and particle ID (muon ID in the KLM, electron ID in the ECL, fake rates).
- :mod:`~dhstat.simulation.skim`: the reconstruction-level skim, decided right after tracking
  and trigger, before the (costlier) rest of the detector response.
- :mod:`~dhstat.simulation.calorimeter`: ECL clusters of the tracks (muon MIP, electron energy,
  merged FSR photons), detected photons and beam-background photons.
- :mod:`~dhstat.simulation.reconstructed`: the padded result and its ntuple branches.

Example:
    >>> import numpy as np
    >>> from dhstat.config import load
    >>> from dhstat.simulation.signal import generate_signal
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
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics.constants import PDG_ELECTRON, PDG_MUON, PDG_PHOTON
from dhstat.simulation.calorimeter import ecl_response
from dhstat.simulation.detector_settings import DetectorSettings
from dhstat.simulation.reconstructed import BRANCHES, Reconstructed, to_branches
from dhstat.simulation.skim import fast_skim, skim_mask
from dhstat.simulation.tracking import fire_trigger, measure_tracks, track_branches
from dhstat.simulation.truth import TruthEvents

__all__ = [
    "BRANCHES",
    "Reconstructed",
    "reconstruct",
    "reconstruct_padded",
    "run_detector",
    "skim_mask",
    "to_branches",
]


def __dir__() -> list[str]:
    return __all__


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
    settings = DetectorSettings.from_config(cfg)
    return run_detector(truth, settings=settings, rng=rng, skim=skim)


def run_detector(
    truth: TruthEvents,
    *,
    settings: DetectorSettings,
    rng: np.random.Generator,
    skim: bool = False,
) -> Reconstructed:
    """As :func:`reconstruct_padded`, with the settings read once."""
    n = truth.pdg.shape[0]
    apdg = np.abs(truth.pdg)
    charged = (apdg == PDG_MUON) | (apdg == PDG_ELECTRON)
    photon = (apdg == PDG_PHOTON) & (truth.p[..., 0] > 0)
    cols_c = np.flatnonzero(charged.any(axis=0)) if n else np.arange(0)
    cols_g = np.flatnonzero(photon.any(axis=0)) if n else np.arange(0)
    tracks = measure_tracks(rng, truth.p[:, cols_c], apdg[:, cols_c], settings)
    trg_pass = fire_trigger(rng, tracks, settings.trigger)
    extra: dict[str, NDArray[Any]] = dict(truth.extra)
    pg, pdg_c = truth.p, truth.pdg[:, cols_c]
    if skim:
        momenta = (tracks.px, tracks.py, tracks.pz)
        keep = fast_skim(tracks.track, tracks.cos_tm, momenta, pdg_c, trg_pass, settings)
        extra = {name: np.asarray(value)[keep] for name, value in extra.items()}
        tracks, trg_pass = tracks.take(keep), trg_pass[keep]
        photon, pg, pdg_c = photon[keep], pg[keep], truth.pdg[keep][:, cols_c]
    trk = track_branches(rng, tracks, pdg_c, settings)
    cluster, photons = ecl_response(rng, tracks, pg[:, cols_g], photon[:, cols_g], settings)
    trk["clusterE"] = cluster
    return Reconstructed(track=tracks.track, trk=trk, gam=photons, trg_pass=trg_pass, extra=extra)


def reconstruct(
    truth: TruthEvents, *, cfg: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """Reconstructed events in the ntuple schema (weight 1; truth ``extra`` branches copied).

    Flat branches are numpy arrays, jagged ones awkward arrays (``trk_*``, ``gam_*``).
    """
    return to_branches(reconstruct_padded(truth, cfg=cfg, rng=rng), 1.0)
