"""Fixtures of the report tests: a small synthetic run directory (scan and interpretation too)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _synthetic():
    name = "data_synthetic"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parent.parent / "data" / "synthetic_run.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_synthetic()  # importable as ``data_synthetic`` in the tests (NO_SENSITIVITY, ...)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthetic().make_run(tmp_path_factory.mktemp("run"))
