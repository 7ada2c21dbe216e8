from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dhstat import config, pipeline
from dhstat.errors import InputError
from dhstat.jsonio import read_json
from dhstat.parallel import Executor


class Recorder:
    """Fake stages: each copies its inputs' text (plus its config value) into its output."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: str | None = None

    def stage(self, name: str, tables: tuple[str, ...], inputs: tuple[str, ...]) -> pipeline.Stage:
        def function(
            cfg: config.Config,
            paths: Mapping[str, Path],
            outdir: Path,
            executor: Executor,
            progress: pipeline.Progress,
        ) -> None:
            self.calls.append(name)
            if self.fail == name:
                raise KeyboardInterrupt
            update = progress(2, name)
            text = "".join(paths[i].read_text() for i in inputs)
            text += json.dumps([cfg[t] for t in tables], sort_keys=True)
            update(2)
            (outdir / f"{name}.txt").write_text(text)

        return pipeline.Stage(
            name, function, tables=tables, inputs=inputs, outputs=(f"{name}.txt",)
        )


def chain(rec: Recorder) -> list[pipeline.Stage]:
    return [
        rec.stage("a", ("dataset",), ()),
        rec.stage("b", ("run",), ("a.txt",)),
        rec.stage("c", ("beams",), ("b.txt",)),
        rec.stage("d", (), ("c.txt", "a.txt")),
    ]


def test_first_run_runs_all_then_everything_is_skipped(tmp_path: Path) -> None:
    rec = Recorder()
    cfg = config.load()
    first = pipeline.run(cfg, tmp_path, chain(rec))
    assert first.ran == ("a", "b", "c", "d")
    second = pipeline.run(cfg, tmp_path, chain(rec))
    assert second.ran == ()
    assert rec.calls == ["a", "b", "c", "d"]
    record = read_json(tmp_path / "run.json", schema="run")
    assert record["status"] == "complete"
    assert [s["status"] for s in record["stages"]] == ["skipped"] * 4


def test_config_change_reruns_only_that_stage_and_downstream(tmp_path: Path) -> None:
    rec = Recorder()
    pipeline.run(config.load(), tmp_path, chain(rec))
    changed = config.loads("[beams]\ne_her = 7.1\n")
    result = pipeline.run(changed, tmp_path, chain(rec))
    # c reads [beams] and its output changes, so d (which reads c.txt) re-runs too.
    assert result.ran == ("c", "d")


def test_unchanged_output_stops_the_cascade(tmp_path: Path) -> None:
    rec = Recorder()
    stages = chain(rec)
    pipeline.run(config.load(), tmp_path, stages)
    # Without its stamp b re-runs; it writes identical bytes, so c and d stay valid.
    (tmp_path / ".stamps" / "b.json").unlink()
    assert pipeline.run(config.load(), tmp_path, stages).ran == ("b",)
    assert pipeline.run(config.load(), tmp_path, stages, start="d").ran == ("d",)


def test_input_edit_reruns_downstream(tmp_path: Path) -> None:
    rec = Recorder()
    stages = chain(rec)
    pipeline.run(config.load(), tmp_path, stages)
    (tmp_path / "b.txt").write_text("edited by hand")
    assert pipeline.run(config.load(), tmp_path, stages).ran == ("c", "d")


def test_missing_output_reruns_the_stage(tmp_path: Path) -> None:
    rec = Recorder()
    stages = chain(rec)
    pipeline.run(config.load(), tmp_path, stages)
    (tmp_path / "c.txt").unlink()
    # c writes the same bytes again, so d stays valid.
    assert pipeline.run(config.load(), tmp_path, stages).ran == ("c",)


def test_interrupted_run_resumes_at_the_first_unfinished_stage(tmp_path: Path) -> None:
    rec = Recorder()
    rec.fail = "c"
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(config.load(), tmp_path, chain(rec))
    record = read_json(tmp_path / "run.json", schema="run")
    assert record["status"] == "interrupted"
    assert [s["name"] for s in record["stages"]] == ["a", "b"]
    assert not (tmp_path / ".stamps" / "c.json").exists()
    rec.fail = None
    rec.calls.clear()
    result = pipeline.run(config.load(), tmp_path, chain(rec))
    assert result.ran == ("c", "d")
    assert rec.calls == ["c", "d"]


def test_force_and_from(tmp_path: Path) -> None:
    rec = Recorder()
    stages = chain(rec)
    pipeline.run(config.load(), tmp_path, stages)
    assert pipeline.run(config.load(), tmp_path, stages, force=True).ran == ("a", "b", "c", "d")
    assert pipeline.run(config.load(), tmp_path, stages, start="c").ran == ("c", "d")
    with pytest.raises(InputError, match="stage"):
        pipeline.run(config.load(), tmp_path, stages, start="nope")


def test_version_change_reruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    stages = chain(rec)
    pipeline.run(config.load(), tmp_path, stages)
    monkeypatch.setattr(pipeline, "__version__", "9.9.9")
    assert pipeline.run(config.load(), tmp_path, stages).ran == ("a", "b", "c", "d")


def test_stage_that_forgets_an_output_fails_and_is_not_stamped(tmp_path: Path) -> None:
    def lazy(*args: Any) -> None:
        return None

    stage = pipeline.Stage("lazy", lazy, outputs=("never.txt",))
    with pytest.raises(RuntimeError, match=r"never\.txt"):
        pipeline.run(config.load(), tmp_path, [stage])
    assert not (tmp_path / ".stamps" / "lazy.json").exists()


def test_missing_input_is_an_input_error(tmp_path: Path) -> None:
    rec = Recorder()
    with pytest.raises(InputError, match=r"a\.txt"):
        pipeline.run(config.load(), tmp_path, [rec.stage("b", (), ("a.txt",))])


def test_corrupt_stamp_reruns(tmp_path: Path) -> None:
    rec = Recorder()
    stages = chain(rec)
    pipeline.run(config.load(), tmp_path, stages)
    (tmp_path / ".stamps" / "a.json").write_text("{not json")
    assert pipeline.run(config.load(), tmp_path, stages).ran == ("a",)


def test_folder_digest_sees_file_changes(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("1")
    before = pipeline.digest_path(tmp_path)
    (tmp_path / "x").write_text("2")
    assert pipeline.digest_path(tmp_path) != before


def test_timings_and_memory_recorded(tmp_path: Path) -> None:
    rec = Recorder()
    events: list[tuple[str, str]] = []
    result = pipeline.run(
        config.load(), tmp_path, chain(rec), on_stage=lambda n, e: events.append((n, e))
    )
    assert events[:2] == [("a", "start"), ("a", "ran")]
    for stage in result.stages:
        assert stage.wall_s >= 0
        assert stage.peak_rss_mb > 10  # a Python process with numpy loaded


def test_cli_run_prints_timings_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dhstat.cli import main

    rec = Recorder()
    monkeypatch.setattr(pipeline, "analysis_stages", lambda cfg: chain(rec))
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
    stages = pipeline.analysis_stages(config.load())
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

    stages = pipeline.analysis_stages(cfg)
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
    summary = report.summarize(outdir, cfg)
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
    archive = publish.build_submission(outdir, cfg, tmp_path / "submission.tar.gz")
    assert publish.validate_archive(archive) == []


def test_code_change_of_a_stage_module_reruns_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "dhstat_fake_stage_module.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(code))
    rec = Recorder()
    base = rec.stage("a", (), ())
    stage = pipeline.Stage(
        "a", base.function, outputs=base.outputs, modules=("dhstat_fake_stage_module",)
    )
    out = tmp_path / "run"
    assert pipeline.run(config.load(), out, [stage]).ran == ("a",)
    assert pipeline.run(config.load(), out, [stage]).ran == ()
    (code / "dhstat_fake_stage_module.py").write_text("X = 2\n")
    assert pipeline.run(config.load(), out, [stage]).ran == ("a",)
