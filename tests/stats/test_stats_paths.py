"""The vectorised window path and the generic pyhf path give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from dhstat.stats import bayes, generic, significance
from dhstat.stats.model import WindowSet, window_spec


def test_vectorised_path_equals_generic_path_on_random_windows() -> None:
    rng = np.random.default_rng(11)
    specs = []
    for _ in range(3):
        b = float(10 ** rng.uniform(-1.5, 1.0))
        s = float(rng.uniform(0.5, 2.0))
        specs.append(
            window_spec(
                n=int(rng.poisson(b)),
                signal=s,
                backgrounds={"mumu": 0.8 * b, "tautau": 0.2 * b},
                signal_shifts={
                    "syst_detector": 0.02 * s,
                    "syst_mass_resolution": 0.024 * s,
                    "mcstat_signal": 0.04 * s,
                },
                background_shifts={
                    "mumu": {"syst_detector": 0.016 * b, "syst_ceta": 0.008 * b},
                    "tautau": {"syst_detector": 0.004 * b, "syst_ceta": 0.002 * b},
                },
                stat_errors={"mumu": 0.15 * b, "tautau": 0.05 * b},
            )
        )
    ws = WindowSet.from_specs(specs).with_quadrature(1e-10, 24)
    settings = generic.Settings(quadrature_tolerance=1e-10)
    p = significance.hybrid_pvalue(ws, ws.n[:, None])[:, 0]
    bf = bayes.window_bayes_factors(ws)
    flat = bayes.window_upper_limits(ws).upper_limit
    logl = bayes.window_upper_limits(ws, prior="log").upper_limit
    for i, spec in enumerate(specs):
        model = generic.GenericModel.from_spec(spec)
        sig = significance.significance(model, settings=settings)
        assert sig.p_value == pytest.approx(p[i], rel=1e-6)
        assert sig.bayes_factor == pytest.approx(bf[i], rel=1e-6)
        assert bayes.upper_limit(model, settings=settings).upper_limit == pytest.approx(
            flat[i], rel=1e-6
        )
        assert bayes.upper_limit(model, prior="log", settings=settings).upper_limit == (
            pytest.approx(logl[i], rel=1e-6)
        )
