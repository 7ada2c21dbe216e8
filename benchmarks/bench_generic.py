"""Benchmark: Bayesian limits of generic pyhf workspaces against pyhf's asymptotic CLs limit.

Part 1, side by side in one process on the same workspaces (pyhf's validation specs in
tests/data/pyhf, and a synthetic LHC-style likelihood with free normfactors and 63 parameters):
dhstat's 90 % Bayesian limit (model preparation included) against pyhf's asymptotic CLs
``upper_limit`` with an explicit 41-point scan (pyhf 0.7.6 ignores ``level`` without one).

Part 2, scaling: N bins each with a staterror plus 3 shared systematics (tests/stats/generic_models
``scaling_spec``), N = 10, 50, 100, 200. Exact reference written here (pyhf's expected_data only):
the bins factorise given the shared parameters, so each bin's staterror is integrated in 1-D
(Gauss-Hermite), the two background systematics on a dense grid over their posterior region, and
the signal normsys (a factor on the signal only) by Gauss-Hermite on the POI axis.

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
import math
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyhf
from _machine import machine
from scipy import special

from dhstat.stats import generic, generic_bayes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stats"))
from generic_models import lhc_like_spec, scaling_spec

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


class _Reference:
    """Exact limit and ln B10 of :func:`scaling_spec` (see the module docstring)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.workspace = pyhf.Workspace(spec)
        model = self.workspace.model()
        self.config = model.config
        self.n = np.asarray(self.workspace.data(model, include_auxdata=False), dtype=float)
        channel = spec["channels"][0]["samples"]
        self.delta = np.asarray(channel[1]["modifiers"][0]["data"]) / np.asarray(channel[1]["data"])
        self.gh_z, w = np.polynomial.hermite_e.hermegauss(12)
        self.gh_w = w / w.sum()

    def _pars(self, k: int) -> np.ndarray:
        return np.tile(np.asarray(self.config.suggested_init(), dtype=float), (k, 1))

    def _expected(self, pars: np.ndarray) -> np.ndarray:
        model = self.workspace.model(batch_size=pars.shape[0])
        return np.asarray(model.main_model.expected_data(pars), dtype=float)

    def background(self, norm: np.ndarray, shape: np.ndarray) -> np.ndarray:
        pars = self._pars(norm.size)
        pars[:, self.config.par_slice("bkg_norm")] = norm[:, None]
        pars[:, self.config.par_slice("bkg_shape")] = shape[:, None]
        pars[:, self.config.poi_index] = 0.0
        return self._expected(pars)

    def signal(self) -> tuple[np.ndarray, np.ndarray]:
        """Signal at POI 1 per Gauss-Hermite node of sig_eff (rows), background removed."""
        pars = self._pars(self.gh_z.size)
        pars[:, self.config.par_slice("sig_eff")] = self.gh_z[:, None]
        pars[:, self.config.poi_index] = 1.0
        with_signal = self._expected(pars)
        pars[:, self.config.poi_index] = 0.0
        return with_signal - self._expected(pars), self.gh_w

    def log_lb(self, sigma_s: np.ndarray, background: np.ndarray) -> np.ndarray:
        """ln prod_i int Pois(n_i | S_i + B_i g) N(g; 1, d_i) dg, for rows S (k, bins), B (k, bins)."""
        out = np.zeros((sigma_s.shape[0], background.shape[0]))
        g = 1.0 + self.delta[:, None] * self.gh_z[None, :]  # (bins, nodes)
        log_w = np.log(self.gh_w)
        for i in range(self.n.size):
            mu = sigma_s[:, None, i, None] + background[None, :, i, None] * g[i][None, None, :]
            term = special.xlogy(self.n[i], mu) - mu - special.gammaln(self.n[i] + 1)
            out += special.logsumexp(term + log_w, axis=-1)
        return out

    def solve(self, cl: float = 0.9) -> tuple[float, float]:
        sig, sig_w = self.signal()
        nominal = sig[sig_w.argmax()]
        # locate the background systematics' posterior (coarse grid), then a fine grid over it
        axis = np.linspace(-5, 5, 81)
        a, b = (m.ravel() for m in np.meshgrid(axis, axis, indexing="ij"))
        prior = -0.5 * (a * a + b * b)
        coarse = self.background(a, b)
        tops = np.array([0.0, 2.0, 4.0])
        ll = self.log_lb(tops[:, None] * nominal[None, :], coarse) + prior[None, :]
        keep = (ll >= ll.max(axis=1, keepdims=True) - 30).any(axis=0)
        step = axis[1] - axis[0]
        lo_a, hi_a = a[keep].min() - step, a[keep].max() + step
        lo_b, hi_b = b[keep].min() - step, b[keep].max() + step
        fa, fb = np.linspace(lo_a, hi_a, 41), np.linspace(lo_b, hi_b, 41)
        ga, gb = (m.ravel() for m in np.meshgrid(fa, fb, indexing="ij"))
        fine_b = self.background(ga, gb)
        prior = -0.5 * (ga * ga + gb * gb) + math.log((fa[1] - fa[0]) * (fb[1] - fb[0]))
        # the signal normsys scales the signal sample: L(sigma) = sum_k w_k Lb(kappa_k sigma)
        kappa = sig.sum(axis=1) / nominal.sum()
        smax = float(self.config.suggested_bounds()[self.config.poi_index][1])

        def log_lb(points: np.ndarray) -> np.ndarray:
            rows = points[:, None] * nominal[None, :]
            values = self.log_lb(rows, fine_b) + prior[None, :]
            return np.asarray(special.logsumexp(values, axis=1))

        coarse_sigma = np.linspace(0.0, smax, 81)
        coarse_m = log_lb(coarse_sigma)
        beyond = np.flatnonzero(coarse_m < coarse_m.max() - 40)
        beyond = beyond[coarse_sigma[beyond] > coarse_sigma[coarse_m.argmax()]]
        top = float(coarse_sigma[beyond[0]]) if beyond.size else smax
        grid = np.linspace(0.0, top * kappa.max(), 541)
        table = log_lb(grid)
        sigma = np.linspace(0.0, top, 2001)
        log_l = np.array([np.interp(k * sigma, grid, table) for k in kappa])
        log_m = special.logsumexp(log_l + np.log(sig_w)[:, None], axis=0)
        f = np.exp(log_m - log_m.max())
        if top < smax and f[-1] > 1e-14:
            message = "the reference's POI grid does not reach the posterior's tail"
            raise RuntimeError(message)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(sigma))])
        limit = float(np.interp(cl * cdf[-1], cdf, sigma))
        log_b = math.log(cdf[-1]) + log_m.max() - math.log(smax) - log_m[0]
        return limit, float(log_b)


def scaling(sizes: tuple[int, ...]) -> None:
    print(
        f"\n{'N bins':>6s} {'params':>6s} {'dhstat s':>9s} {'limit':>9s} {'+-':>8s} "
        f"{'exact':>9s} {'dev %':>7s} {'dev/SE':>7s} | {'lnB10':>8s} {'+-':>7s} "
        f"{'exact':>8s} {'dev/SE':>7s} {'ref s':>6s}"
    )
    runs = []
    for n in sizes:  # dhstat first, so the peak memory before the references is dhstat's own
        spec = scaling_spec(n)
        start = time.perf_counter()
        model = generic.GenericModel.from_spec(spec)
        result = generic_bayes.upper_limit(model)
        elapsed = time.perf_counter() - start
        log_b, log_b_error = generic_bayes.log_bayes_factor(model)
        runs.append((n, spec, len(model.priors) + 1, elapsed, result, log_b, log_b_error))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for n, spec, count, elapsed, result, log_b, log_b_error in runs:
        start = time.perf_counter()
        ref_limit, ref_log_b = _Reference(spec).solve()
        ref_time = time.perf_counter() - start
        dev = result.upper_limit / ref_limit - 1.0
        print(
            f"{n:6d} {count:6d} {elapsed:9.2f} {result.upper_limit:9.4f} "
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
