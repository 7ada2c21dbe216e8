"""Statistics of the sliding-window search: what to use when.

* **One pyhf workspace with one POI** (the theorist's entry point, ``dhstat limit`` /
  ``dhstat significance``, and the Python API :mod:`dhstat.stats.infer`, re-exported as
  ``dhstat.upper_limit(data, model)`` etc.): read it (a JSON file, a background-only workspace plus
  a patchset and a patch, or a HEPData ``.tar.gz``) with :mod:`dhstat.stats.sources`;
  :func:`dhstat.stats.bayes.upper_limit` (flat or log prior), :func:`dhstat.stats.bayes.bayes_factor`,
  :func:`dhstat.stats.significance.significance` (hybrid p-value and Z: exact for one bin, by toys
  of a test statistic for several (:mod:`dhstat.stats.hybrid`); or pyhf's asymptotic q0). Every
  pyhf modifier has its constraint term as prior and free parameters a flat prior
  (:mod:`dhstat.stats.parameters`); ``fix=`` and ``priors=`` change them. The nuisance integral
  follows the posterior: prior quadrature where it is exact (one bin), a dense grid around the
  conditional modes for one or two parameters, importance sampling with Student-t proposals
  at the Laplace modes (:mod:`dhstat.stats.laplace`, :mod:`dhstat.stats.marginal`) above that,
  each with its numerical uncertainty. Expected limits by toys: :mod:`dhstat.stats.expected_toys`.
* **A whole set of single-bin windows** (the analyst's, ``dhstat scan``): read it with
  :func:`dhstat.stats.scan.read_windows` into a :class:`dhstat.stats.model.WindowSet` and call
  :func:`dhstat.stats.scan.scan`; the pieces are
  :func:`dhstat.stats.significance.hybrid_pvalue` (also THE p-value function of the look-elsewhere
  toys), :func:`dhstat.stats.bayes.window_bayes_factors` and
  :func:`dhstat.stats.bayes.window_upper_limits`. Same likelihood, same priors, same numbers as the
  generic path (tested to 1e-6), evaluated for all windows at once with numpy. Beside them:
  expected limits with +-1, +-2 sd bands and expected significances, exact from the
  prior-predictive distribution of N (:mod:`dhstat.stats.expected`), and asymptotic CLs limits
  (qtilde, pyhf's numbers), observed and expected (:mod:`dhstat.stats.cls`).
* **Global significance**: :mod:`dhstat.lee` (its own stage; not part of this engine).
* **Priors and the zero-truncation convention**: :mod:`dhstat.stats.priors`
  (:data:`dhstat.stats.priors.TRUNCATION` is recorded in every output).

Modules, from the bottom up: :mod:`~dhstat.stats.priors` (prior rules), :mod:`~dhstat.stats._core`
(Poisson kernels); the window model: :mod:`~dhstat.stats.specs` (one-bin workspaces),
:mod:`~dhstat.stats.nodes` (quadrature nodes), :mod:`~dhstat.stats.model` (the window set);
the generic model: :mod:`~dhstat.stats.checks`, :mod:`~dhstat.stats.generic`, :mod:`~dhstat.stats.parameters`,
:mod:`~dhstat.stats.laplace`, :mod:`~dhstat.stats.marginal`, :mod:`~dhstat.stats.poi_integral`;
the Bayesian results:
:mod:`~dhstat.stats.single_bin`, :mod:`~dhstat.stats.window_bayes`,
:mod:`~dhstat.stats.generic_bayes` (all re-exported by :mod:`~dhstat.stats.bayes`);
:mod:`~dhstat.stats.significance`; :mod:`~dhstat.stats.expected`, :mod:`~dhstat.stats.cls`; and
the stage: :mod:`~dhstat.stats.scan`. This package imports
none of them itself, so that ``import dhstat.stats`` stays cheap.

References: the hybrid (prior-predictive) p-value of Cousins and Highland, NIM A 320 (1992) 331;
Bayes factors after Kass and Raftery, JASA 90 (1995) 773; the flat-prior limit without
uncertainties is Helene's formula, NIM 212 (1983) 319; the asymptotic q0 of Cowan et al.,
EPJC 71 (2011) 1554 (also the asymptotic CLs). p-values are always in [0, 1] and
``Z = max(0, Phi^-1(1 - p))`` (one-sided: 0 for deficits). The settings are the ``[stats]``
configuration table.

Example:
    >>> from dhstat.stats import bayes
    >>> from dhstat.stats.model import window_spec
    >>> round(bayes.upper_limit(window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})).upper_limit, 3)
    2.303
"""

from __future__ import annotations

__all__: list[str] = []


def __dir__() -> list[str]:
    return __all__
