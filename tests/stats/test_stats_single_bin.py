"""The single-bin kernels: the log-prior series and numeric quadrature agree; the panel rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dhstat.stats import nodes, single_bin


@pytest.mark.parametrize(
    ("n", "b", "s"),
    [(400, 390.0, 1.1), (3, 2.0, 1.5), (10, 5.0, 0.2), (0, 0.3, 2.0), (25, 4.0, 1.0)],
)
def test_log_prior_series_and_numeric_paths_agree(n: int, b: float, s: float) -> None:
    x = np.array([float(n)])
    sig, bkg, w = np.array([[s, 1.05 * s]]), np.array([[b, 0.9 * b]]), np.array([[0.6, 0.4]])
    smin, smax = np.array([0.5]), np.array([100.0])
    numeric = single_bin._log_limit_numeric(x, sig, bkg, w, 0.9, smin, smax)
    series = single_bin._log_limit_series(x, sig, bkg, w, 0.9, smin, smax)
    assert numeric[0] == pytest.approx(series[0], rel=1e-7)


@pytest.mark.parametrize(("bound", "grading"), [(-2.2, 0), (-1.0, 3), (0.5, 6), (-40.0, 0)])
def test_panel_rule_moments_of_the_truncated_normal(bound: float, grading: int) -> None:
    """The panel rule of the node planning against scipy's truncated normal moments."""
    z, w = nodes.panel_rule(8, np.array([bound]), 1e-8, grading)
    assert z.shape == (1, nodes._panel_order(1e-8) * (8 + grading))
    assert bool((z > bound).all())
    reference = stats.truncnorm(max(bound, -50.0), np.inf)
    for k in (1, 2, 3, 4):
        assert float((w[0] * z[0] ** k).sum()) == pytest.approx(reference.moment(k), rel=1e-8)
    # an integrand with a kink near the bound (the 1/S of the posterior's signal integral)
    if grading:
        kink = 1e-3

        def f(x: np.ndarray) -> np.ndarray:
            return -np.expm1(-(x - bound) / kink) / np.maximum(x - bound, 1e-300)

        value = float((w[0] * f(z[0])).sum())
        exact = reference.expect(lambda x: f(np.array([x]))[0], epsabs=0, epsrel=1e-11, limit=200)
        assert value == pytest.approx(exact, rel=1e-5)
