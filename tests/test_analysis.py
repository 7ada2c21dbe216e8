"""The analysis as ``dhstat run`` runs it: the stage table, the CLI, the small analysis end to end."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import Recorder, chain

from dhstat import analysis, config, pipeline
from dhstat.jsonio import read_json


def test_cli_run_prints_timings_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dhstat.cli import main

    rec = Recorder()
    monkeypatch.setattr(analysis, "analysis_stages", lambda: chain(rec))
    main(["run", "--output", str(tmp_path), "--workers", "1"])
    out = capsys.readouterr()
    assert re.search(r"^a\s+ran", out.out, re.MULTILINE)
    assert "paper (PRL 130, 071804)" in out.out
    assert "[d] done" in out.err
    main(["run", "--output", str(tmp_path), "--workers", "1"])
    assert "[a] up to date, skipped" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--output", str(tmp_path), "--from", "nope"])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_analysis_stages_chain_their_files() -> None:
    stages = analysis.analysis_stages()
    assert [s.name for s in stages] == [
        "simulate", "select", "windows", "count", "workspaces", "scan", "lee", "interpret",
        "report",
    ]  # fmt: skip
    written: set[str] = set()
    for stage in stages:
        # every input of a stage is written by an earlier stage
        assert set(stage.inputs) <= written, stage.name
        written |= set(stage.outputs)


SMALL = Path(__file__).parent / "data" / "small.toml"


@pytest.mark.slow
def test_small_analysis_end_to_end(tmp_path: Path) -> None:
    import numpy as np

    from dhstat import parallel, publish, report, schemas, selection, windows

    cfg = config.load(SMALL)
    outdir = tmp_path / "run"

    def one_worker() -> Any:
        return parallel.executor(workers=1)

    stages = analysis.analysis_stages()
    first = pipeline.run(cfg, outdir, stages, open_executor=one_worker)
    assert first.ran == tuple(s.name for s in stages)
    for name, schema in [
        ("cutflow.json", "cutflow"),
        ("windows.json", "windows"),
        ("counts.json", "counts"),
        ("workspaces/index.json", "workspace-index"),
        ("results.json", "scan"),
        ("lee.json", "lee"),
        ("couplings.json", "couplings"),
        ("run.json", "run"),
    ]:
        if schema in schemas.names():
            read_json(outdir / name, schema=schema)
    summary = report.summarize(outdir, report.ReportSettings.from_config(cfg))
    data = selection.read_selected([outdir / "selected.root"])
    assert summary.n_selected == int(np.sum(data["process"] == selection.PROCESSES.index("data")))
    assert summary.n_windows == len(windows.load(outdir / "windows.json"))
    assert summary.expected is not None
    assert set(summary.expected) == {"mumu", "tautau", "eemumu"}
    assert summary.max_z is not None
    # not NaN; +inf is what the scan reports for N > 0 in a window with zero MC background
    assert not np.isnan(summary.max_z)
    assert summary.global_p is not None
    assert 0.0 <= summary.global_p <= 1.0
    assert (outdir / "report.md").is_file()
    assert (outdir / "figures" / "fig1_counts.png").is_file()
    # nothing changed: everything is skipped; a new [report] setting re-runs the report only
    assert pipeline.run(cfg, outdir, stages, open_executor=one_worker).ran == ()
    text = SMALL.read_text().replace("[report]\n", "[report]\ndpi = 100\n", 1)
    changed = config.loads(text, source="changed")
    assert changed["report"]["dpi"] == 100 != cfg["report"]["dpi"]
    assert pipeline.run(changed, outdir, stages, open_executor=one_worker).ran == ("report",)
    settings = report.ReportSettings.from_config(cfg)
    archive = publish.build_submission(outdir, settings, tmp_path / "submission.tar.gz")
    assert publish.validate_archive(archive) == []


def test_select_reads_only_visible_ntuples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dhstat import rundir, stages

    folder = tmp_path / "ntuples"
    folder.mkdir()
    for name in ("mc_mumu.root", "data.root", ".data.root.ab12cd34.part.root", "notes.txt"):
        (folder / name).write_text("x")
    seen: list[list[Path]] = []
    monkeypatch.setattr(stages, "select", lambda cfg, inputs, **kw: seen.append(list(inputs)))
    select = next(s for s in analysis.analysis_stages() if s.name == "select")
    select.function(config.load(), {rundir.NTUPLES: folder}, tmp_path, None, pipeline.no_progress)
    assert seen == [[folder / "data.root", folder / "mc_mumu.root"]]


def test_simulate_replaces_the_ntuples_folder_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dhstat import stages

    def fake(cfg: Any, directory: Path, **kw: Any) -> None:
        (directory / "data.root").write_text(str(cfg["run"]["seed"]))
        if cfg["run"]["seed"] == 3:
            raise KeyboardInterrupt  # killed half-way

    monkeypatch.setattr(stages, "simulate", fake)
    simulate = next(s for s in analysis.analysis_stages() if s.name == "simulate")
    old = tmp_path / "ntuples"
    old.mkdir()
    (old / "stale.root").write_text("from an older run")
    simulate.function(config.loads("[run]\nseed = 2\n"), {}, tmp_path, None, pipeline.no_progress)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ntuples"]
    assert sorted(p.name for p in old.iterdir()) == ["data.root"]
    with pytest.raises(KeyboardInterrupt):
        simulate.function(
            config.loads("[run]\nseed = 3\n"), {}, tmp_path, None, pipeline.no_progress
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ntuples"]
    assert (old / "data.root").read_text() == "2"  # the folder of the last complete run, intact


def test_cli_run_on_a_locked_directory_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl
    import os

    from dhstat.cli import main

    handle = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(SystemExit) as exit_info:
            main(["run", "--output", str(tmp_path), "--workers", "1"])
    finally:
        os.close(handle)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert str(tmp_path / ".lock") in err
    assert "locked" in err
