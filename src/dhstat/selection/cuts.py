"""The selection itself: cut masks over all events, the cutflow and the selected samples.

:func:`select` runs the steps in order: normalise the input (:mod:`.branches`), trigger, track
and pair cuts (:mod:`.tracks`), the recoil (:mod:`.variables`), photon cuts (:mod:`.photons`) and
the c.m. transverse momentum; each step gives every event a ``(pass, nonfinite)`` mask per cut.
Each sample of :data:`dhstat.selection.SAMPLES` then applies its cuts of
:data:`dhstat.selection.CUTS` in order (:func:`.cutflow.apply_cuts`) and keeps the derived
variables of the surviving events. Everything is vectorised numpy (no loop over events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.selection.branches import Events, read_events
from dhstat.selection.cutflow import CUTS, SAMPLES, Cutflow, Selection, apply_cuts
from dhstat.selection.photons import photon_cuts
from dhstat.selection.settings import SelectionSettings
from dhstat.selection.tracks import (
    Masks,
    angle_cuts,
    cluster_energy_cut,
    identification_cuts,
    track_cuts,
)
from dhstat.selection.variables import Candidates, derived_variables, pt_cm_cut, recoil_cut

__all__ = ["cut_masks", "select", "select_events"]


def __dir__() -> list[str]:
    return __all__


def select(
    events: Mapping[str, Any], cfg: SelectionSettings | Mapping[str, Any], *, process: str
) -> Selection:
    """Apply the selection of the paper to events in the ntuple schema.

    Args:
        events: Canonical branch name -> array (jagged branches as awkward arrays, lists of
            arrays, or flat numpy arrays with the ``ntrk``/``ngam`` counters).
        cfg: The selection settings, or the analysis configuration (tables ``selection``,
            ``beams``, ``physics``) to build them from.
        process: Name of the process the events belong to (kept in the result).

    Returns:
        The three selected samples with their derived variables and the cutflow.

    Raises:
        InputError: a branch is missing or has the wrong shape.

    Example:
        >>> from dhstat.config import load
        >>> from dhstat.selection.examples import example_events
        >>> out = select(example_events(), load(), process="signal")
        >>> out.cutflow.raw["search"]
        (3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1)
    """
    return select_events(read_events(events), cfg, process=process)


def select_events(
    events: Events, cfg: SelectionSettings | Mapping[str, Any], *, process: str
) -> Selection:
    """:func:`select` of events already normalised (any layout of :mod:`.layouts`).

    Example:
        >>> from dhstat.config import load
        >>> from dhstat.selection.branches import read_events
        >>> from dhstat.selection.examples import example_events
        >>> select_events(read_events(example_events()), load(), process="mumu").cutflow.n_input
        3
    """
    settings = SelectionSettings.of(cfg)
    masks, candidates = cut_masks(events, settings)
    return _selection(events, masks, candidates, process)


def cut_masks(events: Events, settings: SelectionSettings) -> tuple[Masks, Candidates]:
    """Every cut's ``(pass, nonfinite)`` mask over the events, and the candidates' quantities."""
    n = events.n
    good_weight = np.isfinite(events.weight)
    trigger = events.trg_pass if settings.require_trigger else ~np.zeros(n, dtype=bool)
    masks: Masks = {"trigger": (trigger, ~good_weight)}
    pairs, step = track_cuts(events, settings)
    masks.update(step)
    identification, step = identification_cuts(events, pairs, settings)
    masks.update(step)
    momenta, step = angle_cuts(events, pairs, identification, settings)
    masks.update(step)
    masks.update(cluster_energy_cut(events, pairs, identification, settings))
    recoil, step = recoil_cut(momenta, pairs, settings)
    masks.update(step)
    egamma_total, step = photon_cuts(events, pairs, recoil, settings)
    masks.update(step)
    pt, step = pt_cm_cut(momenta, pairs, settings)
    masks.update(step)
    candidates = Candidates(pairs, momenta, recoil, pt, egamma_total, events.weight)
    return masks, candidates


def _selection(events: Events, masks: Masks, candidates: Candidates, process: str) -> Selection:
    """Apply each sample's cuts in order: its cutflow and the variables of its events."""
    weight = events.weight
    raw: dict[str, tuple[int, ...]] = {}
    weighted: dict[str, tuple[float, ...]] = {}
    nonfinite: dict[str, tuple[int, ...]] = {}
    samples: dict[str, dict[str, NDArray[Any]]] = {}
    for sample in SAMPLES:
        alive, kept, sums, bad_counts = apply_cuts(CUTS[sample], masks, weight)
        raw[sample], weighted[sample], nonfinite[sample] = (
            tuple(kept),
            tuple(sums),
            tuple(bad_counts),
        )
        samples[sample] = derived_variables(candidates, np.flatnonzero(alive))
    flow = Cutflow(
        n_input=events.n,
        weighted_input=float(np.sum(weight[np.isfinite(weight)])),
        raw=raw,
        weighted=weighted,
        nonfinite=nonfinite,
    )
    return Selection(
        search=samples["search"],
        control_mumugamma=samples["control_mumugamma"],
        control_emu=samples["control_emu"],
        cutflow=flow,
        process=process,
    )
