"""Tests of dhstat.workspace.patchsets: export as a pyhf patchset and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyhf
import pytest

from dhstat import workspace
from dhstat.errors import InputError

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------ patchsets


def test_patchset_round_trip(built: Any) -> None:
    _, wset = built
    bkg, patchset = workspace.to_patchset(wset, hepdata="ins2104697")
    pyhf.schema.validate(patchset, "patchset.json")
    pyhf.schema.validate(bkg, "workspace.json")
    assert patchset["metadata"]["labels"] == ["M_Aprime", "M_hprime"]
    pset = pyhf.PatchSet(patchset)
    for entry, spec in zip(wset.index["windows"], wset.workspaces, strict=True):
        patched = pset.apply(pyhf.Workspace(bkg), [entry["ma"], entry["mh"]])
        assert json.loads(json.dumps(dict(patched))) == spec
    back = workspace.from_patchset(patchset, bkg)
    assert back.index == wset.index
    assert back.texts == wset.texts
    bkg["channels"][0]["samples"][0]["data"] = [123.0]
    with pytest.raises(InputError, match="digest of the background-only"):
        workspace.from_patchset(patchset, bkg)


# ------------------------------------------------------------------ import-patchset: bad windows


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _import(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from dhstat.cli import main

    with pytest.raises(SystemExit) as info:
        main(["workspaces", "import-patchset", *argv])
    return int(info.value.code or 0), capsys.readouterr().err


_FILE = "patches[{}].metadata.dhstat_window.file"


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        # two windows with the same file: the second would overwrite the first
        pytest.param(
            lambda w: w[1].update(file=w[0]["file"]), _FILE.format(1), "no other", id="same-file"
        ),
        # names differing only in case are one file on case-insensitive file systems
        pytest.param(
            lambda w: w[1].update(file=w[0]["file"].replace("w", "W", 1)),
            _FILE.format(1),
            "no other",
            id="case",
        ),
        # a window named like the index would be overwritten by it
        pytest.param(
            lambda w: w[2].update(file="index.json"), _FILE.format(2), "other than", id="index"
        ),
        pytest.param(
            lambda w: w[3].update(file="INDEX.json"), _FILE.format(3), "other than", id="INDEX"
        ),
        pytest.param(
            lambda w: w[1].update(id=w[0]["id"]),
            "patches[1].metadata.dhstat_window.id",
            "no other window has",
            id="same-id",
        ),
    ],
)
def test_import_patchset_rejects_clashing_windows_before_writing(
    built: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Any,
    field: str,
    fragment: str,
) -> None:
    _, wset = built
    bkg, patchset = workspace.to_patchset(wset)
    change([patch["metadata"]["dhstat_window"] for patch in patchset["patches"]])
    patchset_path = tmp_path / "patchset.json"
    patchset_path.write_text(json.dumps(patchset))
    (tmp_path / "BkgOnly.json").write_text(json.dumps(bkg))
    # an existing set in the output folder must survive untouched
    out = tmp_path / "out"
    workspace.save_set(wset, out)
    before = _files(tmp_path)
    code, err = _import([str(patchset_path), "-o", str(out)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {patchset_path}: {field}: expected ")
    assert fragment in lines[0]
    assert _files(tmp_path) == before  # nothing written, nothing left behind
    # the library refuses the same set as well, naming the index entry
    bad = workspace.WorkspaceSet(
        index={**wset.index, "windows": [wset.index["windows"][0]] * 2},
        workspaces=wset.workspaces[:1] * 2,
        texts=wset.texts[:1] * 2,
    )
    with pytest.raises(InputError, match=r"windows\[1\]\.id"):
        workspace.save_set(bad, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_import_patchset_still_materialises_a_good_patchset(
    built: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dhstat.cli import main

    _, wset = built
    bkg, patchset = workspace.to_patchset(wset)
    (tmp_path / "p.json").write_text(json.dumps(patchset))
    (tmp_path / "BkgOnly.json").write_text(json.dumps(bkg))
    main(["workspaces", "import-patchset", str(tmp_path / "p.json"), "-o", str(tmp_path / "o")])
    assert "workspaces written" in capsys.readouterr().out
    assert workspace.read_set(tmp_path / "o").texts == wset.texts


def test_read_set_rejects_an_index_with_clashing_files(built: Any, tmp_path: Path) -> None:
    folder, wset = built
    index = json.loads((folder / "index.json").read_text())
    index["windows"][1]["file"] = index["windows"][0]["file"]
    (tmp_path / "index.json").write_text(json.dumps(index))
    for entry in wset.index["windows"]:
        (tmp_path / entry["file"]).write_bytes((folder / entry["file"]).read_bytes())
    with pytest.raises(InputError, match=r"index\.json: windows\[1\]\.file: expected a file name"):
        workspace.read_set(tmp_path)


def test_read_set_names_a_non_utf8_workspace(built: Any, tmp_path: Path) -> None:
    folder, wset = built
    for path in folder.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    first = tmp_path / wset.index["windows"][0]["file"]
    first.write_bytes(b"\xff" + first.read_bytes())
    with pytest.raises(InputError, match=r"byte 0: expected UTF-8 text"):
        workspace.read_set(tmp_path)
