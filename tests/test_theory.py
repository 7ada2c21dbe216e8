"""Theory functions against closed forms and check values (analysis.md section 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from dhstat.physics import theory


def test_born_check_value_and_scaling() -> None:
    # analysis.md: sqrt(s) = 10.58, M_A' = 5, M_h' = 2, eps^2 alpha_D = 1e-8 -> 1.013 fb
    assert float(theory.born_cross_section(5.0, 2.0, 10.58**2, coupling=1e-8)) == pytest.approx(
        1.013, abs=5e-4
    )
    one = float(theory.born_cross_section(5.0, 2.0, 10.58**2))
    assert float(theory.born_cross_section(5.0, 2.0, 10.58**2, coupling=3e-8)) == pytest.approx(
        3e-8 * one
    )
    # independent evaluation of the formula
    s, ra, rh = 10.58**2, 25 / 10.58**2, 4 / 10.58**2
    lam = 1 + ra**2 + rh**2 - 2 * ra - 2 * rh - 2 * ra * rh
    expected = math.pi / 137.035999 / (3 * s) * math.sqrt(lam) * (lam + 12 * ra) / (1 - ra) ** 2
    assert one == pytest.approx(expected * 3.893794e11, rel=1e-9)
    assert float(theory.born_cross_section(6.0, 5.0, 10.58**2)) == 0.0


@pytest.mark.parametrize(("ma", "mh"), [(5.0, 2.0), (1.0, 0.1), (9.0, 1.5)])
def test_angular_pdfs_normalised(ma: float, mh: float) -> None:
    s = 10.5796**2
    total = quad(lambda c: float(theory.production_angle_pdf(c, ma, mh, s)), -1, 1)[0]
    assert total == pytest.approx(1.0, abs=1e-10)
    f_l = float(theory.longitudinal_fraction(ma, mh, s))
    e_star = (s + ma**2 - mh**2) / (2 * math.sqrt(s))
    assert f_l == pytest.approx(e_star**2 / (e_star**2 + 2 * ma**2))
    assert quad(lambda c: float(theory.helicity_pdf(c, f_l)), -1, 1)[0] == pytest.approx(1.0)


def test_longitudinal_limits() -> None:
    # unpolarised (f_L = 1/3): flat in cos(eta)
    c = np.linspace(-1, 1, 11)
    assert theory.helicity_pdf(c, 1 / 3) == pytest.approx(np.full(11, 0.5))
    assert float(theory.longitudinal_fraction(1e-4, 0.0, 100.0)) == pytest.approx(1.0, abs=1e-8)


def test_radiator_normalisation_and_beta() -> None:
    beta = float(theory.isr_beta(10.5796**2))
    assert beta == pytest.approx(0.0877, abs=5e-5)
    expected = 2 / 137.035999 / math.pi * (math.log(10.5796**2 / 0.51099895e-3**2) - 1)
    assert beta == pytest.approx(expected, rel=1e-6)
    integral = quad(lambda x: float(theory.isr_radiator(x, beta)), 0, 1, limit=200)[0]
    assert integral == pytest.approx(1.0, abs=1e-8)
    # closed-form partial integral: int_0^a W = a^beta (1 + 3 beta/4) - beta (a - a^2/4)
    a = 0.3
    part = quad(lambda x: float(theory.isr_radiator(x, beta)), 0, a, limit=200)[0]
    assert part == pytest.approx(a**beta * (1 + 0.75 * beta) - beta * (a - a * a / 4), rel=1e-8)


def test_kallen() -> None:
    assert float(theory.kallen(9.0, 1.0, 1.0)) == pytest.approx(81 + 1 + 1 - 18 - 18 - 2)
