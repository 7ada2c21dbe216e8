"""The command-line group: pipeline order, version, and the error convention."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dhstat import __version__
from dhstat.cli import PIPELINE, cli


def test_help_lists_subcommands_in_pipeline_order() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = [
        line.split()[0]
        for line in result.output.split("Commands:")[1].splitlines()
        if line.startswith("  ") and line.split()
    ]
    known = [name for name in listed if name in PIPELINE]
    assert known == sorted(known, key=PIPELINE.index)
    assert "config" in listed


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert __version__ in result.output


def test_config_show_is_a_valid_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 0
    path = tmp_path / "cfg.toml"
    path.write_text(result.output)
    check = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert check.exit_code == 0, check.output
    assert "valid" in check.output


def test_bad_config_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[beams]\nunknown_key = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "dhstat", "config", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: beams: expected no key 'unknown_key'")
