"""The analysis as ``dhstat run`` runs it: every stage of :mod:`dhstat.stages`, bound to the run directory.

Each :class:`~dhstat.pipeline.Stage` names the configuration tables, the run-directory files
(:mod:`dhstat.rundir`) and the modules its digest covers; :func:`dhstat.pipeline.run` runs them in
order and skips those whose digest is unchanged.

Nothing a killed stage leaves behind is read by a later one: every file is written atomically
(:mod:`dhstat.jsonio`), the ntuples folder is staged and swapped in whole
(:func:`dhstat.jsonio.atomic_dir`), the select stage reads only the visible ``ntuples/*.root`` (the
temporary names are hidden), and a stage's stamp is written after its outputs.

With ``[[samples]]`` in the configuration the simulate stage only checks the declared samples and
links their files into ``ntuples/<sample>/`` (so that the select stage's digest covers their
bytes), and the select stage selects the samples (:mod:`dhstat.samples`).

Example:
    >>> [stage.name for stage in analysis_stages()]
    ['simulate', 'select', 'windows', 'count', 'workspaces', 'scan', 'lee', 'interpret', 'report']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dhstat import rundir as rd
from dhstat import samples, stages, windows
from dhstat.config import Config
from dhstat.errors import InputError
from dhstat.jsonio import atomic_dir
from dhstat.parallel import Executor
from dhstat.pipeline import Progress, Stage

__all__ = ["analysis_stages"]


def __dir__() -> list[str]:
    return __all__


def _run_simulate(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    del inputs
    if cfg.get("samples"):  # the analyst's ntuples: nothing to simulate
        _link_samples(cfg, outdir / rd.NTUPLES)
        return
    with atomic_dir(outdir / rd.NTUPLES) as staging:
        stages.simulate(cfg, staging, executor=executor, progress=progress)


def _link_samples(cfg: Config, folder: Path) -> None:
    """Check the declared samples and link their files into ``folder/<sample>/``.

    The select stage's digest covers ``folder``, so the links make it cover the bytes of the
    analyst's files: a file changed in place re-runs the selection. (A new file matching a
    glob is seen once the samples table or ``--from simulate`` re-runs this stage.)
    """
    resolved = samples.resolve_config(cfg)
    kinds = {item.sample.kind for item in resolved}
    missing = [kind for kind in ("data", "background") if kind not in kinds]
    if missing:
        source = str(getattr(cfg, "source", "<config>"))
        expected = "at least one data and one background sample (the analysis compares them)"
        raise InputError(source, "samples", expected, got=f"no {' and no '.join(missing)} sample")
    with atomic_dir(folder) as staging:
        for item in resolved:
            (staging / item.sample.name).mkdir()
            for k, path in enumerate(item.files):
                (staging / item.sample.name / f"{k:04d}-{Path(path).name}").symlink_to(path)


def _ntuple_files(folder: Path) -> list[Path]:
    """The ntuples the select stage reads: ``folder/*.root``, hidden (temporary) files excluded."""
    return sorted(p for p in folder.glob("*.root") if not p.name.startswith("."))


def _run_select(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    stages.select(
        cfg,
        [] if cfg.get("samples") else _ntuple_files(inputs[rd.NTUPLES]),
        output=outdir / rd.SELECTED,
        cutflow=outdir / rd.CUTFLOW,
        macroregions=outdir / rd.MACROREGIONS,
        executor=executor,
        progress=progress,
    )


def _signal_points(cfg: Config, selected: Path) -> list[windows.SignalPoint]:
    """The analyst's selected signal MC (:func:`dhstat.samples.read_signal_points`), if any."""
    if not any(table["kind"] == "signal" for table in cfg.get("samples", ())):
        return []
    return [windows.SignalPoint.from_tuple(p) for p in samples.read_signal_points([selected])]


def _run_windows(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    checkpoint = outdir / rd.CHECKPOINTS / "windows.jsonl"
    stages.define_windows(
        cfg,
        output=outdir / rd.WINDOWS,
        background=[inputs[rd.SELECTED]],
        checkpoint=checkpoint,
        frozen=stages.FROZEN_WINDOWS,
        executor=executor,
        progress=progress,
        signal=_signal_points(cfg, inputs[rd.SELECTED]),
    )
    checkpoint.unlink(missing_ok=True)


def _run_count(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    del executor, progress
    selected = [inputs[rd.SELECTED]]
    stages.count(
        cfg,
        windows_file=inputs[rd.WINDOWS],
        data=selected,
        background=selected,
        output=outdir / rd.COUNTS,
    )


def _run_workspaces(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    del executor
    table = cfg["systematics"]
    own = table["source"] == "measured" and not table["measured_file"]
    stages.make_workspaces(
        cfg,
        counts=inputs[rd.COUNTS],
        windows_file=inputs[rd.WINDOWS],
        output=outdir / rd.WORKSPACES,
        measured=inputs[rd.MACROREGIONS] if own else None,
        progress=progress,
    )


def _run_scan(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    # in this process: the vectorised scan of all windows takes seconds, workers would add more
    del executor
    stages.scan_windows(
        cfg, source=inputs[rd.WORKSPACE_INDEX], output=outdir / rd.RESULTS, progress=progress
    )


def _run_lee(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    stages.look_elsewhere(
        cfg,
        scan=inputs[rd.RESULTS],
        counts=inputs[rd.COUNTS],
        output=outdir / rd.LEE,
        executor=executor,
        progress=progress,
    )
    # checkpoints of other settings or inputs (lee-<key>.jsonl; .json: the earlier format)
    for stale in (outdir / rd.CHECKPOINTS).glob("lee-*.json*"):
        stale.unlink(missing_ok=True)


def _run_interpret(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    del executor
    update = progress(1, "coupling limits")
    stages.interpret(cfg, results=inputs[rd.RESULTS], output=outdir / rd.COUPLINGS)
    update(1)


def _run_report(
    cfg: Config, inputs: Mapping[str, Path], outdir: Path, executor: Executor, progress: Progress
) -> None:
    del inputs, executor
    stages.make_report(cfg, outdir, progress=progress)


_SIMULATION_TABLES = ("physics", "beams", "dataset", "processes", "signal", "detector")
_COMMON = (
    "dhstat.config",
    "dhstat.jsonio",
    "dhstat.pipeline",
    "dhstat.processes",
    "dhstat.provenance",
    "dhstat.stages",
    "dhstat.analysis",
)
_PHYSICS = ("dhstat.physics",)


_STAGES = (
    Stage(
        "simulate",
        _run_simulate,
        tables=("run", *_SIMULATION_TABLES, "simulation", "samples"),
        outputs=(rd.NTUPLES,),
        modules=(*_COMMON, *_PHYSICS, "dhstat.simulation", "dhstat.ntuples"),
    ),
    Stage(
        "select",
        _run_select,
        tables=("run", "physics", "beams", "dataset", "selection", "systematics", "samples"),
        inputs=(rd.NTUPLES,),
        outputs=(rd.SELECTED, rd.CUTFLOW, rd.MACROREGIONS),
        modules=(*_COMMON, *_PHYSICS, "dhstat.selection", "dhstat.ntuples", "dhstat.samples"),
    ),
    Stage(
        "windows",
        _run_windows,
        tables=("run", *windows.DIGEST_TABLES),
        inputs=(rd.SELECTED,),
        outputs=(rd.WINDOWS,),
        modules=(
            *_COMMON,
            *_PHYSICS,
            "dhstat.windows",
            "dhstat.simulation",
            "dhstat.selection",
            "dhstat.samples",
        ),
    ),
    Stage(
        "count",
        _run_count,
        tables=("run", "physics", "beams", "dataset", "windows"),
        inputs=(rd.SELECTED, rd.WINDOWS),
        outputs=(rd.COUNTS,),
        modules=(*_COMMON, "dhstat.counting", "dhstat.windows", "dhstat.selection"),
    ),
    Stage(
        "workspaces",
        _run_workspaces,
        tables=("run", "dataset", "systematics", "stats"),
        inputs=(rd.COUNTS, rd.WINDOWS, rd.MACROREGIONS),
        outputs=(rd.WORKSPACE_INDEX,),
        modules=(*_COMMON, "dhstat.workspace", "dhstat.systematics"),
    ),
    Stage(
        "scan",
        _run_scan,
        tables=("stats",),
        inputs=(rd.WORKSPACE_INDEX,),
        outputs=(rd.RESULTS,),
        modules=(*_COMMON, "dhstat.stats"),
    ),
    Stage(
        "lee",
        _run_lee,
        tables=("run", "stats", "lee"),
        inputs=(rd.RESULTS, rd.COUNTS),
        outputs=(rd.LEE,),
        modules=(*_COMMON, "dhstat.stats", "dhstat.lee"),
    ),
    Stage(
        "interpret",
        _run_interpret,
        tables=("physics", "beams", "stats", "interpretation"),
        inputs=(rd.RESULTS,),
        outputs=(rd.COUPLINGS,),
        modules=(*_COMMON, *_PHYSICS, "dhstat.interpretation", "dhstat.stats"),
    ),
    Stage(
        "report",
        _run_report,
        tables=("report",),
        inputs=(rd.CUTFLOW, rd.WINDOWS, rd.COUNTS, rd.RESULTS, rd.LEE, rd.COUPLINGS),
        outputs=(rd.REPORT,),
        modules=(*_COMMON, "dhstat.report", "dhstat.plots", "dhstat.interpretation"),
    ),
)


def analysis_stages() -> tuple[Stage, ...]:
    """The stages of the analysis in order, as ``dhstat run`` runs them, bound to the run directory.

    simulate -> select -> windows -> count -> workspaces -> scan -> lee -> interpret -> report.
    Each stage's digest covers its configuration tables, its input files, the dhstat version
    and the source of the modules it runs, so editing a stage's code re-runs it.
    """
    return _STAGES
