from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import Recorder, chain

from dhstat import config, pipeline
from dhstat.errors import InputError
from dhstat.jsonio import read_json


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


def test_stale_temporaries_are_removed_before_the_run(tmp_path: Path) -> None:
    stale = [
        tmp_path / ".a.txt.k3j_9x0a.part.txt",
        tmp_path / ".ntuples.ab12cd34.part",  # a staging folder (atomic_dir)
        tmp_path / "ntuples" / ".data.root.zz99yy88.part.root",
    ]
    kept = [
        tmp_path / ".keep",
        tmp_path / "notes.part",
        tmp_path / ".b.txt.part.txt",  # no random part: not dhstat's
        tmp_path / ".c.json.ab12cd34.part.root",  # suffix of another name: not dhstat's
        tmp_path / "ntuples" / "data.root",
        tmp_path / "ntuples" / "deep" / ".x.json.ab12cd34.part.json",  # beyond the depth searched
    ]
    stale[1].mkdir()
    (stale[1] / "mc_mumu.root").write_text("half")
    for path in [stale[0], stale[2], *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    rec = Recorder()
    assert pipeline.run(config.load(), tmp_path, chain(rec)).ran == ("a", "b", "c", "d")
    assert [p for p in stale if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []


def test_locked_directory_is_refused_in_one_error(tmp_path: Path) -> None:
    rec = Recorder()
    handle = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        os.write(handle, b"4242\n")
        with pytest.raises(InputError) as info:
            pipeline.run(config.load(), tmp_path, chain(rec))
    finally:
        os.close(handle)
    message = str(info.value)
    assert str(tmp_path / ".lock") in message
    assert "locked by process 4242" in message
    assert "\n" not in message
    assert rec.calls == []
    assert not (tmp_path / "run.json").exists()
    # released: the next run goes ahead and records its own process id in the lock file
    assert pipeline.run(config.load(), tmp_path, chain(rec)).ran == ("a", "b", "c", "d")
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"


HOLDER = """
import sys, time
from dhstat import config, pipeline

def forever(*args):
    print("holding", flush=True)
    time.sleep(600)

pipeline.run(config.load(), sys.argv[1], [pipeline.Stage("hold", forever, outputs=("x",))])
"""


def test_lock_of_a_killed_run_is_free(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "holding\n"
        with pytest.raises(InputError, match="lock"):
            pipeline.run(config.load(), tmp_path, chain(Recorder()))
    finally:
        process.kill()  # SIGKILL: no clean-up code of the holder runs
        process.wait(timeout=60)
    assert pipeline.run(config.load(), tmp_path, chain(Recorder())).ran == ("a", "b", "c", "d")


def test_run_directory_that_is_a_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="a run directory"):
        pipeline.run(config.load(), tmp_path / "file", chain(Recorder()))
    with pytest.raises(InputError, match="a run directory"):
        pipeline.run(config.load(), tmp_path / "file" / "below", chain(Recorder()))
