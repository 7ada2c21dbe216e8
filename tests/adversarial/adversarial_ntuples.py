"""Generated ntuples: small ROOT files written with uproot here, valid or broken in one way.

A valid file holds the tree ``events`` in the ntuple schema of docs/internals.md (``weight``,
``trg_pass``, the jagged ``trk_*`` and ``gam_*`` groups with counters ``ntrk`` and ``ngam``) and
the metadata string ``dhstat_metadata``. Events are the selection's three hand-made examples
(one passes the search selection) plus random ones. Each input runs through
``dhstat select FILE -o out/selected.root --cutflow out/cutflow.json --macroregions
out/macroregions.json --workers 1``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from adversarial_harness import Case, Expect
from adversarial_oracles import check_select
from hypothesis import strategies as st

from dhstat.processes import PROCESSES
from dhstat.provenance import provenance
from dhstat.selection.branches import PHOTON_BRANCHES, TRACK_BRANCHES

CATEGORY = "ntuple"
FILE = "sample.root"

FLOAT_BRANCHES = (
    "weight",
    *(b for b in TRACK_BRANCHES if b != "trk_charge"),
    *PHOTON_BRANCHES,
)

KINDS: dict[str, Expect] = {
    "none": "succeed",
    "empty tree": "succeed",
    "extra branches": "succeed",
    "renamed branches with mapping": "succeed",
    "missing branch": "fail",
    "mapping to a missing branch": "fail",
    "nan in a branch": "either",
    "inf in a branch": "either",
    "huge weight": "either",
    "negative weights": "either",
    "int weight": "either",
    "float charge": "either",
    "odd charge values": "either",
    "int trigger flag": "either",
    "float32 momenta": "either",
    "pid out of range": "either",
    "flat instead of jagged": "either",
    "jagged weight": "fail",
    "jagged trigger flag": "fail",
    "inconsistent track counts": "fail",
    "no metadata": "fail",
    "metadata not json": "fail",
    "unknown process": "fail",
    "metadata nan luminosity": "either",
    "no events tree": "fail",
    "garbage bytes": "fail",
    "truncated file": "fail",
    "zero-byte file": "fail",
    "one good one bad file": "fail",
    "missing file": "fail",
    "directory as input": "fail",
}


@dataclass(frozen=True)
class NtupleInput:
    """Files to write, the select arguments naming them, and what the input deserves."""

    kind: str
    files: Mapping[str, bytes | None]
    inputs: tuple[str, ...]
    expect: Expect
    culprit: str
    config: bytes | None = None
    quiet: bool = True


def random_events(seed: int, n: int) -> dict[str, Any]:
    """The three example events (one selected) then ``n`` random ones, as columns."""
    rng = np.random.default_rng(seed)
    pair = [[2.5, -2.044], [-0.5, -1.5], [1.5, 1.0]]
    rows: list[dict[str, Any]] = []
    for k in range(3 + n):
        if k < 3:  # the hand-made examples: a selected dimuon, one with a photon, three tracks
            ntrk, ngam = (2, 0) if k != 2 else (3, 0)
            ngam = 1 if k == 1 else 0
            px = [*pair[0], 0.5][:ntrk]
            py = [*pair[1], 0.5][:ntrk]
            pz = [*pair[2], 0.2][:ntrk]
            charge = [1, -1, 1][:ntrk]
        else:
            ntrk, ngam = int(rng.integers(0, 4)), int(rng.integers(0, 3))
            px, py, pz = (list(rng.uniform(-3, 3, ntrk)) for _ in range(3))
            charge = list(rng.choice([-1, 1], ntrk))
        rows.append(
            {
                "trk_px": px,
                "trk_py": py,
                "trk_pz": pz,
                "trk_charge": [int(c) for c in charge],
                "trk_dr": list(rng.uniform(0, 0.05, ntrk)),
                "trk_dz": list(rng.uniform(0, 0.2, ntrk)),
                "trk_muonID": list(rng.uniform(0.6, 1.0, ntrk)),
                "trk_electronID": list(rng.uniform(0.0, 0.2, ntrk)),
                "trk_clusterE": list(rng.uniform(0.1, 0.3, ntrk)),
                "gam_E": [2.0] if k == 1 else list(rng.uniform(0.1, 3.0, ngam)),
                "gam_theta": [1.2] if k == 1 else list(rng.uniform(0.3, 2.8, ngam)),
                "gam_phi": [0.3] if k == 1 else list(rng.uniform(-3.1, 3.1, ngam)),
            }
        )
    columns: dict[str, Any] = {
        "weight": np.ones(len(rows)),
        "trg_pass": np.ones(len(rows), dtype=bool),
    }
    for name in (*TRACK_BRANCHES, *PHOTON_BRANCHES):
        dtype = np.int32 if name == "trk_charge" else np.float64
        columns[name] = ak.values_astype(ak.Array([r[name] for r in rows]), dtype)
    return columns


def metadata(process: str) -> dict[str, Any]:
    """Sample metadata in the schema of docs/internals.md."""
    return {
        "schema_version": "1.0.0",
        "process": process,
        "is_data": process == "data",
        "cross_section_fb": 0.0 if process == "data" else 1.0e6,
        "luminosity_fb": 0.1,
        "n_generated": 100,
        "seed": 1,
        "generator": "adversarial test",
        **provenance(),
        "config_digest": "0" * 64,
    }


def write_root(columns: Mapping[str, Any], meta: str | None, *, tree: str = "events") -> bytes:
    """A ROOT file (bytes) written with uproot: jagged groups zipped as ``trk``/``gam``."""
    branches: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for name, value in columns.items():
        group, _, inner = name.partition("_")
        if isinstance(value, ak.Array) and value.ndim > 1 and group in {"trk", "gam"}:
            groups.setdefault(group, {})[inner] = value
        else:
            branches[name] = value
    for group, fields in groups.items():
        first = ak.num(next(iter(fields.values())))
        same = {k: v for k, v in fields.items() if ak.all(ak.num(v) == first)}
        branches[group] = ak.zip(same)
        for inner, value in fields.items():
            if inner not in same:  # a field with other counts: its own branch and counter
                branches[f"{group}_{inner}"] = value
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "x.root"
        with uproot.recreate(path) as handle:
            types = {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in branches.items()}
            handle.mktree(tree, types).extend(branches)
            if meta is not None:
                handle["dhstat_metadata"] = meta
        return path.read_bytes()


def _mutate_columns(kind: str, columns: dict[str, Any], draw: Any) -> tuple[dict[str, Any], str]:
    """Column edits; returns (columns, the name of what was changed)."""
    n = len(columns["weight"])
    if kind == "missing branch":
        name = draw(st.sampled_from(list(columns)))
        del columns[name]
        return columns, name
    if kind in {"nan in a branch", "inf in a branch", "pid out of range"}:
        choices = ("trk_muonID", "trk_electronID") if kind == "pid out of range" else FLOAT_BRANCHES
        name = draw(st.sampled_from(choices))
        bad = {
            "nan in a branch": np.nan,
            "inf in a branch": draw(st.sampled_from([np.inf, -np.inf])),
        }
        value = bad.get(kind, draw(st.sampled_from([1.5, -0.5, np.nan])))
        columns[name] = _poke(columns[name], draw(st.integers(0, 10**6)), value)
        return columns, name
    if kind == "huge weight":
        columns["weight"] = np.full(n, draw(st.sampled_from([1e300, 1.7e308, -1e300])))
        return columns, "weight"
    if kind == "negative weights":
        columns["weight"] = -np.abs(columns["weight"]) * 0.5
        return columns, "weight"
    if kind == "int weight":
        columns["weight"] = np.ones(n, dtype=draw(st.sampled_from([np.int32, np.int64])))
        return columns, "weight"
    if kind == "float charge":
        columns["trk_charge"] = ak.values_astype(columns["trk_charge"], np.float64)
        return columns, "trk_charge"
    if kind == "odd charge values":
        odd = draw(st.sampled_from([0, 2, -5, 127]))
        columns["trk_charge"] = ak.values_astype(columns["trk_charge"] * 0 + odd, np.int32)
        return columns, "trk_charge"
    if kind == "int trigger flag":
        dtype = draw(st.sampled_from([np.int32, np.float64, np.uint8]))
        columns["trg_pass"] = np.asarray(columns["trg_pass"], dtype=dtype) * 3
        return columns, "trg_pass"
    if kind == "float32 momenta":
        for name in ("trk_px", "trk_py", "trk_pz"):
            columns[name] = ak.values_astype(columns[name], np.float32)
        return columns, "trk_px"
    if kind == "flat instead of jagged":
        name = draw(st.sampled_from(["trk_px", "gam_E", "trk_charge"]))
        columns[name] = np.asarray(ak.fill_none(ak.firsts(columns[name]), 0))
        return columns, name
    if kind in {"jagged weight", "jagged trigger flag"}:
        name = "weight" if kind == "jagged weight" else "trg_pass"
        columns[name] = ak.Array([[x, x] for x in np.asarray(columns[name]).tolist()])
        return columns, name
    if kind == "inconsistent track counts":
        columns["trk_py"] = ak.Array([[0.1] * (len(row) + 1) for row in columns["trk_px"].tolist()])
        return columns, "trk_py"
    if kind == "extra branches":
        columns["truth_ma"] = np.full(n, 5.0)
        columns["bogus"] = np.arange(n, dtype=np.int32)
        return columns, ""
    return columns, ""


def _poke(array: Any, where: int, value: float) -> Any:
    """``array`` with one entry (flat or jagged content) set to ``value``."""
    if isinstance(array, ak.Array) and array.ndim > 1:
        counts = ak.num(array)
        content = np.asarray(ak.flatten(array), dtype=np.float64).copy()
        if content.size == 0:
            return array
        content[where % content.size] = value
        return ak.unflatten(content, counts)
    flat = np.asarray(array, dtype=np.float64).copy()
    if flat.size:
        flat[where % flat.size] = value
    return flat


def _broken_file(kind: str, good: bytes, draw: Any) -> bytes | None:
    if kind == "garbage bytes":
        return draw(st.sampled_from([b"not a root file\n", bytes(range(256)) * 8, b"root" * 100]))
    if kind == "truncated file":
        return good[: draw(st.sampled_from([len(good) // 2, len(good) - 100, 64]))]
    if kind == "zero-byte file":
        return b""
    if kind == "directory as input":
        return None
    return good


@st.composite
def inputs(draw: Any, kind: str, shared: Mapping[str, Any]) -> NtupleInput:
    """An ntuple (or a broken file) with the defect ``kind``."""
    n = 0 if kind == "empty tree" else draw(st.integers(0, 12))
    columns = random_events(draw(st.integers(0, 2**32 - 1)), n)
    if kind == "empty tree":
        columns = {k: v[:0] for k, v in columns.items()}
    process = draw(st.sampled_from(PROCESSES))
    meta: str | None = json.dumps(metadata(process))
    columns, changed = _mutate_columns(kind, columns, draw)
    quiet = draw(st.booleans())
    config = None
    if kind in {"renamed branches with mapping", "mapping to a missing branch"}:
        columns["evt_weight"] = columns.pop("weight")
        target = "evt_weight" if kind == "renamed branches with mapping" else "no_such_branch"
        config = f'[selection.branches]\nweight = "{target}"\n'.encode()
        changed = "weight"
    if kind == "no metadata":
        meta = None
    elif kind == "metadata not json":
        meta = draw(st.sampled_from(["{not json", "", "[1, 2]", "null"]))
    elif kind == "unknown process":
        meta = json.dumps(
            {**metadata(process), "process": draw(st.sampled_from(["bogus", "", "Data"]))}
        )
    elif kind == "metadata nan luminosity":
        meta = json.dumps({**metadata("data"), "luminosity_fb": float("nan")})
    tree = "other" if kind == "no events tree" else "events"
    good = write_root(columns, meta, tree=tree)
    name = FILE
    if kind == "missing file":
        return NtupleInput(kind, {}, ("missing.root",), "fail", "missing.root", quiet=quiet)
    if kind == "one good one bad file":
        bad = dict(columns)
        del bad["trk_pz"]
        files = {"good.root": good, "bad.root": write_root(bad, meta)}
        return NtupleInput(kind, files, ("good.root", "bad.root"), "fail", "bad.root", quiet=quiet)
    if kind == "directory as input":
        name = "folder.root"
    content = _broken_file(kind, good, draw)
    culprit = name if KINDS[kind] == "fail" else ""
    if kind == "mapping to a missing branch":
        culprit = "weight|no_such_branch"
    elif kind in {"missing branch", "jagged weight", "jagged trigger flag"}:
        culprit = f"{name},{changed}"
    label_changed = f" [{changed}]" if changed else ""
    return NtupleInput(
        kind + label_changed, {name: content}, (name,), KINDS[kind], culprit, config, quiet
    )


def cases(item: NtupleInput, shared: Mapping[str, Any]) -> list[Case]:
    """``dhstat select`` of the input with all three outputs."""
    outputs = ("out/selected.root", "out/cutflow.json", "out/macroregions.json")
    argv: tuple[str, ...] = (
        "select",
        *item.inputs,
        "-o",
        outputs[0],
        "--cutflow",
        outputs[1],
        "--macroregions",
        outputs[2],
        "--workers",
        "1",
    )
    files = dict(item.files)
    if item.quiet:
        argv += ("-q",)
    if item.config is not None:
        files["cfg.toml"] = item.config
        argv += ("--config", "cfg.toml")
    culprits = tuple(item.culprit.split(",")) if item.culprit else ()
    kind = item.kind.split(" [")[0]
    return [Case(CATEGORY, item.kind, argv, files, KINDS[kind], culprits, outputs, check_select)]


def valid_ntuple() -> bytes:
    """A valid mumu ntuple of the three example events plus ten random ones (shared input)."""
    return write_root(random_events(5, 10), json.dumps(metadata("mumu")))
