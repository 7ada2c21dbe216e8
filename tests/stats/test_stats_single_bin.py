"""The single-bin log-prior kernels: closed-form series and numeric quadrature agree."""

from __future__ import annotations

import numpy as np
import pytest

from dhstat.stats import single_bin


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
