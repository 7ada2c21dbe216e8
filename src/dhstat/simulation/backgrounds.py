"""The background processes: their normalisation as generated and the generator of each.

Example:
    >>> from dhstat.config import load
    >>> info = process_info("tautau", load())
    >>> round(info.presampled_fraction, 5), round(info.final_states["mumu"] / info.cross_section_fb, 5)
    (0.09222, 0.03024)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dhstat.processes import BACKGROUNDS
from dhstat.simulation.eemumu import draw_eemumu
from dhstat.simulation.mumu import draw_mumu
from dhstat.simulation.photon_table import eemumu_table
from dhstat.simulation.settings import GeneratorSettings
from dhstat.simulation.tautau import draw_tautau, final_state_branching
from dhstat.simulation.truth import TruthEvents

__all__ = ["ProcessInfo", "draw_background", "generate", "process_info"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """Normalisation of a background process as generated.

    Attributes:
        process: ``mumu``, ``tautau`` or ``eemumu``.
        cross_section_fb: Total cross section of the process as configured [fb].
        generated_cross_section_fb: Cross section of the phase space actually sampled (after the
            analytic pre-cuts, before the event-by-event generator cuts) [fb]; events are
            drawn unweighted from it, so an MC event has weight ``generated_cross_section_fb x L /
            N_drawn``.
        presampled_fraction: ``generated_cross_section_fb / cross_section_fb``.
        settings: Generator settings (JSON-serialisable) for the metadata.
        final_states: ``tautau`` only: the generated cross section of each final state [fb]
            (``mumu``, ``emu``; they add up to ``generated_cross_section_fb``); empty otherwise.
    """

    process: str
    cross_section_fb: float
    generated_cross_section_fb: float
    presampled_fraction: float
    settings: Mapping[str, Any]
    final_states: Mapping[str, float] = field(default_factory=dict)


def _unknown(process: str) -> ValueError:
    msg = f"unknown process {process!r}; expected one of {BACKGROUNDS}"
    return ValueError(msg)


def process_info(process: str, cfg: Mapping[str, Any]) -> ProcessInfo:
    """Cross sections of a background process as generated (see :class:`ProcessInfo`).

    ``tautau``: sigma x (B_mu^2 + 2 B_e B_mu) for the final states mu mu and e mu (analytic,
    :func:`tautau_branching`; ``final_states`` gives each). ``eemumu``: the
    fraction of the equivalent-photon phase space inside the analytic pre-cuts (rapidity of the
    gamma gamma system, virtuality) is integrated on the sampling grid. ``mumu``: no pre-cut.
    The configuration tables are copied into ``settings`` as they are, for the metadata.
    """
    if process not in BACKGROUNDS:
        raise _unknown(process)
    settings = dict(cfg["processes"][process])
    generator_settings = GeneratorSettings.from_config(cfg)
    sigma = float(settings["cross_section_fb"])
    final_states: dict[str, float] = {}
    if process == "tautau":
        branching = final_state_branching(generator_settings.tautau)
        final_states = {k: sigma * b for k, b in branching.items()}
        fraction = sum(branching.values())
    elif process == "eemumu":
        fraction = eemumu_table(generator_settings).fraction
    else:
        fraction = 1.0
    generator = {
        "process": process,
        "settings": settings,
        "isr": bool(cfg["simulation"]["isr"]),
        "beam_energy_spread": bool(cfg["simulation"]["beam_energy_spread"]),
        "generator_cuts": dict(cfg["simulation"]["generator_cuts"]),
    }
    if cfg["simulation"].get(
        "isr_both_beams", False
    ):  # recorded when on: old files stay as they were
        generator["isr_both_beams"] = True
    return ProcessInfo(process, sigma, sigma * fraction, fraction, generator, final_states)


def generate(
    process: str,
    n_events: int,
    *,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    skim: bool = False,
    final_state: str | None = None,
) -> TruthEvents:
    """Generate ``n_events`` of a background process.

    With ``skim``, only the events passing the generator cuts (:func:`generator_cut_mask`)
    are returned (``mumu``, ``tautau``: also the truth-level image of the reconstruction skim,
    which cannot change the skimmed sample; the rejected events are not completed). ``final_state``: see
    :func:`generate_tautau`.

    Example:
        >>> from dhstat.config import load
        >>> len(generate("tautau", 10, cfg=load(), rng=np.random.default_rng(2)))
        10
    """
    settings = GeneratorSettings.from_config(cfg)
    return draw_background(
        process, n_events, settings=settings, rng=rng, skim=skim, final_state=final_state
    )


def draw_background(
    process: str,
    n_events: int,
    *,
    settings: GeneratorSettings,
    rng: np.random.Generator,
    skim: bool = False,
    final_state: str | None = None,
) -> TruthEvents:
    """As :func:`generate`, with the settings read once."""
    if process == "mumu":
        return draw_mumu(n_events, settings=settings, rng=rng, skim=skim)
    if process == "tautau":
        return draw_tautau(n_events, settings=settings, rng=rng, final_state=final_state, skim=skim)
    if process == "eemumu":
        return draw_eemumu(n_events, settings=settings, rng=rng, skim=skim)
    raise _unknown(process)
