"""Cost of reproducible ROOT writing (python benchmarks/bench_ntuples_write.py [--events N] [--repeat R]).

Compares, in this process, :func:`dhstat.ntuples.write_chunks` (name-based UUIDs, fixed dates,
the file handed to uproot as a stream) with the plain write it replaced (``uproot.recreate`` on the
temporary path: time-based UUIDs, wall-clock dates), on the same chunks of the ntuple schema
(default 500 000 events in chunks of 200 000, about 2.3 tracks and 1 photon per event). The two
writes alternate, ``R`` times each; the medians and the median of the pairwise ratios are
printed with the machine load (the machine may be shared).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from _machine import machine

from dhstat import ntuples
from dhstat.jsonio import atomic_path, dumps

CHUNK = 200_000


def _chunk(n: int, rng: np.random.Generator) -> dict[str, Any]:
    ntrk = rng.poisson(2.3, n)
    ngam = rng.poisson(1.0, n)
    tracks, photons = int(ntrk.sum()), int(ngam.sum())
    out: dict[str, Any] = {"weight": rng.random(n), "trg_pass": rng.random(n) < 0.9}
    for name in ("px", "py", "pz", "dr", "dz", "muonID", "electronID", "clusterE"):
        out[f"trk_{name}"] = ak.unflatten(rng.normal(size=tracks), ntrk)
    out["trk_charge"] = ak.unflatten(rng.choice([-1, 1], tracks).astype(np.int32), ntrk)
    for name in ("E", "theta", "phi"):
        out[f"gam_{name}"] = ak.unflatten(rng.random(photons), ngam)
    return out


def _plain_write(
    path: Path, tree: str, chunks: Iterable[Mapping[str, Any]], metadata: Mapping[str, Any]
) -> int:
    """The write before issue 17: the same trees and baskets, uproot's default UUIDs and dates."""
    text = dumps(dict(metadata), indent=None)
    total = 0
    with atomic_path(path) as temporary, uproot.recreate(temporary) as handle:
        writable = None
        for chunk in chunks:
            prepared = ntuples._prepare(chunk)
            if writable is None:
                writable = handle.mktree(
                    tree,
                    ntuples._types(prepared),
                    counter_name=ntuples._counter,
                    field_name=ntuples._field,
                )
            total += ntuples._extend(writable, prepared)
        handle[ntuples.METADATA_KEY] = text
    return total


def _time(write: Any, folder: Path, chunks: list[dict[str, Any]]) -> tuple[float, float, int]:
    path = folder / "x.root"
    start, cpu = time.perf_counter(), time.process_time()
    write(path, "events", chunks, {"process": "mumu", "seed": 1})
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    size = path.stat().st_size
    path.unlink()
    return wall, cpu, size


def main() -> None:
    events = int(sys.argv[sys.argv.index("--events") + 1]) if "--events" in sys.argv else 500_000
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 5
    print(f"machine: {machine()}")
    rng = np.random.default_rng(1)
    chunks = [_chunk(min(CHUNK, events - i), rng) for i in range(0, events, CHUNK)]
    results: dict[str, list[tuple[float, float, int]]] = {"plain": [], "reproducible": []}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        _time(ntuples.write_chunks, folder, chunks[:1])  # warm-up (imports, first allocation)
        for _ in range(repeat):
            results["plain"].append(_time(_plain_write, folder, chunks))
            results["reproducible"].append(_time(ntuples.write_chunks, folder, chunks))
    print(f"writing {events:,} events ({len(chunks)} chunks), {repeat} alternating repetitions:")
    for label, rows in results.items():
        walls, cpus = [r[0] for r in rows], [r[1] for r in rows]
        print(
            f"  {label:12s} wall median {statistics.median(walls):.3f} s"
            f" (min {min(walls):.3f}, max {max(walls):.3f});"
            f" cpu median {statistics.median(cpus):.3f} s; file {rows[0][2] / 1e6:.2f} MB"
        )
    pairs = zip(results["reproducible"], results["plain"], strict=True)
    ratios = [(a[0] / b[0], a[1] / b[1]) for a, b in pairs]
    print(
        f"  reproducible / plain: wall {statistics.median(r[0] for r in ratios):.3f},"
        f" cpu {statistics.median(r[1] for r in ratios):.3f} (median of pairwise ratios)"
    )
    print(f"load after: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
