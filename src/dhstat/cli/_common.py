"""Options and helpers shared by the subcommands.

Library modules are imported inside the helpers (``# local import: start-up time``), so that
``dhstat --help`` does not import numpy, pyhf or uproot.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from dhstat.config import Config
    from dhstat.parallel import Executor

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "Bars",
    "bars",
    "config_option",
    "emit",
    "executor_options",
    "fmt",
    "load_config",
    "open_executor",
]


def config_option(function: F) -> F:
    """``--config CFG``: an analysis configuration (TOML) merged over the built-in default."""
    option = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
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
        type=click.IntRange(min=0),
        default=None,
        help="Local worker processes (0: one per core); default: [run] workers.",
    )(function)


def load_config(path: Path | None) -> Config:
    """The configuration at ``path`` merged over the default (the default if ``None``)."""
    from dhstat import config  # local import: start-up time

    return config.load(path)


@contextlib.contextmanager
def open_executor(cfg: Config, workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    """The executor the options (or else the config's ``[run]`` table) ask for."""
    from dhstat import parallel  # local import: start-up time

    run = cfg["run"]
    address = scheduler if scheduler is not None else (run["scheduler"] or None)
    count = workers if workers is not None else run["workers"]
    with parallel.executor(workers=count, scheduler=address) as ex:
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
