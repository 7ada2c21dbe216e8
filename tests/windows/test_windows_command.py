"""Tests of the ``dhstat windows`` command with the real simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from windows_helpers import TINY

from dhstat import config, windows


def test_windows_command_with_the_simulation(tmp_path: Path) -> None:
    from dhstat import selection
    from dhstat.cli import main

    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text(TINY.replace("n_events = 2000", "n_events = 1500") + "[run]\nworkers = 1\n")
    rng = np.random.default_rng(2)
    n = 5000
    arrays = {v: np.zeros(n) for v in selection.VARIABLES}
    arrays.update(
        mrecoil2=rng.uniform(-2, 30, n),
        mmumu2=rng.uniform(24, 32, n),
        ceta=rng.random(n) ** 0.2,
        weight=np.full(n, 0.5),
    )
    arrays["process"] = np.full(n, selection.PROCESSES.index("mumu"), dtype=np.int32)
    empty = {v: np.zeros(0) for v in selection.VARIABLES} | {"process": np.zeros(0, np.int32)}
    samples = {s: (arrays if s == "search" else empty) for s in selection.SAMPLES}
    bkg_path = tmp_path / "bkg.root"
    selection.write_selected(bkg_path, selection.SelectionOutput(samples, {}, {}, "0" * 64, 8.34))
    out = tmp_path / "w.json"
    main(
        ["windows", "--config", str(cfg_path), "--output", str(out), "--background", str(bkg_path)]
    )
    cfg = config.load(cfg_path)
    w = windows.load(out)
    assert windows.is_current(out, cfg)
    assert len(w) == int(windows.grid_points(windows.GridSettings.from_config(cfg)).in_range.sum())
    assert w.meta["ceta_cuts"] == "punzi"
    assert (tmp_path / "w.json.checkpoint.jsonl").is_file()  # kept: re-runs reuse the points
    # simulated signal: fitted centres near (M_h'^2, M_A'^2), efficiencies in (0, 1)
    fitted = np.array([s == "ok" for s in w.fit_status])
    assert fitted.sum() >= len(w) // 2
    assert w.center[fitted, 1] == pytest.approx(w.ma[fitted] ** 2, abs=0.2)
    assert np.all((w.efficiency >= 0) & (w.efficiency < 1))
    assert np.mean(w.efficiency) > 0.05
