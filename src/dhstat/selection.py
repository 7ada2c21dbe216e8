"""Event selection: the paper's cuts with a cutflow, derived variables and control samples.

The selection turns events in the ntuple schema (docs/internals.md) into three selected samples:

* ``search``: the dimuon sample the windows count (analysis.md section 7, in this order):
  ``trigger`` (flag ``trg_pass``), ``impact_parameters`` (>= 2 tracks with ``|dr|``, ``|dz|``
  below the cuts; only those tracks count from here on), ``two_tracks`` (exactly two such tracks,
  opposite charges), ``muon_id`` (both identified as muons), ``track_theta`` (both in 37-120 deg),
  ``delta_phi`` (> 90 deg), ``cluster_energy`` (each muon's ECL cluster < 1.5 GeV),
  ``recoil_theta`` (recoil momentum in 32-125 deg), ``photon_energy`` (total photon energy
  < 0.4 GeV), ``photon_recoil`` (no photon within 15 deg of the recoil), ``pt_cm`` (dimuon c.m.
  transverse momentum > 0.1 GeV/c).
* ``control_mumugamma``: the same, with the two photon vetoes replaced by ``photon_control``
  (>= 1 photon above 1 GeV in the ECL barrel) [paper].
* ``control_emu``: the same, with ``muon_id`` replaced by ``emu_id`` (one identified muon and one
  identified electron that is not a muon); the cluster cut then applies to the muon only [paper].

Every cut value comes from the ``[selection]`` configuration table. Events whose inputs to a cut
are not finite (NaN, inf) fail that cut and are counted in the cutflow's ``nonfinite`` column;
they are never selected. Derived variables per selected event: ``mmumu2``, ``mrecoil2`` [GeV^2],
``ceta`` = |cos eta|, ``p_recoil`` [GeV/c], ``theta_recoil``, ``phi_recoil`` [rad], ``pt_cm``
[GeV/c], ``egamma_total`` [GeV] and ``weight``. Everything is vectorised numpy (no loop over
events), so :func:`select` can run for every point of the signal mass grid.

Example:
    >>> from dhstat.config import load
    >>> cfg = load()
    >>> events = example_events()
    >>> result = select(events, cfg, process="mumu")
    >>> result.cutflow.raw["search"][-1], len(result.search["mmumu2"])
    (1, 1)
    >>> round(float(result.search["mmumu2"][0] + result.search["mrecoil2"][0]), 3) > 0
    True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.physics import kinematics

__all__ = [
    "BRANCHES",
    "CUTS",
    "PROCESSES",
    "SAMPLES",
    "VARIABLES",
    "Cutflow",
    "Selection",
    "SelectionOutput",
    "cutflow_document",
    "example_events",
    "example_metadata",
    "macroregions_document",
    "read_selected",
    "select",
    "select_files",
    "write_selected",
]

log = logging.getLogger(__name__)

#: The three samples selected in one pass.
SAMPLES = ("search", "control_mumugamma", "control_emu")

#: Cuts of each sample, in the order they are applied.
CUTS: Mapping[str, tuple[str, ...]] = {
    "search": (
        "trigger",
        "impact_parameters",
        "two_tracks",
        "muon_id",
        "track_theta",
        "delta_phi",
        "cluster_energy",
        "recoil_theta",
        "photon_energy",
        "photon_recoil",
        "pt_cm",
    ),
    "control_mumugamma": (
        "trigger",
        "impact_parameters",
        "two_tracks",
        "muon_id",
        "track_theta",
        "delta_phi",
        "cluster_energy",
        "recoil_theta",
        "photon_control",
        "pt_cm",
    ),
    "control_emu": (
        "trigger",
        "impact_parameters",
        "two_tracks",
        "emu_id",
        "track_theta",
        "delta_phi",
        "cluster_energy",
        "recoil_theta",
        "photon_energy",
        "photon_recoil",
        "pt_cm",
    ),
}

#: Processes an input file may hold (metadata ``process``); the ``process`` branch of the
#: selected-events file indexes this tuple (also stored as metadata ``processes``).
PROCESSES = ("data", "signal", "mumu", "tautau", "eemumu")

#: Derived variables stored for each selected event.
VARIABLES = (
    "mmumu2",
    "mrecoil2",
    "ceta",
    "p_recoil",
    "theta_recoil",
    "phi_recoil",
    "pt_cm",
    "egamma_total",
    "weight",
)

#: Canonical ntuple branches the selection reads.
BRANCHES = ntuples.EVENT_BRANCHES

_TRACK_BRANCHES = tuple(b for b in BRANCHES if b.startswith("trk_"))
_PHOTON_BRANCHES = tuple(b for b in BRANCHES if b.startswith("gam_"))

Int = NDArray[np.int64]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Cutflow:
    """Raw and weighted event counts after each cut, per selected sample; cutflows add.

    Attributes:
        n_input: Events given to the selection.
        weighted_input: Sum of their (finite) weights.
        raw: Per sample, events remaining after each cut of :data:`CUTS`.
        weighted: Per sample, sum of weights remaining after each cut.
        nonfinite: Per sample, events removed at each cut because an input was NaN or infinite.
    """

    n_input: int
    weighted_input: float
    raw: Mapping[str, tuple[int, ...]]
    weighted: Mapping[str, tuple[float, ...]]
    nonfinite: Mapping[str, tuple[int, ...]]

    @classmethod
    def empty(cls) -> Cutflow:
        """A cutflow of no events (the neutral element of ``+``).

        Example:
            >>> Cutflow.empty().raw["search"][0]
            0
        """
        return cls(
            0,
            0.0,
            {s: (0,) * len(CUTS[s]) for s in SAMPLES},
            {s: (0.0,) * len(CUTS[s]) for s in SAMPLES},
            {s: (0,) * len(CUTS[s]) for s in SAMPLES},
        )

    def __add__(self, other: Cutflow) -> Cutflow:
        if not isinstance(other, Cutflow):
            return NotImplemented

        def add(a: Mapping[str, tuple[Any, ...]], b: Mapping[str, tuple[Any, ...]]) -> Any:
            return {s: tuple(x + y for x, y in zip(a[s], b[s], strict=True)) for s in SAMPLES}

        return Cutflow(
            self.n_input + other.n_input,
            self.weighted_input + other.weighted_input,
            add(self.raw, other.raw),
            add(self.weighted, other.weighted),
            add(self.nonfinite, other.nonfinite),
        )

    def to_dict(self) -> dict[str, Any]:
        """The cutflow as the JSON fragment of the ``cutflow`` schema (one process).

        Example:
            >>> Cutflow.empty().to_dict()["samples"]["search"][0]
            {'cut': 'trigger', 'raw': 0, 'weighted': 0.0, 'nonfinite': 0}
        """
        return {
            "input": {"raw": self.n_input, "weighted": self.weighted_input},
            "samples": {
                s: [
                    {"cut": c, "raw": r, "weighted": w, "nonfinite": n}
                    for c, r, w, n in zip(
                        CUTS[s], self.raw[s], self.weighted[s], self.nonfinite[s], strict=True
                    )
                ]
                for s in SAMPLES
            },
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Cutflow:
        """Inverse of :meth:`to_dict`.

        Example:
            >>> flow = Cutflow.empty()
            >>> Cutflow.from_dict(flow.to_dict()) == flow
            True
        """
        samples = document["samples"]
        return cls(
            int(document["input"]["raw"]),
            float(document["input"]["weighted"]),
            {s: tuple(int(row["raw"]) for row in samples[s]) for s in SAMPLES},
            {s: tuple(float(row["weighted"]) for row in samples[s]) for s in SAMPLES},
            {s: tuple(int(row["nonfinite"]) for row in samples[s]) for s in SAMPLES},
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """The selected events of one call of :func:`select`.

    Attributes:
        search: The search sample: :data:`VARIABLES` -> flat arrays, one entry per event.
        control_mumugamma: The mu mu gamma control sample (same variables).
        control_emu: The e mu control sample (same variables).
        cutflow: Counts after each cut.
        process: The process the events belong to.
    """

    search: Mapping[str, NDArray[Any]]
    control_mumugamma: Mapping[str, NDArray[Any]]
    control_emu: Mapping[str, NDArray[Any]]
    cutflow: Cutflow
    process: str = field(default="")

    def sample(self, name: str) -> Mapping[str, NDArray[Any]]:
        """The sample called ``name`` (one of :data:`SAMPLES`)."""
        if name not in SAMPLES:
            msg = f"unknown sample {name!r}; expected one of {SAMPLES}"
            raise KeyError(msg)
        result: Mapping[str, NDArray[Any]] = getattr(self, name)
        return result


# --------------------------------------------------------------------------------------------
# input normalisation: flat numpy content + counts per event


def _jagged(events: Mapping[str, Any], name: str, n: int, counter: str) -> tuple[Any, Int]:
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
    import awkward as ak

    array = value if isinstance(value, ak.Array) else ak.Array(value)
    if array.ndim != 2:
        raise InputError(None, name, "a jagged array (one list per event)", got=str(array.type))
    counts = np.asarray(ak.num(array, axis=1), dtype=np.int64)
    flat = ak.to_numpy(ak.flatten(array, axis=1))
    return flat, counts


def _flat(events: Mapping[str, Any], name: str) -> NDArray[Any]:
    value = events[name]
    if isinstance(value, np.ndarray):
        return value
    import awkward as ak

    return np.asarray(ak.to_numpy(value if isinstance(value, ak.Array) else ak.Array(value)))


def _check_branches(events: Mapping[str, Any]) -> None:
    missing = [b for b in BRANCHES if b not in events]
    if missing:
        raise InputError(
            None,
            ", ".join(missing),
            "the canonical ntuple branches (docs/internals.md); map other names with "
            "[selection] branches",
        )


# --------------------------------------------------------------------------------------------
# the selection


def _any_per_event(event_index: Int, mask: Bool, n: int) -> Bool:
    return np.bincount(event_index[mask], minlength=n).astype(bool)


@dataclass(slots=True)
class _Steps:
    """Ordered cut masks (pass, nonfinite) of one sample, over all input events."""

    names: tuple[str, ...]
    masks: dict[str, tuple[Bool, Bool]]

    def run(self, weight: Float) -> tuple[Bool, list[int], list[float], list[int]]:
        alive = np.ones(len(weight), dtype=bool)
        raw: list[int] = []
        weighted: list[float] = []
        nonfinite: list[int] = []
        for name in self.names:
            passed, bad = self.masks[name]
            nonfinite.append(int(np.count_nonzero(alive & bad)))
            alive &= passed & ~bad
            raw.append(int(np.count_nonzero(alive)))
            weighted.append(float(np.sum(weight[alive])))
        return alive, raw, weighted, nonfinite


def select(events: Mapping[str, Any], cfg: Mapping[str, Any], *, process: str) -> Selection:
    """Apply the selection of the paper to events in the ntuple schema.

    Args:
        events: Canonical branch name -> array (jagged branches as awkward arrays, lists of
            arrays, or flat numpy arrays with the ``ntrk``/``ngam`` counters).
        cfg: The analysis configuration (tables ``selection``, ``beams``, ``physics``).
        process: Name of the process the events belong to (kept in the result).

    Returns:
        The three selected samples with their derived variables and the cutflow.

    Raises:
        InputError: a branch is missing or has the wrong shape.

    Example:
        >>> from dhstat.config import load
        >>> out = select(example_events(), load(), process="signal")
        >>> out.cutflow.raw["search"]
        (3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1)
    """
    _check_branches(events)
    s = cfg["selection"]
    control = s["control"]
    weight = np.asarray(_flat(events, "weight"), dtype=np.float64)
    n = len(weight)
    trg = np.asarray(_flat(events, "trg_pass"), dtype=bool)
    if len(trg) != n:
        raise InputError(None, "trg_pass", f"one entry per event ({n})", got=len(trg))
    trk: dict[str, Any] = {}
    tcounts: Int | None = None
    for name in _TRACK_BRANCHES:
        trk[name], counts = _jagged(events, name, n, "ntrk")
        if len(counts) != n or (tcounts is not None and not np.array_equal(counts, tcounts)):
            raise InputError(None, name, "the same number of tracks per event as trk_px")
        tcounts = counts
    gam: dict[str, Any] = {}
    gcounts: Int | None = None
    for name in _PHOTON_BRANCHES:
        gam[name], counts = _jagged(events, name, n, "ngam")
        if len(counts) != n or (gcounts is not None and not np.array_equal(counts, gcounts)):
            raise InputError(None, name, "the same number of photons per event as gam_E")
        gcounts = counts
    assert tcounts is not None
    assert gcounts is not None
    tevt = np.repeat(np.arange(n, dtype=np.int64), tcounts)
    gevt = np.repeat(np.arange(n, dtype=np.int64), gcounts)

    good_weight = np.isfinite(weight)
    false = np.zeros(n, dtype=bool)
    trigger = trg if s["require_trigger"] else ~false

    # impact parameters -> good tracks
    dr = np.asarray(trk["trk_dr"], dtype=np.float64)
    dz = np.asarray(trk["trk_dz"], dtype=np.float64)
    ip_finite = np.isfinite(dr) & np.isfinite(dz)
    good = ip_finite & (np.abs(dr) < s["dr_max_cm"]) & (np.abs(dz) < s["dz_max_cm"])
    ip_bad = _any_per_event(tevt, ~ip_finite, n)
    ngood = np.bincount(tevt[good], minlength=n)

    # the pair of good tracks of events with exactly two
    good_index = np.flatnonzero(good)
    pair_index = good_index[ngood[tevt[good_index]] == 2].reshape(-1, 2)
    pair_evt = tevt[pair_index[:, 0]]
    i1, i2 = pair_index[:, 0], pair_index[:, 1]
    charge = np.asarray(trk["trk_charge"])
    opposite = charge[i1] * charge[i2] < 0
    two_tracks = false.copy()
    two_tracks[pair_evt] = opposite

    def per_pair(values: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        a = np.asarray(values, dtype=np.float64)
        return a[i1], a[i2]

    def scatter(values: NDArray[Any], fill: Any) -> NDArray[Any]:
        out = np.full(n, fill, dtype=np.asarray(values).dtype)
        out[pair_evt] = values
        return out

    # identification
    mu_thr, el_thr = s["muon_id_min"], s["electron_id_min"]
    mid1, mid2 = per_pair(trk["trk_muonID"])
    eid1, eid2 = per_pair(trk["trk_electronID"])
    mu1, mu2 = mid1 > mu_thr, mid2 > mu_thr
    el1, el2 = (eid1 > el_thr) & ~mu1, (eid2 > el_thr) & ~mu2
    mu_bad = ~(np.isfinite(mid1) & np.isfinite(mid2))
    muon_id = scatter(mu1 & mu2, False)
    muon_id_bad = scatter(mu_bad, False)
    emu = (mu1 & el2) | (mu2 & el1)
    emu_bad = mu_bad | ~(np.isfinite(eid1) & np.isfinite(eid2))
    emu_id = scatter(emu if control["emu"] else np.zeros_like(emu), False)
    emu_id_bad = scatter(emu_bad, False)
    electron_is_1 = el1 & mu2  # in e mu events: which track is the electron

    # momenta and four-vectors (muon mass; electron mass for the e mu electron)
    px1, px2 = per_pair(trk["trk_px"])
    py1, py2 = per_pair(trk["trk_py"])
    pz1, pz2 = per_pair(trk["trk_pz"])
    mom_bad = ~np.isfinite(np.stack([px1, py1, pz1, px2, py2, pz2])).all(axis=0)
    m_mu = float(cfg["physics"]["muon_mass"])
    m_e = float(cfg["physics"]["electron_mass"])
    is_emu = emu & ~mu_bad
    m1 = np.where(is_emu & electron_is_1, m_e, m_mu)
    m2 = np.where(is_emu & ~electron_is_1, m_e, m_mu)
    with np.errstate(invalid="ignore"):
        p1 = kinematics.four_vector(px1, py1, pz1, m1)
        p2 = kinematics.four_vector(px2, py2, pz2, m2)
        theta1, theta2 = kinematics.polar_angle(p1), kinematics.polar_angle(p2)
    tmin, tmax = np.radians(s["track_theta_min_deg"]), np.radians(s["track_theta_max_deg"])
    track_theta = scatter(
        (theta1 >= tmin) & (theta1 <= tmax) & (theta2 >= tmin) & (theta2 <= tmax), False
    )
    kin_bad = scatter(mom_bad, False)
    with np.errstate(invalid="ignore"):
        dphi = kinematics.delta_phi(p1, p2)
    delta_phi = scatter(dphi > np.radians(s["delta_phi_min_deg"]), False)

    # ECL cluster energy of the muons (of the muon only in e mu events)
    ce1, ce2 = per_pair(trk["trk_clusterE"])
    emax = s["muon_cluster_energy_max"]
    ok1 = np.where(is_emu & electron_is_1, True, ce1 < emax)
    ok2 = np.where(is_emu & ~electron_is_1, True, ce2 < emax)
    ce_bad1 = ~np.isfinite(ce1) & ~(is_emu & electron_is_1)
    ce_bad2 = ~np.isfinite(ce2) & ~(is_emu & ~electron_is_1)
    cluster_energy = scatter(ok1 & ok2, False)
    cluster_bad = scatter(ce_bad1 | ce_bad2, False)

    # recoil
    her, ler = kinematics.beam_momenta(cfg)
    beams = her + ler
    with np.errstate(invalid="ignore"):
        visible = p1 + p2
        recoil = beams - visible
        theta_r = kinematics.polar_angle(recoil)
        p_r = kinematics.momentum(recoil)
    rmin, rmax = np.radians(s["recoil_theta_min_deg"]), np.radians(s["recoil_theta_max_deg"])
    recoil_theta = scatter((theta_r >= rmin) & (theta_r <= rmax), False)

    # photons
    e_gam = np.asarray(gam["gam_E"], dtype=np.float64)
    th_gam = np.asarray(gam["gam_theta"], dtype=np.float64)
    ph_gam = np.asarray(gam["gam_phi"], dtype=np.float64)
    e_finite = np.isfinite(e_gam)
    photon = e_finite & (e_gam > s["photon_energy_min"])
    egamma_total = np.bincount(gevt[photon], weights=e_gam[photon], minlength=n)
    e_bad = _any_per_event(gevt, ~e_finite, n)
    photon_energy = egamma_total < s["photon_energy_total_max"]
    angle_finite = np.isfinite(th_gam) & np.isfinite(ph_gam)
    angle_bad = _any_per_event(gevt, photon & ~angle_finite, n)
    direction = np.full((n, 3), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        direction[pair_evt] = recoil[:, 1:] / p_r[:, None]
        u = direction[gevt]
        sin_t = np.sin(th_gam)
        cos_near = sin_t * np.cos(ph_gam) * u[:, 0] + sin_t * np.sin(ph_gam) * u[:, 1]
        cos_near += np.cos(th_gam) * u[:, 2]
        near = photon & (cos_near > np.cos(np.radians(s["photon_recoil_angle_min_deg"])))
    photon_recoil = ~_any_per_event(gevt, near, n)
    bmin = np.radians(control["mumugamma_photon_theta_min_deg"])
    bmax = np.radians(control["mumugamma_photon_theta_max_deg"])
    hard = (
        photon
        & (e_gam > control["mumugamma_photon_energy_min"])
        & (th_gam >= bmin)
        & (th_gam <= bmax)
    )
    photon_control = _any_per_event(gevt, hard, n)
    photon_control_bad = _any_per_event(gevt, ~e_finite | (photon & ~angle_finite), n)

    # c.m. transverse momentum and helicity angle
    beta = kinematics.cm_boost(cfg)
    with np.errstate(invalid="ignore"):
        pt = kinematics.pt_cm(p1, p2, beta)
    pt_cm = scatter(pt > s["pt_cm_min"], False)

    masks: dict[str, tuple[Bool, Bool]] = {
        "trigger": (trigger, ~good_weight),
        "impact_parameters": (ngood >= 2, ip_bad),
        "two_tracks": (two_tracks, false),
        "muon_id": (muon_id, muon_id_bad),
        "emu_id": (emu_id, emu_id_bad),
        "track_theta": (track_theta, kin_bad),
        "delta_phi": (delta_phi, kin_bad),
        "cluster_energy": (cluster_energy, cluster_bad),
        "recoil_theta": (recoil_theta, kin_bad),
        "photon_energy": (photon_energy, e_bad),
        "photon_recoil": (photon_recoil, angle_bad),
        "photon_control": (photon_control, photon_control_bad),
        "pt_cm": (pt_cm, kin_bad),
    }
    raw: dict[str, tuple[int, ...]] = {}
    weighted: dict[str, tuple[float, ...]] = {}
    nonfinite: dict[str, tuple[int, ...]] = {}
    samples: dict[str, dict[str, NDArray[Any]]] = {}
    position = np.full(n, -1, dtype=np.int64)
    position[pair_evt] = np.arange(len(pair_evt))
    for sample in SAMPLES:
        steps = _Steps(CUTS[sample], masks)
        alive, kept, sums, bad_counts = steps.run(weight)
        raw[sample], weighted[sample], nonfinite[sample] = (
            tuple(kept),
            tuple(sums),
            tuple(bad_counts),
        )
        events_sel = np.flatnonzero(alive)
        k = position[events_sel]
        q1 = p1[k]
        q2 = p2[k]
        minus_first = charge[i1[k]] < 0
        mu_minus = np.where(minus_first[:, None], q1, q2)
        mu_plus = np.where(minus_first[:, None], q2, q1)
        samples[sample] = {
            "mmumu2": kinematics.mass2(q1 + q2),
            "mrecoil2": kinematics.mass2(recoil[k]),
            "ceta": np.abs(kinematics.helicity_cos(mu_minus, mu_plus, beams)),
            "p_recoil": p_r[k],
            "theta_recoil": theta_r[k],
            "phi_recoil": kinematics.azimuth(recoil[k]),
            "pt_cm": pt[k],
            "egamma_total": egamma_total[events_sel],
            "weight": weight[events_sel],
        }
    flow = Cutflow(
        n_input=n,
        weighted_input=float(np.sum(weight[good_weight])),
        raw=raw,
        weighted=weighted,
        nonfinite=nonfinite,
    )
    return Selection(
        search=samples["search"],
        control_mumugamma=samples["control_mumugamma"],
        control_emu=samples["control_emu"],
        cutflow=flow,
        process=process,
    )


def example_events() -> dict[str, Any]:
    """Three hand-made events in the ntuple schema (for examples and tests).

    Event 0 is a clean back-to-back-ish dimuon with missing mass (selected); event 1 has a
    2 GeV photon (fails the photon veto, enters the mu mu gamma control sample); event 2 has
    three good tracks (fails ``two_tracks``).

    Example:
        >>> len(example_events()["weight"])
        3
    """
    import awkward as ak

    def track_event(
        momenta: Sequence[tuple[float, float, float]], charges: Sequence[int]
    ) -> dict[str, Any]:
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

    pair = [(2.5, -0.5, 1.5), (-2.044, -1.5, 1.0)]
    tracks = [
        track_event(pair, [1, -1]),
        track_event(pair, [1, -1]),
        track_event([*pair, (0.5, 0.5, 0.2)], [1, -1, 1]),
    ]
    photons = [([], [], []), ([2.0], [1.2], [0.3]), ([], [], [])]
    events: dict[str, Any] = {
        "weight": np.array([1.0, 1.0, 1.0]),
        "trg_pass": np.array([True, True, True]),
    }
    for name in _TRACK_BRANCHES:
        events[name] = ak.Array([t[name] for t in tracks])
    for j, name in enumerate(_PHOTON_BRANCHES):
        events[name] = ak.Array([[float(x) for x in p[j]] for p in photons])
    return events


# --------------------------------------------------------------------------------------------
# files: chunked reading over the executor, merged in a fixed order


@dataclass(frozen=True, slots=True)
class SelectionOutput:
    """The selection of a list of files, merged in input order.

    Attributes:
        samples: Per sample of :data:`SAMPLES`: :data:`VARIABLES` plus ``process`` (int32 index
            into :data:`PROCESSES`) -> flat arrays, events in input order.
        cutflows: Cutflow per process (all files of the process added in input order).
        files: Input files per process, in input order.
        config_digest: Digest of the ``selection``, ``beams`` and ``physics`` tables used.
        luminosity_fb: Luminosity of the data files (from their metadata), else of the
            configuration's ``[dataset]``.
    """

    samples: Mapping[str, Mapping[str, NDArray[Any]]]
    cutflows: Mapping[str, Cutflow]
    files: Mapping[str, tuple[str, ...]]
    config_digest: str
    luminosity_fb: float


@dataclass(frozen=True, slots=True)
class _Task:
    path: str
    process: str
    entry_start: int
    entry_stop: int | None
    chunk_size: int
    mapping: Mapping[str, str]
    cfg: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _TaskResult:
    samples: Mapping[str, Mapping[str, NDArray[Any]]]
    cutflow: Cutflow
    chunks: int
    #: An InputError raised in the worker, as (source, field, expected, got): InputError does
    #: not survive pickling between processes, so it travels as data and is re-raised.
    error: tuple[str, str, str, Any] | None = None


def _select_task(task: _Task) -> _TaskResult:
    """Run :func:`_select_chunks`, returning bad input as data instead of raising it."""
    try:
        return _select_chunks(task)
    except InputError as error:
        empty: dict[str, dict[str, NDArray[Any]]] = {s: {} for s in SAMPLES}
        return _TaskResult(
            empty, Cutflow.empty(), 0, (error.source, error.field, error.expected, error.got)
        )


def _concatenate(
    parts: Sequence[Mapping[str, NDArray[Any]]], names: Sequence[str]
) -> dict[str, Any]:
    return {
        name: np.concatenate([part[name] for part in parts]) if parts else np.zeros(0)
        for name in names
    }


def _select_chunks(task: _Task) -> _TaskResult:
    """Read one file (or one entry range of it) chunk by chunk and select each chunk."""
    from dhstat import ntuples

    index = PROCESSES.index(task.process)
    parts: dict[str, list[dict[str, NDArray[Any]]]] = {s: [] for s in SAMPLES}
    flow = Cutflow.empty()
    chunks = 0
    ranged = {"entry_start": task.entry_start, "entry_stop": task.entry_stop}
    for _path, _chunk, arrays in ntuples.iterate(
        [task.path],
        "events",
        BRANCHES,
        step_size=task.chunk_size,
        mapping=task.mapping,
        **(ranged if task.entry_stop is not None else {}),
    ):
        result = select(arrays, task.cfg, process=task.process)
        flow = flow + result.cutflow
        chunks += 1
        for sample in SAMPLES:
            columns = dict(result.sample(sample))
            columns["process"] = np.full(len(columns["weight"]), index, dtype=np.int32)
            parts[sample].append(columns)
    names = (*VARIABLES, "process")
    merged = {s: _concatenate(parts[s], names) for s in SAMPLES}
    for s in SAMPLES:
        merged[s]["process"] = merged[s]["process"].astype(np.int32)
    return _TaskResult(merged, flow, chunks)


def _tasks(
    files: Sequence[str], cfg: Mapping[str, Any]
) -> tuple[list[_Task], dict[str, Mapping[str, Any]]]:
    from dhstat import ntuples

    table = cfg["selection"]
    chunk_size = int(cfg["run"]["chunk_size"])
    mapping = dict(table["branches"])
    light = {name: cfg[name] for name in ("selection", "beams", "physics")}
    tasks: list[_Task] = []
    metadata: dict[str, Mapping[str, Any]] = {}
    ranged = _ranged_reading()
    for path in files:
        meta = ntuples.read_metadata(path)
        process = str(meta.get("process", ""))
        if process not in PROCESSES:
            raise InputError(
                path, "dhstat_metadata.process", f"one of {', '.join(PROCESSES)}", got=process
            )
        metadata[path] = meta
        if not ranged:  # one task per file, which reads it chunk by chunk
            tasks.append(_Task(path, process, 0, None, chunk_size, mapping, light))
            continue
        # two chunks per task: the chunks of a large file are spread over the workers
        entries = int(ntuples.num_entries(path, "events"))
        span = 2 * chunk_size
        for start in range(0, max(entries, 1), span):
            stop = min(start + span, entries)
            tasks.append(_Task(path, process, start, stop, chunk_size, mapping, light))
    return tasks, metadata


def _ranged_reading() -> bool:
    """Whether :mod:`dhstat.ntuples` can read entry ranges (then files are split into tasks)."""
    import inspect

    from dhstat import ntuples

    parameters = inspect.signature(ntuples.iterate).parameters
    return "entry_start" in parameters and hasattr(ntuples, "num_entries")


def select_files(
    files: Sequence[str | Any],
    cfg: Mapping[str, Any],
    *,
    executor: Any,
    progress: Callable[[int], None] | None = None,
) -> SelectionOutput:
    """Select the events of ntuple files, reading them in chunks over the executor.

    Files (glob patterns allowed) are read in the order given, in chunks of ``[run] chunk_size``
    events, with the branch mapping ``[selection] branches``; each task reads a few chunks, so
    memory is bounded by the chunk size, not the file size. Results are merged in task order,
    so the output does not depend on the number of workers.

    Args:
        files: ROOT files or glob patterns, each with ``dhstat_metadata`` naming its process.
        cfg: The analysis configuration.
        executor: A :class:`dhstat.parallel.Executor`.
        progress: Called with the number of newly finished tasks.

    Returns:
        The selected samples, per-process cutflows and provenance.

    Raises:
        InputError: a file is missing, unreadable or truncated, or lacks branches.

    Example:
        >>> import tempfile, pathlib
        >>> from dhstat import config, ntuples, parallel
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "mumu.root"
        >>> ntuples.write_trees(path, {"events": example_events()}, example_metadata("mumu"))
        >>> with parallel.executor(workers=1) as ex:
        ...     out = select_files([str(path)], config.load(), executor=ex)
        >>> out.cutflows["mumu"].raw["search"][-1], out.samples["search"]["process"].tolist()
        (1, [2])
    """
    from dhstat import ntuples

    paths = [str(p) for p in ntuples.expand_globs([str(f) for f in files])]
    if not paths:
        raise InputError(None, "INPUT", "at least one ntuple file")
    tasks, metadata = _tasks(paths, cfg)
    parts: dict[str, list[Mapping[str, NDArray[Any]]]] = {s: [] for s in SAMPLES}
    flows: dict[str, Cutflow] = {}
    for task, result in zip(tasks, executor.imap(_select_task, tasks), strict=True):
        if result.error is not None:
            source, field_, expected, got = result.error
            raise InputError(source, field_, expected, got=got)
        flows[task.process] = flows.get(task.process, Cutflow.empty()) + result.cutflow
        for s in SAMPLES:
            parts[s].append(result.samples[s])
        if progress is not None:
            progress(1)
    names = (*VARIABLES, "process")
    samples = {s: _concatenate(parts[s], names) for s in SAMPLES}
    for s in SAMPLES:
        samples[s]["process"] = np.asarray(samples[s]["process"], dtype=np.int32)
    by_process: dict[str, list[str]] = {}
    lumi = [float(m.get("luminosity_fb", 0.0)) for m in metadata.values() if m.get("is_data")]
    for path in paths:
        by_process.setdefault(str(metadata[path]["process"]), []).append(path)
    digest = _digest(cfg)
    return SelectionOutput(
        samples=samples,
        cutflows={p: flows[p] for p in PROCESSES if p in flows},
        files={p: tuple(v) for p, v in by_process.items()},
        config_digest=digest,
        luminosity_fb=sum(lumi) if lumi else float(cfg["dataset"]["luminosity_fb"]),
    )


def _digest(cfg: Mapping[str, Any]) -> str:
    from dhstat.jsonio import canonical_digest

    return canonical_digest({name: cfg[name] for name in ("selection", "beams", "physics")})


def example_metadata(process: str, *, luminosity_fb: float = 8.34) -> dict[str, Any]:
    """Ntuple metadata (docs/internals.md) for hand-made example files.

    Example:
        >>> example_metadata("data")["is_data"]
        True
    """
    from dhstat import __version__

    return {
        "schema_version": "1.0.0",
        "process": process,
        "is_data": process == "data",
        "cross_section_fb": 0.0,
        "luminosity_fb": luminosity_fb,
        "n_generated": 0,
        "seed": 0,
        "generator": "hand-made example",
        "dhstat_version": __version__,
        "config_digest": "0" * 64,
    }


def write_selected(path: str | Any, output: SelectionOutput) -> None:
    """Write the selected-events ROOT file atomically.

    Trees ``search``, ``control_mumugamma``, ``control_emu`` with :data:`VARIABLES` and
    ``process`` (int32 index into the metadata list ``processes``, equal to :data:`PROCESSES`).

    Example:
        >>> import tempfile, pathlib
        >>> out = SelectionOutput({s: {v: np.zeros(0) for v in VARIABLES} | {"process":
        ...     np.zeros(0, np.int32)} for s in SAMPLES}, {}, {}, "0" * 64, 8.34)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "sel.root"
        >>> write_selected(path, out)
        >>> read_selected([path])["mmumu2"].shape
        (0,)
    """
    from dhstat import __version__, ntuples

    metadata = {
        "schema_version": "1.0.0",
        "kind": "selected",
        "processes": list(PROCESSES),
        "files": {p: list(v) for p, v in output.files.items()},
        "luminosity_fb": output.luminosity_fb,
        "config_digest": output.config_digest,
        "dhstat_version": __version__,
    }
    trees = {s: {k: np.asarray(v) for k, v in output.samples[s].items()} for s in SAMPLES}
    ntuples.write_trees(path, trees, metadata)


def read_selected(paths: Sequence[str | Any], *, tree: str = "search") -> dict[str, NDArray[Any]]:
    """Concatenate the ``tree`` of selected-events files in the order given.

    The ``process`` branch of the result indexes :data:`PROCESSES`.

    Raises:
        InputError: a file is missing, unreadable, or not a selected-events file.
    """
    from dhstat import ntuples

    if tree not in SAMPLES:
        raise InputError(None, "tree", f"one of {', '.join(SAMPLES)}", got=tree)
    parts = []
    for path in paths:
        meta = ntuples.read_metadata(path)
        processes = meta.get("processes")
        if not isinstance(processes, list) or any(p not in PROCESSES for p in processes):
            raise InputError(path, "dhstat_metadata.processes", f"a list of {PROCESSES}")
        arrays = ntuples.read_tree(path, tree, [*VARIABLES, "process"])
        remap = np.array([PROCESSES.index(p) for p in processes], dtype=np.int32)
        columns = {name: np.asarray(arrays[name]) for name in VARIABLES}
        columns["process"] = remap[np.asarray(arrays["process"], dtype=np.int64)]
        parts.append(columns)
    merged = _concatenate(parts, (*VARIABLES, "process"))
    merged["process"] = np.asarray(merged["process"], dtype=np.int32)
    return merged


def cutflow_document(output: SelectionOutput) -> dict[str, Any]:
    """The ``cutflow`` JSON document of a selection (validated when written).

    Example:
        >>> doc = cutflow_document(SelectionOutput({}, {"mumu": Cutflow.empty()},
        ...     {"mumu": ("a.root",)}, "0" * 64, 8.34))
        >>> doc["processes"]["mumu"]["samples"]["search"][-1]["cut"]
        'pt_cm'
    """
    from dhstat import __version__

    processes = {}
    for process, flow in output.cutflows.items():
        entry = flow.to_dict()
        entry["is_data"] = process == "data"
        entry["files"] = list(output.files.get(process, ()))
        processes[process] = entry
    return {
        "schema_version": "1.0.0",
        "dhstat_version": __version__,
        "config_digest": output.config_digest,
        "processes": processes,
    }


def _signed_mass(m2: Float) -> Float:
    return np.asarray(np.sign(m2) * np.sqrt(np.abs(m2)), dtype=np.float64)


def macroregions_document(output: SelectionOutput, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Data/MC yields per macroregion and sample, and the uncertainty per region (``macroregions``).

    Each event belongs to the first configured region containing (M_mumu, signed M_recoil).
    Per region: data count, simulated yield per process with MC statistical error, the ratio
    data/MC with its error, ``measured_uncertainty`` = largest ``|ratio - 1|`` over the samples
    with at least ``measured_min_events`` data events, the paper's value, and the value the
    workspaces use (``systematics_source``; "measured" falls back to the paper's value in a
    region without enough data).

    Example:
        >>> from dhstat import config
        >>> empty = {s: {v: np.zeros(0) for v in VARIABLES} | {"process": np.zeros(0, np.int32)}
        ...          for s in SAMPLES}
        >>> doc = macroregions_document(SelectionOutput(empty, {}, {}, "0" * 64, 8.34),
        ...                             config.load())
        >>> [r["relative_uncertainty"] for r in doc["regions"]][:2]
        [0.13, 0.02]
    """
    from dhstat import __version__

    table = cfg["selection"]["macroregions"]
    regions = table["regions"]
    source = str(table["systematics_source"])
    boundary = float(table["paper_boundary_mmumu"])
    minimum = int(table["measured_min_events"])
    owner: dict[str, NDArray[np.int64]] = {}
    for s in SAMPLES:
        columns = output.samples[s]
        mm = _signed_mass(np.asarray(columns["mmumu2"], dtype=np.float64))
        mr = _signed_mass(np.asarray(columns["mrecoil2"], dtype=np.float64))
        which = np.full(len(mm), -1, dtype=np.int64)
        for k, region in enumerate(regions):
            lo_a, hi_a = region["mmumu"]
            lo_h, hi_h = region["mrecoil"]
            inside = (which < 0) & (mm >= lo_a) & (mm < hi_a) & (mr >= lo_h) & (mr < hi_h)
            which[inside] = k
        owner[s] = which
    data_index = PROCESSES.index("data")
    out_regions = []
    for k, region in enumerate(regions):
        samples: dict[str, Any] = {}
        deviations: list[float] = []
        for s in SAMPLES:
            columns = output.samples[s]
            inside = owner[s] == k
            process = np.asarray(columns["process"])
            weight = np.asarray(columns["weight"], dtype=np.float64)
            n_data = int(np.count_nonzero(inside & (process == data_index)))
            mc: dict[str, dict[str, float]] = {}
            for name in ("mumu", "tautau", "eemumu"):
                mask = inside & (process == PROCESSES.index(name))
                if np.any(mask) or name in output.cutflows:
                    mc[name] = {
                        "yield": math.fsum(weight[mask]),
                        "stat_error": math.sqrt(math.fsum(weight[mask] ** 2)),
                    }
            total = math.fsum(v["yield"] for v in mc.values())
            error = math.sqrt(math.fsum(v["stat_error"] ** 2 for v in mc.values()))
            ratio = ratio_error = None
            if n_data > 0 and total > 0:
                ratio = n_data / total
                ratio_error = ratio * math.sqrt(1.0 / n_data + (error / total) ** 2)
                if n_data >= minimum:
                    deviations.append(abs(ratio - 1.0))
            samples[s] = {
                "data": n_data,
                "mc": mc,
                "mc_total": total,
                "mc_stat_error": error,
                "ratio": ratio,
                "ratio_error": ratio_error,
            }
        high = float(region["mmumu"][0]) >= boundary
        paper_b = float(table["paper_uncertainty_high" if high else "paper_uncertainty_low"])
        paper_s = float(table["paper_signal_uncertainty_high" if high else "paper_uncertainty_low"])
        measured = max(deviations) if deviations else None
        use_measured = source == "measured" and measured is not None
        out_regions.append(
            {
                "name": region["name"],
                "dominant": region["dominant"],
                "ma_range": [float(x) for x in region["mmumu"]],
                "mh_range": [float(x) for x in region["mrecoil"]],
                "samples": samples,
                "measured_uncertainty": measured,
                "paper_uncertainty": paper_b,
                "relative_uncertainty": measured if use_measured else paper_b,
                "signal_relative_uncertainty": measured if use_measured else paper_s,
                "uncertainty_source": "measured" if use_measured else "paper",
            }
        )
    return {
        "schema_version": "1.0.0",
        "dhstat_version": __version__,
        "config_digest": output.config_digest,
        "systematics_source": source,
        "luminosity_fb": output.luminosity_fb,
        "regions": out_regions,
    }
