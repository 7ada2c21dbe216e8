"""Shared helpers of the windows tests: synthetic signal simulators and a tiny grid.

Imported by the tests as ``windows_helpers`` (``tests/windows`` is put on ``sys.path`` by
conftest.py); the simulators are module-level so that worker processes can unpickle them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import windows


def synthetic_signal(
    ma: float,
    mh: float,
    n_events: int,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool,
) -> tuple[dict[str, NDArray[Any]], float, float]:
    """Selected 'signal': two Gaussians (common mean, rho = -0.6) at (mh^2, ma^2), 60 % kept."""
    sx, sy = windows.resolution(ma, mh, windows.GridSettings.from_config(cfg))
    n_sel = int(0.6 * n_events)
    core = rng.random(n_sel) < 0.7
    scale = np.where(core, 1.0, 2.5)
    rho = -0.6
    z1 = rng.standard_normal(n_sel)
    z2 = rho * z1 + math.sqrt(1 - rho * rho) * rng.standard_normal(n_sel)
    x = mh * mh + sx * scale * z1
    y = ma * ma + sy * scale * z2
    if isr:
        radiated = rng.random(n_sel) < 0.3
        x = x + radiated * rng.exponential(3 * sx, n_sel)
    arrays = {
        "mrecoil2": x,
        "mmumu2": y,
        "ceta": rng.random(n_sel),
        "weight": np.ones(n_sel),
    }
    return arrays, float(n_events), float(n_events)


CALLS: list[int] = []


def counting_signal(
    ma: float,
    mh: float,
    n_events: int,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool,
) -> tuple[dict[str, NDArray[Any]], float, float]:
    CALLS.append(1)
    return synthetic_signal(ma, mh, n_events, cfg, rng, isr)


TINY = """
[grid]
ma_min = 5.0
ma_max = 5.7
analysis_ma_min = 5.2
step_fraction_ma = 12.0
step_fraction_mh = 16.0
[windows]
n_events = 2000
batch_size = 3
ceta_cut_steps = 11
"""
