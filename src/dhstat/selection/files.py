"""Selecting ntuple files: chunked reading over the executor, merged in a fixed order.

:func:`select_files` turns a list of files into tasks (a whole file, or two chunks of it when
:mod:`dhstat.ntuples` can read entry ranges), runs them on the executor, and merges the results
in task order, so the output does not depend on the number of workers. The workers get the
:class:`~dhstat.selection.settings.SelectionSettings`, built once, not the configuration.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.jsonio import canonical_digest
from dhstat.processes import PROCESSES
from dhstat.selection.branches import BRANCHES
from dhstat.selection.cutflow import SAMPLES, Cutflow
from dhstat.selection.cuts import select
from dhstat.selection.settings import SelectionSettings
from dhstat.selection.variables import VARIABLES

__all__ = ["SelectionOutput", "concatenate", "select_files"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class SelectionOutput:
    """The selection of a list of files, merged in input order.

    Attributes:
        samples: Per sample of :data:`~dhstat.selection.SAMPLES`:
            :data:`~dhstat.selection.VARIABLES` plus ``process`` (int32 index into
            ``processes``) -> flat arrays, events in input order.
        cutflows: Cutflow per process (all files of the process added in input order).
        files: Input files per process, in input order.
        config_digest: Digest of the ``selection``, ``beams`` and ``physics`` tables used.
        luminosity_fb: Luminosity of the data files (from their metadata), else of the
            configuration's ``[dataset]``.
        processes: The process names the ``process`` codes index
            (:func:`dhstat.processes.run_processes`; default :data:`dhstat.processes.PROCESSES`).
    """

    samples: Mapping[str, Mapping[str, NDArray[Any]]]
    cutflows: Mapping[str, Cutflow]
    files: Mapping[str, tuple[str, ...]]
    config_digest: str
    luminosity_fb: float
    processes: tuple[str, ...] = PROCESSES


@dataclass(frozen=True, slots=True)
class _Task:
    path: str
    process: str
    entry_start: int
    entry_stop: int | None
    chunk_size: int
    mapping: Mapping[str, str]
    settings: SelectionSettings


@dataclass(frozen=True, slots=True)
class _TaskResult:
    samples: Mapping[str, Mapping[str, NDArray[Any]]]
    cutflow: Cutflow
    chunks: int
    #: An InputError raised in the worker, as (source, field, expected, got): InputError does
    #: not survive pickling between processes, so it travels as data and is re-raised.
    error: tuple[str, str, str, Any] | None = None


def _select_task(task: _Task) -> _TaskResult:
    """Run :func:`_select_chunks`, returning bad input as data instead of raising it."""
    try:
        return _select_chunks(task)
    except InputError as error:
        empty: dict[str, dict[str, NDArray[Any]]] = {s: {} for s in SAMPLES}
        # errors of the events themselves name no file: they are this task's file
        source = str(task.path) if error.source == "<input>" else error.source
        return _TaskResult(
            empty, Cutflow.empty(), 0, (source, error.field, error.expected, error.got)
        )


def concatenate(
    parts: Sequence[Mapping[str, NDArray[Any]]], names: Sequence[str]
) -> dict[str, Any]:
    """Columns ``names`` of ``parts`` joined in order (empty float arrays when no parts).

    Example:
        >>> concatenate([{"a": np.array([1])}, {"a": np.array([2])}], ["a"])["a"].tolist()
        [1, 2]
    """
    return {
        name: np.concatenate([part[name] for part in parts]) if parts else np.zeros(0)
        for name in names
    }


def _select_chunks(task: _Task) -> _TaskResult:
    """Read one file (or one entry range of it) chunk by chunk and select each chunk."""
    index = PROCESSES.index(task.process)
    parts: dict[str, list[dict[str, NDArray[Any]]]] = {s: [] for s in SAMPLES}
    flow = Cutflow.empty()
    chunks = 0
    ranged = {"entry_start": task.entry_start, "entry_stop": task.entry_stop}
    for _path, _chunk, arrays in ntuples.iterate(
        [task.path],
        "events",
        BRANCHES,
        step_size=task.chunk_size,
        mapping=task.mapping,
        **(ranged if task.entry_stop is not None else {}),
    ):
        result = select(arrays, task.settings, process=task.process)
        flow = flow + result.cutflow
        chunks += 1
        for sample in SAMPLES:
            columns = dict(result.sample(sample))
            columns["process"] = np.full(len(columns["weight"]), index, dtype=np.int32)
            parts[sample].append(columns)
    names = (*VARIABLES, "process")
    merged = {s: concatenate(parts[s], names) for s in SAMPLES}
    for s in SAMPLES:
        merged[s]["process"] = merged[s]["process"].astype(np.int32)
    return _TaskResult(merged, flow, chunks)


def _tasks(
    files: Sequence[str], cfg: Mapping[str, Any], settings: SelectionSettings
) -> tuple[list[_Task], dict[str, Mapping[str, Any]]]:
    """The tasks reading ``files``, and each file's metadata."""
    chunk_size = int(cfg["run"]["chunk_size"])
    mapping = dict(cfg["selection"]["branches"])
    tasks: list[_Task] = []
    metadata: dict[str, Mapping[str, Any]] = {}
    ranged = _ranged_reading()
    for path in files:
        meta = ntuples.read_metadata(path, required=False)
        if not meta:
            expected = (
                "dhstat metadata naming the process; declare files without it in [[samples]] "
                "of the configuration (and give no INPUT)"
            )
            raise InputError(path, ntuples.METADATA_KEY, expected)
        process = str(meta.get("process", ""))
        if process not in PROCESSES:
            raise InputError(
                path, "dhstat_metadata.process", f"one of {', '.join(PROCESSES)}", got=process
            )
        metadata[path] = meta
        if not ranged:  # one task per file, which reads it chunk by chunk
            tasks.append(_Task(path, process, 0, None, chunk_size, mapping, settings))
            continue
        # two chunks per task: the chunks of a large file are spread over the workers
        entries = int(ntuples.num_entries(path, "events"))
        span = 2 * chunk_size
        for start in range(0, max(entries, 1), span):
            stop = min(start + span, entries)
            tasks.append(_Task(path, process, start, stop, chunk_size, mapping, settings))
    return tasks, metadata


def _ranged_reading() -> bool:
    """Whether :mod:`dhstat.ntuples` can read entry ranges (then files are split into tasks)."""
    parameters = inspect.signature(ntuples.iterate).parameters
    return "entry_start" in parameters and hasattr(ntuples, "num_entries")


def select_files(
    files: Sequence[str | Any],
    cfg: Mapping[str, Any],
    *,
    executor: Any,
    progress: Callable[[int], None] | None = None,
) -> SelectionOutput:
    """Select the events of ntuple files, reading them in chunks over the executor.

    Files (glob patterns allowed) are read in the order given, in chunks of ``[run] chunk_size``
    events, with the branch mapping ``[selection] branches``; each task reads a few chunks, so
    memory is bounded by the chunk size, not the file size. Results are merged in task order,
    so the output does not depend on the number of workers.

    Args:
        files: ROOT files or glob patterns, each with ``dhstat_metadata`` naming its process.
        cfg: The analysis configuration.
        executor: A :class:`dhstat.parallel.Executor`.
        progress: Called with the number of newly finished tasks.

    Returns:
        The selected samples, per-process cutflows and provenance.

    Raises:
        InputError: a file is missing, unreadable or truncated, or lacks branches.

    Example:
        >>> import tempfile, pathlib
        >>> from dhstat import config, ntuples, parallel
        >>> from dhstat.selection.examples import example_events, example_metadata
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "mumu.root"
        >>> ntuples.write_trees(path, {"events": example_events()}, example_metadata("mumu"))
        >>> with parallel.executor(workers=1) as ex:
        ...     out = select_files([str(path)], config.load(), executor=ex)
        >>> out.cutflows["mumu"].raw["search"][-1], out.samples["search"]["process"].tolist()
        (1, [2])
    """
    paths = [str(p) for p in ntuples.expand_globs([str(f) for f in files])]
    if not paths:
        raise InputError(None, "INPUT", "at least one ntuple file")
    tasks, metadata = _tasks(paths, cfg, SelectionSettings.from_config(cfg))
    parts: dict[str, list[Mapping[str, NDArray[Any]]]] = {s: [] for s in SAMPLES}
    flows: dict[str, Cutflow] = {}
    for task, result in zip(tasks, executor.imap(_select_task, tasks), strict=True):
        if result.error is not None:
            source, field_, expected, got = result.error
            raise InputError(source, field_, expected, got=got)
        flows[task.process] = flows.get(task.process, Cutflow.empty()) + result.cutflow
        for s in SAMPLES:
            parts[s].append(result.samples[s])
        if progress is not None:
            progress(1)
    names = (*VARIABLES, "process")
    samples = {s: concatenate(parts[s], names) for s in SAMPLES}
    for s in SAMPLES:
        samples[s]["process"] = np.asarray(samples[s]["process"], dtype=np.int32)
    by_process: dict[str, list[str]] = {}
    lumi = [_luminosity(path, m) for path, m in metadata.items() if m.get("is_data")]
    for path in paths:
        by_process.setdefault(str(metadata[path]["process"]), []).append(path)
    return SelectionOutput(
        samples=samples,
        cutflows={p: flows[p] for p in PROCESSES if p in flows},
        files={p: tuple(v) for p, v in by_process.items()},
        config_digest=_digest(cfg),
        luminosity_fb=sum(lumi) if lumi else float(cfg["dataset"]["luminosity_fb"]),
    )


def _digest(cfg: Mapping[str, Any]) -> str:
    """Digest of the tables the selection depends on."""
    return canonical_digest({name: cfg[name] for name in ("selection", "beams", "physics")})


def _luminosity(path: str, metadata: Mapping[str, Any]) -> float:
    """The data luminosity a file's metadata records [fb^-1] (0 when it records none)."""
    try:
        value = float(metadata.get("luminosity_fb", 0.0))
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise InputError(path, "dhstat_metadata.luminosity_fb", "a finite number >= 0", got=value)
    return value
