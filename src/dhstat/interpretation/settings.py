"""The interpretation's settings, read once from the configuration.

:meth:`InterpretationSettings.from_config` takes what the coupling limits and the reinterpretation
need from the ``[physics]``, ``[beams]``, ``[stats]`` and ``[interpretation]`` tables; the
functions of :mod:`dhstat.interpretation` take this object (or the numbers in it), never the
configuration mapping.

Example:
    >>> from dhstat import config
    >>> settings = InterpretationSettings.from_config(config.load())
    >>> settings.cross_section, settings.priors, round(settings.beams.sqrt_s, 4)
    ('born', ('flat',), 10.5796)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dhstat.jsonio import canonical_digest
from dhstat.physics import decay
from dhstat.physics.beams import Beams
from dhstat.physics.cross_sections import CrossSectionType

__all__ = ["CONFIG_TABLES", "InterpretationSettings"]

#: The configuration tables the coupling limits depend on (their digest is recorded).
CONFIG_TABLES = ("physics", "beams", "interpretation")


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class InterpretationSettings:
    """Settings of the coupling limits and of the reinterpretation.

    Attributes:
        beams: The beams (sqrt(s), m_e).
        alpha: Fine-structure constant (``[physics] alpha``).
        gev2_to_fb: GeV^-2 -> fb (``[physics] gev2_to_fb``).
        muon_mass: [GeV].
        tau_mass: [GeV].
        cross_section: The primary cross-section type (``[interpretation] cross_section``).
        priors: Priors of the converted limits, the first is the primary.
        br_mumu_rel_uncertainty: Relative B(A' -> mu mu) uncertainty.
        isr_nodes: Gauss-Legendre nodes of the ISR convolution.
        resonances: The narrow resonances flagged (``[[interpretation.resonances]]``).
        resonance_n_widths: Flag within this many widths of a resonance...
        resonance_min_halfwidth: ...or within this distance [GeV], whichever is larger.
        interpolation: The ``[interpretation.interpolation]`` table (recorded in couplings.json).
        min_relative_efficiency: Reinterpretation: candidate windows need at least this fraction
            of a model point's largest efficiency.
        cl: ``[stats] cl`` (the coupling limits use the scan's own value if it records one).
        sigma_min: ``[stats] sigma_min`` [fb] (likewise).
        config_digest: Canonical digest of the :data:`CONFIG_TABLES`.
    """

    beams: Beams
    alpha: float
    gev2_to_fb: float
    muon_mass: float
    tau_mass: float
    cross_section: CrossSectionType
    priors: tuple[str, ...]
    br_mumu_rel_uncertainty: float
    isr_nodes: int
    resonances: tuple[decay.Resonance, ...]
    resonance_n_widths: float
    resonance_min_halfwidth: float
    interpolation: Mapping[str, Any]
    min_relative_efficiency: float
    cl: float
    sigma_min: float
    config_digest: str

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> InterpretationSettings:
        """The settings of a configuration's physics, beams, stats and interpretation tables."""
        physics = cfg["physics"]
        table = cfg["interpretation"]
        flag = table["resonance_flag"]
        stats = cfg.get("stats") or {}
        return cls(
            beams=Beams.from_config(cfg),
            alpha=float(physics["alpha"]),
            gev2_to_fb=float(physics["gev2_to_fb"]),
            muon_mass=float(physics["muon_mass"]),
            tau_mass=float(physics["tau_mass"]),
            cross_section=table["cross_section"],
            priors=tuple(table["priors"]),
            br_mumu_rel_uncertainty=float(table["br_mumu_rel_uncertainty"]),
            isr_nodes=int(table["isr_nodes"]),
            resonances=decay.resonances_from_config(table),
            resonance_n_widths=float(flag["n_widths"]),
            resonance_min_halfwidth=float(flag["min_halfwidth_gev"]),
            interpolation=dict(table["interpolation"]),
            min_relative_efficiency=float(table["reinterpretation"]["min_relative_efficiency"]),
            cl=float(stats.get("cl", 0.9)),
            sigma_min=float(stats.get("sigma_min", 0.1)),
            config_digest=canonical_digest({name: cfg[name] for name in CONFIG_TABLES}),
        )
