"""Hand-made example events and ntuple metadata, for examples, tests and benchmarks.

Example:
    >>> from dhstat.selection.cuts import select
    >>> from dhstat.config import load
    >>> select(example_events(), load(), process="mumu").cutflow.raw["search"][-1]
    1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np

from dhstat.provenance import provenance
from dhstat.selection.branches import PHOTON_BRANCHES, TRACK_BRANCHES

__all__ = ["example_events", "example_metadata"]


def __dir__() -> list[str]:
    return __all__


def _track_event(
    momenta: Sequence[tuple[float, float, float]], charges: Sequence[int]
) -> dict[str, Any]:
    """The track branches of one event: good, identified muons with the given momenta."""
    k = len(momenta)
    return {
        "trk_px": [m[0] for m in momenta],
        "trk_py": [m[1] for m in momenta],
        "trk_pz": [m[2] for m in momenta],
        "trk_charge": list(charges),
        "trk_dr": [0.01] * k,
        "trk_dz": [0.05] * k,
        "trk_muonID": [0.99] * k,
        "trk_electronID": [0.01] * k,
        "trk_clusterE": [0.2] * k,
    }


def example_events() -> dict[str, Any]:
    """Three hand-made events in the ntuple schema (for examples and tests).

    Event 0 is a clean back-to-back-ish dimuon with missing mass (selected); event 1 has a
    2 GeV photon (fails the photon veto, enters the mu mu gamma control sample); event 2 has
    three good tracks (fails ``two_tracks``).

    Example:
        >>> len(example_events()["weight"])
        3
    """
    pair = [(2.5, -0.5, 1.5), (-2.044, -1.5, 1.0)]
    tracks = [
        _track_event(pair, [1, -1]),
        _track_event(pair, [1, -1]),
        _track_event([*pair, (0.5, 0.5, 0.2)], [1, -1, 1]),
    ]
    photons = [([], [], []), ([2.0], [1.2], [0.3]), ([], [], [])]
    events: dict[str, Any] = {
        "weight": np.array([1.0, 1.0, 1.0]),
        "trg_pass": np.array([True, True, True]),
    }
    for name in TRACK_BRANCHES:
        events[name] = ak.Array([t[name] for t in tracks])
    for j, name in enumerate(PHOTON_BRANCHES):
        events[name] = ak.Array([[float(x) for x in p[j]] for p in photons])
    return events


def example_metadata(process: str, *, luminosity_fb: float = 8.34) -> dict[str, Any]:
    """Ntuple metadata (docs/internals.md) for hand-made example files.

    Example:
        >>> example_metadata("data")["is_data"]
        True
    """
    return {
        "schema_version": "1.0.0",
        "process": process,
        "is_data": process == "data",
        "cross_section_fb": 0.0,
        "luminosity_fb": luminosity_fb,
        "n_generated": 0,
        "seed": 0,
        "generator": "hand-made example",
        **provenance(),
        "config_digest": "0" * 64,
    }
