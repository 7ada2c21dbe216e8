"""The JSON documents of a run: shard parts (schema ``lee-part``) and the final ``lee.json``.

A shard ``i/K`` writes a part with its batches; :func:`merge_parts` checks that the parts of all
shards belong to one run and cover every batch exactly once, and :func:`lee_document` turns all
batches of a run into ``lee.json``. The document depends only on the run header and the batch
results, so a single run and merged shards of the same run give identical bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from dhstat.errors import InputError
from dhstat.jsonio import canonical_digest
from dhstat.lee.header import RunHeader, finite_or_none
from dhstat.lee.results import summarise
from dhstat.lee.toys import BatchResult

__all__ = ["lee_document", "merge_parts", "part_document"]


def __dir__() -> list[str]:
    return __all__


def merge_parts(
    parts: Sequence[Mapping[str, Any]], sources: Sequence[str | Path]
) -> dict[int, BatchResult]:
    """Check that part documents belong to one run and cover every batch exactly once.

    Args:
        parts: Part documents (schema ``lee-part``).
        sources: Their file names (for error messages).

    Returns:
        All batch results by batch number.
    """
    if not parts:
        raise InputError(None, "PART", "at least one part file")
    header = canonical_digest(parts[0]["run"])
    n_thresholds = len(parts[0]["run"]["gross_vitells_thresholds"])
    results: dict[int, BatchResult] = {}
    for part, source in zip(parts, sources, strict=True):
        if canonical_digest(part["run"]) != header:
            raise InputError(source, "run", f"the same run settings and inputs as {sources[0]}")
        if not part["complete"]:
            raise InputError(source, "complete", "a finished shard (this is a checkpoint)")
        for item in part["batches"]:
            if item["index"] in results:
                raise InputError(
                    source, "batches", "each batch in one part only", got=item["index"]
                )
            results[int(item["index"])] = BatchResult.from_dict(item, n_thresholds)
    return results


def part_document(
    header: RunHeader,
    shard: tuple[int, int],
    results: Mapping[int, BatchResult],
    *,
    complete: bool,
) -> dict[str, Any]:
    """A shard part (or checkpoint) document, schema ``lee-part``."""
    return {
        "schema_version": "1.0.0",
        "run": header.to_dict(),
        "shard": {"index": shard[0], "count": shard[1]},
        "complete": complete,
        "batches": [results[i].to_dict() for i in sorted(results)],
    }


def lee_document(header: RunHeader, results: Mapping[int, BatchResult]) -> dict[str, Any]:
    """The final ``lee.json`` document (schema ``lee``) from all batches of a run.

    The document depends only on ``header`` and the batch results, so a single run and merged
    shards of the same run give identical bytes.
    """
    thresholds = tuple(header.gross_vitells_thresholds)
    result = summarise(
        results,
        n_toys=int(header.n_toys),
        batch_size=int(header.batch_size),
        z_local=float(header.z_local),
        window=int(header.window),
        thresholds=thresholds,
    )
    low, high = result.p_global_interval
    z_interval = [
        finite_or_none(float(stats.norm.isf(high))),
        finite_or_none(float(stats.norm.isf(low))),
    ]
    edges = np.linspace(-2.0, 8.0, 101)
    counts, _ = np.histogram(np.clip(result.max_z, edges[0], edges[-1]), bins=edges)
    gv = result.gross_vitells
    return {
        "schema_version": "1.0.0",
        "n_toys": result.n_toys,
        "z_local": result.z_local,
        "p_local": result.p_local,
        "window": {"index": result.window, "id": header.window_ids[result.window]},
        "n_above": result.n_above,
        "p_global": result.p_global,
        "p_global_error": result.p_global_error,
        "p_global_interval": [low, high],
        "z_global": finite_or_none(result.z_global),
        "z_global_interval": z_interval,
        "trials_factor": finite_or_none(result.trials_factor),
        "max_z": [float(x) for x in result.max_z],
        "max_z_window": [int(x) for x in result.argmax],
        "max_z_histogram": {
            "edges": [float(x) for x in edges],
            "counts": [int(x) for x in counts],
        },
        "gross_vitells": None if gv is None else gv.to_dict(),
        "provenance": header.to_dict(),
    }
