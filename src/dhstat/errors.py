"""The exception that bad input raises.

Every problem with a user's input (a file, a configuration, a branch, a workspace) is reported as
one :class:`InputError` whose message names where the problem is (file and field) and what was
expected there. The command-line interface prints it as one line and exits with code 2.

Example:
    >>> err = InputError("cfg.toml", "beams.e_her", "a positive number", got=-1.0)
    >>> str(err)
    'cfg.toml: beams.e_her: expected a positive number, got -1.0'
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["InputError"]


def __dir__() -> list[str]:
    return __all__


class InputError(ValueError):
    """Bad input: names the source (file), the field inside it, and what was expected.

    Args:
        source: The file (or other input) at fault; ``"<input>"`` when there is none.
        field: Where inside the source: a JSON path, config key, branch name or window id.
        expected: What was expected there, phrased to follow "expected".
        got: What was found, if it helps; omitted from the message when ``None``.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | None,
        field: str,
        expected: str,
        *,
        got: Any = None,
    ) -> None:
        self.source = str(source) if source is not None else "<input>"
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{self.source}: {field}: expected {expected}"
        if got is not None:
            message += f", got {got!r}"
        # one line, always: messages from libraries (uproot, jsonschema) can span several
        super().__init__(" ".join(message.split()))

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only ``got`` needs a helper so errors survive pickling across worker processes.
        return (_rebuild, (self.source, self.field, self.expected, self.got))


def _rebuild(source: str, field: str, expected: str, got: Any) -> InputError:
    return InputError(source, field, expected, got=got)
