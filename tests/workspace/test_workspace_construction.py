"""Tests of dhstat.workspace.construction: pyhf validity, yields and modifiers of the workspaces."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyhf
import pytest
from workspace_helpers import LUMI, by_sample, counts_doc, floor, models, row, windows_doc

from dhstat import config, systematics, workspace
from dhstat.errors import InputError

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------ pyhf validity and yields


def test_every_workspace_validates_with_pyhf_and_builds_a_model(built: Any) -> None:
    folder, wset = built
    cfg = config.load()
    for entry in wset.index["windows"]:
        spec = json.loads((folder / entry["file"]).read_text())
        pyhf.schema.validate(spec, "workspace.json")
        model = pyhf.Workspace(spec).model()
        assert model.config.poi_name == "sigma"
        assert model.config.suggested_bounds()[model.config.poi_index] == [
            0.0,
            cfg["stats"]["sigma_max"],
        ]
        assert model.config.channels == ["window"]
        assert model.config.samples == sorted(["signal", "mumu", "tautau", "eemumu"])


def test_nominal_yields_equal_the_counts(built: Any) -> None:
    _, wset = built
    for window_id, model in models(wset).items():
        _, _, _, n_obs, background, eff, _ = row(window_id)
        pars = model.config.suggested_init()
        pars[model.config.poi_index] = 1.0
        yields = by_sample(model, pars)
        assert yields["signal"] == pytest.approx(eff * LUMI, rel=1e-12)
        empty = sum(v for v, _ in background.values()) == 0
        for index, (process, (value, _)) in enumerate(background.items()):
            # no simulated event: w +- w on the first sample
            nominal = floor() if empty and index == 0 else value
            assert yields[process] == pytest.approx(nominal, rel=1e-12, abs=1e-15)
        spec = wset.workspaces[[e["id"] for e in wset.index["windows"]].index(window_id)]
        assert pyhf.Workspace(spec).data(model, include_auxdata=False) == [n_obs]
        pars[model.config.poi_index] = 2.5  # the POI is the cross section in fb
        assert by_sample(model, pars)["signal"] == pytest.approx(2.5 * eff * LUMI, rel=1e-12)


def expected_relative(ma: float) -> dict[str, dict[str, float]]:
    """The configured uncertainties, computed here from the config table (not the module)."""
    table = config.load()["systematics"]
    det = table["detector"]
    above = ma >= det["ma_threshold_gev"]
    background = (
        math.sqrt(det["background_above_normalisation"] ** 2 + det["background_above_shape"] ** 2)
        if above
        else det["background_below"]
    )
    signal = det["signal_above"] if above else det["signal_below"]

    def linear(curve: dict[str, list[float]]) -> float:
        xs, ys = curve["ma_gev"], curve["signal"]
        if ma <= xs[0]:
            return ys[0]
        for i in range(len(xs) - 1):
            x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
            if x0 <= ma <= x1:
                return y0 + (y1 - y0) * (ma - x0) / (x1 - x0)
        return ys[-1]

    return {
        "signal": {
            "syst_detector": signal,
            "syst_mass_resolution": linear(table["mass_resolution"]),
            "syst_window_offset": linear(table["window_offset"]),
        },
        "background": {"syst_detector": background, "syst_ceta": table["ceta"]["background"]},
    }


@pytest.mark.parametrize("shift", [1.0, -1.0])
def test_modifiers_move_yields_by_the_configured_amounts(built: Any, shift: float) -> None:
    _, wset = built
    for window_id, model in models(wset).items():
        _, ma, _, _, _, eff, eff_err = row(window_id)
        relative = expected_relative(ma)
        relative["signal"]["mcstat_signal"] = eff_err / eff
        init = model.config.suggested_init()
        init[model.config.poi_index] = 1.0
        nominal = by_sample(model, init)
        names = {**relative["signal"], **relative["background"]}
        for name in names:
            pars = list(init)
            pars[model.config.par_slice(name)] = [shift]
            moved = by_sample(model, pars)
            for sample, value in moved.items():
                kind = "signal" if sample == "signal" else "background"
                r = relative[kind].get(name, 0.0)
                assert value == pytest.approx(nominal[sample] * (1 + shift * r), rel=1e-10), (
                    window_id,
                    name,
                    sample,
                )


def test_signal_and_background_share_the_detector_parameter(built: Any) -> None:
    _, wset = built
    for model in models(wset).values():
        assert model.config.par_names.count("syst_detector") == 1
        assert model.config.param_set("syst_detector").n_parameters == 1
        pars = model.config.suggested_init()
        pars[model.config.poi_index] = 1.0
        nominal = by_sample(model, pars)
        pars[model.config.par_slice("syst_detector")] = [1.0]
        moved = by_sample(model, pars)
        assert all(moved[s] > nominal[s] for s in nominal if nominal[s] > 0)


def test_mc_statistics_of_the_background(built: Any) -> None:
    _, wset = built
    for window_id, model in models(wset).items():
        background = row(window_id)[4]
        total = sum(v for v, _ in background.values())
        error = math.sqrt(sum(e**2 for _, e in background.values()))
        if total == 0:
            # No simulated event: a histosys w +- w on the first background sample.
            assert "mcstat_background" in model.config.par_names
            assert model.config.modifiers.count(("mcstat_background", "histosys")) == 1
            continue
        sigmas = model.config.param_set("mcstat_background").sigmas
        assert sigmas == pytest.approx([error / total], rel=1e-12)


def test_zero_background_window_gives_a_working_model(built: Any) -> None:
    _, wset = built
    model = models(wset)[12]
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = 0.0
    assert model.expected_actualdata(pars).tolist() == pytest.approx([floor()])
    pars[model.config.poi_index] = 1.0
    assert model.expected_actualdata(pars).tolist() == pytest.approx([floor() + 0.15 * LUMI])


def test_build_rejects_duplicate_ids_from_the_library() -> None:
    lumi, joined = workspace.join_inputs(counts_doc(), windows_doc())
    cfg = config.load()
    with pytest.raises(InputError, match="window 3"):
        workspace.build_set(
            (*joined, joined[0]),
            systematics.rules_from_config(cfg),
            luminosity_fb=lumi,
            sigma_max=10.0,
            provenance={},
        )


def test_window_without_simulated_background_gets_one_event_uncertainty() -> None:
    """B = 0 from MC means 'below about one MC event of weight w': background w +- w."""
    import pyhf
    from scipy import stats as scipy_stats

    from dhstat.stats.model import WindowSet
    from dhstat.stats.significance import hybrid_pvalue

    cfg = config.load()
    rules = systematics.rules_from_config(cfg)
    filled = workspace.WindowInput(
        1,
        5.0,
        2.0,
        (4.0, 25.0),
        (0.5, 0.05),
        0.0,
        0.9,
        2,
        {"mumu": (2.0, 0.2**0.5), "tautau": (0.5, 0.05**0.5), "eemumu": (0.0, 0.0)},
        0.2,
        0.002,
    )
    empty = workspace.WindowInput(
        2,
        6.0,
        1.0,
        (1.0, 36.0),
        (0.5, 0.05),
        0.0,
        0.9,
        1,
        {"mumu": (0.0, 0.0), "tautau": (0.0, 0.0), "eemumu": (0.0, 0.0)},
        0.2,
        0.002,
    )
    built = workspace.build_set(
        [filled, empty], rules, luminosity_fb=8.34, sigma_max=100.0, provenance={}
    )
    weight = workspace.empty_background_error([filled, empty])
    assert weight == pytest.approx(0.1)
    sample = built.workspaces[1]["channels"][0]["samples"][1]
    assert sample["data"] == [weight]
    (modifier,) = [m for m in sample["modifiers"] if m["name"] == "mcstat_background"]
    assert modifier["type"] == "histosys"
    assert modifier["data"]["hi_data"] == pytest.approx([2 * weight])
    assert modifier["data"]["lo_data"] == pytest.approx([0.0])
    model = pyhf.Workspace(built.workspaces[1]).model()
    expected = model.expected_actualdata(model.config.suggested_init())
    assert float(expected[0]) == pytest.approx(weight + 0.2 * 8.34 * 1.0)
    windows = WindowSet.from_specs([built.workspaces[1]], ids=[2], sources=["w2"], sigma_max=100.0)
    p = float(hybrid_pvalue(windows, [[1]])[0, 0])
    # Independent reference: b = w (1 + theta), theta ~ N(0, 1) truncated to b > 0.
    theta = np.linspace(-1.0, 12.0, 400001)
    prior = scipy_stats.norm.pdf(theta)
    b = weight * (1 + theta)
    reference = np.trapezoid((1 - np.exp(-b)) * prior, theta) / np.trapezoid(prior, theta)
    # The engine's quadrature of a prior truncated at 1 sd is accurate to a few per cent.
    assert p == pytest.approx(reference, rel=0.05)
    assert np.isfinite(scipy_stats.norm.isf(p))
