"""Fault injection: ``dhstat run`` killed with SIGKILL at random points resumes to the same results.

Each trial starts ``dhstat run`` on the small configuration, waits until a chosen stage starts,
waits a random fraction of that stage's CPU time in an uninterrupted reference run (a lower bound
of its wall time in a one-worker run, whatever the load of the machine, so the kill lands in the
stage), and kills the run with SIGKILL. Then:
- every visible file in the run directory is complete (JSON parses, ROOT files open with their
  trees), so a later stage reads nothing half-written;
- a plain rerun completes, leaves no temporary file and no checkpoint behind;
- its result files equal the reference run's: JSON files and PNG figures byte for byte, ROOT files
  by content (trees and metadata) and by bytes when the reference's bytes are reproducible. Every
  run uses the same directory path as the reference did (documents record their input paths, and
  ``selected.root`` records the ntuples' paths), so nothing needs normalising; while ROOT bytes are
  not reproducible the SHA-256 digests that depend on them are masked.
Not compared: ``run.json`` and ``report.md`` (timings, dates), the PDF figures (creation date) and
the stamps (their digests cover the source code, which may change between two runs of a test in a
working tree); every stage must have its stamp.

A trial either starts afresh or (faster) from a copy of the reference run with ``--from STAGE``:
the killed stage then reruns, and the stages after it rerun only if its outputs changed. The
default run kills 3 runs (in simulate, windows and lee); the slow suite 22, in every stage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import uproot

from dhstat import analysis, ntuples
from dhstat.jsonio import is_temporary, read_json

SMALL = Path(__file__).parent / "data" / "small.toml"
STAGES = [stage.name for stage in analysis.analysis_stages()]
TIMEOUT = 300.0  # seconds for one run of the small configuration, even on a loaded machine
_HEX = re.compile(r"\b[0-9a-f]{64}\b")


def _command(outdir: Path, *extra: str, workers: int = 1) -> list[str]:
    return [
        sys.executable, "-m", "dhstat", "run", str(SMALL), "--output", str(outdir),
        "--workers", str(workers), *extra,
    ]  # fmt: skip


class _Run:
    """``dhstat run`` in its own session, its stderr lines collected with their arrival times."""

    def __init__(self, command: Sequence[str]) -> None:
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> bool:
        """Wait for a stderr line starting with ``text``; False if the run ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                return False
            self.seen.append(line)
            if line.startswith(text):
                return True
        return False

    def running(self) -> str | None:
        """The stage running now, from the lines seen so far."""
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.seen.append(line)
        stage = None
        for line in self.seen:
            match = re.match(r"\[(\w+)\] (running|done)", line)
            if match:
                stage = match[1] if match[2] == "running" else None
        return stage

    def kill(self, *, group: bool = True) -> None:
        """SIGKILL the run (and its worker processes, with ``group``)."""
        if not group:
            self.process.send_signal(signal.SIGKILL)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def clean_up(self) -> None:
        """Kill whatever is left of the run's session (orphaned workers)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)


def _dhstat_run(outdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        _command(outdir, *extra), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _files(root: Path) -> list[str]:
    """Every file under ``root``, hidden ones included, as relative POSIX paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _visible(name: str) -> bool:
    return not any(part.startswith(".") for part in name.split("/"))


def _root_content(path: Path) -> dict[str, object]:
    """Trees (every branch as a list) and metadata of a ROOT file."""
    content: dict[str, object] = {"metadata": ntuples.read_metadata(path)}
    with uproot.open(path) as handle:
        for name in sorted(handle.keys(cycle=False)):
            if isinstance(handle[name], uproot.TTree):
                content[name] = handle[name].arrays(library="ak").tolist()
    return content


def assert_complete_files(root: Path) -> None:
    """Every visible JSON file parses and every visible ROOT file opens with its trees."""
    for name in _files(root):
        if not _visible(name):
            continue
        path = root / name
        if path.suffix == ".json":
            read_json(path)
        elif path.suffix == ".root":
            ntuples.read_metadata(path)
            with uproot.open(path) as handle:
                for key in handle.keys(cycle=False):
                    if isinstance(handle[key], uproot.TTree):
                        assert handle[key].num_entries >= 0


def assert_same_results(run: Path, reference: Path) -> None:
    """The rerun's result files equal the reference's (see the module docstring).

    Both must have been written in the same directory path (the reference was moved after).
    """
    names = _files(run)
    assert [n for n in names if any(is_temporary(p) for p in n.split("/"))] == []
    assert [n for n in names if n.startswith(".checkpoints/")] == []
    assert names == _files(reference)
    assert {f".stamps/{stage}.json" for stage in STAGES} <= set(names)
    roots = [n for n in names if n.endswith(".root")]
    reproducible = all(_sha(run / n) == _sha(reference / n) for n in roots)
    for name in roots:
        if not reproducible:
            got, want = _root_content(run / name), _root_content(reference / name)
            assert got == want, name
    for name in names:
        if name.endswith(".png"):
            assert _sha(run / name) == _sha(reference / name), name
        if not name.endswith(".json") or name == "run.json" or name.startswith(".stamps/"):
            continue
        texts = [(folder / name).read_text(encoding="utf-8") for folder in (run, reference)]
        if not reproducible:
            texts = [_HEX.sub("<sha256>", text) for text in texts]
        assert texts[0] == texts[1], name


@dataclasses.dataclass(frozen=True)
class Reference:
    """An uninterrupted run (moved to ``folder`` from ``path``, where every trial runs)."""

    folder: Path
    path: Path
    cpu_s: dict[str, float]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted run and the CPU time of each of its stages [s]."""
    base = tmp_path_factory.mktemp("fault")
    _dhstat_run(base / "run")
    (base / "run").rename(base / "reference")
    record = read_json(base / "reference" / "run.json", schema="run")
    cpu = {stage["name"]: float(stage["cpu_s"]) for stage in record["stages"]}
    return Reference(base / "reference", base / "run", cpu)


@dataclasses.dataclass(frozen=True)
class Trial:
    """One kill: in which stage to aim, how far into it, and how the run is started."""

    stage: str
    fraction: float
    copy: bool = False  # start from a copy of the reference with --from STAGE
    workers: int = 1


def run_trial(trial: Trial, reference: Reference) -> str:
    """Kill a run as ``trial`` says, rerun, compare; returns the stage the kill landed in.

    ``"finished"`` means the run ended before the kill (a late kill on a fast machine): then it
    is compared as it is.
    """
    outdir = reference.path
    shutil.rmtree(outdir, ignore_errors=True)
    extra: tuple[str, ...] = ()
    if trial.copy:
        shutil.copytree(reference.folder, outdir, symlinks=True)
        extra = ("--from", trial.stage)
    run = _Run(_command(outdir, *extra, workers=trial.workers))
    try:
        assert run.wait_for(f"[{trial.stage}] running"), "\n".join(run.seen)
        time.sleep(trial.fraction * reference.cpu_s[trial.stage])
        landed = run.running()
        run.kill(group=trial.workers == 1)
        if run.process.returncode != -signal.SIGKILL:
            assert run.process.returncode == 0, "\n".join(run.seen)
            landed = "finished"
        assert_complete_files(outdir)
        _dhstat_run(outdir)
    finally:
        run.clean_up()
    assert_same_results(outdir, reference.folder)
    shutil.rmtree(outdir)
    return landed or "between stages"


def _default_trials() -> list[Trial]:
    """Kills while ntuples are written (afresh), in the windows checkpoint and in the toys.

    10-40 % of the stage's CPU time into it. The slow suite kills in every stage.
    """
    rng = random.Random(17)
    return [
        Trial("simulate", rng.uniform(0.1, 0.4)),
        Trial("windows", rng.uniform(0.1, 0.4), copy=True),
        Trial("lee", rng.uniform(0.1, 0.4), copy=True),
    ]


@pytest.mark.parametrize("trial", _default_trials(), ids=lambda t: t.stage)
def test_killed_run_resumes_to_the_same_results(trial: Trial, reference: Reference) -> None:
    assert run_trial(trial, reference) == trial.stage


def _slow_trials() -> list[Trial]:
    """Two kills in every stage (from a copy, every other one with 2 workers), four afresh.

    The kill of a run with workers hits the main process only (as ``kill -9 PID`` does): its
    orphaned workers must not keep the run directory locked.
    """
    rng = random.Random(20230217)

    def fraction(stage: str) -> float:  # the last stage: early enough that the run is still on
        return rng.uniform(0.0, 0.6 if stage == STAGES[-1] else 0.9)

    trials = [
        Trial(stage, fraction(stage), copy=True, workers=1 + k % 2)
        for k in range(2)
        for stage in STAGES
    ]
    for _ in range(4):
        stage = rng.choice(STAGES[:3])
        trials.append(Trial(stage, fraction(stage), workers=2))
    return trials


SLOW_TRIALS = _slow_trials()


def test_slow_trials_cover_every_stage() -> None:
    assert len(SLOW_TRIALS) >= 20
    assert {t.stage for t in SLOW_TRIALS} == set(STAGES)


@pytest.mark.slow
@pytest.mark.parametrize(
    "trial",
    SLOW_TRIALS,
    ids=[f"{k}-{t.stage}-{'copy' if t.copy else 'fresh'}" for k, t in enumerate(SLOW_TRIALS)],
)
def test_kill_anywhere_resumes_to_the_same_results(trial: Trial, reference: Reference) -> None:
    landed = run_trial(trial, reference)
    print(f"{trial}: killed in {landed}, resumed identically")
    assert landed != "finished"


def test_second_run_on_a_running_directory_says_so_in_one_line(tmp_path: Path) -> None:
    outdir = tmp_path / "run"
    first = _Run(_command(outdir))
    try:
        assert first.wait_for("[simulate] running"), "\n".join(first.seen)
        second = subprocess.run(
            _command(outdir), capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        assert first.process.poll() is None
    finally:
        first.clean_up()
    assert second.returncode == 2
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("error: ")
    assert str(outdir / ".lock") in lines[0]
    assert f"locked by process {first.process.pid}" in lines[0]


def test_comparison_sees_a_changed_result(reference: Reference, tmp_path: Path) -> None:
    """The check itself: one changed number, or a leftover temporary file, is caught."""
    ref_dir = reference.folder
    copy = tmp_path / "copy"
    shutil.copytree(ref_dir, copy, symlinks=True)
    assert_same_results(copy, ref_dir)
    lee = json.loads((copy / "lee.json").read_text())
    lee["n_toys"] += 1
    (copy / "lee.json").write_text(json.dumps(lee))
    with pytest.raises(AssertionError, match=r"lee\.json"):
        assert_same_results(copy, ref_dir)
    shutil.copy2(ref_dir / "lee.json", copy / "lee.json")
    (copy / "ntuples" / ".data.root.ab12cd34.part.root").write_bytes(b"half")
    with pytest.raises(AssertionError):
        assert_same_results(copy, ref_dir)
    assert np.isfinite(read_json(copy / "lee.json")["p_global"])
