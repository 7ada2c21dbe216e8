"""Reading the input events: canonical branches as flat numpy content plus counts per event.

The selection accepts jagged branches as awkward arrays, lists of per-event lists, regular 2-D
numpy arrays, or flat numpy content with the ``ntrk``/``ngam`` counters; :func:`read_events`
normalises all of them into :class:`Events` (flat content, and the event index of each track and
photon) and checks that every canonical branch is there with consistent lengths.

Example:
    >>> import numpy as np
    >>> ev = {"x": np.array([1.0, 2.0, 3.0]), "n": np.array([2, 1])}
    >>> flat, counts = jagged(ev, "x", 2, "n")
    >>> flat.tolist(), counts.tolist()
    ([1.0, 2.0, 3.0], [2, 1])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.errors import InputError

__all__ = [
    "BRANCHES",
    "PHOTON_BRANCHES",
    "TRACK_BRANCHES",
    "Events",
    "PhotonSummary",
    "any_per_event",
    "check_branches",
    "flat",
    "jagged",
    "read_events",
]

Int = NDArray[np.int64]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

#: Canonical ntuple branches the selection reads.
BRANCHES = ntuples.EVENT_BRANCHES

#: The per-track (jagged) branches, counted by ``ntrk``.
TRACK_BRANCHES = tuple(b for b in BRANCHES if b.startswith("trk_"))

#: The per-photon (jagged) branches, counted by ``ngam``.
PHOTON_BRANCHES = tuple(b for b in BRANCHES if b.startswith("gam_"))


def __dir__() -> list[str]:
    return __all__


def jagged(events: Mapping[str, Any], name: str, n: int, counter: str) -> tuple[Any, Int]:
    """Flat content and per-event counts of a jagged branch given as awkward, lists or flat."""
    value = events[name]
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.ndim == 1 and counter in events and len(value) != n:
            counts = np.asarray(events[counter], dtype=np.int64)
            if int(counts.sum()) != len(value):
                raise InputError(None, name, f"{counter} entries summing to the branch length")
            return value, counts
        if value.ndim == 2 and len(value) == n:  # regular (n, k)
            return value.reshape(-1), np.full(n, value.shape[1], dtype=np.int64)
        if value.ndim == 1 and counter in events and len(value) == n:
            counts = np.asarray(events[counter], dtype=np.int64)
            if int(counts.sum()) == len(value):
                return value, counts
    array = value if isinstance(value, ak.Array) else ak.Array(value)
    if array.ndim != 2:
        raise InputError(None, name, "a jagged array (one list per event)", got=str(array.type))
    counts = np.asarray(ak.num(array, axis=1), dtype=np.int64)
    content = ak.to_numpy(ak.flatten(array, axis=1))
    return content, counts


def flat(events: Mapping[str, Any], name: str) -> NDArray[Any]:
    """A flat (one number per event) branch as a numpy array.

    Raises:
        InputError: the branch holds lists (or anything but one number) per event.
    """
    value = events[name]
    if not isinstance(value, np.ndarray):
        array = value if isinstance(value, ak.Array) else ak.Array(value)
        if array.ndim != 1:
            raise InputError(None, name, "one number per event", got=str(array.type))
        value = np.asarray(ak.to_numpy(array))
    value = np.asarray(value)
    if value.ndim != 1 or value.dtype == object:
        raise InputError(None, name, "one number per event", got=f"{value.dtype}{value.shape}")
    return value


def any_per_event(event_index: Int, mask: Bool, n: int) -> Bool:
    """Per event: whether any of its tracks (or photons), given by their event index, is in ``mask``.

    Example:
        >>> any_per_event(np.array([0, 0, 2]), np.array([False, True, True]), 3).tolist()
        [True, False, True]
    """
    return np.bincount(event_index[mask], minlength=n).astype(bool)


def check_branches(events: Mapping[str, Any]) -> None:
    """Raise one :class:`InputError` naming every missing canonical branch."""
    missing = [b for b in BRANCHES if b not in events]
    if missing:
        raise InputError(
            None,
            ", ".join(missing),
            "the canonical ntuple branches (docs/internals.md); map other names with "
            "[selection] branches",
        )


@dataclass(frozen=True, slots=True)
class PhotonSummary:
    """Event-level photon quantities, for ntuples without the photons themselves.

    Attributes:
        total_energy: Total energy of the photons above ``[selection] photon_energy_min`` [GeV].
        recoil_angle: Smallest angle between such a photon and the recoil momentum [rad]
            (events without one: any angle at or above the cut, e.g. pi).
        barrel_max_energy: Largest energy of such a photon inside the ECL barrel
            (``[selection.control]`` angles) [GeV], 0 without one; ``None``: not given (the mu mu
            gamma control sample then stays empty).
    """

    total_energy: Float
    recoil_angle: Float
    barrel_max_energy: Float | None = None


@dataclass(frozen=True, slots=True)
class Events:
    """Input events, normalised: flat numpy content of every branch.

    Attributes:
        n: Number of events.
        weight: Event weights.
        trg_pass: Trigger flags.
        tracks: Track branch -> flat content over all tracks of all events.
        photons: Photon branch -> flat content over all photons of all events.
        track_event: Event index of each track.
        photon_event: Event index of each photon.
        good_tracks: Flat per-daughter layout (:mod:`.layouts`): per event (one candidate per
            row), the number of good tracks the analyst's track list counted; the two tracks
            of ``tracks`` are the candidate's daughters. ``None``: jagged tracks.
        photon_summary: Event-level photons (:mod:`.layouts`); ``photons`` is then empty.
            ``None``: jagged photons.
    """

    n: int
    weight: Float
    trg_pass: Bool
    tracks: Mapping[str, Any]
    photons: Mapping[str, Any]
    track_event: Int
    photon_event: Int
    good_tracks: Int | None = None
    photon_summary: PhotonSummary | None = None


def _jagged_group(
    events: Mapping[str, Any], names: tuple[str, ...], n: int, counter: str, what: str
) -> tuple[dict[str, Any], Int]:
    """Flat content of jagged branches that must have the same counts, and those counts."""
    content: dict[str, Any] = {}
    counts: Int | None = None
    for name in names:
        content[name], these = jagged(events, name, n, counter)
        if len(these) != n or (counts is not None and not np.array_equal(these, counts)):
            raise InputError(None, name, what)
        counts = these
    assert counts is not None
    return content, counts


def read_events(events: Mapping[str, Any]) -> Events:
    """Check and normalise events in the ntuple schema.

    Raises:
        InputError: a branch is missing or has the wrong shape.
    """
    check_branches(events)
    weight = np.asarray(flat(events, "weight"), dtype=np.float64)
    n = len(weight)
    finite = weight[np.isfinite(weight)]
    with np.errstate(over="ignore"):
        total = float(np.sum(np.abs(finite)))
    if not math.isfinite(total):
        raise InputError(
            None, "weight", "weights whose sum is a finite number", got=float(finite.max())
        )
    trg = np.asarray(flat(events, "trg_pass"), dtype=bool)
    if len(trg) != n:
        raise InputError(None, "trg_pass", f"one entry per event ({n})", got=len(trg))
    tracks, tcounts = _jagged_group(
        events, TRACK_BRANCHES, n, "ntrk", "the same number of tracks per event as trk_px"
    )
    photons, gcounts = _jagged_group(
        events, PHOTON_BRANCHES, n, "ngam", "the same number of photons per event as gam_E"
    )
    return Events(
        n=n,
        weight=weight,
        trg_pass=trg,
        tracks=tracks,
        photons=photons,
        track_event=np.repeat(np.arange(n, dtype=np.int64), tcounts),
        photon_event=np.repeat(np.arange(n, dtype=np.int64), gcounts),
    )
