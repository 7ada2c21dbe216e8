"""The selected-events file: writing and reading it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from selection_reference import CFG, _write

from dhstat import parallel, selection
from dhstat.errors import InputError


def test_write_and_read_selected_round_trip(tmp_path: Path, random_sample: Any) -> None:
    _, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    with parallel.executor(workers=1) as ex:
        out = selection.select_files([path], CFG, executor=ex)
    selection.write_selected(tmp_path / "a.root", out)
    selection.write_selected(tmp_path / "b.root", out)
    both = selection.read_selected([tmp_path / "a.root", tmp_path / "b.root"], tree="control_emu")
    n = len(whole.control_emu["weight"])
    assert len(both["weight"]) == 2 * n
    np.testing.assert_array_equal(both["mrecoil2"][:n], whole.control_emu["mrecoil2"])
    assert set(both["process"].tolist()) == {selection.PROCESSES.index("mumu")}
    with pytest.raises(InputError, match="tree"):
        selection.read_selected([tmp_path / "a.root"], tree="events")
