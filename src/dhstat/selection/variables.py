"""Derived variables: the recoil, the c.m. transverse momentum and the stored :data:`VARIABLES`.

The recoil four-vector is the nominal beams minus the pair; ``recoil_theta`` and ``pt_cm`` cut on
it and on the pair's transverse momentum in the c.m. frame. Per selected event:
``mmumu2``, ``mrecoil2`` [GeV^2], ``ceta`` = |cos eta| (helicity angle of the mu-), ``p_recoil``
[GeV/c], ``theta_recoil``, ``phi_recoil`` [rad], ``pt_cm`` [GeV/c], ``egamma_total`` [GeV] and
``weight``.

Example:
    >>> VARIABLES[:2]
    ('mmumu2', 'mrecoil2')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics
from dhstat.selection.settings import SelectionSettings
from dhstat.selection.tracks import Masks, PairMomenta, Pairs

__all__ = ["VARIABLES", "Candidates", "Recoil", "derived_variables", "pt_cm_cut", "recoil_cut"]

Int = NDArray[np.int64]
Float = NDArray[np.float64]

#: Derived variables stored for each selected event.
VARIABLES = (
    "mmumu2",
    "mrecoil2",
    "ceta",
    "p_recoil",
    "theta_recoil",
    "phi_recoil",
    "pt_cm",
    "egamma_total",
    "weight",
)


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Recoil:
    """The system recoiling against each pair.

    Attributes:
        beams: Four-vector of the two nominal beams together.
        vector: Recoil four-vector per pair (beams minus the pair).
        theta: Its polar angle [rad].
        p: Its momentum [GeV/c].
    """

    beams: Float
    vector: Float
    theta: Float
    p: Float


def recoil_cut(
    momenta: PairMomenta, pairs: Pairs, settings: SelectionSettings
) -> tuple[Recoil, Masks]:
    """The recoil of each pair and ``recoil_theta`` (its polar angle inside the range)."""
    beams = settings.beams.total()
    with np.errstate(invalid="ignore"):
        visible = momenta.first + momenta.second
        recoil = beams - visible
        theta_r = kinematics.polar_angle(recoil)
        p_r = kinematics.momentum(recoil)
    rmin = np.radians(settings.recoil_theta_min_deg)
    rmax = np.radians(settings.recoil_theta_max_deg)
    recoil_theta = pairs.scatter((theta_r >= rmin) & (theta_r <= rmax), False)
    result = Recoil(beams=beams, vector=recoil, theta=theta_r, p=p_r)
    return result, {"recoil_theta": (recoil_theta, momenta.bad)}


def pt_cm_cut(
    momenta: PairMomenta, pairs: Pairs, settings: SelectionSettings
) -> tuple[Float, Masks]:
    """The pair's transverse momentum in the c.m. frame, and ``pt_cm`` (above the cut)."""
    beta = settings.beams.cm_velocity()
    with np.errstate(invalid="ignore"):
        pt = kinematics.pt_cm(momenta.first, momenta.second, beta)
    return pt, {"pt_cm": (pairs.scatter(pt > settings.pt_cm_min, False), momenta.bad)}


@dataclass(frozen=True, slots=True)
class Candidates:
    """What the derived variables of the selected events are computed from.

    Attributes:
        pairs: The track pairs.
        momenta: Their four-vectors.
        recoil: Their recoil.
        pt: Their c.m. transverse momentum.
        egamma_total: Per event, the total photon energy.
        weight: Per event, the weight.
    """

    pairs: Pairs
    momenta: PairMomenta
    recoil: Recoil
    pt: Float
    egamma_total: Float
    weight: Float


def derived_variables(c: Candidates, selected: Int) -> dict[str, NDArray[Any]]:
    """:data:`VARIABLES` of the selected events ``selected`` (event indices, all with a pair)."""
    k = c.pairs.position[selected]
    q1 = c.momenta.first[k]
    q2 = c.momenta.second[k]
    minus_first = c.pairs.charge[c.pairs.first[k]] < 0
    mu_minus = np.where(minus_first[:, None], q1, q2)
    mu_plus = np.where(minus_first[:, None], q2, q1)
    recoil = c.recoil
    return {
        "mmumu2": kinematics.mass2(q1 + q2),
        "mrecoil2": kinematics.mass2(recoil.vector[k]),
        "ceta": np.abs(kinematics.helicity_cos(mu_minus, mu_plus, recoil.beams)),
        "p_recoil": recoil.p[k],
        "theta_recoil": recoil.theta[k],
        "phi_recoil": kinematics.azimuth(recoil.vector[k]),
        "pt_cm": c.pt[k],
        "egamma_total": c.egamma_total[selected],
        "weight": c.weight[selected],
    }
