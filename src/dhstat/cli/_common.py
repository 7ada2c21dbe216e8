"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import contextlib
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
    "config_option",
    "executor_options",
    "load_config",
    "open_executor",
    "progress",
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
    from dhstat import config

    return config.load(path)


@contextlib.contextmanager
def open_executor(cfg: Config, workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    """The executor the options (or else the config's ``[run]`` table) ask for."""
    from dhstat import parallel

    run = cfg["run"]
    address = scheduler if scheduler is not None else (run["scheduler"] or None)
    count = workers if workers is not None else run["workers"]
    with parallel.executor(workers=count, scheduler=address) as ex:
        yield ex


@contextlib.contextmanager
def progress(total: int | None, description: str) -> Iterator[Callable[[int], None]]:
    """A progress callback (advance by n) drawing a tqdm bar on a terminal, silent otherwise."""
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        desc=description,
        disable=not sys.stderr.isatty(),
        leave=False,
        dynamic_ncols=True,
    )
    try:
        yield bar.update
    finally:
        bar.close()
