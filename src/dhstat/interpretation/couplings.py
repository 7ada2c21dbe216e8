"""Upper limits on eps^2 alpha_D from a scan's cross-section limits (analysis.md section 4).

The search limits the cross section sigma of e+e- -> A' h', A' -> mu mu, h' invisible per window.
The model predicts sigma * B = (eps^2 alpha_D) * sigma_1 * B(A' -> mu mu), with sigma_1 the cross
section at eps^2 alpha_D = 1 (:mod:`dhstat.physics.cross_sections`) and B from the PDG R data
(:mod:`dhstat.physics.decay`), so

    (eps^2 alpha_D)_UL = sigma_UL' / (sigma_1 * B(A' -> mu mu)),

where sigma_UL' is the window's upper limit recomputed by the stats engine with the 4 %
B(A' -> mu mu) uncertainty included as a *constrained modifier*: a symmetric histosys ``br_mumu``
on the signal (relative size ``[interpretation] br_mumu_rel_uncertainty``), i.e. a Gaussian
smearing of the signal yield truncated at zero, marginalised together with the window's own
nuisance parameters (:func:`dhstat.interpretation.likelihoods.add_signal_uncertainty`). It enters
the coupling limits only, never the sigma limits.

What sigma means. dhstat's signal efficiencies are normalised to the ISR-inclusive cross section
(the signal simulation includes ISR), while the paper's formula divides by the Born cross section.
Both conventions are written, and every output says which one is primary
(``[interpretation] cross_section``, default ``"born"`` as in analysis.md section 4).

Resonances. Windows whose M_A' lies near the narrow J/psi, psi(2S), Upsilon(1S, 2S, 3S), which
the R data do not contain, are flagged (:func:`dhstat.physics.decay.near_resonance`).

Example:
    >>> from dhstat import config
    >>> from dhstat.interpretation.scan_results import scan_inputs
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})], ids=["1"])
    >>> inputs = scan_inputs({"window_model": ws.to_dict(),
    ...                       "windows": [{"id": 1, "ma": 5.0, "mh": 2.0}]})
    >>> settings = InterpretationSettings.from_config(config.load())
    >>> limits = coupling_limits(inputs, settings)
    >>> round(float(limits.sigma_ul["flat"][0]), 4), bool(limits.coupling_ul()[0] > 0)
    (2.3026, True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.interpretation.likelihoods import add_signal_uncertainty, window_limits
from dhstat.interpretation.scan_results import ScanInputs, scan_inputs
from dhstat.interpretation.settings import InterpretationSettings
from dhstat.jsonio import read_json, sha256_file
from dhstat.physics import decay
from dhstat.physics.cross_sections import CROSS_SECTION_TYPES, CrossSectionType, unit_cross_sections
from dhstat.provenance import provenance

__all__ = [
    "BR_METHOD",
    "BR_PARAMETER",
    "CouplingLimits",
    "coupling_limits",
    "couplings_document",
    "interpret",
]

Array = NDArray[np.float64]

#: Name of the constrained modifier that carries the B(A' -> mu mu) uncertainty.
BR_PARAMETER = "br_mumu"

BR_METHOD = (
    "constrained modifier: a symmetric histosys 'br_mumu' of relative size "
    "br_mumu_rel_uncertainty on the signal of every window (Gaussian prior, zero-truncated), "
    "marginalised with the window's other nuisance parameters by the stats engine; used for the "
    "coupling limits only"
)


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class CouplingLimits:
    """Upper limits on eps^2 alpha_D per window.

    Attributes:
        ids: Window ids.
        ma: M_A' of the window centres [GeV].
        mh: M_h' of the window centres [GeV].
        priors: Priors of the converted limits (the first is the primary).
        sigma_ul: The scan's upper limits on sigma [fb] per prior (no B(A'->mumu) uncertainty).
        sigma_ul_br: The same limits recomputed with the B(A'->mumu) uncertainty [fb].
        unit_cross_section: sigma at eps^2 alpha_D = 1 [fb], per cross-section type.
        br_mumu: B(A' -> mu mu) (NaN outside the R data).
        near_resonance: Name of the nearby narrow resonance per window, ``""`` if none.
        primary: The primary cross-section type.
        credibility: Credibility level of the limits.
        sqrt_s: c.m. energy [GeV].
        br_rel_uncertainty: Relative B(A'->mumu) uncertainty included.
    """

    ids: NDArray[np.int64]
    ma: Array
    mh: Array
    priors: tuple[str, ...]
    sigma_ul: Mapping[str, Array]
    sigma_ul_br: Mapping[str, Array]
    unit_cross_section: Mapping[CrossSectionType, Array]
    br_mumu: Array
    near_resonance: tuple[str, ...]
    primary: CrossSectionType
    credibility: float
    sqrt_s: float
    br_rel_uncertainty: float

    def coupling_ul(
        self, cross_section: CrossSectionType | None = None, prior: str | None = None
    ) -> Array:
        """(eps^2 alpha_D)_UL = sigma_UL' / (sigma_1 B); NaN where B or sigma_1 is unavailable."""
        kind = cross_section or self.primary
        unit = self.unit_cross_section[kind] * self.br_mumu
        limit = self.sigma_ul_br[prior or self.priors[0]]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(unit > 0, limit / unit, np.nan)
        return np.asarray(value, dtype=np.float64)


def coupling_limits(
    inputs: ScanInputs,
    settings: InterpretationSettings,
    *,
    priors: Sequence[str] | None = None,
) -> CouplingLimits:
    """Upper limits on eps^2 alpha_D for every window of a scan.

    The sigma limits are recomputed by the stats engine from the scan's window model, once as they
    are and once with the B(A'->mumu) uncertainty added as a constrained signal modifier
    (:data:`BR_PARAMETER`, :func:`add_signal_uncertainty`), so both come from the same code.

    Args:
        inputs: The scan's windows (:func:`scan_inputs`).
        settings: The interpretation settings (beams, physics constants, ``[interpretation]``).
        priors: Priors to convert (the first is the primary); default ``settings.priors``.
    """
    priors = tuple(priors if priors is not None else settings.priors)
    relative = settings.br_mumu_rel_uncertainty
    smeared = (
        add_signal_uncertainty(inputs.window_set, BR_PARAMETER, relative)
        if relative > 0
        else inputs.window_set
    )
    options = {"cl": inputs.cl, "sigma_min": inputs.sigma_min}
    sigma_ul = {p: window_limits(inputs.window_set, prior=p, **options) for p in priors}
    sigma_ul_br = {p: window_limits(smeared, prior=p, **options) for p in priors}
    beams = settings.beams
    br = decay.branching_ratio_mumu(
        inputs.ma,
        electron_mass=beams.electron_mass,
        muon_mass=settings.muon_mass,
        tau_mass=settings.tau_mass,
    )
    near = decay.near_resonance(
        inputs.ma,
        settings.resonances,
        n_widths=settings.resonance_n_widths,
        min_halfwidth=settings.resonance_min_halfwidth,
    )
    sqrt_s = beams.sqrt_s
    units = unit_cross_sections(
        inputs.ma, inputs.mh, sqrt_s=sqrt_s, alpha=settings.alpha,
        gev2_to_fb=settings.gev2_to_fb, electron_mass=beams.electron_mass,
        isr_nodes=settings.isr_nodes,
    )  # fmt: skip
    return CouplingLimits(
        ids=inputs.ids,
        ma=inputs.ma,
        mh=inputs.mh,
        priors=tuple(priors),
        sigma_ul=sigma_ul,
        sigma_ul_br=sigma_ul_br,
        unit_cross_section=units,
        br_mumu=br,
        near_resonance=near,
        primary=settings.cross_section,
        credibility=inputs.cl,
        sqrt_s=sqrt_s,
        br_rel_uncertainty=relative,
    )


def _number(value: float) -> float | None:
    """``value`` as a JSON number, ``None`` if it is not finite."""
    return float(value) if math.isfinite(value) else None


_NOTES = {
    "born": (
        "eps2_alpha_d_ul treats the scan's sigma as the Born cross section of e+e- -> A'h' "
        "(analysis.md section 3, the paper's convention): eps^2 alpha_D = sigma_UL / "
        "(sigma_Born(eps^2 alpha_D = 1) B(A'->mumu))."
    ),
    "isr": (
        "eps2_alpha_d_ul treats the scan's sigma as the ISR-inclusive cross section (Born folded "
        "with the Kuraev-Fadin radiator; what dhstat's signal efficiencies are normalised to): "
        "eps^2 alpha_D = sigma_UL / (sigma_ISR(eps^2 alpha_D = 1) B(A'->mumu))."
    ),
}

BR_METHOD = (
    "constrained modifier: a symmetric histosys 'br_mumu' of relative size "
    "br_mumu_rel_uncertainty on the signal of every window (Gaussian prior, zero-truncated), "
    "marginalised with the window's other nuisance parameters by the stats engine; used for the "
    "coupling limits only"
)


def _window_rows(limits: CouplingLimits) -> list[dict[str, Any]]:
    """The per-window rows of ``couplings.json``."""
    windows = []
    primary = limits.coupling_ul()
    by = {
        kind: {p: limits.coupling_ul(kind, p) for p in limits.priors}
        for kind in CROSS_SECTION_TYPES
    }
    for i, window_id in enumerate(limits.ids.tolist()):
        windows.append(
            {
                "id": int(window_id),
                "ma": float(limits.ma[i]),
                "mh": float(limits.mh[i]),
                "br_mumu": _number(float(limits.br_mumu[i])),
                "sigma_unit_fb": {
                    kind: float(limits.unit_cross_section[kind][i]) for kind in CROSS_SECTION_TYPES
                },
                "sigma_ul_fb": {p: _number(float(limits.sigma_ul[p][i])) for p in limits.priors},
                "sigma_ul_br_fb": {
                    p: _number(float(limits.sigma_ul_br[p][i])) for p in limits.priors
                },
                "eps2_alpha_d_ul": _number(float(primary[i])),
                "eps2_alpha_d_ul_by": {
                    kind: {p: _number(float(by[kind][p][i])) for p in limits.priors}
                    for kind in CROSS_SECTION_TYPES
                },
                "near_resonance": limits.near_resonance[i] or None,
                "outside_r_data": bool(np.isnan(limits.br_mumu[i])),
            }
        )
    return windows


def couplings_document(
    limits: CouplingLimits,
    settings: InterpretationSettings,
    *,
    source: str | os.PathLike[str] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """The ``couplings.json`` document (schema ``couplings``) of ``limits``.

    ``source`` is the scan's ``results.json`` (its digest is recorded); ``label`` is how the
    document names it (default: the path as given).
    """
    windows = _window_rows(limits)
    path = Path(source) if source is not None else None
    r_table = decay.load_r_ratio()
    return {
        "schema_version": "1.0.0",
        **provenance(),
        "source": {
            "results": label if label is not None else (str(path) if path is not None else None),
            "results_sha256": sha256_file(path) if path is not None and path.is_file() else None,
        },
        "config_digest": settings.config_digest,
        "sqrt_s": limits.sqrt_s,
        "credibility": limits.credibility,
        "cross_section": limits.primary,
        "cross_section_note": _NOTES[limits.primary]
        + " eps2_alpha_d_ul_by gives both conventions.",
        "br_mumu_rel_uncertainty": limits.br_rel_uncertainty,
        "br_uncertainty_method": BR_METHOD,
        "r_data": (
            f"PDG 2020 R compilation (dhstat/data/pdg2020_r_ratio.dat, {r_table.range[0]}-"
            f"{r_table.range[1]} GeV, narrow J/psi, psi(2S), Upsilon(nS) not included), linear in sqrt(s)"
        ),
        "priors": list(limits.priors),
        "interpolation": dict(settings.interpolation),
        "resonance_flag": {
            "n_widths": settings.resonance_n_widths,
            "min_halfwidth_gev": settings.resonance_min_halfwidth,
            "resonances": [r.name for r in settings.resonances],
        },
        "windows": windows,
    }


def interpret(
    results_path: str | os.PathLike[str],
    settings: InterpretationSettings,
    *,
    label: str | None = None,
) -> dict[str, Any]:
    """``results.json`` -> the ``couplings.json`` document (what ``dhstat interpret`` writes).

    Args:
        results_path: The scan's ``results.json``.
        settings: ``InterpretationSettings.from_config(cfg)``; its ``cl`` and ``sigma_min``
            apply only if the results file records none.
        label: How the document names the results file (default: ``results_path`` as given).

    Raises:
        InputError: the results file is missing or lacks the window model.
    """
    results = read_json(results_path)
    inputs = scan_inputs(results, source=results_path, cl=settings.cl, sigma_min=settings.sigma_min)
    limits = coupling_limits(inputs, settings)
    return couplings_document(limits, settings, source=results_path, label=label)
