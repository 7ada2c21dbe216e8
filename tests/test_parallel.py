"""Same seed -> identical simulation with 1 worker, N local processes and a dask cluster."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from dhstat import config, windows
from dhstat.cli import main
from dhstat.config import loads
from dhstat.errors import InputError
from dhstat.parallel import ClusterSpec, executor, start_cluster
from dhstat.simulation import concatenate, plan_background, plan_data, run_chunk

SMALL = Path(__file__).parent / "data" / "small.toml"


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


# ------------------------------------------------------------------- clusters dhstat starts


def test_local_cluster_gives_the_bytes_of_the_serial_run(tmp_path: Path) -> None:
    """Windows of tests/data/small.toml (M_A' >= 9.7 GeV): one process vs a 2-worker LocalCluster."""
    pytest.importorskip("distributed")
    text = SMALL.read_text().replace("ma_min = 9.0", "ma_min = 9.7")
    cfg = config.loads(text, source=str(SMALL))
    with executor(workers=1) as ex:
        serial = windows.define(cfg, background=None, executor=ex)
    spec = ClusterSpec.from_run(cfg["run"], spec="local:2")
    assert spec is not None
    with executor(cluster=spec) as ex:
        assert ex.workers == 2
        assert ex.scheduler is not None
        assert ex.scheduler.startswith("tcp://")
        remote = windows.define(cfg, background=None, executor=ex)
        chunks = ex.map(run_chunk, plan_data(0.005, cfg=cfg, seed=77).tasks)
    with executor(workers=1) as ex:
        local_chunks = ex.map(run_chunk, plan_data(0.005, cfg=cfg, seed=77).tasks)
    assert len(serial) > 5
    windows.save(serial, tmp_path / "serial.json")
    windows.save(remote, tmp_path / "cluster.json")
    assert (tmp_path / "serial.json").read_bytes() == (tmp_path / "cluster.json").read_bytes()
    flat, reference = _flatten(concatenate(chunks)), _flatten(concatenate(local_chunks))
    assert len(reference["weight"]) > 10
    for name, value in reference.items():
        assert np.array_equal(flat[name], value), name


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("local:0", "run.cluster: expected local:N with N >= 1"),
        ("pbs", "run.cluster: expected local:N with N >= 1"),
        ("local:x", "got 'local:x'"),
    ],
)
def test_impossible_cluster_specs_are_one_line(spec: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        ClusterSpec.parse(spec, source="a.toml")
    assert str(info.value).startswith("a.toml: ")


def test_jobqueue_without_dask_jobqueue_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "dask_jobqueue" else real(name, *a),
    )
    for kind in ("slurm", "htcondor"):
        with pytest.raises(InputError, match=r"pip install dhstat\[cluster\]") as info:
            ClusterSpec.from_run({"scheduler": "", "cluster": kind}, source="a.toml")
        assert str(info.value).startswith("a.toml: run.cluster: expected dask-jobqueue installed")
    # local clusters need only distributed
    assert ClusterSpec.parse("local:3") == ClusterSpec("local", 3)


def test_cluster_and_scheduler_exclude_each_other() -> None:
    run = {"scheduler": "tcp://h:8786", "cluster": "local:2"}
    with pytest.raises(InputError, match="not both"):
        ClusterSpec.from_run(run, source="a.toml")
    with (
        pytest.raises(ValueError, match="not both"),
        executor(scheduler="tcp://h:8786", cluster=ClusterSpec("local", 1)),
    ):
        pass
    assert ClusterSpec.from_run({"scheduler": ""}) is None


def test_jobqueue_options_reach_the_job_scripts() -> None:
    """SLURM and HTCondor job scripts from the [run.jobqueue] table (no job is submitted)."""
    pytest.importorskip("dask_jobqueue")
    cfg = config.loads(
        '[run]\ncluster = "slurm"\n[run.jobqueue]\njobs = 3\ncores = 4\nmemory = "8 GB"\n'
        'queue = "short"\nwalltime = "00:30:00"\njob_extra_directives = ["--constraint=x"]\n'
    )
    spec = ClusterSpec.from_run(cfg["run"], source="a.toml")
    assert spec is not None
    assert (spec.kind, spec.size, spec.workers) == ("slurm", 3, 12)
    assert "jobs" not in spec.options
    with start_cluster(spec) as cluster:
        script = cluster.job_script()
    for line in ("#SBATCH -p short", "#SBATCH -t 00:30:00", "#SBATCH --cpus-per-task=4",
                 "#SBATCH --constraint=x"):  # fmt: skip
        assert line in script
    condor = ClusterSpec.parse(
        "htcondor", {"cores": 2, "memory": "2 GB", "disk": "1 GB", "processes": 2}
    )
    with start_cluster(condor) as cluster:
        script = cluster.job_script()
    assert "MY.DaskWorkerCores = 2" in script
    assert "MY.DaskWorkerDisk = 1000000000" in script
    # options dask-jobqueue refuses: one line naming the table
    refused = ClusterSpec.parse("slurm", {"queue": "q"})
    with (
        pytest.raises(InputError, match=r"a.toml: run.jobqueue: .*cores and memory") as info,
        start_cluster(refused, source="a.toml"),
    ):
        pass
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match=r"run\.jobqueue\.jobs: expected an integer >= 1"):
        ClusterSpec.parse("slurm", {"jobs": 0})


def test_run_cluster_option_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, fragment in (
        (["--cluster", "local:0"], "error: <command line>: --cluster: expected local:N"),
        (["--cluster", "local:2", "--scheduler", "tcp://h:1"], "error: <command line>: --cluster"),
    ):
        with pytest.raises(SystemExit) as info:
            main(["run", str(SMALL), "-o", str(tmp_path / "r"), *args])
        assert info.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(fragment), lines[0]
    assert not (tmp_path / "r" / "run.json").exists()


@pytest.mark.slow
def test_run_on_a_local_cluster_gives_the_bytes_of_the_local_run(tmp_path: Path) -> None:
    """``dhstat run --cluster local:2`` against ``--workers 1``: every file identical."""
    pytest.importorskip("distributed")
    runs = {"local": ["--workers", "1"], "cluster": ["--cluster", "local:2"]}
    for name, args in runs.items():
        main(["run", str(SMALL), "-o", str(tmp_path / name / "run"), *args])  # exit 2 on errors
    local, cluster = tmp_path / "local" / "run", tmp_path / "cluster" / "run"
    names = sorted(p.relative_to(local) for p in local.rglob("*"))
    assert names == sorted(p.relative_to(cluster) for p in cluster.rglob("*"))
    compared = 0
    for rel in names:
        a, b = local / rel, cluster / rel
        # run.json holds timings, report.md the run directory's path and the time of writing
        if a.is_file() and rel.name not in {"run.json", "report.md"} and ".stamps" not in rel.parts:
            assert a.read_bytes() == b.read_bytes(), rel
            compared += 1
    assert compared > 10
