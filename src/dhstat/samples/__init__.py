"""The analyst's own ntuples: samples declared in ``[[samples]]``, read in their layouts, selected.

The built-in fast simulation is one source of events; ``[[samples]]`` in the configuration is
the other. Each sample names its ``kind`` (``data``, ``background``, ``signal``), its ``files``
(paths or globs, relative to the configuration file's folder) and ``tree``, a ``weight`` (a
number, a branch, or an arithmetic expression of branches), a normalisation to the
``[dataset]`` luminosity (``luminosity_fb`` of the MC sample, or ``cross_section_fb`` with
``generated_events``, or none when the weights are already normalised), for signal the masses
``ma``, ``mh`` (numbers or branches), and a branch map overriding ``[selection] branches``, which
also chooses the layout (:mod:`dhstat.selection.layouts`: jagged or flat per-daughter tracks,
jagged or event-level photons). The files need no dhstat metadata.

Modules: :mod:`.declaration` (the typed, checked samples), :mod:`.expressions` (weight
expressions), :mod:`.resolve` (globs, layouts, every file's tree and branches checked),
:mod:`.selecting` (chunked selection over the executor), :mod:`.signal` (the selected signal
points in the selected-events file; :func:`read_signal_points` for the windows stage) and
:mod:`.table` (the samples table ``dhstat simulate`` writes).

Example:
    >>> from dhstat.config import loads
    >>> cfg = loads('''
    ... [[samples]]
    ... name = "sig"
    ... kind = "signal"
    ... files = ["signal_*.root"]
    ... ma = "mA"
    ... mh = 1.0
    ... ''')
    >>> declare(cfg)[0].ma
    'mA'
"""

from __future__ import annotations

from dhstat.samples.declaration import CANONICAL, Sample, declare
from dhstat.samples.expressions import evaluate, expression_branches
from dhstat.samples.resolve import ResolvedSample, resolve, resolve_config
from dhstat.samples.selecting import SamplesSelection, SelectedPoint, select_samples
from dhstat.samples.signal import SIGNAL_TREE, read_signal_points, write_selected_samples
from dhstat.samples.table import samples_toml, simulation_samples, write_samples_table

__all__ = [
    "CANONICAL",
    "SIGNAL_TREE",
    "ResolvedSample",
    "Sample",
    "SamplesSelection",
    "SelectedPoint",
    "declare",
    "evaluate",
    "expression_branches",
    "read_signal_points",
    "resolve",
    "resolve_config",
    "samples_toml",
    "select_samples",
    "simulation_samples",
    "write_samples_table",
    "write_selected_samples",
]


def __dir__() -> list[str]:
    return __all__
