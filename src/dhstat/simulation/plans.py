"""Sample plans: the independent chunks of a signal, background or pseudo-data sample.

Large samples are split into chunks (:func:`plan_background`, :func:`plan_data`,
:func:`plan_signal`), each an independent :class:`ChunkTask` with its own random stream
``parallel.task_rng(seed, stream, process, chunk)`` and the simulation settings read once per
plan, so the output does not depend on the number of workers. A plan also carries the sample
metadata (``dhstat_metadata`` of the ntuple file).

Example:
    >>> from dhstat.config import load
    >>> plan = plan_background("mumu", 0.001, cfg=load(), seed=1)
    >>> plan.n_events, plan.tasks[0].key
    (1148, (0, 0, 0))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dhstat.jsonio import canonical_digest
from dhstat.parallel import task_rng
from dhstat.physics.beams import Beams
from dhstat.processes import BACKGROUNDS
from dhstat.provenance import provenance
from dhstat.simulation.backgrounds import ProcessInfo, process_info
from dhstat.simulation.isr_photons import isr_sampler
from dhstat.simulation.settings import SimulationSettings

__all__ = [
    "PROCESS_INDEX",
    "STREAM_DATA",
    "STREAM_MC",
    "STREAM_SIGNAL",
    "ChunkTask",
    "Injection",
    "SamplePlan",
    "plan_background",
    "plan_data",
    "plan_signal",
    "signal_isr_factor",
    "signal_weight",
]

#: Random-stream identifiers (first element of every task key).
STREAM_MC, STREAM_DATA, STREAM_SIGNAL = 0, 1, 2
#: Process index used in task keys and in the data file metadata (signal injection = 3).
PROCESS_INDEX = {"mumu": 0, "tautau": 1, "eemumu": 2, "signal": 3}


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Injection:
    """A signal injected into pseudo-data: masses [GeV] and cross section [fb]."""

    ma: float
    mh: float
    sigma_fb: float


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """One independent piece of a sample (picklable): what :func:`run_chunk` simulates.

    Attributes:
        process: ``mumu``, ``tautau``, ``eemumu`` or ``signal``.
        n_events: Events drawn in this chunk (before generator cuts).
        weight: Weight of each event.
        seed: Master seed.
        key: Task key for ``parallel.task_rng``.
        settings: The generator and detector settings (read once per plan).
        skim: Apply the generator cuts and the reconstruction skim.
        signal: ``(ma, mh, isr)`` for signal chunks.
        keep_truth: Write the truth branches (``truth_ma``, ``truth_mh``); false for pseudo-data.
        final_state: ``tautau`` only: ``"mumu"`` or ``"emu"`` (MC, one final state per chunk
            with its own weight), ``None`` for the branching-fraction mixture (pseudo-data).
        jagged: Track and photon branches as awkward arrays (for ntuples); false gives flat
            numpy content with the ``ntrk``/``ngam`` counters (for in-memory selection).
    """

    process: str
    n_events: int
    weight: float
    seed: int
    key: tuple[int, ...]
    settings: SimulationSettings
    skim: bool = True
    signal: tuple[float, float, bool] | None = None
    keep_truth: bool = True
    final_state: str | None = None
    jagged: bool = True


@dataclass(frozen=True, slots=True)
class SamplePlan:
    """The chunks of one output sample and its metadata (``dhstat_metadata``)."""

    tasks: tuple[ChunkTask, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        """Events drawn in total."""
        return sum(task.n_events for task in self.tasks)


def _plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _plain(value) if isinstance(value, Mapping) else value for key, value in cfg.items()
    }


def _digest(cfg: Mapping[str, Any]) -> str:
    digest = getattr(cfg, "digest", None)
    if callable(digest):
        return str(digest())
    return canonical_digest(_plain(cfg))


def _table_digest(cfg: Mapping[str, Any], table: str) -> str:
    return canonical_digest(_plain(cfg[table]))


def _split(total: int, size: int) -> list[int]:
    if total <= 0:
        return [0]
    n = math.ceil(total / size)
    base, extra = divmod(total, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def signal_isr_factor(ma: float, mh: float, cfg: Mapping[str, Any]) -> float:
    """sigma(ISR-inclusive) / sigma(Born) of the signal at the nominal sqrt(s).

    Example:
        >>> from dhstat.config import load
        >>> 1.0 < signal_isr_factor(5.0, 2.0, load()) < 1.2
        True
    """
    beams = Beams.from_config(cfg)
    alpha = float(cfg["physics"]["alpha"])
    sampler = isr_sampler("signal", beams.s, alpha, beams.electron_mass, float(ma), float(mh))
    return float(sampler.integral)


def signal_weight(n_events: int, cfg: Mapping[str, Any]) -> float:
    """Weight of each of ``n_events`` generated signal events: ``L x reference sigma / N``.

    Example:
        >>> from dhstat.config import load
        >>> round(signal_weight(1000, load()), 9)
        0.00834
    """
    lumi = float(cfg["dataset"]["luminosity_fb"])
    return lumi * float(cfg["signal"]["reference_cross_section_fb"]) / max(n_events, 1)


def _metadata(
    cfg: Mapping[str, Any],
    *,
    process: str,
    is_data: bool,
    cross_section_fb: float,
    luminosity_fb: float,
    n_generated: int,
    seed: int,
    generator: Mapping[str, Any],
) -> dict[str, Any]:
    return provenance(
        schema_version="1.0.0",
        process=process,
        is_data=is_data,
        cross_section_fb=float(cross_section_fb),
        luminosity_fb=float(luminosity_fb),
        n_generated=int(n_generated),
        seed=int(seed),
        generator=dict(generator),
        config_digest=_digest(cfg),
    )


def _generator_doc(info: ProcessInfo, cfg: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "name": "dhstat.simulation",
        "process_cross_section_fb": info.cross_section_fb,
        "generated_cross_section_fb": info.generated_cross_section_fb,
        "presampled_fraction": info.presampled_fraction,
        "settings": _plain(info.settings),
        "skim": _plain(cfg["simulation"]["skim"]),
        "detector_digest": _table_digest(cfg, "detector"),
        **more,
    }


def plan_background(
    process: str,
    luminosity_fb: float,
    *,
    cfg: Mapping[str, Any],
    seed: int,
    normalise_to_fb: float | None = None,
) -> SamplePlan:
    """Chunks of an MC background sample of ``luminosity_fb``.

    Weights are normalised to ``normalise_to_fb`` (default: the same luminosity). ``tautau``:
    each final state (``mumu``, ``emu``) is a stratum of its own, ``N_fs = round(sigma_fs x L)``
    draws with weight ``sigma_fs x L_norm / N_fs``, so each carries its own cross section
    ``sigma_fs = sigma x B_fs`` (the ``mumu`` stratum is the sample of both taus to muons).

    Example:
        >>> from dhstat.config import load
        >>> plan = plan_background("tautau", 0.01, cfg=load(), seed=1)
        >>> [t.final_state for t in plan.tasks]
        ['mumu', 'emu']
        >>> plan.tasks[0].n_events == round(0.919e6 * 0.1739**2 * 0.01)
        True
    """
    if luminosity_fb <= 0:
        msg = f"luminosity must be positive, got {luminosity_fb}"
        raise ValueError(msg)
    info = process_info(process, cfg)
    norm = luminosity_fb if normalise_to_fb is None else normalise_to_fb
    settings = SimulationSettings.from_config(cfg)
    size = int(cfg["simulation"]["chunk_events"])
    strata: list[tuple[str | None, float]] = [(None, info.generated_cross_section_fb)]
    if info.final_states:
        strata = list(info.final_states.items())
    tasks: list[ChunkTask] = []
    states: dict[str, Any] = {}
    for state, sigma in strata:
        n_state = round(sigma * luminosity_fb)
        weight = sigma * norm / max(n_state, 1)
        start = len(tasks)
        tasks.extend(
            ChunkTask(
                process,
                n,
                weight,
                seed,
                (STREAM_MC, PROCESS_INDEX[process], start + i),
                settings,
                final_state=state,
            )
            for i, n in enumerate(_split(n_state, size))
        )
        if state is not None:
            states[state] = {"cross_section_fb": sigma, "n_generated": n_state, "weight": weight}
    n_total = sum(task.n_events for task in tasks)
    more: dict[str, Any] = {"mc_luminosity_fb": luminosity_fb}
    if states:
        more["final_states"] = states
    generator = _generator_doc(info, cfg, **more)
    metadata = _metadata(
        cfg,
        process=process,
        is_data=False,
        cross_section_fb=info.generated_cross_section_fb,
        luminosity_fb=norm,
        n_generated=n_total,
        seed=seed,
        generator=generator,
    )
    return SamplePlan(tuple(tasks), metadata)


def plan_signal(
    ma: float,
    mh: float,
    n_events: int,
    *,
    cfg: Mapping[str, Any],
    seed: int,
    isr: bool = True,
    key: Sequence[int] = (),
) -> SamplePlan:
    """Chunks of a signal sample (no generator cuts, no skim); weights as :func:`simulate_signal`."""
    lumi = float(cfg["dataset"]["luminosity_fb"])
    reference = float(cfg["signal"]["reference_cross_section_fb"])
    weight = signal_weight(n_events, cfg)
    settings = SimulationSettings.from_config(cfg)
    size = int(cfg["simulation"]["chunk_events"])
    tasks = tuple(
        ChunkTask(
            "signal", n, weight, seed, (STREAM_SIGNAL, *key, i), settings, False, (ma, mh, isr)
        )
        for i, n in enumerate(_split(n_events, size))
    )
    generator = {
        "name": "dhstat.simulation",
        "ma": float(ma),
        "mh": float(mh),
        "isr": bool(isr),
        "isr_factor": signal_isr_factor(ma, mh, cfg) if isr else 1.0,
        "reference_cross_section_fb": reference,
        "weight": "L x reference_cross_section_fb / n_generated",
        "detector_digest": _table_digest(cfg, "detector"),
    }
    metadata = _metadata(
        cfg,
        process="signal",
        is_data=False,
        cross_section_fb=reference,
        luminosity_fb=lumi,
        n_generated=n_events,
        seed=seed,
        generator=generator,
    )
    return SamplePlan(tasks, metadata)


def _poisson_count(seed: int, process: str, mean: float) -> int:
    """Events of a process in pseudo-data: Poisson(``mean``) from the process's own stream."""
    return int(task_rng(seed, STREAM_DATA, PROCESS_INDEX[process], 1 << 20).poisson(mean))


def plan_data(
    luminosity_fb: float,
    *,
    cfg: Mapping[str, Any],
    seed: int,
    injection: Injection | None = None,
) -> SamplePlan:
    """Chunks of pseudo-data: Poisson numbers of events of every background (and the signal).

    Example:
        >>> from dhstat.config import load
        >>> plan = plan_data(0.001, cfg=load(), seed=1)
        >>> sorted({task.process for task in plan.tasks})
        ['eemumu', 'mumu', 'tautau']
    """
    settings = SimulationSettings.from_config(cfg)
    size = int(cfg["simulation"]["chunk_events"])
    tasks: list[ChunkTask] = []
    counts: dict[str, int] = {}
    for process in BACKGROUNDS:
        info = process_info(process, cfg)
        index = PROCESS_INDEX[process]
        n_total = _poisson_count(seed, process, info.generated_cross_section_fb * luminosity_fb)
        counts[process] = n_total
        tasks.extend(
            ChunkTask(process, n, 1.0, seed, (STREAM_DATA, index, i), settings)
            for i, n in enumerate(_split(n_total, size))
        )
    if injection is not None:
        index = PROCESS_INDEX["signal"]
        n_signal = _poisson_count(seed, "signal", injection.sigma_fb * luminosity_fb)
        counts["signal"] = n_signal
        isr = bool(cfg["signal"]["isr"])
        tasks.extend(
            ChunkTask(
                "signal",
                n,
                1.0,
                seed,
                (STREAM_DATA, index, i),
                settings,
                skim=True,
                signal=(injection.ma, injection.mh, isr),
                keep_truth=False,
            )
            for i, n in enumerate(_split(n_signal, size))
        )
    generator = {
        "name": "dhstat.simulation",
        "events_drawn": counts,
        "processes": [*BACKGROUNDS, "signal"],
        "injection": None
        if injection is None
        else {"ma": injection.ma, "mh": injection.mh, "sigma_fb": injection.sigma_fb},
        "skim": _plain(cfg["simulation"]["skim"]),
        "detector_digest": _table_digest(cfg, "detector"),
    }
    metadata = _metadata(
        cfg,
        process="data",
        is_data=True,
        cross_section_fb=0.0,
        luminosity_fb=luminosity_fb,
        n_generated=sum(counts.values()),
        seed=seed,
        generator=generator,
    )
    return SamplePlan(tuple(tasks), metadata)
