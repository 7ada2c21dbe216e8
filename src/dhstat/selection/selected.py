"""The selected-events ROOT file: writing a selection and reading its samples back.

The file has one tree per sample of :data:`~dhstat.selection.SAMPLES` with the
:data:`~dhstat.selection.VARIABLES` and ``process``, an int32 index into the metadata list
``processes``: the run's process list (:func:`dhstat.processes.run_processes`; the default analysis'
is :data:`dhstat.processes.PROCESSES`). :func:`selected_processes` reads that list back (the union
over several files), and :func:`read_selected` re-indexes every file's codes into it. The metadata
list ``files`` names the input ntuples relative to the directory of the selected-events file, so
that the same inputs in another run directory give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.processes import backgrounds_of, run_processes
from dhstat.provenance import provenance, relative_path
from dhstat.selection.cutflow import SAMPLES
from dhstat.selection.files import SelectionOutput, concatenate
from dhstat.selection.variables import VARIABLES

__all__ = ["read_selected", "selected_processes", "write_selected"]


def __dir__() -> list[str]:
    return __all__


def write_selected(
    path: str | Any,
    output: SelectionOutput,
    *,
    extra_trees: Mapping[str, Mapping[str, Any]] | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write the selected-events ROOT file atomically.

    Trees ``search``, ``control_mumugamma``, ``control_emu`` with :data:`VARIABLES` and
    ``process`` (int32 index into the metadata list ``processes``, ``output.processes``).
    The same selection gives the same bytes (:mod:`dhstat.ntuples`); the input files are
    recorded relative to the directory of ``path``. ``extra_trees`` and ``extra_metadata`` add
    trees and metadata keys (the selected signal samples of :mod:`dhstat.samples`); without
    them the file is what it always was.

    Example:
        >>> import tempfile, pathlib
        >>> out = SelectionOutput({s: {v: np.zeros(0) for v in VARIABLES} | {"process":
        ...     np.zeros(0, np.int32)} for s in SAMPLES}, {}, {}, "0" * 64, 8.34)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "sel.root"
        >>> write_selected(path, out)
        >>> read_selected([path])["mmumu2"].shape
        (0,)
    """
    home = os.path.dirname(os.path.abspath(path))  # noqa: PTH100, PTH120 - no symlink resolution
    metadata = {
        "schema_version": "1.0.0",
        "kind": "selected",
        "processes": list(output.processes),
        "files": {p: [relative_path(f, home) for f in v] for p, v in output.files.items()},
        "luminosity_fb": output.luminosity_fb,
        "config_digest": output.config_digest,
        **provenance(),
        **(extra_metadata or {}),
    }
    trees = {s: {k: np.asarray(v) for k, v in output.samples[s].items()} for s in SAMPLES}
    trees.update({name: dict(tree) for name, tree in (extra_trees or {}).items()})
    ntuples.write_trees(path, trees, metadata)


def _processes_of(path: str | Any) -> list[str]:
    """The metadata list ``processes`` of one selected-events file, checked."""
    processes = ntuples.read_metadata(path).get("processes")
    if (
        not isinstance(processes, list)
        or not all(isinstance(p, str) for p in processes)
        or len(set(processes)) != len(processes)
    ):
        expected = "a list of unique process names"
        raise InputError(path, "dhstat_metadata.processes", expected, got=processes)
    return [str(p) for p in processes]


def selected_processes(paths: Sequence[str | Any]) -> tuple[str, ...]:
    """The process list of selected-events files, which their ``process`` codes index.

    It is :func:`~dhstat.processes.run_processes` of the background processes their metadata
    ``processes`` list, in the order they first appear. Files written by the default analysis
    give :data:`~dhstat.processes.PROCESSES`.

    Raises:
        InputError: a file is missing, unreadable, or its ``processes`` is not a process list.
    """
    return run_processes(backgrounds_of(p for path in paths for p in _processes_of(path)))


def read_selected(
    paths: Sequence[str | Any],
    *,
    tree: str = "search",
    processes: Sequence[str] | None = None,
) -> dict[str, NDArray[Any]]:
    """Concatenate the ``tree`` of selected-events files in the order given.

    The ``process`` branch of the result indexes ``processes`` (default: the files'
    :func:`selected_processes`, which is :data:`~dhstat.processes.PROCESSES` for the default
    analysis).

    Raises:
        InputError: a file is missing, unreadable, not a selected-events file, or holds a
            process that ``processes`` does not list.
    """
    if tree not in SAMPLES:
        raise InputError(None, "tree", f"one of {', '.join(SAMPLES)}", got=tree)
    wanted = list(selected_processes(paths) if processes is None else processes)
    parts = []
    for path in paths:
        listed = _processes_of(path)
        unknown = [p for p in listed if p not in wanted]
        if unknown:
            raise InputError(
                path, "dhstat_metadata.processes", f"processes of {wanted}", got=unknown
            )
        arrays = ntuples.read_tree(path, tree, [*VARIABLES, "process"])
        remap = np.array([wanted.index(p) for p in listed], dtype=np.int32)
        columns = {name: np.asarray(arrays[name]) for name in VARIABLES}
        columns["process"] = remap[np.asarray(arrays["process"], dtype=np.int64)]
        parts.append(columns)
    merged = concatenate(parts, (*VARIABLES, "process"))
    merged["process"] = np.asarray(merged["process"], dtype=np.int32)
    return merged
