"""Truth-level event generators (kept for one release: import from the modules below instead).

The generators now live in one module per process: :mod:`~dhstat.simulation.signal`,
:mod:`~dhstat.simulation.mumu`, :mod:`~dhstat.simulation.tautau`,
:mod:`~dhstat.simulation.eemumu`; the truth record in :mod:`~dhstat.simulation.truth`, the frames
in :mod:`~dhstat.simulation.frames`, the generator cuts in :mod:`~dhstat.simulation.cuts` and the
normalisation and dispatch in :mod:`~dhstat.simulation.backgrounds`. This module re-exports their
public names under the old ones.

Example:
    >>> from dhstat.simulation import generators, signal
    >>> generators.generate_signal is signal.generate_signal
    True
"""

from __future__ import annotations

from dhstat.processes import BACKGROUNDS
from dhstat.simulation.backgrounds import ProcessInfo, generate, process_info
from dhstat.simulation.cuts import generator_cut_mask
from dhstat.simulation.eemumu import generate_eemumu
from dhstat.simulation.frames import cm_to_lab
from dhstat.simulation.mumu import generate_mumu
from dhstat.simulation.signal import generate_signal
from dhstat.simulation.tautau import TAUTAU_FINAL_STATES, generate_tautau, tautau_branching
from dhstat.simulation.truth import PDG_DARK_HIGGS, TruthEvents

__all__ = [
    "BACKGROUNDS",
    "PDG_DARK_HIGGS",
    "TAUTAU_FINAL_STATES",
    "ProcessInfo",
    "TruthEvents",
    "cm_to_lab",
    "generate",
    "generate_eemumu",
    "generate_mumu",
    "generate_signal",
    "generate_tautau",
    "generator_cut_mask",
    "process_info",
    "tautau_branching",
]


def __dir__() -> list[str]:
    return __all__
