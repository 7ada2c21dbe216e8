"""The toy model's Z lookup and the observed maximum (dhstat.lee.model)."""

from __future__ import annotations

import numpy as np
import pytest
from lee_helpers import PVALUE, disjoint_cells
from scipy import stats

from dhstat import lee
from dhstat.errors import InputError


def test_counts_outside_the_tables_are_computed_on_the_fly() -> None:
    b = np.array([1.0, 30.0])
    model = lee.build_toy_model(b, disjoint_cells(b), pvalue=PVALUE, table_sigmas=0.5)
    n = np.array([[0, 3, 40], [1, 50, 2]])
    assert np.any(n > model.ztable.n_max[:, None])
    assert np.any(n < model.ztable.n_min[:, None])
    expected = np.clip(stats.norm.isf(stats.poisson.sf(n - 1, b[:, None])), -lee.Z_CAP, lee.Z_CAP)
    np.testing.assert_array_equal(model.lookup(n), expected)
    # Below a table the true Z is <= the floor (1 = sqrt(lowest threshold)); the fast lookup
    # marks it, and each table starts at or below the floor.
    fast = model.lookup(n, exact=False)
    below = n < model.ztable.n_min[:, None]
    assert np.all(fast[below] == lee.Z_BELOW)
    assert np.all(expected[below] <= 1.0)
    first = model.ztable.values[model.ztable.offsets[:-1]]
    assert np.all(first[model.ztable.n_min > 0] <= 1.0)
    np.testing.assert_array_equal(fast[~below], expected[~below])


def test_observed_max_uses_the_toy_tables() -> None:
    b = np.array([5.0, 9.0, 3.0])
    model = lee.build_toy_model(b, disjoint_cells(b), pvalue=PVALUE)
    z, window = lee.observed_max(model, np.array([8, 16, 4]))
    ref = stats.norm.isf(stats.poisson.sf(np.array([8, 16, 4]) - 1, b))
    assert window == int(np.argmax(ref))
    assert z == pytest.approx(ref.max(), rel=1e-12)
    with pytest.raises(InputError, match="n_observed"):
        lee.observed_max(model, np.array([1, 2]))
