"""Benchmark of dhstat.interpretation at paper scale (9003 windows).

Measures: coupling limits (stats engine, flat + log prior, with and without the B(A'->mumu)
modifier), the ISR-inclusive unit cross section (vectorised Gauss-Legendre vs scipy.quad per window
as the baseline), the interpolated 300 x 300 limit map, and a reinterpretation of 200 model points.
"""

from __future__ import annotations

import math
import resource
import time

import numpy as np
from _machine import machine
from scipy.integrate import quad

from dhstat import config, interpretation
from dhstat.physics.constants import ALPHA, ELECTRON_MASS
from dhstat.stats.model import WindowSet, window_spec


def window_set(n: int, rng: np.random.Generator) -> tuple[WindowSet, np.ndarray, np.ndarray]:
    ma = rng.uniform(1.7, 10.3, n)
    mh = rng.uniform(0.0, 1.0, n) * np.minimum(ma, 10.5 - ma)
    specs = []
    for _ in range(n):
        b = float(rng.uniform(0.5, 30.0))
        s = float(rng.uniform(0.5, 2.0))
        specs.append(
            window_spec(
                n=int(rng.poisson(b)), signal=s, backgrounds={"mumu": 0.8 * b, "tautau": 0.2 * b},
                signal_shifts={"syst_detector": 0.02 * s, "syst_mass_resolution": 0.024 * s,
                               "syst_window_offset": 0.02 * s, "mcstat_signal": 0.03 * s},
                background_shifts={"mumu": {"syst_detector": 0.016 * b, "syst_ceta": 0.008 * b},
                                   "tautau": {"syst_detector": 0.004 * b, "syst_ceta": 0.002 * b}},
                stat_errors={"mumu": 0.02 * b, "tautau": 0.01 * b},
            )
        )  # fmt: skip
    return WindowSet.from_specs(specs, ids=[str(i) for i in range(n)]), ma, mh


def main() -> None:
    rng = np.random.default_rng(1)
    cfg = config.load()
    settings = interpretation.InterpretationSettings.from_config(cfg)
    n = 9003
    print(f"machine: {machine()}")
    t = time.perf_counter()
    ws, ma, mh = window_set(n, rng)
    print(f"synthetic window model, {n} windows: {time.perf_counter() - t:.2f} s")
    inputs = interpretation.ScanInputs(ws, np.arange(n), ma, mh, 0.9, 0.1)
    t = time.perf_counter()
    limits = interpretation.coupling_limits(inputs, settings, priors=("flat",))
    total = time.perf_counter() - t
    print(f"coupling_limits ({n} windows, flat prior, with and without B modifier): {total:.2f} s")
    small = interpretation.ScanInputs(
        ws.subset(range(300)), np.arange(300), ma[:300], mh[:300], 0.9, 0.1
    )
    t = time.perf_counter()
    interpretation.coupling_limits(small, settings, priors=("log",))
    total = time.perf_counter() - t
    print(f"coupling_limits (300 windows, log prior, with and without B modifier): {total:.2f} s")
    ratio = limits.sigma_ul_br["flat"] / limits.sigma_ul["flat"]
    print(f"  effect of the 4 % B uncertainty on sigma limits: median {np.median(ratio) - 1:.2e}, "
          f"max {np.nanmax(ratio) - 1:.2e}")  # fmt: skip
    t = time.perf_counter()
    doc = interpretation.couplings_document(limits, settings)
    print(f"couplings_document: {time.perf_counter() - t:.2f} s ({len(doc['windows'])} rows)")

    roots = settings.beams.sqrt_s
    t = time.perf_counter()
    interpretation.isr_unit_cross_section(ma, mh, sqrt_s=roots)
    vectorised = (time.perf_counter() - t) / n
    s = roots**2
    beta = 2 * ALPHA / math.pi * (math.log(s / ELECTRON_MASS**2) - 1)
    t = time.perf_counter()
    for a, h in zip(ma[:30], mh[:30], strict=True):
        x_max = 1 - (a + h) ** 2 / s

        def born(x: float, a: float = a, h: float = h) -> float:
            return float(
                interpretation.born_unit_cross_section(a, h, sqrt_s=math.sqrt(s * (1 - x)))
            )

        quad(lambda u, born=born: born(u ** (1 / beta)), 0, x_max**beta, limit=200)
        quad(lambda x, born=born: (1 - x / 2) * born(x), 0, x_max, limit=200)
    baseline = (time.perf_counter() - t) / 30
    print(f"ISR unit cross section: vectorised {1e6 * vectorised:.1f} us/window, scipy.quad "
          f"baseline {1e6 * baseline:.0f} us/window, speed-up x{baseline / vectorised:.0f}")  # fmt: skip

    axis_a = np.linspace(ma.min(), ma.max(), 300)
    axis_h = np.linspace(mh.min(), mh.max(), 300)
    t = time.perf_counter()
    interpretation.interpolate_limits(ma, mh, limits.sigma_ul["flat"], axis_a, axis_h, sqrt_s=roots)
    print(f"interpolate_limits 300 x 300 from {n} centres: {time.perf_counter() - t:.2f} s")

    points = []
    for k in range(200):
        windows = rng.choice(n, 6, replace=False)
        eff = rng.uniform(0.01, 0.25, 6)
        points.append(interpretation.ModelPoint(f"p{k}", {}, windows, eff, 0.03 * eff))
    t = time.perf_counter()
    interpretation.reinterpret(ws, points, luminosity_fb=8.34)
    print(f"reinterpret 200 model points x <= 6 candidate windows: {time.perf_counter() - t:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (this process): {peak:.0f} MB")


if __name__ == "__main__":
    main()
