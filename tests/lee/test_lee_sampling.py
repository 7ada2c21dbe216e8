"""Negative-binomial cell counts with nuisances against exact distributions (dhstat.lee.sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from lee_helpers import PVALUE, max_z
from scipy import stats

from dhstat import lee


def test_nuisances_reproduce_the_prior_predictive_tail() -> None:
    """Identical windows with a 30 % common systematic and MC statistics: the toys' tail equals the
    prior-predictive p-value (negative binomial, Gauss-Hermite quadrature over theta)."""
    w, b, rel, mc = 5, 15.0, 0.3, 2.0
    cells = lee.CellInputs(
        np.array([b]), np.array([mc**2]), np.arange(w + 1), np.zeros(w, dtype=np.int64)
    )
    model = lee.build_toy_model(
        np.full(w, b),
        cells,
        pvalue=PVALUE,
        relative_windows=np.full((1, w), rel),
        batch_size=5000,
    )
    assert model.relative.tolist() == [[rel]]
    n_toys, z_obs = 20000, 2.0
    result = lee.global_significance(max_z(model, n_toys, seed=9), z_obs)
    # Count threshold of the (no-smearing) Z function used by the toys:
    n = np.arange(200)
    n_star = int(n[stats.norm.isf(stats.poisson.sf(n - 1, b)) >= z_obs][0])
    # MC statistics: Gamma(mean b, variance mc^2) -> negative binomial; theta by Gauss-Hermite.
    x, wgt = np.polynomial.hermite_e.hermegauss(80)
    wgt = wgt / wgt.sum()
    shape, scale = b**2 / mc**2, mc**2 / b * np.maximum(1 + rel * x, 1e-300)
    tail = stats.nbinom.sf(n_star - 1, shape, 1 / (1 + scale))
    reference = float((wgt * tail).sum())
    assert abs(result.p_global - reference) < 4 * np.sqrt(reference * (1 - reference) / n_toys)
    # Without the nuisances the tail is clearly smaller (the test can fail).
    assert stats.poisson.sf(n_star - 1, b) < reference - 10 * np.sqrt(reference / n_toys)


@pytest.mark.parametrize(("rel", "mc_stat"), [(0.3, True), (0.0, False), (0.0, True)])
def test_small_cells_give_the_exact_window_distribution(rel: float, mc_stat: bool) -> None:
    """Identical windows of 60 cells with small and large means (both generators of the toys):
    with a common MC-statistics scale s the window count is negative binomial NB(sum a_c, s f)
    given the systematic factor f = max(0, 1 + rel theta), integrated by Gauss-Hermite."""
    w, s = 5, 0.27
    cell_b = np.tile([0.02, 0.1, 0.4, 0.9, 2.5], 12)  # means below and above the direct-draw cut
    c = cell_b.size
    cells = lee.CellInputs(cell_b, cell_b * s, np.arange(0, w * c + 1, c), np.tile(np.arange(c), w))
    b = float(cell_b.sum())
    model = lee.build_toy_model(
        np.full(w, b),
        cells,
        pvalue=PVALUE,
        relative_windows=np.full((1, w), rel) if rel else None,
        mc_stat=mc_stat,
        batch_size=4000,
    )
    n_toys = 20000
    toys = max_z(model, n_toys, seed=13)
    x, wgt = np.polynomial.hermite_e.hermegauss(80)
    wgt = wgt / wgt.sum()
    f = np.maximum(1 + rel * x, 1e-300)
    for k in (int(b) - 3, int(b), int(b) + 6, int(b) + 14):
        z_k = float(stats.norm.isf(stats.poisson.sf(k - 1, b)))  # Z is increasing in n
        if mc_stat:
            tail = stats.nbinom.sf(k - 1, b / s, 1 / (1 + s * f))
        else:
            tail = stats.poisson.sf(k - 1, b * f)
        reference = float((wgt * tail).sum())
        observed = float(np.mean(toys >= z_k - 1e-9))
        sigma = np.sqrt(reference * (1 - reference) / n_toys)
        assert abs(observed - reference) < 4.5 * sigma + 1e-12, (k, observed, reference)
