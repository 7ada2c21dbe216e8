"""Batches of background-only toys: the unit of parallel work, seeding, sharding and checkpoints.

Toys run in batches (``batch_size`` toys, random numbers from ``parallel.task_rng(seed, batch)``,
i.e. ``SeedSequence(seed).spawn(...)[batch]``) through ``parallel.executor``. A shard ``i/K`` owns
batches ``i, i + K, ...`` of the same global numbering, so merged shards reproduce the single run
exactly. Each toy's local Z per window comes from the Z tables of the model (the same function as
the observed Z); its maximum over the windows, and for the first ``gv_toys`` toys the Euler
characteristic of ``{Z > sqrt(u)}`` per threshold, are kept.

Example:
    >>> shard_batches(1000, 100)
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import parallel
from dhstat.lee.euler import euler_characteristic
from dhstat.lee.model import ToyModel
from dhstat.lee.sampling import cell_layout, window_counts
from dhstat.lee.ztables import Z_BELOW, ZTable

__all__ = ["BatchResult", "run_batch", "run_toys", "shard_batches"]


#: Upper bound on cells x toys generated at once inside a batch (bounds the memory of a task).
_CHUNK_ELEMENTS = 1 << 22


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one batch of toys.

    Attributes:
        index: Global batch number.
        max_z: Largest local Z per toy, shape (T,).
        argmax: Window index of that largest Z per toy, shape (T,).
        euler: Euler characteristic per Gross-Vitells toy (rows) and threshold (columns).
    """

    index: int
    max_z: NDArray[np.float64]
    argmax: NDArray[np.int64]
    euler: NDArray[np.int64]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``batches`` items of a part file)."""
        return {
            "index": self.index,
            "max_z": [float(x) for x in self.max_z],
            "argmax": [int(x) for x in self.argmax],
            "euler": [[int(x) for x in row] for row in self.euler],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_thresholds: int) -> BatchResult:
        """Inverse of :meth:`to_dict`."""
        euler = np.asarray(data["euler"], dtype=np.int64).reshape(-1, n_thresholds)
        return cls(
            int(data["index"]),
            np.asarray(data["max_z"], dtype=np.float64),
            np.asarray(data["argmax"], dtype=np.int64),
            euler,
        )


def _batch_size(model: ToyModel, n_toys: int, index: int) -> int:
    return max(0, min(model.batch_size, n_toys - index * model.batch_size))


@dataclass(frozen=True, slots=True)
class _Padded:
    """Z tables with a :data:`Z_BELOW` entry before and a ``+inf`` entry after each window's table.

    ``values[clip(n + shift, first, last)]`` is the fast lookup of counts n of shape (W, T).
    """

    values: NDArray[np.float64]
    shift: NDArray[np.int64]
    first: NDArray[np.int64]
    last: NDArray[np.int64]


def _padded_tables(table: ZTable) -> _Padded:
    w = table.n_min.size
    start = table.offsets[:-1] + 2 * np.arange(w)  # position of the Z_BELOW entry
    length = np.diff(table.offsets)
    values = np.empty(table.values.size + 2 * w)
    inside = np.ones(values.size, dtype=bool)
    inside[start] = False
    inside[start + length + 1] = False
    values[inside] = table.values
    values[start] = Z_BELOW
    values[start + length + 1] = math.inf
    return _Padded(
        values,
        (start + 1 - table.n_min)[:, None],
        start[:, None],
        (start + length + 1)[:, None],
    )


def run_batch(task: tuple[ToyModel, int, int, int]) -> BatchResult:
    """Simulate one batch: ``task = (model, seed, batch index, total number of toys)``.

    Module-level so that executors can ship it. Random numbers come from
    ``parallel.task_rng(seed, index)`` only, so a batch's result does not depend on where it runs.
    """
    model, seed, index, n_toys = task
    size = _batch_size(model, n_toys, index)
    rng = parallel.task_rng(seed, index)
    first = index * model.batch_size
    layout = cell_layout(model)
    lookup = _padded_tables(model.ztable)
    chunk = max(1, min(size, _CHUNK_ELEMENTS // max(layout.small.size, 1)))
    n_sys = model.relative.shape[0]
    max_z = np.empty(size, dtype=np.float64)
    argmax = np.empty(size, dtype=np.int64)
    n_gv = max(0, min(size, model.gv_toys - first))
    euler = np.zeros((n_gv, len(model.thresholds)), dtype=np.int64)
    roots = np.sqrt(np.asarray(model.thresholds, dtype=np.float64))
    # The systematic draws of the whole batch come first; toys with similar draws are simulated
    # together (narrow range of the systematic factor per chunk: few pairs need an exact
    # inversion). Every toy keeps its own position in the batch.
    theta_all = rng.standard_normal((n_sys, size)) if n_sys else None
    if theta_all is not None:
        weight = np.abs(model.relative).max(axis=1, initial=0.0)
        order = np.argsort(weight @ theta_all, kind="stable")
    else:
        order = np.arange(size)
    for start in range(0, size, chunk):
        toys = order[start : start + chunk]
        t = toys.size
        theta = None if theta_all is None else theta_all[:, toys]
        n_w = window_counts(model, layout, rng, theta, t)
        z = lookup.values[np.clip(n_w + lookup.shift, lookup.first, lookup.last)]
        kept = np.flatnonzero(toys < n_gv)
        best = np.argmax(z, axis=0)
        top = z[best, np.arange(t)]
        # A count above its table looks up +inf: compute those exactly where they matter (the
        # toy's maximum, Euler characteristics); a toy with every window below its table gets
        # its Z computed exactly.
        redo = np.flatnonzero((top == math.inf) | (top == Z_BELOW) | (toys < n_gv))
        if redo.size:
            block = z[:, redo]
            over = np.isposinf(block)
            if np.any(over):
                rows, cols = np.nonzero(over)
                block[rows, cols] = model.exact_z(rows, n_w[rows, redo[cols]])
            below = np.flatnonzero(np.all(block == Z_BELOW, axis=0))
            if below.size:
                block[:, below] = model.lookup(n_w[:, redo[below]])
            z[:, redo] = block
            best[redo] = np.argmax(block, axis=0)
            top[redo] = block[best[redo], np.arange(redo.size)]
        argmax[toys] = best
        max_z[toys] = top
        if kept.size:
            zz = z[:, kept]
            for j, root in enumerate(roots):
                euler[toys[kept], j] = euler_characteristic(zz > root, model.graph)
    return BatchResult(index, max_z, argmax, euler)


def shard_batches(n_toys: int, batch_size: int, shard: tuple[int, int] = (0, 1)) -> list[int]:
    """Global batch numbers owned by shard ``i`` of ``K`` (batches i, i + K, ...).

    Example:
        >>> shard_batches(1000, 100, (1, 3))
        [1, 4, 7]
    """
    i, k = shard
    n_batches = -(-n_toys // batch_size)
    return list(range(i, n_batches, k))


def run_toys(
    model: ToyModel,
    *,
    n_toys: int,
    seed: int,
    batches: Iterable[int] | None = None,
    done: Mapping[int, BatchResult] | None = None,
    executor: parallel.Executor | None = None,
    on_batch: Callable[[dict[int, BatchResult]], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[int, BatchResult]:
    """Run the batches not yet ``done``; return all results by batch number.

    Args:
        model: The toy model.
        n_toys: Total number of toys of the whole (unsharded) run.
        seed: Master seed.
        batches: Batch numbers to run (default: all).
        done: Results already available (from a checkpoint); they are not rerun.
        executor: Where to run; default: in this process.
        on_batch: Called with all results so far after each finished batch (checkpointing).
        progress: Called with the number of toys of each finished batch.
    """
    wanted = list(batches) if batches is not None else shard_batches(n_toys, model.batch_size)
    results: dict[int, BatchResult] = {i: done[i] for i in wanted if done and i in done}
    todo = [i for i in wanted if i not in results]
    tasks = ((model, seed, i, n_toys) for i in todo)
    stream = executor.imap(run_batch, tasks) if executor else map(run_batch, tasks)
    for result in stream:
        results[result.index] = result
        if on_batch is not None:
            on_batch(results)
        if progress is not None:
            progress(result.max_z.size)
    return results
