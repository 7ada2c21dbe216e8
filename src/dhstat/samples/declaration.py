"""The ``[[samples]]`` tables of the configuration as typed, checked :class:`Sample` objects.

The configuration's schema (``schemas/config.samples.json``) and :func:`dhstat.config.load` check
the keys, their types and the kinds; :func:`declare` adds what involves several keys: signal
samples need both masses, a cross section needs the number of generated events, data takes no
normalisation and no masses, a background's process is a free name (an identifier other than
``data`` and ``signal``; samples of one process add up), and every key of a branch map is a
canonical branch. :func:`run_processes_of` is the run's process list: ``data``, ``signal`` and the
background processes in the order they are first declared (the paper's three when none is).

Example:
    >>> from dhstat.config import loads
    >>> cfg = loads('''
    ... [[samples]]
    ... name = "mumu"
    ... kind = "background"
    ... files = "mc/mumu_*.root"
    ... weight = "w * 2"
    ... luminosity_fb = 50.0
    ... ''')
    >>> sample = declare(cfg)[0]
    >>> sample.process, sample.files, sample.scale(8.34)
    ('mumu', ('mc/mumu_*.root',), 0.1668)
    >>> run_processes_of(declare(cfg))
    ('data', 'signal', 'mumu')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dhstat.errors import InputError
from dhstat.processes import BACKGROUNDS, NOT_BACKGROUNDS, run_processes
from dhstat.selection.branches import BRANCHES
from dhstat.selection.layouts import BARREL_PHOTON, PHOTON_SUMMARY

__all__ = ["CANONICAL", "Sample", "declare", "run_processes_of"]

#: Canonical branch names a sample's branch map may give (docs/internals.md and the layouts of
#: :mod:`dhstat.selection.layouts`).
CANONICAL = (
    *(b for b in BRANCHES if b != "weight"),
    "ntrk",
    "ngam",
    *PHOTON_SUMMARY,
    BARREL_PHOTON,
)

Kind = Literal["data", "background", "signal"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Sample:
    """One declared sample.

    Attributes:
        name: Unique name.
        kind: ``data``, ``background`` or ``signal``.
        process: The process its events count as (``data``, ``signal`` or a background).
        files: File paths or glob patterns, as given.
        tree: The TTree name.
        weight: A number, or an expression of branches (a branch name is an expression).
        luminosity_fb: Equivalent luminosity of an MC sample [fb^-1], or ``None``.
        cross_section_fb: Cross section of the generated MC sample [fb], or ``None``.
        generated_events: Events generated (normalisation; signal efficiencies), or ``None``.
        ma: Signal: the A' mass [GeV] or the branch holding it.
        mh: Signal: the h' mass [GeV] or the branch holding it.
        branches: Canonical name -> branch in the files (``[selection] branches`` overridden by
            the sample's own map).
        index: Position in ``[[samples]]``.
    """

    name: str
    kind: Kind
    process: str
    files: tuple[str, ...]
    tree: str = "events"
    weight: float | str = 1.0
    luminosity_fb: float | None = None
    cross_section_fb: float | None = None
    generated_events: int | None = None
    ma: float | str | None = None
    mh: float | str | None = None
    branches: Mapping[str, str] = field(default_factory=dict)
    index: int = 0

    @property
    def field(self) -> str:
        """The configuration path of this sample, for messages: ``samples[<index>] ('<name>')``."""
        return f"samples[{self.index}] ({self.name!r})"

    def scale(self, luminosity_fb: float) -> float:
        """Factor normalising the weights to the data luminosity ``luminosity_fb``.

        ``luminosity_fb / self.luminosity_fb``, or ``cross_section_fb x luminosity_fb /
        generated_events``, or 1 (data, signal, and MC already normalised).
        """
        if self.kind != "background":
            return 1.0
        if self.luminosity_fb is not None:
            return luminosity_fb / self.luminosity_fb
        if self.cross_section_fb is not None and self.generated_events is not None:
            return self.cross_section_fb * luminosity_fb / self.generated_events
        return 1.0


def _check(sample: Sample, source: str) -> None:
    where = sample.field
    if sample.luminosity_fb is not None and sample.cross_section_fb is not None:
        expected = "one normalisation: luminosity_fb, or cross_section_fb with generated_events"
        raise InputError(source, f"{where}.cross_section_fb", expected)
    if sample.cross_section_fb is not None and sample.generated_events is None:
        raise InputError(source, f"{where}.generated_events", "a value with cross_section_fb")
    alone = sample.generated_events is not None and sample.cross_section_fb is None
    if alone and sample.kind != "signal":
        expected = "generated_events only with cross_section_fb (or for a signal sample)"
        raise InputError(source, f"{where}.generated_events", expected)
    if sample.kind != "background":
        for key in ("luminosity_fb", "cross_section_fb"):
            if getattr(sample, key) is not None:
                raise InputError(source, f"{where}.{key}", f"no {key} for a {sample.kind} sample")
    if sample.kind == "signal":
        for key in ("ma", "mh"):
            if getattr(sample, key) is None:
                expected = f"the {key} of the signal in GeV, or the branch holding it"
                raise InputError(source, f"{where}.{key}", expected)
    else:
        for key in ("ma", "mh"):
            if getattr(sample, key) is not None:
                raise InputError(source, f"{where}.{key}", "masses only for a signal sample")
    if sample.kind != "background":
        return
    valid = sample.process.isascii() and sample.process.isidentifier()
    if not valid or sample.process in NOT_BACKGROUNDS:
        expected = "a process name: an identifier (letters, digits, _), not data or signal"
        raise InputError(source, f"{where}.process", expected, got=sample.process)


def _sample(table: Mapping[str, Any], index: int, common: Mapping[str, str]) -> Sample:
    kind = table["kind"]
    files = table["files"]
    name = str(table["name"])
    default = name if kind == "background" else kind
    return Sample(
        name=name,
        kind=kind,
        process=str(table.get("process", default)),
        files=(files,) if isinstance(files, str) else tuple(files),
        tree=str(table.get("tree", "events")),
        weight=table.get("weight", 1.0),
        luminosity_fb=table.get("luminosity_fb"),
        cross_section_fb=table.get("cross_section_fb"),
        generated_events=table.get("generated_events"),
        ma=table.get("ma"),
        mh=table.get("mh"),
        branches={**common, **table.get("branches", {})},
        index=index,
    )


def declare(cfg: Mapping[str, Any], *, source: str | None = None) -> tuple[Sample, ...]:
    """The configuration's ``[[samples]]`` (empty when it has none), checked.

    A background's ``process`` defaults to its name. The sample's branch map is
    ``[selection] branches`` updated by its own ``branches`` (its ``weight``, ``truth_ma`` and
    ``truth_mh`` entries are not used: a sample's weight and masses are its ``weight``, ``ma``
    and ``mh`` keys).

    Raises:
        InputError: a combination of keys that cannot be (naming the sample and the key).
    """
    where = source if source is not None else str(getattr(cfg, "source", "<config>"))
    tables: Sequence[Mapping[str, Any]] = cfg.get("samples", ())
    common = {str(k): str(v) for k, v in cfg["selection"]["branches"].items()}
    samples = tuple(_sample(table, i, common) for i, table in enumerate(tables))
    for sample, table in zip(samples, tables, strict=True):
        for key in table.get("branches", {}):
            if key not in CANONICAL:
                expected = f"a canonical branch ({', '.join(CANONICAL)})"
                raise InputError(where, f"{sample.field}.branches.{key}", expected)
        _check(sample, where)
    return samples


def run_processes_of(samples: Sequence[Sample]) -> tuple[str, ...]:
    """The process list of a run with these samples (:func:`dhstat.processes.run_processes`).

    ``data``, ``signal``, then the background processes in the order they are first declared;
    without any background sample, the paper's (:data:`dhstat.processes.PROCESSES`).
    """
    backgrounds = [s.process for s in samples if s.kind == "background"]
    return run_processes(backgrounds or BACKGROUNDS)
