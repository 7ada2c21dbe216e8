"""Generated HEPData patchsets: the synthetic run's export, valid or broken in one way.

Each input is a patchset and its background-only workspace (as ``dhstat workspaces
export-patchset`` writes them for the synthetic run of ``tests/data/synthetic_run.py``), run
through ``dhstat workspaces import-patchset patchset.json --output out``. A result must be a
folder with an index (schema ``workspace-index``) that lists one distinct file per patch, each
present, with its digest, and a workspace pyhf accepts; nothing may be written outside ``out``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyhf
from adversarial_harness import Case, Expect
from hypothesis import strategies as st

from dhstat import schemas
from dhstat.errors import InputError

if TYPE_CHECKING:
    from adversarial_harness import Run

CATEGORY = "patchset"

KINDS: dict[str, Expect] = {
    "none": "succeed",
    "two windows, one file name": "fail",
    "two windows, one id": "fail",
    "window file index.json": "fail",
    "window file outside the folder": "fail",
    "window file in a subfolder": "fail",
    "empty window file name": "fail",
    "nan in a patch": "fail",
    "negative observation in a patch": "fail",
    "unknown patch operation": "fail",
    "patch path that does not exist": "fail",
    "no patches": "either",
    "missing window metadata": "fail",
    "background-only workspace missing": "fail",
    "background-only workspace edited": "fail",
    "non-utf8 patchset": "fail",
    "truncated patchset": "fail",
}


@dataclass(frozen=True)
class PatchsetInput:
    """A patchset and background-only workspace (bytes), and what the input deserves."""

    kind: str
    patchset: bytes
    background: bytes | None
    expect: Expect
    patches: int
    culprit: str


def _window(patch: dict[str, Any]) -> dict[str, Any]:
    window: dict[str, Any] = patch["metadata"]["dhstat_window"]
    return window


def _rename(patches: list[dict[str, Any]], index: int, file: str) -> None:
    _window(patches[index])["file"] = file


def _samples(patch: dict[str, Any]) -> dict[str, Any]:
    return next(op for op in patch["patch"] if op["path"].endswith("/samples"))


def _mutate(kind: str, patchset: dict[str, Any], draw: Any) -> str:
    """Edit the patchset in place; returns a name the error must mention ('' if none)."""
    patches = patchset["patches"]
    first, second = 0, draw(st.integers(1, len(patches) - 1))
    if kind == "two windows, one file name":
        _rename(patches, second, _window(patches[first])["file"])
        return _window(patches[first])["file"]
    if kind == "two windows, one id":
        _window(patches[second])["id"] = _window(patches[first])["id"]
        return "id"
    if kind == "window file index.json":
        _rename(patches, second, "index.json")
        return "index.json"
    if kind == "window file outside the folder":
        name = draw(st.sampled_from(["../escaped.json", "../../adv-escaped.json"]))
        _rename(patches, second, name)
        return name
    if kind == "window file in a subfolder":
        _rename(patches, second, "sub/w.json")
        return "sub/w.json"
    if kind == "empty window file name":
        _rename(patches, second, draw(st.sampled_from(["", ".", "/"])))
        return "file"
    if kind == "nan in a patch":
        _samples(patches[second])["value"][1]["data"][0] = math.nan
        return ""
    if kind == "negative observation in a patch":
        observations = next(op for op in patches[second]["patch"] if op["path"] == "/observations")
        observations["value"][0]["data"][0] = -3
        return ""
    if kind == "unknown patch operation":
        patches[second]["patch"][0]["op"] = "bogus"
        return ""
    if kind == "patch path that does not exist":
        patches[second]["patch"][0]["path"] = "/channels/7/samples"
        return ""
    if kind == "no patches":
        patchset["patches"] = []
        return ""
    if kind == "missing window metadata":
        del patches[second]["metadata"]["dhstat_window"]
        return ""
    return ""


@st.composite
def inputs(draw: Any, kind: str, shared: Mapping[str, Any]) -> PatchsetInput:
    """The shared patchset with the defect ``kind``."""
    patchset = copy.deepcopy(json.loads(shared["patchset"]))
    background: bytes | None = shared["background_only"]
    culprit = _mutate(kind, patchset, draw)
    text = json.dumps(patchset, allow_nan=True).encode()
    if kind == "background-only workspace missing":
        background = None
        culprit = "BkgOnly.json"
    elif kind == "background-only workspace edited":
        edited = json.loads(shared["background_only"])
        edited["observations"][0]["data"][0] += 1
        background = json.dumps(edited).encode()
        culprit = "BkgOnly.json"
    elif kind == "non-utf8 patchset":
        text = text.replace(b'"w1"', b'"w\xff1"', 1)
    elif kind == "truncated patchset":
        text = text[: draw(st.integers(1, len(text) - 1))]
    culprits = f"patchset.json|{culprit}" if culprit else "patchset.json"
    expect = KINDS[kind]
    return PatchsetInput(kind, text, background, expect, len(patchset["patches"]), culprits)


def check_import(case: Case, run: Run, folder: Path) -> list[str]:
    """The imported folder: index valid, one distinct present file per patch, nothing outside."""
    problems = []
    index_path = folder / "out" / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    try:
        schemas.validate(index, "workspace-index", source=str(index_path))
    except InputError as error:
        return [f"index.json does not validate: {error}"]
    files = [w["file"] for w in index["windows"]]
    if len(files) != case.reference["patches"]:
        problems.append(
            f"{len(files)} windows in the index for {case.reference['patches']} patches"
        )
    if len(set(files)) != len(files):
        problems.append(f"two windows share a file: {files}")
    for window in index["windows"]:
        path = folder / "out" / window["file"]
        if path.resolve().parent != (folder / "out").resolve() or not path.is_file():
            problems.append(f"window {window['id']}: file {window['file']!r} not in the folder")
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != window["sha256"]:
            problems.append(f"window {window['id']}: sha256 does not match {window['file']}")
        pyhf.Workspace(json.loads(path.read_text(encoding="utf-8"))).model()
    outside = [
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.relative_to(folder).parts[0] != "out"
        and p.relative_to(folder).as_posix() not in case.files
    ]
    escaped = folder.parent / "adv-escaped.json"
    if escaped.exists():
        escaped.unlink()
        outside.append(str(escaped))
    if outside:
        problems.append(f"files written outside the output folder: {outside}")
    return problems


def cases(item: PatchsetInput, shared: Mapping[str, Any]) -> list[Case]:
    """``dhstat workspaces import-patchset patchset.json --output out``."""
    files: dict[str, bytes | None] = {"patchset.json": item.patchset}
    if item.background is not None:
        files["BkgOnly.json"] = item.background
    argv = ("workspaces", "import-patchset", "patchset.json", "--output", "out")
    return [
        Case(
            CATEGORY,
            item.kind,
            argv,
            files,
            item.expect,
            (item.culprit,),
            ("out/index.json",),
            check_import,
            reference={"patches": item.patches},
        )
    ]
