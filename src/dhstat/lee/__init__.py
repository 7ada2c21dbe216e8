"""Look-elsewhere effect: correlated background-only toys over all windows, Gross-Vitells check.

The global p-value is ``P(max_w Z_w >= Z_obs,max | background only)`` (statistics.md, section 5),
estimated from pseudo-experiments that keep every correlation of the real search:

* **Overlaps.** The window boundaries and C_eta cuts cut the plane into disjoint *cells*
  (``counting.py``). A toy draws one Poisson count per cell and sums the cells into windows through
  the sparse window -> cell map (CSR, ``scipy.sparse``, int32), so an event in the overlap of several
  windows counts in all of them. For a Poisson process this is exact.
* **Common nuisance parameters** are drawn once per toy and applied to every cell:

  - *background systematics* (one standard-normal draw ``theta_k`` per source and toy): each source
    ``k`` is a window-level additive histosys ``delta_kw`` on the background (from the window
    model). A cell belongs to several windows, so its relative size is the **mean over the windows
    containing the cell** of ``delta_kw / b_w``; the cell's mean is scaled by
    ``max(0, 1 + sum_k theta_k r_kc)``. Sources shared by all windows (``syst_ceta``) shift all
    cells together; the detector source (2 % below M_A' = 9 GeV, 13 % above) follows the position
    of the cell through the windows that contain it.
  - *MC statistics* per cell (independent between cells and toys): the cell's true mean is drawn
    from a Gamma distribution with the cell's mean ``b_c`` and variance ``sum w^2_c`` (the same
    mean and variance as the ``staterror`` constraint of the window likelihoods, positive by
    construction, and the natural posterior of a mean estimated from weighted MC events). Poisson
    of a Gamma is negative binomial. Cells with a mean above two (and cells with injected signal)
    are drawn directly (numpy Gamma and Poisson). All others, most cells with means far below
    one, are drawn by inversion of one uniform number per cell and toy, and only where it
    matters: toys with similar systematic draws are simulated together, so per cell the CDF
    values ``P(N <= n)``, n = 0, 1, 2, are bracketed by their values at the smallest and largest
    systematic factor of the group; the uniform number is compared with the brackets (its
    leading 32 bits alone decide most counts, 0) and only undecided pairs are inverted with
    their own factor. The counts are exactly those of inverting every pair; the window counts
    are sums of the cell counts through the window -> cell map (uint16 when no window can
    exceed 65535).

  Both are draws from the priors, so the ensemble is the prior-predictive (hybrid) ensemble under
  which the observed local p-values are defined.
* **Local Z per toy by the same function as the observed Z.** ``Z_w(n) = Phi^-1(1 - p_w(n))`` with
  ``p_w`` the hybrid p-value function (``stats.significance.hybrid_pvalue``), tabulated once per
  window (in parallel) for ``n_min_w .. n_max_w`` and looked up. ``n_max_w`` lies ``table_sigmas``
  standard deviations above the mean; counts beyond are computed on the fly by the same function.
  ``n_min_w`` is where ``Z`` reaches the floor ``min(1, sqrt(u_min))`` (checked): below it only
  "below every Gross-Vitells threshold" matters, and a toy whose every window is below its table
  gets its maximum computed exactly. The observed maximum uses the same function, so ties between
  toys and data are exact.

Toys run in batches (``batch_size`` toys, random numbers from ``parallel.task_rng(seed, batch)``,
i.e. ``SeedSequence(seed).spawn(...)[batch]``) through ``parallel.executor``. A shard ``i/K`` owns
batches ``i, i + K, ...`` of the same global numbering, so merged shards reproduce the single run
exactly, and a checkpoint rewritten after every batch lets a killed run resume without losing or
repeating a toy.

Gross-Vitells cross-check (Vitells & Gross, Astropart. Phys. 35 (2011) 230): for the first
``gv_toys`` toys the Euler characteristic ``phi`` of the excursion set ``{q_w > u}`` is measured on
the graph of window centres (Delaunay triangulation; a chain in 1-D), with the one-sided statistic
``q = max(Z, 0)^2``, i.e. the excursion set is ``{Z_w > sqrt(u)}``. For a one-sided statistic the
zeroth-order term of ``E[phi(A_u)] = P(q > u) + exp(-u/2) (N1 + N2 sqrt(u))`` is
``P(q > u) = Phi_bar(sqrt(u)) = P(chi2_1 > u) / 2``. ``N1, N2`` are fitted by weighted least squares
to the mean Euler characteristic at low thresholds and the formula is evaluated at
``u = Z_obs,max^2``.

Modules: :mod:`~dhstat.lee.cells` (cells, window -> cell map), :mod:`~dhstat.lee.ztables` (local
Z tables), :mod:`~dhstat.lee.euler` (centre graph, Euler characteristics),
:mod:`~dhstat.lee.model` (the toy model), :mod:`~dhstat.lee.sampling` (cell counts of the toys),
:mod:`~dhstat.lee.toys` (batches, shards), :mod:`~dhstat.lee.grossvitells`,
:mod:`~dhstat.lee.results` (global p and Z), :mod:`~dhstat.lee.header` (the run header),
:mod:`~dhstat.lee.documents` (part files, lee.json), :mod:`~dhstat.lee.checkpoint`,
:mod:`~dhstat.lee.inputs` (scan results and counts), :mod:`~dhstat.lee.settings` (``[lee]``) and
:mod:`~dhstat.lee.preparation` (the entry of a run).

Example:
    >>> import numpy as np
    >>> round(p_global_independent(np.array([0.01, 0.02])), 10)
    0.0298
"""

from __future__ import annotations

from dhstat.lee.cells import CellInputs, inject_signal
from dhstat.lee.checkpoint import checkpoint_path, run_checkpointed
from dhstat.lee.documents import lee_document, merge_parts, part_document
from dhstat.lee.euler import Graph, euler_characteristic, window_graph
from dhstat.lee.grossvitells import GrossVitells, expected_euler, fit_gross_vitells
from dhstat.lee.header import RunHeader, run_header
from dhstat.lee.inputs import SearchInputs, search_inputs
from dhstat.lee.model import NUISANCE_MODEL, ToyModel, build_toy_model, observed_max
from dhstat.lee.preparation import prepare
from dhstat.lee.results import LeeResult, global_significance, p_global_independent, summarise
from dhstat.lee.settings import LeeSettings
from dhstat.lee.toys import BatchResult, run_batch, run_toys, shard_batches
from dhstat.lee.ztables import Z_BELOW, Z_CAP, ZTable, build_ztable, poisson_pvalue

__all__ = [
    "NUISANCE_MODEL",
    "Z_BELOW",
    "Z_CAP",
    "BatchResult",
    "CellInputs",
    "Graph",
    "GrossVitells",
    "LeeResult",
    "LeeSettings",
    "RunHeader",
    "SearchInputs",
    "ToyModel",
    "ZTable",
    "build_toy_model",
    "build_ztable",
    "checkpoint_path",
    "euler_characteristic",
    "expected_euler",
    "fit_gross_vitells",
    "global_significance",
    "inject_signal",
    "lee_document",
    "merge_parts",
    "observed_max",
    "p_global_independent",
    "part_document",
    "poisson_pvalue",
    "prepare",
    "run_batch",
    "run_checkpointed",
    "run_header",
    "run_toys",
    "search_inputs",
    "shard_batches",
    "summarise",
    "window_graph",
]


def __dir__() -> list[str]:
    return __all__
