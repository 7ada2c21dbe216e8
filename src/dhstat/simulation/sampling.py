"""Running sample plans: one chunk at a time (:func:`run_chunk`), or whole samples in memory.

:func:`run_chunk` is picklable (for ``Executor.imap``): it draws the chunk's events from its own
random stream, generates them (with the generator cuts), runs the detector (and the skim) and
returns the ntuple branches. :func:`simulate_signal`, :func:`simulate_background` and
:func:`simulate_data` plan a sample with a master seed drawn from ``rng`` and run it here.

Example:
    >>> from dhstat.config import load
    >>> events = simulate_background("mumu", 0.0002, cfg=load(), rng=np.random.default_rng(1))
    >>> bool(events["trg_pass"].all())
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import awkward as ak
import numpy as np

from dhstat.parallel import task_rng
from dhstat.simulation.backgrounds import draw_background
from dhstat.simulation.cuts import cut_mask
from dhstat.simulation.detector import run_detector
from dhstat.simulation.plans import (
    ChunkTask,
    Injection,
    SamplePlan,
    plan_background,
    plan_data,
    plan_signal,
)
from dhstat.simulation.reconstructed import to_branches
from dhstat.simulation.signal import draw_signal

__all__ = [
    "concatenate",
    "run_chunk",
    "run_plan",
    "simulate_background",
    "simulate_data",
    "simulate_signal",
]


def __dir__() -> list[str]:
    return __all__


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Simulate one chunk: generate, (generator cuts), detector, (skim) -> ntuple branches."""
    rng = task_rng(task.seed, *task.key)
    settings = task.settings.generator
    if task.signal is not None:
        ma, mh, isr = task.signal
        truth = draw_signal(ma, mh, task.n_events, settings=settings, rng=rng, isr=isr)
        if task.skim:
            truth = truth.select(cut_mask(truth, settings))
    else:
        truth = draw_background(
            task.process,
            task.n_events,
            settings=settings,
            rng=rng,
            skim=task.skim,
            final_state=task.final_state,
        )
    reco = run_detector(truth, settings=task.settings.detector, rng=rng, skim=task.skim)
    out = to_branches(reco, task.weight, jagged=task.jagged)
    if not task.keep_truth:
        for name in reco.extra:
            out.pop(name, None)
    return out


def run_plan(plan: SamplePlan) -> Iterator[dict[str, Any]]:
    """Run the chunks of a plan in this process, in order."""
    for task in plan.tasks:
        yield run_chunk(task)


def concatenate(chunks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Join chunk outputs branch by branch (same branches in each).

    Example:
        >>> concatenate([{"w": np.ones(2)}, {"w": np.zeros(1)}])["w"].tolist()
        [1.0, 1.0, 0.0]
    """
    if not chunks:
        return {}
    out: dict[str, Any] = {}
    for name, first in chunks[0].items():
        if isinstance(first, ak.Array):
            out[name] = ak.concatenate([c[name] for c in chunks])
        else:
            out[name] = np.concatenate([np.asarray(c[name]) for c in chunks])
    return out


def _seed_from(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**63 - 1))


def simulate_signal(
    ma: float,
    mh: float,
    n_events: int,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool = True,
    jagged: bool = True,
    skim: bool = False,
) -> dict[str, Any]:
    """Reconstructed signal events, weight ``L x 1 fb / N`` (``N = n_events``), truth masses.

    All ``n_events`` are returned, unless ``skim``: then only those passing the generator cuts
    and the reconstruction skim, both looser than the selection, so the selected events are an
    equivalent sample at a fraction of the cost (the weights still refer to the ``N`` generated).
    ``jagged=False`` gives flat track and photon branches with the ``ntrk``/``ngam`` counters
    (no awkward overhead). The windows stage uses both.
    """
    plan = plan_signal(ma, mh, n_events, cfg=cfg, seed=_seed_from(rng), isr=isr)
    tasks = [replace(t, jagged=jagged, skim=skim) for t in plan.tasks]
    return concatenate([run_chunk(t) for t in tasks])


def simulate_background(
    process: str,
    luminosity_fb: float,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    normalise_to_fb: float | None = None,
) -> dict[str, Any]:
    """Skimmed MC events of a background at ``luminosity_fb`` (weights to ``normalise_to_fb``)."""
    plan = plan_background(
        process, luminosity_fb, cfg=cfg, seed=_seed_from(rng), normalise_to_fb=normalise_to_fb
    )
    return concatenate(list(run_plan(plan)))


def simulate_data(
    luminosity_fb: float,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    injection: Injection | None = None,
) -> dict[str, Any]:
    """Skimmed pseudo-data (weight 1) at ``luminosity_fb``, optionally with injected signal."""
    plan = plan_data(luminosity_fb, cfg=cfg, seed=_seed_from(rng), injection=injection)
    return concatenate(list(run_plan(plan)))
