r"""Figures of a dhstat run: one function per figure, each returning a matplotlib Figure.

The functions take arrays (window masses, counts, limits, ...) and only draw: no statistics, no
interpolation (the interpolated limit maps and the Fig. 3 curves come from
:mod:`dhstat.interpretation`). Every figure has mplhep's HEP style at the size of a journal
column, the experiment label ("Belle II-like simulation") and the run's luminosity
(:class:`Style`); :func:`save` writes each figure in every configured format, atomically and
reproducibly (no dates in PDF or SVG files).

Masses on the axes are in GeV, squared masses in GeV^2, cross sections in fb.

Modules:
    style: :class:`Style`, the label, :func:`save`.
    maps: per-window maps at the window centres (counts, local Z, efficiency, resolutions,
        expected significance).
    limits: interpolated limit maps (observed, expected, observed / expected), prior-dominated
        limits hatched, windows without sensitivity grey.
    curves: Fig. 3 analogues (limits along slices, with the expected bands) and the Z_max
        distribution of the look-elsewhere toys.
    events: the windows over the event density, the cutflow.

Example:
    >>> import numpy as np
    >>> fig = observed_counts(np.array([5.0, 6.0]), np.array([1.0, 2.0]), np.array([3, 0]))
    >>> fig.axes[0].get_xlabel()
    "$\\mathit{M}_{\\mathit{h'}}$ [GeV]"
"""

from __future__ import annotations

from dhstat.plots.curves import coupling_limit_bands, coupling_limits, max_z_distribution
from dhstat.plots.events import cutflow, spread_out, windows_over_events
from dhstat.plots.limits import limit_ratio_map, sigma_limit_map
from dhstat.plots.maps import (
    efficiency_map,
    local_significance_map,
    observed_counts,
    resolution_map,
    sensitivity_map,
)
from dhstat.plots.style import Style, save

__all__ = [
    "Style",
    "coupling_limit_bands",
    "coupling_limits",
    "cutflow",
    "efficiency_map",
    "limit_ratio_map",
    "local_significance_map",
    "max_z_distribution",
    "observed_counts",
    "resolution_map",
    "save",
    "sensitivity_map",
    "sigma_limit_map",
    "spread_out",
    "windows_over_events",
]


def __dir__() -> list[str]:
    return __all__
