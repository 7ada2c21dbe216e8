"""The random sample the selection tests share (selected once per session)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dhstat import selection

# the per-event reference and the event builders, shared by the selection tests
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from selection_reference import CFG, _columns, _random_events


@pytest.fixture(scope="session")
def random_sample() -> tuple[list[dict[str, Any]], dict[str, Any], selection.Selection]:
    rng = np.random.default_rng(7)
    events = _random_events(rng, 3000)
    columns = _columns(events)
    return events, columns, selection.select(columns, CFG, process="mumu")
