"""The simulation runs of the windows stage: signal per grid point, background MC for Punzi.

Both run :mod:`dhstat.simulation` and select the events with :mod:`dhstat.selection`. Every random
stream of the stage starts with the key :data:`STREAM` (``task_rng(seed, STREAM, ...)``), so the
results do not depend on the number of workers. The signal simulator is a parameter of the stage
(:data:`SignalSimulator`, default :func:`default_signal`), so tests can replace it.

Example:
    >>> from dhstat import config
    >>> rng = parallel.task_rng(1, STREAM, 0, 0)
    >>> search, _, _ = default_signal(6.0, 2.0, 500, config.load(), rng, False)
    >>> set(BACKGROUND_KEYS) <= set(search), 0 < search["mrecoil2"].size < 500
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import parallel, selection, simulation
from dhstat.config import Config
from dhstat.processes import BACKGROUNDS
from dhstat.windows.settings import WindowSettings

__all__ = ["BACKGROUND_KEYS", "STREAM", "SignalSimulator", "default_signal", "simulate_background"]


def __dir__() -> list[str]:
    return __all__


#: First key of every random stream of this stage (task_rng(seed, STREAM, point_id, isr)).
STREAM = 0x57494E

#: The arrays of the selected search sample that the Punzi optimisation uses.
BACKGROUND_KEYS = ("mrecoil2", "mmumu2", "ceta", "weight")

#: A signal simulator: (ma, mh, n_events, cfg, rng, isr) -> (selected search arrays, sum of the
#: weights of all generated events, sum of their squares).
SignalSimulator = Callable[
    [float, float, int, Mapping[str, Any], np.random.Generator, bool],
    tuple[Mapping[str, NDArray[Any]], float, float],
]


def default_signal(
    ma: float,
    mh: float,
    n_events: int,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool,
) -> tuple[Mapping[str, NDArray[Any]], float, float]:
    """Simulate signal with dhstat.simulation (skimmed) and select it with dhstat.selection.

    Args:
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        n_events: Events to generate.
        cfg: The configuration (simulation and selection tables).
        rng: The random stream of this grid point.
        isr: Whether to simulate initial-state radiation.

    Returns:
        The selected search arrays, the weight of all generated events and its sum of squares.
    """
    events = simulation.simulate_signal(
        ma, mh, n_events, cfg=cfg, rng=rng, isr=isr, jagged=False, skim=True
    )
    weight = simulation.signal_weight(n_events, cfg)
    search = selection.select(events, cfg, process="signal").search
    return search, weight * n_events, weight * weight * n_events


@dataclass(frozen=True, slots=True)
class _BackgroundTask:
    process: str
    index: int
    chunk: int
    luminosity_fb: float
    normalise_to_fb: float
    seed: int
    cfg: Mapping[str, Any]


def _background_task(task: _BackgroundTask) -> dict[str, NDArray[np.float64]]:
    rng = parallel.task_rng(task.seed, STREAM, 1 << 31, task.index, task.chunk)
    # each chunk is normalised to its share of the data luminosity, so the chunks add up to it
    events = simulation.simulate_background(
        task.process,
        task.luminosity_fb,
        cfg=task.cfg,
        rng=rng,
        normalise_to_fb=task.normalise_to_fb,
    )
    search = selection.select(events, task.cfg, process=task.process).search
    return {k: np.asarray(search[k], dtype=np.float64) for k in BACKGROUND_KEYS}


def simulate_background(
    cfg: Config, *, executor: parallel.Executor | None = None
) -> dict[str, NDArray[np.float64]]:
    """Simulate and select background MC for the Punzi optimisation (no files involved).

    Each process is simulated at ``[windows] punzi_background_luminosity_fb`` in
    ``punzi_background_chunks`` tasks (streams keyed by the master seed, the process and the
    chunk, so the result does not depend on the number of workers), selected, and its weights
    normalised to the data luminosity (``[dataset] luminosity_fb``).

    Args:
        cfg: The configuration.
        executor: Where the chunks run (default: in this process).

    Returns:
        Flat arrays ``mrecoil2``, ``mmumu2``, ``ceta``, ``weight`` of the selected search
        sample of all background processes together.
    """
    settings = WindowSettings.from_config(cfg)
    chunks = settings.punzi_background_chunks
    lumi = settings.punzi_background_luminosity_fb / chunks
    share = settings.data_luminosity_fb / chunks
    tasks = [
        _BackgroundTask(p, k, c, lumi, share, settings.seed, cfg)
        for k, p in enumerate(BACKGROUNDS)
        for c in range(chunks)
    ]
    parts = (
        executor.map(_background_task, tasks) if executor else list(map(_background_task, tasks))
    )
    return {k: np.concatenate([p[k] for p in parts]) for k in BACKGROUND_KEYS}
