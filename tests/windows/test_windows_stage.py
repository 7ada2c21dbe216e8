"""Tests of dhstat.windows.stage: define on a tiny grid, checkpoints, workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from windows_helpers import CALLS, counting_signal, synthetic_signal

from dhstat import config, parallel, windows


def test_define_tiny_grid_resumes_from_checkpoint(tiny: config.Config, tmp_path: Path) -> None:
    ck = tmp_path / "w.checkpoint.jsonl"
    rng = np.random.default_rng(5)
    bkg = {
        "mrecoil2": rng.uniform(-2, 30, 20_000),
        "mmumu2": rng.uniform(20, 40, 20_000),
        "ceta": rng.random(20_000) ** 0.2,  # peaks at 1 like the backgrounds
        "weight": np.full(20_000, 0.5),
    }
    CALLS.clear()
    w = windows.define(tiny, background=bkg, checkpoint=ck, simulate=counting_signal)
    g = windows.grid_points(windows.GridSettings.from_config(tiny))
    n = int(g.in_range.sum())
    assert len(w) == n > 3
    assert len(CALLS) == 2 * n
    assert np.array_equal(w.ids, np.flatnonzero(g.in_range))
    assert set(w.fit_status) <= set(windows.FIT_STATUSES)
    assert np.all((w.efficiency > 0) & (w.efficiency < 1))
    assert np.all(w.efficiency_error > 0)
    assert np.all(w.ceta_cut < 1.0)  # background peaks at C_eta = 1: the cut is tighter
    # fitted centres near the generated (mh^2, ma^2), ellipses contain ~ the Gaussian mass
    assert w.center[:, 1] == pytest.approx(w.ma**2, abs=0.05)
    assert np.all((w.window_fraction > 0.6) & (w.window_fraction < 0.95))
    # summary: windows per background event (with the chosen C_eta cuts) against brute force
    inside = windows.contains(w, bkg["mrecoil2"], bkg["mmumu2"])
    counted = inside & (bkg["ceta"][:, None] < w.ceta_cut[None, :])
    expected = np.sum(bkg["weight"] * counted.sum(axis=1)) / bkg["weight"].sum()
    assert w.meta["summary"]["background_windows_per_event"] == pytest.approx(expected)
    assert w.meta["summary"]["fit_status"]["ok"] == w.fit_status.count("ok")
    # the resumed run reads every point from the checkpoint and simulates nothing
    CALLS.clear()
    again = windows.define(tiny, background=bkg, checkpoint=ck, simulate=counting_signal)
    assert CALLS == []
    assert np.array_equal(again.center, w.center)
    assert np.array_equal(again.ceta_cut, w.ceta_cut)
    # a truncated last line (interrupted run) is ignored and that point recomputed
    lines = ck.read_text().splitlines()
    ck.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    CALLS.clear()
    third = windows.define(tiny, background=bkg, checkpoint=ck, simulate=counting_signal)
    assert len(CALLS) == 2
    assert np.array_equal(third.center, w.center)


def test_define_same_with_two_workers(tiny: config.Config) -> None:
    one = windows.define(tiny, background=None, simulate=synthetic_signal)
    with parallel.executor(workers=2) as ex:
        two = windows.define(tiny, background=None, executor=ex, simulate=synthetic_signal)
    assert np.array_equal(one.center, two.center)
    assert np.array_equal(one.efficiency, two.efficiency)
    assert np.all(one.ceta_cut == tiny["windows"]["ceta_cut_max"])
