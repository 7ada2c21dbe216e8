"""Tests of dhstat.windows.simulate: the background MC for the Punzi cuts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from dhstat import config, windows


def test_simulated_background_is_normalised_to_the_data_luminosity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dhstat import selection, simulation

    def fake_simulate(
        process: str, luminosity_fb: float, *, cfg: Any, rng: Any, normalise_to_fb: float
    ) -> dict[str, NDArray[Any]]:
        n = round(1000 * luminosity_fb)  # 1000 events per simulated fb^-1
        return {k: np.full(n, normalise_to_fb / luminosity_fb) for k in ("weight", "x")}

    def fake_select(events: Any, cfg: Any, *, process: str) -> Any:
        w = events["weight"]
        search = {"mrecoil2": 0 * w, "mmumu2": 0 * w, "ceta": 0 * w, "weight": w}
        return type("S", (), {"search": search})()

    monkeypatch.setattr(simulation, "simulate_background", fake_simulate)
    monkeypatch.setattr(selection, "select", fake_select)
    lumi = config.load()["dataset"]["luminosity_fb"]
    for chunks in (1, 4):
        cfg = config.loads(
            f"[windows]\npunzi_background_luminosity_fb = 2.0\npunzi_background_chunks = {chunks}\n"
        )
        merged = windows.simulate_background(cfg)
        # 3 processes, each 1000 events per fb^-1 of data luminosity, whatever the chunking
        assert merged["weight"].sum() == pytest.approx(3 * 1000 * lumi, rel=1e-12)
        assert merged["weight"].size == 3 * 2000
