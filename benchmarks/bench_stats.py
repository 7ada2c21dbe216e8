"""Benchmark of the stats scan on ~9000 realistic single-bin windows vs pyhf's CLs upper limit.

Measures, in one process:
  * the full scan of all windows (hybrid p and Z, Bayes factor, flat and log upper limits, expected
    flat limits and Z, CLs limits observed and expected) with the
    vectorised window path (stats.scan.scan), total and per window;
  * the same scan at a tenfold tighter quadrature tolerance: its cost and how much the results move;
  * pyhf.infer.intervals.upper_limits.toms748_scan (CLs, asymptotic, 90 %) on N_PYHF of the same
    windows, time per window;
  * the per-window speed-up, peak memory and the machine.

Windows are generated with dhstat.workspace.build (the real per-window workspace layout and the
paper's systematics rules): backgrounds mostly small (< 3 events) and large near the kinematic
limit, efficiencies 10-25 % (1-10 % below M_A' = 4 GeV), MC statistical errors of a 50x MC sample.

Usage: python benchmarks/bench_stats.py [N_WINDOWS] [N_PYHF]
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time
import warnings
from typing import TYPE_CHECKING

import numpy as np
from _machine import machine

if TYPE_CHECKING:
    from dhstat.stats.scan import ScanResult


def realistic_specs(count: int, seed: int = 7) -> list[dict]:
    from dhstat import config, systematics, workspace

    cfg = config.load()
    rules = systematics.rules_from_config(cfg)
    rng = np.random.default_rng(seed)
    specs = []
    roots = 10.58
    for i in range(count):
        ma = rng.uniform(1.65, 10.4)
        mh = rng.uniform(0.0, min(ma, roots - ma - 0.05))
        near = ma + mh > roots - 1.2
        if rng.random() < 0.2 and not near:
            total = 0.0
        else:
            total = 10 ** rng.uniform(0.3, 3.0) if near else 10 ** rng.uniform(-3, 0.5)
        fractions = {"mumu": 0.785, "tautau": 0.185, "eemumu": 0.03}
        background = {
            k: (total * f, float(np.sqrt(0.02 * total * f))) for k, f in fractions.items()
        }
        eff = rng.uniform(0.1, 0.25) if ma > 4 else rng.uniform(0.01, 0.1)
        window = workspace.WindowInput(
            i,
            ma,
            mh,
            (1.0, 1.0),
            (0.1, 0.05),
            0.0,
            0.9,
            int(rng.poisson(total)),
            background,
            eff,
            float(np.sqrt(eff * (1 - eff) / 2000)),
        )
        specs.append(
            workspace.build(
                window, systematics.evaluate(rules, ma, mh), luminosity_fb=8.34, sigma_max=100.0
            )
        )
    return specs


def _deviations(result: ScanResult, reference: ScanResult) -> str:
    """Largest relative change of the limits and Bayes factors, and absolute change of Z."""
    fields = {
        "flat limits": lambda r: r.flat.upper_limit,
        "log-prior limits": lambda r: r.log_prior.upper_limit,
        "expected limits": lambda r: r.flat_expected,
        "B10": lambda r: r.bayes_factor,
    }
    parts = []
    for name, get in fields.items():
        a, b = np.asarray(get(result)), np.asarray(get(reference))
        ok = np.isfinite(a) & np.isfinite(b) & (b != 0)
        parts.append(f"{np.max(np.abs(a[ok] / b[ok] - 1.0)):.1e} ({name})")
    for name in ("z", "z_expected"):
        a, b = getattr(result, name), getattr(reference, name)
        ok = np.isfinite(a) & np.isfinite(b)
        parts.append(f"{np.max(np.abs(a[ok] - b[ok])):.1e} ({name}, absolute)")
    return ", ".join(parts)


def main() -> None:
    import pyhf

    from dhstat import config
    from dhstat.stats import scan
    from dhstat.stats.model import WindowSet

    n_windows = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    n_pyhf = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    print(f"machine: {machine()}")
    specs = realistic_specs(n_windows)
    settings = scan.ScanSettings.from_config(config.load()["stats"])

    start = time.perf_counter()
    windows = WindowSet.from_specs(specs)
    parsed = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    result = scan.scan(windows, settings=settings)
    elapsed = time.perf_counter() - start
    scan_cpu = (time.process_time() - cpu_start) / n_windows
    per_window = elapsed / n_windows
    nodes = sum(g.signal.size for g in result.windows.nodes())
    print(
        f"scan of {n_windows} windows (p, Z, B10, flat + log limits, sigma_max check, expected "
        f"flat limits and Z, CLs observed + expected): "
        f"{elapsed:.2f} s ({per_window * 1e3:.3f} ms/window), JSON parsing {parsed:.2f} s, "
        f"{nodes / n_windows:.0f} posterior nodes/window on average, 1 process"
    )

    # the same scan with the quadrature tolerance tightened tenfold: its cost and what it changes
    tight = dataclasses.replace(settings, quadrature_tolerance=settings.quadrature_tolerance / 10)
    cpu_start = time.process_time()
    reference = scan.scan(windows, settings=tight)
    tight_cpu = (time.process_time() - cpu_start) / n_windows
    print(
        f"same scan at quadrature tolerance {tight.quadrature_tolerance:g} (default "
        f"{settings.quadrature_tolerance:g}): {tight_cpu * 1e3:.3f} ms/window CPU "
        f"({tight_cpu / scan_cpu:.2f}x the default's); the default's results differ from it by "
        f"at most {_deviations(result, reference)}"
    )

    from dhstat.parallel import executor

    start = time.perf_counter()
    with executor(workers=2) as ex:
        parallel = scan.scan(windows, settings=settings, executor=ex)
    elapsed2 = time.perf_counter() - start
    same = np.array_equal(parallel.flat.upper_limit, result.flat.upper_limit, equal_nan=True)
    print(
        f"same scan with 2 worker processes: {elapsed2:.2f} s ({elapsed2 / n_windows * 1e3:.3f} "
        f"ms/window, pool start-up included); identical results: {same}"
    )
    per_window = min(per_window, elapsed2 / n_windows)

    rows = np.linspace(0, n_windows - 1, n_pyhf).astype(int)
    start, cpu_start = time.perf_counter(), time.process_time()
    limits = []
    failures = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in rows:
            # toms748 brackets beyond the POI bound: give pyhf a wide bound
            spec = json.loads(json.dumps(specs[i]))
            spec["measurements"][0]["config"]["parameters"][0]["bounds"] = [[0.0, 1e4]]
            ws = pyhf.Workspace(spec)
            model = ws.model()
            data = ws.data(model)
            try:
                # pyhf 0.7.6: upper_limit ignores level without a scan; toms748_scan takes it
                obs, _ = pyhf.infer.intervals.upper_limits.toms748_scan(
                    data, model, 0.1, 100.0, level=0.1
                )
                limits.append(float(obs))
            except ValueError:  # e.g. CLs undefined at POI = 0 for B = 0
                failures += 1
                limits.append(float("nan"))
    pyhf_per_window = (time.perf_counter() - start) / n_pyhf
    pyhf_cpu = (time.process_time() - cpu_start) / n_pyhf
    print(
        f"pyhf CLs upper_limit (asymptotic, 90 %): {pyhf_per_window * 1e3:.1f} ms/window "
        f"on {n_pyhf} windows ({failures} raised; their time is included)"
    )
    print(
        f"speed-up per window: {pyhf_per_window / per_window:.0f}x (goal >= 1000x); "
        f"projected 9000-window scan: {per_window * 9000:.1f} s (goal < 10 s on 2 cores)"
    )
    # CPU time of this process: less sensitive than wall time to other jobs on shared cores
    print(
        f"CPU time per window: scan {scan_cpu * 1e3:.3f} ms (1 process), pyhf {pyhf_cpu * 1e3:.1f} ms; "
        f"CPU-time speed-up {pyhf_cpu / scan_cpu:.0f}x; machine now: {machine()}"
    )
    ratio = np.array(limits) / result.flat.upper_limit[rows]
    print(
        f"for reference, CLs / Bayesian flat limit on these windows: median {np.nanmedian(ratio):.3f}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
