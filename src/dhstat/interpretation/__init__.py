"""Interpretation: eps^2 alpha_D limits, interpolation over the plane, reinterpretation.

The stage's modules, one job each:

* :mod:`~dhstat.interpretation.settings`: :class:`InterpretationSettings`, read once from the
  configuration and passed down.
* :mod:`~dhstat.interpretation.scan_results`: what is read from a scan's ``results.json``.
* :mod:`~dhstat.interpretation.likelihoods`: modified window likelihoods and their upper limits by
  the stats engine.
* :mod:`~dhstat.interpretation.couplings`: upper limits on eps^2 alpha_D and ``couplings.json``
  (:func:`interpret`, what ``dhstat interpret`` runs).
* :mod:`~dhstat.interpretation.interpolation`: limits interpolated over the (M_A', M_h') plane.
* :mod:`~dhstat.interpretation.model_points`, :mod:`~dhstat.interpretation.efficiencies`,
  :mod:`~dhstat.interpretation.published`, :mod:`~dhstat.interpretation.reinterpret`,
  :mod:`~dhstat.interpretation.patches`: limits for a model the analysis did not consider
  (``dhstat reinterpret``), with :mod:`~dhstat.interpretation.lhe` for its truth-level events.

The cross sections at eps^2 alpha_D = 1 are in :mod:`dhstat.physics.cross_sections` and are
re-exported here.

Example:
    >>> s1 = born_unit_cross_section(5.0, 2.0, sqrt_s=10.58)
    >>> round(float(s1) * 1e-8, 3)
    1.013
"""

from __future__ import annotations

from dhstat.interpretation.couplings import (
    BR_METHOD,
    BR_PARAMETER,
    CouplingLimits,
    coupling_limits,
    couplings_document,
    interpret,
)
from dhstat.interpretation.efficiencies import efficiencies_from_events, window_efficiencies
from dhstat.interpretation.interpolation import (
    coupling_curves,
    interpolate_limits,
    interpolate_points,
)
from dhstat.interpretation.likelihoods import (
    add_signal_uncertainty,
    expected_counts,
    rescale_signal,
    window_limits,
)
from dhstat.interpretation.model_points import (
    ModelPoint,
    efficiencies_document,
    read_efficiencies,
)
from dhstat.interpretation.patches import patchsets, signal_patch
from dhstat.interpretation.published import PublishedWindows, read_published
from dhstat.interpretation.reinterpret import (
    SELECTION_RULE,
    PointLimit,
    reinterpret,
    reinterpretation_document,
)
from dhstat.interpretation.scan_results import ScanInputs, scan_inputs
from dhstat.interpretation.settings import InterpretationSettings
from dhstat.physics.cross_sections import (
    CROSS_SECTION_TYPES,
    born_unit_cross_section,
    isr_unit_cross_section,
    unit_cross_sections,
)

__all__ = [
    "BR_METHOD",
    "BR_PARAMETER",
    "CROSS_SECTION_TYPES",
    "SELECTION_RULE",
    "CouplingLimits",
    "InterpretationSettings",
    "ModelPoint",
    "PointLimit",
    "PublishedWindows",
    "ScanInputs",
    "add_signal_uncertainty",
    "born_unit_cross_section",
    "coupling_curves",
    "coupling_limits",
    "couplings_document",
    "efficiencies_document",
    "efficiencies_from_events",
    "expected_counts",
    "interpolate_limits",
    "interpolate_points",
    "interpret",
    "isr_unit_cross_section",
    "patchsets",
    "read_efficiencies",
    "read_published",
    "reinterpret",
    "reinterpretation_document",
    "rescale_signal",
    "scan_inputs",
    "signal_patch",
    "unit_cross_sections",
    "window_efficiencies",
    "window_limits",
]


def __dir__() -> list[str]:
    return __all__
