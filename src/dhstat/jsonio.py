"""Reading and writing dhstat's files: atomic writes, schema-checked JSON, digests.

Every file dhstat writes is first written to a temporary file in the destination's directory and
then renamed over the destination, so an interrupted run never leaves a half-written file.

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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dhstat import schemas
from dhstat.errors import InputError

__all__ = ["atomic_path", "canonical_digest", "dumps", "read_json", "sha256_file", "write_json"]


def __dir__() -> list[str]:
    return __all__


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part" + target.suffix
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        if temporary.exists():
            # mkstemp creates 0600 files; give the result the permissions of a normal new file.
            umask = os.umask(0)
            os.umask(umask)
            temporary.chmod(0o666 & ~umask)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


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


def read_json(path: str | os.PathLike[str], *, schema: str | None = None) -> Any:
    """Read a JSON file, validating it against ``schema``.

    Raises:
        InputError: the file is missing, is not JSON, or does not match the schema.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "(file)", "an existing file") from None
    except OSError as error:
        raise InputError(source, "(file)", f"a readable file ({error.strerror})") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        field = f"line {error.lineno} column {error.colno}"
        raise InputError(source, field, f"valid JSON ({error.msg})") from None
    except ValueError as error:
        raise InputError(source, "(value)", str(error)) from None
    if schema is not None:
        schemas.validate(document, schema, source=source)
    return document


def _reject_constant(name: str) -> Any:
    msg = f"finite numbers, got {name}"
    raise ValueError(msg)


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
