"""The selected-events ROOT file: writing a selection and reading its samples back.

The file has one tree per sample of :data:`~dhstat.selection.SAMPLES` with the
:data:`~dhstat.selection.VARIABLES` and ``process``, an int32 index into the metadata list
``processes`` (equal to :data:`dhstat.processes.PROCESSES` when written by this version; reading
re-indexes it into :data:`~dhstat.processes.PROCESSES`). The metadata list ``files`` names the input
ntuples relative to the directory of the selected-events file, so that the same inputs in another
run directory give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import ntuples
from dhstat.errors import InputError
from dhstat.processes import PROCESSES
from dhstat.provenance import provenance, relative_path
from dhstat.selection.cutflow import SAMPLES
from dhstat.selection.files import SelectionOutput, concatenate
from dhstat.selection.variables import VARIABLES

__all__ = ["read_selected", "write_selected"]


def __dir__() -> list[str]:
    return __all__


def write_selected(path: str | Any, output: SelectionOutput) -> None:
    """Write the selected-events ROOT file atomically.

    Trees ``search``, ``control_mumugamma``, ``control_emu`` with :data:`VARIABLES` and
    ``process`` (int32 index into the metadata list ``processes``, equal to :data:`PROCESSES`).
    The same selection gives the same bytes (:mod:`dhstat.ntuples`); the input files are
    recorded relative to the directory of ``path``.

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
        "processes": list(PROCESSES),
        "files": {p: [relative_path(f, home) for f in v] for p, v in output.files.items()},
        "luminosity_fb": output.luminosity_fb,
        "config_digest": output.config_digest,
        **provenance(),
    }
    trees = {s: {k: np.asarray(v) for k, v in output.samples[s].items()} for s in SAMPLES}
    ntuples.write_trees(path, trees, metadata)


def read_selected(paths: Sequence[str | Any], *, tree: str = "search") -> dict[str, NDArray[Any]]:
    """Concatenate the ``tree`` of selected-events files in the order given.

    The ``process`` branch of the result indexes :data:`PROCESSES`.

    Raises:
        InputError: a file is missing, unreadable, or not a selected-events file.
    """
    if tree not in SAMPLES:
        raise InputError(None, "tree", f"one of {', '.join(SAMPLES)}", got=tree)
    parts = []
    for path in paths:
        meta = ntuples.read_metadata(path)
        processes = meta.get("processes")
        if not isinstance(processes, list) or any(p not in PROCESSES for p in processes):
            raise InputError(path, "dhstat_metadata.processes", f"a list of {PROCESSES}")
        arrays = ntuples.read_tree(path, tree, [*VARIABLES, "process"])
        remap = np.array([PROCESSES.index(p) for p in processes], dtype=np.int32)
        columns = {name: np.asarray(arrays[name]) for name in VARIABLES}
        columns["process"] = remap[np.asarray(arrays["process"], dtype=np.int64)]
        parts.append(columns)
    merged = concatenate(parts, (*VARIABLES, "process"))
    merged["process"] = np.asarray(merged["process"], dtype=np.int32)
    return merged
