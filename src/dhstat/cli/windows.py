"""``dhstat windows`` (grid, fits, C_eta cuts -> windows.json) and ``dhstat count``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dhstat.cli._common import (
    config_option,
    executor_options,
    load_config,
    open_executor,
    progress,
)

__all__ = ["COMMANDS"]


def _background_arrays(paths: list[Path]) -> dict[str, Any]:
    """Selected background MC from files, all processes together (data events dropped)."""
    import numpy as np

    from dhstat import selection

    arrays = selection.read_selected([str(p) for p in paths], tree="search")
    mc = np.isin(arrays["process"], [selection.PROCESSES.index(p) for p in _BACKGROUNDS])
    return {key: np.asarray(value)[mc] for key, value in arrays.items()}


_BACKGROUNDS = ("mumu", "tautau", "eemumu")


@click.command("windows")
@config_option
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
@executor_options
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
    import dataclasses
    import time

    from dhstat import jsonio, windows
    from dhstat.errors import InputError

    cfg = load_config(config_path)
    paths = [*background, *more_background]
    for p in paths:
        if not p.is_file():
            raise InputError(p, "(file)", "an existing selected-events file")
    checkpoint = output.with_name(output.name + ".checkpoint.jsonl")
    if restart:
        checkpoint.unlink(missing_ok=True)
    start = time.perf_counter()
    grid = windows.grid_points(cfg)
    with open_executor(cfg, workers, scheduler) as ex:
        if paths:
            bkg: dict[str, Any] | None = _background_arrays(paths)
            sources = [f"{p} sha256:{jsonio.sha256_file(p)}" for p in paths]
        else:
            bkg = windows.simulate_background(cfg, executor=ex)
            sources = ["simulated default background MC (seed from [run])"]
        with progress(int(grid.in_range.sum()), "windows") as advance:
            result = windows.define(
                cfg, background=bkg, executor=ex, checkpoint=checkpoint, progress=advance
            )
    result = dataclasses.replace(result, meta={**result.meta, "background_files": sources})
    windows.save(result, output)
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


@click.command("count")
@config_option
@click.option(
    "--windows",
    "windows_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Windows file (JSON, schema windows).",
)
@click.option(
    "--data",
    "data_paths",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="Selected data file(s) (repeat for several).",
)
@click.option(
    "--background",
    "background",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="Selected background MC file(s) (repeat, or list them after the option).",
)
@click.argument("more_background", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
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
    import dataclasses

    import numpy as np

    from dhstat import __version__, counting, jsonio, selection, windows

    cfg = load_config(config_path)
    win = windows.load(windows_path)
    data = selection.read_selected([str(p) for p in data_paths], tree="search")
    is_data = data["process"] == selection.PROCESSES.index("data")
    data = {k: np.asarray(v)[is_data] for k, v in data.items()}
    paths = [*background, *more_background]
    mc = selection.read_selected([str(p) for p in paths], tree="search")
    split = counting.split_processes(mc, selection.PROCESSES)
    empty = {k: np.zeros(0) for k in ("mrecoil2", "mmumu2", "ceta", "weight")}
    backgrounds = {p: split.get(p, empty) for p in _BACKGROUNDS}
    result = counting.count(
        win, data, backgrounds, luminosity_fb=float(cfg["dataset"]["luminosity_fb"])
    )
    meta = {
        **result.meta,
        "windows_file": f"{windows_path} sha256:{jsonio.sha256_file(windows_path)}",
        "data_files": [str(p) for p in data_paths],
        "background_files": [str(p) for p in paths],
        "dhstat_version": __version__,
    }
    result = dataclasses.replace(result, meta=meta)
    counting.save(result, output)
    total = result.background_total
    click.echo(
        f"{output}: {len(result)} windows, {result.n_cells} cells; "
        f"{meta['n_data_events']} data events in {meta['n_data_memberships']} window counts "
        f"({meta['windows_per_event']:.2f} windows per event); "
        f"sum of N {int(result.n_observed.sum())}, sum of B {float(total.sum()):.1f}"
    )


COMMANDS = [windows_command, count_command]
