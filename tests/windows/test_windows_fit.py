"""Tests of dhstat.windows.fit: the two-Gaussian ellipse fit and its gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dhstat import windows
from dhstat.windows.fit import _nll, _nll_grad


def test_fit_recovers_two_gaussian_parameters(rng: np.random.Generator) -> None:
    n = 20_000
    mu = np.array([3.0, 25.0])
    s_core, s_tail, rho, f = np.array([0.3, 0.05]), np.array([0.9, 0.12]), -0.7, 0.65
    core = rng.random(n) < f
    sig = np.where(core[:, None], s_core, s_tail)
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + math.sqrt(1 - rho * rho) * rng.standard_normal(n)
    x = mu[0] + sig[:, 0] * z1
    y = mu[1] + sig[:, 1] * z2
    fit, cov = windows.fit_ellipse(x, y, contour="mixture")
    assert fit["fit_status"] == "ok"
    assert fit["center"] == pytest.approx(mu, abs=0.02)
    assert fit["sigma_core"] == pytest.approx(s_core, rel=0.05)
    assert fit["sigma_tail"] == pytest.approx(s_tail, rel=0.05)
    assert fit["rho"] == pytest.approx(rho, abs=0.02)
    assert fit["core_fraction"] == pytest.approx(f, abs=0.04)
    c1 = np.outer(s_core, s_core) * np.array([[1, rho], [rho, 1]])
    c2 = np.outer(s_tail, s_tail) * np.array([[1, rho], [rho, 1]])
    assert cov == pytest.approx(f * c1 + (1 - f) * c2, rel=0.06)
    tail, tail_cov = windows.fit_ellipse(x, y)  # the default: the wider component's contour
    assert tail_cov == pytest.approx(c2, rel=0.1)
    # the 2-sigma ellipse of S2: semi-axes 2 sqrt(eigenvalues), and the tail holds 1 - e^-2 of S2
    assert sorted(tail["axes"]) == pytest.approx(
        sorted(2 * np.sqrt(np.linalg.eigvalsh(c2))), rel=0.05
    )
    d = np.stack([x - tail["center"][0], y - tail["center"][1]])
    inside = np.einsum("in,ij,jn->n", d, np.linalg.inv(tail_cov), d) <= 4.0
    expected = f * _gaussian_mass(c1, c2) + (1 - f) * (1 - math.exp(-2.0))
    assert inside.mean() == pytest.approx(expected, abs=0.01)
    with pytest.raises(ValueError, match="contour"):
        windows.fit_ellipse(x, y, contour="core")


def _gaussian_mass(cov: np.ndarray, window: np.ndarray, n: int = 400_000) -> float:
    """Probability that N(0, cov) lies in the 2-sigma ellipse of ``window`` (independent draws)."""
    z = np.random.default_rng(11).multivariate_normal([0.0, 0.0], cov, n)
    return float(np.mean(np.einsum("ni,ij,nj->n", z, np.linalg.inv(window), z) <= 4.0))


@pytest.mark.parametrize(
    "params",
    [(0.1, -0.2, 0.7, 0.6, 1.8, 1.5, -0.4, 0.6), (0.0, 0.3, 0.3, 0.4, 2.0, 2.5, 0.3, 0.95)],
)
def test_analytic_gradient_of_the_fit_matches_finite_differences(
    rng: np.random.Generator, params: tuple[float, ...]
) -> None:
    x = rng.normal(size=2000)
    y = -0.5 * x + 0.8 * rng.normal(size=2000)
    grad = _nll_grad(params, x, y)
    for i in range(8):
        h = 1e-6
        up, down = list(params), list(params)
        up[i] += h
        down[i] -= h
        numeric = (_nll(up, x, y) - _nll(down, x, y)) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-4), i


def test_fit_of_degenerate_sample_is_reported_not_dropped() -> None:
    x = np.zeros(100)
    y = np.ones(100)
    fit, _ = windows.fit_ellipse(x, y)
    assert fit["fit_status"] in windows.FIT_STATUSES
    assert all(math.isfinite(v) for v in fit["center"])


def test_truncated_fit_recovers_the_whole_gaussian() -> None:
    """Events with x <= mean + 0.5 sigma only: the truncated fit gives the untruncated parameters.

    Closed form for the naive fit of the kept events: the mean of a Gaussian truncated at
    mu + 0.5 sigma is mu - sigma phi(0.5) / Phi(0.5) = mu - 0.102 (sigma = 0.2).
    """
    rng = np.random.default_rng(11)
    cov = np.array([[0.04, -0.01], [-0.01, 0.01]])
    pts = rng.multivariate_normal([1.0, 4.0], cov, 20_000)
    cut = 1.0 + 0.5 * 0.2
    kept = pts[pts[:, 0] <= cut]
    fit, fitted_cov = windows.fit_ellipse(pts[:, 0], pts[:, 1], truncate_x=cut)
    assert fit["fit_status"] in ("ok", "retried")
    # statistical precision: sigma_x / sqrt(n_kept) ~ 0.002 for the mean; 3 % for the widths
    assert fit["center"] == pytest.approx([1.0, 4.0], abs=0.012)
    assert np.sqrt(np.diag(fitted_cov)) == pytest.approx([0.2, 0.1], rel=0.04)
    assert fitted_cov[0, 1] / np.sqrt(fitted_cov[0, 0] * fitted_cov[1, 1]) == pytest.approx(
        -0.5, abs=0.04
    )
    naive, _ = windows.fit_ellipse(kept[:, 0], kept[:, 1])
    assert naive["center"][0] == pytest.approx(1.0 - 0.102, abs=0.015)
    # the points beyond the cut are dropped by the fit itself: same result from the kept events
    again, _ = windows.fit_ellipse(kept[:, 0], kept[:, 1], truncate_x=cut)
    assert again["center"] == pytest.approx(fit["center"], abs=1e-6)
