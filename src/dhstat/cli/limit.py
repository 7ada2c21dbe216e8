"""``dhstat limit``: Bayesian upper limit on the POI of any pyhf workspace with one POI."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("limit")
@click.argument("workspace", type=_common.InputPath())
@click.option(
    "--cl",
    type=_common.Number(minimum=0, maximum=1, min_open=True, max_open=True),
    default=None,
    help="Credibility level (default: [stats] cl).",
)
@click.option(
    "--prior",
    type=click.Choice(["flat", "log"]),
    default="flat",
    show_default=True,
    help="Prior on the POI: flat on [0, sigma_max] or flat in ln(POI) on [sigma_min, sigma_max].",
)
@click.option(
    "--sigma-max",
    type=_common.Number(minimum=0, min_open=True),
    default=None,
    help="Upper end of the POI prior (default: the POI's upper bound in the workspace).",
)
@click.option(
    "--sigma-min",
    type=_common.Number(minimum=0, min_open=True),
    default=None,
    help="Lower end of the log prior (default: [stats] sigma_min).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@_common.config_option
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
    from dhstat.stats import bayes, generic  # local import: start-up time

    cfg = _common.load_config(config_path)
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
    _common.emit(doc, as_json, lines)


COMMANDS = [limit]
