"""A tiny hand-made flat ntuple (Belle II-like): every event a clean candidate with one change.

Shared by the exact-count and the bad-input tests of the samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import uproot

MU0 = {
    "px": 2.5,
    "py": -0.5,
    "pz": 1.5,
    "charge": 1,
    "dr": 0.01,
    "dz": 0.05,
    "muonID": 0.99,
    "electronID": 0.01,
    "clusterE": 0.2,
}
MU1 = {
    "px": -2.044,
    "py": -1.5,
    "pz": 1.0,
    "charge": -1,
    "dr": 0.01,
    "dz": 0.05,
    "muonID": 0.99,
    "electronID": 0.01,
    "clusterE": 0.2,
}
CLEAN = {"nTracks": 2, "trigger": 1, "Egamma": 0.0, "angle": np.pi}

#: name -> (change, the first search cut it fails or None)
EVENTS = {
    "clean": ({}, None),
    "clean_with_soft_photon": ({"Egamma": 0.3, "angle": 0.5}, None),
    "no_trigger": ({"trigger": 0}, "trigger"),
    "daughter_far_from_ip": ({"mu_1_dr": 1.0}, "impact_parameters"),
    "third_good_track": ({"nTracks": 3}, "two_tracks"),
    "same_charges": ({"mu_1_charge": 1}, "two_tracks"),
    "pion": ({"mu_0_muonID": 0.1}, "muon_id"),
    "forward_muon": ({"mu_0_pz": 6.0}, "track_theta"),
    "hot_cluster": ({"mu_1_clusterE": 2.0}, "cluster_energy"),
    "photon_energy": ({"Egamma": 0.5, "angle": 1.0}, "photon_energy"),
    "photon_at_recoil": ({"Egamma": 0.2, "angle": 0.1}, "photon_recoil"),
}


def _rows() -> dict[str, np.ndarray]:
    rows: dict[str, list[float]] = {}
    for change, _ in EVENTS.values():
        values = {f"mu_0_{k}": v for k, v in MU0.items()} | {f"mu_1_{k}": v for k, v in MU1.items()}
        values |= CLEAN | change
        for key, value in values.items():
            rows.setdefault(key, []).append(value)
    out = {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()}
    for key in ("nTracks", "trigger", "mu_0_charge", "mu_1_charge"):
        out[key] = out[key].astype(np.int32)
    out["w"] = np.full(len(EVENTS), 2.0)
    return out


#: The branch map of the tiny file.
BRANCHES = {f"trk_{k}": f"mu_{{i}}_{k}" for k in MU0} | {
    "ntrk": "nTracks",
    "trg_pass": "trigger",
    "egamma_total": "Egamma",
    "gam_recoil_angle": "angle",
}


def write_tiny(path: Path, **columns: Any) -> Path:
    """Write the tiny file (tree ``ntuple``) with plain uproot; ``columns`` replace or add."""
    rows = _rows() | {k: np.asarray(v) for k, v in columns.items()}
    types = {k: v.dtype for k, v in rows.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as handle:
        handle.mktree("ntuple", types).extend(rows)
    return path
