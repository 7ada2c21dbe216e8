"""``dhstat windows``: mass grid, signal fits, Punzi C_eta cuts and efficiencies -> windows.json.

``dhstat windows find --ma X --mh Y`` looks the windows nearest to a mass point up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dhstat.cli import _common
from dhstat.errors import InputError

if TYPE_CHECKING:
    from dhstat.windows import WindowMatch

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


class _WindowsGroup(click.Group):
    """``dhstat windows [OPTIONS] [BACKGROUND]...`` builds the windows; a subcommand looks them up.

    The group takes positional background files, so a first argument that names a subcommand
    (``find``) is read as that subcommand: the group's own arguments are left out of parsing.
    """

    _SUBCOMMAND = "dhstat.cli.windows.subcommand"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[self._SUBCOMMAND] = bool(args) and args[0] in self.commands
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        if ctx.meta.get(self._SUBCOMMAND):
            return [p for p in params if not isinstance(p, click.Argument)]
        return params

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "--output FILE [OPTIONS] [BACKGROUND]...")
        formatter.write_usage(ctx.command_path, "find --ma X --mh Y [OPTIONS]", prefix="       ")


@click.group("windows", cls=_WindowsGroup, invoke_without_command=True)
@_common.config_option
@click.option(
    "--output",
    "-o",
    type=_common.OutputPath(),
    default=None,
    help="Windows file to write (JSON, schema windows); required unless a subcommand is given.",
)
@click.option(
    "--background",
    "background",
    type=_common.InputPath(),
    multiple=True,
    help="Selected background MC file(s) for the Punzi C_eta optimisation (repeat, or list "
    "them after the option); default: simulate and select background MC at [windows] "
    "punzi_background_luminosity_fb per process.",
)
@click.argument("more_background", nargs=-1, type=_common.InputPath())
@click.option(
    "--restart", is_flag=True, help="Ignore an existing checkpoint and recompute every point."
)
@_common.executor_options
@click.pass_context
def windows_command(
    ctx: click.Context,
    config_path: Path | None,
    output: Path | None,
    background: tuple[Path, ...],
    restart: bool,
    workers: int | None,
    scheduler: str | None,
    more_background: tuple[Path, ...] = (),  # not parsed when a subcommand is given
) -> None:
    """Build the search windows: mass grid, signal fits, Punzi C_eta cuts, efficiencies.

    Each grid point is checkpointed in OUTPUT.checkpoint.jsonl, so an interrupted run resumes
    where it stopped, and a re-run with other Punzi settings or background reuses the fitted
    points (--restart recomputes everything).

    `dhstat windows find --ma X --mh Y` prints the windows nearest to a mass point (see
    `dhstat windows find --help`).
    """
    if ctx.invoked_subcommand is not None:
        return
    if output is None:
        output_option = next(p for p in ctx.command.params if p.name == "output")
        raise click.MissingParameter(ctx=ctx, param=output_option)
    _build(config_path, output, [*background, *more_background], restart, workers, scheduler)


def _build(
    config_path: Path | None,
    output: Path,
    paths: list[Path],
    restart: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    from dhstat import stages, windows  # local import: start-up time

    cfg = _common.load_config(config_path)
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


_FLAG_MEANING = {
    "sigma_max": "the limit moves when the prior's upper end sigma_max is raised: the prior, "
    "not only the data, sets it",
    "z": "local Z above the threshold",
    "bayes_factor": "Bayes factor above the threshold",
    "no_sensitivity": "no signal efficiency to speak of: no limit",
}


def _match_lines(m: WindowMatch) -> list[str]:
    where = "inside" if m.inside else "outside"
    head = f"window {m.id}: M_A' = {m.ma:.4f} GeV, M_h' = {m.mh:.4f} GeV"
    centre = f"({m.center[0]:.5g}, {m.center[1]:.5g}) GeV^2"
    axes = f"semi-axes {m.axes[0]:.4g}, {m.axes[1]:.4g} GeV^2, angle {m.angle:.4g} rad"
    lines = [
        f"{head}; distance {m.distance:.3g} ellipse units ({where})",
        f"  ellipse: centre (M_recoil^2, M_mumu^2) = {centre}, {axes}",
        f"  C_eta cut: C_eta < {m.ceta_cut:.4g}",
        f"  workspace: {m.workspace or 'not known here (use --run or --workspaces)'}",
    ]
    r = m.result
    if r is not None:
        eps = "unknown" if r.efficiency is None else f"{r.efficiency:.4g}"
        limit = "none" if r.upper_limit is None else f"{r.upper_limit:.4g} fb"
        lines.append(
            f"  scan: N = {r.n_observed}, B = {r.background:.4g}, efficiency {eps}; "
            f"observed {r.cl:.0%} CL upper limit {limit} (flat prior on [0, {r.sigma_max:g}] fb)"
        )
        band = r.expected_limit
        if band is not None and band[2] is not None:
            line = f"  expected limit (background only): median {band[2]:.4g} fb"
            if band[1] is not None and band[3] is not None:
                line += f", +-1 sd [{band[1]:.4g}, {band[3]:.4g}] fb"
            lines.append(line)
        if r.cls_upper_limit is not None:
            lines.append(f"  CLs upper limit {r.cls_upper_limit:.4g} fb")
        lines += [f"  flag {f}: {_FLAG_MEANING.get(f, 'see the scan')}" for f in r.flags]
    return lines


@windows_command.command("find")
@click.option("--ma", type=_common.Number(), required=True, help="M_A' [GeV].")
@click.option("--mh", type=_common.Number(), required=True, help="M_h' [GeV].")
@click.option(
    "--run",
    "run_dir",
    type=_common.InputPath(folder=True, exists=True),
    default=None,
    help="A run directory (dhstat run): windows, workspace files and the scan's limits.",
)
@click.option(
    "--workspaces",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="A folder of window workspaces with its index.json (or the index itself).",
)
@click.option(
    "--windows",
    "windows_file",
    type=_common.InputPath(exists=True),
    default=None,
    help="A windows file (windows.json).",
)
@click.option(
    "-n",
    "--number",
    type=_common.Integer(minimum=1),
    default=1,
    show_default=True,
    help="How many windows to print, nearest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def find_command(
    ma: float,
    mh: float,
    run_dir: Path | None,
    workspaces: Path | None,
    windows_file: Path | None,
    number: int,
    as_json: bool,
) -> None:
    """Print the window(s) nearest to the masses (M_A', M_h').

    The point is (M_recoil^2, M_mumu^2) = (M_h'^2, M_A'^2); its distance to a window is in units
    of the window's ellipse (the ellipse's quadratic form: <= 1 is inside, 2 is twice as far out
    as the boundary). Printed per window: id, distance, the ellipse (centre, semi-axes, angle),
    the C_eta cut, the workspace file, and with --run the scan's observed limit and flags.
    Without --run, --workspaces or --windows: the windows of the default analysis (their ids are
    those of the published workspaces, workspaces/index.json in the repository).
    """
    from dhstat import stages, windows  # local import: start-up time

    sources = [s for s in (run_dir, workspaces, windows_file) if s is not None]
    if len(sources) > 1:
        msg = "give at most one of --run, --workspaces, --windows"
        raise click.UsageError(msg)
    if not sources:
        windows_file = stages.FROZEN_WINDOWS
    catalogue = windows.open_catalogue(
        run=run_dir, workspaces=workspaces, windows_file=windows_file
    )
    matches = catalogue.nearest(ma, mh, number, source="--ma/--mh")
    n_inside = sum(m.inside for m in matches)
    head = (
        f"M_A' = {ma:g} GeV, M_h' = {mh:g} GeV: "
        + (f"inside {n_inside} of the {len(matches)} nearest" if n_inside else "inside no window")
        + f" ({len(catalogue.windows)} windows of {catalogue.source})"
    )
    lines = [head]
    for m in matches:
        lines += _match_lines(m)
    document: dict[str, Any] = {
        "ma": ma,
        "mh": mh,
        "source": catalogue.source,
        "n_windows": len(catalogue.windows),
        "matches": [m.to_dict() for m in matches],
    }
    _common.emit(document, as_json, lines)


COMMANDS = [windows_command]
