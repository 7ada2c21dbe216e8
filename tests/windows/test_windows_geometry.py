"""Tests of dhstat.windows.geometry: covariance contours, areas, containment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dhstat import windows


def test_single_gaussian_contour_is_n_sigma() -> None:
    s1, s2, rho = 0.7, 0.2, -0.8
    cov = np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
    axes, angle = windows.covariance_ellipse(cov, 2.0)
    # closed form eigenvalues of a 2x2 symmetric matrix
    tr, det = cov.trace(), np.linalg.det(cov)
    lam1 = tr / 2 + math.sqrt(tr * tr / 4 - det)
    lam2 = tr / 2 - math.sqrt(tr * tr / 4 - det)
    assert axes == pytest.approx([2 * math.sqrt(lam1), 2 * math.sqrt(lam2)], rel=1e-12)
    # angle of the major axis: tan(2 theta) = 2 c_xy / (c_xx - c_yy)
    expected = 0.5 * math.atan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])
    assert float(angle) == pytest.approx(expected, abs=1e-12)
    # area = pi n^2 sqrt(det)
    assert float(windows.ellipse_area(axes)) == pytest.approx(4 * math.pi * math.sqrt(det))
    # the boundary points satisfy d^T C^-1 d = 4
    w = windows.from_ellipses([[0.0, 0.0]], [axes], [angle])
    t = np.linspace(0, 2 * np.pi, 50)
    u, v = axes[0] * np.cos(t), axes[1] * np.sin(t)
    px = u * math.cos(angle) - v * math.sin(angle)
    py = u * math.sin(angle) + v * math.cos(angle)
    d = np.stack([px, py])
    q = np.einsum("in,ij,jn->n", d, np.linalg.inv(cov), d)
    assert q == pytest.approx(np.full(50, 4.0), rel=1e-10)
    inside = windows.contains(w, 0.999 * px, 0.999 * py)[:, 0]
    outside = windows.contains(w, 1.001 * px, 1.001 * py)[:, 0]
    assert inside.all()
    assert not outside.any()


def test_containment_of_gaussian_in_two_sigma_ellipse(rng: np.random.Generator) -> None:
    cov = np.array([[0.5, -0.3], [-0.3, 0.4]])
    axes, angle = windows.covariance_ellipse(cov, 2.0)
    w = windows.from_ellipses([[1.0, 2.0]], [axes], [angle])
    n = 200_000
    pts = rng.multivariate_normal([1.0, 2.0], cov, n)
    frac = windows.membership(w, pts[:, 0], pts[:, 1]).nnz / n
    expected = 1 - math.exp(-2)  # 86.47 %
    assert frac == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n))
