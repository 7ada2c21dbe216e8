"""Typed settings of the event generators, read once from the configuration.

:meth:`GeneratorSettings.from_config` reads ``[beams]``, ``[physics]``, ``[processes]`` and the
``[simulation]`` switches and generator cuts (plus the skim, trigger and tracking numbers of the
truth-level skim window); :class:`SimulationSettings` pairs it with the
:class:`~dhstat.simulation.detector_settings.DetectorSettings`. Both are frozen and picklable: a
sample plan builds one and every chunk task carries it to the worker processes. Numbers are the
configured ones as floats, so the arithmetic is the same as on the configuration values.

Example:
    >>> from dhstat.config import load
    >>> settings = GeneratorSettings.from_config(load())
    >>> settings.cuts.theta_min, settings.tautau.final_states, settings.mumu.fsr
    (30.0, ('mumu', 'emu'), True)
    >>> [round(x, 4) for x in settings.lepton_window]
    [-0.5086, 0.8046, 0.6]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dhstat.physics.beams import Beams
from dhstat.simulation.detector_settings import (
    DetectorSettings,
    SkimSettings,
    Trigger,
    floats_from_table,
)

__all__ = [
    "EemumuSettings",
    "GeneratorCuts",
    "GeneratorSettings",
    "MumuSettings",
    "SimulationSettings",
    "TautauSettings",
]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class GeneratorCuts:
    """``[simulation.generator_cuts]``: truth-level cuts, looser than the selection."""

    enabled: bool
    theta_min: float
    theta_max: float
    p_min: float
    electron_p_min: float
    eemumu_pt_min: float
    eemumu_rapidity_margin: float

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> GeneratorCuts:
        """The settings of the ``[simulation.generator_cuts]`` table."""
        return cls(
            enabled=bool(table["enabled"]),
            theta_min=float(table["theta_min"]),
            theta_max=float(table["theta_max"]),
            p_min=float(table["p_min"]),
            electron_p_min=float(table["electron_p_min"]),
            eemumu_pt_min=float(table["eemumu_pt_min"]),
            eemumu_rapidity_margin=float(table["eemumu_rapidity_margin"]),
        )


@dataclass(frozen=True, slots=True)
class MumuSettings:
    """``[processes.mumu]``: ISR threshold (``min_mass`` [GeV]) and leading-log FSR."""

    min_mass: float
    fsr: bool
    fsr_min_fraction: float


@dataclass(frozen=True, slots=True)
class TautauSettings:
    """``[processes.tautau]``: leptonic branching fractions and the generated final states."""

    branching_mu: float
    branching_e: float
    final_states: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EemumuSettings:
    """``[processes.eemumu]``: smallest gamma gamma mass [GeV] and largest virtuality [GeV^2]."""

    min_mass: float
    q2_max: float


def lepton_window(
    cuts: GeneratorCuts, skim: SkimSettings, trigger: Trigger, angle_resolution_mrad: float
) -> tuple[float, float, float] | None:
    """Truth-level (cos theta_max, cos theta_min, p_min) both leptons of a 2-track event need.

    The generator cuts, narrowed to the truth-level image of the reconstruction skim for events
    whose only charged particles are the two leptons: the trigger and the skim need both tracks
    inside ``[max(trigger, skim) theta_min, min(...) theta_max]``, so their truth angles must be
    inside it widened by 10 x the angle resolution (probability < 1e-22 per track of a
    difference). ``None`` if the generator cuts are disabled.
    """
    if not cuts.enabled:
        return None
    lo, hi = cuts.theta_min, cuts.theta_max
    if skim.enabled and skim.require_trigger:
        margin = math.degrees(10 * angle_resolution_mrad * 1e-3)
        lo = max(lo, max(skim.theta_min, trigger.theta_min) - margin)
        hi = min(hi, min(skim.theta_max, trigger.theta_max) + margin)
    return math.cos(math.radians(hi)), math.cos(math.radians(lo)), cuts.p_min


@dataclass(frozen=True, slots=True)
class GeneratorSettings:
    """Everything the event generators read (picklable, for worker processes).

    Attributes:
        beams: The nominal beams and their energy spreads.
        alpha: Fine-structure constant.
        muon_mass, tau_mass: [GeV] (the electron mass is ``beams.electron_mass``).
        isr: ``[simulation] isr``: ISR in the background generators.
        beam_energy_spread: ``[simulation] beam_energy_spread``: per-event beam energies.
        cuts: The generator cuts.
        lepton_window: The truth-level skim window of 2-track events (:func:`lepton_window`).
        mumu, tautau, eemumu: The ``[processes]`` tables.
        isr_both_beams: ``[simulation] isr_both_beams``: in the mu mu(gamma) generator, the ISR
            energy loss is shared between a photon from each beam (see
            :func:`~dhstat.simulation.isr_photons.split_isr`).
    """

    beams: Beams
    alpha: float
    muon_mass: float
    tau_mass: float
    isr: bool
    beam_energy_spread: bool
    cuts: GeneratorCuts
    lepton_window: tuple[float, float, float] | None
    mumu: MumuSettings
    tautau: TautauSettings
    eemumu: EemumuSettings
    isr_both_beams: bool = False

    @property
    def electron_mass(self) -> float:
        """[GeV]."""
        return self.beams.electron_mass

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> GeneratorSettings:
        """The generator settings of a configuration."""
        physics, processes, simulation = cfg["physics"], cfg["processes"], cfg["simulation"]
        cuts = GeneratorCuts.from_table(simulation["generator_cuts"])
        mumu, tautau = processes["mumu"], processes["tautau"]
        return cls(
            beams=Beams.from_config(cfg),
            alpha=float(physics["alpha"]),
            muon_mass=float(physics["muon_mass"]),
            tau_mass=float(physics["tau_mass"]),
            isr=bool(simulation["isr"]),
            beam_energy_spread=bool(simulation["beam_energy_spread"]),
            cuts=cuts,
            lepton_window=lepton_window(
                cuts,
                SkimSettings.from_table(simulation["skim"]),
                floats_from_table(Trigger, cfg["detector"]["trigger"]),
                float(cfg["detector"]["tracking"]["angle_resolution_mrad"]),
            ),
            mumu=MumuSettings(
                float(mumu["min_mass"]), bool(mumu["fsr"]), float(mumu["fsr_min_fraction"])
            ),
            tautau=TautauSettings(
                float(tautau["branching_mu"]),
                float(tautau["branching_e"]),
                tuple(str(name) for name in tautau["final_states"]),
            ),
            eemumu=floats_from_table(EemumuSettings, processes["eemumu"]),
            isr_both_beams=bool(simulation.get("isr_both_beams", False)),
        )


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """The generator and detector settings of a simulation (what a chunk task carries)."""

    generator: GeneratorSettings
    detector: DetectorSettings

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> SimulationSettings:
        """The simulation settings of a configuration."""
        return cls(GeneratorSettings.from_config(cfg), DetectorSettings.from_config(cfg))
