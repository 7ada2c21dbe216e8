"""The layouts of analysts' ntuples the selection reads, turned into :class:`~.branches.Events`.

A branch map (canonical name -> name in the file) decides the layout:

* **Tracks, jagged** (dhstat's own layout): ``trk_px`` ... ``trk_clusterE`` hold one list per
  event (``ntrk`` counts them).
* **Tracks, flat per daughter** (Belle II ``VariablesToNtuple``, one candidate per row): every
  track branch maps to a pattern with ``{i}``, the daughter index 0 or 1, e.g.
  ``trk_px = "mu_{i}_px"`` reads ``mu_0_px`` and ``mu_1_px``. The event-level ``ntrk`` must then
  count the event's good tracks, i.e. those passing the same impact-parameter cuts
  (``[selection] dr_max_cm``, ``dz_max_cm``; the analyst's track list): ``impact_parameters``
  requires both daughters to pass the cuts and ``ntrk >= 2``, ``two_tracks`` requires
  ``ntrk == 2`` and opposite charges, exactly as for jagged tracks.
* **Photons, jagged**: ``gam_E``, ``gam_theta``, ``gam_phi`` hold one list per event.
* **Photons, event-level**: mapping ``egamma_total`` or ``gam_recoil_angle`` (either one; the other
  then keeps its canonical name) reads per event the total energy of the photons above
  ``[selection] photon_energy_min`` [GeV] and the smallest angle between such a photon and the
  recoil direction [rad] (events without a photon: any angle at or above the cut, e.g. pi).
  Mapping ``egamma_barrel_max`` also reads the largest energy of such a photon inside the ECL
  barrel (``[selection.control]`` angles; 0 without one) for the mu mu gamma control sample,
  which otherwise stays empty with this layout.

``trg_pass`` is read only when ``[selection] require_trigger`` is set.

Example:
    >>> layout = Layout.of({"trk_px": "mu_{i}_px", "trk_py": "mu_{i}_py", "trk_pz": "mu_{i}_pz",
    ...     "trk_charge": "mu_{i}_charge", "trk_dr": "mu_{i}_dr", "trk_dz": "mu_{i}_dz",
    ...     "trk_muonID": "mu_{i}_muonID", "trk_electronID": "mu_{i}_electronID",
    ...     "trk_clusterE": "mu_{i}_clusterE", "ntrk": "nTracks", "egamma_total": "Egamma"})
    >>> layout.tracks, layout.photons, layout.file_branches()["trk_px#1"]
    ('flat', 'event', 'mu_1_px')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.selection.branches import (
    PHOTON_BRANCHES,
    TRACK_BRANCHES,
    Events,
    PhotonSummary,
    flat,
    jagged,
)

__all__ = ["BARREL_PHOTON", "DAUGHTERS", "PHOTON_SUMMARY", "Layout"]

#: Daughters of a candidate in the flat layout (the ``{i}`` of a pattern).
DAUGHTERS = 2

#: The event-level photon quantities: total photon energy [GeV], smallest photon-recoil angle [rad].
PHOTON_SUMMARY = ("egamma_total", "gam_recoil_angle")

#: Optional event-level photon quantity: the largest energy of a photon in the ECL barrel [GeV].
BARREL_PHOTON = "egamma_barrel_max"


def __dir__() -> list[str]:
    return __all__


def _pattern(value: str) -> bool:
    return "{i}" in value


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the canonical branches are in a sample's files.

    Attributes:
        tracks: ``"jagged"`` or ``"flat"`` (per daughter, one candidate per row).
        photons: ``"jagged"`` or ``"event"`` (event-level total energy and recoil angle).
        names: Canonical name -> branch (a pattern with ``{i}`` for flat tracks), for every
            canonical branch the layout reads.
        trigger: Whether ``trg_pass`` is read.
    """

    tracks: Literal["jagged", "flat"]
    photons: Literal["jagged", "event"]
    names: Mapping[str, str]
    trigger: bool = True

    @classmethod
    def of(cls, mapping: Mapping[str, str], *, trigger: bool = True) -> Layout:
        """The layout a branch map describes (unmapped branches keep their canonical names).

        Raises:
            InputError: some but not all track branches are patterns with ``{i}`` (the field
                names the canonical branch; the caller adds the sample and file).
        """
        patterns = [name for name in TRACK_BRANCHES if _pattern(mapping.get(name, ""))]
        if patterns and len(patterns) != len(TRACK_BRANCHES):
            other = next(name for name in TRACK_BRANCHES if name not in patterns)
            expected = f"a pattern with {{i}} like {patterns[0]} (flat per-daughter layout)"
            raise InputError(None, f"branches.{other}", expected, got=mapping.get(other, other))
        tracks: Literal["jagged", "flat"] = "flat" if patterns else "jagged"
        photons: Literal["jagged", "event"] = (
            "event" if any(name in mapping for name in PHOTON_SUMMARY) else "jagged"
        )
        wanted = [*TRACK_BRANCHES]
        wanted += ["ntrk"] if tracks == "flat" else []
        wanted += list(PHOTON_SUMMARY if photons == "event" else PHOTON_BRANCHES)
        wanted += [BARREL_PHOTON] if photons == "event" and BARREL_PHOTON in mapping else []
        wanted += ["trg_pass"] if trigger else []
        names = {name: str(mapping.get(name, name)) for name in wanted}
        return cls(tracks=tracks, photons=photons, names=names, trigger=trigger)

    def signature(self) -> tuple[str, ...]:
        """The canonical branches this layout gives, with its kinds (to compare samples).

        Example:
            >>> Layout.of({}).signature()[:2]
            ('tracks:jagged', 'photons:jagged')
        """
        return (f"tracks:{self.tracks}", f"photons:{self.photons}", *sorted(self.names))

    def file_branches(self) -> dict[str, str]:
        """Reading key -> branch in the file; flat track keys are ``<canonical>#<daughter>``."""
        out: dict[str, str] = {}
        for name, branch in self.names.items():
            if self.tracks == "flat" and name in TRACK_BRANCHES:
                for i in range(DAUGHTERS):
                    out[f"{name}#{i}"] = branch.replace("{i}", str(i))
            else:
                out[name] = branch
        return out

    def events(self, arrays: Mapping[str, Any], weight: NDArray[np.float64]) -> Events:
        """The events of one chunk read with :meth:`file_branches` (keys as there).

        Raises:
            InputError: a branch has the wrong shape (the field names the branch).
        """
        n = len(weight)
        trg = (
            np.asarray(flat(arrays, "trg_pass"), dtype=bool)
            if self.trigger
            else np.ones(n, dtype=bool)
        )
        tracks, track_event, good = self._tracks(arrays, n)
        photons: dict[str, Any] = {}
        photon_event = np.zeros(0, dtype=np.int64)
        summary = None
        if self.photons == "event":
            keys = [*PHOTON_SUMMARY, *([BARREL_PHOTON] if BARREL_PHOTON in self.names else [])]
            columns = {k: np.asarray(flat(arrays, k), dtype=np.float64) for k in keys}
            summary = PhotonSummary(*columns.values())
        else:
            photons, counts = _group(arrays, PHOTON_BRANCHES, n, "ngam")
            photon_event = np.repeat(np.arange(n, dtype=np.int64), counts)
            columns = {}
        for name, column in (("trg_pass", trg), *columns.items()):
            if len(column) != n:
                expected = f"one entry per event ({n})"
                raise InputError(None, self.names.get(name, name), expected, got=len(column))
        return Events(
            n=n,
            weight=weight,
            trg_pass=trg,
            tracks=tracks,
            photons=photons,
            track_event=track_event,
            photon_event=photon_event,
            good_tracks=good,
            photon_summary=summary,
        )

    def _tracks(
        self, arrays: Mapping[str, Any], n: int
    ) -> tuple[dict[str, Any], NDArray[np.int64], NDArray[np.int64] | None]:
        """Flat track content, the event of each track, and (flat layout) the good-track count."""
        if self.tracks == "jagged":
            tracks, counts = _group(arrays, TRACK_BRANCHES, n, "ntrk")
            return tracks, np.repeat(np.arange(n, dtype=np.int64), counts), None
        tracks = {}
        for name in TRACK_BRANCHES:
            columns = [np.asarray(flat(arrays, f"{name}#{i}")) for i in range(DAUGHTERS)]
            if any(len(c) != n for c in columns):
                raise InputError(None, self.names[name], f"one entry per row ({n})")
            tracks[name] = np.stack(columns, axis=1).reshape(-1)
        count = np.asarray(flat(arrays, "ntrk"))
        integral = np.issubdtype(count.dtype, np.integer) or (
            np.issubdtype(count.dtype, np.floating)
            and bool(np.all(np.isfinite(count) & (count == np.round(count))))
        )
        if len(count) != n or not integral:  # VariablesToNtuple writes doubles: 2.0 is fine
            expected = f"one whole number per row ({n})"
            raise InputError(None, self.names["ntrk"], expected, got=str(count.dtype))
        return tracks, np.repeat(np.arange(n, dtype=np.int64), DAUGHTERS), count.astype(np.int64)


def _group(
    arrays: Mapping[str, Any], names: tuple[str, ...], n: int, counter: str
) -> tuple[dict[str, Any], NDArray[np.int64]]:
    """Flat content of jagged branches with the same counts per event, and the counts."""
    content: dict[str, Any] = {}
    counts: NDArray[np.int64] | None = None
    for name in names:
        content[name], these = jagged(arrays, name, n, counter)
        if len(these) != n or (counts is not None and not np.array_equal(these, counts)):
            raise InputError(None, name, f"the same number of entries per event as {names[0]}")
        counts = these
    assert counts is not None
    return content, counts
