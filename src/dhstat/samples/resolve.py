r"""Declared samples made concrete: files from the globs, the layout, and every branch checked.

:func:`resolve` runs before anything is read or written, and raises one :class:`InputError`
naming the sample, the file and the field for: a pattern that matches no file, a file claimed by
two samples, a tree or a (mapped) branch missing from a file, a weight that is not an allowed
expression, and data and MC samples whose layouts give different canonical branches.

Example:
    >>> import tempfile, pathlib
    >>> from dhstat import ntuples
    >>> from dhstat.config import loads
    >>> from dhstat.selection.examples import example_events
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> ntuples.write_trees(folder / "d.root", {"events": example_events()}, {})
    >>> cfg = loads('[[samples]]\nname = "data"\nkind = "data"\nfiles = "*.root"\n')
    >>> resolved = resolve(declare(cfg), base=folder, trigger=True)
    >>> [pathlib.Path(f).name for f in resolved[0].files], resolved[0].layout.tracks
    (['d.root'], 'jagged')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.samples.declaration import Sample, declare
from dhstat.samples.expressions import expression_branches
from dhstat.selection.layouts import Layout

__all__ = ["ResolvedSample", "base_folder", "resolve", "resolve_config"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ResolvedSample:
    """A sample with its files and its layout.

    Attributes:
        sample: The declaration.
        files: Its files (absolute, sorted, each pattern's matches in pattern order).
        layout: Where its canonical branches are.
        weight_branches: Branches the weight expression reads.
        mass_branches: ``"ma"``/``"mh"`` -> branch, for a signal sample with mass branches.
    """

    sample: Sample
    files: tuple[str, ...]
    layout: Layout
    weight_branches: tuple[str, ...]
    mass_branches: Mapping[str, str]

    def reads(self) -> dict[str, str]:
        """Reading key -> branch in the file: the layout's, ``=<b>`` for weights, the masses."""
        out = self.layout.file_branches()
        out.update({f"={name}": name for name in self.weight_branches})
        out.update({f"mass:{k}": v for k, v in self.mass_branches.items()})
        return out


def base_folder(source: str) -> Path:
    """The folder relative sample paths start from: the configuration file's, else the cwd."""
    path = Path(source)
    return path.parent if path.is_file() else Path.cwd()


def _files(sample: Sample, base: Path) -> tuple[str, ...]:
    found: list[str] = []
    for pattern in sample.files:
        text = pattern if Path(pattern).is_absolute() else os.fspath(base / pattern)
        try:
            matches = ntuples.expand_globs([text])
        except InputError:
            expected = "a path or glob pattern matching at least one file"
            raise InputError(text, f"{sample.field}.files", expected) from None
        found += [os.path.abspath(m) for m in matches if os.path.abspath(m) not in found]  # noqa: PTH100
    return tuple(found)


def _field_of(key: str, sample: Sample) -> str:
    if key.startswith("="):
        return f"{sample.field}.weight"
    if key.startswith("mass:"):
        return f"{sample.field}.{key.removeprefix('mass:')}"
    return f"{sample.field}.branches.{key.partition('#')[0]}"


def _check_file(path: str, resolved: ResolvedSample) -> None:
    sample = resolved.sample
    try:
        available = set(ntuples.branch_names(path, sample.tree))
    except InputError as error:
        raise InputError(path, f"{sample.field}.tree", error.expected, got=sample.tree) from None
    for key, branch in resolved.reads().items():
        if branch not in available:
            expected = f"the branch {branch!r} in the tree {sample.tree!r}"
            raise InputError(path, _field_of(key, sample), expected)


def _one(sample: Sample, base: Path, trigger: bool, source: str) -> ResolvedSample:
    try:
        layout = Layout.of(sample.branches, trigger=trigger)
    except InputError as error:
        field = f"{sample.field}.{error.field}"
        raise InputError(source, field, error.expected, got=error.got) from None
    try:
        weights = expression_branches(sample.weight)
    except ValueError as error:
        expected = f"a number, a branch or an arithmetic expression of branches ({error})"
        raise InputError(source, f"{sample.field}.weight", expected, got=sample.weight) from None
    masses = {k: v for k in ("ma", "mh") if isinstance(v := getattr(sample, k), str)}
    return ResolvedSample(sample, _files(sample, base), layout, weights, masses)


def resolve(
    samples: Sequence[Sample], *, base: Path, trigger: bool, source: str = "<config>"
) -> tuple[ResolvedSample, ...]:
    """Expand the samples' files and check every file's tree and branches.

    Args:
        samples: The declared samples (:func:`~dhstat.samples.declaration.declare`).
        base: Folder relative paths start from (:func:`base_folder`).
        trigger: Whether ``trg_pass`` is read (``[selection] require_trigger``).
        source: The configuration file, for messages about the declaration itself.

    Raises:
        InputError: see the module docstring.
    """
    resolved = [_one(sample, base, trigger, source) for sample in samples]
    owner: dict[str, str] = {}
    for item in resolved:
        for path in item.files:
            real = os.path.realpath(path)
            if real in owner:
                expected = f"a file no other sample claims (sample {owner[real]!r} has it)"
                raise InputError(path, f"{item.sample.field}.files", expected)
            owner[real] = item.sample.name
    data = next((item for item in resolved if item.sample.kind == "data"), None)
    for item in resolved:
        if data is not None and item.layout.signature() != data.layout.signature():
            mine, theirs = set(item.layout.signature()), set(data.layout.signature())
            expected = f"the canonical branches of the data sample {data.sample.name!r}"
            got = f"extra {sorted(mine - theirs)}, missing {sorted(theirs - mine)}"
            raise InputError(item.files[0], f"{item.sample.field}.branches", expected, got=got)
        for path in item.files:
            _check_file(path, item)
    return tuple(resolved)


def resolve_config(cfg: Mapping[str, object]) -> tuple[ResolvedSample, ...]:
    """:func:`resolve` of a configuration's ``[[samples]]`` (relative to its file's folder)."""
    source = str(getattr(cfg, "source", "<config>"))
    selection = cfg["selection"]
    assert isinstance(selection, Mapping)
    return resolve(
        declare(cfg, source=source),
        base=base_folder(source),
        trigger=bool(selection["require_trigger"]),
        source=source,
    )
