"""Fixtures of the report tests: a small synthetic run directory."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _synthetic():
    path = Path(__file__).parent.parent / "data" / "synthetic_run.py"
    spec = importlib.util.spec_from_file_location("dhstat_synthetic_run", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthetic().make_run(tmp_path_factory.mktemp("run"))
