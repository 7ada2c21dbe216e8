"""``dhstat limit``, ``dhstat significance`` and ``dhstat scan``: the statistics stage."""

from __future__ import annotations

import json
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


def _emit(document: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True, allow_nan=False))
    else:
        for line in lines:
            click.echo(line)


def _fmt(value: Any) -> str:
    return "inf" if value is None else f"{value:.6g}"


@click.command("limit")
@click.argument("workspace", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cl", type=float, default=None, help="Credibility level (default: [stats] cl).")
@click.option(
    "--prior",
    type=click.Choice(["flat", "log"]),
    default="flat",
    show_default=True,
    help="Prior on the POI: flat on [0, sigma_max] or flat in ln(POI) on [sigma_min, sigma_max].",
)
@click.option(
    "--sigma-max",
    type=float,
    default=None,
    help="Upper end of the POI prior (default: the POI's upper bound in the workspace).",
)
@click.option(
    "--sigma-min",
    type=float,
    default=None,
    help="Lower end of the log prior (default: [stats] sigma_min).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@config_option
def limit(
    workspace: Path,
    cl: float | None,
    prior: str,
    sigma_max: float | None,
    sigma_min: float | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Bayesian upper limit on the POI of any pyhf WORKSPACE (JSON) with one POI."""
    from dhstat.stats import bayes, generic

    cfg = load_config(config_path)
    table = cfg["stats"]
    settings = generic.Settings.from_config(table)
    model = generic.GenericModel.from_spec(generic.load_spec(workspace), source=str(workspace))
    result = bayes.upper_limit(
        model,
        cl=float(table["cl"]) if cl is None else cl,
        prior="log" if prior == "log" else "flat",
        sigma_max=sigma_max,
        sigma_min=float(table["sigma_min"]) if sigma_min is None else sigma_min,
        settings=settings,
    )
    doc = result.to_dict()
    lines = [
        (
            f"{result.cl:.0%} CL upper limit on {result.poi} ({result.prior} prior): "
            f"{result.upper_limit:.6g}"
        ),
        f"sigma_max = {result.sigma_max:g}"
        + (f", sigma_min = {result.sigma_min:g}" if result.sigma_min is not None else ""),
    ]
    if result.sigma_max_dependent:
        lines.append("warning: the limit depends on sigma_max")
    if result.method == "monte-carlo":
        lines.append(f"Monte Carlo uncertainty: {result.numerical_uncertainty:.3g}")
    _emit(doc, as_json, lines)


@click.command("significance")
@click.argument("workspace", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sigma-max",
    type=float,
    default=None,
    help="Upper end of the POI prior of the "
    "Bayes factor (default: the POI's upper bound in the workspace).",
)
@click.option(
    "--method",
    type=click.Choice(["hybrid", "asymptotic"]),
    default=None,
    help="p-value: hybrid (prior-predictive, quadrature) or asymptotic (pyhf q0); "
    "default: [stats] method.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@config_option
def significance_command(
    workspace: Path,
    sigma_max: float | None,
    method: str | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Local p-value, Z and Bayes factor of any pyhf WORKSPACE (JSON) with one POI."""
    from dhstat.stats import generic, significance

    cfg = load_config(config_path)
    table = cfg["stats"]
    settings = generic.Settings.from_config(table)
    model = generic.GenericModel.from_spec(generic.load_spec(workspace), source=str(workspace))
    chosen = method or str(table["method"])
    result = significance.significance(
        model,
        sigma_max=sigma_max,
        method="asymptotic" if chosen == "asymptotic" else "hybrid",
        settings=settings,
    )
    doc = result.to_dict()
    lines = [
        f"p = {result.p_value:.6g}, Z = {_fmt(doc['z'])} ({result.method})",
        f"Bayes factor B10 = {_fmt(doc['bayes_factor'])} (sigma_max = {result.sigma_max:g})",
    ]
    _emit(doc, as_json, lines)


@click.command("scan")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("results.json"),
    show_default=True,
    help="Results file (schema scan).",
)
@click.option(
    "--sigma-max",
    type=float,
    default=None,
    help="Upper end of the POI prior for all windows (default: each workspace's POI upper bound).",
)
@config_option
@executor_options
def scan_command(
    source: Path,
    output: Path,
    sigma_max: float | None,
    config_path: Path | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Scan a window set: SOURCE is DIR/index.json, its DIR, or a directory of workspaces."""
    from dhstat.jsonio import write_json
    from dhstat.stats import scan

    cfg = load_config(config_path)
    settings = scan.ScanSettings.from_config(cfg["stats"], sigma_max=sigma_max)
    windows, info = scan.read_windows(source)
    with (
        open_executor(cfg, workers, scheduler) as ex,
        progress(len(windows), "scan") as advance,
    ):
        result = scan.scan(windows, settings=settings, info=info, executor=ex, progress=advance)
    document = result.to_dict(config_digest=cfg.digest("stats"))
    write_json(output, document, schema="scan")
    summary = document["summary"]
    top = summary["largest_excess"]
    flat = summary["upper_limit_flat"]
    click.echo(
        f"{summary['n_windows']} windows -> {output}; largest excess: window {top['id']} "
        f"(N = {top['n']}, B = {top['b']:.3g}, Z = {_fmt(top['z'])}, "
        f"B10 = {_fmt(top['bayes_factor'])}); flagged: {summary['n_flagged']}; "
        f"flat limits {_fmt(flat['min'])} .. {_fmt(flat['max'])} fb"
    )


COMMANDS = [limit, significance_command, scan_command]
