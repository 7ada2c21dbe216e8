"""The schemas and package data are found in an editable install and inside a built wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dhstat
from dhstat import schemas

ROOT = Path(__file__).resolve().parents[1]


def test_editable_install_reads_repository_schemas() -> None:
    assert schemas.directory() == ROOT / "schemas"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("dhstat-*.whl")
    return path


def test_wheel_ships_schemas_and_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (ROOT / "schemas").glob("*.json"):
        assert f"dhstat/schemas/{schema.name}" in names
    assert "dhstat/data/pdg2020_r_ratio.dat" in names
    assert "dhstat/data/config/run.toml" in names
    assert "dhstat/py.typed" in names


def test_installed_wheel_finds_its_own_schemas(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "import dhstat, dhstat.schemas as s, dhstat.config as c;"
        "print(s.directory()); c.load(); print(dhstat.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    )
    directory, module = result.stdout.split()
    assert Path(directory) == tmp_path / "dhstat" / "schemas"
    assert Path(module).is_relative_to(tmp_path)
    assert dhstat.__version__ in wheel.name
