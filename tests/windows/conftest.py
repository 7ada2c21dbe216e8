"""Set-up of the windows tests: makes ``windows_helpers`` importable; the tiny-grid fixture."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dhstat import config

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from windows_helpers import TINY


@pytest.fixture
def tiny() -> config.Config:
    return config.loads(TINY, source="tiny.toml")
