"""Reproducible bytes: the same content gives the same ROOT file, whatever the clock, the
directory, the temporary file name or the number of workers (issue 17).

The comparisons below could pass by luck if two writes fell into the same second (a TDatime has a
resolution of one second), so every comparison runs the writes under different clocks: uproot's
``datetime.now`` is replaced by a fake one, and a plain uproot write under the fake clock checks
that the fake clock reaches uproot (so that a date taken from the clock would show).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

import awkward as ak
import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from dhstat import ntuples
from dhstat.cli import cli

_SMALL = Path(__file__).parent / "data" / "small.toml"

#: The uproot modules that take ``datetime.datetime.now()`` when writing (uproot 5.7).
_WRITERS = ("uproot.writing._cascade", "uproot.writing._cascadetree", "uproot.writing.writable")

_INSTANTS = (
    dt.datetime(2001, 2, 3, 4, 5, 6),  # TDatime has no time zone: naive datetimes
    dt.datetime(2020, 11, 12, 13, 14, 15),
    dt.datetime(2033, 7, 8, 9, 10, 11),
    dt.datetime(2040, 12, 31, 23, 59, 58),
)


def _datime_code(when: dt.datetime) -> int:
    """ROOT's TDatime packing (TDatime::Set): 6 bits year-1995, 4 month, 5 day, 5 h, 6 min, 6 s."""
    return (
        (when.year - 1995) << 26
        | when.month << 22
        | when.day << 17
        | when.hour << 12
        | when.minute << 6
        | when.second
    )


@contextlib.contextmanager
def _clock(instant: dt.datetime) -> Iterator[None]:
    """uproot's writers see ``instant`` as the current time."""

    class _Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Self:
            return cls(*instant.timetuple()[:6])

    fake = types.SimpleNamespace(datetime=_Frozen)
    with pytest.MonkeyPatch.context() as patch:
        for name in _WRITERS:
            patch.setattr(importlib.import_module(name), "datetime", fake)
        yield


def _events(n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, n)
    return {
        "weight": rng.random(n),
        "trg_pass": rng.random(n) < 0.5,
        "trk_px": ak.unflatten(rng.normal(size=int(counts.sum())), counts),
        "trk_charge": ak.unflatten(rng.choice([-1, 1], int(counts.sum())).astype(np.int32), counts),
    }


def _plain_write_date(path: Path) -> dt.datetime:
    """The creation date uproot itself writes now (the check that a clock would show)."""
    with uproot.recreate(path) as handle:
        handle["x"] = "y"
    with uproot.open(path) as handle:
        created: dt.datetime = handle.created_on
        return created


def test_the_fake_clock_reaches_uproot(tmp_path: Path) -> None:
    for instant in _INSTANTS[:2]:
        with _clock(instant):
            assert _plain_write_date(tmp_path / "plain.root") == instant


def test_same_content_same_bytes_whatever_the_clock_and_directory(tmp_path: Path) -> None:
    events, metadata = _events(120_000, 1), {"process": "mumu", "seed": 7}
    written = []
    for index, instant in enumerate(_INSTANTS[:3]):
        folder = tmp_path / f"run{index}"
        with _clock(instant):
            ntuples.write_trees(folder / "x.root", {"events": events}, metadata)
            chunks = (
                {k: v[i : i + 40_000] for k, v in events.items()} for i in (0, 40_000, 80_000)
            )
            ntuples.write_chunks(folder / "y.root", "events", chunks, metadata)
        written.append(((folder / "x.root").read_bytes(), (folder / "y.root").read_bytes()))
    assert written[0] == written[1] == written[2]
    back = ntuples.read_tree(tmp_path / "run2" / "y.root", "events")
    assert back["weight"].tolist() == events["weight"].tolist()
    assert ak.all(back["trk_px"] == events["trk_px"])
    assert ntuples.read_metadata(tmp_path / "run2" / "x.root") == metadata


def test_every_date_is_the_fixed_one_and_uuids_are_name_based(tmp_path: Path) -> None:
    fixed = ntuples.FIXED_DATIME
    assert fixed == dt.datetime(1995, 1, 1)
    path = tmp_path / "x.root"
    with _clock(_INSTANTS[0]):
        ntuples.write_trees(path, {"events": _events(120_000, 2)}, {"process": "mumu"})
    with uproot.open(path) as handle:
        assert (handle.created_on, handle.modified_on) == (fixed, fixed)
        for name in handle.keys(cycle=False):
            assert handle.key(name).created_on == fixed
        branches = handle["events"].branches
        assert len(branches) == 5  # weight, trg_pass, ntrk, trk_px, trk_charge
        assert {branch.num_baskets for branch in branches} == {3}  # 50 000 entries per basket
        baskets = [b.basket(i).member("fDatime") for b in branches for i in range(b.num_baskets)]
        assert set(baskets) == {_datime_code(fixed)}
        first = handle.file.uuid
    assert first.version == 5
    uuids = {first}
    for name, metadata in (("x.root", {"process": "tautau"}), ("z.root", {"process": "mumu"})):
        other = tmp_path / "other" / name
        ntuples.write_trees(other, {"events": _events(10, 2)}, metadata)
        with uproot.open(other) as handle:
            uuids.add(handle.file.uuid)
    assert len(uuids) == 3  # another name or other metadata: another UUID


def test_the_date_patch_is_undone_also_after_an_error(tmp_path: Path) -> None:
    original = uproot._util.datetime_to_code

    def failing() -> Iterator[dict[str, Any]]:
        yield {"weight": np.ones(3)}
        msg = "generator failed"
        raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="generator failed"):
        ntuples.write_chunks(tmp_path / "bad.root", "events", failing(), {})
    assert not (tmp_path / "bad.root").exists()
    ntuples.write_trees(tmp_path / "good.root", {"events": {"weight": np.ones(3)}}, {})
    assert uproot._util.datetime_to_code is original
    with _clock(_INSTANTS[1]):
        assert _plain_write_date(tmp_path / "plain.root") == _INSTANTS[1]


def test_concurrent_writes_in_threads_are_reproducible(tmp_path: Path) -> None:
    original = uproot._util.datetime_to_code
    samples = {f"s{i}.root": _events(60_000, 10 + i) for i in range(4)}
    for name, events in samples.items():
        ntuples.write_trees(tmp_path / "serial" / name, {"events": events}, {"n": name})
    barrier = threading.Barrier(len(samples))

    def write(name: str) -> None:
        barrier.wait()
        ntuples.write_trees(tmp_path / "threads" / name, {"events": samples[name]}, {"n": name})

    with ThreadPoolExecutor(len(samples)) as pool:
        list(pool.map(write, samples))
    for name in samples:
        threaded, serial = tmp_path / "threads" / name, tmp_path / "serial" / name
        assert threaded.read_bytes() == serial.read_bytes()
    assert uproot._util.datetime_to_code is original


def _config(tmp_path: Path, luminosity_fb: float, chunk_size: int) -> Path:
    """tests/data/small.toml at another luminosity, in chunks of ``chunk_size`` events."""
    text = _SMALL.read_text(encoding="utf-8")
    assert "\nluminosity_fb = 0.1\n" in text
    text = text.replace("\nluminosity_fb = 0.1\n", f"\nluminosity_fb = {luminosity_fb}\n")
    path = tmp_path / "config.toml"
    path.write_text(f"{text}\n[run]\nchunk_size = {chunk_size}\n", encoding="utf-8")
    return path


def _simulate_and_select(config: Path, run: Path, workers: int) -> dict[str, bytes]:
    """``dhstat simulate --output run/ntuples`` then ``dhstat select``; every file's bytes."""
    runner = CliRunner()
    common = ["--config", str(config), "--workers", str(workers)]
    result = runner.invoke(cli, ["simulate", *common, "--output", str(run / "ntuples")])
    assert result.exit_code == 0, result.output
    inputs = str(run / "ntuples" / "*.root")
    result = runner.invoke(cli, ["select", inputs, *common, "-q", "-o", str(run / "selected.root")])
    assert result.exit_code == 0, result.output
    files = [*sorted((run / "ntuples").glob("*.root")), run / "selected.root"]
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


def _check_identical_runs(tmp_path: Path, config: Path, chunk_size: int) -> None:
    runs = {}
    for index, (instant, workers) in enumerate(zip(_INSTANTS, (1, 2, 1, 2), strict=True)):
        with _clock(instant):
            runs[index] = _simulate_and_select(config, tmp_path / f"run{index}", workers)
    names = sorted(runs[0])
    assert names == [
        "ntuples/data.root",
        "ntuples/mc_eemumu.root",
        "ntuples/mc_mumu.root",
        "ntuples/mc_tautau.root",
        "selected.root",
    ]
    for index in (1, 2, 3):
        assert sorted(runs[index]) == names
        different = [name for name in names if runs[index][name] != runs[0][name]]
        assert different == [], f"run {index} differs from run 0 in {different}"
    # not vacuous: several chunks per sample (so two workers share them) and selected events
    run = tmp_path / "run0"
    assert ntuples.num_entries(run / "ntuples" / "mc_mumu.root", "events") > 2 * chunk_size
    assert ntuples.num_entries(run / "selected.root", "search") > 0


def test_simulate_and_select_give_the_same_bytes_with_1_and_2_workers(tmp_path: Path) -> None:
    chunk_size = 1000
    _check_identical_runs(tmp_path, _config(tmp_path, 0.01, chunk_size), chunk_size)


@pytest.mark.slow
def test_small_configuration_gives_the_same_bytes_with_1_and_2_workers(tmp_path: Path) -> None:
    chunk_size = 10_000  # the mu mu MC of this configuration has ~35 000 events: 3 chunks or more
    _check_identical_runs(tmp_path, _config(tmp_path, 0.1, chunk_size), chunk_size)
