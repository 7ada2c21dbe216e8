"""Bayes factors and Bayesian upper limits (statistics.md sections 3 and 4).

Posterior of the POI (the cross section sigma in fb for window workspaces)::

    p(sigma | N) ∝ pi(sigma) * integral L(N | sigma, theta) pi(theta) dtheta,   sigma in [0, sigma_max]

with the flat prior (default; the paper's) or the log prior (flat in ln sigma on
[sigma_min, sigma_max]). The upper limit UL solves ``integral_0^UL p = CL``. The nuisance integral
uses the prior nodes of :mod:`dhstat.stats.model` (window sets) or :mod:`dhstat.stats.generic` (any
workspace); for one bin the sigma integrals are closed forms (see :mod:`dhstat.stats._core`), for
several bins a composite Gauss-Legendre rule in sigma (flat) or ln sigma (log) over the posterior's
support. Without uncertainties the flat limit is Helene's formula ``1 - CL = F(N; s_UL + b) / F(N; b)``.

Bayes factor (Kass & Raftery) with a flat prior on [0, sigma_max]::

    B10 = integral_0^sigma_max m(sigma) dsigma / (sigma_max m(0)),  m(sigma) = integral L pi(theta)

which without smearing is ``[F(N; b) - F(N; b + s_max)] / (s_max Pois(N; b))``.

sigma_max dependence: with a zero-truncated efficiency prior the flat posterior's normalisation grows
like ln(sigma_max); each flat limit is recomputed with ``sigma_max_check_factor * sigma_max`` and
flagged (and a warning logged) when it moves by more than ``sigma_max_tolerance``.

The code is in three modules, re-exported here (this module's public names are unchanged):

* :mod:`dhstat.stats.window_bayes`: a whole window set at once (:func:`window_bayes_factors`,
  :func:`window_upper_limits`, :class:`WindowLimits`; the scan's path);
* :mod:`dhstat.stats.generic_bayes`: any workspace with one POI (:func:`upper_limit`,
  :func:`bayes_factor`, :class:`UpperLimit`);
* :mod:`dhstat.stats.single_bin`: the closed-form sigma integrals of one-bin models at given prior
  nodes, shared by both.

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})])
    >>> round(float(window_upper_limits(ws, cl=0.9).upper_limit[0]), 4)  # ln(10)
    2.3026
"""

from __future__ import annotations

from dhstat.stats.generic_bayes import UpperLimit, bayes_factor, upper_limit
from dhstat.stats.window_bayes import WindowLimits, window_bayes_factors, window_upper_limits

__all__ = [
    "UpperLimit",
    "WindowLimits",
    "bayes_factor",
    "upper_limit",
    "window_bayes_factors",
    "window_upper_limits",
]


def __dir__() -> list[str]:
    return __all__
