"""Generator cuts: the event-by-event truth-level cuts and the lab-frame completion of events.

The cuts (``[simulation.generator_cuts]``) are looser than the selection (analysis.md section 7)
by more than the resolution; with ``skim`` the generators apply them while generating
(:func:`finish`), so rejected events are never completed or reconstructed.

Example:
    >>> from dhstat.config import load
    >>> from dhstat.simulation.truth import TruthEvents
    >>> p = np.array([[[5.0, 3.0, 0.0, 4.0], [5.0, -3.0, 0.0, -4.0]]])
    >>> truth = TruthEvents(p, np.array([[13, -13]], np.int32))
    >>> generator_cut_mask(truth, load()).tolist()
    [False]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.physics import kinematics as kin
from dhstat.physics.constants import PDG_ELECTRON, PDG_MUON
from dhstat.simulation.frames import Frames
from dhstat.simulation.settings import GeneratorSettings
from dhstat.simulation.truth import TruthEvents

__all__ = ["cut_mask", "finish", "generator_cut_mask"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def generator_cut_mask(truth: TruthEvents, cfg: Mapping[str, Any]) -> NDArray[np.bool_]:
    """Events passing the event-by-event generator cuts (all true when they are disabled).

    Both charged leptons in slots 0, 1 (muons, or an electron and a muon in tau tau e mu events)
    must have lab polar angles in ``[theta_min, theta_max]`` and momenta above ``p_min``
    (muons) or ``electron_p_min`` (electrons); for ``eemumu`` also a c.m. transverse momentum
    of the dimuon above ``eemumu_pt_min``. These are looser than the selection (analysis.md
    section 7) by more than the resolution.
    """
    return cut_mask(truth, GeneratorSettings.from_config(cfg))


def cut_mask(truth: TruthEvents, settings: GeneratorSettings) -> NDArray[np.bool_]:
    """As :func:`generator_cut_mask`, with the settings read once."""
    cuts = settings.cuts
    n = len(truth)
    if not cuts.enabled:
        return np.ones(n, bool)
    lep = truth.p[:, :2]
    apdg = np.abs(truth.pdg[:, :2])
    theta = np.degrees(kin.polar_angle(lep))
    mask = np.all((theta >= cuts.theta_min) & (theta <= cuts.theta_max), axis=1)
    p_min = np.where(apdg == PDG_ELECTRON, cuts.electron_p_min, cuts.p_min)
    mask &= np.all(kin.momentum(lep) >= p_min, axis=1)
    mask &= np.all((apdg == PDG_MUON) | (apdg == PDG_ELECTRON), axis=1)
    if truth.pdg.shape[1] == 4 and np.any(np.abs(truth.pdg[:, 2]) == PDG_ELECTRON):
        beta = settings.beams.cm_velocity()
        mask &= kin.pt_cm(lep[:, 0], lep[:, 1], beta) >= cuts.eemumu_pt_min
    return np.asarray(mask, dtype=np.bool_)


def finish(
    frames: Frames,
    leptons: Array,
    others: Array,
    pdg: NDArray[np.int32],
    settings: GeneratorSettings,
    *,
    skim: bool,
    window: bool,
) -> TruthEvents:
    """Lab-frame truth events from c.m. slots: the two leptons (slots 0, 1), then the others.

    With ``skim``, only events passing :func:`generator_cut_mask` (and, if ``window``, i.e.
    the leptons are the only charged particles, the truth-level image of the reconstruction
    skim, ``settings.lepton_window``) are kept, and the other slots are boosted to the
    laboratory for them only.
    """
    if not skim:
        return TruthEvents(p=frames.to_lab(np.concatenate([leptons, others], axis=1)), pdg=pdg)
    lab = frames.to_lab(leptons)
    mask = cut_mask(TruthEvents(p=lab, pdg=pdg), settings)
    bounds = settings.lepton_window if window else None
    if bounds is not None:
        cos = lab[..., 3] / np.maximum(kin.momentum(lab), 1e-300)
        mask &= np.all((cos >= bounds[0]) & (cos <= bounds[1]), axis=1)
    keep = np.flatnonzero(mask)
    kept = frames.take(keep)
    p = np.concatenate([lab[keep], kept.to_lab(others[keep])], axis=1)
    return TruthEvents(p=p, pdg=pdg[keep])
