"""Tests of dhstat.windows.grid: the mass grid over the triangle."""

from __future__ import annotations

import numpy as np
import pytest

from dhstat import config, windows
from dhstat.physics.beams import Beams


def test_default_grid_covers_triangle_with_resolution_steps() -> None:
    cfg = config.load()
    g = windows.grid_points(windows.GridSettings.from_config(cfg))
    roots = Beams.from_config(cfg).sqrt_s
    assert np.all(g.mh < g.ma)
    assert np.all(g.ma + g.mh < roots)
    assert g.ma.min() == pytest.approx(0.21)
    assert g.ma.max() <= 10.45
    assert g.mh.min() == pytest.approx(0.01)
    # steps between rows = step_fraction_ma * sigma(M_mumu) of the lower row
    rows = np.unique(g.ma)
    gcfg = cfg["grid"]
    sig = np.hypot(gcfg["mumu_resolution_relative"] * rows, gcfg["mumu_resolution_constant_gev"])
    assert np.diff(rows) == pytest.approx(gcfg["step_fraction_ma"] * sig[:-1], rel=1e-9)
    # within a row: mh^2 steps = step_fraction_mh * sigma(M_recoil^2)
    row = g.ma == rows[len(rows) // 2]
    x = g.mh[row] ** 2
    expected = (
        gcfg["step_fraction_mh"]
        * windows.resolution(g.ma[row], g.mh[row], windows.GridSettings.from_config(cfg))[:, 0]
    )
    assert np.diff(x) == pytest.approx(expected[:-1], rel=1e-9)
    # inside the paper's range of sigma(M_mumu), 3-50 MeV
    assert 0.0029 < sig.min() < 0.004
    assert 0.02 < sig.max() < 0.05
    assert g.in_range.sum() == np.sum(g.ma >= gcfg["analysis_ma_min"])
