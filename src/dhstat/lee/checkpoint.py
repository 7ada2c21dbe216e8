"""Checkpoints: a run appends every finished batch to a JSON-lines file and resumes from it.

A checkpoint (``lee-<key>.jsonl``, :func:`checkpoint_path`) is named after the run header, so a
killed run restarted with the same settings and inputs resumes without losing or repeating a toy,
and a checkpoint of other settings is never mistaken for it. Its first line is a part document
(schema ``lee-part``) with ``complete: false`` and no batches, written atomically; every further
line is one finished batch, an item of that document's ``batches``, appended as it finishes. Each
checkpoint therefore costs O(batch), whatever the number of toys done. A line is flushed to the
operating system at once (a killed process loses nothing it wrote) and synced to the disk at most
every :data:`SYNC_INTERVAL_S` seconds and at the end (a power cut loses at most that much work).
The last line cut short by a kill (no newline, or not JSON) is dropped, and cut off the file, on
resume; any other damage is an :class:`~dhstat.errors.InputError` that asks to delete the file.

Example:
    >>> import tempfile
    >>> from dhstat import jsonio
    >>> from dhstat.lee.cells import CellInputs
    >>> from dhstat.lee.header import run_header
    >>> from dhstat.lee.model import build_toy_model
    >>> from dhstat.lee.ztables import poisson_pvalue
    >>> b = np.array([1.0, 2.0, 3.0])
    >>> cells = CellInputs(b, np.zeros(3), np.arange(4), np.arange(3))
    >>> model = build_toy_model(b, cells, pvalue=poisson_pvalue, batch_size=10)
    >>> head = run_header(model, n_toys=30, seed=1, z_local=1.0, window=2, window_ids=[0, 1, 2],
    ...                   inputs={"scan": "0" * 64, "counts": "1" * 64})
    >>> path = checkpoint_path(tempfile.mkdtemp(), head)
    >>> sorted(run_checkpointed(model, head, checkpoint=path))
    [0, 1, 2]
    >>> [line[:12] for line in path.read_text().splitlines()]
    ['{"batches": ', '{"argmax": [', '{"argmax": [', '{"argmax": [']
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dhstat import jsonio, parallel, schemas
from dhstat.errors import InputError
from dhstat.lee.header import RunHeader
from dhstat.lee.model import ToyModel
from dhstat.lee.toys import BatchResult, run_toys, shard_batches

__all__ = ["SYNC_INTERVAL_S", "checkpoint_path", "run_checkpointed"]

log = logging.getLogger(__name__)

#: Longest time [s] between two syncs of a checkpoint to the disk (every line is flushed at once).
SYNC_INTERVAL_S = 1.0

_RESTART = "delete the file to restart"


def __dir__() -> list[str]:
    return __all__


def checkpoint_path(
    folder: str | os.PathLike[str], header: RunHeader, shard: tuple[int, int] = (0, 1)
) -> Path:
    """The checkpoint of the run (or shard) ``header`` in ``folder``: ``lee-<key>.jsonl``.

    ``<key>`` is :meth:`RunHeader.checkpoint_key` (16 hex digits), so every setting and input gives
    its own file. A shard ``i/K`` other than the whole run ``0/1`` appends ``-shard<i>of<K>``: the
    shards of one run share the header but not the checkpoint.

    Args:
        folder: Where checkpoints are kept.
        header: The run header.
        shard: ``(i, K)``: shard i of K.
    """
    suffix = "" if tuple(shard) == (0, 1) else f"-shard{shard[0]}of{shard[1]}"
    return Path(folder) / f"lee-{header.checkpoint_key()}{suffix}.jsonl"


def _head(header: RunHeader, shard: tuple[int, int]) -> dict[str, Any]:
    """The first line: a ``lee-part`` document of the run and shard, incomplete, no batches."""
    return {
        "schema_version": "1.0.0",
        "complete": False,
        "run": header.to_dict(),
        "shard": {"index": shard[0], "count": shard[1]},
        "batches": [],
    }


def _check_head(path: Path, line: bytes, header: RunHeader, shard: tuple[int, int]) -> None:
    """Raise unless ``line`` is the first line of a checkpoint of this run and shard."""
    try:
        document = json.loads(line)
    except ValueError:
        raise InputError(path, "line 1", f"a checkpoint header ({_RESTART})") from None
    schemas.validate(document, "lee-part", source=path)
    same = jsonio.canonical_digest(document["run"]) == jsonio.canonical_digest(header.to_dict())
    if not same or document["shard"] != {"index": shard[0], "count": shard[1]}:
        raise InputError(path, "run", f"a checkpoint of the same run and shard ({_RESTART})")


def _batch(path: Path, number: int, item: Any, header: RunHeader) -> BatchResult:
    """The batch of checkpoint line ``number``, checked against the run's batch sizes."""
    n_u = len(header.gross_vitells_thresholds)
    expected = f"a finished batch of this run ({_RESTART})"
    try:
        if not isinstance(item, dict) or set(item) != {"index", "max_z", "argmax", "euler"}:
            raise TypeError
        result = BatchResult.from_dict(item, n_u)
    except (TypeError, ValueError):
        raise InputError(path, f"line {number}", expected) from None
    first = result.index * int(header.batch_size)
    size = min(int(header.batch_size), int(header.n_toys) - first)
    n_gv = max(0, min(size, int(header.gross_vitells_toys) - first))
    good = (
        size > 0
        and result.max_z.shape == result.argmax.shape == (size,)
        and result.euler.shape == (n_gv, n_u)
        and bool(np.all(np.isfinite(result.max_z)))
        and bool(np.all((result.argmax >= 0) & (result.argmax < int(header.n_windows))))
    )
    if not good:
        raise InputError(path, f"line {number}", expected, got=f"batch {result.index}")
    return result


def _read(
    path: Path, header: RunHeader, shard: tuple[int, int], wanted: list[int]
) -> tuple[dict[int, BatchResult], int]:
    """The batches of a checkpoint and the length of its intact part [bytes].

    Raises:
        InputError: the header is not of this run and shard, or a line other than the last one
            is damaged, repeats a batch or holds a batch this shard does not own.
    """
    lines = path.read_bytes().split(b"\n")
    if len(lines) < 2:  # the header is written atomically, with its newline
        raise InputError(path, "line 1", f"a checkpoint header ({_RESTART})")
    _check_head(path, lines[0], header, shard)
    owned = set(wanted)
    done: dict[int, BatchResult] = {}
    intact = len(lines[0]) + 1
    complete = lines[1:-1]  # lines[-1] is what follows the last newline: empty or cut short
    for number, line in enumerate(complete, start=2):
        try:
            item = json.loads(line)
        except ValueError:
            if number == len(complete) + 1:  # the last line: cut short by a kill
                break
            raise InputError(path, f"line {number}", f"a JSON batch record ({_RESTART})") from None
        result = _batch(path, number, item, header)
        if result.index not in owned or result.index in done:
            expected = f"each batch of this shard at most once ({_RESTART})"
            raise InputError(path, f"line {number}", expected, got=f"batch {result.index}")
        done[result.index] = result
        intact += len(line) + 1
    return done, intact


def _line(result: BatchResult) -> bytes:
    """One batch as a checkpoint line: :meth:`BatchResult.to_dict` as JSON, built from arrays.

    The same bytes as :func:`dhstat.jsonio.dumps` of ``to_dict()`` on one line, six times faster
    (``tolist`` and one ``json.dumps`` call, no per-element Python work), which matters when the
    toys of a small search take little more time than writing them.
    """
    item = {
        "argmax": result.argmax.tolist(),
        "euler": result.euler.tolist(),
        "index": int(result.index),
        "max_z": result.max_z.tolist(),
    }
    return (json.dumps(item, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


class _Journal:
    """Appends lines to a file: each written at once, synced at most every ``interval`` s."""

    def __init__(self, path: Path, interval: float) -> None:
        self._handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._interval = interval
        self._synced = time.monotonic()

    def append(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            view = view[os.write(self._handle, view) :]
        now = time.monotonic()
        if now - self._synced >= self._interval:
            os.fsync(self._handle)
            self._synced = now

    def close(self) -> None:
        try:
            os.fsync(self._handle)
        finally:
            os.close(self._handle)


def _open(
    path: Path, header: RunHeader, shard: tuple[int, int], wanted: list[int]
) -> dict[int, BatchResult]:
    """The batches already in ``path`` (cut to its intact part), or a new checkpoint's header."""
    if not path.exists():
        head = _head(header, shard)
        schemas.validate(head, "lee-part", source=path)
        line = jsonio.dumps(head, indent=None)
        with jsonio.atomic_path(path) as temporary:
            temporary.write_text(line, encoding="utf-8")
        return {}
    done, intact = _read(path, header, shard, wanted)
    if intact < path.stat().st_size:
        log.info("%s: dropping a batch record cut short by an interruption", path)
        os.truncate(path, intact)
    log.info("resuming from %s: %d of %d batches done", path, len(done), len(wanted))
    return done


def run_checkpointed(
    model: ToyModel,
    header: RunHeader,
    *,
    checkpoint: Path,
    shard: tuple[int, int] = (0, 1),
    executor: parallel.Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[int, BatchResult]:
    """Run a shard's batches, appending each one to ``checkpoint``; resume from it if present.

    The checkpoint is reused only if it was written by a run with the same header (settings,
    seed, inputs) and shard; otherwise :class:`InputError` asks to remove it. Batches it holds are
    not rerun, so the results (and ``lee.json``) are those of an uninterrupted run. The checkpoint
    is left in place; the caller removes it once the output is written.
    """
    n_toys, batch_size = int(header.n_toys), int(header.batch_size)
    wanted = shard_batches(n_toys, batch_size, shard)
    done = _open(checkpoint, header, shard, wanted)
    if done and progress is not None:
        progress(sum(r.max_z.size for r in done.values()))
    written = set(done)
    journal = _Journal(checkpoint, SYNC_INTERVAL_S)

    def save(results: dict[int, BatchResult]) -> None:
        last = next(reversed(results))  # run_toys adds each new batch last
        fresh = [last] if last not in written else [i for i in results if i not in written]
        for index in fresh:
            journal.append(_line(results[index]))
            written.add(index)

    try:
        return run_toys(
            model,
            n_toys=n_toys,
            seed=int(header.seed),
            batches=wanted,
            done=done,
            executor=executor,
            on_batch=save,
            progress=progress,
        )
    finally:
        journal.close()
