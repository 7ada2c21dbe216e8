"""The ``dhstat`` command line: one subcommand per stage, listed in pipeline order.

Each module of this package defines the commands of one stage and lists them in ``COMMANDS``.
Commands are thin: they read files, make one library call, write files, and print. Library
modules are imported inside the command functions so that ``dhstat --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys
from typing import Any

import click

from dhstat import __version__
from dhstat.errors import InputError

__all__ = ["PIPELINE", "cli", "main"]

# One BLAS thread per process unless the user says otherwise, set before numpy loads (the commands
# import it later): dhstat parallelises over processes, and on a loaded machine spinning BLAS
# threads made a 200 x 200 solve of the Bayesian integration 100 times slower.
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

#: Subcommands in the order ``dhstat --help`` lists them: the pipeline, then the tools.
PIPELINE = (
    "config",
    "simulate",
    "select",
    "windows",
    "count",
    "workspaces",
    "scan",
    "lee",
    "interpret",
    "report",
    "publish",
    "run",
    "limit",
    "significance",
    "reinterpret",
)


def __dir__() -> list[str]:
    return __all__


class _PipelineGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        order = {name: index for index, name in enumerate(PIPELINE)}
        return sorted(names, key=lambda name: (order.get(name, len(order)), name))


@click.group(cls=_PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dhstat")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """dhstat: sliding-window searches with pyhf (Belle II dark Higgsstrahlung).

    The subcommands below are the stages of the analysis, in order; `dhstat run` runs them all.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)


def _register() -> None:
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> Any:
    """Run the command line; bad input becomes one ``error:`` line and exit code 2."""
    try:
        return cli.main(args=argv, prog_name="dhstat", standalone_mode=False)
    except InputError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as error:  # unknown option, missing argument, bad value: one line
        context = f"{error.ctx.command_path}: " if error.ctx is not None else ""
        click.echo(f"error: {context}{' '.join(error.format_message().split())}", err=True)
        sys.exit(2)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
