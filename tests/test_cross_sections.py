from __future__ import annotations

import math

import pytest
from scipy.integrate import quad

from dhstat.physics import cross_sections
from dhstat.physics.constants import ALPHA, ELECTRON_MASS


def test_born_check_value_of_analysis_md() -> None:
    """analysis.md section 3: sqrt(s) = 10.58, M_A' = 5, M_h' = 2, eps^2 alpha_D = 1e-8 -> 1.013 fb."""
    sigma = 1e-8 * float(cross_sections.born_unit_cross_section(5.0, 2.0, sqrt_s=10.58))
    assert sigma == pytest.approx(1.013, abs=5e-4)


@pytest.mark.parametrize(
    ("ma", "mh"), [(5.0, 2.0), (9.0, 1.0), (2.0, 0.5), (10.2, 0.3), (4.0, 6.5)]
)
def test_isr_convolution_against_adaptive_quadrature(ma: float, mh: float) -> None:
    roots = 10.5796
    s = roots**2
    beta = 2 * ALPHA / math.pi * (math.log(s / ELECTRON_MASS**2) - 1)
    x_max = 1 - (ma + mh) ** 2 / s

    def born(x: float) -> float:
        return float(cross_sections.born_unit_cross_section(ma, mh, sqrt_s=math.sqrt(s * (1 - x))))

    # Reference: the radiator's x^(beta-1) term integrated in u = x^beta, the rest in x (scipy quad).
    singular = quad(lambda u: born(u ** (1 / beta)), 0, x_max**beta, limit=200, epsabs=0)[0]
    regular = quad(lambda x: (1 - x / 2) * born(x), 0, x_max, limit=200, epsabs=0)[0]
    reference = (1 + 0.75 * beta) * singular - beta * regular
    value = float(cross_sections.isr_unit_cross_section(ma, mh, sqrt_s=roots))
    assert value == pytest.approx(reference, rel=1e-6)


def test_isr_zero_below_threshold_and_vectorised() -> None:
    values = cross_sections.isr_unit_cross_section([5.0, 8.0], [2.0, 3.0], sqrt_s=10.58)
    assert values[1] == 0.0
    assert values[0] == pytest.approx(
        float(cross_sections.isr_unit_cross_section(5.0, 2.0, sqrt_s=10.58)), rel=1e-12
    )
