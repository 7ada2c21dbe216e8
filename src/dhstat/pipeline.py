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
import hashlib
import json
import logging
import resource
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from dhstat import __version__
from dhstat.config import Config
from dhstat.errors import InputError
from dhstat.jsonio import canonical_digest, read_json, sha256_file, write_json
from dhstat.parallel import Executor, executor

__all__ = [
    "STAMPS",
    "Progress",
    "RunResult",
    "Stage",
    "StageFunction",
    "StageResult",
    "digest_path",
    "run",
    "stage_digest",
]

log = logging.getLogger(__name__)

#: Folder (inside the run directory) holding one stamp per finished stage.
STAMPS = ".stamps"


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


def _no_progress(total: int | None, description: str = "") -> Callable[[int], None]:  # noqa: ARG001
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
    write_json(outdir / "run.json", document, schema="run")


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
        stages: The stages in order (:func:`analysis_stages` for the analysis).
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
        InputError: ``start`` names no stage, or a stage's input is missing.
    """
    root = Path(outdir)
    root.mkdir(parents=True, exist_ok=True)
    names = [stage.name for stage in stages]
    if start is not None and start not in names:
        expected = f"one of {', '.join(names)}"
        option = "--from"
        raise InputError(option, "stage", expected, got=start)
    first_forced = names.index(start) if start is not None else (0 if force else len(names))
    opener = open_executor or (lambda: executor(workers=1))
    notify = on_stage or _ignore
    bars = progress or _no_progress
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


# --------------------------------------------------------------------------------------------
# the analysis: stage adapters calling each stage's library functions

#: Files of a run directory, relative to it (see docs/internals.md).
NTUPLES = "ntuples"
SELECTED = "selected.root"
CUTFLOW = "cutflow.json"
MACROREGIONS = "macroregions.json"
WINDOWS = "windows.json"
COUNTS = "counts.json"
WORKSPACES = "workspaces"
WORKSPACE_INDEX = "workspaces/index.json"
RESULTS = "results.json"
LEE = "lee.json"
COUPLINGS = "couplings.json"
REPORT = "report.md"
FIGURES = "figures"

_SIMULATION_TABLES = (
    "run",
    "physics",
    "beams",
    "dataset",
    "processes",
    "signal",
    "detector",
    "simulation",
)


def _background_mc(path: Path) -> dict[str, Any]:
    """Selected background simulation (the three SM processes) from a selected-events file."""
    import numpy as np

    from dhstat import selection

    sample = selection.read_selected([path])
    names = list(selection.PROCESSES)
    wanted = [names.index(p) for p in ("mumu", "tautau", "eemumu") if p in names]
    keep = np.isin(sample["process"], wanted)
    return {k: np.asarray(v)[keep] for k, v in sample.items()}


def _stage_simulate(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    from dhstat import ntuples, simulation

    del inputs
    folder = outdir / NTUPLES
    folder.mkdir(parents=True, exist_ok=True)
    luminosity = float(cfg["dataset"]["luminosity_fb"])
    seed = int(cfg["run"]["seed"])
    factor = float(cfg["simulation"]["mc_luminosity_factor"])
    plans = {
        f"mc_{process}.root": simulation.plan_background(
            process, luminosity * factor, cfg=cfg, seed=seed, normalise_to_fb=luminosity
        )
        for process in simulation.BACKGROUNDS
    }
    injected = cfg["simulation"]["injection"]
    injection = (
        simulation.Injection(injected["ma"], injected["mh"], injected["sigma_fb"])
        if injected["enabled"]
        else None
    )
    plans["data.root"] = simulation.plan_data(luminosity, cfg=cfg, seed=seed, injection=injection)
    update = progress(sum(plan.n_events for plan in plans.values()), "events")

    def chunks(plan: simulation.SamplePlan) -> Iterator[Mapping[str, Any]]:
        for task, chunk in zip(
            plan.tasks, executor.imap(simulation.run_chunk, plan.tasks), strict=True
        ):
            update(task.n_events)
            yield chunk

    for name, plan in plans.items():
        ntuples.write_chunks(folder / name, "events", chunks(plan), plan.metadata)


def _stage_select(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    from dhstat import schemas, selection
    from dhstat.jsonio import write_json as write

    files = sorted(str(p) for p in inputs[NTUPLES].glob("*.root"))
    result = selection.select_files(
        files, cfg, executor=executor, progress=progress(None, "ntuple chunks")
    )
    cutflow = selection.cutflow_document(result)
    macro = selection.macroregions_document(result, cfg)
    schemas.validate(cutflow, "cutflow", source=outdir / CUTFLOW)
    schemas.validate(macro, "macroregions", source=outdir / MACROREGIONS)
    selection.write_selected(outdir / SELECTED, result)
    write(outdir / MACROREGIONS, macro, schema="macroregions")
    write(outdir / CUTFLOW, cutflow, schema="cutflow")


def _stage_windows(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    import dataclasses

    from dhstat import windows

    frozen = Path(__file__).parent / "data" / "windows-default.json"
    if frozen.is_file() and windows.is_current(frozen, cfg):
        log.info("windows: the frozen default windows match this configuration; reusing them")
        windows.save(windows.load(frozen), outdir / WINDOWS)
        return
    checkpoint = outdir / ".checkpoints" / "windows.jsonl"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    grid = windows.grid_points(cfg)
    result = windows.define(
        cfg,
        background=_background_mc(inputs[SELECTED]),
        executor=executor,
        checkpoint=checkpoint,
        progress=progress(int(grid.in_range.sum()), "grid points"),
    )
    source = f"{SELECTED} sha256:{sha256_file(inputs[SELECTED])}"
    result = dataclasses.replace(result, meta={**result.meta, "background_files": [source]})
    windows.save(result, outdir / WINDOWS)
    checkpoint.unlink(missing_ok=True)


def _stage_workspaces(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    from dhstat import systematics, workspace

    del executor
    luminosity, joined, digests = workspace.read_inputs(inputs[COUNTS], inputs[WINDOWS])
    table = cfg["systematics"]
    measured = (
        inputs[MACROREGIONS]
        if table["source"] == "measured" and not table["measured_file"]
        else None
    )
    rules = systematics.rules_from_config(cfg, measured=measured)
    built = workspace.build_set(
        joined,
        rules,
        luminosity_fb=luminosity,
        sigma_max=workspace.sigma_max(cfg),
        provenance={
            "config_digest": cfg.digest(),
            "seed": int(cfg["run"]["seed"]),
            **digests,
        },
        progress=progress(len(joined), "workspaces"),
    )
    workspace.save_set(built, outdir / WORKSPACES)


def analysis_stages(cfg: Config) -> tuple[Stage, ...]:
    """The stages of the analysis in order, as ``dhstat run`` runs them.

    simulate -> select -> windows -> count -> workspaces -> scan -> lee -> interpret -> report.
    Each stage's digest covers its configuration tables, its input files, the dhstat version
    and the source of the modules it runs, so editing a stage's code re-runs it.

    Example:
        >>> from dhstat import config
        >>> [s.name for s in analysis_stages(config.load())][:2]
        ['simulate', 'select']
    """
    del cfg  # the stage list does not depend on the configuration (yet)
    common = ("dhstat.config", "dhstat.jsonio", "dhstat.pipeline")
    physics = ("dhstat.physics",)
    stages = [
        Stage(
            "simulate",
            _stage_simulate,
            tables=_SIMULATION_TABLES,
            outputs=(NTUPLES,),
            modules=(*common, *physics, "dhstat.simulation", "dhstat.ntuples"),
        ),
        Stage(
            "select",
            _stage_select,
            tables=("run", "physics", "beams", "dataset", "selection", "systematics"),
            inputs=(NTUPLES,),
            outputs=(SELECTED, CUTFLOW, MACROREGIONS),
            modules=(*common, *physics, "dhstat.selection", "dhstat.ntuples"),
        ),
        Stage(
            "windows",
            _stage_windows,
            tables=_windows_tables(),
            inputs=(SELECTED,),
            outputs=(WINDOWS,),
            modules=(*common, *physics, "dhstat.windows", "dhstat.simulation", "dhstat.selection"),
        ),
        Stage(
            "count",
            _stage_count,
            tables=("run", "physics", "beams", "dataset", "windows"),
            inputs=(SELECTED, WINDOWS),
            outputs=(COUNTS,),
            modules=(*common, "dhstat.counting", "dhstat.windows", "dhstat.selection"),
        ),
        Stage(
            "workspaces",
            _stage_workspaces,
            tables=("run", "dataset", "systematics", "stats"),
            inputs=(COUNTS, WINDOWS, MACROREGIONS),
            outputs=(WORKSPACE_INDEX,),
            modules=(*common, "dhstat.workspace", "dhstat.systematics"),
        ),
        Stage(
            "scan",
            _stage_scan,
            tables=("stats",),
            inputs=(WORKSPACE_INDEX,),
            outputs=(RESULTS,),
            modules=(*common, "dhstat.stats"),
        ),
        Stage(
            "lee",
            _stage_lee,
            tables=("run", "stats", "lee"),
            inputs=(RESULTS, COUNTS),
            outputs=(LEE,),
            modules=(*common, "dhstat.stats"),
        ),
        Stage(
            "interpret",
            _stage_interpret,
            tables=("physics", "beams", "stats", "interpretation"),
            inputs=(RESULTS,),
            outputs=(COUPLINGS,),
            modules=(*common, *physics, "dhstat.interpretation", "dhstat.stats"),
        ),
        Stage(
            "report",
            _stage_report,
            tables=("report",),
            inputs=(CUTFLOW, WINDOWS, COUNTS, RESULTS, LEE, COUPLINGS),
            outputs=(REPORT,),
            modules=(*common, "dhstat.report", "dhstat.plots", "dhstat.interpretation"),
        ),
    ]
    return tuple(stages)


def _windows_tables() -> tuple[str, ...]:
    from dhstat import windows

    return ("run", *windows.DIGEST_TABLES)


def _stage_report(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    from dhstat import report

    del inputs, executor
    update = progress(2, "figures and report")
    figures = report.make_figures(outdir, cfg)
    update(1)
    report.write_report(outdir, cfg, figures=figures)
    update(1)


def _stage_count(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    import dataclasses

    import numpy as np

    from dhstat import counting, selection, windows

    del executor
    update = progress(3, "count")
    search = windows.load(inputs[WINDOWS])
    sample = selection.read_selected([inputs[SELECTED]])
    by_process = counting.split_processes(sample, selection.PROCESSES)
    empty = {k: np.zeros(0) for k in ("mrecoil2", "mmumu2", "ceta", "weight")}
    data = by_process.get("data", empty)
    backgrounds: dict[str, Mapping[str, Any]] = {
        p: by_process.get(p, empty) for p in ("mumu", "tautau", "eemumu")
    }
    update(1)
    counts = counting.count(
        search, data, backgrounds, luminosity_fb=float(cfg["dataset"]["luminosity_fb"])
    )
    update(1)
    meta = {
        **counts.meta,
        "windows_file": f"{WINDOWS} sha256:{sha256_file(inputs[WINDOWS])}",
        "data_files": [SELECTED],
        "background_files": [SELECTED],
        "dhstat_version": __version__,
    }
    counting.save(dataclasses.replace(counts, meta=meta), outdir / COUNTS)
    update(1)


def _stage_scan(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    from dhstat.stats import scan

    del executor
    update = progress(1, "windows")
    settings = scan.ScanSettings.from_config(cfg["stats"])
    window_set, info = scan.read_windows(inputs[WORKSPACE_INDEX])
    result = scan.scan(window_set, settings=settings, info=info)
    document = result.to_dict(config_digest=cfg.digest("stats"))
    write_json(outdir / RESULTS, document, schema="scan")
    update(1)


def _stage_lee(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    from dhstat.jsonio import read_json as read
    from dhstat.stats import lee

    settings = cfg["lee"]
    n_toys = int(settings["n_toys"])
    search = lee.search_inputs(
        read(inputs[RESULTS]),
        read(inputs[COUNTS], schema="counts"),
        scan_source=inputs[RESULTS],
        counts_source=inputs[COUNTS],
    )
    model, header = lee.prepare(
        search,
        settings,
        n_toys=n_toys,
        seed=int(cfg["run"]["seed"]),
        config_digest=cfg.digest("lee"),
        inputs={"scan": sha256_file(inputs[RESULTS]), "counts": sha256_file(inputs[COUNTS])},
        executor=executor,
    )
    # one checkpoint per run header: a checkpoint of other settings is never mistaken for ours
    folder = outdir / ".checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps(header, sort_keys=True, default=str).encode()).hexdigest()
    checkpoint = folder / f"lee-{key[:16]}.json"
    results = lee.run_checkpointed(
        model,
        header,
        checkpoint=checkpoint,
        executor=executor,
        progress=progress(n_toys, "toys"),
    )
    write_json(outdir / LEE, lee.lee_document(header, results), schema="lee", indent=None)
    for stale in folder.glob("lee-*.json"):
        stale.unlink(missing_ok=True)


def _stage_interpret(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    from dhstat import interpretation

    del executor
    update = progress(1, "coupling limits")
    document = interpretation.interpret(inputs[RESULTS], cfg)
    write_json(outdir / COUPLINGS, document, schema="couplings")
    update(1)
