"""Workspaces as theorists find them: JSON, background-only + patchset + patch, HEPData archives.

The fixture is pyhf's own patchset example (tests/data/pyhf_patchset, from scikit-hep/pyhf); the
expected patched workspace is computed here with jsonpatch and pyhf directly, not with dhstat.
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import jsonpatch
import pyhf
import pytest
from cli_helpers import run_main

from dhstat.errors import InputError
from dhstat.stats import sources
from dhstat.stats.model import window_spec

DATA = Path(__file__).parent / "data" / "pyhf_patchset"
BKG = DATA / "example_bkgonly.json"
PATCHSET = DATA / "example_patchset.json"
PATCH = "patch_channel1_signal_syst1"


def _expected() -> dict[str, Any]:
    background = json.loads(BKG.read_text())
    patchset = json.loads(PATCHSET.read_text())
    result: dict[str, Any] = jsonpatch.apply_patch(background, patchset["patches"][0]["patch"])
    return result


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], *fragments: str) -> None:
    code, _, err = run_main(argv, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_patchset_gives_pyhfs_patched_workspace() -> None:
    loaded = sources.read_workspace(BKG, patchset=PATCHSET, patch=PATCH)
    assert loaded.spec == _expected()
    assert loaded.patch == PATCH
    reference = pyhf.PatchSet(json.loads(PATCHSET.read_text())).apply(
        json.loads(BKG.read_text()), PATCH
    )
    assert loaded.spec == dict(reference)


def test_archive_read_in_memory_auto_and_named(tmp_path: Path) -> None:
    members = {"lh/BkgOnly.json": BKG.read_bytes(), "lh/patchset.json": PATCHSET.read_bytes()}
    archive = _tar(tmp_path / "likelihoods.tar.gz", members)
    before = sorted(p.name for p in tmp_path.iterdir())
    auto = sources.read_workspace(archive, patch=PATCH)
    named = sources.read_workspace(
        archive, workspace="BkgOnly.json", patchset="lh/patchset.json", patch=PATCH
    )
    assert auto.spec == named.spec == _expected()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing extracted
    assert auto.source.startswith(f"{archive}:lh/BkgOnly.json")


def test_archive_with_one_workspace(tmp_path: Path) -> None:
    spec = window_spec(n=2, signal=1.0, backgrounds={"b": 0.5})
    archive = _tar(tmp_path / "ws.tgz", {"ws.json": json.dumps(spec).encode()})
    assert sources.read_workspace(archive).spec == spec


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"patch": "nope"}, ["--patch", PATCH, "'nope'"]),
        ({}, ["--patch", "one of: " + PATCH]),
        ({"workspace": "missing.json", "patch": PATCH}, ["member missing.json", "BkgOnly.json"]),
        ({"patchset": "other.json", "patch": PATCH}, ["member other.json"]),
    ],
)
def test_archive_errors(tmp_path: Path, kwargs: dict[str, Any], fragments: list[str]) -> None:
    archive = _tar(
        tmp_path / "a.tar.gz",
        {"BkgOnly.json": BKG.read_bytes(), "patchset.json": PATCHSET.read_bytes()},
    )
    with pytest.raises(InputError) as error:
        sources.read_workspace(archive, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_digest_mismatch_and_broken_archive(tmp_path: Path) -> None:
    background = json.loads(BKG.read_text())
    background["observations"][0]["data"] = [123.0, 112.0]
    path = tmp_path / "bkg.json"
    path.write_text(json.dumps(background))
    with pytest.raises(InputError, match=r"metadata\.digests"):
        sources.read_workspace(path, patchset=PATCHSET, patch=PATCH)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="readable tar archive"):
        sources.read_workspace(broken)


def _bad_specs(tmp_path: Path) -> list[tuple[Path, list[str]]]:
    spec = window_spec(n=2, signal=1.0, backgrounds={"b": 0.5})
    two_bins = copy.deepcopy(spec)
    two_bins["observations"][0]["data"] = [2, 3]
    poi = copy.deepcopy(spec)
    poi["measurements"][0]["config"]["poi"] = "not_a_parameter"
    out = []
    for name, document, fragments in (
        ("bins.json", two_bins, ["observations[0].data", "channel 'window'"]),
        ("poi.json", poi, ["not_a_parameter"]),
    ):
        path = tmp_path / name
        path.write_text(json.dumps(document))
        out.append((path, fragments))
    latin = tmp_path / "latin1.json"
    latin.write_bytes(json.dumps(spec).encode().replace(b'"b"', b'"caf\xe9"'))
    out.append((latin, ["UTF-8"]))
    return out


@pytest.mark.parametrize("command", ["limit", "significance"])
def test_cli_bad_inputs_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    for path, fragments in _bad_specs(tmp_path):
        _one_line_error([command, str(path)], capsys, str(path), *fragments)
    archive = _tar(
        tmp_path / "a.tar.gz",
        {"BkgOnly.json": BKG.read_bytes(), "patchset.json": PATCHSET.read_bytes()},
    )
    _one_line_error([command, str(archive), "--patch", "x"], capsys, PATCH)
    _one_line_error(
        [command, str(archive), "--workspace", "no.json", "--patch", PATCH], capsys, "no.json"
    )
    _one_line_error([command, str(BKG), "--patch", PATCH], capsys, "--patchset")


@pytest.mark.parametrize("command", ["limit", "significance"])
def test_cli_reads_patchset_and_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    archive = _tar(
        tmp_path / "a.tar.gz",
        {"BkgOnly.json": BKG.read_bytes(), "patchset.json": PATCHSET.read_bytes()},
    )
    plain = tmp_path / "patched.json"
    plain.write_text(json.dumps(_expected()))
    extra = ["--method", "asymptotic"] if command == "significance" else []
    docs = []
    for argv in (
        [str(plain)],
        [str(BKG), "--patchset", str(PATCHSET), "--patch", PATCH],
        [str(archive), "--patch", PATCH],
    ):
        code, out, err = run_main([command, *argv, *extra, "--json"], capsys)
        assert code == 0, err
        docs.append(json.loads(out))
    assert docs[0] == docs[1] == docs[2]
