"""The Gross-Vitells extrapolation against toys (dhstat.lee.grossvitells)."""

from __future__ import annotations

import numpy as np
from lee_helpers import PVALUE, chain_cells

from dhstat import lee


def test_gross_vitells_agrees_with_toys_on_a_chain() -> None:
    """1-D chain of 100 windows of 10 cells (step 1 cell, 90 % overlap), smooth background."""
    cells, b = chain_cells(n_windows=100, width=10, cell_mean=40.0)
    model = lee.build_toy_model(
        b,
        cells,
        pvalue=PVALUE,
        centres=np.arange(100.0),
        thresholds=(0.5, 1.0, 1.5, 2.0),
        gv_toys=1000,
        batch_size=1000,
    )
    n_toys = 20000
    results = lee.run_toys(model, n_toys=n_toys, seed=21)
    merged = lee.summarise(
        results,
        n_toys=n_toys,
        batch_size=1000,
        z_local=0.0,
        window=0,
        thresholds=model.thresholds,
    )
    euler = np.concatenate([results[i].euler for i in sorted(results)])
    assert euler.shape == (1000, 4)
    for z in (3.0, 3.5):
        toys = lee.global_significance(merged.max_z, z)
        gv = lee.fit_gross_vitells(model.thresholds, euler, z)
        assert 0.005 < toys.p_global < 0.2  # moderate thresholds, far from the single-window p
        tolerance = 3 * np.hypot(toys.p_global_error, gv.p_global_error)
        assert abs(gv.p_global - toys.p_global) < tolerance, (z, gv.p_global, toys.p_global)


def test_gross_vitells_p_is_a_bound_clipped_to_the_unit_interval() -> None:
    """At a low threshold E[phi(A_u)] exceeds 1: the reported p is clipped, the raw value kept."""
    thresholds = (0.5, 1.0, 1.5, 2.0)
    n1, n2 = 30.0, 12.0
    mean = lee.expected_euler(np.asarray(thresholds), n1, n2)
    euler = np.repeat(np.rint(mean)[None, :], 4, axis=0).astype(np.int64)
    for z_obs in (0.3, 1.0, 5.0):
        gv = lee.fit_gross_vitells(thresholds, euler, z_obs)
        assert 0.0 <= gv.p_global <= 1.0
        assert gv.p_global == min(1.0, max(0.0, gv.expected_euler))
        document = gv.to_dict()
        assert "upper bound" in document["bound"]
        if gv.expected_euler >= 1.0:
            assert gv.p_global == 1.0
            assert gv.z_global == 0.0
    assert lee.fit_gross_vitells(thresholds, euler, 0.3).expected_euler > 1.5
