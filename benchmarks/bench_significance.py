"""Benchmark of the toy hybrid p-value of multi-bin workspaces, against pyhf's asymptotic q0.

Measures, in one process, on synthetic models of N bins (N = 10, 50, 200; one channel, a signal
with a lumi uncertainty, a background with a staterror per bin and a free normalisation measured
in a one-bin control region):
  * dhstat's hybrid p-value by toys (dhstat.stats.hybrid.hybrid_pvalue, default settings: adaptive,
    5 % relative error), time, toys and the p-value with its Monte Carlo error;
  * pyhf's asymptotic discovery p-value (pyhf.infer.hypotest(0, ..., test_stat="q0")), time;
  * the deviation of dhstat's p-value from an independent numpy toy reference written here (the
    priors by hand, the free normalisation's closed-form Laplace posterior), in combined standard
    errors;
  * peak memory and the machine.

Usage: python benchmarks/bench_significance.py [N ...]
"""

from __future__ import annotations

import math
import resource
import sys
import time
import warnings

import numpy as np
from _machine import machine

LUMI = 0.02
CR_SCALE = 20.0


def model_spec(bins: int, seed: int = 3) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    signal = rng.uniform(0.2, 2.0, bins)
    background = rng.uniform(5.0, 40.0, bins)
    stat = 0.05 * background
    cr = CR_SCALE * background.sum()
    observed = rng.poisson(background).tolist()
    observed_cr = int(rng.poisson(cr))
    free = [{"name": "k", "type": "normfactor", "data": None}]
    spec = {
        "channels": [
            {
                "name": "SR",
                "samples": [
                    {
                        "name": "sig",
                        "data": signal.tolist(),
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {"name": "lumi", "type": "lumi", "data": None},
                        ],
                    },
                    {
                        "name": "bkg",
                        "data": background.tolist(),
                        "modifiers": [
                            *free,
                            {"name": "stat", "type": "staterror", "data": stat.tolist()},
                        ],
                    },
                ],
            },
            {"name": "CR", "samples": [{"name": "bkg", "data": [cr], "modifiers": free}]},
        ],
        "observations": [
            {"name": "SR", "data": observed},
            {"name": "CR", "data": [observed_cr]},
        ],
        "measurements": [
            {
                "name": "m",
                "config": {
                    "poi": "mu",
                    "parameters": [
                        {
                            "name": "lumi",
                            "auxdata": [1.0],
                            "sigmas": [LUMI],
                            "bounds": [[0.5, 1.5]],
                            "inits": [1.0],
                        }
                    ],
                },
            }
        ],
        "version": "1.0.0",
    }
    truth = {"s": signal, "b": background, "rel": stat / background, "cr": cr}
    return spec, truth


def reference(spec: dict, truth: dict, toys: int = 200_000) -> tuple[float, float]:
    """numpy toys: staterror N(1, rel) truncated at 0; k from its Poisson-Laplace posterior."""
    from scipy import optimize

    b, s, rel, cr = truth["b"], truth["s"], truth["rel"], truth["cr"]
    n_sr = np.array(spec["observations"][0]["data"], dtype=float)
    n_cr = float(spec["observations"][1]["data"][0])

    def nll(x: np.ndarray) -> float:  # k and the staterror gammas at POI = 0
        k, g = x[0], x[1:]
        nu = b * k * g
        return float(
            (nu - n_sr * np.log(nu)).sum()
            + (cr * k - n_cr * math.log(cr * k))
            + 0.5 * (((g - 1) / rel) ** 2).sum()
        )

    fit = optimize.minimize(
        nll, np.ones(b.size + 1), method="L-BFGS-B", bounds=[(1e-3, 10)] * (b.size + 1)
    )
    k, g = fit.x[0], fit.x[1:]
    nu = b * k * g  # Fisher information in (k, g)
    info = np.zeros((b.size + 1, b.size + 1))
    jac = np.column_stack([b * g, np.diag(b * k)])
    info += (jac / nu[:, None]).T @ jac
    info[0, 0] += cr**2 / (cr * k)
    info[1:, 1:] += np.diag(1 / rel**2)
    var_k = float(np.linalg.inv(info)[0, 0])
    b0 = b * k  # nominal: staterror at 1, k at the fit
    mu_ref = 3.0 * math.sqrt(b0.sum() + cr * k + 1.0) / s.sum()
    w = np.log1p(mu_ref * s / b0)
    rng = np.random.default_rng(1)
    t_obs = n_sr @ w
    count = 0
    for _ in range(toys // 10_000):
        kk = np.clip(k + math.sqrt(var_k) * rng.standard_normal(10_000), 0.0, 10.0)
        gg = 1 + rel * rng.standard_normal((10_000, b.size))
        while np.any(bad := gg <= 0):
            gg[bad] = (1 + rel * rng.standard_normal((10_000, b.size)))[bad]
        count += int((rng.poisson(b * kk[:, None] * gg) @ w >= t_obs - 1e-9).sum())
    p = count / toys
    return p, math.sqrt(p * (1 - p) / toys)


def main(sizes: list[int]) -> None:
    import pyhf

    from dhstat.stats.hybrid import hybrid_pvalue

    warnings.filterwarnings("ignore")
    print(machine())
    print(
        f"{'N':>5} {'dhstat s':>9} {'toys':>8} {'p':>10} {'+-':>8} {'pyhf q0 s':>10} {'ratio':>6} {'ref p':>10} {'dev/SE':>7}"
    )
    for n in sizes:
        spec, truth = model_spec(n)
        start = time.perf_counter()
        result = hybrid_pvalue(spec)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        ws = pyhf.Workspace(spec)
        model = ws.model()
        pyhf.infer.hypotest(0.0, ws.data(model), model, test_stat="q0")
        theirs = time.perf_counter() - start
        ref, ref_se = reference(spec, truth)
        dev = (result.p_value - ref) / math.hypot(ref_se, result.p_value_uncertainty)
        print(
            f"{n:>5} {ours:>9.2f} {result.n_toys:>8} {result.p_value:>10.4g} "
            f"{result.p_value_uncertainty:>8.2g} {theirs:>10.2f} {ours / theirs:>6.2f} "
            f"{ref:>10.4g} {dev:>7.2f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB; load after: {machine().split('load average ')[-1]}")


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or [10, 50, 200])
