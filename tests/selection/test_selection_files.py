"""Selecting ntuple files: chunks, workers, branch mapping, bad files, dask and entry ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from selection_reference import CFG, _columns, _write

from dhstat import config, ntuples, parallel, selection
from dhstat.errors import InputError
from dhstat.selection import files


def test_select_files_chunked_and_independent_of_workers(
    tmp_path: Path, random_sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    data = _write(tmp_path / "data.root", _columns(events[:500]), "data")
    cfg = config.loads("[run]\nchunk_size = 1000\n")  # 3 chunks
    sizes: list[int] = []
    original = selection.select

    def spy(ev: Any, c: Any, *, process: str) -> selection.Selection:
        sizes.append(len(ev["weight"]))
        return original(ev, c, process=process)

    monkeypatch.setattr(files, "select", spy)
    with parallel.executor(workers=1) as ex:
        one = selection.select_files([str(tmp_path / "*.root")], cfg, executor=ex)
    monkeypatch.undo()
    assert max(sizes) <= 1000
    assert sum(sizes) == 3500
    assert one.cutflows["mumu"].raw == whole.cutflow.raw
    for s in selection.SAMPLES:  # chunk sums: equal up to rounding
        np.testing.assert_allclose(
            one.cutflows["mumu"].weighted[s], whole.cutflow.weighted[s], rtol=1e-12
        )
    with parallel.executor(workers=2) as ex:
        two = selection.select_files([str(data), str(path)], cfg, executor=ex)
    for s in selection.SAMPLES:
        for name in (*selection.VARIABLES, "process"):
            np.testing.assert_array_equal(one.samples[s][name], two.samples[s][name])
    assert one.cutflows == two.cutflows
    # data first (sorted file names), then mumu; process indexes PROCESSES
    proc = one.samples["search"]["process"]
    assert list(np.unique(proc)) == [
        selection.PROCESSES.index("data"),
        selection.PROCESSES.index("mumu"),
    ]
    assert np.all(np.diff(proc) >= 0)


def test_branch_mapping_and_missing_branch_message(tmp_path: Path) -> None:
    rename = {"trk_muonID": "trk_mid", "weight": "w"}
    path = _write(tmp_path / "real.root", selection.example_events(), "data", rename)
    with parallel.executor(workers=2) as ex:  # the error travels back from a worker
        with pytest.raises(InputError) as info:
            selection.select_files([path], CFG, executor=ex)
        message = str(info.value)
        assert "real.root" in message
        assert "trk_muonID" in message
        assert "weight" in message
        assert "mapping" in message
        cfg = config.loads('[selection.branches]\ntrk_muonID = "trk_mid"\nweight = "w"\n')
        out = selection.select_files([path], cfg, executor=ex)
    assert out.cutflows["data"].raw["search"][-1] == 1


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "good.root", selection.example_events(), "mumu")
    bad = tmp_path / "cut.root"
    bad.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with parallel.executor(workers=1) as ex, pytest.raises(InputError, match=r"cut\.root"):
        selection.select_files([path, bad], CFG, executor=ex)


def test_select_files_on_a_dask_cluster(tmp_path: Path, random_sample: Any) -> None:
    import distributed

    _, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        parallel.executor(scheduler=cluster.scheduler_address) as ex,
    ):
        out = selection.select_files([path], CFG, executor=ex)
    assert out.cutflows["mumu"].raw == whole.cutflow.raw
    np.testing.assert_array_equal(out.samples["search"]["mmumu2"], whole.search["mmumu2"])


def test_large_files_split_into_chunk_tasks_when_ntuples_reads_ranges(
    tmp_path: Path, random_sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With entry-range reading, a file becomes several tasks; the merged result is the same."""
    _, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    calls: list[tuple[int, int]] = []

    def iterate(
        files: Any,
        tree: str,
        branches: Any,
        *,
        step_size: int,
        mapping: Any = None,
        entry_start: int = 0,
        entry_stop: int | None = None,
    ) -> Any:
        arrays = ntuples.read_tree(files[0], tree, list(branches), mapping=mapping)
        stop = len(arrays["weight"]) if entry_stop is None else entry_stop
        calls.append((entry_start, stop))
        for index, start in enumerate(range(entry_start, stop, step_size)):
            end = min(start + step_size, stop)
            yield Path(files[0]), index, {k: v[start:end] for k, v in arrays.items()}

    monkeypatch.setattr(ntuples, "iterate", iterate)
    monkeypatch.setattr(ntuples, "num_entries", lambda p, t: 3000, raising=False)
    cfg = config.loads("[run]\nchunk_size = 1000\n")
    with parallel.executor(workers=1) as ex:
        out = selection.select_files([path], cfg, executor=ex)
    assert calls == [(0, 2000), (2000, 3000)]
    assert out.cutflows["mumu"].raw == whole.cutflow.raw
    for s in selection.SAMPLES:
        np.testing.assert_array_equal(out.samples[s]["mrecoil2"], whole.sample(s)["mrecoil2"])
