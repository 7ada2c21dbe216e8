from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from dhstat.errors import InputError
from dhstat.physics import decay
from dhstat.physics.constants import ALPHA, ELECTRON_MASS, MUON_MASS, TAU_MASS


def _raw_table() -> np.ndarray:
    path = resources.files("dhstat") / "data" / "pdg2020_r_ratio.dat"
    return np.loadtxt(str(path), comments="#")


def test_r_table_matches_raw_file_at_nodes_and_midpoints() -> None:
    raw = _raw_table()
    table = decay.load_r_ratio()
    assert table.range == (raw[0, 0], raw[-1, 0])
    np.testing.assert_allclose(table(raw[:, 0]), raw[:, 1], rtol=0, atol=1e-12)
    mid = 0.5 * (raw[:-1, 0] + raw[1:, 0])
    np.testing.assert_allclose(table(mid), 0.5 * (raw[:-1, 1] + raw[1:, 1]), rtol=1e-12)
    assert np.isnan(table(1.4))
    assert np.isnan(table(12.5))


def test_lepton_factor_closed_form_and_threshold() -> None:
    m = 5.0
    x = TAU_MASS**2 / m**2
    assert float(decay.lepton_factor(m, TAU_MASS)) == pytest.approx(
        (1 + 2 * x) * math.sqrt(1 - 4 * x), rel=1e-14
    )
    assert float(decay.lepton_factor(2 * TAU_MASS * 0.999, TAU_MASS)) == 0.0
    # Just above threshold G ~ (3/2) sqrt(1 - 4x) -> 0; far above G -> 1 - 6 x^2.
    assert float(decay.lepton_factor(2 * TAU_MASS * 1.000001, TAU_MASS)) < 3e-3
    m = 100.0
    x = MUON_MASS**2 / m**2
    assert float(decay.lepton_factor(m, MUON_MASS)) == pytest.approx(1 - 6 * x**2, rel=1e-12)


def test_widths_closed_form() -> None:
    m, eps2 = 6.0, 1e-6
    expected_mu = eps2 * ALPHA * m / 3 * decay.lepton_factor(m, MUON_MASS)
    assert float(decay.width_lepton(m, MUON_MASS, eps2=eps2)) == pytest.approx(
        float(expected_mu), rel=1e-14
    )
    raw = _raw_table()
    r = float(np.interp(m, raw[:, 0], raw[:, 1]))
    assert float(decay.width_hadrons(m, eps2=eps2)) == pytest.approx(
        eps2 * ALPHA * m / 3 * r, rel=1e-12
    )


def test_branching_ratio_against_hand_computation() -> None:
    raw = _raw_table()
    for m in (2.0, 4.5, 7.3, 10.5):
        g = [
            (1 + 2 * ml**2 / m**2) * math.sqrt(max(1 - 4 * ml**2 / m**2, 0.0))
            for ml in (ELECTRON_MASS, MUON_MASS, TAU_MASS)
        ]
        r = float(np.interp(m, raw[:, 0], raw[:, 1]))
        assert float(decay.branching_ratio_mumu(m)) == pytest.approx(g[1] / (sum(g) + r), rel=1e-12)


def test_branching_ratio_is_about_15_to_16_percent_between_4p5_and_10p5_gev() -> None:
    """analysis.md section 4: B(A'->mumu) is about 0.15-0.16 for 4.5-10.5 GeV."""
    masses = np.linspace(4.5, 10.5, 601)
    b = decay.branching_ratio_mumu(masses)
    assert np.all(np.isfinite(b))
    assert 0.15 <= float(np.median(b)) <= 0.16
    # Individual R measurements scatter by several per cent: allow for that around the band.
    assert float(b.min()) > 0.14
    assert float(b.max()) < 0.17


def test_branching_ratio_equals_width_ratio() -> None:
    m = np.array([2.5, 5.5, 9.0])
    ratio = decay.width_lepton(m, MUON_MASS, eps2=1e-7) / decay.width_total(m, eps2=1e-7)
    np.testing.assert_allclose(ratio, decay.branching_ratio_mumu(m), rtol=1e-12)


def test_branching_ratio_nan_outside_r_data() -> None:
    b = decay.branching_ratio_mumu([1.0, 12.5])
    assert np.all(np.isnan(b))


@pytest.mark.parametrize(
    ("mass", "name"),
    [
        (3.0969, "J/psi"),
        (3.69, "psi(2S)"),
        (9.47, "Upsilon(1S)"),
        (10.02, "Upsilon(2S)"),
        (10.36, "Upsilon(3S)"),
        (5.0, ""),
        (3.2, ""),
    ],
)
def test_resonance_flags_default_window(mass: float, name: str) -> None:
    assert decay.near_resonance(mass) == (name,)


def test_resonance_flag_width_criterion() -> None:
    jpsi = decay.DEFAULT_RESONANCES[0]
    inside = jpsi.mass + 2.9 * jpsi.width
    outside = jpsi.mass + 3.1 * jpsi.width
    flags = decay.near_resonance([inside, outside], n_widths=3, min_halfwidth=0.0)
    assert flags == ("J/psi", "")


def test_resonance_flag_nearest_wins() -> None:
    resonances = (decay.Resonance("A", 5.0, 0.1), decay.Resonance("B", 5.3, 0.1))
    assert decay.near_resonance([5.1, 5.2], resonances, n_widths=3, min_halfwidth=0) == ("A", "B")


def test_user_r_table_and_malformed_rows(tmp_path: Path) -> None:
    good = tmp_path / "r.dat"
    good.write_text("# comment\n2.0 2.0\n4.0 4.0\n")
    table = decay.load_r_ratio(good)
    assert float(table(3.0)) == pytest.approx(3.0)
    bad = tmp_path / "bad.dat"
    bad.write_text("2.0 2.0\n3.0 x\n")
    with pytest.raises(InputError, match=r"bad\.dat: line 2: expected two numbers"):
        decay.load_r_ratio(bad)
    unordered = tmp_path / "unordered.dat"
    unordered.write_text("2.0 2.0\n1.0 2.0\n")
    with pytest.raises(InputError, match="increasing"):
        decay.load_r_ratio(unordered)
    with pytest.raises(InputError, match="existing"):
        decay.load_r_ratio(tmp_path / "missing.dat")
