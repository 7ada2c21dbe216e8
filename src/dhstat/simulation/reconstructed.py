"""Reconstructed events as padded arrays, and their ntuple branches (docs/internals.md).

Example:
    >>> import numpy as np
    >>> reco = Reconstructed(
    ...     track=np.array([[True, False]]),
    ...     trk={name: np.zeros((1, 2)) for name in _TRK_FIELDS},
    ...     gam={"E": np.zeros(0), "theta": np.zeros(0), "phi": np.zeros(0), "event": np.zeros(0, int)},
    ...     trg_pass=np.array([True]),
    ...     extra={},
    ... )
    >>> out = to_branches(reco, 2.0, jagged=False)
    >>> out["weight"].tolist(), out["ntrk"].tolist(), out["ngam"].tolist()
    ([2.0], [1], [0])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples

__all__ = ["BRANCHES", "Reconstructed", "to_branches"]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]

#: Reconstructed-event branches (docs/internals.md), without the optional truth branches.
BRANCHES = ntuples.EVENT_BRANCHES

_TRK_FIELDS = ("px", "py", "pz", "charge", "dr", "dz", "muonID", "electronID", "clusterE")


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
