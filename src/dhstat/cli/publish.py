"""``dhstat publish``: the HEPData submission (tables and pyhf workspaces) of a run."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("publish")
@click.argument("outdir", type=_common.InputPath(folder=True, exists=True))
@click.option(
    "--output",
    "-o",
    "output",
    type=_common.OutputPath(),
    default=Path("submission.tar.gz"),
    show_default=True,
    help="The HEPData submission archive to write.",
)
@_common.config_option
def publish_command(outdir: Path, output: Path, config_path: Path | None) -> None:
    """Write the HEPData submission (tables + pyhf workspaces) of the run in OUTDIR."""
    from dhstat import stages  # local import: start-up time

    cfg = _common.load_config(config_path)
    path = stages.publish_run(cfg, outdir, output)
    click.echo(f"{path}: valid HEPData submission ({path.stat().st_size / 1e6:.2f} MB)")


COMMANDS = [publish_command]
