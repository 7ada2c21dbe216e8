"""Bad input, case by case: one ``error:`` line naming the file or option and the field, exit 2.

Every case runs the command line in this process (``dhstat.cli.main``): an exception other than
the handled ones (a traceback) fails the test by itself. Each case asserts exit code 2, a single
stderr line starting with ``error:`` that names the file or option and the field, and that nothing
was written. The property test at the end generates workspaces (hypothesis) and checks the rule:
a valid result or one InputError. The numerical checks of very large counts against scipy are in
``test_stats_cli.py``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_main
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dhstat.errors import InputError
from dhstat.stats import bayes, generic, generic_bayes, significance
from dhstat.stats.model import window_spec

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------ harness


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _assert_one_line(code: int, err: str, *fragments: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], *fragments: str
) -> str:
    """Run ``argv`` in ``tmp_path`` and check the bad-input contract; returns the error line."""
    before = _snapshot(tmp_path)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        code, _, err = run_main(argv, capsys)
    finally:
        os.chdir(cwd)
    line = _assert_one_line(code, err, *fragments)
    assert _snapshot(tmp_path) == before, "a bad input must not write anything"
    return line


def _workspace(**changes: Any) -> dict[str, Any]:
    spec = window_spec(
        n=3,
        signal=1.0,
        backgrounds={"mumu": 0.8, "tautau": 0.3},
        signal_shifts={"syst_detector": 0.03},
        background_shifts={"mumu": {"syst_detector": 0.02}},
        stat_errors={"mumu": 0.1},
        sigma_max=80.0,
    )
    for key, value in changes.items():
        spec[key] = value
    return spec


def _write(path: Path, document: Any) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


# ------------------------------------------------------------------ configuration

_CONFIG_CASES = [
    # TOML allows nan and inf: every number is checked, wherever it is
    ("[dataset]\nluminosity_fb = nan\n", "dataset.luminosity_fb: expected a finite number"),
    ("[stats]\ncl = nan\n", "stats.cl: expected a finite number"),
    ("[stats]\nsigma_max = inf\n", "stats.sigma_max: expected a finite number"),
    ("[stats]\nsigma_max = -inf\n", "stats.sigma_max: expected a finite number"),
    ("[report]\nfig3_ma = [4.5, nan, 7.5, 9.0]\n", "report.fig3_ma[1]: expected a finite number"),
    ("[run]\nseed = 99999999999999999999999\n", "run.seed: expected an integer within 64 bits"),
    # min/max pairs of the schema
    ("[stats]\nsigma_min = 200.0\n", "stats.sigma_min: expected less than stats.sigma_max"),
    ("[stats]\nsigma_min = 100.0\n", "stats.sigma_min: expected less than stats.sigma_max"),
    ("[grid]\nma_min = 11.0\nma_max = 10.0\n", "grid.ma_min: expected less than grid.ma_max"),
    (
        "[detector.tracking]\ntheta_min = 160.0\n",
        "detector.tracking.theta_min: expected less than detector.tracking.theta_max",
    ),
    (
        "[selection]\nrecoil_theta_min_deg = 130.0\n",
        "selection.recoil_theta_min_deg: expected less than selection.recoil_theta_max_deg",
    ),
    (
        "[windows]\nceta_cut_min = 1.0\nceta_cut_max = 0.5\n",
        "windows.ceta_cut_min: expected at most windows.ceta_cut_max",
    ),
    ("[detector.ecl]\nforward = [40.0, 31.4]\n", "detector.ecl.forward: expected an interval"),
    ("[report]\nsummary_ma_range = [9.7, 4.0]\n", "report.summary_ma_range: expected an interval"),
    # systematics curves: one value per node, increasing nodes
    (
        "[systematics.mass_resolution]\nma_gev = [1.0, 2.0]\nsignal = [0.1]\n",
        (
            "systematics.mass_resolution.signal: expected as many values as "
            "systematics.mass_resolution.ma_gev (2), got 1"
        ),
    ),
    (
        "[systematics.window_offset]\nma_gev = [2.0, 1.0]\nsignal = [0.1, 0.2]\n",
        "systematics.window_offset.ma_gev: expected strictly increasing values",
    ),
    ("[lee]\ngv_thresholds = [1.0, 1.0]\n", "lee.gv_thresholds: expected strictly increasing"),
    # syntax
    ("[dataset\n", "(syntax): expected valid TOML"),
    ("a = " + "[" * 3000 + "]" * 3000 + "\n", "(syntax): expected TOML nested less deeply"),
    # a key with a newline still gives one line
    ('[selection.branches]\n"a\\nb" = 1\n', "selection.branches"),
]


@pytest.mark.parametrize(("text", "fragment"), _CONFIG_CASES)
def test_bad_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text(text, encoding="utf-8")
    line = _bad(tmp_path, capsys, ["config", "check", str(path)], fragment)
    assert line.startswith(f"error: {path}: ")
    # the same file given to a command that reads it: the same line, before anything runs
    workspace = _write(tmp_path / "ws.json", _workspace())
    again = _bad(tmp_path, capsys, ["limit", str(workspace), "--config", str(path)], fragment)
    assert again == line


def test_good_configuration_edges_still_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cfg.toml"
    # equal ends where they are allowed (one C_eta cut), nodes of matching length
    path.write_text(
        "[windows]\nceta_cut_min = 0.8\nceta_cut_max = 0.8\n"
        "[systematics.mass_resolution]\nma_gev = [1.0, 2.0, 3.0]\nsignal = [0.1, 0.2, 0.3]\n"
    )
    code, out, err = run_main(["config", "check", str(path)], capsys)
    assert code == 0, err
    assert "valid" in out


@pytest.mark.parametrize(
    ("data", "bad"),
    [
        (b"[beams]\n# caf\xe9\ne_her = 7.0\n", b"\xe9"),  # Latin-1
        (b"\xff\xfe[\x00b\x00", b"\xff"),  # UTF-16 with its byte-order mark
        (b"[dataset]\nluminosity_fb = 8.34 # \x80\n", b"\x80"),
    ],
)
def test_non_utf8_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, bad: bytes
) -> None:
    path = tmp_path / "cfg.toml"
    path.write_bytes(data)
    field = f"byte {data.index(bad)}"
    _bad(tmp_path, capsys, ["config", "check", str(path)], f"{path}: {field}: expected UTF-8 text")


def test_configuration_that_is_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bad(tmp_path, capsys, ["config", "check", str(tmp_path)], "PATH: expected a file")
    _bad(tmp_path, capsys, ["config", "check", "missing.toml"], "missing.toml: (file)")
    _bad(tmp_path, capsys, ["scan", ".", "--config", str(tmp_path)], "--config: expected a file")


# ------------------------------------------------------------------ JSON inputs

_JSON_CASES: list[tuple[bytes, str]] = [
    (b'{"channels": "\xff"}', "byte 14: expected UTF-8 text"),
    (b'\xef\xbb\xbf{"a": 1}', "expected valid JSON"),  # a UTF-8 byte-order mark
    (b"{", "line 1 column 2: expected valid JSON"),
    (b"", "expected valid JSON"),
    (b'{"a": 1e999}', "expected finite numbers"),
    (b'{"a": NaN}', "expected finite numbers"),
    (b"[" * 100_000 + b"]" * 100_000, "expected JSON nested less deeply"),
    (b'{"a": ' + b"1" * 5000 + b"}", "(number)"),
]


@pytest.mark.parametrize(("data", "fragment"), _JSON_CASES)
@pytest.mark.parametrize(
    "command",
    [
        ["interpret", "{path}", "-o", "c.json"],
        ["lee", "merge", "{path}", "--output", "lee.json"],
        ["workspaces", "--counts", "{path}", "--windows", "{path}", "-o", "out"],
        ["count", "--windows", "{path}", "--data", "d.root", "--background", "b.root", "-o", "c"],
    ],
    ids=["interpret", "lee-merge", "workspaces", "count"],
)
def test_bad_json_inputs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    fragment: str,
    command: list[str],
) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(data)
    argv = [part.format(path=path) for part in command]
    if argv[0] == "workspaces" and fragment == "expected finite numbers":
        # the workspace inputs let NaN through to name the window at fault: here, none
        fragment = "luminosity_fb: expected a number"
    _bad(tmp_path, capsys, argv, f"{path}: ", fragment)


@pytest.mark.parametrize(("data", "fragment"), _JSON_CASES[:3] + _JSON_CASES[6:])
@pytest.mark.parametrize("command", ["limit", "significance"])
def test_bad_workspace_files(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    fragment: str,
    command: str,
) -> None:
    path = tmp_path / "ws.json"
    path.write_bytes(data)
    _bad(tmp_path, capsys, [command, str(path)], f"{path}: ", fragment)


# ------------------------------------------------------------------ options

_OPTION_CASES = [
    (["simulate", "background", "--process", "mumu", "--lumi", "nan"], "--lumi", "> 0"),
    (["simulate", "background", "--process", "mumu", "--lumi", "inf"], "--lumi", "> 0"),
    (["simulate", "background", "--process", "mumu", "--lumi", "-1"], "--lumi", "> 0"),
    (["simulate", "background", "--process", "mumu", "--lumi", "many"], "--lumi", "> 0"),
    (["simulate", "data", "--lumi", "1e400"], "--lumi", "finite"),
    (["simulate", "data", "--lumi", "1", "--seed", "-1"], "--seed", ">= 0"),
    (["simulate", "data", "--lumi", "1", "--seed", "1.5"], "--seed", "integer"),
    (["simulate", "data", "--lumi", "1", "--seed", str(2**64)], "--seed", "64 bits"),
    (["simulate", "data", "--lumi", "1", "--workers", "-2"], "--workers", ">= 0"),
    (["simulate", "data", "--inject-signal", "5", "nan", "1"], "--inject-signal", "finite"),
    (["simulate", "data", "--inject-signal", "5", "2", "-1"], "--inject-signal", ">= 0"),
    (["simulate", "signal", "--ma", "nan", "--mh", "1"], "--ma", "finite"),
    (["simulate", "signal", "--ma", "5", "--mh", "-inf"], "--mh", "finite"),
    (["simulate", "signal", "--ma", "5", "--mh", "1", "--events", "0"], "--events", ">= 1"),
    (["lee", "--scan", "s", "--counts", "c", "--toys", "0"], "--toys", ">= 1"),
    (["lee", "--scan", "s", "--counts", "c", "--seed", "-3"], "--seed", ">= 0"),
    (["lee", "--scan", "s", "--counts", "c", "--inject", "w1", "nan"], "--inject", "finite"),
    (["lee", "--scan", "s", "--counts", "c", "--shard", "4/4"], "--shard", "0 <= i < K"),
    (["scan", ".", "--sigma-max", "nan"], "--sigma-max", "> 0"),
    (["scan", ".", "--sigma-max", "0"], "--sigma-max", "> 0"),
    (
        ["reinterpret", "--workspaces", ".", "-o", "r.json", "--invisible-pdg", "x"],
        "--invisible-pdg",
        "integer",
    ),
]
_OPTION_CASES += [
    ([command, "ws.json", "--sigma-max", value], "--sigma-max", "> 0")
    for command in ("limit", "significance")
    for value in ("0", "-5", "nan", "inf", "-inf", "1e999")
]
_OPTION_CASES += [
    (["limit", "ws.json", "--cl", value], "--cl", "in (0, 1)") for value in ("0", "1", "nan", "2")
]
_OPTION_CASES += [(["limit", "ws.json", "--sigma-min", "nan"], "--sigma-min", "> 0")]


@pytest.mark.parametrize(("argv", "option", "fragment"), _OPTION_CASES)
def test_bad_option_values(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    option: str,
    fragment: str,
) -> None:
    _write(tmp_path / "ws.json", _workspace())
    has_output = {"--output", "-o"} & set(argv) or argv[0] in ("scan", "limit", "significance")
    full = argv if has_output else [*argv, "--output", str(tmp_path / "x.root")]
    _bad(tmp_path, capsys, full, f"<command line>: {option}: expected ", fragment)


# ------------------------------------------------------------------ outputs


def _outputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    """(argv with {out} where the output goes, the option) for every command that writes a file."""
    ws = str(_write(tmp_path / "ws.json", _workspace()))
    return [
        (["simulate", "signal", "--ma", "5", "--mh", "2", "--output", "{out}"], "--output"),
        (["simulate", "data", "--lumi", "1", "--output", "{out}"], "--output"),
        (["select", "in.root", "-o", "{out}"], "--output"),
        (["select", "in.root", "-o", "s.root", "--cutflow", "{out}"], "--cutflow"),
        (["select", "in.root", "-o", "s.root", "--macroregions", "{out}"], "--macroregions"),
        (
            ["count", "--windows", "w", "--data", "d", "--background", "b", "-o", "{out}"],
            "--output",
        ),
        (
            ["workspaces", "--counts", "c", "--windows", "w", "-o", "d", "--archive", "{out}"],
            "--archive",
        ),
        (["workspaces", "export-patchset", ".", "-o", "{out}"], "--output"),
        (["scan", ws, "-o", "{out}"], "--output"),
        (["lee", "--scan", "s", "--counts", "c", "--output", "{out}"], "--output"),
        (["lee", "merge", "p.json", "--output", "{out}"], "--output"),
        (["interpret", "r.json", "-o", "{out}"], "--output"),
        (["reinterpret", "--workspaces", ".", "-o", "{out}"], "--output"),
        (
            ["reinterpret", "--workspaces", ".", "-o", "r.json", "--efficiencies-out", "{out}"],
            "--efficiencies-out",
        ),
        (["publish", ".", "-o", "{out}"], "--output"),
    ]


def test_output_that_is_a_folder_or_below_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("x")
    for argv, option in _outputs(tmp_path):
        for out, fragment in (
            ("folder", "expected a file to write (a folder is there)"),
            ("plain/x.json", "expected a path inside a folder (plain is not a folder)"),
            ("plain/deeper/x.json", "(plain is not a folder)"),
        ):
            full = [part.format(out=out) for part in argv]
            _bad(tmp_path, capsys, full, f"<command line>: {option}: ", fragment)


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--output", "plain"],
        ["workspaces", "--counts", "c", "--windows", "w", "-o", "plain"],
        ["workspaces", "import-patchset", "p.json", "-o", "plain"],
        ["reinterpret", "--workspaces", ".", "-o", "r.json", "--patches", "plain"],
    ],
)
def test_output_folder_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    (tmp_path / "plain").write_text("x")
    _bad(tmp_path, capsys, argv, "expected a folder to write (a file is there)")


def test_output_that_is_a_pipe_is_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Writing renames a temporary file over the path: a pipe (or, as root, /dev/null) would go."""
    _write(tmp_path / "ws.json", _workspace())
    os.mkfifo(tmp_path / "pipe")
    _bad(tmp_path, capsys, ["scan", ".", "-o", "pipe"], "expected a file to write (a device")
    assert (tmp_path / "pipe").is_fifo()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["observations"][0].update(data=[True]), "observations[0].data[0]"),
        (lambda d: d["observations"][0].update(data=[10**20]), "observations[0].data[0]"),
        (lambda d: d.update(measurements="m"), "(structure)"),
        (lambda d: _samples(d)[1]["modifiers"].__setitem__(0, "m"), "(structure)"),
    ],
    ids=["boolean count", "count 1e20", "measurements a string", "modifier a string"],
)
def test_bad_window_workspaces_in_a_scanned_folder(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    """``dhstat scan DIR`` reads workspaces without pyhf: a wrong structure is one line too."""
    spec = _workspace()
    change(spec)
    _write(tmp_path / "bad.json", spec)
    _bad(tmp_path, capsys, ["scan", ".", "-o", "r.json"], f"bad.json: {field}: expected")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_in_a_read_only_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        _bad(
            tmp_path,
            capsys,
            ["simulate", "data", "--lumi", "1", "--output", "locked/new/x.root"],
            "--output: expected a writable location",
        )
    finally:
        locked.chmod(0o755)


def test_unusable_path_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _bad(
        tmp_path,
        capsys,
        ["simulate", "data", "--lumi", "1", "--output", "x" * 5000 + ".root"],
        "--output: expected a usable path",
    )
    _bad(tmp_path, capsys, ["limit", str(tmp_path)], "WORKSPACE: expected a file")
    _bad(tmp_path, capsys, ["publish", "nowhere"], "OUTDIR: expected an existing folder")
    _write(tmp_path / "ws.json", _workspace())
    _bad(tmp_path, capsys, ["workspaces", "export-patchset", "ws.json", "-o", "p"], "a folder")


# ------------------------------------------------------------------ workspaces (generic path)


def _with_bounds(bounds: list[float]) -> dict[str, Any]:
    spec = _workspace()
    spec["measurements"][0]["config"]["parameters"][0]["bounds"] = [bounds]
    return spec


def _mutated(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    spec = _workspace()
    change(spec)
    return spec


def _samples(spec: dict[str, Any]) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = spec["channels"][0]["samples"]
    return samples


_WORKSPACE_CASES = [
    (_with_bounds([0.0, 0.0]), "bounds of the POI sigma: expected [lower, upper]", "[0.0, 0.0]"),
    (_with_bounds([100.0, 0.0]), "bounds of the POI sigma", "[100.0, 0.0]"),
    (_with_bounds([1.0, 10.0]), "bounds of the POI sigma", "lower <= 0 < upper"),
    (
        _mutated(lambda d: d["measurements"][0]["config"].update(poi="mu")),
        "measurements[0].config.poi: expected the name of a modifier",
        "'mu'",
    ),
    (
        _mutated(lambda d: d["observations"][0].update(data=[3, 4])),
        "observations[0].data: expected 1 counts (the bins of channel 'window'), got 2",
        "",
    ),
    (
        _mutated(lambda d: _samples(d)[1].update(data=[0.8, 0.8])),
        "channels[0].samples[1].data: expected 1 values",
        "",
    ),
    (
        _mutated(lambda d: _samples(d)[1]["modifiers"][0]["data"].update(hi_data=[1.0, 1.0])),
        "channels[0].samples[1].modifiers[0].hi_data: expected 1 values",
        "",
    ),
    (
        _mutated(lambda d: _samples(d)[1].update(data=[-0.5])),
        "channels[0].samples[1].data[0]: expected a non-negative yield",
        "",
    ),
    (
        _mutated(lambda d: _samples(d)[1]["modifiers"][1].update(data=[-0.1])),
        "channels[0].samples[1].modifiers[1].data[0]: expected a non-negative yield",
        "",
    ),
    (
        _mutated(lambda d: _samples(d)[1].update(data=[float("nan")])),
        "channels[0].samples[1].data[0]: expected a finite number",
        "",
    ),
    (
        _mutated(lambda d: d["observations"][0].update(data=[1e300])),
        "observations[0].data[0]: expected a count of at most 1e+10",
        "",
    ),
    (
        _mutated(lambda d: d["observations"][0].update(data=[-1])),
        "observations[0].data[0]: expected a non-negative yield",
        "",
    ),
    (
        _mutated(lambda d: d["observations"][0].update(data=[2.5])),
        "observations: expected non-negative integer counts",
        "",
    ),
    (
        _mutated(lambda d: d["observations"].append({"name": "window", "data": [9]})),
        "observations[1].name: expected a name not used before",
        "",
    ),
    (
        _mutated(
            lambda d: _samples(d)[1]["modifiers"].append(
                {"name": "n", "type": "normsys", "data": {"hi": 1.1, "lo": 0.0}}
            )
        ),
        "channels[0].samples[1].modifiers[2].data.lo: expected a positive factor",
        "",
    ),
    (
        _mutated(
            lambda d: d["measurements"][0]["config"]["parameters"].append(
                {"name": "syst_detector", "auxdata": [1e300]}
            )
        ),
        "parameter syst_detector: expected a prior of mean and positive width",
        "",
    ),
    (
        _mutated(lambda d: d["measurements"][0].update(config=[1])),
        "measurements[0].config.poi: expected exactly one POI",
        "",
    ),
    ([1, 2], "(top level): expected a pyhf workspace", ""),
    # pyhf's schema does not bound the length of a bounds pair (was a ValueError traceback)
    (
        _mutated(lambda d: d["measurements"][0]["config"]["parameters"][0].update(bounds=[[10]])),
        "measurements[0].config.parameters[0].bounds[0]: expected a pair [lower, upper]",
        "",
    ),
    (
        _mutated(
            lambda d: d["measurements"][0]["config"]["parameters"][0].update(bounds=[[0, 10**400]])
        ),
        "measurements[0].config.parameters[0].bounds[0]: expected a pair [lower, upper]",
        "",
    ),
]


@pytest.mark.parametrize(("spec", "field", "fragment"), _WORKSPACE_CASES)
@pytest.mark.parametrize("command", ["limit", "significance"])
def test_bad_workspaces(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spec: Any,
    field: str,
    fragment: str,
    command: str,
) -> None:
    path = _write(tmp_path / "ws.json", spec)
    _bad(tmp_path, capsys, [command, str(path)], f"{path}: {field}", fragment)


def test_a_free_background_normalisation_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # refused until issue 14: a free parameter now gets a flat prior over its bounds
    spec = _mutated(
        lambda d: _samples(d)[1]["modifiers"].append(
            {"name": "free", "type": "normfactor", "data": None}
        )
    )
    path = _write(tmp_path / "ws.json", spec)
    code, out, err = run_main(["limit", str(path), "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert 0 < doc["upper_limit"] <= doc["sigma_max"]
    assert {"name": "free", "kind": "flat"}.items() <= next(
        p for p in doc["parameters"] if p["name"] == "free"
    ).items()


def test_bad_sigma_max_in_the_library() -> None:
    model = generic.GenericModel.from_spec(_workspace(), source="ws.json")
    for value in (0.0, -5.0, math.nan, math.inf):
        with pytest.raises(InputError, match=r"ws\.json: sigma_max: expected a finite positive"):
            significance.significance(model, sigma_max=value)
        with pytest.raises(InputError, match=r"ws\.json: sigma_max: expected a finite positive"):
            bayes.upper_limit(model, sigma_max=value)
    # the sigma_max-dependence check multiplies sigma_max by 10: that must stay finite too
    with pytest.raises(InputError, match=r"sigma_max: expected a finite positive number .*\(also"):
        bayes.upper_limit(model, sigma_max=1e308)


# ------------------------------------------------------------------ property: valid or one line

_ANY_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e10, 1e11, -1.0, 1e300]),
)
_COUNT = st.one_of(st.integers(0, 60), st.sampled_from([10**6, 10**9]))


def _spoil(spec: dict[str, Any], where: str, value: Any) -> None:
    """Put ``value`` at one place of a workspace (the adversarial part of an example)."""
    samples = spec["channels"][0]["samples"]
    config = spec["measurements"][0]["config"]
    places: dict[str, Callable[[], Any]] = {
        "signal": lambda: samples[0]["data"].__setitem__(0, value),
        "background": lambda: samples[1]["data"].__setitem__(-1, value),
        "count": lambda: spec["observations"][0]["data"].__setitem__(0, value),
        "extra count": lambda: spec["observations"][0]["data"].append(value),
        "extra yield": lambda: samples[0]["data"].append(value),
        "lower bound": lambda: config["parameters"][0]["bounds"][0].__setitem__(0, value),
        "upper bound": lambda: config["parameters"][0]["bounds"][0].__setitem__(1, value),
        "modifier": lambda: samples[1]["modifiers"].append(
            {"name": "u", "type": "normsys", "data": {"hi": value, "lo": 0.9}}
        ),
        "poi": lambda: config.update(poi=str(value)),
    }
    places[where]()


@st.composite
def _workspaces(draw: st.DrawFn) -> dict[str, Any]:
    """A one- or two-bin workspace, often valid, with one spoiled value in about half the cases."""
    bins = draw(st.integers(1, 2))
    good = st.floats(0.0, 50.0)
    spec = window_spec(n=0, signal=1.0, backgrounds={"b": 1.0})
    samples = spec["channels"][0]["samples"]
    samples[0]["data"] = [draw(good) for _ in range(bins)]
    samples[1]["data"] = [draw(good) for _ in range(bins)]
    spec["observations"][0]["data"] = [draw(_COUNT) for _ in range(bins)]
    lower = draw(st.sampled_from([0.0, -5.0]))
    upper = draw(st.floats(1e-3, 1e4))
    spec["measurements"][0]["config"]["parameters"][0]["bounds"] = [[lower, upper]]
    if draw(st.booleans()):
        shift = draw(st.floats(0.0, 0.5))
        samples[1]["modifiers"].append(
            {"name": "u", "type": "normsys", "data": {"hi": 1 + shift, "lo": 1 / (1 + shift)}}
        )
    if draw(st.booleans()):
        scale = draw(st.floats(0.0, 0.5))
        samples[0]["modifiers"].append(
            {
                "name": "h",
                "type": "histosys",
                "data": {
                    "hi_data": [(1 + scale) * x for x in samples[0]["data"]],
                    "lo_data": [(1 - scale) * x for x in samples[0]["data"]],
                },
            }
        )
    if draw(st.booleans()):
        where = draw(
            st.sampled_from(
                [
                    "signal",
                    "background",
                    "count",
                    "extra count",
                    "extra yield",
                    "lower bound",
                    "upper bound",
                    "modifier",
                    "poi",
                ]
            )
        )
        _spoil(spec, where, draw(_ANY_FLOAT))
    return spec


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(spec=_workspaces())
def test_any_workspace_gives_valid_numbers_or_input_error(spec: dict[str, Any]) -> None:
    """The rule: a valid result (limit in (0, sigma_max], B10 finite >= 0, p in [0, 1]) or InputError."""
    _valid_or_input_error(spec)


# 2000 examples of the posterior-following engine take about 22 min on 2 cores (0.67 s each,
# measured on the first 150 of the derandomized sequence): beyond the 900 s default timeout
@pytest.mark.slow
@pytest.mark.timeout(3600)
@settings(
    max_examples=2000,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(spec=_workspaces())
def test_any_workspace_gives_valid_numbers_or_input_error_at_scale(spec: dict[str, Any]) -> None:
    _valid_or_input_error(spec)


def _valid_or_input_error(spec: dict[str, Any]) -> None:
    try:
        model = generic.GenericModel.from_spec(json.loads(json.dumps(spec)), source="ws.json")
        limit = bayes.upper_limit(model)
        b10, _ = generic_bayes.bayes_factor(model)
        p_value = significance.significance(model).p_value if model.n_bins == 1 else 0.5
    except InputError as error:
        message = str(error)
    else:
        message = ""
    event("InputError" if message else "valid result")  # --hypothesis-show-statistics
    if message:
        assert "\n" not in message
        return
    assert 0 < limit.upper_limit <= limit.sigma_max
    assert math.isfinite(b10)
    assert b10 >= 0
    assert 0 <= p_value <= 1


def test_asymptotic_significance_with_a_small_poi_bound() -> None:
    spec = window_spec(n=5, signal=10.0, backgrounds={"b": 1.0}, sigma_max=0.5)
    result = significance.significance(spec, method="asymptotic")
    assert 0 <= result.p_value <= 1


def test_a_denormal_poi_bound_is_an_input_error() -> None:
    # found by a random draw of the workspace property test: POI bounds [0, 5e-324]
    spec = {
        "channels": [
            {
                "name": "window",
                "samples": [
                    {
                        "name": "signal",
                        "data": [28.8, 47.0],
                        "modifiers": [{"name": "sigma", "type": "normfactor", "data": None}],
                    },
                    {"name": "b", "data": [1.6e-284, 8.9], "modifiers": []},
                ],
            }
        ],
        "observations": [{"name": "window", "data": [57, 1000000]}],
        "measurements": [
            {
                "name": "measurement",
                "config": {
                    "poi": "sigma",
                    "parameters": [{"name": "sigma", "bounds": [[0.0, 5e-324]]}],
                },
            }
        ],
        "version": "1.0.0",
    }
    with pytest.raises(InputError, match="normal float"):
        bayes.upper_limit(generic.GenericModel.from_spec(spec, source="ws.json"))


def _extreme(
    signal: list[float],
    background: list[float],
    observed: list[int],
    upper: float,
    *,
    histosys: float | None = 0.5,
    normsys: float | None = 1.5,
) -> generic.GenericModel:
    """A workspace like the property test's (histosys on the signal, normsys on the background)."""
    spec = window_spec(n=0, signal=1.0, backgrounds={"b": 1.0})
    samples = spec["channels"][0]["samples"]
    samples[0]["data"], samples[1]["data"] = signal, background
    spec["observations"][0]["data"] = observed
    spec["measurements"][0]["config"]["parameters"][0]["bounds"] = [[0.0, upper]]
    if histosys is not None:
        hi = [(1 + histosys) * x for x in signal]
        lo = [(1 - histosys) * x for x in signal]
        samples[0]["modifiers"].append(
            {"name": "h", "type": "histosys", "data": {"hi_data": hi, "lo_data": lo}}
        )
    if normsys is not None:
        samples[1]["modifiers"].append(
            {"name": "u", "type": "normsys", "data": {"hi": normsys, "lo": 1 / normsys}}
        )
    return generic.GenericModel.from_spec(spec, source="ws.json")


@pytest.mark.parametrize("histosys", [0.5, None])
def test_a_huge_count_the_background_absorbs_pins_the_limit_to_sigma_max(
    histosys: float | None,
) -> None:
    # found by the workspace property test: n = 1e9 where the POI adds at most 30 counts; the
    # background's normsys (pulled ~50 widths) absorbs it, so the POI posterior is the prior's
    # (its 90% quantile is 27 of 30) and the limit depends on sigma_max
    model = _extreme([1.0, 0.0], [1.0, 0.0], [10**9, 0], 30.0, histosys=histosys, normsys=1.015625)
    limit = bayes.upper_limit(model)
    assert 0 < limit.upper_limit <= limit.sigma_max
    assert limit.sigma_max_dependent
    b10, _ = generic_bayes.bayes_factor(model)
    assert math.isfinite(b10)
    assert b10 >= 0


def test_a_huge_count_with_a_small_poi_range_is_pinned_or_an_input_error() -> None:
    # found by the workspace property test: n = 1e6, the POI prior on [0, 1]: the limit is at
    # sigma_max, and B10 (ln B10 ~ 5.7e6) is beyond the largest float
    model = _extreme([1.0, 0.0], [1.0, 0.0], [10**6, 0], 1.0, normsys=None)
    limit = bayes.upper_limit(model)
    assert 0.9 < limit.upper_limit <= 1.0
    assert limit.sigma_max_dependent
    with pytest.raises(InputError, match="B10 is below the largest float"):
        generic_bayes.bayes_factor(model)


def test_counts_where_nothing_is_expected_are_an_input_error() -> None:
    # found by the workspace property test: S = B = 0 in every bin, n = 1e9 in the second one
    model = _extreme([0.0, 0.0], [0.0, 0.0], [0, 10**9], 1.0)
    with pytest.raises(InputError, match=r"observations \(bin 1\).*likelihood 0"):
        bayes.upper_limit(model)


def test_the_smallest_normal_poi_bound_gives_a_valid_limit() -> None:
    # the POI prior on [0, 2.2e-308]: the posterior is the flat prior, the limit 90% of its range
    upper = sys.float_info.min
    model = _extreme([1.0, 2.0], [1.0, 0.5], [3, 2], upper, normsys=1.2)
    limit = bayes.upper_limit(model)
    assert limit.upper_limit == pytest.approx(0.9 * upper, rel=1e-3)
    b10, _ = generic_bayes.bayes_factor(model)
    assert b10 == pytest.approx(1.0, rel=1e-9)


def test_a_mode_at_the_edge_of_the_allowed_region_gives_a_valid_limit() -> None:
    # found by the workspace property test: at large POI the conditional mode of the histosys
    # sits where a signal rate reaches 0; the curvature there (1e25) made the Hessian singular
    model = _extreme([0.0, 6.0], [0.0, 1.0], [0, 3], 2.0)
    limit = bayes.upper_limit(model)
    assert 0 < limit.upper_limit <= limit.sigma_max
    b10, _ = generic_bayes.bayes_factor(model)
    assert math.isfinite(b10)
    assert b10 >= 0


@pytest.mark.parametrize("signal", [4.0, 8.0])
def test_a_huge_count_that_pulls_a_normsys_to_overflow_is_handled(signal: float) -> None:
    # found by a random draw of the workspace property test (seed 23): n = 1e9 in a bin whose
    # background has a normsys; the fits' trial points overflowed its rate (inf - inf, x**2).
    # m(sigma) rises steeply up to sigma_max (n >> any rate): the limit is pinned there, and
    # ln B10 (> 1000) is beyond the largest float
    model = _extreme([0.0, signal], [7.0, 1.0], [0, 10**9], 48.0, histosys=None)
    limit = bayes.upper_limit(model)
    assert 0.99 * limit.sigma_max < limit.upper_limit <= limit.sigma_max
    assert limit.sigma_max_dependent
    with pytest.raises(InputError, match="B10 is below the largest float"):
        generic_bayes.bayes_factor(model)


def test_a_poi_bound_of_1e300_gives_valid_numbers() -> None:
    # found by a random draw of the workspace property test (seed 23): POI bounds [0, 1e300]; the
    # conditional fits started at 1e300 prior widths (the priors' squares overflowed), and the
    # one-bin closed form's geometric bisection overflowed (lo * hi)
    model = _extreme([1.0], [1.0], [0], 1e300, histosys=None)
    limit = bayes.upper_limit(model)
    # n = 0: the background's normsys drops out of the POI posterior, exp(-sigma): ln 10
    assert limit.upper_limit == pytest.approx(math.log(10), rel=1e-3)
    empty = _extreme([0.0], [0.0], [0], 1e300, histosys=None, normsys=None)
    flat = bayes.upper_limit(empty)  # the POI adds nothing: the posterior is the flat prior
    assert flat.upper_limit == pytest.approx(0.9e300, rel=1e-6)
    b10, _ = generic_bayes.bayes_factor(empty)
    assert b10 == pytest.approx(1.0, rel=1e-9)


def test_a_huge_count_in_one_bin_gives_the_tail_z_and_b10_near_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 14/17 (the adversarial suite's "huge observation"): 1e9 events, b = 19.6 with a
    # normsys of +-1.16 %: the normsys is pulled to alpha ~ 1400 so the background reaches the count
    # (ln p ~ -1e6, Z ~ 1438; tests/stats/test_huge_counts.py integrates it independently), and the
    # signal (at most 540 events) hardly matters: B10 ~ 1. Prior-node quadrature gave Z = 181955
    # with p = 0 (the Poisson tail of its largest node), which no Z of p = 0 could be checked against
    eps, b, r = 1.179869305188547, 19.627895736350307, 0.0116214843923277
    spec = window_spec(n=0, signal=eps, backgrounds={"b": b}, sigma_max=452.767)
    samples = spec["channels"][0]["samples"]
    samples[0]["modifiers"].append(
        {
            "name": "shape",
            "type": "histosys",
            "data": {"hi_data": [eps * (1 + r)], "lo_data": [eps * (1 - r)]},
        }
    )
    samples[1]["modifiers"] += [
        {"name": "norm", "type": "normsys", "data": {"hi": 1 + r, "lo": 1 - r}},
        {"name": "staterror_window", "type": "staterror", "data": [r * b]},
    ]
    spec["observations"][0]["data"] = [10**9]
    path = _write(tmp_path / "ws.json", spec)
    code, out, err = run_main(["significance", str(path), "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["integration"] == "importance-sampling"
    assert doc["p_value"] == 0.0  # underflows; ln p carries it
    log_p = doc["log_p_value"]
    # Z ~ alpha of the pull: at most ln(n / b) / ln(1 + r) = 1537 (the normsys alone)
    assert 1300 < doc["z"] < 1537
    assert doc["z"] == pytest.approx(
        math.sqrt(-2 * log_p - math.log(-4 * math.pi * log_p)), rel=1e-3
    )
    assert 1.0 < doc["bayes_factor"] < 1.08  # ln B10 <= alpha x 540 / (n ln(1 + r)) ~ 0.07
    # the text output says how p was obtained and carries ln p where p underflows
    code, out, err = run_main(["significance", str(path)], capsys)
    assert code == 0, err
    first = out.splitlines()[0]
    assert f"ln p = {log_p:.10g}" in first
    assert "importance sampling" in first
