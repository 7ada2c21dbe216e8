"""The stage runner behind ``dhstat run``: every stage once, skipped when nothing it depends on changed.

A :class:`Stage` names the configuration tables it reads, the files it reads (relative to the run
directory) and the files it writes. Before running a stage the runner computes its *digest*: a hash
of those configuration tables, the SHA-256 of every input file and the dhstat version. The stage is
skipped when the stamp ``OUTDIR/.stamps/<stage>.json`` records the same digest and all its outputs
exist. Every stage writes its outputs atomically and the runner writes the stamp last, so a run that
was interrupted resumes at the first stage without a valid stamp. Because inputs are identified by
content, a stage that is re-run but writes identical files does not make the stages after it re-run.

Per stage the runner records wall time, CPU time and peak memory in ``OUTDIR/run.json`` (schema
``run``), rewritten after each stage.

While it runs, the runner holds a lock on ``OUTDIR/.lock`` (``flock``: the system releases it when
the process ends, however it ends), so a second run on the same directory stops at once with an
:class:`~dhstat.errors.InputError`. Holding the lock, it first removes the temporary files and
folders that killed writers left behind (:func:`dhstat.jsonio.remove_temporaries`: dhstat's own
hidden ``.<name>.XXXXXXXX.part...`` names, in the directory and its subfolders).

Example:
    >>> import tempfile, pathlib
    >>> from dhstat import config
    >>> def make(cfg, inputs, outdir, executor, progress):
    ...     (outdir / "a.txt").write_text("a")
    >>> stage = Stage("make", make, tables=("run",), outputs=("a.txt",))
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> [r.status for r in run(config.load(), out, [stage]).stages]
    ['ran']
    >>> [r.status for r in run(config.load(), out, [stage]).stages]
    ['skipped']
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import resource
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from dhstat import __version__
from dhstat.config import Config
from dhstat.errors import InputError
from dhstat.jsonio import (
    canonical_digest,
    read_json,
    remove_temporaries,
    sha256_file,
    write_json,
)
from dhstat.parallel import Executor, executor
from dhstat.rundir import LOCK, RUN, STAMPS

__all__ = [
    "STAMPS",
    "Progress",
    "RunResult",
    "Stage",
    "StageFunction",
    "StageResult",
    "digest_path",
    "no_progress",
    "run",
    "stage_digest",
]

log = logging.getLogger(__name__)


def __dir__() -> list[str]:
    return __all__


class Progress(Protocol):
    """Makes a progress updater: ``update = progress(total, description); update(n)``."""

    def __call__(self, total: int | None, description: str = "") -> Callable[[int], None]:
        """Start a bar of ``total`` items; the returned function advances it by ``n``."""
        ...


class StageFunction(Protocol):
    """What a stage runs: reads ``inputs`` (absolute paths), writes its outputs into ``outdir``."""

    def __call__(
        self,
        cfg: Config,
        inputs: Mapping[str, Path],
        outdir: Path,
        executor: Executor,
        progress: Progress,
    ) -> Any:
        """Run the stage."""
        ...


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the analysis.

    Attributes:
        name: Short name (``"select"``), also the stamp's file name.
        function: Called as ``function(cfg, inputs, outdir, executor, progress)``; must write every
            file in ``outputs`` (atomically). Its return value is ignored.
        tables: Configuration tables the stage reads; a change in any of them re-runs it.
        inputs: Files or folders (relative to the run directory) the stage reads.
        outputs: Files or folders (relative to the run directory) the stage writes.
        modules: Python modules (``"dhstat.windows"``) whose source is part of the digest, so
            that a code change re-runs the stage even within one dhstat version.
    """

    name: str
    function: StageFunction
    tables: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StageResult:
    """What happened to one stage in one run.

    Attributes:
        name: The stage's name.
        status: ``"ran"`` or ``"skipped"`` (its stamp was valid).
        digest: The stage's digest (configuration tables, input files, dhstat version).
        wall_s: Wall time [s] (0 when skipped).
        cpu_s: CPU time of this process and of finished worker processes [s].
        peak_rss_mb: Peak resident memory of the main process during the stage [MB].
        children_peak_rss_mb: Largest peak resident memory of any finished worker so far [MB].
    """

    name: str
    status: Literal["ran", "skipped"]
    digest: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    children_peak_rss_mb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """As written into ``run.json``."""
        return {
            "name": self.name,
            "status": self.status,
            "digest": self.digest,
            "wall_s": round(self.wall_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "peak_rss_mb": round(self.peak_rss_mb, 2),
            "children_peak_rss_mb": round(self.children_peak_rss_mb, 2),
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of :func:`run`.

    Attributes:
        outdir: The run directory.
        stages: One result per stage, in order.
        wall_s: Total wall time [s].
    """

    outdir: Path
    stages: tuple[StageResult, ...] = field(default_factory=tuple)
    wall_s: float = 0.0

    @property
    def ran(self) -> tuple[str, ...]:
        """Names of the stages that ran (were not skipped)."""
        return tuple(r.name for r in self.stages if r.status == "ran")


def digest_path(path: Path) -> str:
    """SHA-256 of a file, or of a folder (its relative file names and their SHA-256, sorted).

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "x").write_text("1")
        1
        >>> len(digest_path(folder))
        64
    """
    if path.is_dir():
        listing = {
            str(p.relative_to(path)): sha256_file(p)
            for p in sorted(path.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }
        return canonical_digest(listing)
    return sha256_file(path)


def stage_digest(cfg: Config, stage: Stage, outdir: Path) -> str:
    """The digest deciding whether ``stage`` must run: its tables, its inputs' bytes, the version.

    Raises:
        InputError: an input of the stage does not exist (an earlier stage did not write it).
    """
    inputs: dict[str, str] = {}
    for name in stage.inputs:
        path = outdir / name
        if not path.exists():
            raise InputError(path, "(file)", f"an input of stage {stage.name!r}")
        inputs[name] = digest_path(path)
    document = {
        "stage": stage.name,
        "config": cfg.digest(*stage.tables) if stage.tables else "",
        "inputs": inputs,
        "dhstat_version": __version__,
        "code": {name: _module_digest(name) for name in stage.modules},
    }
    return canonical_digest(document)


def _module_digest(name: str) -> str:
    """SHA-256 of a module's source file(s) (a package: all its ``.py`` files)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return ""
    origin = Path(spec.origin)
    if origin.name == "__init__.py":
        return digest_path_glob(origin.parent, "*.py")
    return sha256_file(origin)


def digest_path_glob(folder: Path, pattern: str) -> str:
    """SHA-256 of the files of ``folder`` matching ``pattern`` (names and contents)."""
    listing = {p.name: sha256_file(p) for p in sorted(folder.glob(pattern)) if p.is_file()}
    return canonical_digest(listing)


def _stamp_path(outdir: Path, name: str) -> Path:
    return outdir / STAMPS / f"{name}.json"


def _stamp_valid(outdir: Path, stage: Stage, digest: str) -> bool:
    path = _stamp_path(outdir, stage.name)
    if not path.is_file():
        return False
    try:
        stamp = read_json(path)
    except InputError:
        return False
    if not isinstance(stamp, dict) or stamp.get("digest") != digest:
        return False
    return all((outdir / name).exists() for name in stage.outputs)


def _peak_self_mb() -> float:
    """Peak RSS of this process since the last :func:`_reset_peak` [MB]."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # pragma: no cover


def _reset_peak() -> None:
    """Reset the peak-RSS counter of this process (Linux ``clear_refs``), when allowed."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def no_progress(total: int | None, description: str = "") -> Callable[[int], None]:  # noqa: ARG001
    """A :class:`Progress` that shows nothing (the default of every stage)."""

    def update(n: int) -> None:  # noqa: ARG001
        return None

    return update


def _ignore(name: str, event: str) -> None:  # noqa: ARG001
    return None


def _write_run(
    outdir: Path,
    cfg: Config,
    results: Sequence[StageResult],
    started: str,
    wall: float,
    status: str,
    workers: int,
) -> None:
    document = {
        "schema_version": "1.0.0",
        "dhstat_version": __version__,
        "config_source": cfg.source,
        "config_digest": cfg.digest(),
        "started": started,
        "status": status,
        "workers": workers,
        "wall_s": round(wall, 4),
        "peak_rss_mb": round(max((r.peak_rss_mb for r in results), default=0.0), 2),
        "children_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, 2
        ),
        "stages": [r.to_dict() for r in results],
    }
    write_json(outdir / RUN, document, schema="run")


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``root/.lock`` (created if needed) for the block.

    Raises:
        InputError: another process holds it (names the lock file and, if known, that process).
    """
    path = root / LOCK
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise InputError(root, "(folder)", "a writable run directory", got=error.strerror) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip()
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise InputError(
                path,
                "(lock)",
                "no other dhstat run writing this run directory (wait for it to finish, or use "
                "another directory)",
                got=f"locked by {who}",
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(handle)  # releases the lock


def run(
    cfg: Config,
    outdir: str | Path,
    stages: Sequence[Stage],
    *,
    open_executor: Callable[[], contextlib.AbstractContextManager[Executor]] | None = None,
    start: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Run ``stages`` in order in ``outdir``, skipping those whose stamp is still valid.

    Args:
        cfg: The analysis configuration.
        outdir: The run directory (created if needed); stage inputs and outputs are relative to it.
        stages: The stages in order (:func:`dhstat.stages.analysis_stages` for the analysis).
        open_executor: Opens the executor handed to a stage (a fresh one per stage that runs, so
            worker memory is returned between stages); default: one worker in this process.
        start: Re-run this stage and every later one, whatever their stamps say.
        force: Re-run every stage.
        progress: Progress-bar factory passed to the stages.
        on_stage: Called as ``on_stage(name, event)`` with event ``"start"``, ``"ran"`` or
            ``"skipped"`` (the CLI prints from it).

    Returns:
        What ran, what was skipped, and the timings (also written to ``outdir/run.json``).

    Raises:
        InputError: ``start`` names no stage, a stage's input is missing, or another run holds
            the directory's lock.
    """
    root = Path(outdir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(root, "(folder)", "a run directory", got=error.strerror) from None
    names = [stage.name for stage in stages]
    if start is not None and start not in names:
        expected = f"one of {', '.join(names)}"
        option = "--from"
        raise InputError(option, "stage", expected, got=start)
    first_forced = names.index(start) if start is not None else (0 if force else len(names))
    with _locked(root):
        for stale in remove_temporaries(root, depth=1):
            log.info("removed %s, left by an interrupted write", stale)
        return _run_locked(
            cfg,
            root,
            stages,
            first_forced=first_forced,
            opener=open_executor or (lambda: executor(workers=1)),
            bars=progress or no_progress,
            notify=on_stage or _ignore,
        )


def _run_locked(
    cfg: Config,
    root: Path,
    stages: Sequence[Stage],
    *,
    first_forced: int,
    opener: Callable[[], contextlib.AbstractContextManager[Executor]],
    bars: Progress,
    notify: Callable[[str, str], None],
) -> RunResult:
    """The body of :func:`run`, with the lock held: run or skip each stage, record the timings."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    results: list[StageResult] = []
    workers = 1
    status = "interrupted"
    try:
        for index, stage in enumerate(stages):
            digest = stage_digest(cfg, stage, root)
            if index < first_forced and _stamp_valid(root, stage, digest):
                log.info("stage %s: up to date, skipped", stage.name)
                results.append(StageResult(stage.name, "skipped", digest))
                notify(stage.name, "skipped")
                continue
            notify(stage.name, "start")
            _stamp_path(root, stage.name).unlink(missing_ok=True)
            result, used = _run_stage(cfg, stage, root, digest, opener, bars)
            results.append(result)
            workers = max(workers, used)
            write_json(
                _stamp_path(root, stage.name),
                {"digest": digest, "stage": stage.name, "dhstat_version": __version__},
            )
            notify(stage.name, "ran")
            _write_run(root, cfg, results, started, time.perf_counter() - t0, "running", workers)
        status = "complete"
    finally:
        _write_run(root, cfg, results, started, time.perf_counter() - t0, status, workers)
    return RunResult(root, tuple(results), time.perf_counter() - t0)


def _run_stage(
    cfg: Config,
    stage: Stage,
    root: Path,
    digest: str,
    opener: Callable[[], contextlib.AbstractContextManager[Executor]],
    progress: Progress,
) -> tuple[StageResult, int]:
    inputs = {name: root / name for name in stage.inputs}
    _reset_peak()
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    with opener() as ex:
        used = ex.workers
        stage.function(cfg, inputs, root, ex, progress)
    wall = time.perf_counter() - t0
    missing = [name for name in stage.outputs if not (root / name).exists()]
    if missing:
        msg = f"stage {stage.name!r} did not write {', '.join(missing)}"
        raise RuntimeError(msg)
    result = StageResult(
        stage.name,
        "ran",
        digest,
        wall_s=wall,
        cpu_s=_cpu_seconds() - cpu0,
        peak_rss_mb=_peak_self_mb(),
        children_peak_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
    )
    return result, used
