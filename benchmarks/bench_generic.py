"""Benchmark: Bayesian limits of generic pyhf workspaces against pyhf's asymptotic CLs limit.

Part 1, side by side in one process on the same workspaces (pyhf's validation specs in
tests/data/pyhf, and a synthetic LHC-style likelihood with free normfactors and 63 parameters):
dhstat's 90 % Bayesian limit (model preparation included) against pyhf's asymptotic CLs
``upper_limit`` with an explicit 41-point scan (pyhf 0.7.6 ignores ``level`` without one).

Part 2, scaling: N bins each with a staterror plus 3 shared systematics (tests/stats/generic_models
``scaling_spec``), N = 10, 50, 100, 200. Exact reference in tests/stats/scaling_reference.py
(pyhf's expected_data only): the bins factorise given the shared parameters, so each bin's
staterror is integrated in 1-D (Gauss-Hermite), the two background systematics on a dense grid
over their posterior region, and the signal normsys (a factor on the signal only) by
Gauss-Hermite on the POI axis. Its own error, from doubling each resolution (N = 10): below
2e-5 in ln B10 and 1e-5 relative in the limit.

Goals: dhstat no slower than pyhf per workspace; <= 10 s for the >60-parameter likelihood; scaling
within 1 % and within the quoted error, <= 30 s at N = 200; peak memory <= 2 GB.

BLAS runs single-threaded (``OPENBLAS_NUM_THREADS=1``, set here before numpy loads, for both
libraries): on 2 cores shared by several processes OpenBLAS's spinning threads make a 200 x 200
solve take 0.1 s instead of 1 ms. Run: ``python benchmarks/bench_generic.py [--quick]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyhf
from _machine import machine

from dhstat.stats import generic, generic_bayes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stats"))
from generic_models import lhc_like_spec, scaling_spec
from scaling_reference import ScalingReference

DATA = ROOT / "tests" / "data" / "pyhf"
SCAN_POINTS = 41


def _dhstat(spec: dict[str, Any]) -> tuple[float, float, float, generic_bayes.UpperLimit]:
    start = time.perf_counter()
    model = generic.GenericModel.from_spec(spec)
    result = generic_bayes.upper_limit(model)
    return time.perf_counter() - start, result.upper_limit, result.numerical_uncertainty, result


def _pyhf(spec: dict[str, Any], top: float) -> tuple[float, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace = pyhf.Workspace(spec)
        model = workspace.model()
        data = workspace.data(model)
        scan = np.linspace(0.0, top, SCAN_POINTS)
        observed, _ = pyhf.infer.intervals.upper_limits.upper_limit(data, model, scan, level=0.1)
    return time.perf_counter() - start, float(observed)


def side_by_side() -> None:
    cases = {path.stem: json.loads(path.read_text()) for path in sorted(DATA.glob("*.json"))}
    cases["lhc_like (63 par.)"] = lhc_like_spec()
    print(
        f"{'workspace':36s} {'dhstat s':>9s} {'pyhf s':>8s} {'ratio':>6s}  "
        f"{'Bayes 90%':>10s} {'+-':>8s} {'ESS':>6s} {'CLs 90%':>8s}"
    )
    for name, spec in cases.items():
        t_dh, limit, error, result = _dhstat(spec)
        top = min(float(result.sigma_max), 4.0 * limit)
        t_py, cls = _pyhf(spec, top)
        ess = f"{result.effective_sample_size:.0f}" if result.effective_sample_size else "-"
        print(
            f"{name:36s} {t_dh:9.2f} {t_py:8.2f} {t_dh / t_py:6.2f}  {limit:10.4f} "
            f"{error:8.4f} {ess:>6s} {cls:8.4f}",
            flush=True,
        )


def scaling(sizes: tuple[int, ...]) -> None:
    print(
        f"\n{'N bins':>6s} {'params':>6s} {'dhstat s':>9s} {'cpu s':>6s} {'limit':>9s} {'+-':>8s} "
        f"{'exact':>9s} {'dev %':>7s} {'dev/SE':>7s} | {'lnB10':>8s} {'+-':>7s} "
        f"{'exact':>8s} {'dev/SE':>7s} {'ref s':>6s}"
    )
    runs = []
    for n in sizes:  # dhstat first, so the peak memory before the references is dhstat's own
        spec = scaling_spec(n)
        start, cpu = time.perf_counter(), time.process_time()
        model = generic.GenericModel.from_spec(spec)
        result = generic_bayes.upper_limit(model)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu  # this process's CPU time: less sensitive to the load
        log_b, log_b_error = generic_bayes.log_bayes_factor(model)
        runs.append((n, spec, len(model.priors) + 1, elapsed, cpu, result, log_b, log_b_error))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for n, spec, count, elapsed, cpu, result, log_b, log_b_error in runs:
        start = time.perf_counter()
        ref_limit, ref_log_b = ScalingReference(spec).solve()
        ref_time = time.perf_counter() - start
        dev = result.upper_limit / ref_limit - 1.0
        print(
            f"{n:6d} {count:6d} {elapsed:9.2f} {cpu:6.2f} {result.upper_limit:9.4f} "
            f"{result.numerical_uncertainty:8.4f} {ref_limit:9.4f} {100 * dev:7.3f} "
            f"{(result.upper_limit - ref_limit) / result.numerical_uncertainty:7.2f} | "
            f"{log_b:8.4f} {log_b_error:7.4f} {ref_log_b:8.4f} "
            f"{(log_b - ref_log_b) / log_b_error:7.2f} {ref_time:6.1f}",
            flush=True,
        )
    print(f"peak memory (max RSS) of everything before the exact references: {peak:.0f} MB")


def main() -> None:
    quick = "--quick" in sys.argv
    print(machine())
    print(
        f"pyhf {pyhf.__version__}, numpy {np.__version__}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}\n"
    )
    if "--scaling-only" not in sys.argv:
        side_by_side()
    scaling((10, 50) if quick else (10, 50, 100, 200))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS) with the references: {peak:.0f} MB")
    print(machine())


if __name__ == "__main__":
    main()
