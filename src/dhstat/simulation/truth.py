"""The truth record of generated events: padded lab four-vectors and PDG codes.

Every generator returns :class:`TruthEvents`: the lab-frame four-vectors of the final-state
particles of each event, padded to a fixed number of slots, with PDG codes (0 = empty slot). This is
the form an LHE file is converted into for reinterpretation, and what
:func:`dhstat.simulation.detector.reconstruct` takes.

Example:
    >>> import numpy as np
    >>> truth = TruthEvents(np.zeros((3, 2, 4)), np.array([[13, -13]] * 3, np.int32))
    >>> len(truth.select(np.array([True, False, True])))
    2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["PDG_DARK_HIGGS", "TruthEvents"]

Array = NDArray[np.float64]

#: PDG-style code of the invisible dark Higgs h' in truth records (any code other than
#: +-11, +-13, 22 and 0 is invisible to the detector).
PDG_DARK_HIGGS = 9000025


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class TruthEvents:
    """Final-state particles of n events at truth level.

    Attributes:
        p: Lab-frame four-vectors ``(E, px, py, pz)`` [GeV], shape ``(n, k, 4)``, float64.
        pdg: PDG codes, shape ``(n, k)``, int32: 11/-11 e-/e+, 13/-13 mu-/mu+, 22 photon; 0 marks
            an empty slot (its four-vector is ignored); any other code is invisible (neutrinos,
            h'). Convert an LHE event by putting its final-state particles (status 1) in order.
        extra: Per-event arrays (length n) copied to the reconstructed events, e.g. the truth
            masses ``truth_ma``, ``truth_mh`` of signal events.
    """

    p: Array
    pdg: NDArray[np.int32]
    extra: Mapping[str, NDArray[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.p.shape[0])

    def select(self, mask: NDArray[np.bool_]) -> TruthEvents:
        """The events where ``mask`` is true."""
        return TruthEvents(
            self.p[mask], self.pdg[mask], {k: v[mask] for k, v in self.extra.items()}
        )
