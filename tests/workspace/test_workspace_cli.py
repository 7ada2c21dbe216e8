"""Tests of `dhstat workspaces`: building, pyhf's command line on the output, patchsets, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyhf
import pytest
from workspace_helpers import counts_doc, windows_doc, write_inputs

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------ command line


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dhstat", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def run_inline(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """Run `dhstat ...` in this process (the same entry point as the console script)."""
    from dhstat.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def pyhf_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed `pyhf` command (pyhf has no __main__), as a pyhf user would run it."""
    script = Path(sys.executable).with_name("pyhf")
    command = [str(script)] if script.is_file() else [shutil.which("pyhf") or "pyhf"]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_cli_build_then_pyhf_inspect_and_cls(built: Any, tmp_path: Path) -> None:
    counts_path, windows_path = write_inputs(tmp_path)
    out = tmp_path / "ws"
    result = run("workspaces", "--counts", counts_path, "--windows", windows_path, "--output", out)
    assert result.returncode == 0, result.stderr
    folder, _ = built
    index = json.loads((out / "index.json").read_text())
    for entry in index["windows"]:  # same bytes as the library build
        assert (out / entry["file"]).read_bytes() == (folder / entry["file"]).read_bytes()
    inspect = pyhf_cli("inspect", out / "w11.json")
    assert inspect.returncode == 0, inspect.stderr
    assert "syst_detector" in inspect.stdout
    assert "mcstat_background" in inspect.stdout
    for window_id in (40,):  # a sample: above 9 GeV, all three backgrounds
        path = out / f"w{window_id}.json"
        cls = pyhf_cli("cls", path, "--test-poi", "2.0")
        assert cls.returncode == 0, cls.stderr
        cls_obs = json.loads(cls.stdout)["CLs_obs"]
        model = pyhf.Workspace(json.loads(path.read_text())).model()
        data = pyhf.Workspace(json.loads(path.read_text())).data(model)
        reference = float(pyhf.infer.hypotest(2.0, data, model, test_stat="qtilde"))
        assert 0.0 <= cls_obs <= 1.0
        assert cls_obs == pytest.approx(reference, rel=1e-6)


def test_cli_patchset_export_and_import(
    built: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = built
    patchset = tmp_path / "likelihoods.json"
    code, err = run_inline(capsys, "workspaces", "export-patchset", folder, "--output", patchset)
    assert code == 0, err
    assert (tmp_path / "BkgOnly.json").is_file()
    apply = pyhf_cli("patchset", "apply", tmp_path / "BkgOnly.json", patchset, "--name", "w11")
    assert apply.returncode == 0, apply.stderr
    assert json.loads(apply.stdout) == json.loads((folder / "w11.json").read_text())
    code, err = run_inline(
        capsys, "workspaces", "import-patchset", patchset, "--output", tmp_path / "back"
    )
    assert code == 0, err
    for path in folder.iterdir():
        assert (tmp_path / "back" / path.name).read_bytes() == path.read_bytes()


def _break(kind: str) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Broken inputs: (counts, windows, file that must be named, window that must be named)."""
    counts, wins = counts_doc(), windows_doc()
    if kind == "negative yield":
        counts["windows"]["background"]["tautau"]["yield"][1] = -0.5
        return counts, wins, "counts.json", "window 11"
    if kind == "nan yield":
        counts["windows"]["background"]["mumu"]["yield"][3] = float("nan")
        return counts, wins, "counts.json", "window 40"
    if kind == "efficiency above one":
        counts["windows"]["efficiency"][2] = 1.5
        return counts, wins, "counts.json", "window 12"
    if kind == "counts for an unknown window":
        counts["windows"]["id"][4] = 99
        return counts, wins, "counts.json", "window 41"
    if kind == "duplicate window id":
        wins["windows"]["id"][1] = 3
        return counts, wins, "windows.json", "window 3"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "negative yield",
        "nan yield",
        "efficiency above one",
        "counts for an unknown window",
        "duplicate window id",
    ],
)
def test_bad_input_one_clear_message_nothing_written(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    counts, wins, named_file, named_window = _break(kind)
    counts_path, windows_path = write_inputs(tmp_path, counts, wins)
    out = tmp_path / "ws"
    code, err = run_inline(
        capsys, "workspaces", "--counts", counts_path, "--windows", windows_path, "--output", out
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert named_file in lines[0]
    assert named_window in lines[0]
    assert not out.exists()


def test_systematics_option_rejects_unknown_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counts_path, windows_path = write_inputs(tmp_path)
    code, err = run_inline(
        capsys,
        "workspaces",
        "--counts",
        counts_path,
        "--windows",
        windows_path,
        "--output",
        tmp_path / "ws",
        "--systematics",
        "guess",
    )
    assert code == 2
    assert "measured:FILE" in err
