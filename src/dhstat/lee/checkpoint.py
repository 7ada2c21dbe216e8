"""Checkpoints: a run rewrites its part document after every batch and resumes from it.

A checkpoint is a part document (schema ``lee-part``) with ``complete: false``, named after the run
header (:func:`checkpoint_path`), so a killed run restarted with the same settings and inputs
resumes without losing or repeating a toy, and a checkpoint of other settings is never mistaken for
it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dhstat import jsonio, parallel
from dhstat.errors import InputError
from dhstat.lee.header import RunHeader
from dhstat.lee.model import ToyModel
from dhstat.lee.toys import BatchResult, run_toys, shard_batches

__all__ = ["checkpoint_path", "run_checkpointed"]

log = logging.getLogger(__name__)


def __dir__() -> list[str]:
    return __all__


def checkpoint_path(
    folder: str | os.PathLike[str], header: RunHeader, shard: tuple[int, int] = (0, 1)
) -> Path:
    """The checkpoint of the run (or shard) ``header`` in ``folder``: ``lee-<key>.json``.

    ``<key>`` is :meth:`RunHeader.checkpoint_key` (16 hex digits), so every setting and input gives
    its own file. A shard ``i/K`` other than the whole run ``0/1`` appends ``-shard<i>of<K>``: the
    shards of one run share the header but not the checkpoint.

    Args:
        folder: Where checkpoints are kept.
        header: The run header.
        shard: ``(i, K)``: shard i of K.
    """
    suffix = "" if tuple(shard) == (0, 1) else f"-shard{shard[0]}of{shard[1]}"
    return Path(folder) / f"lee-{header.checkpoint_key()}{suffix}.json"


def _checkpoint_text(
    parts: Mapping[str, Any], cache: dict[int, str], results: Mapping[int, BatchResult]
) -> str:
    for index, result in results.items():
        if index not in cache:
            cache[index] = jsonio.dumps(result.to_dict(), indent=None).strip()
    head = jsonio.dumps(dict(parts), indent=None).strip()
    body = ",".join(cache[i] for i in sorted(results))
    return head[:-1] + ',"batches":[' + body + "]}\n"


def run_checkpointed(
    model: ToyModel,
    header: RunHeader,
    *,
    checkpoint: Path,
    shard: tuple[int, int] = (0, 1),
    executor: parallel.Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[int, BatchResult]:
    """Run a shard's batches, rewriting ``checkpoint`` after each one; resume from it if present.

    A checkpoint is a part document with ``complete: false``. It is reused only if it was written
    by a run with the same header (settings, seed, inputs) and shard; otherwise
    :class:`InputError` asks to remove it. The checkpoint is left in place; the caller removes it
    once the output is written.
    """
    n_toys, batch_size = int(header.n_toys), int(header.batch_size)
    wanted = shard_batches(n_toys, batch_size, shard)
    done: dict[int, BatchResult] = {}
    if checkpoint.exists():
        document = jsonio.read_json(checkpoint, schema="lee-part")
        same = jsonio.canonical_digest(document["run"]) == jsonio.canonical_digest(header.to_dict())
        if not same or document["shard"] != {"index": shard[0], "count": shard[1]}:
            raise InputError(
                checkpoint, "run", "a checkpoint of the same run and shard (delete it to restart)"
            )
        n_u = len(header.gross_vitells_thresholds)
        for item in document["batches"]:
            if int(item["index"]) in wanted:
                done[int(item["index"])] = BatchResult.from_dict(item, n_u)
        log.info("resuming from %s: %d of %d batches done", checkpoint, len(done), len(wanted))
        if progress is not None:
            progress(sum(r.max_z.size for r in done.values()))
    head = {
        "schema_version": "1.0.0",
        "complete": False,
        "run": header.to_dict(),
        "shard": {"index": shard[0], "count": shard[1]},
    }
    cache: dict[int, str] = {}

    def save(results: dict[int, BatchResult]) -> None:
        text = _checkpoint_text(head, cache, results)
        with jsonio.atomic_path(checkpoint) as temporary:
            temporary.write_text(text, encoding="utf-8")

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
