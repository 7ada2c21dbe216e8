"""Bad [[samples]] input: one line naming the sample, the file and the field, exit 2, nothing written."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot
from tiny import BRANCHES, EVENTS, write_tiny

from dhstat.cli import main
from dhstat.samples import samples_toml

N = len(EVENTS)


def _table(name: str, kind: str, files: Any, **more: Any) -> dict[str, Any]:
    table = {"name": name, "kind": kind, "files": files, "tree": "ntuple", "branches": BRANCHES}
    if kind == "background":
        table["process"] = "mumu"
    if kind == "signal":
        table |= {"ma": 5.0, "mh": 1.0}
    return table | more


def _good(folder: Path) -> list[dict[str, Any]]:
    write_tiny(folder / "in" / "data.root")
    write_tiny(folder / "in" / "mc.root")
    write_tiny(folder / "in" / "sig.root")
    return [
        _table("data", "data", "in/data.root"),
        _table("mc", "background", ["in/mc*.root"]),
        _table("sig", "signal", "in/sig.root"),
    ]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _select(
    folder: Path, tables: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    (folder / "c.toml").write_text(samples_toml(tables), encoding="utf-8")
    before = _snapshot(folder)
    cwd = Path.cwd()
    os.chdir(folder)
    capsys.readouterr()
    try:
        main(
            [
                "select",
                "--config",
                "c.toml",
                "--output",
                "out/selected.root",
                "--workers",
                "1",
                "--cutflow",
                "out/cutflow.json",
            ]
        )
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    else:
        code = 0
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    if code != 0:
        assert _snapshot(folder) == before, "a bad input must not write anything"
    return code, err


def test_the_good_declaration_selects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _select(tmp_path, _good(tmp_path), capsys)
    assert code == 0, err
    assert (tmp_path / "out" / "selected.root").is_file()


def _missing_branch(folder: Path, tables: list[dict[str, Any]]) -> None:
    tables[1]["branches"] = BRANCHES | {"trk_clusterE": "mu_{i}_E_cluster"}


def _layouts_differ(folder: Path, tables: list[dict[str, Any]]) -> None:
    branches = {k: v for k, v in BRANCHES.items() if k not in ("egamma_total", "gam_recoil_angle")}
    write_tiny(folder / "in" / "mc.root", gam_E=np.zeros(N))  # any content: the map differs
    tables[1]["branches"] = branches


def _weights(values: list[float]) -> Callable[[Path, list[dict[str, Any]]], None]:
    def change(folder: Path, tables: list[dict[str, Any]]) -> None:
        w = np.ones(N)
        w[: len(values)] = values
        write_tiny(folder / "in" / "mc.root", w=w)
        tables[1]["weight"] = "w"

    return change


def _jagged_weights(folder: Path, tables: list[dict[str, Any]]) -> None:
    path = write_tiny(folder / "in" / "mc.root")
    with uproot.open(path) as handle:
        rows = dict(handle["ntuple"].arrays(library="np"))
    types: dict[str, Any] = {k: v.dtype for k, v in rows.items()} | {"w": "var * float64"}
    with uproot.recreate(path) as handle:
        handle.mktree("ntuple", types).extend(rows | {"w": ak.Array([[1.0, 2.0]] * N)})
    tables[1]["weight"] = "w"


CASES: list[tuple[str, Callable[[Path, list[dict[str, Any]]], None], tuple[str, ...]]] = [
    (
        "glob",
        lambda f, t: t[1].update(files=["in/nothing_*.root"]),
        ("samples[1] ('mc').files", "nothing_*.root", "matching at least one file"),
    ),
    (
        "missing branch",
        _missing_branch,
        ("mc.root", "samples[1] ('mc').branches.trk_clusterE", "'mu_0_E_cluster'"),
    ),
    (
        "missing weight branch",
        lambda f, t: t[1].update(weight="xsec * w_pid"),
        ("mc.root", "samples[1] ('mc').weight", "'xsec'"),
    ),
    (
        "bad weight expression",
        lambda f, t: t[1].update(weight="__import__('os')"),
        ("c.toml", "samples[1] ('mc').weight", "only the functions"),
    ),
    (
        "signal without masses",
        lambda f, t: t[2].pop("mh"),
        ("c.toml", "samples[2] ('sig').mh", "branch holding it"),
    ),
    (
        "mass branch missing",
        lambda f, t: t[2].update(ma="mA"),
        ("sig.root", "samples[2] ('sig').ma", "'mA'"),
    ),
    (
        "layouts differ",
        _layouts_differ,
        ("mc.root", "samples[1] ('mc').branches", "data sample 'data'"),
    ),
    (
        "NaN weights",
        _weights([np.nan, np.nan, 1.0]),
        ("mc.root", "samples[1] ('mc').weight", f"2 not finite and 0 negative of {N}"),
    ),
    (
        "negative weights",
        _weights([-1.0, 2.0, -0.5, np.inf]),
        ("mc.root", "samples[1] ('mc').weight", f"1 not finite and 2 negative of {N}"),
    ),
    (
        "weights whose sum overflows",
        _weights([1e308, 1e308]),
        ("mc.root", "samples[1] ('mc').weight", f"1 not finite and 0 negative of {N}"),
    ),
    (
        "a list of weights per event",
        _jagged_weights,
        ("mc.root", "samples[1].weight", "one number per event"),
    ),
    (
        "fewer generated events than entries",
        lambda f, t: t[2].update(generated_events=2),
        ("sig.root", "samples[2] ('sig').generated_events", f"at least the {N} entries read"),
    ),
    (
        "same file twice",
        lambda f, t: t.append(_table("again", "background", "in/m*.root")),
        ("mc.root", "samples[3] ('again').files", "sample 'mc' has it"),
    ),
    (
        "unknown kind",
        lambda f, t: t[1].update(kind="mc"),
        ("c.toml", "samples[1] ('mc').kind", "data, background, signal"),
    ),
    (
        "unknown key",
        lambda f, t: t[0].update(lumi=1.0),
        ("c.toml", "samples[0] ('data').lumi", "unknown key"),
    ),
    (
        "reserved process name",
        lambda f, t: t[1].update(process="signal"),
        ("c.toml", "samples[1] ('mc').process", "not data or signal"),
    ),
    (
        "two normalisations",
        lambda f, t: t[1].update(luminosity_fb=1.0, cross_section_fb=2.0),
        ("c.toml", "samples[1] ('mc').cross_section_fb", "one normalisation"),
    ),
    (
        "wrong tree",
        lambda f, t: t[0].update(tree="variables"),
        ("data.root", "samples[0] ('data').tree", "'variables'"),
    ),
    (
        "fractional track count",
        lambda f, t: write_tiny(f / "in" / "mc.root", nTracks=np.full(N, 2.5)),
        ("mc.root", "samples[1] ('mc'): nTracks", "one whole number per row"),
    ),
    (
        "duplicate name",
        lambda f, t: t.append(_table("mc", "background", "in/data.root")),
        ("c.toml", "samples[3] ('mc').name", "no other sample"),
    ),
]


@pytest.mark.parametrize(("case", "change", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_bad_samples(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    change: Callable[[Path, list[dict[str, Any]]], None],
    fragments: tuple[str, ...],
) -> None:
    tables = _good(tmp_path)
    change(tmp_path, tables)
    code, err = _select(tmp_path, tables, capsys)
    assert code == 2, (case, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not (tmp_path / "out").exists()
