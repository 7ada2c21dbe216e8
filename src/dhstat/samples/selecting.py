"""Selecting the declared samples: chunked reading over the executor, weights, signal points.

Each file is split into tasks of two chunks of ``[run] chunk_size`` entries; a task reads its
entries chunk by chunk (memory bounded by the chunk size, not the file size), evaluates the
weight, normalises it to the data luminosity (:meth:`Sample.scale`), builds the events of the
sample's layout (:class:`~dhstat.selection.layouts.Layout`) and selects them. Results merge in
task order, so the output does not depend on the number of workers.

Weights that are NaN, infinite or negative are counted and refused: the selection stops with one
error naming the sample, the file and the count. Signal samples are selected per mass point
(a number, or the per-event values of the mass branches) and kept apart from the search sample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.jsonio import canonical_digest
from dhstat.samples.declaration import run_processes_of
from dhstat.samples.expressions import evaluate
from dhstat.samples.resolve import ResolvedSample, resolve_config
from dhstat.selection import (
    SAMPLES,
    VARIABLES,
    Cutflow,
    SelectionOutput,
    SelectionSettings,
    branches,
)
from dhstat.selection.cuts import select_events
from dhstat.selection.files import concatenate
from dhstat.selection.layouts import Layout

__all__ = ["SamplesSelection", "SelectedPoint", "select_samples"]

Columns = dict[str, NDArray[Any]]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class SelectedPoint:
    """The selected events of one signal mass point of one sample.

    Attributes:
        sample: The signal sample's name.
        ma: M_A' [GeV].
        mh: M_h' [GeV].
        generated_events: What its efficiency divides by (the sample's ``generated_events``,
            else the entries read at this point).
        read: Entries read at this point.
        search: :data:`~dhstat.selection.VARIABLES` of its events passing the search selection
            (``weight``: the sample's weight, not normalised).
        cutflow: Its cutflow.
    """

    sample: str
    ma: float
    mh: float
    generated_events: int
    read: int
    search: Mapping[str, NDArray[Any]]
    cutflow: Cutflow


@dataclass(frozen=True, slots=True)
class SamplesSelection:
    """The selection of the declared samples.

    Attributes:
        output: Data and backgrounds, as :func:`dhstat.selection.select_files` gives them
            (cutflows also of ``signal``, all points together).
        signal: The signal points, in the order of the samples and of first appearance.
    """

    output: SelectionOutput
    signal: tuple[SelectedPoint, ...]


@dataclass(frozen=True, slots=True)
class _Task:
    sample: int
    path: str
    tree: str
    kind: str
    process: str
    code: int
    reads: Mapping[str, str]
    layout: Layout
    weight: float | str
    scale: float
    masses: tuple[float | None, float | None]
    entry_start: int
    entry_stop: int
    chunk_size: int
    settings: SelectionSettings


@dataclass(slots=True)
class _Result:
    samples: dict[str, list[Columns]] = field(default_factory=lambda: {s: [] for s in SAMPLES})
    cutflow: Cutflow = field(default_factory=Cutflow.empty)
    #: (ma, mh) -> [search columns], entries read, cutflow
    points: dict[tuple[float, float], tuple[list[Columns], int, Cutflow]] = field(
        default_factory=dict
    )
    entries: int = 0
    nonfinite: int = 0
    negative: int = 0
    error: tuple[str, str, str, Any] | None = None


def _masses(task: _Task, keyed: Mapping[str, Any], n: int) -> NDArray[np.float64]:
    """Per event (ma, mh), shape (n, 2), from the numbers or the mass branches."""
    out = np.empty((n, 2))
    for column, (key, value) in enumerate(zip(("ma", "mh"), task.masses, strict=True)):
        out[:, column] = value if value is not None else _flat(task, keyed, f"mass:{key}", key)
    if not np.isfinite(out).all():
        raise InputError(task.path, f"samples[{task.sample}].ma/mh", "finite masses per event")
    return out


def _flat(task: _Task, keyed: Mapping[str, Any], key: str, field: str) -> NDArray[Any]:
    """The branch read as ``key``: one number per event (else InputError naming the sample)."""
    try:
        return branches.flat(keyed, key)
    except InputError as error:
        where = f"samples[{task.sample}].{field}"
        raise InputError(task.path, where, error.expected, got=error.got) from None


def _chunk(task: _Task, keyed: Mapping[str, Any], result: _Result) -> None:
    n = len(next(iter(keyed.values())))
    weights = {k[1:]: _flat(task, keyed, k, "weight") for k in keyed if k.startswith("=")}
    weight = evaluate(task.weight, weights, n=n) * task.scale
    finite = np.isfinite(weight)
    result.entries += n
    result.nonfinite += int(np.count_nonzero(~finite))
    with np.errstate(over="ignore"):  # finite weights whose sum overflows count as one bad
        result.nonfinite += int(not np.isfinite(weight[finite].sum()))
    result.negative += int(np.count_nonzero(finite & (weight < 0)))
    if result.nonfinite or result.negative:
        return  # refused in the end; only the counting goes on
    if task.kind != "signal":
        selected = select_events(task.layout.events(keyed, weight), task.settings, process="")
        result.cutflow = result.cutflow + selected.cutflow
        for s in SAMPLES:
            columns = dict(selected.sample(s))
            columns["process"] = np.full(len(columns["weight"]), task.code, dtype=np.int32)
            result.samples[s].append(columns)
        return
    masses = _masses(task, keyed, n)
    points, inverse = np.unique(masses, axis=0, return_inverse=True)
    for k, (ma, mh) in enumerate(points):
        mask = inverse.reshape(-1) == k
        part = {key: value[mask] for key, value in keyed.items()}
        selected = select_events(task.layout.events(part, weight[mask]), task.settings, process="")
        key = (float(ma), float(mh))
        parts, read, flow = result.points.get(key, ([], 0, Cutflow.empty()))
        parts.append(dict(selected.search))
        result.points[key] = (parts, read + int(mask.sum()), flow + selected.cutflow)
        result.cutflow = result.cutflow + selected.cutflow


def _run(task: _Task) -> _Result:
    """Read one entry range of one file chunk by chunk and select it; bad input comes as data."""
    result = _Result()
    branches = sorted(set(task.reads.values()))
    try:
        for _path, _index, arrays in ntuples.iterate(
            [task.path],
            task.tree,
            branches,
            step_size=task.chunk_size,
            entry_start=task.entry_start,
            entry_stop=task.entry_stop,
        ):
            _chunk(task, {key: arrays[branch] for key, branch in task.reads.items()}, result)
    except InputError as error:
        source = task.path if error.source == "<input>" else error.source
        result.error = (source, error.field, error.expected, error.got)
    return result


def _tasks(
    resolved: Sequence[ResolvedSample], cfg: Mapping[str, Any], settings: SelectionSettings
) -> list[_Task]:
    chunk = int(cfg["run"]["chunk_size"])
    luminosity = float(cfg["dataset"]["luminosity_fb"])
    processes = run_processes_of([item.sample for item in resolved])
    tasks: list[_Task] = []
    for item in resolved:
        sample = item.sample
        masses = tuple(v if isinstance(v, int | float) else None for v in (sample.ma, sample.mh))
        for path in item.files:
            entries = ntuples.num_entries(path, sample.tree)
            tasks.extend(
                _Task(
                    sample.index,
                    path,
                    sample.tree,
                    sample.kind,
                    sample.process,
                    processes.index(sample.process),
                    item.reads(),
                    item.layout,
                    sample.weight,
                    sample.scale(luminosity),
                    (masses[0], masses[1]),
                    start,
                    min(start + 2 * chunk, entries),
                    chunk,
                    settings,
                )
                for start in range(0, max(entries, 1), 2 * chunk)
            )
    return tasks


def _raise(task: _Task, result: _Result, item: ResolvedSample) -> None:
    if result.error is not None:
        source, field_, expected, got = result.error
        if not field_.startswith("samples["):
            field_ = f"{item.sample.field}: {field_}"
        raise InputError(source, field_, expected, got=got)
    if result.nonfinite or result.negative:
        got = f"{result.nonfinite} not finite and {result.negative} negative of {result.entries}"
        expected = "finite weights >= 0 (bad weights are never used; fix or drop these events)"
        raise InputError(task.path, f"{item.sample.field}.weight", expected, got=got)


def select_samples(
    cfg: Mapping[str, Any],
    *,
    executor: Any,
    progress: Callable[[int], None] | None = None,
) -> SamplesSelection:
    """Select the configuration's ``[[samples]]`` (see the module docstring).

    Args:
        cfg: The configuration (:func:`dhstat.config.load`); relative sample paths start at
            its file's folder.
        executor: A :class:`dhstat.parallel.Executor`.
        progress: Called with the number of newly finished tasks.

    Raises:
        InputError: a problem of :func:`~dhstat.samples.resolve.resolve`, a bad chunk, or
            NaN, infinite or negative weights (with their count).
    """
    resolved = resolve_config(cfg)
    if not resolved:
        raise InputError(getattr(cfg, "source", None), "samples", "at least one [[samples]] table")
    by_index = {item.sample.index: item for item in resolved}
    tasks = _tasks(resolved, cfg, SelectionSettings.from_config(cfg))
    parts: dict[str, list[Columns]] = {s: [] for s in SAMPLES}
    flows: dict[str, Cutflow] = {}
    points: dict[tuple[int, float, float], tuple[list[Columns], int, Cutflow]] = {}
    for task, result in zip(tasks, executor.imap(_run, tasks), strict=True):
        _raise(task, result, by_index[task.sample])
        flows[task.process] = flows.get(task.process, Cutflow.empty()) + result.cutflow
        for s in SAMPLES:
            parts[s] += result.samples[s]
        for (ma, mh), (columns, read, flow) in result.points.items():
            mine, total, summed = points.get((task.sample, ma, mh), ([], 0, Cutflow.empty()))
            points[(task.sample, ma, mh)] = (mine + columns, total + read, summed + flow)
        if progress is not None:
            progress(1)
    return SamplesSelection(
        output=_output(cfg, resolved, parts, flows),
        signal=tuple(_point(by_index[k[0]], k, v) for k, v in _ordered(resolved, points).items()),
    )


PointKey = tuple[int, float, float]
PointValue = tuple[list[Columns], int, Cutflow]


def _ordered(
    resolved: Sequence[ResolvedSample], points: Mapping[PointKey, PointValue]
) -> dict[PointKey, PointValue]:
    """The points by sample; a sample's numeric mass point is kept even if no entry was read."""
    ordered: dict[PointKey, PointValue] = {}
    for item in resolved:
        sample = item.sample
        if sample.kind != "signal":
            continue
        if isinstance(sample.ma, int | float) and isinstance(sample.mh, int | float):
            key = (sample.index, float(sample.ma), float(sample.mh))
            ordered[key] = points.get(key, ([], 0, Cutflow.empty()))
        ordered.update({k: v for k, v in points.items() if k[0] == sample.index})
    return ordered


def _point(
    item: ResolvedSample,
    key: tuple[int, float, float],
    value: tuple[list[Columns], int, Cutflow],
) -> SelectedPoint:
    columns, read, flow = value
    generated = item.sample.generated_events
    if generated is None and read == 0:
        expected = "a value: no entry of this sample was read, so none can be counted"
        raise InputError(item.files[0], f"{item.sample.field}.generated_events", expected)
    single = isinstance(item.sample.ma, int | float) and isinstance(item.sample.mh, int | float)
    if single and generated is not None and read > generated:
        expected = f"at least the {read} entries read (the efficiency divides by it)"
        raise InputError(
            item.files[0], f"{item.sample.field}.generated_events", expected, got=generated
        )
    return SelectedPoint(
        sample=item.sample.name,
        ma=key[1],
        mh=key[2],
        generated_events=int(generated if generated is not None else read),
        read=read,
        search=concatenate(columns, VARIABLES),
        cutflow=flow,
    )


def _output(
    cfg: Mapping[str, Any],
    resolved: Sequence[ResolvedSample],
    parts: Mapping[str, list[Columns]],
    flows: Mapping[str, Cutflow],
) -> SelectionOutput:
    names = (*VARIABLES, "process")
    samples = {s: concatenate(parts[s], names) for s in SAMPLES}
    for s in SAMPLES:
        samples[s]["process"] = np.asarray(samples[s]["process"], dtype=np.int32)
    files: dict[str, tuple[str, ...]] = {}
    for item in resolved:
        files[item.sample.process] = files.get(item.sample.process, ()) + item.files
    tables = {name: cfg[name] for name in ("selection", "beams", "physics", "samples")}
    processes = run_processes_of([item.sample for item in resolved])
    return SelectionOutput(
        samples=samples,
        cutflows={p: flows[p] for p in processes if p in flows},
        files={p: files[p] for p in processes if p in files},
        config_digest=canonical_digest(tables),
        luminosity_fb=float(cfg["dataset"]["luminosity_fb"]),
        processes=processes,
    )
