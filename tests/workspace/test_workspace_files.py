"""Tests of dhstat.workspace.files: the index, the directory of files and the archive."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pyhf
import pytest
from workspace_helpers import WINDOWS, windows_doc

from dhstat import config, schemas, systematics, workspace
from dhstat.errors import InputError

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------ index, files, archive


def test_index_validates_and_lists_every_file_digest(built: Any) -> None:
    folder, wset = built
    index = json.loads((folder / "index.json").read_text())
    schemas.validate(index, "workspace-index", source="index.json")
    jsonschema.Draft202012Validator.check_schema(schemas.load("workspace-index"))
    assert [w["id"] for w in index["windows"]] == [r[0] for r in WINDOWS]
    wins = windows_doc()["windows"]
    for i, entry in enumerate(index["windows"]):
        data = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["center"] == wins["center"][i]
        assert entry["ceta_cut"] == wins["ceta_cut"][i]
        assert entry["file"] == f"w{entry['id']}.json"
    assert index["provenance"]["pyhf_version"] == pyhf.__version__
    assert index["provenance"]["config_digest"] == config.load().digest()
    names = {p["name"] for p in index["parameters"]}
    assert names == {m.name for m in systematics.CATALOGUE}
    assert workspace.read_set(folder).texts == wset.texts


def test_build_is_deterministic(built: Any, tmp_path: Path) -> None:
    folder, wset = built
    workspace.save_set(wset, tmp_path / "again")
    for entry in wset.index["windows"]:
        assert (tmp_path / "again" / entry["file"]).read_bytes() == (
            folder / entry["file"]
        ).read_bytes()


def test_archive_is_reproducible_and_complete(built: Any, tmp_path: Path) -> None:
    _, wset = built
    first = workspace.archive(wset, tmp_path / "a.tar.gz").read_bytes()
    second = workspace.archive(wset, tmp_path / "b.tar.gz").read_bytes()
    assert first == second
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
        assert sorted(names) == sorted(["index.json", *(e["file"] for e in wset.index["windows"])])
        for entry in wset.index["windows"]:
            member = tar.extractfile(entry["file"])
            assert member is not None
            assert hashlib.sha256(member.read()).hexdigest() == entry["sha256"]


def test_load_rejects_a_broken_workspace(built: Any, tmp_path: Path) -> None:
    folder, wset = built
    spec = json.loads((folder / wset.index["windows"][0]["file"]).read_text())
    spec["channels"][0]["samples"][1]["data"] = [-1.0]
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match=r"bad\.json: channels/0/samples/1"):
        workspace.load(tmp_path / "bad.json")
    spec["channels"][0]["samples"][1]["dataa"] = [1.0]
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match="valid pyhf workspace"):
        workspace.load(tmp_path / "bad.json")
