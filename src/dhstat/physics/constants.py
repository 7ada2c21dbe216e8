"""Physical constants and units used throughout dhstat.

The analysis configuration (``[physics]``) is the source of the values used in a run; the constants
here are the defaults (the same numbers) for code paths without a configuration, plus particle
identifiers. Units: GeV, GeV^2, fb, fb^-1, radians.

Example:
    >>> round(GEV2_TO_FB * 1e-11, 6)
    3.893794
    >>> round(1 / ALPHA, 6)
    137.035999
"""

from __future__ import annotations

__all__ = [
    "ALPHA",
    "ELECTRON_MASS",
    "GEV2_TO_FB",
    "MUON_MASS",
    "PDG_ELECTRON",
    "PDG_INVISIBLE",
    "PDG_MUON",
    "PDG_NEUTRINO",
    "PDG_PHOTON",
    "TAU_MASS",
]


def __dir__() -> list[str]:
    return __all__


#: Fine-structure constant alpha(0) (CODATA 2018).
ALPHA = 1 / 137.035999
#: Electron mass [GeV] (PDG).
ELECTRON_MASS = 0.51099895e-3
#: Muon mass [GeV] (PDG).
MUON_MASS = 0.1056584
#: Tau mass [GeV] (PDG).
TAU_MASS = 1.77686
#: 1 GeV^-2 in fb: (hbar c)^2 = 0.3893794 mb GeV^2.
GEV2_TO_FB = 3.893794e11

#: PDG Monte Carlo particle numbers used in truth records (sign = charge convention of the PDG:
#: 11 is e-, 13 is mu-, -11 e+, -13 mu+).
PDG_ELECTRON = 11
PDG_MUON = 13
PDG_NEUTRINO = 12
PDG_PHOTON = 22
#: Any invisible particle (neutrinos, h'): the PDG number is irrelevant to the detector.
PDG_INVISIBLE = 0
