"""Event ntuples: the only code that reads and writes ROOT files (through uproot).

Files hold one or more TTrees plus the sample metadata, a JSON string stored as the TObjString
``dhstat_metadata``. Flat branches are numpy arrays; jagged per-event lists are written as a
counter ``n<name>`` plus branches ``<name>_<field>`` (e.g. ``ntrk``, ``trk_px``, ``trk_charge``),
as in ``docs/internals.md``. Reading is chunked (:func:`iterate`), so memory is bounded by the
chunk size whatever the file size; a branch-name mapping lets real ntuples with other names be
read under the canonical names.

Files are reproducible: the same arrays and metadata give the same bytes, whenever and wherever
they are written. uproot would store a time-based UUID, the wall-clock time in every TKey and
directory, and the (temporary) file name; here the UUIDs are name-based (uuid5 of the file
name, tree names and metadata, which carry the seed), every TDatime is :data:`FIXED_DATIME`, and
the stored name is uproot's placeholder for streams, ``dynamic.root`` (ROOT ignores the stored
name when opening a file). See :func:`write_chunks`.

Example:
    >>> import tempfile, pathlib
    >>> import awkward as ak
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.root"
    >>> trk_px = ak.Array([[1.0, -1.0], [0.5]])
    >>> write_trees(path, {"events": {"weight": np.ones(2), "trk_px": trk_px}}, {"process": "mumu"})
    >>> read_metadata(path)["process"]
    'mumu'
    >>> arrays = read_tree(path, "events", ["ntrk", "trk_px"])
    >>> arrays["ntrk"].tolist(), arrays["trk_px"].tolist()
    ([2, 1], [[1.0, -1.0], [0.5]])
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import itertools
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import awkward as ak
import numpy as np
import uproot
from numpy.typing import ArrayLike

from dhstat.errors import InputError
from dhstat.jsonio import atomic_path, dumps

__all__ = [
    "EVENT_BRANCHES",
    "FIXED_DATIME",
    "METADATA_KEY",
    "branch_names",
    "expand_globs",
    "iterate",
    "num_entries",
    "read_metadata",
    "read_tree",
    "write_chunks",
    "write_trees",
]

#: The reconstructed-event branches of the ntuple schema (docs/internals.md), without the optional
#: truth branches: what the simulation writes and the selection reads.
EVENT_BRANCHES = (
    "weight",
    "trk_px",
    "trk_py",
    "trk_pz",
    "trk_charge",
    "trk_dr",
    "trk_dz",
    "trk_muonID",
    "trk_electronID",
    "trk_clusterE",
    "gam_E",
    "gam_theta",
    "gam_phi",
    "trg_pass",
)

log = logging.getLogger(__name__)

#: Name of the TObjString holding the sample metadata (JSON).
METADATA_KEY = "dhstat_metadata"

#: Entries per basket when writing: readers load whole baskets, so this bounds their memory.
BASKET_ENTRIES = 50_000

#: The date written in every TDatime of a file (TKey ``fDatime``, directory ``fDatimeC`` and
#: ``fDatimeM``): ROOT's epoch, the earliest date a TDatime holds, so that no file claims a real
#: creation time and the bytes do not depend on the clock.
FIXED_DATIME = dt.datetime(1995, 1, 1)

#: Namespace of the name-based UUIDs of the files (fixed once; changing it changes every file).
_UUID_NAMESPACE = uuid.UUID("5a1b3f0e-2c4d-5e6f-8a9b-0c1d2e3f4a5b")

PathLike = str | os.PathLike[str]


def __dir__() -> list[str]:
    return __all__


def _counter(name: str) -> str:
    return "n" + name


def _field(outer: str, inner: str) -> str:
    return inner if outer == "" else f"{outer}_{inner}"


def _is_jagged(value: Any) -> bool:
    return isinstance(value, ak.Array) and value.ndim > 1


def _flat(name: str, value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, ak.Array):
        value = ak.to_numpy(value)
    array = np.asarray(value)
    if array.ndim != 1:
        msg = f"branch {name!r}: expected a 1-d array or a jagged awkward array, got {array.shape}"
        raise ValueError(msg)
    if array.dtype == np.int64:
        array = array.astype(np.int32)
    return array


def _prepare(branches: Mapping[str, ArrayLike | ak.Array]) -> dict[str, Any]:
    """Flat arrays stay; jagged ``<group>_<field>`` arrays are zipped into one record per group."""
    out: dict[str, Any] = {}
    groups: dict[str, dict[str, ak.Array]] = {}
    for name, value in branches.items():
        if isinstance(value, ak.Array) and value.fields and value.ndim == 2:
            out[name] = ak.to_packed(value)
        elif _is_jagged(value):
            group, sep, field = name.partition("_")
            if not sep or not field:
                msg = f"jagged branch {name!r} must be named <group>_<field> (e.g. trk_px)"
                raise ValueError(msg)
            groups.setdefault(group, {})[field] = value
        else:
            out[name] = _flat(name, value)
    for group, fields in groups.items():
        if group in out or _counter(group) in out:
            msg = f"jagged group {group!r} clashes with a flat branch"
            raise ValueError(msg)
        try:
            out[group] = ak.to_packed(ak.zip(fields))
        except ValueError as error:
            msg = f"the {group}_* branches do not have the same number of entries per event"
            raise ValueError(msg) from error
    return out


def _extend(writable: Any, prepared: Mapping[str, Any]) -> int:
    """Append ``prepared`` in baskets of at most :data:`BASKET_ENTRIES` entries."""
    n = len(next(iter(prepared.values()))) if prepared else 0
    for start in range(0, max(n, 1), BASKET_ENTRIES):
        stop = min(start + BASKET_ENTRIES, n)
        writable.extend({name: value[start:stop] for name, value in prepared.items()})
    return n


def _types(prepared: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: (value.type if isinstance(value, ak.Array) else value.dtype)
        for name, value in prepared.items()
    }


class _FixedDatimes:
    """While active (re-entrant, thread-safe), uproot writes :data:`FIXED_DATIME` for every date.

    uproot takes ``datetime.now()`` for each TKey, directory and basket it writes, with no option
    to change it, and turns every such date into the 4-byte TDatime code through the one function
    ``uproot._util.datetime_to_code`` (uproot 5.7, also the current upstream source). That function
    is replaced while at least one write of this module is open. Other uproot writes in the same
    process during that time also get the fixed date; nothing else changes. tests/test_reproducible.py
    checks every date of a written file and that the bytes do not depend on the clock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._original: Callable[[dt.datetime], int] | None = None
        self.code: int = uproot._util.datetime_to_code(FIXED_DATIME)

    def _fixed(self, _: dt.datetime) -> int:
        return self.code

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._original = uproot._util.datetime_to_code
                uproot._util.datetime_to_code = self._fixed
            self._depth += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                uproot._util.datetime_to_code = self._original
                self._original = None


_FIXED_DATIMES = _FixedDatimes()


def _uuids(identity: str) -> Callable[[], uuid.UUID]:
    """The ``uuid_function`` for uproot: name-based UUIDs of ``identity``, numbered in call order."""
    counter = itertools.count()
    return lambda: uuid.uuid5(_UUID_NAMESPACE, f"{identity}\n{next(counter)}")


@contextlib.contextmanager
def _recreate(temporary: Path, target: PathLike, trees: Sequence[str], text: str) -> Iterator[Any]:
    """``uproot.recreate(temporary)`` that writes the same bytes for the same content.

    The file is handed to uproot as a stream, so the stored name does not depend on the
    temporary file's (random) name; the UUIDs derive from the target's name, the tree names and
    the metadata text (which holds the seed); every date is :data:`FIXED_DATIME`.
    """
    identity = "\n".join([Path(target).name, *trees, text])
    with (
        _FIXED_DATIMES,
        open(temporary, "w+b") as stream,  # noqa: PTH123 - uproot takes the stream
        uproot.recreate(stream, uuid_function=_uuids(identity)) as handle,
    ):
        yield handle


def write_chunks(
    path: PathLike,
    tree: str,
    chunks: Iterable[Mapping[str, ArrayLike | ak.Array]],
    metadata: Mapping[str, Any],
) -> int:
    """Write one tree from a stream of chunks (same branches in each), atomically.

    Memory is bounded by one chunk. The first chunk fixes the branch types. Returns the number of
    entries written. The same chunks and metadata written to the same file name give the same
    bytes (fixed UUIDs and dates: see the module docstring), as does :func:`write_trees`.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "c.root"
        >>> write_chunks(path, "events", ({"weight": np.ones(n)} for n in (3, 0, 2)), {})
        5
    """
    text = dumps(dict(metadata), indent=None)
    total = 0
    with atomic_path(path) as temporary, _recreate(temporary, path, [tree], text) as handle:
        writable = None
        for chunk in chunks:
            prepared = _prepare(chunk)
            if writable is None:
                writable = handle.mktree(
                    tree, _types(prepared), counter_name=_counter, field_name=_field
                )
            total += _extend(writable, prepared)
        if writable is None:
            msg = "write_chunks needs at least one chunk (it fixes the branch types)"
            raise ValueError(msg)
        handle[METADATA_KEY] = text
    return total


def write_trees(
    path: PathLike,
    trees: Mapping[str, Mapping[str, ArrayLike | ak.Array]],
    metadata: Mapping[str, Any],
) -> None:
    """Write trees (name -> branch name -> array) and the metadata to a ROOT file, atomically.

    Flat branches are 1-d arrays. Jagged branches are awkward arrays named ``<group>_<field>``
    (all fields of a group share one counter ``n<group>``), or a record array ``<group>`` made
    with ``ak.zip``. The metadata (JSON-serialisable, finite numbers) is stored as the TObjString
    ``dhstat_metadata``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.root"
        >>> write_trees(path, {"search": {"mmumu2": np.array([25.0])}}, {"n": 1})
        >>> read_tree(path, "search")["mmumu2"].tolist()
        [25.0]
    """
    text = dumps(dict(metadata), indent=None)
    with atomic_path(path) as temporary, _recreate(temporary, path, list(trees), text) as handle:
        for name, branches in trees.items():
            prepared = _prepare(branches)
            writable = handle.mktree(
                name, _types(prepared), counter_name=_counter, field_name=_field
            )
            _extend(writable, prepared)
        handle[METADATA_KEY] = text


def _open(path: Path) -> Any:
    if not path.is_file():
        raise InputError(path, "(file)", "an existing ROOT file")
    try:
        return uproot.open(path)
    except Exception as error:  # noqa: BLE001 - uproot raises many kinds for bad files
        raise InputError(path, "(file)", f"a readable ROOT file ({error})") from None


def read_metadata(path: PathLike, *, required: bool = True) -> dict[str, Any]:
    """The sample metadata stored in the file.

    The metadata is optional in files dhstat did not write (samples declared in ``[[samples]]``):
    with ``required=False`` a file without it gives ``{}``.

    Raises:
        InputError: the file is not a readable ROOT file, has no ``dhstat_metadata`` (when
            ``required``), or the metadata is not a JSON object.

    Example:
        >>> import tempfile, pathlib, uproot
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "plain.root"
        >>> with uproot.recreate(path) as handle:
        ...     handle["t"] = {"x": np.zeros(2)}
        >>> read_metadata(path, required=False)
        {}
    """
    source = Path(path)
    with _open(source) as handle:
        if METADATA_KEY not in handle:
            if not required:
                return {}
            raise InputError(source, METADATA_KEY, "a dhstat metadata TObjString")
        try:
            document = json.loads(str(handle[METADATA_KEY]))
        except Exception as error:  # noqa: BLE001 - any failure of uproot means a bad file
            raise InputError(source, METADATA_KEY, f"a JSON object ({error})") from None
    if not isinstance(document, dict):
        raise InputError(source, METADATA_KEY, "a JSON object", got=type(document).__name__)
    return document


def _resolve(
    source: Path, handle: Any, tree: str, branches: Sequence[str], mapping: Mapping[str, str]
) -> tuple[Any, dict[str, str]]:
    """The tree object and a map actual branch name -> canonical name; errors name the file."""
    try:
        ttree = handle[tree]
    except Exception:  # noqa: BLE001 - KeyInFileError and friends
        raise InputError(
            source, tree, "a TTree of that name", got=sorted(handle.keys(cycle=False))
        ) from None
    if not isinstance(ttree, uproot.TTree):
        raise InputError(source, tree, "a TTree", got=type(ttree).__name__)
    available = set(ttree.keys())
    actual = {mapping.get(name, name): name for name in branches}
    missing = [
        f"{canonical} (as {name!r})" if name != canonical else canonical
        for name, canonical in actual.items()
        if name not in available
    ]
    if missing:
        raise InputError(
            source,
            f"{tree}: branches {', '.join(missing)}",
            f"these branches in the tree (branch mapping in use: {dict(mapping) or 'none'})",
        )
    return ttree, actual


def _convert(arrays: ak.Array, actual: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, canonical in actual.items():
        column = arrays[name]
        out[canonical] = ak.to_numpy(column) if column.ndim == 1 else column
    return out


def iterate(
    files: Sequence[PathLike],
    tree: str,
    branches: Sequence[str],
    *,
    step_size: int,
    mapping: Mapping[str, str] | None = None,
    entry_start: int | None = None,
    entry_stop: int | None = None,
) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """Read branches of ``tree`` from ``files`` in chunks of at most ``step_size`` entries.

    Files are read in the given order, each in order of entries. Before anything is yielded,
    every file is opened and checked for the tree and all branches. Flat branches come as numpy
    arrays, jagged ones as awkward arrays, keyed by the canonical names.

    ``entry_start`` / ``entry_stop`` restrict the reading to the entry range
    ``[entry_start, entry_stop)`` **of each file** (they are passed to uproot per file, with its
    clipping: ranges beyond the end of a file are cut to it, ``None`` means the start / end). They
    are meant for one file split into tasks (:func:`num_entries` gives its size); with several
    files the same range is applied to every file. Chunks start at ``entry_start``.

    Args:
        files: ROOT files.
        tree: Tree name (e.g. ``"events"``).
        branches: Canonical branch names (``docs/internals.md``), counters included if wanted.
        step_size: Entries per chunk (bounds the memory).
        mapping: Canonical name -> name in the file, for ntuples with other branch names.
        entry_start: First entry read in each file (default 0); must not be negative.
        entry_stop: One past the last entry read in each file (default: the end).

    Yields:
        ``(file, chunk_index, arrays)``; ``chunk_index`` counts from 0 in each file.

    Raises:
        InputError: a file is missing, not ROOT, truncated or lacks the tree; branches are
            missing (one error listing all missing canonical and mapped names).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "i.root"
        >>> write_trees(path, {"events": {"w": np.arange(5.0)}}, {})
        >>> [(i, a["weight"].tolist()) for _, i, a in iterate(
        ...     [path], "events", ["weight"], step_size=2, mapping={"weight": "w"})]
        [(0, [0.0, 1.0]), (1, [2.0, 3.0]), (2, [4.0])]
        >>> [a["w"].tolist() for _, _, a in iterate(
        ...     [path], "events", ["w"], step_size=2, entry_start=1, entry_stop=4)]
        [[1.0, 2.0], [3.0]]
    """
    if step_size < 1:
        msg = f"step_size must be positive, got {step_size}"
        raise ValueError(msg)
    for name, value in (("entry_start", entry_start), ("entry_stop", entry_stop)):
        if value is not None and value < 0:
            msg = f"{name} must not be negative, got {value}"
            raise ValueError(msg)
    ranged: dict[str, int] = {}
    if entry_start is not None:
        ranged["entry_start"] = int(entry_start)
    if entry_stop is not None:
        ranged["entry_stop"] = int(entry_stop)
    names = list(dict.fromkeys(branches))
    use = dict(mapping or {})
    sources = [Path(f) for f in files]
    for source in sources:  # fail early, before any chunk is yielded
        with _open(source) as handle:
            _resolve(source, handle, tree, names, use)
    for source in sources:
        with _open(source) as handle:
            ttree, actual = _resolve(source, handle, tree, names, use)
            try:
                for index, arrays in enumerate(
                    ttree.iterate(list(actual), step_size=int(step_size), library="ak", **ranged)
                ):
                    yield source, index, _convert(arrays, actual)
            except InputError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure of uproot means a bad file
                raise InputError(source, tree, f"readable baskets ({error})") from None


def num_entries(path: PathLike, tree: str) -> int:
    """Number of entries of ``tree`` in the file at ``path`` (to split a file into entry ranges).

    Raises:
        InputError: the file is missing or not ROOT, or has no TTree ``tree``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "n.root"
        >>> write_trees(path, {"events": {"weight": np.ones(7)}}, {})
        >>> num_entries(path, "events")
        7
    """
    source = Path(path)
    with _open(source) as handle:
        ttree, _ = _resolve(source, handle, tree, [], {})
        return int(ttree.num_entries)


def branch_names(path: PathLike, tree: str) -> tuple[str, ...]:
    """The branches of ``tree`` in the file at ``path`` (jagged counters included).

    Raises:
        InputError: the file is missing or not ROOT, or has no TTree ``tree``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "b.root"
        >>> write_trees(path, {"events": {"weight": np.ones(2)}}, {})
        >>> branch_names(path, "events")
        ('weight',)
    """
    source = Path(path)
    with _open(source) as handle:
        ttree, _ = _resolve(source, handle, tree, [], {})
        return tuple(str(name) for name in ttree.keys())  # noqa: SIM118 - uproot's keys()


def read_tree(
    path: PathLike,
    tree: str,
    branches: Sequence[str] | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read a whole (small) tree: all branches if ``branches`` is ``None``.

    Raises:
        InputError: as :func:`iterate`.
    """
    source = Path(path)
    use = dict(mapping or {})
    with _open(source) as handle:
        if branches is None:
            ttree, _ = _resolve(source, handle, tree, [], use)
            inverse = {v: k for k, v in use.items()}
            branches = [inverse.get(name, name) for name in ttree.keys()]  # noqa: SIM118
        ttree, actual = _resolve(source, handle, tree, list(branches), use)
        try:
            arrays = ttree.arrays(list(actual), library="ak")
        except Exception as error:  # noqa: BLE001 - any failure of uproot means a bad file
            raise InputError(source, tree, f"readable baskets ({error})") from None
        return _convert(arrays, actual)


def expand_globs(patterns: Sequence[PathLike]) -> list[Path]:
    """Expand glob patterns to a sorted, de-duplicated list of files.

    Raises:
        InputError: a pattern matches no file.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("b.root", "a.root"):
        ...     _ = (folder / name).write_bytes(b"")
        >>> [p.name for p in expand_globs([folder / "*.root"])]
        ['a.root', 'b.root']
    """
    found: set[Path] = set()
    for pattern in patterns:
        text = os.fspath(pattern)
        candidates = glob.glob(text, recursive=True)  # noqa: PTH207 - absolute patterns too
        matches = [Path(m) for m in candidates if Path(m).is_file()]
        if not matches:
            raise InputError(text, "(file)", "at least one file matching the pattern")
        found.update(matches)
    return sorted(found)
