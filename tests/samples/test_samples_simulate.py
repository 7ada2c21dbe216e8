"""`dhstat simulate` writes the samples table of its ntuples; selecting it equals selecting the files."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from dhstat import config, ntuples
from dhstat.cli import cli, main
from dhstat.selection import SAMPLES


def test_simulate_writes_the_samples_table_and_it_selects_the_same(tmp_path: Path) -> None:
    small = tmp_path / "small.toml"
    small.write_text("[dataset]\nluminosity_fb = 0.01\n", encoding="utf-8")
    runner = CliRunner()
    folder = tmp_path / "nt"
    result = runner.invoke(
        cli, ["simulate", "--config", str(small), "--output", str(folder), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    table = tomllib.loads((folder / "samples.toml").read_text(encoding="utf-8"))
    assert sorted(s["name"] for s in table["samples"]) == ["data", "eemumu", "mumu", "tautau"]
    assert config.load(folder / "samples.toml")["samples"] == table["samples"]
    files = sorted(str(p) for p in folder.glob("*.root"))
    by_files = runner.invoke(
        cli, ["select", *files, "-o", str(tmp_path / "a.root"), "-q", "--workers", "1"]
    )
    assert by_files.exit_code == 0, by_files.output
    by_table = runner.invoke(
        cli,
        [
            "select",
            "--config",
            str(folder / "samples.toml"),
            "-o",
            str(tmp_path / "b.root"),
            "-q",
            "--workers",
            "1",
        ],
    )
    assert by_table.exit_code == 0, by_table.output
    for tree in SAMPLES:
        a = ntuples.read_tree(tmp_path / "a.root", tree)
        b = ntuples.read_tree(tmp_path / "b.root", tree)
        for code in range(5):  # the same events per process (processes come in another order)
            mine, theirs = a["process"] == code, b["process"] == code
            for name in a:
                np.testing.assert_array_equal(a[name][mine], b[name][theirs], err_msg=name)
    assert len(a["weight"]) > 0


def test_a_file_without_metadata_points_to_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with uproot.recreate(tmp_path / "plain.root") as handle:
        handle.mktree("events", {"weight": np.float64}).extend({"weight": np.ones(3)})
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["select", "plain.root", "-o", "out.root"])
    finally:
        os.chdir(cwd)
    assert exit_.value.code == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    assert "plain.root: dhstat_metadata" in line
    assert "[[samples]]" in line
    assert not (tmp_path / "out.root").exists()


def test_select_without_input_or_samples_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["select", "-o", str(tmp_path / "out.root")])
    assert exit_.value.code == 2
    assert "[[samples]]" in capsys.readouterr().err
    assert not (tmp_path / "out.root").exists()
