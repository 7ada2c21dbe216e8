"""``dhstat windows``: mass grid, signal fits, Punzi C_eta cuts and efficiencies -> windows.json."""

from __future__ import annotations

import time
from pathlib import Path

import click

from dhstat.cli import _common
from dhstat.errors import InputError

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("windows")
@_common.config_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Windows file to write (JSON, schema windows).",
)
@click.option(
    "--background",
    "background",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="Selected background MC file(s) for the Punzi C_eta optimisation (repeat, or list "
    "them after the option); default: simulate and select the default background MC.",
)
@click.argument("more_background", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--restart", is_flag=True, help="Ignore an existing checkpoint and recompute every point."
)
@_common.executor_options
def windows_command(
    config_path: Path | None,
    output: Path,
    background: tuple[Path, ...],
    more_background: tuple[Path, ...],
    restart: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Build the search windows: mass grid, signal fits, Punzi C_eta cuts, efficiencies.

    Each grid point is checkpointed in OUTPUT.checkpoint.jsonl, so an interrupted run resumes
    where it stopped, and a re-run with other Punzi settings or background reuses the fitted
    points (--restart recomputes everything).
    """
    from dhstat import stages, windows  # local import: start-up time

    cfg = _common.load_config(config_path)
    paths = [*background, *more_background]
    for p in paths:
        if not p.is_file():
            raise InputError(p, "(file)", "an existing selected-events file")
    checkpoint = output.with_name(output.name + ".checkpoint.jsonl")
    if restart:
        checkpoint.unlink(missing_ok=True)
    start = time.perf_counter()
    grid = windows.grid_points(windows.GridSettings.from_config(cfg))
    with (
        _common.open_executor(cfg, workers, scheduler) as ex,
        _common.bars("windows") as progress,
    ):
        result = stages.define_windows(
            cfg,
            output=output,
            background=paths,
            checkpoint=checkpoint,
            executor=ex,
            progress=progress,
        )
    summary = result.meta["summary"]
    click.echo(
        f"{output}: {len(result)} windows (grid: {grid.size} points in the triangle, "
        f"{int(grid.in_range.sum())} with M_A' >= {cfg['grid']['analysis_ma_min']} GeV) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    click.echo("fit status: " + ", ".join(f"{k} {v}" for k, v in summary["fit_status"].items()))
    bad = [int(i) for i, s in zip(result.ids, result.fit_status, strict=True) if s != "ok"]
    if bad:
        click.echo(f"points not fitted at the first attempt (ids): {bad[:50]}")
    click.echo(
        f"mean signal fraction inside a window {summary['mean_window_fraction']:.3f} "
        f"({summary['mean_window_fraction_fitted']:.3f} where non-zero); "
        f"mean efficiency {summary['mean_efficiency']:.4f}; "
        f"mean C_eta cut {summary['mean_ceta_cut']:.3f}; median area overlap with the nearest "
        f"neighbour {summary['median_neighbour_overlap']:.3f}, with all others "
        f"{summary['median_union_overlap']:.3f}"
    )
    if "background_windows_per_event" in summary:
        click.echo(
            f"background MC: {summary['background_windows_per_event']:.2f} windows per selected "
            f"event ({summary['background_events']} events)"
        )
    click.echo(f"checkpoint kept (re-runs reuse the fitted points): {checkpoint}")


COMMANDS = [windows_command]
