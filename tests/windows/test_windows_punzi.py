"""Tests of dhstat.windows.punzi: the Punzi C_eta cut."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dhstat import windows


def test_punzi_optimum_of_constructed_case() -> None:
    # eps(c) = c, B(c) = B0 c^4: d/dc [c / (a/2 + sqrt(B0) c^2)] = 0 at c^2 = a / (2 sqrt(B0))
    a, b0 = 3.0, 100.0
    cuts = np.linspace(0.0, 1.0, 1001)
    eff = cuts[None, :]
    bkg = b0 * cuts[None, :] ** 4
    index, cut = windows.punzi_cuts(eff, bkg, cuts, a=a)
    assert float(cut[0]) == pytest.approx(math.sqrt(a / (2 * math.sqrt(b0))), abs=1e-3)
    assert cuts[index[0]] == cut[0]
    # without background the loosest cut wins
    _, loose = windows.punzi_cuts(eff, 0 * bkg, cuts, a=a)
    assert float(loose[0]) == 1.0
