"""The Belle II-like ntuple set of :mod:`belle_set`, written once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from belle_set import NtupleSet, make_set


@pytest.fixture(scope="session")
def belle(tmp_path_factory: pytest.TempPathFactory) -> NtupleSet:
    return make_set(tmp_path_factory.mktemp("belle_set"))
