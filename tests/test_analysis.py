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
