"""One pyhf workspace per search window: build, validate, save, load, index, patchset export.

The per-window workspace is dhstat's central artefact: every number dhstat reports for a window can
be recomputed from that window's JSON alone, with pyhf and nothing else. Its structure is fixed:

- one channel ``window`` with one bin, observation ``[N]``;
- sample ``signal`` with nominal ``[eps * L]`` and a ``normfactor`` ``sigma`` (the POI: the cross
  section in fb, bounds ``[0, sigma_max]`` in the measurement ``measurement``), histosys
  ``syst_detector``, ``syst_mass_resolution``, ``syst_window_offset``, ``mcstat_signal``;
- one sample per background process of the counts, named and ordered as the counts' ``processes``
  (the paper's ``mumu``, ``tautau``, ``eemumu`` by default; a ``[[samples]]`` run's own names
  otherwise), so reinterpretation sees the composition, each with histosys ``syst_detector`` (the
  same parameter as on the signal: correlated), ``syst_ceta`` and staterror ``mcstat_background``.

Names, meanings and values of the systematics are documented in :mod:`dhstat.systematics`.

Zero backgrounds: every window keeps all background samples, also those with a zero yield (their
histosys variations are then zero too and change nothing), so all windows have the same samples.
pyhf's staterror divides by the window's total background, so ``mcstat_background`` is a
staterror only when the window's total background and its total MC error are both positive. A
window without any simulated background event does not have a background known to be zero: it is
known to be below about one MC event. Given zero MC events of weight w, the background's
posterior (flat prior) is exponential with mean and standard deviation w; such a window's first
background sample gets the nominal w and a symmetric histosys ``mcstat_background`` of +-w (the
moment-matched Gaussian, zero-truncated by the statistics engine), where w is the largest mean MC
event weight of the processes (sum w^2 / sum w over all windows). A background of exactly zero
would make any observed event infinitely significant.

A set of windows is written as ``DIR/index.json`` (schema ``workspace-index``: the windows, their
ellipses and C_eta cuts, file names, SHA-256 of every file, provenance) plus ``DIR/w<id>.json``.
For HEPData it can be exported as one background-only workspace plus a pyhf patchset whose patches
are labelled by ``["M_Aprime", "M_hprime"]``, and materialised back.

Modules: :mod:`~dhstat.workspace.layout` (fixed names, file content),
:mod:`~dhstat.workspace.records` (:class:`WindowInput`, :class:`WorkspaceSet`),
:mod:`~dhstat.workspace.settings` (:class:`WorkspaceSettings`),
:mod:`~dhstat.workspace.inputs` (counts + windows), :mod:`~dhstat.workspace.construction`
(:func:`build`, :func:`build_set`), :mod:`~dhstat.workspace.validation` (pyhf schemas),
:mod:`~dhstat.workspace.files` (index, directory, archive), :mod:`~dhstat.workspace.patchsets`.

Example:
    >>> from dhstat import config, systematics
    >>> cfg = config.load()
    >>> window = WindowInput(
    ...     id=7, ma=5.0, mh=2.0, center=(4.0, 25.0), axes=(0.5, 0.05), angle=0.1,
    ...     ceta_cut=0.9, n_observed=3,
    ...     background={"mumu": (2.0, 0.2), "tautau": (0.5, 0.1), "eemumu": (0.0, 0.0)},
    ...     efficiency=0.25, efficiency_error=0.005)
    >>> rules = systematics.rules_from_config(cfg)
    >>> spec = build(window, systematics.evaluate(rules, 5.0, 2.0), luminosity_fb=8.34,
    ...              sigma_max=100.0)
    >>> validate(spec)
    >>> [sample["name"] for sample in spec["channels"][0]["samples"]]
    ['signal', 'mumu', 'tautau', 'eemumu']
    >>> spec["channels"][0]["samples"][0]["data"], spec["observations"][0]["data"]
    ([2.085], [3])
"""

from __future__ import annotations

from dhstat.workspace.construction import build, build_set, empty_background_error
from dhstat.workspace.files import archive, load, read_set, save_set
from dhstat.workspace.inputs import join_inputs, read_inputs
from dhstat.workspace.layout import BACKGROUNDS, CHANNEL, INDEX, LABELS, MEASUREMENT, SIGNAL
from dhstat.workspace.patchsets import from_patchset, to_patchset
from dhstat.workspace.records import WindowInput, WorkspaceSet
from dhstat.workspace.settings import WorkspaceSettings, sigma_max
from dhstat.workspace.validation import validate, validate_patchset

__all__ = [
    "BACKGROUNDS",
    "CHANNEL",
    "INDEX",
    "LABELS",
    "MEASUREMENT",
    "SIGNAL",
    "WindowInput",
    "WorkspaceSet",
    "WorkspaceSettings",
    "archive",
    "build",
    "build_set",
    "empty_background_error",
    "from_patchset",
    "join_inputs",
    "load",
    "read_inputs",
    "read_set",
    "save_set",
    "sigma_max",
    "to_patchset",
    "validate",
    "validate_patchset",
]


def __dir__() -> list[str]:
    return __all__
