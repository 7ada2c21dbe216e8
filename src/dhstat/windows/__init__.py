"""Search windows: the mass grid, ellipse fits to signal simulation, membership, Punzi C_eta cuts.

The search plane is (x, y) = (M_recoil^2, M_mumu^2) in GeV^2. One window per grid point
(M_A', M_h'); the window is an ellipse centred at the fitted signal mean.

* **Settings** (:mod:`~dhstat.windows.settings`). :class:`GridSettings` and
  :class:`WindowSettings`, the typed ``[grid]`` and ``[windows]`` tables, built once per run.
* **Grid** (:mod:`~dhstat.windows.grid`, :func:`grid_points`). Rows of constant M_A' from
  ``ma_min`` to ``ma_max``, each step ``step_fraction_ma * sigma(M_mumu)``; in each row, M_h'^2
  from ``mh_min^2`` upwards in steps of ``step_fraction_mh * sigma(M_recoil^2)`` while
  M_h' < min(M_A', sqrt(s) - M_A'). The resolutions are the smooth parametrisation of the
  ``[grid]`` table (:func:`resolution`), calibrated with :mod:`~dhstat.windows.calibration`.
* **Fit** (:mod:`~dhstat.windows.fit`, :func:`fit_ellipse`). Selected no-ISR signal events are
  fitted (unbinned maximum likelihood, iminuit) with the sum of two 2-D Gaussians sharing the mean
  ``mu`` and the correlation ``rho``: ``f N(mu, S1) + (1 - f) N(mu, S2)``. A failed fit is retried
  from a single-Gaussian start with a stricter strategy; if it still fails, the window comes from
  the robust sample covariance and the point keeps ``fit_status = "fallback"`` (never dropped).
* **Contour** (:mod:`~dhstat.windows.geometry`). The window is the ``n_sigma`` contour of the
  covariance of the fitted mixture, ``S = f S1 + (1 - f) S2`` (exact for a common mean):
  ``{d : d^T S^-1 d <= n_sigma^2}``, ``d = (x, y) - mu``. For a single Gaussian it contains
  ``1 - exp(-n_sigma^2 / 2)`` of it (86.5 % for 2).
* **Grid points** (:mod:`~dhstat.windows.points`, :func:`fit_points`). Each point's signal is
  simulated (:mod:`~dhstat.windows.simulate`), fitted and summed per candidate C_eta cut; finished
  points go to a resumable checkpoint.
* **Analyst's signal MC** (:mod:`~dhstat.windows.signal_mc`, :class:`SignalPoint`,
  :func:`fit_signal_points`). With signal points given, :func:`define` makes one window per
  point from its selected events instead of simulating the grid: the ellipse is the same fit,
  made to the core of M_recoil^2 (the ISR tail cannot be removed from such MC), and the
  efficiency divides by the point's ``generated_events``.
* **Membership** (:mod:`~dhstat.windows.locate`, :func:`membership`). Window bounding boxes
  are registered in a grid of buckets whose edges are quantiles of the box bounds; each event is
  tested exactly only against the windows of its bucket. The result is a sparse events x windows
  CSR matrix.
* **C_eta cut** (:mod:`~dhstat.windows.punzi`, :func:`punzi_cuts`). Per window the cut
  ``C_eta < c`` maximising ``eps(c) / (a/2 + sqrt(B(c)))`` over the configured candidate grid;
  ``eps`` from the ISR signal simulation, ``B`` from the selected background simulation
  (:func:`simulate_background`).
* **Stage** (:mod:`~dhstat.windows.stage`, :func:`define`); the result is a :class:`Windows`
  (:mod:`~dhstat.windows.container`), written by :func:`save`, read by :func:`load`, and
  :func:`is_current` against a configuration (:data:`DIGEST_TABLES`).
* **Look-up** (:mod:`~dhstat.windows.find`, :func:`nearest`). The windows nearest to a mass
  point (M_A', M_h'), by the distance in units of each window's ellipse (<= 1: inside);
  :func:`open_catalogue` adds each window's workspace file and scan result from a run directory
  (``dhstat windows find``).

Example:
    >>> import numpy as np
    >>> w = from_ellipses([[1.0, 4.0]], [[0.5, 0.1]], [0.0])
    >>> contains(w, np.array([1.4, 1.0, 2.0]), np.array([4.0, 4.09, 4.0])).tolist()
    [[True], [True], [False]]
    >>> membership(w, np.array([1.4, 2.0]), np.array([4.0, 4.0])).toarray().tolist()
    [[1], [0]]
    >>> [(m.id, m.inside) for m in nearest(w, 2.0, 1.1)]
    [(0, True)]
"""

from __future__ import annotations

from dhstat.windows.calibration import fit_resolution, measure_resolution
from dhstat.windows.container import Windows, from_ellipses, is_current, load, save
from dhstat.windows.digests import DIGEST_TABLES, config_digest
from dhstat.windows.find import (
    Catalogue,
    WindowMatch,
    WindowResult,
    nearest,
    open_catalogue,
    windows_from_index,
)
from dhstat.windows.fit import FIT_STATUSES, fit_ellipse
from dhstat.windows.geometry import covariance_ellipse, ellipse_area
from dhstat.windows.grid import Grid, grid_points, resolution
from dhstat.windows.locate import contains, membership, overlap_fractions
from dhstat.windows.points import PointResult, candidate_cuts, fit_points
from dhstat.windows.punzi import punzi_cuts
from dhstat.windows.settings import GridSettings, WindowSettings
from dhstat.windows.signal_mc import SignalPoint, fit_signal_points
from dhstat.windows.simulate import simulate_background
from dhstat.windows.stage import define

__all__ = [
    "DIGEST_TABLES",
    "FIT_STATUSES",
    "Catalogue",
    "Grid",
    "GridSettings",
    "PointResult",
    "SignalPoint",
    "WindowMatch",
    "WindowResult",
    "WindowSettings",
    "Windows",
    "candidate_cuts",
    "config_digest",
    "contains",
    "covariance_ellipse",
    "define",
    "ellipse_area",
    "fit_ellipse",
    "fit_points",
    "fit_resolution",
    "fit_signal_points",
    "from_ellipses",
    "grid_points",
    "is_current",
    "load",
    "measure_resolution",
    "membership",
    "nearest",
    "open_catalogue",
    "overlap_fractions",
    "punzi_cuts",
    "resolution",
    "save",
    "simulate_background",
    "windows_from_index",
]


def __dir__() -> list[str]:
    return __all__
