from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize, stats
from scipy.special import gammaincc

from dhstat import config, interpretation, schemas
from dhstat.cli import cli
from dhstat.jsonio import read_json, write_json
from dhstat.physics import decay
from dhstat.physics.beams import Beams
from dhstat.physics.constants import ALPHA
from dhstat.stats.model import WindowSet, window_spec

# ------------------------------------------------------------------------------------------
# coupling limits on synthetic scan results

WINDOWS = [  # id, ma, mh, n, signal (eps L), background
    (11, 5.0, 2.0, 3, 2.0, 1.0),
    (12, 7.0, 1.0, 0, 1.5, 0.4),
    (13, 3.1, 0.5, 6, 0.8, 4.0),
    (14, 9.5, 0.5, 2, 1.2, 2.5),
]


def _results(with_syst: bool = False) -> dict:
    specs = [
        window_spec(
            n=n,
            signal=s,
            backgrounds={"mumu": b},
            signal_shifts={"syst_detector": 0.05 * s} if with_syst else None,
            sigma_max=100.0,
        )
        for _, _, _, n, s, b in WINDOWS
    ]
    ws = WindowSet.from_specs(specs, ids=[str(w[0]) for w in WINDOWS])
    return {
        "window_model": ws.to_dict(),
        "windows": [{"id": w[0], "ma": w[1], "mh": w[2]} for w in WINDOWS],
        "cl": 0.9,
    }


def _helene(n: int, b: float, cl: float = 0.9) -> float:
    """Flat-prior limit on s without uncertainties: 1 - CL = F(n; s + b) / F(n; b)."""
    target = (1 - cl) * stats.poisson.cdf(n, b)
    return float(optimize.brentq(lambda s: stats.poisson.cdf(n, s + b) - target, 0, 100))


def _smeared_limit(n: int, s0: float, b: float, rel: float, cl: float = 0.9) -> float:
    """Reference: posterior of sigma with f ~ N(1, rel) (truncated at 0) on the signal.

    The sigma integral is the Poisson identity int_0^x Pois(n | a s + b) ds =
    [F(n; b) - F(n; b + a x)] / a; the f integral a 200-point Gauss-Legendre rule on +-8 rel.
    """
    nodes, weights = np.polynomial.legendre.leggauss(200)
    f = 1 + 8 * rel * nodes
    w = 8 * rel * weights * stats.norm.pdf(f, 1, rel)

    def cdf(x: float) -> float:
        a = s0 * f  # Poisson CDF F(n; mu) = Q(n + 1, mu), the regularised upper gamma function
        return float(np.sum(w * (gammaincc(n + 1, b) - gammaincc(n + 1, b + a * x)) / a))

    total = cdf(100.0)
    return float(optimize.brentq(lambda x: cdf(x) - cl * total, 1e-9, 100, xtol=1e-14))


def _cfg(tmp_path: Path, text: str = "") -> config.Config:
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return config.load(path)


def _settings(cfg: config.Config) -> interpretation.InterpretationSettings:
    return interpretation.InterpretationSettings.from_config(cfg)


def test_coupling_limits_without_br_uncertainty_match_helene(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[interpretation]\nbr_mumu_rel_uncertainty = 0.0\n")
    inputs = interpretation.scan_inputs(_results())
    limits = interpretation.coupling_limits(inputs, _settings(cfg), priors=("flat",))
    roots = Beams.from_config(cfg).sqrt_s
    for i, (_, ma, mh, n, s0, b) in enumerate(WINDOWS):
        sigma_ul = _helene(n, b) / s0
        assert limits.sigma_ul["flat"][i] == pytest.approx(sigma_ul, rel=1e-6)
        born = float(interpretation.born_unit_cross_section(ma, mh, sqrt_s=roots))
        br = float(decay.branching_ratio_mumu(ma))
        assert limits.coupling_ul("born")[i] == pytest.approx(sigma_ul / (born * br), rel=1e-6)


def test_br_uncertainty_is_a_truncated_gaussian_smearing(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    inputs = interpretation.scan_inputs(_results())
    limits = interpretation.coupling_limits(inputs, _settings(cfg), priors=("flat",))
    for i in (0, 1):
        _, _, _, n, s0, b = WINDOWS[i]
        reference = _smeared_limit(n, s0, b, 0.04)
        assert limits.sigma_ul_br["flat"][i] == pytest.approx(reference, rel=2e-4)
        # the smearing loosens the limit, but by much less than 4 %
        assert 1.0 < limits.sigma_ul_br["flat"][i] / limits.sigma_ul["flat"][i] < 1.01


def test_couplings_document_contents_and_schema(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, '[interpretation]\npriors = ["flat", "log"]\n')
    path = tmp_path / "results.json"
    write_json(path, _results(with_syst=True))
    doc = interpretation.interpret(path, _settings(cfg))
    schemas.validate(doc, "couplings", source="couplings.json")
    assert doc["cross_section"] == "born"
    assert "Born" in doc["cross_section_note"]
    rows = {row["id"]: row for row in doc["windows"]}
    assert rows[13]["near_resonance"] == "J/psi"
    assert rows[11]["near_resonance"] is None
    assert 0.15 <= rows[11]["br_mumu"] <= 0.16
    roots = Beams.from_config(cfg).sqrt_s
    r_a, r_h = 25.0 / roots**2, 4.0 / roots**2
    lam = 1 + r_a**2 + r_h**2 - 2 * r_a - 2 * r_h - 2 * r_a * r_h
    born = math.pi * ALPHA / (3 * roots**2) * math.sqrt(lam) * (lam + 12 * r_a) / (1 - r_a) ** 2
    assert rows[11]["sigma_unit_fb"]["born"] == pytest.approx(born * 3.893794e11, rel=1e-9)
    for row in doc["windows"]:
        by = row["eps2_alpha_d_ul_by"]
        assert row["eps2_alpha_d_ul"] == by["born"]["flat"]
        ratio = row["sigma_unit_fb"]["born"] / row["sigma_unit_fb"]["isr"]
        assert by["isr"]["flat"] == pytest.approx(by["born"]["flat"] * ratio, rel=1e-9)
        assert by["born"]["log"] is not None


def test_interpret_cli_writes_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_json(path, _results())
    out = tmp_path / "couplings.json"
    result = CliRunner().invoke(cli, ["interpret", str(path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 windows" in result.output
    doc = read_json(out, schema="couplings")
    assert len(doc["windows"]) == 4


def test_interpret_rejects_results_without_window_model(tmp_path: Path) -> None:
    from dhstat.errors import InputError

    path = tmp_path / "results.json"
    write_json(path, {"windows": []})
    with pytest.raises(InputError, match=r"results\.json: window_model: expected"):
        interpretation.interpret(path, _settings(config.load()))
