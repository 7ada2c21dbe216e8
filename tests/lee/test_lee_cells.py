"""Validation of the cell inputs (dhstat.lee.cells)."""

from __future__ import annotations

import numpy as np
import pytest

from dhstat import lee
from dhstat.errors import InputError


def test_bad_cells_are_input_errors() -> None:
    bad = lee.CellInputs(np.array([1.0, -1.0]), np.zeros(2), np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(InputError, match=r"cells\.background"):
        bad.check("counts.json")
    bad = lee.CellInputs(np.ones(2), np.zeros(2), np.array([0, 1, 2]), np.array([0, 5]))
    with pytest.raises(InputError, match=r"cells\.indices"):
        bad.check("counts.json")
