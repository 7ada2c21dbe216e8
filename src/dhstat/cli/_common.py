"""Options and helpers shared by the subcommands.

Library modules are imported inside the helpers (``# local import: start-up time``), so that
``dhstat --help`` does not import numpy, pyhf or uproot.

Option values are checked when the command line is parsed, before anything is read or written: the
parameter types here (:class:`Number`, :class:`Integer`, :class:`InputPath`, :class:`OutputPath`)
raise :class:`~dhstat.errors.InputError` naming the option, which the CLI prints as one
``error:`` line with exit code 2 (click's own ``BadParameter`` would print a usage block).

Example:
    >>> import click
    >>> Number(minimum=0, min_open=True).convert("nan", None, None)
    Traceback (most recent call last):
    ...
    dhstat.errors.InputError: <command line>: (value): expected a finite number > 0, got 'nan'
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dhstat.errors import InputError

if TYPE_CHECKING:
    from dhstat.config import Config
    from dhstat.parallel import Executor

    # click >= 8.4 makes ParamType generic in the converted value's type; older click is not.
    _FloatType = click.ParamType[float]
    _IntType = click.ParamType[int]
    _PathType = click.ParamType[Path]
else:
    _FloatType = _IntType = _PathType = click.ParamType

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "COMMAND_LINE",
    "Bars",
    "InputPath",
    "Integer",
    "Number",
    "OutputPath",
    "bars",
    "check_output",
    "config_option",
    "emit",
    "executor_options",
    "fmt",
    "load_config",
    "open_executor",
]

#: The source named by errors in command-line values.
COMMAND_LINE = "<command line>"

_INT64 = 2**63


def __dir__() -> list[str]:
    return __all__


def _field(param: click.Parameter | None) -> str:
    """The option as the user writes it (``--sigma-max``), or the argument's name (``WORKSPACE``)."""
    if param is None:
        return "(value)"
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    return param.human_readable_name


class Number(_FloatType):
    """A finite float, optionally bounded (``nan``, ``inf`` and out-of-range values are refused).

    Example:
        >>> Number(minimum=0, maximum=1, min_open=True, max_open=True).convert("0.9", None, None)
        0.9
        >>> Number(minimum=0, maximum=1, min_open=True, max_open=True).expected
        'a finite number in (0, 1)'
    """

    name = "number"

    def __init__(
        self,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        min_open: bool = False,
        max_open: bool = False,
    ) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.min_open, self.max_open = min_open, max_open

    @property
    def expected(self) -> str:
        """What the option takes, phrased to follow "expected"."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            left, right = "(" if self.min_open else "[", ")" if self.max_open else "]"
            return f"a finite number in {left}{low:g}, {high:g}{right}"
        if low is not None:
            return f"a finite number {'>' if self.min_open else '>='} {low:g}"
        if high is not None:
            return f"a finite number {'<' if self.max_open else '<='} {high:g}"
        return "a finite number"

    def convert(
        self,
        value: Any,
        param: click.Parameter | None,
        ctx: click.Context | None,  # noqa: ARG002
    ) -> float:
        """The value as a float, or :class:`InputError` naming the option."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(COMMAND_LINE, _field(param), self.expected, got=value) from None
        low, high = self.minimum, self.maximum
        inside = math.isfinite(number) and not (
            (low is not None and (number <= low if self.min_open else number < low))
            or (high is not None and (number >= high if self.max_open else number > high))
        )
        if not inside:
            raise InputError(COMMAND_LINE, _field(param), self.expected, got=value)
        return number


class Integer(_IntType):
    """A whole number within 64 bits, at least ``minimum``.

    Example:
        >>> Integer(minimum=0).convert("-1", None, None)
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: <command line>: (value): expected an integer >= 0, got '-1'
    """

    name = "integer"

    def __init__(self, *, minimum: int | None = None) -> None:
        self.minimum = minimum

    def convert(
        self,
        value: Any,
        param: click.Parameter | None,
        ctx: click.Context | None,  # noqa: ARG002
    ) -> int:
        """The value as an int, or :class:`InputError` naming the option."""
        expected = "an integer" if self.minimum is None else f"an integer >= {self.minimum}"
        try:
            number = value if isinstance(value, int) else int(str(value).strip(), 10)
        except ValueError:
            raise InputError(COMMAND_LINE, _field(param), expected, got=value) from None
        if isinstance(number, bool) or not -_INT64 <= number < _INT64:
            raise InputError(COMMAND_LINE, _field(param), f"{expected} within 64 bits", got=value)
        if self.minimum is not None and number < self.minimum:
            raise InputError(COMMAND_LINE, _field(param), expected, got=value)
        return number


def _exists(path: Path, field: str) -> bool:
    try:
        return path.exists() or path.is_symlink()
    except (OSError, ValueError) as error:  # a name too long, a NUL byte
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(COMMAND_LINE, field, f"a usable path ({reason})", got=str(path)) from None


def check_output(path: Path, field: str, *, folder: bool = False) -> None:
    """Check up front that ``path`` can be written: the right kind, in a writable folder.

    dhstat writes by renaming a temporary file (or folder) made next to ``path``, and creates
    missing parent folders, so the nearest existing ancestor must be a writable folder.

    Args:
        path: The file (or, with ``folder``, the folder) a command will write.
        field: The option, for the message.
        folder: ``path`` is a folder that the command fills.

    Raises:
        InputError: a folder where a file goes (or the reverse), a file where a parent folder
            should be, or no permission to write.

    Example:
        >>> import tempfile
        >>> check_output(Path(tempfile.mkdtemp()), "--output")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: <command line>: --output: expected a file to write (a folder ...
    """
    if _exists(path, field):
        if folder and not path.is_dir():
            raise InputError(
                COMMAND_LINE, field, "a folder to write (a file is there)", got=str(path)
            )
        if not folder and path.is_dir():
            raise InputError(
                COMMAND_LINE, field, "a file to write (a folder is there)", got=str(path)
            )
        if not (path.is_dir() or path.is_file()):
            expected = "a file to write (a device, pipe or socket is there)"
            raise InputError(COMMAND_LINE, field, expected, got=str(path))
    places = [path] if folder and path.is_dir() else []
    ancestor = path.parent
    while not _exists(ancestor, field) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        expected = f"a path inside a folder ({ancestor} is not a folder)"
        raise InputError(COMMAND_LINE, field, expected, got=str(path))
    for place in [*places, ancestor]:
        if not _can_create_in(place):
            expected = f"a writable location (cannot create files in {place})"
            raise InputError(COMMAND_LINE, field, expected, got=str(path))


def _can_create_in(folder: Path) -> bool:
    """Whether a folder can be made in ``folder`` (a real probe: permissions are not enough)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        probe = tempfile.mkdtemp(dir=folder, prefix=".dhstat-probe.")
    except OSError:
        return False
    Path(probe).rmdir()
    return True


class OutputPath(_PathType):
    """A file (or folder) to write, checked with :func:`check_output` when the options are parsed."""

    name = "path"

    def __init__(self, *, folder: bool = False) -> None:
        self.folder = folder

    def convert(
        self,
        value: Any,
        param: click.Parameter | None,
        ctx: click.Context | None,  # noqa: ARG002
    ) -> Path:
        """The value as a :class:`~pathlib.Path` that can be written."""
        path = Path(value)
        check_output(path, _field(param), folder=self.folder)
        return path


class InputPath(_PathType):
    """A file (or folder) to read: the wrong kind, or a missing one with ``exists``, is refused.

    A missing file is otherwise left to the reader, whose error also names the file.

    Example:
        >>> InputPath(folder=True, exists=True).convert("/no/such/folder", None, None)
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: <command line>: (value): expected an existing folder, got '/no/such/folder'
    """

    name = "path"

    def __init__(self, *, folder: bool = False, exists: bool = False) -> None:
        self.folder, self.exists = folder, exists

    def convert(
        self,
        value: Any,
        param: click.Parameter | None,
        ctx: click.Context | None,  # noqa: ARG002
    ) -> Path:
        """The value as a :class:`~pathlib.Path`."""
        path, field = Path(value), _field(param)
        kind = "folder" if self.folder else "file"
        if _exists(path, field):
            if self.folder != path.is_dir():
                raise InputError(COMMAND_LINE, field, f"a {kind}", got=str(path))
        elif self.exists:
            raise InputError(COMMAND_LINE, field, f"an existing {kind}", got=str(path))
        return path


def config_option(function: F) -> F:
    """``--config CFG``: an analysis configuration (TOML) merged over the built-in default."""
    option = click.option(
        "--config",
        "config_path",
        type=InputPath(),
        default=None,
        help="Analysis configuration (TOML), merged over the built-in default.",
    )
    return option(function)


def executor_options(function: F) -> F:
    """``--workers N`` and ``--scheduler ADDRESS``."""
    function = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="dask.distributed scheduler (tcp://host:port); default: [run] scheduler or local.",
    )(function)
    return click.option(
        "--workers",
        type=Integer(minimum=0),
        default=None,
        help="Local worker processes (0: one per core); default: [run] workers.",
    )(function)


def load_config(path: Path | None) -> Config:
    """The configuration at ``path`` merged over the default (the default if ``None``)."""
    from dhstat import config  # local import: start-up time

    return config.load(path)


@contextlib.contextmanager
def open_executor(cfg: Config, workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    """The executor the options (or else the config's ``[run]`` table, its cluster too) ask for."""
    from dhstat import parallel  # local import: start-up time

    run = cfg["run"]
    address = scheduler if scheduler is not None else (run["scheduler"] or None)
    count = workers if workers is not None else run["workers"]
    cluster = (
        None if scheduler is not None else parallel.ClusterSpec.from_run(run, source=cfg.source)
    )
    with parallel.executor(workers=count, scheduler=address, cluster=cluster) as ex:
        yield ex


class Bars:
    """A progress-bar factory for the stage functions: tqdm bars on a terminal, silent otherwise.

    ``bars(total, description)`` opens a bar and returns the function that advances it; every
    bar opened is closed by :meth:`close` (called between the stages of ``dhstat run``).
    """

    def __init__(self, stage: str = "") -> None:
        self.open: list[Any] = []
        self.stage = stage

    def __call__(self, total: int | None, description: str = "") -> Callable[[int], None]:
        """Open a bar of ``total`` items (``None``: unknown); returns its ``update(n)``."""
        from tqdm import tqdm  # local import: start-up time

        label = f"{self.stage}: {description}" if self.stage and description else description
        bar = tqdm(
            total=total,
            desc=label or self.stage,
            disable=not sys.stderr.isatty(),
            leave=False,
            dynamic_ncols=True,
        )
        self.open.append(bar)
        return bar.update  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close every bar opened so far."""
        for bar in self.open:
            bar.close()
        self.open.clear()


@contextlib.contextmanager
def bars(stage: str = "") -> Iterator[Bars]:
    """A :class:`Bars` factory whose bars are closed when the block ends."""
    factory = Bars(stage)
    try:
        yield factory
    finally:
        factory.close()


def fmt(value: Any) -> str:
    """A number for people; ``None`` (an infinite value in JSON) as ``inf``."""
    return "inf" if value is None else f"{value:.6g}"


def emit(document: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    """Print ``document`` as sorted JSON, or else ``lines``."""
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True, allow_nan=False))
    else:
        for line in lines:
            click.echo(line)
