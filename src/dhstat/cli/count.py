"""``dhstat count``: observed and expected counts per window, and the disjoint cells for the toys."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("count")
@_common.config_option
@click.option(
    "--windows",
    "windows_path",
    type=_common.InputPath(),
    required=True,
    help="Windows file (JSON, schema windows).",
)
@click.option(
    "--data",
    "data_paths",
    type=_common.InputPath(),
    multiple=True,
    required=True,
    help="Selected data file(s) (repeat for several).",
)
@click.option(
    "--background",
    "background",
    type=_common.InputPath(),
    multiple=True,
    required=True,
    help="Selected background MC file(s) (repeat, or list them after the option).",
)
@click.argument("more_background", nargs=-1, type=_common.InputPath())
@click.option(
    "--output",
    "-o",
    type=_common.OutputPath(),
    required=True,
    help="Counts file to write (JSON, schema counts).",
)
def count_command(
    config_path: Path | None,
    windows_path: Path,
    data_paths: tuple[Path, ...],
    background: tuple[Path, ...],
    more_background: tuple[Path, ...],
    output: Path,
) -> None:
    """Count data and expected background per window (and the cells for the LEE toys)."""
    from dhstat import stages  # local import: start-up time

    cfg = _common.load_config(config_path)
    result = stages.count(
        cfg,
        windows_file=windows_path,
        data=list(data_paths),
        background=[*background, *more_background],
        output=output,
    )
    meta = result.meta
    click.echo(
        f"{output}: {len(result)} windows, {result.n_cells} cells; "
        f"{meta['n_data_events']} data events in {meta['n_data_memberships']} window counts "
        f"({meta['windows_per_event']:.2f} windows per event); "
        f"sum of N {int(result.n_observed.sum())}, "
        f"sum of B {float(result.background_total.sum()):.1f}"
    )


COMMANDS = [count_command]
