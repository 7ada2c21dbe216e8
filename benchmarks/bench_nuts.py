"""Benchmark: the NUTS limit against the existing engine and pyhf's asymptotic CLs limit.

On the scaling model (N bins, each with a staterror, plus 3 shared systematics:
tests/stats/generic_models ``scaling_spec``) at N = 10, 50, 200 and on the 63-parameter LHC-like
likelihood with free normfactors (``lhc_like_spec``), in one process, per workspace:

* dhstat's 90 % Bayesian limit with ``--sampler nuts`` (:func:`dhstat.stats.nuts.nuts_upper_limit`,
  default settings: 4 chains x 1000 draws after 500 warm-up iterations; the time includes building
  the jax model and compiling the sampler, which is most of it for small models), its Monte Carlo
  error and diagnostics;
* the existing engine (:func:`dhstat.stats.generic_bayes.upper_limit`, model preparation included);
* pyhf's asymptotic CLs ``upper_limit`` with an explicit 41-point scan (bench_generic's ``_pyhf``);
* with ``--reference``, the exact factorised limit of the scaling model
  (tests/stats/scaling_reference.py), and the deviations of both Bayesian limits in units of their quoted errors.

The machine and its load average are printed before and after (benchmarks/_machine.py): the
timings are those of 2 cores shared with other processes. Run:
``python benchmarks/bench_nuts.py [--quick] [--reference] [--only TEXT] [--no-pyhf]`` (``--quick``:
N = 10 and 50 only; ``--only``: the cases whose name contains TEXT; ``--no-pyhf``: skip pyhf's
scan, which takes 10 min and more at N >= 50 on a busy machine).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyhf
from _machine import machine
from bench_generic import _pyhf

from dhstat.stats import generic, generic_bayes, nuts

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stats"))
from generic_models import lhc_like_spec, scaling_spec
from scaling_reference import ScalingReference


def _engine(spec: dict[str, Any]) -> tuple[float, generic_bayes.UpperLimit]:
    start = time.perf_counter()
    result = generic_bayes.upper_limit(generic.GenericModel.from_spec(spec))
    return time.perf_counter() - start, result


def _nuts(spec: dict[str, Any]) -> tuple[float, nuts.NutsLimit]:
    start = time.perf_counter()
    result = nuts.nuts_upper_limit(spec)
    return time.perf_counter() - start, result


def main() -> None:
    quick = "--quick" in sys.argv
    reference = "--reference" in sys.argv
    print(machine())
    print(f"pyhf {pyhf.__version__}, numpy {np.__version__}\n")
    cases: dict[str, dict[str, Any]] = {
        f"scaling N={n}": scaling_spec(n) for n in ((10, 50) if quick else (10, 50, 200))
    }
    if not quick:
        cases["lhc_like (63 par.)"] = lhc_like_spec()
    if "--only" in sys.argv:  # --only TEXT: the cases whose name contains TEXT
        text = sys.argv[sys.argv.index("--only") + 1]
        cases = {name: spec for name, spec in cases.items() if text in name}
    print(
        f"{'workspace':20s} {'par':>4s} | {'NUTS s':>7s} {'limit':>8s} {'+-':>7s} {'R-hat':>6s} "
        f"{'ESS':>6s} {'div':>4s} | {'engine s':>8s} {'limit':>8s} {'+-':>7s} | {'pyhf s':>7s} "
        f"{'CLs':>7s} | {'NUTS/eng':>8s} {'NUTS/pyhf':>9s}"
    )
    for name, spec in cases.items():
        t_nuts, found = _nuts(spec)
        t_engine, engine = _engine(spec)
        top = min(float(engine.sigma_max), 4.0 * engine.upper_limit)
        t_pyhf, cls = _pyhf(spec, top) if "--no-pyhf" not in sys.argv else (math.nan, math.nan)
        print(
            f"{name:20s} {found.n_parameters:4d} | {t_nuts:7.1f} {found.upper_limit:8.4f} "
            f"{found.numerical_uncertainty:7.4f} {found.rhat:6.3f} {found.ess_limit:6.0f} "
            f"{found.divergences:4d} | {t_engine:8.1f} {engine.upper_limit:8.4f} "
            f"{engine.numerical_uncertainty:7.4f} | {t_pyhf:7.1f} {cls:7.4f} | "
            f"{t_nuts / t_engine:8.2f} {t_nuts / t_pyhf:9.2f}",
            flush=True,
        )
        if found.problems:
            print(f"    NUTS diagnostics failed: {'; '.join(found.problems)}")
        if reference and name.startswith("scaling"):
            exact, _ = ScalingReference(spec).solve()
            for label, value, error in (
                ("NUTS", found.upper_limit, found.numerical_uncertainty),
                ("engine", engine.upper_limit, engine.numerical_uncertainty),
            ):
                print(
                    f"    exact {exact:.4f}: {label} {100 * (value / exact - 1):+.2f} % "
                    f"= {(value - exact) / error:+.2f} quoted errors"
                )
    print(machine())


if __name__ == "__main__":
    main()
