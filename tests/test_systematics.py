"""Tests of dhstat.systematics: the paper's values, the mass-dependent rules, measured input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from dhstat import config, schemas, systematics
from dhstat.errors import InputError


@pytest.fixture
def rules() -> systematics.Rules:
    return systematics.rules_from_config(config.load())


@pytest.mark.parametrize(
    ("ma", "background", "signal"),
    [
        (1.65, 0.02, 0.02),
        (5.44, 0.02, 0.02),
        (8.999, 0.02, 0.02),
        (9.0, math.sqrt(0.091**2 + 0.093**2), 0.091),  # the paper: 9.1 % (+) 9.3 %
        (10.4, math.sqrt(0.091**2 + 0.093**2), 0.091),
    ],
)
def test_detector_values_are_the_papers(
    rules: systematics.Rules, ma: float, background: float, signal: float
) -> None:
    values = systematics.evaluate(rules, ma, 0.5)
    assert values.background["syst_detector"] == pytest.approx(background, rel=1e-12)
    assert values.signal["syst_detector"] == pytest.approx(signal, rel=1e-12)
    assert values.background["syst_ceta"] == 0.01
    assert "syst_ceta" not in values.signal  # negligible on the signal [paper]


def test_high_mass_background_total_matches_the_paper(rules: systematics.Rules) -> None:
    # The paper quotes 13.0 % for 9.1 % (+) 9.3 % and up to 12.7 % for the total background.
    total = systematics.evaluate(rules, 9.5).background["syst_detector"]
    assert total == pytest.approx(0.130, abs=5e-4)


def grid_mean(curve: systematics.Curve) -> float:
    """Mean over the analysis range, weighted by the M_h' range open at each M_A'."""
    ma = np.linspace(1.65, 10.45, 4001)
    weight = np.minimum(ma, 10.58 - ma)
    values = np.array([curve(m) for m in ma])
    return float((values * weight).sum() / weight.sum())


def test_mass_dependent_rules_reproduce_the_papers_range_and_mean(
    rules: systematics.Rules,
) -> None:
    ma = np.linspace(1.65, 10.45, 500)
    resolution = np.array([rules.mass_resolution(m) for m in ma])
    offset = np.array([rules.window_offset(m) for m in ma])
    # [paper]: mass resolution 1-5 %, mean 2.4 %; window offset 2 % mean, at most 5 %.
    assert resolution.min() >= 0.01 - 1e-12
    assert resolution.max() <= 0.05 + 1e-12
    assert grid_mean(rules.mass_resolution) == pytest.approx(0.024, abs=0.003)
    assert offset.max() <= 0.05 + 1e-12
    assert grid_mean(rules.window_offset) == pytest.approx(0.02, abs=0.003)


def test_curves_are_piecewise_linear_and_flat_outside(rules: systematics.Rules) -> None:
    table = config.load()["systematics"]["mass_resolution"]
    xs, ys = table["ma_gev"], table["signal"]
    middle = 0.5 * (xs[0] + xs[1])
    assert rules.mass_resolution(middle) == pytest.approx(0.5 * (ys[0] + ys[1]), rel=1e-12)
    assert rules.mass_resolution(0.5) == ys[0]
    assert rules.mass_resolution(11.0) == ys[-1]


def test_config_schema_is_valid_against_its_metaschema() -> None:
    document = schemas.load("config.systematics")
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"] == "urn:dhstat:schema:1.0.0:config.systematics"


def test_catalogue_names_are_unique_and_cover_the_constants() -> None:
    names = [m.name for m in systematics.CATALOGUE]
    assert len(names) == len(set(names))
    assert set(names) == {
        systematics.POI,
        systematics.DETECTOR,
        systematics.CETA,
        systematics.MASS_RESOLUTION,
        systematics.WINDOW_OFFSET,
        systematics.MCSTAT_SIGNAL,
        systematics.MCSTAT_BACKGROUND,
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[systematics.mass_resolution]\nma_gev = [1.0, 2.0]\nsignal = [0.01]\n", "as many values"),
        (
            "[systematics.window_offset]\nma_gev = [2.0, 1.0]\nsignal = [0.01, 0.02]\n",
            "strictly increasing",
        ),
        ("[systematics]\nsource = 'measured'\n", "measured_file"),
    ],
)
def test_bad_rules_are_input_errors(text: str, fragment: str) -> None:
    # caught when the configuration is loaded where possible, else when the rules are built
    with pytest.raises(InputError, match=fragment) as info:
        systematics.rules_from_config(config.loads(text, source="cfg.toml"))
    assert str(info.value).startswith("cfg.toml: systematics.")


@pytest.mark.parametrize(
    "text",
    [
        "[systematics]\nfoo = 1\n",
        "[systematics.detector]\nbackground_below = 1.5\n",
        "[systematics]\nsource = 'guess'\n",
    ],
)
def test_config_schema_rejects_bad_tables(text: str) -> None:
    with pytest.raises(InputError, match=r"^bad\.toml: systematics"):
        config.loads(text, source="bad.toml")


def macroregions(regions: list[dict[str, Any]]) -> dict[str, Any]:
    sample = {"data": 0, "mc": {}, "mc_total": 0.0, "mc_stat_error": 0.0}
    sample |= {"ratio": None, "ratio_error": None}
    full = []
    for i, region in enumerate(regions):
        full.append(
            {
                "name": f"r{i}",
                "dominant": "mumu",
                "samples": {"search": sample, "control_mumugamma": sample, "control_emu": sample},
                "measured_uncertainty": None,
                "paper_uncertainty": 0.02,
                "uncertainty_source": "measured",
                **region,
            }
        )
    return {
        "schema_version": "1.0.0",
        "dhstat_version": "0.1.0",
        "config_digest": "0" * 64,
        "systematics_source": "measured",
        "luminosity_fb": 8.34,
        "regions": full,
    }


def test_measured_macroregions_override_the_detector_values(tmp_path: Path) -> None:
    document = macroregions(
        [
            {
                "ma_range": [4.0, 6.0],
                "mh_range": [0.0, 3.0],
                "relative_uncertainty": 0.035,
                "signal_relative_uncertainty": 0.03,
            },
            {  # overlaps the first: the first region containing a point wins
                "ma_range": [4.0, 10.0],
                "mh_range": [0.0, 6.0],
                "relative_uncertainty": 0.05,
                "signal_relative_uncertainty": 0.04,
            },
        ]
    )
    schemas.validate(document, "macroregions", source="test")
    path = tmp_path / "macroregions.json"
    path.write_text(json.dumps(document))
    rules = systematics.rules_from_config(config.load(), measured=path)
    inside = systematics.evaluate(rules, 5.0, 1.0)
    assert inside.background["syst_detector"] == 0.035
    assert inside.signal["syst_detector"] == 0.03
    second = systematics.evaluate(rules, 7.0, 1.0)
    assert second.background["syst_detector"] == 0.05
    outside = systematics.evaluate(rules, 2.0, 1.0)  # no region: the paper's rule
    assert outside.background["syst_detector"] == 0.02
    assert rules.table["source"] == "measured"
    assert rules.table["measured_file"] == "macroregions.json"
    assert len(rules.table["measured_sha256"]) == 64


def test_measured_file_errors_name_the_region(tmp_path: Path) -> None:
    document = macroregions(
        [
            {
                "ma_range": [4.0, 6.0],
                "mh_range": [0.0, 3.0],
                "relative_uncertainty": 1.5,
                "signal_relative_uncertainty": 0.03,
            }
        ]
    )
    path = tmp_path / "m.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"m\.json: regions\[0\]\.relative_uncertainty"):
        systematics.load_measured(path)
    with pytest.raises(InputError, match="existing file"):
        systematics.load_measured(tmp_path / "missing.json")
