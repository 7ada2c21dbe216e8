"""Fast simulation: signal, background Monte Carlo and pseudo-data in the ntuple schema.

In-memory API (returns the branches of ``docs/internals.md``: numpy arrays for flat branches,
awkward arrays for jagged ones):

- :func:`simulate_signal`: ``weight = L x sigma_ref / N_generated`` (``L`` = ``[dataset]
  luminosity_fb``, ``sigma_ref`` = ``[signal] reference_cross_section_fb`` = 1 fb), so that
  ``sum(selected weights) / (L x sigma_ref)`` is the selection efficiency. With ISR, sigma is the
  ISR-inclusive cross section (the Born cross section times ``isr_factor``, see
  :func:`signal_isr_factor`). No skim: every generated event is returned.
- :func:`simulate_background`: unweighted draws from the generated phase space of a process
  (``ProcessInfo.generated_cross_section_fb``, after analytic pre-cuts), then the event-by-event
  generator cuts, the detector and the reconstruction-level skim (both looser than the
  selection); ``weight = sigma_gen x L_norm / N_drawn``, for ``tautau`` per final state
  (``mumu``: both tau -> mu nu nu, ``emu``: one tau -> e nu nu; see :func:`plan_background`).
  The generator cuts (and, for events whose only charged particles are the two leptons, the
  truth-level image of the skim's polar-angle window, widened by 10 angle resolutions) are
  applied while generating, so rejected events are never completed or reconstructed.
- :func:`simulate_data`: Poisson realisation of all backgrounds (and optionally an injected
  signal) at a luminosity, unweighted (weight 1), skimmed.

Large samples are split into chunks (:func:`plan_background`, :func:`plan_data`), each an
independent task with its own random stream ``parallel.task_rng(seed, stream, process, chunk)``,
run by :func:`run_chunk` (picklable, for ``Executor.imap``), so the output does not depend on the
number of workers.

Modules: :mod:`~dhstat.simulation.plans` and :mod:`~dhstat.simulation.sampling` (this API),
:mod:`~dhstat.simulation.settings` (typed settings), the generators
(:mod:`~dhstat.simulation.signal`, :mod:`~dhstat.simulation.mumu`,
:mod:`~dhstat.simulation.tautau`, :mod:`~dhstat.simulation.eemumu`,
:mod:`~dhstat.simulation.backgrounds`) and the detector (:mod:`~dhstat.simulation.detector`).

Example:
    >>> import numpy as np
    >>> from dhstat.config import load
    >>> cfg = load()
    >>> events = simulate_signal(5.0, 2.0, 500, cfg=cfg, rng=np.random.default_rng(1))
    >>> round(float(events["weight"].sum()), 6) == cfg["dataset"]["luminosity_fb"]
    True
    >>> float(events["truth_mh"][0])
    2.0
"""

from __future__ import annotations

from dhstat.processes import BACKGROUNDS
from dhstat.simulation.backgrounds import ProcessInfo, process_info
from dhstat.simulation.plans import (
    PROCESS_INDEX,
    STREAM_DATA,
    STREAM_MC,
    STREAM_SIGNAL,
    ChunkTask,
    Injection,
    SamplePlan,
    plan_background,
    plan_data,
    plan_signal,
    signal_isr_factor,
    signal_weight,
)
from dhstat.simulation.sampling import (
    concatenate,
    run_chunk,
    run_plan,
    simulate_background,
    simulate_data,
    simulate_signal,
)
from dhstat.simulation.settings import SimulationSettings
from dhstat.simulation.truth import TruthEvents

__all__ = [
    "BACKGROUNDS",
    "PROCESS_INDEX",
    "STREAM_DATA",
    "STREAM_MC",
    "STREAM_SIGNAL",
    "ChunkTask",
    "Injection",
    "ProcessInfo",
    "SamplePlan",
    "SimulationSettings",
    "TruthEvents",
    "concatenate",
    "plan_background",
    "plan_data",
    "plan_signal",
    "process_info",
    "run_chunk",
    "run_plan",
    "signal_isr_factor",
    "signal_weight",
    "simulate_background",
    "simulate_data",
    "simulate_signal",
]


def __dir__() -> list[str]:
    return __all__
