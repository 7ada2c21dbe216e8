"""Benchmark of the main job: `dhstat run` on a configuration (default: the paper-scale default).

Runs `dhstat run [CONFIG] --output OUTDIR --force` in a subprocess and reports the wall time, CPU
time and peak memory per stage (from OUTDIR/run.json), the total wall time and the peak resident
memory of the whole process tree (getrusage RUSAGE_CHILDREN), against the goal of <= 10 min and
<= 4 GB on a 2-core machine.

Usage: python benchmarks/bench_run.py [CONFIG] [--output OUTDIR] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _machine import machine


def tree_rss_mb(root: int) -> float:
    """Summed resident memory of process ``root`` and all its descendants [MB]."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0.0) for pid in tree)


class Sampler(threading.Thread):
    """Samples the summed RSS of a process tree every ``interval`` seconds; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, tree_rss_mb(self.pid))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", nargs="?", default=None)
    parser.add_argument("--output", default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--resume", action="store_true", help="keep up-to-date stages (default: force all)"
    )
    parser.add_argument(
        "--reuse-ntuples",
        default=None,
        help="take the simulate stage's ntuples from this folder (hard links) instead of simulating",
    )
    parser.add_argument(
        "--windows",
        default=None,
        help="take windows.json from this file instead of running the windows stage",
    )
    args = parser.parse_args()
    outdir = Path(args.output or tempfile.mkdtemp(prefix="dhstat-bench-run-"))
    if args.reuse_ntuples or args.windows:
        return substituted(args, outdir)
    command = [sys.executable, "-m", "dhstat", "run"]
    if args.config:
        command.append(args.config)
    command += ["--output", str(outdir)]
    if not args.resume:
        command.append("--force")
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    forced = "all stages forced" if not args.resume else "up-to-date stages skipped"
    print("measured: `" + " ".join(command[2:]) + f"` ({forced})")
    print("machine:", machine())
    t0 = time.perf_counter()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        sampler = Sampler(proc.pid)
        sampler.start()
        stdout, stderr = proc.communicate()
        sampler.done.set()
        sampler.join()
    completed = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(completed.stdout)
    if completed.returncode != 0:
        print(completed.stderr[-3000:])
        print(f"dhstat run FAILED (exit {completed.returncode}) after {wall:.1f} s")
    record_path = outdir / "run.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        print(f"{'stage':<12}{'status':>9}{'wall [s]':>10}{'cpu [s]':>10}{'main peak [MB]':>16}")
        for stage in record["stages"]:
            print(
                f"{stage['name']:<12}{stage['status']:>9}{stage['wall_s']:10.1f}"
                f"{stage['cpu_s']:10.1f}{stage['peak_rss_mb']:16.0f}"
            )
        print(f"run status: {record['status']}, workers: {record['workers']}")
        print(f"largest worker peak RSS: {record['children_peak_rss_mb']:.0f} MB")
    peak_gb = usage.ru_maxrss / 1024.0 / 1024.0
    print(f"total wall time: {wall:.1f} s (goal <= 600 s): {'OK' if wall <= 600 else 'OVER'}")
    print(f"CPU time (user+sys, all processes): {usage.ru_utime + usage.ru_stime:.1f} s")
    print(f"peak RSS of the largest single process: {peak_gb:.2f} GB")
    total_gb = sampler.peak / 1024.0
    verdict = "OK" if total_gb <= 4 else "OVER"
    print(
        f"peak summed RSS of the process tree (sampled 2/s): {total_gb:.2f} GB (goal <= 4 GB): {verdict}"
    )
    print(f"outputs in {outdir}")
    return completed.returncode


def substituted(args: argparse.Namespace, outdir: Path) -> int:
    """Run the pipeline in this process with the simulate and/or windows stage replaced by
    precomputed files (to time the other stages at paper scale when those two are too slow)."""
    import shutil

    from dhstat import analysis, config, parallel, pipeline, report, rundir

    cfg = config.load(args.config)
    stages = list(analysis.analysis_stages())
    replaced = []

    def link_ntuples(cfg, inputs, out, executor, progress):  # noqa: ARG001
        folder = out / rundir.NTUPLES
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for path in Path(args.reuse_ntuples).glob("*.root"):
            os.link(path, folder / path.name)

    def copy_windows(cfg, inputs, out, executor, progress):  # noqa: ARG001
        shutil.copyfile(args.windows, out / rundir.WINDOWS)

    for index, stage in enumerate(stages):
        if stage.name == "simulate" and args.reuse_ntuples:
            stages[index] = pipeline.Stage(stage.name, link_ntuples, outputs=stage.outputs)
            replaced.append(f"simulate <- {args.reuse_ntuples}")
        if stage.name == "windows" and args.windows:
            stages[index] = pipeline.Stage(
                stage.name, copy_windows, inputs=stage.inputs, outputs=stage.outputs
            )
            replaced.append(f"windows <- {args.windows}")
    mode = "up-to-date stages skipped" if args.resume else "all stages forced"
    print(f"measured: the pipeline in-process, {mode}; REPLACED: " + "; ".join(replaced))
    print("machine:", machine())
    workers = args.workers if args.workers is not None else 0

    sampler = Sampler(os.getpid())
    sampler.start()
    t0 = time.perf_counter()
    result = pipeline.run(
        cfg,
        outdir,
        stages,
        force=not args.resume,
        open_executor=lambda: parallel.executor(workers=workers),
        on_stage=lambda name, event: print(f"[{name}] {event}", flush=True),
    )
    wall = time.perf_counter() - t0
    sampler.done.set()
    sampler.join()
    print(report.format_timings(result))
    print(report.format_summary(report.summarize(outdir, report.ReportSettings.from_config(cfg))))
    print(f"total wall time of the stages run: {wall:.1f} s")
    print(f"peak summed RSS of the process tree (sampled 2/s): {sampler.peak / 1024:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
