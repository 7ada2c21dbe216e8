from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dhstat import config, interpretation
from dhstat.cli import cli
from dhstat.jsonio import read_json, write_json
from dhstat.physics.beams import Beams

# ------------------------------------------------------------------------------------------
# reinterpretation on a small published set built from dhstat's own signal simulation

CENTRES = [(5.0, 2.0), (4.9, 2.0), (5.1, 2.0), (5.0, 1.7), (5.0, 2.3)]
N_EFF = 4000


def _selected(ma: float, mh: float, n: int, seed: int, *, isr: bool) -> dict:
    from dhstat import selection
    from dhstat.simulation import detector, generators

    cfg = config.load()
    truth = generators.generate_signal(ma, mh, n, cfg=cfg, rng=np.random.default_rng(seed), isr=isr)
    reco = detector.reconstruct(truth, cfg=cfg, rng=np.random.default_rng(seed + 1))
    return dict(selection.select(reco, cfg, process="signal").search)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_published(tmp_path_factory.mktemp("published"))


def _build_published(folder: Path) -> Path:
    from dhstat import systematics, windows, workspace

    cfg = config.load()
    geometry = []
    for k, (ma, mh) in enumerate(CENTRES):
        search = _selected(ma, mh, 3000, 100 + 2 * k, isr=False)
        x, y = search["mrecoil2"], search["mmumu2"]
        axes, angle = windows.covariance_ellipse(np.cov(x, y), 2.0)
        geometry.append(
            {"id": 20 + k, "center": [float(x.mean()), float(y.mean())],
             "axes": [float(a) for a in axes], "angle": float(angle), "ceta_cut": 0.9}
        )  # fmt: skip
    index = {"windows": geometry}
    inputs = []
    for k, (ma, mh) in enumerate(CENTRES):
        search = _selected(ma, mh, N_EFF, 200 + 2 * k, isr=True)
        ids, eff, err = interpretation.window_efficiencies(
            search["mrecoil2"], search["mmumu2"], search["ceta"], np.ones(search["ceta"].size),
            index, total_weight=N_EFF, total_weight2=N_EFF,
        )  # fmt: skip
        own = int(np.flatnonzero(ids == 20 + k)[0])
        g = geometry[k]
        inputs.append(
            workspace.WindowInput(
                id=g["id"], ma=ma, mh=mh, center=tuple(g["center"]), axes=tuple(g["axes"]),
                angle=g["angle"], ceta_cut=0.9, n_observed=[18, 25, 22, 30, 16][k],
                background={"mumu": (20.0, 2.0), "tautau": (4.0, 0.8), "eemumu": (0.5, 0.2)},
                efficiency=float(eff[own]), efficiency_error=float(err[own]),
            )
        )  # fmt: skip
    built = workspace.build_set(
        inputs,
        systematics.rules_from_config(cfg),
        luminosity_fb=8.34,
        sigma_max=100.0,
        provenance={
            "config_digest": None,
            "seed": None,
            "counts_sha256": None,
            "windows_sha256": None,
        },
    )
    workspace.save_set(built, folder)
    return folder


def _standard_limits(folder: Path) -> dict[int, float]:
    pub = interpretation.read_published(folder)
    limits = interpretation.window_limits(pub.window_set, cl=0.9)
    return {int(i): float(v) for i, v in zip(pub.window_set.ids, limits, strict=True)}


def _own_efficiencies(pub: interpretation.PublishedWindows) -> list[interpretation.ModelPoint]:
    points = []
    for entry in pub.index["windows"]:
        samples = pub.specs[entry["id"]]["channels"][0]["samples"]
        signal = samples[0]
        eff = signal["data"][0] / pub.luminosity_fb
        mc = next(m for m in signal["modifiers"] if m["name"] == "mcstat_signal")
        err = (mc["data"]["hi_data"][0] - signal["data"][0]) / pub.luminosity_fb
        points.append(
            interpretation.ModelPoint(
                f"w{entry['id']}", {"ma": entry["ma"], "mh": entry["mh"]},
                np.array([entry["id"]]), np.array([eff]), np.array([err]),
            )
        )  # fmt: skip
    return points


def test_default_model_through_efficiencies_reproduces_standard_limits(published: Path) -> None:
    pub = interpretation.read_published(published)
    standard = _standard_limits(published)
    limits = interpretation.reinterpret(pub.window_set, _own_efficiencies(pub), luminosity_fb=8.34)
    for result in limits:
        assert result.window == int(result.point.windows[0])
        assert result.observed[0] == pytest.approx(standard[result.window], rel=1e-9)


def test_expected_limit_uses_median_background_not_data(published: Path) -> None:
    pub = interpretation.read_published(published)
    limits = interpretation.reinterpret(pub.window_set, _own_efficiencies(pub), luminosity_fb=8.34)
    # all windows have the same background: the expected limits rank by efficiency only,
    # whatever the observed counts (18, 25, 22, 30, 16)
    expected = np.array([r.expected[0] for r in limits])
    eff = np.array([r.efficiency[0] for r in limits])
    assert np.array_equal(np.argsort(expected), np.argsort(-eff))
    # the median of Poisson(24.5) is 24: compare with the engine on a window with n = 24
    from dhstat.stats.model import WindowSet

    first = pub.window_set.subset([0])
    at_24 = WindowSet(first.ids, np.array([24]), first.signal, first.stat_background,
                      first.other_background, first.parameters, first.shifts, first.stat_width,
                      first.sigma_max)  # fmt: skip
    assert expected[0] == pytest.approx(float(interpretation.window_limits(at_24)[0]), rel=1e-9)


def test_lhe_events_reproduce_efficiency_and_limit(published: Path, tmp_path: Path) -> None:
    """(b): LHE written from dhstat's generator -> detector + selection -> same efficiency/limit."""
    from dhstat.interpretation import lhe
    from dhstat.simulation import generators

    cfg = config.load()
    beams = Beams.from_config(cfg)
    pub = interpretation.read_published(published)
    truth = generators.generate_signal(5.0, 2.0, N_EFF, cfg=cfg, rng=np.random.default_rng(7))
    path = tmp_path / "default.lhe"
    lhe.write(path, truth, beams=beams)
    events = lhe.read(path, beams=beams)
    point = interpretation.efficiencies_from_events(
        events, pub.index, cfg, rng=np.random.default_rng(8), name="default"
    )
    own = _own_efficiencies(pub)[0]
    k = int(np.flatnonzero(point.windows == 20)[0])
    eff, err = point.efficiency[k], point.efficiency_error[k]
    combined = math.hypot(err, own.efficiency_error[0])
    assert abs(eff - own.efficiency[0]) < 3 * combined
    result = interpretation.reinterpret(pub.window_set, [point], luminosity_fb=8.34)[0]
    j = int(np.flatnonzero(result.candidates == 20)[0])
    standard = _standard_limits(published)[20]
    # limit ~ 1 / efficiency: agreement within 3 combined relative MC uncertainties
    assert abs(result.observed[j] / standard - 1) < 3 * combined / own.efficiency[0]


def test_patchsets_reproduce_limits_with_pyhf_and_dhstat(published: Path) -> None:
    """(c): the patched published workspace gives the reinterpreted limit; pyhf can apply it."""
    import jsonpatch
    import pyhf

    from dhstat.stats.model import WindowSet

    pub = interpretation.read_published(published)
    points = [
        interpretation.ModelPoint(
            "model_a", {"ma": 5.0, "mh": 2.0}, np.array([20, 21, 22]),
            np.array([0.12, 0.05, 0.02]), np.array([0.004, 0.002, 0.001]),
        )
    ]  # fmt: skip
    result = interpretation.reinterpret(pub.window_set, points, luminosity_fb=8.34)[0]
    sets = interpretation.patchsets(pub.specs, [result], luminosity_fb=8.34, model="toy")
    assert list(sets) == [result.window]
    patchset = sets[result.window]
    patched = jsonpatch.apply_patch(pub.specs[result.window], patchset["patches"][0]["patch"])
    again = interpretation.window_limits(WindowSet.from_specs([patched]), cl=0.9)[0]
    assert again == pytest.approx(result.observed[result.chosen], rel=1e-9)
    with warnings.catch_warnings():  # pyhf 0.7 uses jsonschema's deprecated RefResolver
        warnings.simplefilter("ignore", DeprecationWarning)
        ws = pyhf.Workspace(pub.specs[result.window])
        applied = pyhf.PatchSet(patchset).apply(ws, "model_a")
    assert applied["channels"][0]["samples"][0]["data"] == pytest.approx([0.12 * 8.34])


def test_reinterpret_cli_with_efficiencies_and_events(published: Path, tmp_path: Path) -> None:
    from dhstat.interpretation import lhe
    from dhstat.simulation import generators

    pub = interpretation.read_published(published)
    eff = tmp_path / "eff.json"
    write_json(eff, interpretation.efficiencies_document("default", _own_efficiencies(pub)),
               schema="efficiencies")  # fmt: skip
    out = tmp_path / "limits.json"
    args = ["reinterpret", "--workspaces", str(published), "--efficiencies", str(eff),
            "--output", str(out), "--patches", str(tmp_path / "patches")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = read_json(out, schema="reinterpretation")
    assert [p["window"] for p in doc["points"]] == [20, 21, 22, 23, 24]
    assert len(doc["patches"]["files"]) == 5
    cfg = config.load()
    truth = generators.generate_signal(5.0, 2.0, 500, cfg=cfg, rng=np.random.default_rng(3))
    lhe.write(tmp_path / "m1.lhe", truth, beams=Beams.from_config(cfg))
    args = ["reinterpret", "--workspaces", str(published), "--events", str(tmp_path / "m1.lhe"),
            "--output", str(out), "--efficiencies-out", str(tmp_path / "derived.json")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "m1: sigma <" in result.output
    read_json(tmp_path / "derived.json", schema="efficiencies")


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 20, "efficiency": 1.5}]}]},
         "points.0.efficiencies.0.efficiency"),
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 99, "efficiency": 0.1}]}]},
         "points.0.efficiencies.0.window"),
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 20, "efficiency": 0.1},
                                           {"window": 20, "efficiency": 0.2}]}]},
         "points.0.efficiencies.1.window"),
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 20, "eff": 0.1}]}]},
         "points.0.efficiencies.0"),
    ],
)  # fmt: skip
def test_malformed_efficiency_files_name_file_and_entry(
    tmp_path: Path, document: dict, field: str
) -> None:
    from dhstat.errors import InputError

    path = tmp_path / "eff.json"
    write_json(path, document)
    with pytest.raises(InputError) as info:
        interpretation.read_efficiencies(path, window_ids=[20, 21])
    assert str(info.value).startswith(f"{path}: {field}"), str(info.value)
