"""Les Houches event files for reinterpretation: read (pylhe), boost to the Belle II lab frame, write.

A theorist's model enters dhstat as truth-level events in the Les Houches format (LHE), e.g. from
MadGraph. :func:`read` takes the final-state particles (status 1) of each event, brings them to the
Belle II laboratory frame and returns them as flat arrays (:class:`LHEEvents`), which
:func:`to_truth` hands to dhstat's detector simulation.

Frames. Generators write e+e- events in their own frame, usually the c.m. frame with the beams along
+-z. :func:`read` boosts every event to the rest frame of its incoming particles (status -1), rotates
it so that the incoming e- points along the e- (HER) beam direction of the Belle II c.m. frame, and
boosts it to the laboratory with the full three-vector ``Beams.cm_velocity()``. The events'
sqrt(s) must agree with the beams' to ``sqrt_s_tolerance`` (relative). Events written by
:func:`write` (c.m. frame, e- along +z, the MadGraph convention) read back to the same lab momenta.

Visibility. The fast detector simulates e, mu and photons. Final-state neutrinos, particles with
``|PDG id| >= 1000000`` (BSM numbering, e.g. MadGraph's dark-sector ids) and the ids listed in
``invisible_pdg`` are invisible (e.g. the h'). Any other final-state particle (hadrons, ...) is an
error, because the detector model cannot simulate it.

Malformed input (not LHE, a broken XML block, a particle line with missing or non-numeric fields, a
particle count that disagrees with the event header, non-finite momenta) raises one
:class:`dhstat.errors.InputError` naming the file and the event (0-based index in the file).

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> from dhstat import config
    >>> from dhstat.physics.beams import Beams
    >>> beams = Beams.from_config(config.load())
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "two.lhe"
    >>> p4 = np.array([[[5.3, 0, 2.0, 4.0], [3.0, 0, -2.0, 2.0], [2.3, 0, 0, -6.0]]])
    >>> truth = TruthEvents(p=p4, pdg=np.array([[13, -13, 35]], dtype=np.int32))
    >>> write(path, truth, beams=beams, frame="cm")
    >>> events = read(path, beams=beams, invisible_pdg=(35,))
    >>> events.n_events, events.pdg.tolist()
    (1, [13, -13, 35])
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.errors import InputError
from dhstat.jsonio import atomic_path
from dhstat.physics import kinematics
from dhstat.physics.beams import Beams
from dhstat.simulation.truth import TruthEvents

__all__ = ["VISIBLE_PDG", "LHEEvents", "read", "to_truth", "write"]

log = logging.getLogger(__name__)

Array = NDArray[np.float64]

#: |PDG id| of the particles the fast detector simulates.
VISIBLE_PDG = frozenset({11, 13, 22})
_NEUTRINOS = frozenset({12, 14, 16})


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class LHEEvents:
    """Final-state particles of LHE events in the Belle II laboratory frame (flat, CSR layout).

    Attributes:
        offsets: Event ``i`` owns particles ``offsets[i]:offsets[i + 1]``; length n_events + 1.
        pdg: PDG id per particle.
        p4: Lab four-momenta ``(E, px, py, pz)`` [GeV], shape (n_particles, 4).
        visible: Whether the detector sees the particle (e, mu, photon).
        weight: Event weight from the LHE event header (efficiencies are weighted by it).
        sqrt_s: Mean c.m. energy of the events as generated [GeV].
        source: The file read.
    """

    offsets: NDArray[np.int64]
    pdg: NDArray[np.int64]
    p4: Array
    visible: NDArray[np.bool_]
    weight: Array
    sqrt_s: float
    source: str

    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.offsets.size - 1)


def _rotation(a: Array, b: Array) -> Array:
    """The rotation matrix taking unit vector ``a`` to unit vector ``b`` (Rodrigues)."""
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-12:  # opposite: rotate by pi about any axis orthogonal to a
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return np.asarray(2 * np.outer(axis, axis) - np.eye(3), dtype=np.float64)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]], dtype=np.float64)
    return np.asarray(np.eye(3) + vx + vx @ vx / (1 + c), dtype=np.float64)


def _cm_electron_direction(beams: Beams) -> Array:
    """Unit vector of the e- (HER) beam in the c.m. frame."""
    her, _ = beams.momenta()
    her_cm = kinematics.boost(her, -beams.cm_velocity())
    direction = her_cm[1:]
    return np.asarray(direction / np.linalg.norm(direction), dtype=np.float64)


def _to_lab(
    p4: Array, incoming: Array, incoming_pdg: Sequence[int], beams: Beams
) -> tuple[Array, float]:
    """Boost/rotate one event's final state to the Belle II lab frame; returns (p4, sqrt_s)."""
    total = incoming.sum(axis=0)
    beta_event = total[1:] / total[0]
    rest = kinematics.boost(p4, -beta_event)
    incoming_rest = kinematics.boost(incoming, -beta_event)
    electron = [i for i, pdg in enumerate(incoming_pdg) if pdg == 11]
    reference = incoming_rest[electron[0] if electron else 0, 1:]
    if not electron:  # no incoming e-: the first incoming particle stands for the e- beam
        log.debug("no incoming e- in event; using the first incoming particle as the e- beam")
    norm = float(np.linalg.norm(reference))
    rotated = rest.copy()
    if norm > 0:
        rotation = _rotation(reference / norm, _cm_electron_direction(beams))
        rotated[:, 1:] = rest[:, 1:] @ rotation.T
    sqrt_s = math.sqrt(max(float(kinematics.mass2(total)), 0.0))
    return kinematics.boost(rotated, beams.cm_velocity()), sqrt_s


def _classify(pdg: int, invisible: frozenset[int]) -> bool | None:
    """True if visible, False if invisible, None if the detector cannot simulate it."""
    code = abs(pdg)
    if code in VISIBLE_PDG:
        return True
    if code in _NEUTRINOS or code >= 1_000_000 or code in invisible or pdg in invisible:
        return False
    return None


def read(
    path: str | os.PathLike[str],
    *,
    beams: Beams,
    invisible_pdg: Iterable[int] = (),
    max_events: int | None = None,
    sqrt_s_tolerance: float = 0.01,
) -> LHEEvents:
    """Read an LHE file (plain or gzipped) into lab-frame final-state particles.

    Args:
        path: The LHE file.
        beams: The beams (``Beams.from_config(cfg)``): the lab frame and sqrt(s).
        invisible_pdg: Extra PDG ids (e.g. the h' id of the model) that escape the detector.
        max_events: Read at most this many events.
        sqrt_s_tolerance: Largest relative difference between an event's sqrt(s) and the beams'.

    Raises:
        InputError: naming the file and the event index for malformed input (see module doc).
    """
    import pylhe  # local import: start-up time

    source = Path(path)
    if not source.is_file():
        raise InputError(source, "(file)", "an existing LHE file")
    invisible = frozenset(int(x) for x in invisible_pdg)
    beams_sqrt_s = beams.sqrt_s
    offsets = [0]
    pdgs: list[int] = []
    momenta: list[Array] = []
    visible: list[bool] = []
    weights: list[float] = []
    energies: list[float] = []
    index = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            lhe_file = pylhe.LHEFile.fromfile(str(source), with_attributes=False)
            iterator = iter(lhe_file.events)
        except (ValueError, OSError, EOFError) as error:
            raise InputError(
                source, "(header)", f"an LHE file with an <init> block ({error})"
            ) from None
        while max_events is None or index < max_events:
            try:
                event = next(iterator)
            except StopIteration:
                break
            except (ValueError, IndexError, TypeError) as error:
                raise InputError(
                    source, f"event {index}", f"a well-formed LHE event ({error})"
                ) from None
            _event(event, index, source, beams, invisible, beams_sqrt_s, sqrt_s_tolerance,
                   pdgs, momenta, visible, energies)  # fmt: skip
            weights.append(float(event.eventinfo.weight))
            offsets.append(len(pdgs))
            index += 1
        for warning in caught:
            if "Parse Error" in str(warning.message):
                raise InputError(
                    source, f"event {index}", f"well-formed LHE XML ({warning.message})"
                )
    if index == 0:
        raise InputError(source, "(events)", "at least one <event> block")
    p4 = np.asarray(momenta, dtype=np.float64).reshape(-1, 4)
    return LHEEvents(
        offsets=np.asarray(offsets, dtype=np.int64),
        pdg=np.asarray(pdgs, dtype=np.int64),
        p4=p4,
        visible=np.asarray(visible, dtype=bool),
        weight=np.asarray(weights, dtype=np.float64),
        sqrt_s=float(np.mean(energies)),
        source=str(source),
    )


def _event(
    event: Any,
    index: int,
    source: Path,
    beams: Beams,
    invisible: frozenset[int],
    beams_sqrt_s: float,
    tolerance: float,
    pdgs: list[int],
    momenta: list[Array],
    visible: list[bool],
    energies: list[float],
) -> None:
    """Check one LHE event and append its final state (lab frame) to the output lists.

    Raises:
        InputError: naming the file and the event for malformed or unsupported content.
    """
    where = f"event {index}"
    particles = list(event.particles)
    if int(event.eventinfo.nparticles) != len(particles):
        raise InputError(
            source, where, f"{event.eventinfo.nparticles} particle lines (the event header's count)",
            got=len(particles),
        )  # fmt: skip
    if not math.isfinite(float(event.eventinfo.weight)):
        raise InputError(source, f"{where}: weight", "a finite event weight")
    incoming = [p for p in particles if int(p.status) == -1]
    final = [p for p in particles if int(p.status) == 1]
    if len(incoming) != 2:
        raise InputError(source, where, "two incoming particles (status -1)", got=len(incoming))
    if not final:
        raise InputError(source, where, "final-state particles (status 1)")
    for number, p in enumerate(particles):
        values = (p.e, p.px, p.py, p.pz)
        if not all(math.isfinite(float(v)) for v in values):
            raise InputError(source, f"{where}: particle {number}", "finite momenta", got=values)
    p_in = np.array([[p.e, p.px, p.py, p.pz] for p in incoming], dtype=np.float64)
    p_out = np.array([[p.e, p.px, p.py, p.pz] for p in final], dtype=np.float64)
    lab, sqrt_s = _to_lab(p_out, p_in, [int(p.id) for p in incoming], beams)
    if abs(sqrt_s / beams_sqrt_s - 1) > tolerance:
        raise InputError(
            source, where,
            f"incoming beams with sqrt(s) = {beams_sqrt_s:.4f} GeV (within {tolerance:.0%})",
            got=round(sqrt_s, 4),
        )  # fmt: skip
    for p in final:
        kind = _classify(int(p.id), invisible)
        if kind is None:
            raise InputError(
                source, f"{where}: particle id {int(p.id)}",
                "an e, mu or photon, or an invisible particle (neutrino, |id| >= 1000000, or an id "
                "given as invisible)",
            )  # fmt: skip
        pdgs.append(int(p.id))
        visible.append(kind)
    momenta.extend(lab)
    energies.append(sqrt_s)


def write(
    path: str | os.PathLike[str],
    truth: TruthEvents,
    *,
    beams: Beams,
    frame: Literal["lab", "cm"] = "lab",
    weights: ArrayLike | None = None,
    cross_section_pb: float = 1.0,
) -> None:
    """Write truth events as an LHE file in the c.m. frame with the e- beam along +z.

    That is the MadGraph convention for e+e- collisions; :func:`read` brings such a file back to
    the lab frame. Used by tests (dhstat's own generator -> LHE) and to hand dhstat events to other
    tools. The incoming beams are written with the nominal energies of ``beams``.

    Args:
        path: Output file (written atomically).
        truth: Events (empty slots, PDG code 0, are skipped).
        beams: The beams (``Beams.from_config(cfg)``).
        frame: ``"lab"``: the momenta are in the Belle II lab frame; ``"cm"``: already in the
            c.m. frame with the e- along +z.
        weights: Event weights (default 1).
        cross_section_pb: Cross section written into the ``<init>`` block [pb].
    """
    momenta = np.asarray(truth.p, dtype=np.float64)
    if frame == "lab":
        cm = kinematics.boost(momenta, -beams.cm_velocity())
        rotation = _rotation(_cm_electron_direction(beams), np.array([0.0, 0.0, 1.0]))
        cm[..., 1:] = cm[..., 1:] @ rotation.T
    else:
        cm = momenta
    n_events = len(truth)
    w = np.ones(n_events) if weights is None else np.asarray(weights, dtype=np.float64)
    half = beams.sqrt_s / 2
    me = beams.electron_mass
    pz = math.sqrt(half * half - me * me)
    lines = [
        '<LesHouchesEvents version="3.0">',
        "<init>",
        f"11 -11 {half:.9e} {half:.9e} 0 0 0 0 3 1",
        f"{cross_section_pb:.9e} 0.000000000e+00 1.000000000e+00 1",
        "</init>",
    ]
    particle = "{:d} {:d} {:d} {:d} 0 0 {:.11e} {:.11e} {:.11e} {:.11e} {:.11e} 0 9"
    for i in range(n_events):
        slots = np.flatnonzero(truth.pdg[i] != 0)
        lines += ["<event>", f"{2 + slots.size} 1 {w[i]:.9e} {2 * half:.6e} 7.5e-03 1.18e-01"]
        lines.append(particle.format(11, -1, 0, 0, 0.0, 0.0, pz, half, me))
        lines.append(particle.format(-11, -1, 0, 0, 0.0, 0.0, -pz, half, me))
        for j in slots:
            e, px, py, pz_ = cm[i, j]
            m = math.sqrt(max(e * e - px * px - py * py - pz_ * pz_, 0.0))
            lines.append(particle.format(int(truth.pdg[i, j]), 1, 1, 2, px, py, pz_, e, m))
        lines.append("</event>")
    lines.append("</LesHouchesEvents>")
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")


def to_truth(events: LHEEvents) -> TruthEvents:
    """The events as the truth record the detector simulation takes (padded, PDG 0 = empty).

    Invisible particles keep their PDG code (the detector ignores every code other than
    +-11, +-13 and 22).

    Example:
        >>> offsets = np.array([0, 2, 3])
        >>> events = LHEEvents(offsets, np.array([13, -13, 22]), np.ones((3, 4)),
        ...                    np.ones(3, bool), np.ones(2), 10.58, "x")
        >>> to_truth(events).pdg.tolist()
        [[13, -13], [22, 0]]
    """
    counts = np.diff(events.offsets)
    n = events.n_events
    width = int(counts.max()) if n else 0
    p = np.zeros((n, width, 4))
    pdg = np.zeros((n, width), dtype=np.int32)
    row = np.repeat(np.arange(n), counts)
    column = np.arange(events.pdg.size) - events.offsets[row]
    p[row, column] = events.p4
    pdg[row, column] = events.pdg
    return TruthEvents(p=p, pdg=pdg, extra={})
