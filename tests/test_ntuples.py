"""ROOT I/O: round trips, metadata, branch mapping, errors, bounded memory."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.jsonio import dumps


def _events(n: int, rng: np.random.Generator) -> dict[str, object]:
    counts = rng.integers(0, 4, n)
    total = int(counts.sum())
    return {
        "weight": rng.random(n),
        "trg_pass": rng.random(n) < 0.5,
        "trk_px": ak.unflatten(rng.normal(size=total), counts),
        "trk_charge": ak.unflatten(rng.choice([-1, 1], total).astype(np.int32), counts),
        "gam_E": ak.unflatten(rng.random(int(counts[::-1].sum())), counts[::-1]),
    }


def test_round_trip_and_schema(tmp_path: Path, rng: np.random.Generator) -> None:
    events = _events(1000, rng)
    path = tmp_path / "a.root"
    ntuples.write_trees(path, {"events": events}, {"process": "mumu", "seed": 3})
    with uproot.open(path) as handle:
        names = set(handle["events"].keys())
        assert {"ntrk", "trk_px", "trk_charge", "ngam", "gam_E", "weight", "trg_pass"} <= names
        assert handle["events"]["ntrk"].typename == "int32_t"
    back = ntuples.read_tree(path, "events")
    assert back["weight"] == pytest.approx(events["weight"])
    assert isinstance(back["weight"], np.ndarray)
    assert ak.all(back["trk_px"] == events["trk_px"])
    assert back["ntrk"].tolist() == ak.num(events["trk_px"]).tolist()
    assert back["trg_pass"].dtype == np.bool_
    assert ntuples.read_metadata(path) == {"process": "mumu", "seed": 3}


def test_iterate_chunks_and_mapping(tmp_path: Path, rng: np.random.Generator) -> None:
    events = _events(1000, rng)
    path = tmp_path / "b.root"
    renamed = {"w": events["weight"], "mu_px": events["trk_px"]}
    ntuples.write_trees(path, {"t": renamed}, {})
    chunks = list(
        ntuples.iterate(
            [path, path], "t", ["weight", "mu_px"], step_size=300, mapping={"weight": "w"}
        )
    )
    assert [(c[0], c[1]) for c in chunks] == [(path, i) for i in range(4)] * 2
    joined = np.concatenate([c[2]["weight"] for c in chunks[:4]])
    assert joined == pytest.approx(events["weight"])
    assert ak.all(ak.concatenate([c[2]["mu_px"] for c in chunks[:4]]) == events["trk_px"])


def test_missing_branches_one_error(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "c.root"
    ntuples.write_trees(path, {"events": _events(10, rng)}, {})
    with pytest.raises(InputError) as info:
        list(
            ntuples.iterate(
                [path],
                "events",
                ["weight", "trk_py", "gam_phi"],
                step_size=5,
                mapping={"gam_phi": "photon_phi"},
            )
        )
    message = str(info.value)
    assert "trk_py" in message
    assert "gam_phi" in message
    assert "photon_phi" in message
    assert str(path) in message
    assert "weight" not in message.split("expected", maxsplit=1)[0].rsplit(":", maxsplit=1)[-1]


def test_bad_files(tmp_path: Path, rng: np.random.Generator) -> None:
    text = tmp_path / "x.root"
    text.write_text("not root")
    for bad in (text, tmp_path / "missing.root"):
        with pytest.raises(InputError, match=str(bad.name)):
            list(ntuples.iterate([bad], "events", ["weight"], step_size=10))
    good = tmp_path / "g.root"
    ntuples.write_trees(good, {"events": _events(20000, rng)}, {})
    with pytest.raises(InputError, match="TTree"):
        ntuples.read_tree(good, "nope")
    truncated = tmp_path / "t.root"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=r"t\.root"):
        list(ntuples.iterate([truncated], "events", ["weight", "trk_px"], step_size=1000))
    with pytest.raises(InputError, match="nothing"):
        ntuples.expand_globs([tmp_path / "nothing*.root"])
    with pytest.raises(InputError):
        ntuples.read_metadata(text)


def test_atomic_write_leaves_nothing_on_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.root"
    with pytest.raises(ValueError, match="same number"):
        ntuples.write_trees(
            path, {"events": {"trk_px": ak.Array([[1.0]]), "trk_py": ak.Array([[1.0, 2.0]])}}, {}
        )
    assert list(tmp_path.iterdir()) == []


def test_write_chunks_streams(tmp_path: Path, rng: np.random.Generator) -> None:
    parts = [_events(n, rng) for n in (100, 0, 50)]
    path = tmp_path / "s.root"
    assert ntuples.write_chunks(path, "events", iter(parts), {"a": 1}) == 150
    back = ntuples.read_tree(path, "events", ["weight", "gam_E"])
    assert back["weight"] == pytest.approx(np.concatenate([p["weight"] for p in parts]))


def test_reproducible_file_has_the_structure_of_a_plain_uproot_file(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Fixed UUIDs and dates change nothing else: same objects, streamers, types and baskets."""
    events = _events(120_000, rng)
    ours = tmp_path / "ours.root"
    ntuples.write_trees(ours, {"events": events}, {"process": "mumu"})
    plain = tmp_path / "uproot_.root"  # as long as the name ours stores, "dynamic.root"
    prepared = ntuples._prepare(events)
    with uproot.recreate(plain) as handle:  # what ntuples wrote before issue 17
        tree = handle.mktree(
            "events",
            ntuples._types(prepared),
            counter_name=ntuples._counter,
            field_name=ntuples._field,
        )
        ntuples._extend(tree, prepared)
        handle[ntuples.METADATA_KEY] = dumps({"process": "mumu"}, indent=None)

    def structure(path: Path) -> tuple[object, ...]:
        with uproot.open(path) as handle:
            tree = handle["events"]
            return (
                handle.classnames(),
                sorted((s.name, s.class_version) for s in handle.file.streamers_named(None)),
                {b.name: (b.typename, b.num_baskets, b.entry_offsets) for b in tree.branches},
                handle.file.fVersion,
                handle.file.uuid.version,
            )

    mine, theirs = structure(ours), structure(plain)
    assert mine[:4] == theirs[:4]
    assert (mine[4], theirs[4]) == (5, 1)  # name-based UUID instead of uproot's time-based one
    assert ours.stat().st_size == plain.stat().st_size  # same layout
    assert ntuples.read_tree(ours, "events")["trk_px"].tolist() == events["trk_px"].tolist()


def _peak_while_iterating(path: Path, step: int) -> int:
    gc.collect()
    tracemalloc.start()
    for _, _, arrays in ntuples.iterate([path], "events", ["weight", "trk_px"], step_size=step):
        del arrays
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_memory_bounded_by_chunk(tmp_path: Path, rng: np.random.Generator) -> None:
    step = 20000
    short, long = tmp_path / "short.root", tmp_path / "long.root"
    ntuples.write_trees(short, {"events": _events(2 * step, rng)}, {})
    ntuples.write_trees(long, {"events": _events(20 * step, rng)}, {})
    peak_short = _peak_while_iterating(short, step)
    peak_long = _peak_while_iterating(long, step)
    # 10x the data, same chunk size: the peak must not grow with the file (reading it whole
    # would need about 10x); allow 2x for caches
    assert peak_long < 2.0 * peak_short


def test_entry_ranges_and_num_entries(tmp_path: Path, rng: np.random.Generator) -> None:
    events = _events(1000, rng)
    path = tmp_path / "r.root"
    ntuples.write_trees(path, {"events": events}, {})
    assert ntuples.num_entries(path, "events") == 1000
    chunks = list(
        ntuples.iterate(
            [path], "events", ["weight", "trk_px"], step_size=300, entry_start=250, entry_stop=900
        )
    )
    assert [len(c[2]["weight"]) for c in chunks] == [300, 300, 50]  # chunks start at 250
    joined = np.concatenate([c[2]["weight"] for c in chunks])
    assert np.array_equal(joined, events["weight"][250:900])
    jagged = ak.concatenate([c[2]["trk_px"] for c in chunks])
    assert ak.all(ak.flatten(jagged) == ak.flatten(events["trk_px"][250:900]))
    # split into ranges and put back together: the whole file, once
    pieces = [
        a["weight"]
        for start in range(0, 1000, 400)
        for _, _, a in ntuples.iterate(
            [path], "events", ["weight"], step_size=150, entry_start=start, entry_stop=start + 400
        )
    ]
    assert np.array_equal(np.concatenate(pieces), events["weight"])
    # per file with several files; beyond the end is clipped
    both = list(
        ntuples.iterate([path, path], "events", ["weight"], step_size=10**6, entry_start=990)
    )
    assert [len(c[2]["weight"]) for c in both] == [10, 10]
    with pytest.raises(ValueError, match="entry_start"):
        list(ntuples.iterate([path], "events", ["weight"], step_size=10, entry_start=-1))
    with pytest.raises(InputError, match="TTree"):
        ntuples.num_entries(path, "nope")
    with pytest.raises(InputError):
        ntuples.num_entries(tmp_path / "missing.root", "events")
