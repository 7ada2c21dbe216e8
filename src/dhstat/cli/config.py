"""``dhstat config``: show and check analysis configurations."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.group("config")
def config_group() -> None:
    """Show the built-in default configuration, or check a configuration file."""


@config_group.command("show")
def show() -> None:
    """Print the default configuration (TOML, commented) to copy and edit."""
    from dhstat import config  # local import: start-up time

    click.echo(config.default_text(), nl=False)


@config_group.command("check")
@click.argument("path", type=_common.InputPath())
def check(path: Path) -> None:
    """Validate the configuration PATH; print its digest if it is valid."""
    from dhstat import config  # local import: start-up time

    cfg = config.load(path)
    click.echo(f"{path}: valid (digest {cfg.digest()[:16]})")


COMMANDS = [config_group]
