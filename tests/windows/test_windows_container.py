"""Tests of dhstat.windows.container: the windows file, save, load, is_current."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from windows_helpers import synthetic_signal

from dhstat import config, schemas, windows
from dhstat.errors import InputError


def test_save_load_round_trip_and_is_current(tiny: config.Config, tmp_path: Path) -> None:
    w = windows.define(tiny, background=None, simulate=synthetic_signal)
    path = tmp_path / "w.json"
    windows.save(w, path)
    back = windows.load(path)
    assert np.allclose(back.center, w.center, rtol=1e-6, atol=1e-6)
    assert np.allclose(back.axes, w.axes, rtol=1e-5)
    assert back.fit_status == w.fit_status
    assert np.array_equal(back.ids, w.ids)
    assert windows.is_current(path, tiny)
    assert not windows.is_current(path, config.load())
    doc = json.loads(path.read_text())
    schemas.validate(doc, "windows", source=path)
    doc["windows"]["ma"] = doc["windows"]["ma"][:-1]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"windows\.ma"):
        windows.load(path)


def test_default_windows_file_is_valid() -> None:
    path = Path(windows.__file__).parent.parent / "data" / "windows-default.json"
    if not path.is_file():
        pytest.skip("frozen default windows not generated yet")
    w = windows.load(path)
    assert len(w) == int(
        windows.grid_points(windows.GridSettings.from_config(config.load())).in_range.sum()
    )
    assert path.stat().st_size < 6_000_000
