"""``dhstat significance``: local p-value, Z and Bayes factor of any pyhf workspace with one POI."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("significance")
@click.argument("workspace", type=_common.InputPath())
@click.option(
    "--sigma-max",
    type=_common.Number(minimum=0, min_open=True),
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
@_common.config_option
def significance_command(
    workspace: Path,
    sigma_max: float | None,
    method: str | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Local p-value, Z and Bayes factor of any pyhf WORKSPACE (JSON) with one POI."""
    from dhstat.stats import generic, significance  # local import: start-up time

    cfg = _common.load_config(config_path)
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
        f"p = {result.p_value:.6g}, Z = {_common.fmt(doc['z'])} ({result.method})",
        f"Bayes factor B10 = {_common.fmt(doc['bayes_factor'])} (sigma_max = {result.sigma_max:g})",
    ]
    _common.emit(doc, as_json, lines)


COMMANDS = [significance_command]
