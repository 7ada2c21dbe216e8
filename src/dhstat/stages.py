"""One files-in/files-out function per stage: the CLI commands and ``dhstat run`` both call these.

Each function reads the files it is given, makes the stage's library calls and writes its outputs
atomically; it returns what it computed, so that the command line can print a summary. The run
directory's names (:mod:`dhstat.rundir`) are bound to these functions once, in
:func:`dhstat.analysis.analysis_stages`, which ``dhstat run`` executes with
:func:`dhstat.pipeline.run`.

Example:
    >>> import inspect
    >>> list(inspect.signature(count).parameters)
    ['cfg', 'windows_file', 'data', 'background', 'output']
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dhstat import (
    counting,
    interpretation,
    lee,
    ntuples,
    publish,
    report,
    samples,
    schemas,
    selection,
    simulation,
    windows,
    workspace,
)
from dhstat import rundir as rd
from dhstat.config import Config
from dhstat.errors import InputError
from dhstat.interpretation.stage import reinterpret
from dhstat.jsonio import read_json, sha256_file, write_json
from dhstat.parallel import Executor
from dhstat.pipeline import Progress, no_progress
from dhstat.processes import BACKGROUNDS, backgrounds_of
from dhstat.provenance import provenance, relative_path
from dhstat.stats import scan as scanning

__all__ = [
    "FROZEN_WINDOWS",
    "background_mc",
    "count",
    "define_windows",
    "interpret",
    "look_elsewhere",
    "make_report",
    "make_workspaces",
    "publish_run",
    "reinterpret",
    "scan_windows",
    "select",
    "simulate",
    "write_sample",
]

log = logging.getLogger(__name__)

#: The windows of the default configuration, frozen: reused when the configuration matches.
FROZEN_WINDOWS = Path(__file__).parent / "data" / "windows-default.json"


def __dir__() -> list[str]:
    return __all__


# ------------------------------------------------------------------------------------ simulate


def simulate(
    cfg: Config,
    directory: Path,
    *,
    seed: int | None = None,
    executor: Executor,
    progress: Progress = no_progress,
) -> dict[str, int]:
    """Simulate the default analysis' inputs into ``directory``: background MC and pseudo-data.

    Writes ``mc_<process>.root`` for each background at ``[simulation] mc_luminosity_factor``
    times the data luminosity (weights normalised to the data) and ``data.root`` (with the
    ``[simulation.injection]`` signal if enabled).

    Returns:
        File name -> events written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    luminosity = float(cfg["dataset"]["luminosity_fb"])
    master = int(cfg["run"]["seed"]) if seed is None else seed
    factor = float(cfg["simulation"]["mc_luminosity_factor"])
    plans = {
        f"mc_{process}.root": simulation.plan_background(
            process, luminosity * factor, cfg=cfg, seed=master, normalise_to_fb=luminosity
        )
        for process in BACKGROUNDS
    }
    injected = cfg["simulation"]["injection"]
    injection = (
        simulation.Injection(injected["ma"], injected["mh"], injected["sigma_fb"])
        if injected["enabled"]
        else None
    )
    plans["data.root"] = simulation.plan_data(luminosity, cfg=cfg, seed=master, injection=injection)
    update = progress(sum(plan.n_events for plan in plans.values()), "events")
    return {
        name: write_sample(plan, directory / name, executor=executor, update=update)
        for name, plan in plans.items()
    }


def write_sample(
    plan: simulation.SamplePlan,
    path: Path,
    *,
    executor: Executor,
    update: Callable[[int], None] | None = None,
) -> int:
    """Simulate ``plan`` chunk by chunk over ``executor`` into the ROOT file ``path``.

    Returns:
        The number of events written.
    """

    def chunks() -> Iterator[Mapping[str, Any]]:
        for task, chunk in zip(
            plan.tasks, executor.imap(simulation.run_chunk, plan.tasks), strict=True
        ):
            if update is not None:
                update(task.n_events)
            yield chunk

    return ntuples.write_chunks(path, "events", chunks(), plan.metadata)


# -------------------------------------------------------------------------------------- select


def select(
    cfg: Config,
    inputs: Sequence[str | Path],
    *,
    output: Path,
    cutflow: Path | None = None,
    macroregions: Path | None = None,
    executor: Executor,
    progress: Progress = no_progress,
) -> selection.SelectionOutput:
    """Select the events of the ntuples ``inputs`` (files or globs) into ``output``.

    Without ``inputs``, the configuration's ``[[samples]]`` are selected instead
    (:func:`dhstat.samples.select_samples`); their signal points go to the tree ``signal`` of
    ``output`` (:func:`dhstat.samples.read_signal_points`). Also writes the cutflow and the
    macroregion yields when their paths are given. Every document is validated before anything
    is written, so nothing is half-written on failure.
    """
    chosen: samples.SamplesSelection | None = None
    if inputs:
        result = selection.select_files(
            [str(p) for p in inputs],
            cfg,
            executor=executor,
            progress=progress(None, "ntuple chunks"),
        )
    elif cfg.get("samples"):
        chosen = samples.select_samples(
            cfg, executor=executor, progress=progress(None, "ntuple chunks")
        )
        result = chosen.output
    else:
        raise InputError(None, "INPUT", "ntuple files, or [[samples]] in the configuration")
    documents: list[tuple[Path, dict[str, Any], str]] = []
    if cutflow is not None:
        document = selection.cutflow_document(result, home=cutflow.parent)
        documents.append((cutflow, document, "cutflow"))
    if macroregions is not None:
        macro = selection.macroregions_document(result, cfg)
        documents.append((macroregions, macro, "macroregions"))
    for path, document, schema in documents:
        schemas.validate(document, schema, source=path)
    if chosen is None:
        selection.write_selected(output, result)
    else:
        samples.write_selected_samples(output, chosen)
    for path, document, schema in documents:
        write_json(path, document, schema=schema)
    return result


def _read_search(paths: Sequence[Path]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The search sample of selected-events files, and the process list its codes index."""
    names = [str(p) for p in paths]
    processes = selection.selected_processes(names)
    return selection.read_selected(names, tree="search", processes=processes), processes


def background_mc(paths: Sequence[Path]) -> dict[str, Any]:
    """The selected background simulation (the run's background processes) of selected files."""
    sample, processes = _read_search(paths)
    wanted = [processes.index(p) for p in backgrounds_of(processes)]
    keep = np.isin(sample["process"], wanted)
    return {k: np.asarray(v)[keep] for k, v in sample.items()}


# ------------------------------------------------------------------------------------- windows


def define_windows(
    cfg: Config,
    *,
    output: Path,
    background: Sequence[Path] = (),
    checkpoint: Path,
    frozen: Path | None = None,
    executor: Executor,
    progress: Progress = no_progress,
    signal: Sequence[windows.SignalPoint] = (),
) -> windows.Windows:
    """Build the search windows (grid, signal fits, Punzi C_eta cuts, efficiencies) into ``output``.

    Args:
        cfg: The configuration.
        output: The windows file to write.
        background: Selected background MC for the Punzi optimisation; empty: simulate and select
            the default background MC.
        checkpoint: Per-point checkpoint (JSON lines): an interrupted run resumes from it.
        frozen: A frozen windows file reused as is when its configuration digest matches ours.
        executor: Where the grid points run.
        progress: Progress-bar factory.
        signal: The analyst's signal MC (one :class:`~dhstat.windows.SignalPoint` per mass
            point): the windows are those points, fitted from their events (no grid, no signal
            simulation, no frozen windows, no checkpoint). Empty: simulate as today.
    """
    if not signal and frozen is not None and frozen.is_file() and windows.is_current(frozen, cfg):
        log.info("windows: the frozen default windows match this configuration; reusing them")
        result = windows.load(frozen)
        windows.save(result, output)
        return result
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if background:
        bkg = background_mc(background)
        home = output.parent
        sources = [f"{relative_path(p, home)} sha256:{sha256_file(p)}" for p in background]
    else:
        bkg = windows.simulate_background(cfg, executor=executor)
        sources = ["simulated default background MC (seed from [run])"]
    grid = windows.grid_points(windows.GridSettings.from_config(cfg))
    total = len(signal) if signal else int(grid.in_range.sum())
    result = windows.define(
        cfg,
        background=bkg,
        executor=executor,
        checkpoint=checkpoint,
        progress=progress(total, "signal points" if signal else "grid points"),
        signal=signal,
    )
    result = dataclasses.replace(result, meta={**result.meta, "background_files": sources})
    windows.save(result, output)
    return result


# --------------------------------------------------------------------------------------- count


def count(
    cfg: Config,
    *,
    windows_file: Path,
    data: Sequence[Path],
    background: Sequence[Path],
    output: Path,
) -> counting.Counts:
    """Count the data and the expected background in every window (and the cells for the toys).

    ``data`` and ``background`` are selected-events files; only the data events of the former
    and the background events of the latter are used, so one file holding both can be given
    for each.
    """
    search = windows.load(windows_file)
    events, processes = _read_search(data)
    observed = counting.split_processes(events, processes)
    simulated = observed
    if list(background) != list(data):
        events, processes = _read_search(background)
        simulated = counting.split_processes(events, processes)
    backgrounds = counting.process_events(simulated, backgrounds_of(processes))
    counts = counting.count(
        search,
        counting.process_events(observed, ("data",))["data"],
        backgrounds,
        luminosity_fb=float(cfg["dataset"]["luminosity_fb"]),
    )
    home = output.parent
    meta = {
        **counts.meta,
        **provenance(
            windows_file=f"{relative_path(windows_file, home)} sha256:{sha256_file(windows_file)}",
            data_files=[relative_path(p, home) for p in data],
            background_files=[relative_path(p, home) for p in background],
        ),
    }
    counts = dataclasses.replace(counts, meta=meta)
    counting.save(counts, output)
    return counts


# ---------------------------------------------------------------------------------- workspaces


def make_workspaces(
    cfg: Config,
    *,
    counts: Path,
    windows_file: Path,
    output: Path,
    measured: Path | None = None,
    archive: Path | None = None,
    progress: Progress = no_progress,
) -> workspace.WorkspaceSet:
    """Write one pyhf workspace per window and the index into the folder ``output``.

    Args:
        cfg: The configuration.
        counts: The counts file.
        windows_file: The windows file.
        output: The folder for ``index.json`` and ``w<id>.json``.
        measured: Macroregion yields for ``[systematics] source = "measured"`` (else the
            configured table decides).
        archive: Also write the set as a ``.tar.gz`` archive.
        progress: Progress-bar factory.
    """
    settings = workspace.WorkspaceSettings.from_config(cfg, measured=measured)
    luminosity, joined, digests = workspace.read_inputs(counts, windows_file)
    built = workspace.build_set(
        joined,
        settings.rules,
        luminosity_fb=luminosity,
        sigma_max=settings.sigma_max,
        provenance={"config_digest": cfg.digest(), "seed": int(cfg["run"]["seed"]), **digests},
        progress=progress(len(joined), "workspaces"),
    )
    workspace.save_set(built, output)
    if archive is not None:
        workspace.archive(built, archive)
    return built


# ---------------------------------------------------------------------------------------- scan


def scan_windows(
    cfg: Config,
    *,
    source: Path,
    output: Path,
    sigma_max: float | None = None,
    executor: Executor | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Scan a window set (``DIR/index.json``, its folder, or a folder of workspaces) into ``output``.

    Returns:
        The results document written (schema ``scan``).
    """
    settings = scanning.ScanSettings.from_config(cfg["stats"], sigma_max=sigma_max)
    window_set, info = scanning.read_windows(source)
    result = scanning.scan(
        window_set,
        settings=settings,
        info=info,
        executor=executor,
        progress=progress(len(window_set), "windows"),
    )
    document = result.to_dict(
        config_digest=cfg.digest("stats"), source=relative_path(source, output.parent)
    )
    write_json(output, document, schema="scan")
    return document


# ----------------------------------------------------------------------------------------- lee


def look_elsewhere(
    cfg: Config,
    *,
    scan: Path,
    counts: Path,
    output: Path,
    n_toys: int | None = None,
    seed: int | None = None,
    shard: tuple[int, int] | None = None,
    inject: tuple[str, float] | None = None,
    executor: Executor,
    progress: Progress = no_progress,
) -> tuple[lee.RunHeader, dict[str, Any]]:
    """Global significance from correlated background-only toys into ``output``.

    A killed run resumes from its checkpoint in ``<output's folder>/.checkpoints``. With
    ``shard=(i, K)`` only batches i, i+K, ... run and a part file (schema ``lee-part``) is written.

    Returns:
        The run header and the document written (schema ``lee``, or ``lee-part`` for a shard).
    """
    settings = lee.LeeSettings.from_config(cfg["lee"])
    search = lee.search_inputs(
        read_json(scan),
        read_json(counts, schema="counts"),
        scan_source=scan,
        counts_source=counts,
    )
    model, header = lee.prepare(
        search,
        settings,
        n_toys=settings.n_toys if n_toys is None else n_toys,
        seed=int(cfg["run"]["seed"]) if seed is None else seed,
        config_digest=cfg.digest("lee"),
        inputs={"scan": sha256_file(scan), "counts": sha256_file(counts)},
        cells=None if inject is None else _injected(search, *inject),
        executor=executor,
    )
    part = shard or (0, 1)
    folder = output.parent / rd.CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = lee.checkpoint_path(folder, header, part)
    owned = lee.shard_batches(header.n_toys, model.batch_size, part)
    total = sum(min(model.batch_size, header.n_toys - i * model.batch_size) for i in owned)
    results = lee.run_checkpointed(
        model,
        header,
        checkpoint=checkpoint,
        shard=part,
        executor=executor,
        progress=progress(total, "toys"),
    )
    if shard is None:
        document = lee.lee_document(header, results)
        write_json(output, document, schema="lee", indent=None)
    else:
        document = lee.part_document(header, shard, results, complete=True)
        write_json(output, document, schema="lee-part", indent=None)
    checkpoint.unlink(missing_ok=True)
    return header, document


def _injected(search: lee.SearchInputs, window_id: str, sigma_fb: float) -> lee.CellInputs:
    """The search's cells with signal of cross section ``sigma_fb`` injected in ``window_id``."""
    ids = [str(i) for i in search.ids]
    if window_id not in ids:
        option = "--inject"
        raise InputError(option, "WINDOW_ID", "a window id of the scan", got=window_id)
    w = ids.index(window_id)
    return lee.inject_signal(search.cells, w, float(search.windows.signal[w]) * sigma_fb)


# ----------------------------------------------------------------------------------- interpret


def interpret(cfg: Config, *, results: Path, output: Path) -> dict[str, Any]:
    """Limits on eps^2 alpha_D from the cross-section limits of a scan, into ``output``."""
    settings = interpretation.InterpretationSettings.from_config(cfg)
    document = interpretation.interpret(
        results, settings, label=relative_path(results, output.parent)
    )
    write_json(output, document, schema="couplings")
    return document


# -------------------------------------------------------------------------------------- report


def make_report(cfg: Config, rundir: Path, *, progress: Progress = no_progress) -> list[Path]:
    """Draw the figures of the run in ``rundir`` and write its ``report.md``.

    Returns:
        The figure files and, last, the report.
    """
    settings = report.ReportSettings.from_config(cfg)
    update = progress(2, "figures and report")
    figures = report.make_figures(rundir, settings)
    update(1)
    path = report.write_report(rundir, settings, figures=figures)
    update(1)
    return [*figures, path]


def publish_run(cfg: Config, rundir: Path, output: Path) -> Path:
    """Write the HEPData submission (tables and pyhf workspaces) of the run in ``rundir``."""
    return publish.build_submission(rundir, report.ReportSettings.from_config(cfg), output)
