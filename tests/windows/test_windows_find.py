"""Looking windows up by mass: ``windows.nearest``, ``open_catalogue`` and ``dhstat windows find``."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from click.testing import CliRunner

from dhstat import config, stages, windows
from dhstat.cli import cli
from dhstat.errors import InputError
from dhstat.stats import bayes

ROOT = Path(__file__).resolve().parents[2]


def _ellipse_distance(w: windows.Windows, ma: float, mh: float) -> np.ndarray:
    """Reference: the point in each ellipse's own frame (rotated, scaled by the semi-axes)."""
    dx, dy = mh * mh - w.center[:, 0], ma * ma - w.center[:, 1]
    c, s = np.cos(w.angle), np.sin(w.angle)
    u = (dx * c + dy * s) / w.axes[:, 0]
    v = (-dx * s + dy * c) / w.axes[:, 1]
    return np.hypot(u, v)


def _random_windows(rng: np.random.Generator, n: int) -> windows.Windows:
    ma = rng.uniform(2.0, 8.0, n)
    mh = ma * rng.uniform(0.05, 0.3, n)
    axes = np.sort(rng.uniform(0.05, 1.5, (n, 2)), axis=1)[:, ::-1]
    angle = rng.uniform(-np.pi / 2, np.pi / 2, n)
    return windows.from_ellipses(np.c_[mh**2, ma**2], axes, angle, ids=np.arange(n) + 100)


def test_nearest_agrees_with_the_ellipse_frame_distance() -> None:
    rng = np.random.default_rng(11)
    w = _random_windows(rng, 300)
    for _ in range(50):
        ma = float(rng.uniform(2.0, 8.0))
        mh = float(ma * rng.uniform(0.0, 0.4))
        reference = _ellipse_distance(w, ma, mh)
        matches = windows.nearest(w, ma, mh, k=5)
        expected = np.argsort(reference, kind="stable")[:5]
        assert [m.id for m in matches] == (w.ids[expected]).tolist()
        got = np.array([m.distance for m in matches])
        np.testing.assert_allclose(got, reference[expected], rtol=1e-9, atol=1e-12)
        assert all(np.diff(got) >= 0)
        inside = windows.contains(w, [mh * mh], [ma * ma])[0]
        assert [m.inside for m in matches] == inside[expected].tolist()


def test_distance_is_in_units_of_the_ellipse() -> None:
    # a rotated ellipse: points along its major and minor axes at 0.5, 1 (boundary) and 2 times
    a, b, angle = 0.8, 0.1, 0.4
    centre = np.array([4.0, 36.0])
    w = windows.from_ellipses([centre], [[a, b]], [angle])
    major = np.array([math.cos(angle), math.sin(angle)])
    minor = np.array([-math.sin(angle), math.cos(angle)])
    for axis, length in ((major, a), (minor, b)):
        for scale in (0.5, 0.999, 1.001, 2.0):
            x, y = centre + scale * length * axis
            (m,) = windows.nearest(w, math.sqrt(y), math.sqrt(x))
            assert m.distance == pytest.approx(scale, rel=1e-9)
            assert m.inside == (scale <= 1.0)
            assert m.center == (4.0, 36.0)
            assert m.axes == (a, b)
            assert m.angle == angle
            assert m.ceta_cut == 1.0


def test_k_larger_than_the_windows_and_ties_keep_the_order() -> None:
    w = windows.from_ellipses([[1.0, 25.0]] * 3, [[0.5, 0.1]] * 3, [0.0] * 3, ids=[5, 3, 9])
    matches = windows.nearest(w, 5.0, 1.0, k=10)
    assert [m.id for m in matches] == [5, 3, 9]
    assert {m.distance for m in matches} == {0.0}


@pytest.mark.parametrize(
    ("ma", "mh", "field"),
    [
        (float("nan"), 1.0, "ma"),
        (5.0, float("inf"), "mh"),
        ("five", 1.0, "ma"),
        (5.0, -0.1, "(ma, mh)"),  # M_h' < 0
        (3.0, 3.0, "(ma, mh)"),  # M_h' >= M_A'
        (9.0, 1.6, "(ma, mh)"),  # M_A' + M_h' above sqrt(s)
        (0.0, 0.0, "(ma, mh)"),
    ],
)
def test_masses_outside_the_triangle_are_input_errors(ma: object, mh: object, field: str) -> None:
    w = windows.from_ellipses([[1.0, 25.0]], [[0.5, 0.1]], [0.0])
    with pytest.raises(InputError) as error:
        windows.nearest(w, ma, mh, sqrt_s=10.58)  # type: ignore[arg-type]
    assert error.value.field == field


def test_the_triangle_uses_the_windows_sqrt_s() -> None:
    w = windows.load(stages.FROZEN_WINDOWS)
    roots = float(w.meta["sqrt_s"])
    assert windows.nearest(w, roots / 2 + 0.01, roots / 2 - 0.02)[0].ma > 4.0
    with pytest.raises(InputError, match="sqrt"):
        windows.nearest(w, roots / 2 + 0.01, roots / 2)


def test_bad_k_and_no_windows_are_input_errors() -> None:
    w = windows.from_ellipses([[1.0, 25.0]], [[0.5, 0.1]], [0.0])
    for k in (0, -1, 1.5):
        with pytest.raises(InputError, match="k"):
            windows.nearest(w, 5.0, 1.0, k)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least one window"):
        windows.nearest(w.select([False]), 5.0, 1.0)


def test_the_published_index_has_the_frozen_default_windows() -> None:
    """The default windows' ids and ellipses are those of workspaces/index.json."""
    frozen = windows.load(stages.FROZEN_WINDOWS)
    index = json.loads((ROOT / "workspaces" / "index.json").read_text())
    from_index = windows.windows_from_index(index)
    assert from_index.ids.tolist() == frozen.ids.tolist()
    for name in ("ma", "mh", "center", "axes", "angle", "ceta_cut"):
        np.testing.assert_allclose(getattr(from_index, name), getattr(frozen, name), atol=1e-6)


# ----------------------------------------------------------------- a run directory and the CLI


def _synthetic() -> ModuleType:
    path = ROOT / "tests" / "data" / "synthetic_run.py"
    spec = importlib.util.spec_from_file_location("dhstat_synthetic_run", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic run (windows, counts, workspaces) scanned into results.json."""
    root = _synthetic().make_run(tmp_path_factory.mktemp("run"))
    stages.scan_windows(config.load(), source=root / "workspaces", output=root / "results.json")
    return root


def test_catalogue_of_a_run_attaches_workspace_and_limit(run_dir: Path) -> None:
    catalogue = windows.open_catalogue(run=run_dir)
    w = catalogue.windows
    k = int(np.flatnonzero((np.abs(w.ma - 6.0) < 1e-9) & (np.abs(w.mh - 1.0) < 1e-9))[0])
    (m,) = catalogue.nearest(6.0, 1.0)
    assert m.id == int(w.ids[k])
    assert m.inside
    assert m.distance == pytest.approx(0.0, abs=1e-6)
    assert m.workspace is not None
    # the workspace file the match names gives the limit the match reports (the scan's
    # vectorised quadrature and the generic one of `dhstat limit` agree to a few 1e-3 at worst)
    spec = json.loads(Path(m.workspace).read_text())
    assert m.result is not None
    assert m.result.upper_limit == pytest.approx(bayes.upper_limit(spec).upper_limit, rel=5e-3)
    assert m.result.n_observed == int(spec["observations"][0]["data"][0])
    assert m.result.cl == 0.9


def test_catalogue_of_workspaces_and_of_a_windows_file(run_dir: Path) -> None:
    from_run = windows.open_catalogue(run=run_dir).nearest(7.0, 0.5, k=3)
    for catalogue in (
        windows.open_catalogue(workspaces=run_dir / "workspaces"),
        windows.open_catalogue(workspaces=run_dir / "workspaces" / "index.json"),
        windows.open_catalogue(windows_file=run_dir / "windows.json"),
    ):
        matches = catalogue.nearest(7.0, 0.5, k=3)
        assert [m.id for m in matches] == [m.id for m in from_run]
        np.testing.assert_allclose(
            [m.distance for m in matches], [m.distance for m in from_run], rtol=1e-5, atol=1e-6
        )
        assert all(m.result is None for m in matches)
    with_files = windows.open_catalogue(workspaces=run_dir / "workspaces").nearest(7.0, 0.5)
    assert with_files[0].workspace == from_run[0].workspace


def test_catalogue_needs_exactly_one_existing_source(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="exactly one"):
        windows.open_catalogue(run=run_dir, windows_file=run_dir / "windows.json")
    with pytest.raises(InputError):
        windows.open_catalogue(run=tmp_path / "missing")
    with pytest.raises(InputError):
        windows.open_catalogue(workspaces=tmp_path)  # no index.json


def test_windows_find_prints_the_nearest_windows(run_dir: Path) -> None:
    args = ["windows", "find", "--ma", "6.0", "--mh", "1.0", "--run", str(run_dir), "-n", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    expected = windows.open_catalogue(run=run_dir).nearest(6.0, 1.0, k=2)
    assert f"window {expected[0].id}:" in result.output
    assert f"window {expected[1].id}:" in result.output
    assert str(expected[0].workspace) in result.output
    assert "90% CL upper limit" in result.output
    doc = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert [m["id"] for m in doc["matches"]] == [m.id for m in expected]
    assert doc["matches"][0]["inside"] is True
    assert doc["matches"][0]["result"]["upper_limit_fb"] == pytest.approx(
        expected[0].result.upper_limit if expected[0].result else math.nan
    )
    assert doc["matches"][1]["distance"] > 1.0


def test_windows_find_defaults_to_the_default_analysis() -> None:
    result = CliRunner().invoke(cli, ["windows", "find", "--ma", "5", "--mh", "2", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    frozen = windows.load(stages.FROZEN_WINDOWS)
    assert doc["n_windows"] == len(frozen)
    best = int(np.argmin(_ellipse_distance(frozen, 5.0, 2.0)))
    assert doc["matches"][0]["id"] == int(frozen.ids[best])
    assert doc["matches"][0]["workspace"] is None


@pytest.mark.parametrize(
    ("masses", "message"),
    [
        (["--ma", "nan", "--mh", "1"], "error: <command line>: --ma: expected a finite number"),
        (["--ma", "9", "--mh", "3"], "error: --ma/--mh: (ma, mh): expected a point of the"),
        (["--ma", "2", "--mh", "3"], "error: --ma/--mh: (ma, mh): expected a point of the"),
    ],
)
def test_windows_find_bad_masses_give_one_line_and_exit_2(masses: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dhstat", "windows", "find", *masses],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(message)


def test_windows_find_takes_one_source(run_dir: Path) -> None:
    args = ["windows", "find", "--ma", "6", "--mh", "1", "--run", str(run_dir)]
    result = CliRunner().invoke(cli, [*args, "--windows", str(run_dir / "windows.json")])
    assert result.exit_code == 2
    assert "at most one of" in result.output


def test_windows_building_keeps_its_options_and_arguments(tmp_path: Path) -> None:
    """``dhstat windows`` without a subcommand is the build command, as before."""
    result = CliRunner().invoke(cli, ["windows"])
    assert result.exit_code == 2
    assert "Missing option '--output'" in result.output
    # background files after the options are still read as such (here: missing -> InputError)
    out = tmp_path / "w.json"
    missing = tmp_path / "find.root"
    result = CliRunner().invoke(cli, ["windows", "--output", str(out), str(missing)])
    assert isinstance(result.exception, InputError)
    assert "find.root" in str(result.exception)
    assert "an existing selected-events file" in str(result.exception)
    help_text = CliRunner().invoke(cli, ["windows", "--help"]).output
    assert "find" in help_text
    assert "--background" in help_text
