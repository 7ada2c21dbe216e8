"""Tests of dhstat.workspace and `dhstat workspaces`: pyhf validity, yields, modifiers, files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pyhf
import pytest

from dhstat import config, counting, schemas, systematics, windows, workspace
from dhstat.errors import InputError

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)

LUMI = 8.34

# id, ma, mh, n_obs, {process: (yield, stat_error)}, efficiency, efficiency_error
WINDOWS: list[tuple[int, float, float, int, dict[str, tuple[float, float]], float, float]] = [
    (
        3,
        2.0,
        0.5,
        4,
        {"mumu": (3.1, 0.4), "tautau": (0.6, 0.2), "eemumu": (0.05, 0.05)},
        0.02,
        1e-3,
    ),
    (
        11,
        5.44,
        3.18,
        9,
        {"mumu": (2.5, 0.3), "tautau": (1.2, 0.3), "eemumu": (0.0, 0.0)},
        0.2,
        4e-3,
    ),
    (12, 7.0, 1.0, 0, {"mumu": (0.0, 0.0), "tautau": (0.0, 0.0), "eemumu": (0.0, 0.0)}, 0.15, 4e-3),
    (40, 9.5, 0.3, 7, {"mumu": (5.0, 0.5), "tautau": (0.1, 0.05), "eemumu": (0.2, 0.1)}, 0.1, 3e-3),
    (41, 9.0, 0.2, 2, {"mumu": (1.0, 0.2), "tautau": (0.3, 0.1), "eemumu": (0.0, 0.0)}, 0.12, 3e-3),
]


def windows_doc(rows: list[Any] = WINDOWS) -> dict[str, Any]:
    n = len(rows)
    base = windows.from_ellipses(
        [[mh**2, ma**2] for _, ma, mh, *_ in rows],
        [[0.4 + 0.01 * i, 0.02] for i in range(n)],
        [0.01 * i for i in range(n)],
        ceta_cut=[0.9 - 0.01 * i for i in range(n)],
        ids=[row[0] for row in rows],
    )
    filled = dataclasses.replace(
        base,
        ma=np.array([row[1] for row in rows]),
        mh=np.array([row[2] for row in rows]),
        efficiency=np.array([row[5] for row in rows]),
        efficiency_error=np.array([row[6] for row in rows]),
        meta={
            "config_digest": "0" * 64,
            "dhstat_version": "0.1.0",
            "seed": 1,
            "sqrt_s": 10.58,
            "n_grid_total": n,
            "n_grid_in_range": n,
            "grid": {},
            "windows": {},
            "ceta_cuts": "loosest",
            "contour": "test",
        },
    )
    return filled.to_dict()


def counts_doc(rows: list[Any] = WINDOWS) -> dict[str, Any]:
    n = len(rows)
    processes = ("mumu", "tautau", "eemumu")
    background = np.array([[row[4][p][0] for p in processes] for row in rows])
    errors = np.array([[row[4][p][1] for p in processes] for row in rows])
    counts = counting.Counts(
        luminosity_fb=LUMI,
        ids=np.array([row[0] for row in rows]),
        processes=processes,
        n_observed=np.array([row[3] for row in rows]),
        background=background,
        background_sumw2=errors**2,
        efficiency=np.array([row[5] for row in rows]),
        efficiency_error=np.array([row[6] for row in rows]),
        ceta_cut=np.array([0.9 - 0.01 * i for i in range(n)]),
        cell_background=background,
        cell_sumw2=errors**2,
        cell_n_observed=np.array([row[3] for row in rows]),
        window_cells_indptr=np.arange(n + 1),
        window_cells_indices=np.arange(n),
        meta={
            "n_data_events": 1,
            "n_data_memberships": 1,
            "windows_per_event": 1.0,
            "windows_config_digest": "0" * 64,
        },
    )
    return counts.to_dict()


def write_inputs(folder: Path, counts: Any = None, wins: Any = None) -> tuple[Path, Path]:
    counts_path, windows_path = folder / "counts.json", folder / "windows.json"
    counts_path.write_text(json.dumps(counts if counts is not None else counts_doc()))
    windows_path.write_text(json.dumps(wins if wins is not None else windows_doc()))
    return counts_path, windows_path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, workspace.WorkspaceSet]:
    folder = tmp_path_factory.mktemp("ws")
    counts_path, windows_path = write_inputs(folder)
    cfg = config.load()
    lumi, joined, digests = workspace.read_inputs(counts_path, windows_path)
    wset = workspace.build_set(
        joined,
        systematics.rules_from_config(cfg),
        luminosity_fb=lumi,
        sigma_max=workspace.sigma_max(cfg),
        provenance={"config_digest": cfg.digest(), "seed": cfg["run"]["seed"], **digests},
    )
    workspace.save_set(wset, folder / "out")
    return folder / "out", wset


def row(window_id: int) -> tuple[Any, ...]:
    return next(r for r in WINDOWS if r[0] == window_id)


def floor() -> float:
    """The one-MC-event weight given to windows without simulated background (sum w^2 / sum w)."""
    squares: dict[str, float] = {}
    yields: dict[str, float] = {}
    for r in WINDOWS:
        for process, (value, error) in r[4].items():
            yields[process] = yields.get(process, 0.0) + value
            squares[process] = squares.get(process, 0.0) + error**2
    return max(squares[p] / yields[p] for p in yields if yields[p] > 0)


def by_sample(model: Any, pars: list[float]) -> dict[str, float]:
    per_sample = model.main_model.expected_data(np.asarray(pars), return_by_sample=True)
    return {name: float(per_sample[i][0]) for i, name in enumerate(model.config.samples)}


def models(wset: workspace.WorkspaceSet) -> dict[int, Any]:
    return {
        entry["id"]: pyhf.Workspace(spec).model()
        for entry, spec in zip(wset.index["windows"], wset.workspaces, strict=True)
    }


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


# ------------------------------------------------------------------ index, files, archive


def test_index_validates_and_lists_every_file_digest(built: Any) -> None:
    folder, wset = built
    index = json.loads((folder / "index.json").read_text())
    schemas.validate(index, "workspace-index", source="index.json")
    jsonschema.Draft202012Validator.check_schema(schemas.load("workspace-index"))
    assert [w["id"] for w in index["windows"]] == [r[0] for r in WINDOWS]
    wins = windows_doc()["windows"]
    for i, entry in enumerate(index["windows"]):
        data = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["center"] == wins["center"][i]
        assert entry["ceta_cut"] == wins["ceta_cut"][i]
        assert entry["file"] == f"w{entry['id']}.json"
    assert index["provenance"]["pyhf_version"] == pyhf.__version__
    assert index["provenance"]["config_digest"] == config.load().digest()
    names = {p["name"] for p in index["parameters"]}
    assert names == {m.name for m in systematics.CATALOGUE}
    assert workspace.read_set(folder).texts == wset.texts


def test_build_is_deterministic(built: Any, tmp_path: Path) -> None:
    folder, wset = built
    workspace.save_set(wset, tmp_path / "again")
    for entry in wset.index["windows"]:
        assert (tmp_path / "again" / entry["file"]).read_bytes() == (
            folder / entry["file"]
        ).read_bytes()


def test_archive_is_reproducible_and_complete(built: Any, tmp_path: Path) -> None:
    _, wset = built
    first = workspace.archive(wset, tmp_path / "a.tar.gz").read_bytes()
    second = workspace.archive(wset, tmp_path / "b.tar.gz").read_bytes()
    assert first == second
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
        assert sorted(names) == sorted(["index.json", *(e["file"] for e in wset.index["windows"])])
        for entry in wset.index["windows"]:
            member = tar.extractfile(entry["file"])
            assert member is not None
            assert hashlib.sha256(member.read()).hexdigest() == entry["sha256"]


def test_load_rejects_a_broken_workspace(built: Any, tmp_path: Path) -> None:
    folder, wset = built
    spec = json.loads((folder / wset.index["windows"][0]["file"]).read_text())
    spec["channels"][0]["samples"][1]["data"] = [-1.0]
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match=r"bad\.json: channels/0/samples/1"):
        workspace.load(tmp_path / "bad.json")
    spec["channels"][0]["samples"][1]["dataa"] = [1.0]
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match="valid pyhf workspace"):
        workspace.load(tmp_path / "bad.json")


# ------------------------------------------------------------------ patchsets


def test_patchset_round_trip(built: Any) -> None:
    _, wset = built
    bkg, patchset = workspace.to_patchset(wset, hepdata="ins2104697")
    pyhf.schema.validate(patchset, "patchset.json")
    pyhf.schema.validate(bkg, "workspace.json")
    assert patchset["metadata"]["labels"] == ["M_Aprime", "M_hprime"]
    pset = pyhf.PatchSet(patchset)
    for entry, spec in zip(wset.index["windows"], wset.workspaces, strict=True):
        patched = pset.apply(pyhf.Workspace(bkg), [entry["ma"], entry["mh"]])
        assert json.loads(json.dumps(dict(patched))) == spec
    back = workspace.from_patchset(patchset, bkg)
    assert back.index == wset.index
    assert back.texts == wset.texts
    bkg["channels"][0]["samples"][0]["data"] = [123.0]
    with pytest.raises(InputError, match="digest of the background-only"):
        workspace.from_patchset(patchset, bkg)


# ------------------------------------------------------------------ command line


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dhstat", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def run_inline(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """Run `dhstat ...` in this process (the same entry point as the console script)."""
    from dhstat.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def pyhf_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed `pyhf` command (pyhf has no __main__), as a pyhf user would run it."""
    script = Path(sys.executable).with_name("pyhf")
    command = [str(script)] if script.is_file() else [shutil.which("pyhf") or "pyhf"]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_cli_build_then_pyhf_inspect_and_cls(built: Any, tmp_path: Path) -> None:
    counts_path, windows_path = write_inputs(tmp_path)
    out = tmp_path / "ws"
    result = run("workspaces", "--counts", counts_path, "--windows", windows_path, "--output", out)
    assert result.returncode == 0, result.stderr
    folder, _ = built
    index = json.loads((out / "index.json").read_text())
    for entry in index["windows"]:  # same bytes as the library build
        assert (out / entry["file"]).read_bytes() == (folder / entry["file"]).read_bytes()
    inspect = pyhf_cli("inspect", out / "w11.json")
    assert inspect.returncode == 0, inspect.stderr
    assert "syst_detector" in inspect.stdout
    assert "mcstat_background" in inspect.stdout
    for window_id in (40,):  # a sample: above 9 GeV, all three backgrounds
        path = out / f"w{window_id}.json"
        cls = pyhf_cli("cls", path, "--test-poi", "2.0")
        assert cls.returncode == 0, cls.stderr
        cls_obs = json.loads(cls.stdout)["CLs_obs"]
        model = pyhf.Workspace(json.loads(path.read_text())).model()
        data = pyhf.Workspace(json.loads(path.read_text())).data(model)
        reference = float(pyhf.infer.hypotest(2.0, data, model, test_stat="qtilde"))
        assert 0.0 <= cls_obs <= 1.0
        assert cls_obs == pytest.approx(reference, rel=1e-6)


def test_cli_patchset_export_and_import(
    built: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = built
    patchset = tmp_path / "likelihoods.json"
    code, err = run_inline(capsys, "workspaces", "export-patchset", folder, "--output", patchset)
    assert code == 0, err
    assert (tmp_path / "BkgOnly.json").is_file()
    apply = pyhf_cli("patchset", "apply", tmp_path / "BkgOnly.json", patchset, "--name", "w11")
    assert apply.returncode == 0, apply.stderr
    assert json.loads(apply.stdout) == json.loads((folder / "w11.json").read_text())
    code, err = run_inline(
        capsys, "workspaces", "import-patchset", patchset, "--output", tmp_path / "back"
    )
    assert code == 0, err
    for path in folder.iterdir():
        assert (tmp_path / "back" / path.name).read_bytes() == path.read_bytes()


def _break(kind: str) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Broken inputs: (counts, windows, file that must be named, window that must be named)."""
    counts, wins = counts_doc(), windows_doc()
    if kind == "negative yield":
        counts["windows"]["background"]["tautau"]["yield"][1] = -0.5
        return counts, wins, "counts.json", "window 11"
    if kind == "nan yield":
        counts["windows"]["background"]["mumu"]["yield"][3] = float("nan")
        return counts, wins, "counts.json", "window 40"
    if kind == "efficiency above one":
        counts["windows"]["efficiency"][2] = 1.5
        return counts, wins, "counts.json", "window 12"
    if kind == "counts for an unknown window":
        counts["windows"]["id"][4] = 99
        return counts, wins, "counts.json", "window 41"
    if kind == "duplicate window id":
        wins["windows"]["id"][1] = 3
        return counts, wins, "windows.json", "window 3"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "negative yield",
        "nan yield",
        "efficiency above one",
        "counts for an unknown window",
        "duplicate window id",
    ],
)
def test_bad_input_one_clear_message_nothing_written(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    counts, wins, named_file, named_window = _break(kind)
    counts_path, windows_path = write_inputs(tmp_path, counts, wins)
    out = tmp_path / "ws"
    code, err = run_inline(
        capsys, "workspaces", "--counts", counts_path, "--windows", windows_path, "--output", out
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert named_file in lines[0]
    assert named_window in lines[0]
    assert not out.exists()


def test_systematics_option_rejects_unknown_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counts_path, windows_path = write_inputs(tmp_path)
    code, err = run_inline(
        capsys,
        "workspaces",
        "--counts",
        counts_path,
        "--windows",
        windows_path,
        "--output",
        tmp_path / "ws",
        "--systematics",
        "guess",
    )
    assert code == 2
    assert "measured:FILE" in err


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
