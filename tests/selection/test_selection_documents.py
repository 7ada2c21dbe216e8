"""The cutflow and macroregions documents, and the ``dhstat select`` command that writes them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from selection_reference import CFG, _write

from dhstat import config, jsonio, parallel, schemas, selection
from dhstat.errors import InputError


def test_documents_validate_and_macroregion_ratio(tmp_path: Path) -> None:
    ev = selection.example_events()
    data = _write(tmp_path / "data.root", ev, "data")
    ev_mc = dict(ev)
    ev_mc["weight"] = np.array([0.5, 0.5, 0.5])
    mc = _write(tmp_path / "mumu.root", ev_mc, "mumu")
    cfg = config.loads(
        '[selection.macroregions]\nsystematics_source = "measured"\nmeasured_min_events = 1\n'
    )
    with parallel.executor(workers=1) as ex:
        out = selection.select_files([data, mc], cfg, executor=ex)
    flow = selection.cutflow_document(out)
    schemas.validate(flow, "cutflow")
    macro = selection.macroregions_document(out, cfg)
    schemas.validate(macro, "macroregions")
    # the selected event has M_mumu = 4.68, M_recoil = 4.90 GeV: the first region containing it
    mm = math.sqrt(out.samples["search"]["mmumu2"][0])
    mr = math.sqrt(out.samples["search"]["mrecoil2"][0])
    regions = CFG["selection"]["macroregions"]["regions"]
    first = next(
        r
        for r in regions
        if r["mmumu"][0] <= mm < r["mmumu"][1] and r["mrecoil"][0] <= mr < r["mrecoil"][1]
    )
    entry = next(r for r in macro["regions"] if r["name"] == first["name"])
    search = entry["samples"]["search"]
    assert search["data"] == 1
    assert search["mc_total"] == pytest.approx(0.5)
    assert search["ratio"] == pytest.approx(2.0)
    assert search["ratio_error"] == pytest.approx(2.0 * math.sqrt(1 + 1))
    assert entry["measured_uncertainty"] == pytest.approx(1.0)
    assert entry["relative_uncertainty"] == pytest.approx(1.0)
    assert sum(r["samples"]["search"]["data"] for r in macro["regions"]) == 1
    paper = selection.macroregions_document(out, CFG)
    assert {r["relative_uncertainty"] for r in paper["regions"]} == {0.02, 0.13}
    # "measured" without enough data events falls back to the paper's values
    few = config.loads('[selection.macroregions]\nsystematics_source = "measured"\n')
    fallback = selection.macroregions_document(out, few)
    assert all(r["uncertainty_source"] == "paper" for r in fallback["regions"])
    assert all(r["measured_uncertainty"] is None for r in fallback["regions"])


def test_cli_writes_outputs_and_nothing_on_failure(tmp_path: Path) -> None:
    from dhstat.cli import cli

    path = _write(tmp_path / "mumu.root", selection.example_events(), "mumu")
    runner = CliRunner()
    args = [
        "select",
        str(path),
        "--output",
        str(tmp_path / "sel.root"),
        "--cutflow",
        str(tmp_path / "cf.json"),
        "--macroregions",
        str(tmp_path / "mr.json"),
        "--workers",
        "1",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "photon_recoil" in result.output
    assert "mumu" in result.output
    doc = jsonio.read_json(tmp_path / "cf.json", schema="cutflow")
    assert doc["processes"]["mumu"]["samples"]["search"][-1]["raw"] == 1
    jsonio.read_json(tmp_path / "mr.json", schema="macroregions")
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"not root")
    result = runner.invoke(
        cli,
        [
            "select",
            str(bad),
            "--output",
            str(tmp_path / "x.root"),
            "--cutflow",
            str(tmp_path / "x.json"),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    assert "bad.root" in str(result.exception)
    assert not (tmp_path / "x.root").exists()
    assert not (tmp_path / "x.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
