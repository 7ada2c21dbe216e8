"""The three selected samples, their cuts in order, the cutflow and the result of a selection.

Example:
    >>> CUTS["control_emu"][3]
    'emu_id'
    >>> (Cutflow.empty() + Cutflow.empty()).n_input
    0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["CUTS", "SAMPLES", "Cutflow", "Selection", "apply_cuts"]

Bool = NDArray[np.bool_]
Float = NDArray[np.float64]

#: The three samples selected in one pass.
SAMPLES = ("search", "control_mumugamma", "control_emu")

#: Cuts of each sample, in the order they are applied.
CUTS: Mapping[str, tuple[str, ...]] = {
    "search": (
        "trigger",
        "impact_parameters",
        "two_tracks",
        "muon_id",
        "track_theta",
        "delta_phi",
        "cluster_energy",
        "recoil_theta",
        "photon_energy",
        "photon_recoil",
        "pt_cm",
    ),
    "control_mumugamma": (
        "trigger",
        "impact_parameters",
        "two_tracks",
        "muon_id",
        "track_theta",
        "delta_phi",
        "cluster_energy",
        "recoil_theta",
        "photon_control",
        "pt_cm",
    ),
    "control_emu": (
        "trigger",
        "impact_parameters",
        "two_tracks",
        "emu_id",
        "track_theta",
        "delta_phi",
        "cluster_energy",
        "recoil_theta",
        "photon_energy",
        "photon_recoil",
        "pt_cm",
    ),
}


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Cutflow:
    """Raw and weighted event counts after each cut, per selected sample; cutflows add.

    Attributes:
        n_input: Events given to the selection.
        weighted_input: Sum of their (finite) weights.
        raw: Per sample, events remaining after each cut of :data:`CUTS`.
        weighted: Per sample, sum of weights remaining after each cut.
        nonfinite: Per sample, events removed at each cut because an input was NaN or infinite.
    """

    n_input: int
    weighted_input: float
    raw: Mapping[str, tuple[int, ...]]
    weighted: Mapping[str, tuple[float, ...]]
    nonfinite: Mapping[str, tuple[int, ...]]

    @classmethod
    def empty(cls) -> Cutflow:
        """A cutflow of no events (the neutral element of ``+``).

        Example:
            >>> Cutflow.empty().raw["search"][0]
            0
        """
        return cls(
            0,
            0.0,
            {s: (0,) * len(CUTS[s]) for s in SAMPLES},
            {s: (0.0,) * len(CUTS[s]) for s in SAMPLES},
            {s: (0,) * len(CUTS[s]) for s in SAMPLES},
        )

    def __add__(self, other: Cutflow) -> Cutflow:
        if not isinstance(other, Cutflow):
            return NotImplemented

        def add(a: Mapping[str, tuple[Any, ...]], b: Mapping[str, tuple[Any, ...]]) -> Any:
            return {s: tuple(x + y for x, y in zip(a[s], b[s], strict=True)) for s in SAMPLES}

        return Cutflow(
            self.n_input + other.n_input,
            self.weighted_input + other.weighted_input,
            add(self.raw, other.raw),
            add(self.weighted, other.weighted),
            add(self.nonfinite, other.nonfinite),
        )

    def to_dict(self) -> dict[str, Any]:
        """The cutflow as the JSON fragment of the ``cutflow`` schema (one process).

        Example:
            >>> Cutflow.empty().to_dict()["samples"]["search"][0]
            {'cut': 'trigger', 'raw': 0, 'weighted': 0.0, 'nonfinite': 0}
        """
        return {
            "input": {"raw": self.n_input, "weighted": self.weighted_input},
            "samples": {
                s: [
                    {"cut": c, "raw": r, "weighted": w, "nonfinite": n}
                    for c, r, w, n in zip(
                        CUTS[s], self.raw[s], self.weighted[s], self.nonfinite[s], strict=True
                    )
                ]
                for s in SAMPLES
            },
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Cutflow:
        """Inverse of :meth:`to_dict`.

        Example:
            >>> flow = Cutflow.empty()
            >>> Cutflow.from_dict(flow.to_dict()) == flow
            True
        """
        samples = document["samples"]
        return cls(
            int(document["input"]["raw"]),
            float(document["input"]["weighted"]),
            {s: tuple(int(row["raw"]) for row in samples[s]) for s in SAMPLES},
            {s: tuple(float(row["weighted"]) for row in samples[s]) for s in SAMPLES},
            {s: tuple(int(row["nonfinite"]) for row in samples[s]) for s in SAMPLES},
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """The selected events of one call of :func:`dhstat.selection.select`.

    Attributes:
        search: The search sample: :data:`dhstat.selection.VARIABLES` -> flat arrays, one entry
            per event.
        control_mumugamma: The mu mu gamma control sample (same variables).
        control_emu: The e mu control sample (same variables).
        cutflow: Counts after each cut.
        process: The process the events belong to.
    """

    search: Mapping[str, NDArray[Any]]
    control_mumugamma: Mapping[str, NDArray[Any]]
    control_emu: Mapping[str, NDArray[Any]]
    cutflow: Cutflow
    process: str = field(default="")

    def sample(self, name: str) -> Mapping[str, NDArray[Any]]:
        """The sample called ``name`` (one of :data:`SAMPLES`)."""
        if name not in SAMPLES:
            msg = f"unknown sample {name!r}; expected one of {SAMPLES}"
            raise KeyError(msg)
        result: Mapping[str, NDArray[Any]] = getattr(self, name)
        return result


def apply_cuts(
    names: tuple[str, ...], masks: Mapping[str, tuple[Bool, Bool]], weight: Float
) -> tuple[Bool, list[int], list[float], list[int]]:
    """Apply ordered cut masks ``name -> (pass, nonfinite)`` to all input events.

    An event survives a cut if it passes it and its inputs to it are finite.

    Returns:
        The surviving events, and after each cut: events left, their summed weight, and the
        events removed because an input was not finite.

    Example:
        >>> yes = np.array([True, True, False])
        >>> apply_cuts(("a",), {"a": (yes, np.array([True, False, False]))}, np.ones(3))[1:]
        ([1], [1.0], [1])
    """
    alive = np.ones(len(weight), dtype=bool)
    raw: list[int] = []
    weighted: list[float] = []
    nonfinite: list[int] = []
    for name in names:
        passed, bad = masks[name]
        nonfinite.append(int(np.count_nonzero(alive & bad)))
        alive &= passed & ~bad
        raw.append(int(np.count_nonzero(alive)))
        weighted.append(float(np.sum(weight[alive])))
    return alive, raw, weighted, nonfinite
