"""Same seed -> identical simulation with 1 worker, N local processes and a dask cluster."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from dhstat.config import loads
from dhstat.parallel import executor
from dhstat.simulation import concatenate, plan_background, plan_data, run_chunk


def _flatten(sample: dict[str, object]) -> dict[str, np.ndarray]:
    out = {}
    for name, value in sample.items():
        out[name] = (
            ak.flatten(value).to_numpy() if isinstance(value, ak.Array) else np.asarray(value)
        )
    return out


def test_same_output_with_any_number_of_workers() -> None:
    distributed = pytest.importorskip("distributed")
    cfg = loads("[simulation]\nchunk_events = 4000\n")
    plan = plan_background("mumu", 0.02, cfg=cfg, seed=77)
    data = plan_data(0.005, cfg=cfg, seed=77)
    tasks = plan.tasks + data.tasks
    assert len(plan.tasks) > 4
    with executor(workers=1) as ex:
        serial = ex.map(run_chunk, tasks)
    with executor(workers=2) as ex:
        local = ex.map(run_chunk, tasks)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        executor(scheduler=cluster.scheduler_address) as ex,
    ):
        assert ex.workers == 2
        remote = ex.map(run_chunk, tasks)
    reference = _flatten(concatenate(serial))
    assert len(reference["weight"]) > 100
    for other in (local, remote):
        flat = _flatten(concatenate(other))
        assert flat.keys() == reference.keys()
        for name, value in reference.items():
            assert np.array_equal(flat[name], value), name
    # a different master seed gives different events
    other_seed = plan_background("mumu", 0.02, cfg=cfg, seed=78)
    with executor(workers=1) as ex:
        changed = _flatten(concatenate(ex.map(run_chunk, other_seed.tasks[:1])))
    assert not np.array_equal(changed["trk_px"][:50], reference["trk_px"][:50])
