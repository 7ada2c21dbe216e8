"""Shard parts merge to the single run's lee.json (dhstat.lee.documents)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lee_helpers import header, small_model

from dhstat import jsonio, lee
from dhstat.errors import InputError


def test_shards_merge_to_the_single_run(tmp_path: Path) -> None:
    model, n_toys, seed = small_model(), 750, 4
    head = header(model, n_toys, seed)
    single = lee.run_toys(model, n_toys=n_toys, seed=seed)
    whole = lee.lee_document(head, single)
    jsonio.write_json(tmp_path / "single.json", whole, schema="lee")
    paths = []
    for i in range(3):
        batches = lee.shard_batches(n_toys, model.batch_size, (i, 3))
        part = lee.run_toys(model, n_toys=n_toys, seed=seed, batches=batches)
        path = tmp_path / f"part{i}.json"
        jsonio.write_json(
            path, lee.part_document(head, (i, 3), part, complete=True), schema="lee-part"
        )
        paths.append(path)
    parts = [jsonio.read_json(p, schema="lee-part") for p in reversed(paths)]
    merged = lee.lee_document(head, lee.merge_parts(parts, list(reversed(paths))))
    jsonio.write_json(tmp_path / "merged.json", merged, schema="lee")
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "single.json").read_bytes()
    assert len(merged["max_z"]) == n_toys
    assert merged["gross_vitells"]["n_toys"] == 150
    # A missing shard, a duplicated shard and a foreign shard are refused.
    with pytest.raises(InputError, match="batches"):
        lee.lee_document(head, lee.merge_parts(parts[:2], paths[:2]))
    with pytest.raises(InputError, match="one part only"):
        lee.merge_parts([parts[0], parts[0]], [paths[0], paths[0]])
    other = json.loads(json.dumps(parts[1]))
    other["run"]["seed"] = 5
    with pytest.raises(InputError, match="same run"):
        lee.merge_parts([parts[0], other], paths[:2])
