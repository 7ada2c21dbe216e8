"""Reading and writing dhstat's files: atomic writes, schema-checked JSON, digests.

Every file dhstat writes is first written to a temporary file in the destination's directory and
then renamed over the destination, so an interrupted run never leaves a half-written file. A
folder written as a whole (:func:`atomic_dir`) is staged the same way and swapped in by renames.
Temporary names are hidden and recognisable, ``.<name>.<8 random characters>.part<suffix>``
(``<suffix>`` is the destination's own, so writers that infer a format from it still work): they
never match a glob such as ``*.root`` (``glob`` skips hidden files), and :func:`remove_temporaries`
removes those a killed process left behind, and only those.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> write_json(path, {"b": 1, "a": [1.5, 2]})
    >>> read_json(path)
    {'a': [1.5, 2], 'b': 1}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dhstat import schemas
from dhstat.errors import InputError

__all__ = [
    "atomic_dir",
    "atomic_path",
    "canonical_digest",
    "dumps",
    "is_temporary",
    "loads_json",
    "read_json",
    "read_text",
    "remove_temporaries",
    "sha256_file",
    "write_json",
]

#: The marker between a temporary name's random part and its suffix.
_PART = ".part"

#: ``.<name>.<random>.part<suffix>``: the random part is :mod:`tempfile`'s (8 of ``a-z0-9_``).
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.part(?P<suffix>\.[^.]+)?")


def __dir__() -> list[str]:
    return __all__


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    On an exception the temporary file is removed and ``path`` is left as it was. The temporary
    file is hidden and named as :func:`is_temporary` recognises.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.root"
        >>> with atomic_path(target) as temporary:
        ...     _ = temporary.write_bytes(b"1")
        ...     is_temporary(temporary.name), temporary.suffix
        (True, '.root')
        >>> target.read_bytes()
        b'1'
    """
    target = Path(os.path.realpath(path))  # through a symbolic link: its target is written
    if target.exists() and not target.is_file():
        expected = "a regular file or a new path (the file is replaced by renaming)"
        raise InputError(str(path), "(output)", expected, got="a folder, device, pipe or socket")
    _make_parent(target)
    handle, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=_PART + target.suffix
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        if temporary.exists():
            # mkstemp creates 0600 files; give the result the permissions of a normal new file.
            _new_permissions(temporary, 0o666)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def _new_permissions(path: Path, mode: int) -> None:
    """Give ``path`` the permissions a new file (0o666) or folder (0o777) gets under the umask."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(mode & ~umask)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging folder next to ``path``; swap it in for ``path`` if the block succeeds.

    The folder ``path`` then holds exactly what the block wrote (files of an older ``path`` are
    gone). The swap is two renames (the old folder aside, the new one in) and a removal; a process
    killed in between leaves ``path`` missing, never mixed, and only hidden temporary folders that
    :func:`remove_temporaries` recognises. On an exception the staging folder is removed and
    ``path`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "ntuples"
        >>> for names in (["a", "b"], ["c"]):
        ...     with atomic_dir(folder) as staging:
        ...         for name in names:
        ...             _ = (staging / name).write_text(name)
        >>> sorted(p.name for p in folder.parent.iterdir()), sorted(p.name for p in folder.iterdir())
        (['ntuples'], ['c'])
    """
    target = Path(path)
    _make_parent(target)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=_PART))
    try:
        yield staging
        _new_permissions(staging, 0o777)
        if target.is_dir():
            # renaming a folder onto an empty one replaces it: the old folder moves aside
            aside = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=_PART)
            target.replace(aside)
            staging.replace(target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            staging.replace(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def is_temporary(name: str) -> bool:
    """Whether a file or folder name is one of dhstat's temporary names (:func:`atomic_path`).

    Example:
        >>> is_temporary(".data.root.k3j_9x0a.part.root"), is_temporary(".workspaces.ab12cd34.part")
        (True, True)
        >>> is_temporary("data.root"), is_temporary(".data.root.k3j_9x0a.part.json")
        (False, False)
    """
    match = _TEMPORARY.fullmatch(name)
    return match is not None and Path(match["name"]).suffix == (match["suffix"] or "")


def remove_temporaries(folder: str | os.PathLike[str], *, depth: int = 1) -> list[Path]:
    """Remove the temporary files and folders that killed writers left in ``folder``.

    Only names :func:`is_temporary` recognises are touched; subfolders are searched ``depth``
    levels deep (symbolic links are not followed). Call it only where no other process is writing
    (``dhstat run`` holds its run directory's lock).

    Returns:
        What was removed.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("a.json", ".a.json.abcd1234.part.json", ".keep"):
        ...     _ = (folder / name).write_text("x")
        >>> [p.name for p in remove_temporaries(folder)], sorted(p.name for p in folder.iterdir())
        (['.a.json.abcd1234.part.json'], ['.keep', 'a.json'])
    """
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for entry in sorted(root.iterdir()):
        if is_temporary(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
        elif depth > 0 and entry.is_dir() and not entry.is_symlink():
            removed.extend(remove_temporaries(entry, depth=depth - 1))
    return removed


def _finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"refusing to write a non-finite number ({value}) at {where or '(top level)'}"
        raise ValueError(msg)
    if isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _finite(item, f"{where}[{index}]")


def dumps(document: Any, *, indent: int | None = 1) -> str:
    """Serialise ``document`` the way dhstat writes files: sorted keys, no NaN or infinity."""
    _finite(document, "")
    return json.dumps(document, indent=indent, sort_keys=True, allow_nan=False) + "\n"


def write_json(
    path: str | os.PathLike[str],
    document: Any,
    *,
    schema: str | None = None,
    indent: int | None = 1,
) -> None:
    """Write ``document`` as JSON atomically, validating it against ``schema`` first."""
    if schema is not None:
        schemas.validate(document, schema, source=Path(path))
    text = dumps(document, indent=indent)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def read_text(path: str | os.PathLike[str], *, what: str = "file") -> str:
    r"""Read a text input: every file dhstat reads (JSON, TOML) is UTF-8 text.

    Args:
        path: The file.
        what: What the file is, for the message when it is missing (``"an existing <what>"``).

    Raises:
        InputError: the file is missing, unreadable or a folder, or its bytes are not UTF-8
            (naming the offset of the first bad byte).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.toml"
        >>> _ = path.write_bytes(b"a = 1 # caf\xe9")
        >>> read_text(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: .../x.toml: byte 11: expected UTF-8 text, got b'\xe9'
    """
    source = Path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise InputError(source, "(file)", f"an existing {what}") from None
    except IsADirectoryError:
        raise InputError(source, "(file)", f"a {what}, not a folder") from None
    except OSError as error:
        raise InputError(source, "(file)", f"a readable {what} ({error.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start : min(error.end, error.start + 4)]
        raise InputError(source, f"byte {error.start}", "UTF-8 text", got=bad) from None


def read_json(path: str | os.PathLike[str], *, schema: str | None = None) -> Any:
    """Read a JSON file, validating it against ``schema``.

    NaN, Infinity and numbers too large for a float (``1e999``) are refused.

    Raises:
        InputError: the file is missing, is not UTF-8 JSON, or does not match the schema.
    """
    source = Path(path)
    document = loads_json(read_text(source), source=source)
    if schema is not None:
        schemas.validate(document, schema, source=source)
    return document


def loads_json(text: str, *, source: str | os.PathLike[str] | None = None) -> Any:
    """Parse JSON text the way :func:`read_json` does (finite numbers only); errors name ``source``.

    Example:
        >>> loads_json('{"a": [1, 2.5]}')
        {'a': [1, 2.5]}
        >>> loads_json('{"a": 1e999}', source="x.json")
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: x.json: (value): expected finite numbers, got '1e999'
    """
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        field = f"line {error.lineno} column {error.colno}"
        raise InputError(source, field, f"valid JSON ({error.msg})") from None
    except RecursionError:
        raise InputError(source, "(top level)", "JSON nested less deeply") from None
    except _NonFinite as error:
        raise InputError(source, "(value)", "finite numbers", got=error.args[0]) from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise InputError(source, "(number)", str(error).splitlines()[0][:200]) from None


class _NonFinite(ValueError):
    """A JSON number that is not a finite float (NaN, Infinity, 1e999)."""


def _reject_constant(name: str) -> Any:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_digest(document: Any) -> str:
    """SHA-256 of a JSON-serialisable object in canonical form (sorted keys, no spaces).

    Example:
        >>> canonical_digest({"a": 1, "b": 2}) == canonical_digest({"b": 2, "a": 1})
        True
    """
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _make_parent(target: Path) -> None:
    """Create the folder ``target`` is written into; a folder that cannot be made is bad input."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            target, "(folder)", "a folder that can be created", got=error.strerror
        ) from None
