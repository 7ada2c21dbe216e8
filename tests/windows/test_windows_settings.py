"""Tests of dhstat.windows.settings: the typed ``[grid]`` and ``[windows]`` tables."""

from __future__ import annotations

import dataclasses

import pytest

from dhstat import config, windows
from dhstat.physics.beams import Beams


def test_settings_carry_the_configured_values() -> None:
    cfg = config.loads("[windows]\nn_events = 123\n[grid]\nma_min = 1\n[run]\nseed = 9\n")
    grid = windows.GridSettings.from_config(cfg)
    for f in dataclasses.fields(grid):
        if f.name != "sqrt_s":
            assert getattr(grid, f.name) == cfg["grid"][f.name], f.name
    assert isinstance(grid.ma_min, float)
    assert grid.sqrt_s == Beams.from_config(cfg).sqrt_s
    settings = windows.WindowSettings.from_config(cfg)
    assert settings.grid == grid
    assert settings.seed == 9
    assert settings.data_luminosity_fb == cfg["dataset"]["luminosity_fb"]
    for f in dataclasses.fields(settings):
        if f.name in cfg["windows"]:
            assert getattr(settings, f.name) == cfg["windows"][f.name], f.name
    assert settings.n_events == 123
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.n_events = 1  # type: ignore[misc]
