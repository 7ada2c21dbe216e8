"""The command-line group: pipeline order, version, and the error convention."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dhstat import __version__, config, windows
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


# ------------------------------------------------------------------------------ run --preset


def test_run_preset_unknown_gives_one_line_listing_the_presets(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dhstat", "run", "--preset", "nope", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "expected the name of a packaged preset (quick)" in lines[0]
    assert "'nope'" in lines[0]
    assert not list(tmp_path.iterdir())  # nothing was run


def test_run_preset_and_config_path_exclude_each_other(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("")
    args = ["run", str(cfg), "--preset", "quick", "--output", str(tmp_path / "run")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "either CONFIG_PATH or --preset" in result.output
    assert not (tmp_path / "run").exists()


def test_quick_preset_is_a_valid_small_configuration() -> None:
    assert "quick" in config.presets()
    cfg = config.load(config.preset_path("quick"))
    assert cfg.source == str(config.preset_path("quick"))
    grid = windows.GridSettings.from_config(cfg)
    points = windows.grid_points(grid)
    assert 50 <= int(points.in_range.sum()) <= 200  # about a hundred windows
    # the report's slices and limit range lie in the searched M_A' range
    report = cfg["report"]
    low, high = cfg["grid"]["ma_min"], cfg["grid"]["ma_max"]
    assert all(low <= ma <= high for ma in report["fig3_ma"])
    assert report["summary_ma_range"] == [low, high]
    # enough luminosity that a window of typical efficiency is not prior-dominated: its limit
    # for N = 0 without background, 2.3 / (eps L) with eps = 0.1, is well below sigma_max
    assert 2.3 / (0.1 * cfg["dataset"]["luminosity_fb"]) < 0.2 * cfg["stats"]["sigma_max"]


@pytest.mark.slow
def test_run_preset_quick_gives_limits_set_by_the_data(tmp_path: Path) -> None:
    """`dhstat run --preset quick`: few limits depend on sigma_max (the prior's upper end)."""
    out = tmp_path / "quick"
    result = CliRunner().invoke(cli, ["run", "--preset", "quick", "--output", str(out)])
    assert result.exit_code == 0, result.output
    entries = json.loads((out / "results.json").read_text())["windows"]
    sensitive = [e for e in entries if "no_sensitivity" not in e["flags"]]
    dependent = [e for e in sensitive if e["sigma_max_dependent"]]
    assert len(sensitive) >= 0.9 * len(entries)
    assert len(dependent) <= 0.05 * len(sensitive), [e["id"] for e in dependent]


# ------------------------------------------------------------------ issue 17: option values


def test_option_types_refuse_non_finite_and_out_of_range_values() -> None:
    import math

    import pytest

    from dhstat.cli import _common
    from dhstat.errors import InputError

    positive = _common.Number(minimum=0, min_open=True)
    assert positive.convert("2.5", None, None) == 2.5
    assert positive.convert(1e-300, None, None) == 1e-300
    for value in ("nan", "inf", "-inf", "0", "-1", "1e400", "x", ""):
        with pytest.raises(InputError, match="expected a finite number > 0"):
            positive.convert(value, None, None)
    unit = _common.Number(minimum=0, maximum=1, min_open=True, max_open=True)
    assert unit.convert("0.9", None, None) == 0.9
    for value in ("0", "1", "nan"):
        with pytest.raises(InputError, match=r"in \(0, 1\)"):
            unit.convert(value, None, None)
    count = _common.Integer(minimum=0)
    assert count.convert("12", None, None) == 12
    assert count.convert(str(2**63 - 1), None, None) == 2**63 - 1
    for value in ("-1", "1.5", "1e3", "nan", str(2**63)):
        with pytest.raises(InputError, match="expected an integer >= 0"):
            count.convert(value, None, None)
    assert math.isfinite(_common.Number().convert("-1e300", None, None))


def test_outputs_are_checked_before_anything_runs(tmp_path: Path) -> None:
    import pytest

    from dhstat.cli import _common
    from dhstat.errors import InputError

    (tmp_path / "file").write_text("x")
    _common.check_output(tmp_path / "new" / "deeper" / "out.json", "--output")  # created later
    _common.check_output(tmp_path / "file", "--output")  # replaced atomically
    _common.check_output(tmp_path, "--output", folder=True)
    cases = [
        (tmp_path, False, "expected a file to write (a folder is there)"),
        (tmp_path / "file", True, "expected a folder to write (a file is there)"),
        (tmp_path / "file" / "out.json", False, "/file is not a folder)"),
        (tmp_path / "file" / "a" / "b", True, "/file is not a folder)"),
        (tmp_path / ("x" * 300), False, "expected a usable path"),
        (Path("/dev/null/x.json"), False, "(/dev/null is not a folder)"),
    ]
    for path, folder, fragment in cases:
        with pytest.raises(InputError) as info:
            _common.check_output(path, "--output", folder=folder)
        assert str(info.value).startswith("<command line>: --output: expected ")
        assert fragment in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_bad_option_in_a_real_process_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    cases = [
        (["simulate", "data", "--lumi", "nan", "--output", "x.root"], "--lumi"),
        (["simulate", "data", "--lumi", "1", "--seed", "-1", "--output", "x.root"], "--seed"),
        (["simulate", "data", "--lumi", "1", "--output", "."], "--output"),
    ]
    for argv, option in cases:
        result = subprocess.run(
            [sys.executable, "-m", "dhstat", *argv],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: <command line>: {option}: expected ")
    assert list(tmp_path.iterdir()) == []


def test_non_utf8_config_in_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_bytes(b"[dataset]\nluminosity_fb = 8.34 # \xb5\n")
    result = subprocess.run(
        [sys.executable, "-m", "dhstat", "config", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"error: {path}: byte 33: expected UTF-8 text, got b'\\xb5'\n"
