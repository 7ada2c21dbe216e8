"""Benchmark of the selection: read-and-select throughput, wall time and memory.

Measures, each in a fresh subprocess (so peak memory is that of the measurement alone):
1. events/s read-and-selected per core (`select_files`, 1 worker) over the whole default dataset;
2. wall time and peak memory to select the default dataset with 2 workers (goal: <= 60 s);
3. peak memory when selecting a file of N and of 4N events with the same chunk size (goal:
   memory independent of the file size).

The default dataset is the simulated data and the three backgrounds at the configured luminosity
(8.34 fb^-1, MC at 10x), written once by `dhstat simulate --output CACHE/ds` (not timed), unless
`--inputs GLOB` points at existing ntuples.

Usage: python benchmarks/bench_selection.py [--inputs GLOB] [--cache DIR] [--chunk-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine

MEASURE = r"""
import json, resource, sys, time
from dhstat import config, parallel, selection
files, workers, chunk = json.loads(sys.argv[1])
cfg = config.loads(f"[run]\nchunk_size = {chunk}\n")
start = time.perf_counter()
with parallel.executor(workers=workers) as ex:
    out = selection.select_files(files, cfg, executor=ex)
wall = time.perf_counter() - start
events = sum(f.n_input for f in out.cutflows.values())
selected = {p: f.raw["search"][-1] for p, f in out.cutflows.items()}
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
self_mb = me.ru_maxrss / 1024
child_mb = kids.ru_maxrss / 1024
print(json.dumps({"wall": wall, "events": events, "selected": selected,
                  "self_mb": self_mb, "child_mb": child_mb, "cpu": cpu}))
"""


def _tree(root: int) -> dict[int, tuple[float, float]]:
    """Resident memory [MB] and CPU time [s] of ``root`` and all its descendants, by pid."""
    parents: dict[int, int] = {}
    usage: dict[int, tuple[float, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / tick
        usage[int(entry.name)] = (int(fields[21]) * page / 2**20, cpu)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return {pid: usage[pid] for pid in tree if pid in usage}


def measure(files: list[str], workers: int, chunk: int) -> dict[str, float]:
    """Run one selection in a subprocess; poll its process tree for memory and CPU time."""
    process = subprocess.Popen(
        [sys.executable, "-c", MEASURE, json.dumps([files, workers, chunk])],
        stdout=subprocess.PIPE,
        text=True,
    )
    peak_tree = 0.0
    cpu: dict[int, float] = {}
    while process.poll() is None:
        snapshot = _tree(process.pid)
        peak_tree = max(peak_tree, sum(rss for rss, _ in snapshot.values()))
        for pid, (_, seconds) in snapshot.items():
            cpu[pid] = max(cpu.get(pid, 0.0), seconds)
        time.sleep(0.1)
    text = process.stdout.read() if process.stdout else ""
    if process.returncode:
        msg = f"measurement failed (exit {process.returncode})"
        raise SystemExit(msg)
    result: dict[str, float] = json.loads(text.strip().splitlines()[-1])
    result["tree_mb"] = peak_tree
    result["tree_cpu"] = max(result["cpu"], sum(cpu.values()))
    return result


def default_dataset(folder: Path) -> list[str]:
    """The default data set (``dhstat simulate --output folder``), simulated once (not timed)."""
    if not sorted(folder.glob("*.root")):
        subprocess.run(["dhstat", "simulate", "--output", str(folder)], check=True)
    return [str(p) for p in sorted(folder.glob("*.root"))]


def replicate(source: str, target: Path, copies: int, chunk: int, limit: int) -> int:
    """Write ``copies`` copies of the first ``limit`` events of ``source`` into one file,
    streaming chunk by chunk."""
    from dhstat import ntuples, selection

    meta = ntuples.read_metadata(source)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(copies):
            done = 0
            for _p, _i, arrays in ntuples.iterate(
                [source], "events", selection.BRANCHES, step_size=chunk
            ):
                if done >= limit:
                    break
                done += len(arrays["weight"])
                yield arrays

    return ntuples.write_chunks(target, "events", chunks(), meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default=None, help="glob of existing ntuples")
    parser.add_argument("--cache", default="/tmp/dhstat-bench-selection")
    parser.add_argument("--chunk-size", type=int, default=500_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    cache = Path(args.cache)
    if args.inputs:
        from dhstat import ntuples

        files = [str(p) for p in ntuples.expand_globs([args.inputs])]
    else:
        print("generating the default data set (not timed) ...")
        files = default_dataset(cache / "ds")
    chunk = args.chunk_size
    one = measure(files, 1, chunk)
    two = measure(files, 2, chunk)
    n = one["events"]
    print(f"\n1. read-and-select, 1 worker: {n:.0f} events in {one['wall']:.2f} s")
    print(
        f"   -> {n / one['wall']:.3g} events/s per core (wall); CPU {one['cpu']:.1f} s, "
        f"{n / one['cpu']:.3g} events per CPU-second (includes imports); "
        f"peak memory {one['self_mb']:.0f} MB"
    )
    print(f"   selected (search): {one['selected']}")
    print(f"2. default data set with 2 workers: wall {two['wall']:.2f} s (goal <= 60 s);")
    print(
        f"   speed-up vs 1 worker {one['wall'] / two['wall']:.2f}x; CPU of the process tree "
        f"{two['tree_cpu']:.1f} s; peak memory main {two['self_mb']:.0f} MB, whole process "
        f"tree {two['tree_mb']:.0f} MB"
    )
    # 3. memory vs file size, same chunk size
    small_chunk = 100_000
    base = files[0]
    big = cache / "replicated_x4.root"
    single = cache / "replicated_x1.root"
    n1 = replicate(base, single, 1, small_chunk, 300_000)
    n4 = replicate(base, big, 4, small_chunk, 300_000)
    m1 = measure([str(single)], 1, small_chunk)
    m4 = measure([str(big)], 1, small_chunk)
    print(f"3. memory vs file size (chunk {small_chunk} events, 1 worker):")
    print(f"   {n1} events: peak {m1['self_mb']:.0f} MB, {m1['wall']:.2f} s")
    print(f"   {n4} events: peak {m4['self_mb']:.0f} MB, {m4['wall']:.2f} s")
    print(f"   ratio of peak memory x4/x1: {m4['self_mb'] / m1['self_mb']:.2f} (1.0 = independent)")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"benchmark driver peak memory: {own:.0f} MB")


if __name__ == "__main__":
    main()
