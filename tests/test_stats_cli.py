"""The stats commands (limit, significance, scan): JSON keys, bad input, scan schema, LEE hand-off."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from dhstat import schemas
from dhstat.cli import cli
from dhstat.stats import bayes, significance
from dhstat.stats.model import WindowSet, window_spec


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _smeared(n: int, b: float) -> dict:
    return window_spec(
        n=n,
        signal=1.4,
        backgrounds={"mumu": 0.8 * b, "tautau": 0.2 * b},
        signal_shifts={"syst_detector": 0.03, "mcstat_signal": 0.05},
        background_shifts={"mumu": {"syst_detector": 0.02 * b}},
        stat_errors={"mumu": 0.1 * b},
        sigma_max=80.0,
    )


def test_limit_json_keys_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "ws.json", window_spec(n=2, signal=1.0, backgrounds={"b": 0.0}))
    code, out, _ = _run("limit", str(path), "--json")
    assert code == 0
    doc = json.loads(out)
    assert {"upper_limit", "cl", "prior", "poi", "sigma_max"} <= set(doc)
    assert doc["upper_limit"] == pytest.approx(5.32, abs=0.006)
    assert doc["sigma_max"] == 100.0
    code, out, _ = _run(
        "limit",
        str(path),
        "--json",
        "--prior",
        "log",
        "--sigma-min",
        "0.2",
        "--cl",
        "0.95",
        "--sigma-max",
        "50",
    )
    doc = json.loads(out)
    assert code == 0
    assert (doc["prior"], doc["sigma_min"], doc["cl"], doc["sigma_max"]) == ("log", 0.2, 0.95, 50.0)


def test_significance_json_keys_and_methods(tmp_path: Path) -> None:
    path = _write(tmp_path / "ws.json", window_spec(n=6, signal=1.0, backgrounds={"b": 1.5}))
    code, out, _ = _run("significance", str(path), "--json", "--sigma-max", "20")
    assert code == 0
    doc = json.loads(out)
    assert {"p_value", "z", "bayes_factor", "sigma_max", "method"} <= set(doc)
    assert doc["p_value"] == pytest.approx(stats.poisson.sf(5, 1.5), rel=1e-9)
    assert doc["sigma_max"] == 20.0
    code, out, _ = _run("significance", str(path), "--json", "--method", "asymptotic")
    assert json.loads(out)["method"] == "asymptotic"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: "{not json", "valid JSON"),
        (lambda d: {**d, "measurements": [{"name": "m", "config": {"parameters": []}}]}, "POI"),
        (
            lambda d: {
                **d,
                "measurements": [{"name": "m", "config": {"poi": ["a", "b"], "parameters": []}}],
            },
            "one POI",
        ),
        (lambda d: {k: v for k, v in d.items() if k != "observations"}, "observ"),
        (
            lambda d: {
                **d,
                "channels": [
                    {
                        "name": "window",
                        "samples": [{**d["channels"][0]["samples"][0], "data": [float("nan")]}],
                    }
                ],
            },
            "finite",
        ),
    ],
)
def test_bad_workspaces_give_one_clear_error(tmp_path: Path, mutate: object, fragment: str) -> None:
    good = window_spec(n=2, signal=1.0, backgrounds={"b": 0.5})
    bad = mutate(good)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    for command in ("limit", "significance"):
        from dhstat.cli import main

        with pytest.raises(SystemExit) as info:
            main([command, str(path)])
        assert info.value.code == 2


def test_bad_workspace_message_names_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dhstat.cli import main

    path = _write(tmp_path / "nopoi.json", {"channels": [], "version": "1.0.0"})
    with pytest.raises(SystemExit):
        main(["limit", str(path)])
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "nopoi.json" in err
    assert len(err.strip().splitlines()) == 1


def test_scan_directory_schema_and_lee_handoff(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    counts = [(0, 0.0), (1, 0.3), (12, 2.0), (5, 4.0)]
    for i, (n, b) in enumerate(counts):
        _write(folder / f"w{i}.json", _smeared(n, b))
    output = tmp_path / "results.json"
    code, _out, err = _run("scan", str(folder), "--output", str(output))
    assert code == 0, err
    doc = json.loads(output.read_text())
    schemas.validate(doc, "scan")
    rows = doc["windows"]
    assert [r["n"] for r in rows] == [n for n, _ in counts]
    assert rows[0]["z"] is None  # N = 0: Z = -inf
    assert doc["summary"]["largest_excess"]["id"] == "w2"
    assert "z" in rows[2]["flags"]
    assert rows[2]["sigma_max"] == 80.0
    assert doc["settings"]["sigma_max"] is None
    # the window model rebuilds the same p-values (LEE hand-off)
    rebuilt = WindowSet.from_dict(doc["window_model"])
    p = significance.hybrid_pvalue(rebuilt, rebuilt.n[:, None])[:, 0]
    assert p.tolist() == [r["p_value"] for r in rows]
    table = significance.hybrid_pvalue(rebuilt, np.arange(20)[None, :])
    assert np.all(np.diff(table, axis=1) <= 0)
    assert table[np.arange(4), rebuilt.n].tolist() == p.tolist()
    # the same numbers with one worker as with several
    single = tmp_path / "single.json"
    code, _, _ = _run("scan", str(folder), "--output", str(single), "--workers", "1")
    assert json.loads(single.read_text())["windows"] == rows
    # explicit sigma_max on the command line
    code, _, _ = _run("scan", str(folder), "--output", str(output), "--sigma-max", "30")
    doc = json.loads(output.read_text())
    assert doc["settings"]["sigma_max"] == 30.0
    assert all(r["sigma_max"] == 30.0 for r in doc["windows"])


def test_scan_reads_workspace_index(tmp_path: Path) -> None:
    workspace = pytest.importorskip("dhstat.workspace")
    from dhstat import config, systematics

    cfg = config.load()
    rules = systematics.rules_from_config(cfg)
    inputs = [
        workspace.WindowInput(
            i,
            5.0 + 0.1 * i,
            2.0,
            (4.0, 25.0),
            (0.5, 0.05),
            0.1,
            0.9,
            n,
            {"mumu": (b, 0.1 * b), "tautau": (0.2 * b, 0.05 * b), "eemumu": (0.0, 0.0)},
            0.2,
            0.004,
        )
        for i, (n, b) in enumerate([(0, 0.2), (3, 1.0), (2, 2.5)])
    ]
    wset = workspace.build_set(
        inputs,
        rules,
        luminosity_fb=8.34,
        sigma_max=100.0,
        provenance={"config_digest": "x", "seed": 1},
    )
    workspace.save_set(wset, tmp_path)
    output = tmp_path / "results.json"
    code, _, err = _run("scan", str(tmp_path), "--output", str(output))
    assert code == 0, err
    doc = json.loads(output.read_text())
    assert [r["id"] for r in doc["windows"]] == [0, 1, 2]
    assert doc["windows"][1]["eps"] == pytest.approx(0.2, rel=1e-12)
    assert doc["windows"][1]["ma"] == pytest.approx(5.1)
    assert doc["provenance"]["index_sha256"]


def test_window_set_roundtrip_and_subset() -> None:
    ws = WindowSet.from_specs([_smeared(3, 1.0), _smeared(0, 0.0)], ids=["a", "b"])
    again = WindowSet.from_dict(json.loads(json.dumps(ws.to_dict())))
    assert again.ids == ws.ids
    assert np.array_equal(again.shifts, ws.shifts)
    assert bayes.window_bayes_factors(again).tolist() == bayes.window_bayes_factors(ws).tolist()
    sub = ws.subset([1])
    assert sub.ids == ("b",)
    assert math.isclose(
        bayes.window_upper_limits(sub).upper_limit[0],
        bayes.window_upper_limits(ws).upper_limit[1],
        rel_tol=1e-12,
    )
