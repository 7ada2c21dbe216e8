"""Benchmark of the ntuple layouts: dhstat's jagged ntuple vs the flat per-daughter (Belle II) one.

The same events (the simulated mu mu(gamma) background, repeated to the wanted size) are written
in both layouts, not timed: dhstat's own (``ntuples.write_chunks``: jagged ``trk_*``/``gam_*``)
and the flat layout of Belle II's VariablesToNtuple, written with plain uproot (one candidate per
row, ``mu_0_px`` ..., ``nTracks``, photons as event-level ``totalPhotonEnergy`` and
``minPhotonRecoilAngle``, and a second file with jagged photon lists). Each file is then read and
selected in a fresh subprocess with one worker (``[run] chunk_size`` fixed), through
``dhstat.samples.select_samples``; the jagged file also through ``selection.select_files`` (the
default path). Reported: wall time, events per second per core (the events of the sample: the
flat file holds one row per event with two good tracks, the rows are given too), and peak RSS
for N and 4N events (memory must not grow with the file). Goal: flat >= jagged.

Usage: python benchmarks/bench_layouts.py [--events N] [--chunk-size N] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from _machine import machine

from dhstat import config, ntuples, simulation
from dhstat.samples import samples_toml
from dhstat.selection import SelectionSettings

FIELDS = ("px", "py", "pz", "charge", "dr", "dz", "muonID", "electronID", "clusterE")
FLAT = {f"trk_{f}": f"mu_{{i}}_{f}" for f in FIELDS} | {"ntrk": "nTracks", "trg_pass": "L1"}
EVENT_PHOTONS = {"egamma_total": "totalPhotonEnergy", "gam_recoil_angle": "minPhotonRecoilAngle"}
JAGGED_PHOTONS = {"gam_E": "gamma_E", "gam_theta": "gamma_theta", "gam_phi": "gamma_phi"}

MEASURE = r"""
import json, os, sys, threading, time
from dhstat import config, parallel, samples, selection
kind, target, chunk = json.loads(sys.argv[1])
page = os.sysconf("SC_PAGE_SIZE") / 2**20
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * page
imported_mb, peak, done = rss(), [0.0], threading.Event()
def poll():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
thread = threading.Thread(target=poll)
thread.start()
start, cpu = time.perf_counter(), time.process_time()
with parallel.executor(workers=1) as ex:
    if kind == "files":
        cfg = config.loads(f"[run]\nchunk_size = {chunk}\n")
        out = selection.select_files([target], cfg, executor=ex)
    else:
        out = samples.select_samples(config.load(target), executor=ex).output
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
done.set()
thread.join()
rows = sum(f.n_input for f in out.cutflows.values())
selected = sum(f.raw["search"][-1] for f in out.cutflows.values())
print(json.dumps({"wall": wall, "rows": rows, "selected": selected, "cpu": cpu,
                  "rss_mb": max(peak[0], rss()), "imported_mb": imported_mb}))
"""


def _events(n_min: int) -> dict[str, Any]:
    cfg = config.load()
    luminosity = n_min / 80_000  # about 90 000 skimmed mu mu events per fb^-1
    plan = simulation.plan_background("mumu", luminosity, cfg=cfg, seed=3, normalise_to_fb=1.0)
    parts = [simulation.run_chunk(task) for task in plan.tasks]
    return {k: ak.concatenate([p[k] for p in parts]) for k in parts[0]}


def _flat(events: dict[str, Any]) -> dict[str, Any]:
    """One row per event with >= 2 good tracks: the first two good tracks are the daughters."""
    s = SelectionSettings.from_config(config.load())
    n = len(events["weight"])
    counts = np.asarray(ak.num(events["trk_px"], axis=1))
    event = np.repeat(np.arange(n), counts)
    dr, dz = (np.asarray(ak.flatten(events[f"trk_{k}"])) for k in ("dr", "dz"))
    good = np.flatnonzero((np.abs(dr) < s.dr_max_cm) & (np.abs(dz) < s.dz_max_cm))
    ngood = np.bincount(event[good], minlength=n)
    first = np.cumsum(ngood) - ngood
    rows = np.flatnonzero(ngood >= 2)
    out: dict[str, Any] = {"nTracks": ngood[rows].astype(np.int32)}
    for field in FIELDS:
        content = np.asarray(ak.flatten(events[f"trk_{field}"]))
        for i in range(2):
            out[f"mu_{i}_{field}"] = content[good[first[rows] + i]]
    out["L1"] = np.asarray(events["trg_pass"])[rows]
    out["w"] = np.asarray(events["weight"])[rows]
    photons = {k: events[f"gam_{k}"][rows] for k in ("E", "theta", "phi")}
    out["gamma"] = ak.zip(photons)
    beams = s.beams.total()
    recoil = np.stack(
        [beams[1 + k] - out[f"mu_0_p{c}"] - out[f"mu_1_p{c}"] for k, c in enumerate("xyz")], 1
    )
    unit = recoil / np.linalg.norm(recoil, axis=1)[:, None]
    real = photons["E"] > s.photon_energy_min
    e, th, ph = (photons[k][real] for k in ("E", "theta", "phi"))
    cos = np.sin(th) * (np.cos(ph) * unit[:, 0] + np.sin(ph) * unit[:, 1]) + np.cos(th) * unit[:, 2]
    out["totalPhotonEnergy"] = np.asarray(ak.sum(e, axis=1), dtype=np.float64)
    largest = np.asarray(ak.fill_none(ak.max(cos, axis=1), -1.0))
    out["minPhotonRecoilAngle"] = np.arccos(np.clip(largest, -1, 1))
    return out


def _write(folder: Path, events: dict[str, Any], copies: int, tag: str) -> dict[str, Path]:
    jagged = folder / f"jagged_{tag}.root"
    flat = folder / f"flat_{tag}.root"
    if not jagged.is_file():
        ntuples.write_chunks(jagged, "events", (events for _ in range(copies)), {"process": "mumu"})
    if not flat.is_file():
        rows = _flat(events)
        types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in rows.items()}
        with uproot.recreate(flat) as handle:
            tree = handle.mktree("variables", types)
            for _ in range(copies):
                for start in range(0, len(rows["nTracks"]), 50_000):
                    tree.extend({k: v[start : start + 50_000] for k, v in rows.items()})
    return {"jagged": jagged, "flat": flat}


def _config(folder: Path, name: str, file: Path, chunk: int, layout: str) -> Path:
    table: dict[str, Any] = {"name": "mumu", "kind": "background", "files": [str(file)]}
    if layout == "jagged":
        table |= {"weight": "weight"}
    else:
        photons = EVENT_PHOTONS if layout == "flat" else JAGGED_PHOTONS
        table |= {"tree": "variables", "weight": "w", "branches": FLAT | photons}
    path = folder / f"{name}.toml"
    path.write_text(f"[run]\nchunk_size = {chunk}\n\n" + samples_toml([table]), encoding="utf-8")
    return path


def _measure(kind: str, target: Path, chunk: int) -> dict[str, float]:
    process = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps([kind, str(target), chunk])],
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode:
        raise SystemExit(process.stderr)
    return dict(json.loads(process.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Write both layouts (N and 4N events), select each once per size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="N (about)")
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dhstat-bench-layouts"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(machine())
    start = time.perf_counter()
    events = _events(args.events // 4)
    n_unit = len(events["weight"])
    print(f"simulated {n_unit} mu mu events in {time.perf_counter() - start:.1f} s (not timed)")
    for copies in (4, 16):
        files = _write(args.cache, events, copies, str(copies))
        n = n_unit * copies
        size = {k: p.stat().st_size / 2**20 for k, p in files.items()}
        cases = [
            ("jagged, select_files", "files", files["jagged"], n),
            (
                "jagged, samples",
                "samples",
                _config(args.cache, "j", files["jagged"], args.chunk_size, "jagged"),
                n,
            ),
            (
                "flat, event photons",
                "samples",
                _config(args.cache, "f", files["flat"], args.chunk_size, "flat"),
                n,
            ),
            (
                "flat, jagged photons",
                "samples",
                _config(args.cache, "g", files["flat"], args.chunk_size, "flat_jagged"),
                n,
            ),
        ]
        print(f"\n{n} events; files: jagged {size['jagged']:.1f} MB, flat {size['flat']:.1f} MB")
        print(
            f"{'layout':<24}{'wall s':>8}{'rows':>10}{'selected':>10}{'events/s/core':>15}"
            f"{'RSS MB':>9}{'(imports)':>10}"
        )
        base = None
        for label, kind, target, events_n in cases:
            r = _measure(kind, target, args.chunk_size)
            rate = events_n / r["cpu"]
            base = base or rate
            print(
                f"{label:<24}{r['wall']:>8.2f}{r['rows']:>10.0f}{r['selected']:>10.0f}"
                f"{rate:>15.0f}{r['rss_mb']:>9.0f}{r['imported_mb']:>10.0f}"
                f"   x{rate / base:.2f} vs the first row"
            )


if __name__ == "__main__":
    main()
