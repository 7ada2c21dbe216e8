"""Limits of generic workspaces: log prior against a direct integral; multi-bin Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from dhstat.stats import bayes, generic
from dhstat.stats.model import window_spec


def test_log_prior_without_uncertainty_matches_direct_integral() -> None:
    n, b, s, smin, smax, cl = 4, 1.5, 1.2, 0.5, 100.0, 0.9
    spec = window_spec(n=n, signal=s, backgrounds={"b": b}, sigma_max=smax)

    def density(x: float) -> float:
        return float(stats.poisson.pmf(n, b + s * x) / x)

    total = quad_log(density, smin, smax)
    ref = optimize.brentq(lambda u: quad_log(density, smin, u) - cl * total, smin, smax)
    result = bayes.upper_limit(spec, prior="log", sigma_min=smin)
    assert result.upper_limit == pytest.approx(ref, rel=1e-6)
    assert result.sigma_min == smin


def quad_log(density: object, lo: float, hi: float) -> float:
    from scipy import integrate

    value, _ = integrate.quad(
        lambda t: density(math.exp(t)) * math.exp(t),  # type: ignore[operator]
        math.log(lo),
        math.log(hi),
        epsabs=0,
        epsrel=1e-12,
        limit=200,
    )
    return float(value)


def test_multibin_multichannel_monte_carlo_reports_uncertainty() -> None:
    channels, observations = [], []
    rng = np.random.default_rng(5)
    for c in range(2):
        bins = 4
        sig = list(rng.uniform(0.2, 1.0, bins))
        bkg = list(rng.uniform(2.0, 6.0, bins))
        obs = [int(v) for v in rng.poisson(bkg)]
        channels.append(
            {
                "name": f"ch{c}",
                "samples": [
                    {
                        "name": "signal",
                        "data": sig,
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {"name": "lumi", "type": "lumi", "data": None},
                            {
                                "name": f"sig_norm{c}",
                                "type": "normsys",
                                "data": {"hi": 1.05, "lo": 0.95},
                            },
                        ],
                    },
                    {
                        "name": "bkg",
                        "data": bkg,
                        "modifiers": [
                            {
                                "name": f"stat{c}",
                                "type": "staterror",
                                "data": [0.03 * v for v in bkg],
                            },
                            {
                                "name": f"shape{c}",
                                "type": "shapesys",
                                "data": [0.02 * v for v in bkg],
                            },
                            {
                                "name": "bkg_norm",
                                "type": "normsys",
                                "data": {"hi": 1.02, "lo": 0.98},
                            },
                            {
                                "name": f"bkg_shape{c}",
                                "type": "histosys",
                                "data": {
                                    "hi_data": [1.01 * v for v in bkg],
                                    "lo_data": [0.99 * v for v in bkg],
                                },
                            },
                        ],
                    },
                ],
            }
        )
        observations.append({"name": f"ch{c}", "data": obs})
    spec = {
        "channels": channels,
        "observations": observations,
        "measurements": [
            {
                "name": "m",
                "config": {
                    "poi": "mu",
                    "parameters": [
                        {"name": "mu", "bounds": [[0.0, 50.0]]},
                        {
                            "name": "lumi",
                            "auxdata": [1.0],
                            "sigmas": [0.02],
                            "bounds": [[0.5, 1.5]],
                            "inits": [1.0],
                        },
                    ],
                },
            }
        ],
        "version": "1.0.0",
    }
    model = generic.GenericModel.from_spec(spec)
    assert len(model.priors) >= 20
    settings = generic.Settings(mc_samples=20_000, max_quadrature_points=1000)
    result = bayes.upper_limit(model, settings=settings)
    assert result.method == "importance-sampling"
    assert result.numerical_uncertainty > 0
    # reference: the small uncertainties barely matter; integrate the nominal likelihood (scipy)
    n = np.concatenate([o["data"] for o in observations]).astype(float)
    s = np.concatenate([ch["samples"][0]["data"] for ch in channels])
    b = np.concatenate([ch["samples"][1]["data"] for ch in channels])

    def like(x: float) -> float:
        return float(np.exp(stats.poisson.logpmf(n, b + s * x).sum()))

    from scipy import integrate

    total = integrate.quad(like, 0, 50, limit=200)[0]
    nominal = optimize.brentq(
        lambda u: integrate.quad(like, 0, u, limit=200)[0] - 0.9 * total, 1e-6, 50
    )
    assert result.upper_limit == pytest.approx(nominal, rel=0.05)
