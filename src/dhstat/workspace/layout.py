"""The fixed names of a window workspace and of a set's files, and a workspace's file content.

``BACKGROUNDS`` are the background samples of the default analysis; a run's own are the
``processes`` of its counts.

Example:
    >>> CHANNEL, MEASUREMENT, SIGNAL, BACKGROUNDS
    ('window', 'measurement', 'signal', ('mumu', 'tautau', 'eemumu'))
    >>> file_name(7), to_text({"b": [1.5], "a": 2}).rstrip()
    ('w7.json', '{"a": 2, "b": [1.5]}')
"""

from __future__ import annotations

import json
from typing import Any

from dhstat.processes import BACKGROUNDS

__all__ = [
    "BACKGROUNDS",
    "CHANNEL",
    "INDEX",
    "LABELS",
    "MEASUREMENT",
    "SIGNAL",
    "file_name",
    "to_text",
]

CHANNEL = "window"
MEASUREMENT = "measurement"
SIGNAL = "signal"
#: File name of the index of a set.
INDEX = "index.json"
#: Patchset labels (HEPData convention): the window centre's masses.
LABELS = ("M_Aprime", "M_hprime")


def __dir__() -> list[str]:
    return __all__


def to_text(spec: Any) -> str:
    """The file content of a workspace: ``jsonio.dumps(spec, indent=None)`` (compact one line).

    ``allow_nan=False`` refuses NaN and infinity, as ``jsonio.dumps`` does.
    """
    return json.dumps(spec, sort_keys=True, allow_nan=False) + "\n"


def file_name(window_id: int) -> str:
    """The file name of window ``window_id``'s workspace in a set: ``w<id>.json``."""
    return f"w{window_id}.json"
