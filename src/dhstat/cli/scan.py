"""``dhstat scan``: local p-value, Z, Bayes factor and Bayesian upper limits of every window."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("scan")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=_common.OutputPath(),
    default=Path("results.json"),
    show_default=True,
    help="Results file (schema scan).",
)
@click.option(
    "--sigma-max",
    type=_common.Number(minimum=0, min_open=True),
    default=None,
    help="Upper end of the POI prior for all windows (default: each workspace's POI upper bound).",
)
@_common.config_option
@_common.executor_options
def scan_command(
    source: Path,
    output: Path,
    sigma_max: float | None,
    config_path: Path | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Scan a window set: SOURCE is DIR/index.json, its DIR, or a directory of workspaces."""
    from dhstat import stages  # local import: start-up time

    cfg = _common.load_config(config_path)
    with (
        _common.open_executor(cfg, workers, scheduler) as ex,
        _common.bars("scan") as progress,
    ):
        document = stages.scan_windows(
            cfg, source=source, output=output, sigma_max=sigma_max, executor=ex, progress=progress
        )
    summary = document["summary"]
    top = summary["largest_excess"]
    flat = summary["upper_limit_flat"]
    fmt = _common.fmt
    click.echo(
        f"{summary['n_windows']} windows -> {output}; largest excess: window {top['id']} "
        f"(N = {top['n']}, B = {top['b']:.3g}, Z = {fmt(top['z'])}, "
        f"B10 = {fmt(top['bayes_factor'])}); flagged: {summary['n_flagged']}; "
        f"flat limits {fmt(flat['min'])} .. {fmt(flat['max'])} fb"
    )


COMMANDS = [scan_command]
