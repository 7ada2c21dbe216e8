"""The published reference set under workspaces/: every file valid, usable with pyhf alone.

The set is ``workspaces/index.json`` plus ``workspaces/default.tar.gz`` (the same index and one pyhf
workspace per window). The slow test regenerates it from the default configuration and compares
the digests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pyhf
import pytest

from dhstat import config, schemas, workspace

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)

FOLDER = Path(__file__).resolve().parents[1] / "workspaces"
INDEX = FOLDER / "index.json"
ARCHIVE = FOLDER / "default.tar.gz"
published = pytest.mark.skipif(
    not (INDEX.is_file() and ARCHIVE.is_file()),
    reason="the reference set is not generated yet (see workspaces/README.md)",
)


@pytest.fixture(scope="module")
def members() -> dict[str, bytes]:
    with tarfile.open(ARCHIVE) as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
        }


def test_readme_explains_how_to_open_the_set() -> None:
    text = (FOLDER / "README.md").read_text()
    assert "tar xzf" in text
    assert "pyhf cls" in text


@published
def test_archive_is_compact() -> None:
    assert ARCHIVE.stat().st_size <= 20 * 1024 * 1024


@published
def test_index_validates_and_matches_the_archive(members: dict[str, bytes]) -> None:
    index = json.loads(INDEX.read_text())
    schemas.validate(index, "workspace-index", source=INDEX)
    assert json.loads(members["index.json"]) == index
    listed = {entry["file"] for entry in index["windows"]}
    assert set(members) == listed | {"index.json"}
    for entry in index["windows"]:
        assert hashlib.sha256(members[entry["file"]]).hexdigest() == entry["sha256"]


@published
def test_every_published_workspace_is_valid(members: dict[str, bytes]) -> None:
    index = json.loads(INDEX.read_text())
    for position, entry in enumerate(index["windows"]):
        spec = json.loads(members[entry["file"]])
        workspace.validate(spec, source=entry["file"])  # pyhf's schema, compiled once
        if position % max(1, len(index["windows"]) // 25) == 0:  # a sample through pyhf itself
            pyhf.schema.validate(spec, "workspace.json")
            model = pyhf.Workspace(spec).model()
            assert model.config.poi_name == "sigma"
            assert model.config.suggested_bounds()[model.config.poi_index] == index["poi_bounds_fb"]


@published
def test_pyhf_cli_opens_published_workspaces(members: dict[str, bytes], tmp_path: Path) -> None:
    index = json.loads(INDEX.read_text())
    script = Path(sys.executable).with_name("pyhf")
    command = str(script) if script.is_file() else (shutil.which("pyhf") or "pyhf")
    for entry in index["windows"][:: max(1, len(index["windows"]) // 2)][:2]:
        path = tmp_path / entry["file"]
        path.write_bytes(members[entry["file"]])
        result = subprocess.run(
            [command, "cls", str(path)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        assert result.returncode == 0, result.stderr
        assert 0.0 <= json.loads(result.stdout)["CLs_obs"] <= 1.0


def _dhstat(*args: Any) -> None:
    subprocess.run([sys.executable, "-m", "dhstat", *map(str, args)], check=True)


@published
@pytest.mark.slow
def test_regenerating_the_reference_set_gives_the_same_digests(tmp_path: Path) -> None:
    index = json.loads(INDEX.read_text())
    assert index["provenance"]["config_digest"] == config.load().digest()
    run_dir = tmp_path / "run"
    _dhstat("run", "--output", run_dir)
    _dhstat(
        "workspaces",
        "--counts",
        run_dir / "counts.json",
        "--windows",
        run_dir / "windows.json",
        "--output",
        tmp_path / "ws",
        "--archive",
        tmp_path / "default.tar.gz",
    )
    again = json.loads((tmp_path / "ws" / "index.json").read_text())
    assert [e["sha256"] for e in again["windows"]] == [e["sha256"] for e in index["windows"]]
    assert again == index
    assert (tmp_path / "default.tar.gz").read_bytes() == ARCHIVE.read_bytes()
