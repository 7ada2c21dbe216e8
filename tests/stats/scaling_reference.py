"""Exact limit and Bayes factor of :func:`generic_models.scaling_spec` (no dhstat code).

The N bins factorise given the shared parameters: each bin's staterror is integrated in 1-D
(Gauss-Hermite, ``nodes`` points), the two background systematics (``bkg_norm``, ``bkg_shape``) on
a dense grid over their posterior region, and the signal normsys (a factor on the signal sample
only) by Gauss-Hermite on the POI axis; pyhf's ``expected_data`` gives the rates. Used by
benchmarks/bench_generic.py and tests/stats/test_scaling_accuracy.py. Its own error (each
resolution doubled, N = 10): below 2e-5 in ln B10 and 1e-5 relative in the limit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyhf
from scipy import special

__all__ = ["ScalingReference"]


class ScalingReference:
    """Exact limit and ln B10 of :func:`scaling_spec` (see the module docstring)."""

    def __init__(self, spec: dict[str, Any], nodes: int = 12) -> None:
        self.spec = spec
        self.workspace = pyhf.Workspace(spec)
        model = self.workspace.model()
        self.config = model.config
        self.n = np.asarray(self.workspace.data(model, include_auxdata=False), dtype=float)
        channel = spec["channels"][0]["samples"]
        self.delta = np.asarray(channel[1]["modifiers"][0]["data"]) / np.asarray(channel[1]["data"])
        self.gh_z, w = np.polynomial.hermite_e.hermegauss(nodes)
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

    def solve(
        self, cl: float = 0.9, fine: int = 41, poi: int = 541, dense: int = 2001
    ) -> tuple[float, float]:
        """(limit, ln B10); ``fine``, ``poi``, ``dense``: the grids' sizes (resolution checks)."""
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
        fa, fb = np.linspace(lo_a, hi_a, fine), np.linspace(lo_b, hi_b, fine)
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
        grid = np.linspace(0.0, top * kappa.max(), poi)
        table = log_lb(grid)
        sigma = np.linspace(0.0, top, dense)
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
