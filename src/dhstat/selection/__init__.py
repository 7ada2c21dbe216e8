"""Event selection: the paper's cuts with a cutflow, derived variables and control samples.

The selection turns events in the ntuple schema (docs/internals.md) into three selected samples:

* ``search``: the dimuon sample the windows count (analysis.md section 7, in this order):
  ``trigger`` (flag ``trg_pass``), ``impact_parameters`` (>= 2 tracks with ``|dr|``, ``|dz|``
  below the cuts; only those tracks count from here on), ``two_tracks`` (exactly two such tracks,
  opposite charges), ``muon_id`` (both identified as muons), ``track_theta`` (both in 37-120 deg),
  ``delta_phi`` (> 90 deg), ``cluster_energy`` (each muon's ECL cluster < 1.5 GeV),
  ``recoil_theta`` (recoil momentum in 32-125 deg), ``photon_energy`` (total photon energy
  < 0.4 GeV), ``photon_recoil`` (no photon within 15 deg of the recoil), ``pt_cm`` (dimuon c.m.
  transverse momentum > 0.1 GeV/c).
* ``control_mumugamma``: the same, with the two photon vetoes replaced by ``photon_control``
  (>= 1 photon above 1 GeV in the ECL barrel) [paper].
* ``control_emu``: the same, with ``muon_id`` replaced by ``emu_id`` (one identified muon and one
  identified electron that is not a muon); the cluster cut then applies to the muon only [paper].

Every cut value comes from the ``[selection]`` configuration table, read once into
:class:`SelectionSettings`. Events whose inputs to a cut are not finite (NaN, inf) fail that cut
and are counted in the cutflow's ``nonfinite`` column; they are never selected. Derived variables
per selected event: ``mmumu2``, ``mrecoil2`` [GeV^2], ``ceta`` = |cos eta|, ``p_recoil`` [GeV/c],
``theta_recoil``, ``phi_recoil`` [rad], ``pt_cm`` [GeV/c], ``egamma_total`` [GeV] and ``weight``.
Everything is vectorised numpy (no loop over events), so :func:`select` can run for every point
of the signal mass grid.

Modules: :mod:`.settings` (typed settings), :mod:`.cutflow` (samples, cuts, cutflow, result),
:mod:`.branches` (reading the input branches), :mod:`.tracks` (track and pair cuts),
:mod:`.photons` (photon cuts), :mod:`.variables` (recoil, c.m. transverse momentum, derived
variables), :mod:`.cuts` (:func:`select`), :mod:`.layouts` (analysts' ntuple layouts: flat
per-daughter tracks, event-level photons), :mod:`.examples` (hand-made events),
:mod:`.files` (:func:`select_files`), :mod:`.selected` (the selected-events file) and
:mod:`.documents` (the ``cutflow`` and ``macroregions`` documents).

Example:
    >>> from dhstat.config import load
    >>> cfg = load()
    >>> events = example_events()
    >>> result = select(events, cfg, process="mumu")
    >>> result.cutflow.raw["search"][-1], len(result.search["mmumu2"])
    (1, 1)
    >>> round(float(result.search["mmumu2"][0] + result.search["mrecoil2"][0]), 3) > 0
    True
"""

from __future__ import annotations

from dhstat.processes import PROCESSES
from dhstat.selection.branches import BRANCHES
from dhstat.selection.cutflow import CUTS, SAMPLES, Cutflow, Selection
from dhstat.selection.cuts import select
from dhstat.selection.documents import (
    MacroregionSettings,
    cutflow_document,
    macroregions_document,
)
from dhstat.selection.examples import example_events, example_metadata
from dhstat.selection.files import SelectionOutput, select_files
from dhstat.selection.selected import read_selected, selected_processes, write_selected
from dhstat.selection.settings import SelectionSettings
from dhstat.selection.variables import VARIABLES

__all__ = [
    "BRANCHES",
    "CUTS",
    "PROCESSES",
    "SAMPLES",
    "VARIABLES",
    "Cutflow",
    "MacroregionSettings",
    "Selection",
    "SelectionOutput",
    "SelectionSettings",
    "cutflow_document",
    "example_events",
    "example_metadata",
    "macroregions_document",
    "read_selected",
    "select",
    "select_files",
    "selected_processes",
    "write_selected",
]


def __dir__() -> list[str]:
    return __all__
