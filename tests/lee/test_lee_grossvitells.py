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
