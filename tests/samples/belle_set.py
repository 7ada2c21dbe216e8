"""A Belle II-like ntuple set written by plain uproot, and the same events in dhstat's own layout.

The physics comes from dhstat's fast simulation (in memory); the files are written here with
``uproot.recreate`` only, in the layout of Belle II's ``VariablesToNtuple``: tree ``variables``,
one candidate per row with flat per-daughter branches ``mu_0_px``, ``mu_1_px``, ... and the
event-level ``nTracks`` (the event's good tracks), a trigger flag ``L1_trigger``, every number a double as VariablesToNtuple writes it, photons
both as jagged lists (``gamma_E``, counter ``ngamma``) and as event-level quantities
(``totalPhotonEnergy``, ``minPhotonRecoilAngle``, ``maxBarrelPhotonE``), no dhstat metadata, and weights the samples
table must normalise. Rows are written for events with at least two good tracks (those are the
candidates Belle II would reconstruct), daughters = the first two good tracks.

The reference set holds the same events in dhstat's layout, written by dhstat's writer, with
their normalised weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from dhstat import config, ntuples, simulation
from dhstat.physics.beams import Beams
from dhstat.samples import samples_toml
from dhstat.selection import SelectionSettings

LUMINOSITY = 0.05
SEED = 20261207
#: (ma, mh) of the signal files with the masses as numbers, and of the file with mass branches
SIGNAL_FILES = ((5.0, 1.0), (7.0, 0.5))
SIGNAL_GRID = ((8.0, 0.3), (6.0, 1.0))
SIGNAL_EVENTS = 1000
TRACK_FIELDS = ("px", "py", "pz", "charge", "dr", "dz", "muonID", "electronID", "clusterE")

#: The branch map of the flat layout (the same for every sample).
FLAT_TRACKS = {f"trk_{f}": f"mu_{{i}}_{f}" for f in TRACK_FIELDS} | {
    "ntrk": "nTracks",
    "trg_pass": "L1_trigger",
}
EVENT_PHOTONS = {
    "egamma_total": "totalPhotonEnergy",
    "gam_recoil_angle": "minPhotonRecoilAngle",
    "egamma_barrel_max": "maxBarrelPhotonE",
}
JAGGED_PHOTONS = {"gam_E": "gamma_E", "gam_theta": "gamma_theta", "gam_phi": "gamma_phi"}


@dataclass(frozen=True)
class NtupleSet:
    """The two layouts of the same events.

    Attributes:
        folder: Where everything is.
        reference: process -> dhstat-layout files (weights normalised), signal: per point.
        signal_reference: (ma, mh) -> dhstat-layout file of that point.
        tables: The [[samples]] tables (photons as event-level quantities).
        generated: (ma, mh) -> events generated.
    """

    folder: Path
    reference: dict[str, list[Path]]
    signal_reference: dict[tuple[float, float], Path]
    tables: list[dict[str, Any]]
    generated: dict[tuple[float, float], int]

    def config(self, *, photons: str = "event", extra: str = "", name: str = "c") -> Path:
        """A configuration file (in the set's folder) with the samples table."""
        tables = []
        for table in self.tables:
            mapping = FLAT_TRACKS | (EVENT_PHOTONS if photons == "event" else JAGGED_PHOTONS)
            tables.append(table | {"branches": mapping})
        text = f"[dataset]\nluminosity_fb = {LUMINOSITY}\n{extra}\n" + samples_toml(tables)
        path = self.folder / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path


def _chunks(plan: simulation.SamplePlan) -> dict[str, Any]:
    parts = [simulation.run_chunk(task) for task in plan.tasks]
    return {k: ak.concatenate([p[k] for p in parts]) for k in parts[0]}


def _flat_rows(events: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """The Belle II-like rows of ``events`` (dhstat layout): one per event with >= 2 good tracks."""
    s = SelectionSettings.from_config(cfg)
    n = len(events["weight"])
    counts = np.asarray(ak.num(events["trk_px"], axis=1))
    event = np.repeat(np.arange(n), counts)
    dr = np.asarray(ak.flatten(events["trk_dr"]))
    dz = np.asarray(ak.flatten(events["trk_dz"]))
    positions = np.flatnonzero((np.abs(dr) < s.dr_max_cm) & (np.abs(dz) < s.dz_max_cm))
    ngood = np.bincount(event[positions], minlength=n)
    first_good = np.cumsum(ngood) - ngood
    rows = np.flatnonzero(ngood >= 2)
    daughters = (positions[first_good[rows]], positions[first_good[rows] + 1])
    out: dict[str, Any] = {
        "__event__": rows.astype(np.int32),
        "nTracks": ngood[rows].astype(np.float64),  # VariablesToNtuple writes doubles
    }
    for field in TRACK_FIELDS:
        content = np.asarray(ak.flatten(events[f"trk_{field}"]), dtype=np.float64)
        for i, index in enumerate(daughters):
            out[f"mu_{i}_{field}"] = content[index]
    out["L1_trigger"] = np.asarray(events["trg_pass"])[rows].astype(np.float64)
    photons = {k: events[f"gam_{k}"][rows] for k in ("E", "theta", "phi")}
    out["gamma"] = ak.zip(photons)
    out.update(_photon_summary(out, photons, s))
    return out


def _photon_summary(rows: dict[str, Any], photons: dict[str, Any], s: Any) -> dict[str, Any]:
    """Total energy of photons above threshold, smallest angle between one and the recoil."""
    beams = s.beams.total()
    recoil = np.stack(
        [beams[1 + k] - rows[f"mu_0_p{c}"] - rows[f"mu_1_p{c}"] for k, c in enumerate("xyz")],
        axis=1,
    )
    unit = recoil / np.linalg.norm(recoil, axis=1)[:, None]
    real = photons["E"] > s.photon_energy_min
    energy, theta, phi = (photons[k][real] for k in ("E", "theta", "phi"))
    cos = (
        np.sin(theta) * np.cos(phi) * unit[:, 0]
        + np.sin(theta) * np.sin(phi) * unit[:, 1]
        + np.cos(theta) * unit[:, 2]
    )
    largest = np.asarray(ak.fill_none(ak.max(cos, axis=1), -1.0))
    low = np.radians(s.control.mumugamma_photon_theta_min_deg)
    high = np.radians(s.control.mumugamma_photon_theta_max_deg)
    barrel = energy[(theta >= low) & (theta <= high)]
    return {
        "maxBarrelPhotonE": np.asarray(ak.fill_none(ak.max(barrel, axis=1), 0.0), np.float64),
        "totalPhotonEnergy": np.asarray(ak.sum(energy, axis=1), dtype=np.float64),
        "minPhotonRecoilAngle": np.arccos(np.clip(largest, -1.0, 1.0)),
    }


def _write_plain(path: Path, rows: dict[str, Any]) -> None:
    """A TTree ``variables`` written by plain uproot (its default names: counter ``ngamma``)."""
    types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in rows.items()}
    with uproot.recreate(path) as handle:
        handle.mktree("variables", types).extend(rows)


def _signal(
    cfg: Any, folder: Path, ref: Path
) -> tuple[dict[tuple[float, float], Path], list[dict[str, Any]]]:
    refs: dict[tuple[float, float], Path] = {}
    grid_rows: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    points = (*SIGNAL_FILES, *SIGNAL_GRID)
    for k, (ma, mh) in enumerate(points):
        plan = simulation.plan_signal(ma, mh, SIGNAL_EVENTS, cfg=cfg, seed=SEED, key=(k,))
        events = _chunks(plan)
        refs[(ma, mh)] = ref / f"signal_{k}.root"
        ntuples.write_trees(refs[(ma, mh)], {"events": events}, plan.metadata)
        rows = _flat_rows(events, cfg)
        if (ma, mh) in SIGNAL_FILES:
            _write_plain(folder / f"sig_mA{ma}_mh{mh}.root", rows)
            tables.append(
                {
                    "name": f"sig_{k}",
                    "kind": "signal",
                    "files": [f"belle/sig_mA{ma}_mh{mh}.root"],
                    "tree": "variables",
                    "ma": ma,
                    "mh": mh,
                    "generated_events": SIGNAL_EVENTS,
                }
            )
        else:
            n = len(rows["nTracks"])
            grid_rows.append(rows | {"mA": np.full(n, ma), "mH": np.full(n, mh)})
    grid = {
        k: (
            ak.concatenate([r[k] for r in grid_rows])
            if k == "gamma"
            else np.concatenate([r[k] for r in grid_rows])
        )
        for k in grid_rows[0]
    }
    _write_plain(folder / "sig_grid.root", grid)
    tables.append(
        {
            "name": "sig_grid",
            "kind": "signal",
            "files": ["belle/sig_grid.root"],
            "tree": "variables",
            "ma": "mA",
            "mh": "mH",
            "generated_events": SIGNAL_EVENTS,
        }
    )
    return refs, tables


def _backgrounds(
    cfg: Any, folder: Path, ref: Path
) -> tuple[dict[str, list[Path]], list[dict[str, Any]]]:
    reference: dict[str, list[Path]] = {}
    tables: list[dict[str, Any]] = []
    lumi_mc = 3 * LUMINOSITY
    for k, process in enumerate(("mumu", "tautau", "eemumu")):
        plan = simulation.plan_background(
            process, lumi_mc, cfg=cfg, seed=SEED + k, normalise_to_fb=LUMINOSITY
        )
        events = _chunks(plan)
        reference[process] = [ref / f"mc_{process}.root"]
        ntuples.write_trees(reference[process][0], {"events": events}, plan.metadata)
        rows = _flat_rows(events, cfg)
        weight = np.asarray(events["weight"])[rows["__event__"]]
        table = {
            "name": f"bkg_{process}",
            "kind": "background",
            "process": process,
            "files": [f"belle/{process}.root"],
            "tree": "variables",
        }
        if process == "mumu":  # raw weights of an MC sample of luminosity lumi_mc
            rows["MCweight"] = weight * lumi_mc / LUMINOSITY
            table |= {"weight": "MCweight", "luminosity_fb": lumi_mc}
        elif process == "tautau":  # weights per generated event of a 1000 fb sample
            generated = 123_456
            rows["evtWeight"] = weight * generated / (1000.0 * LUMINOSITY)
            table |= {
                "weight": "evtWeight",
                "cross_section_fb": 1000.0,
                "generated_events": generated,
            }
        else:  # already normalised, as a product of two branches
            rows["w_a"], rows["w_b"] = np.full(len(weight), 2.0), weight / 2.0
            table |= {"weight": "w_a * w_b"}
        _write_plain(folder / f"{process}.root", rows)
        tables.append(table)
    return reference, tables


def _data(cfg: Any, folder: Path, ref: Path) -> tuple[list[Path], dict[str, Any]]:
    plan = simulation.plan_data(LUMINOSITY, cfg=cfg, seed=SEED)
    events = _chunks(plan)
    path = ref / "data.root"
    ntuples.write_trees(path, {"events": events}, plan.metadata)
    rows = _flat_rows(events, cfg)
    half = len(rows["nTracks"]) // 2
    for k, part in enumerate((slice(0, half), slice(half, None))):
        _write_plain(folder / f"data_{k}.root", {key: v[part] for key, v in rows.items()})
    table = {"name": "data", "kind": "data", "files": ["belle/data_*.root"], "tree": "variables"}
    return [path], table


def make_set(root: Path) -> NtupleSet:
    """Write the set into ``root``."""
    folder, ref = root / "belle", root / "reference"
    folder.mkdir()
    ref.mkdir()
    cfg = config.loads(f"[dataset]\nluminosity_fb = {LUMINOSITY}\n")
    assert Beams.from_config(cfg).sqrt_s > 10
    data, data_table = _data(cfg, folder, ref)
    reference, background_tables = _backgrounds(cfg, folder, ref)
    signal_refs, signal_tables = _signal(cfg, folder, ref)
    return NtupleSet(
        folder=root,
        reference={"data": data, **reference},
        signal_reference=signal_refs,
        tables=[data_table, *background_tables, *signal_tables],
        generated=dict.fromkeys((*SIGNAL_FILES, *SIGNAL_GRID), SIGNAL_EVENTS),
    )
