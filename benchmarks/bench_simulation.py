"""Benchmark of the fast simulation (python benchmarks/bench_simulation.py [--full]).

Measures, in this process (one core), generated-and-detected events per second for each process
(``run_chunk``: generation with the generator cuts, detector, skim, ntuple branches; the tau tau
chunk is its mu mu final state), the cost of writing the kept events, and with ``--full`` the
wall time and peak memory
of ``dhstat simulate --config <default> --output DIR`` (everything the default analysis needs:
pseudo-data at 8.34 fb^-1 and the three backgrounds at 10x that luminosity), run through the
local executor with all cores. The machine may be shared: timings are then under load.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine

from dhstat import ntuples
from dhstat.config import load
from dhstat.processes import BACKGROUNDS
from dhstat.simulation import ChunkTask, plan_background, process_info, run_chunk


def _rate(process: str, n: int) -> tuple[float, float, float, float]:
    cfg = load()
    plan = plan_background(process, 1.0, cfg=cfg, seed=1)
    first = plan.tasks[0]
    task = ChunkTask(
        first.process, n, first.weight, 1, first.key, first.settings, final_state=first.final_state
    )
    # warm up (builds the ISR and photon tables once per process)
    run_chunk(
        ChunkTask(
            first.process, 1000, 1.0, 2, first.key, first.settings, final_state=first.final_state
        )
    )
    start = time.perf_counter()
    cpu0 = time.process_time()
    out = run_chunk(task)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    with tempfile.TemporaryDirectory() as folder:
        cpu1 = time.process_time()
        ntuples.write_chunks(Path(folder) / "x.root", "events", [out], {})
        write = time.process_time() - cpu1
    return n / wall, n / cpu, len(out["weight"]) / n, write


def main() -> None:
    print(f"machine: {machine()}")
    print("generated-and-detected events per second, one core (run_chunk: generation with the")
    print("generator cuts, detector, skim, ntuple branches), 500 000 events drawn per process:")
    for process in BACKGROUNDS:
        wall_rate, cpu_rate, kept, write = _rate(process, 500_000)
        print(
            f"  {process:7s} {wall_rate:11,.0f} /s wall  {cpu_rate:11,.0f} /s cpu"
            f"  (kept after skim {kept:.4f}; writing them {write:.2f} s cpu)"
        )
    cfg = load()
    lumi = cfg["dataset"]["luminosity_fb"]
    factor = cfg["simulation"]["mc_luminosity_factor"]
    for process in BACKGROUNDS:
        info = process_info(process, cfg)
        print(
            f"  {process}: sigma {info.cross_section_fb:.4g} fb, generated (after pre-cuts) "
            f"{info.generated_cross_section_fb:.4g} fb -> {info.generated_cross_section_fb * lumi * factor:,.0f}"
            f" draws for the MC at {factor:g} x {lumi} fb^-1"
        )
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    if "--full" in sys.argv:
        # --factor F: background MC at F x the data luminosity instead of the default 10
        factor = float(sys.argv[sys.argv.index("--factor") + 1]) if "--factor" in sys.argv else 10.0
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "cfg.toml"
            config.write_text(f"[simulation]\nmc_luminosity_factor = {factor}\n")
            out = Path(folder) / "out"
            start = time.perf_counter()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dhstat",
                    "simulate",
                    "--config",
                    str(config),
                    "--output",
                    str(out),
                    "--workers",
                    "0",
                ]
            )
            peak_rss, cpu = _watch(process)
            wall = time.perf_counter() - start
            if process.returncode:
                raise SystemExit(process.returncode)
            sizes = {p.name: p.stat().st_size / 1e6 for p in out.iterdir()}
        print(
            f"full default sample (MC at {factor:g} x data luminosity): wall {wall:.0f} s, "
            f"CPU of the process tree {cpu:.0f} s"
        )
        print(f"  peak RSS summed over the process tree: {peak_rss / 1e6:.0f} MB")
        print("  files [MB]: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(sizes.items())))


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [root], [root]
    while todo:
        current = todo.pop()
        children = [pid for pid, parent in parents.items() if parent == current]
        found.extend(children)
        todo.extend(children)
    return found


def _watch(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Poll the process tree: peak summed RSS [bytes] and total CPU seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    peak = 0
    cpu: dict[int, float] = {}
    while process.poll() is None:
        rss = 0
        for pid in _tree(process.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
            rss += int(fields[21]) * page
        peak = max(peak, rss)
        time.sleep(0.5)
    return peak, sum(cpu.values())


if __name__ == "__main__":
    main()
