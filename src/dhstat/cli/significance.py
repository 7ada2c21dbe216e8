"""``dhstat significance``: local p-value, Z and Bayes factor of any pyhf workspace with one POI."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dhstat.cli import _common, _workspace_inputs
from dhstat.errors import InputError

if TYPE_CHECKING:
    from dhstat.stats import significance

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
    help="p-value: hybrid (prior-predictive: quadrature for one bin, toys otherwise) or "
    "asymptotic (pyhf q0); "
    "default: [stats] method.",
)
@click.option(
    "--toys",
    "max_toys",
    type=_common.Integer(minimum=1000),
    default=1_000_000,
    show_default=True,
    help="Most toys of the hybrid p-value of multi-bin models (adaptive: it stops once the "
    "relative error of p is below --toy-precision).",
)
@click.option(
    "--toy-precision",
    type=_common.Number(minimum=0, maximum=1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Target relative Monte Carlo error of the toys' p-value.",
)
@_workspace_inputs.workspace_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@_common.config_option
def significance_command(
    workspace: Path,
    sigma_max: float | None,
    method: str | None,
    max_toys: int,
    toy_precision: float,
    member: str | None,
    patch: str | None,
    patchset: str | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Local p-value, Z and Bayes factor of any pyhf WORKSPACE with one POI.

    The hybrid p-value is exact (quadrature) for one bin without free parameters; otherwise it
    comes from toys of sum_i n_i ln(1 + s_i/b_i) under the background-only prior predictive, with
    its Monte Carlo error (free normalisations: their background-only Laplace posterior).

    WORKSPACE is a pyhf workspace JSON file; with --patchset FILE --patch NAME, the
    background-only workspace of a HEPData likelihood and the patch (signal point) to apply.
    It may also be a .tar.gz archive as downloaded from HEPData, read in memory: --workspace
    and --patchset then name members of the archive (default: its single *BkgOnly*.json and
    *patchset*.json, or its single JSON file), e.g.
    dhstat significance likelihoods.tar.gz --patch NAME
    """
    from dhstat.stats import generic, hybrid, significance  # local import: start-up time

    cfg = _common.load_config(config_path)
    table = cfg["stats"]
    settings = generic.Settings.from_config(table)
    loaded = _workspace_inputs.read(workspace, member, patchset, patch)
    model = generic.GenericModel.from_spec(loaded.spec, source=loaded.source)
    chosen = method or str(table["method"])
    toys = hybrid.HybridSettings(
        target_relative_error=toy_precision,
        min_toys=min(10_000, max_toys),
        max_toys=max_toys,
        batch_size=min(2_000, max_toys),
        seed=settings.mc_seed,
    )
    result = significance.significance(
        model,
        sigma_max=sigma_max,
        method="asymptotic" if chosen == "asymptotic" else "hybrid",
        settings=settings,
        toys=toys,
    )
    if result.log_bayes_factor is not None and math.isinf(result.bayes_factor):
        # the command's contract: B10 beyond the float range is one line (with ln B10, p and Z)
        raise InputError(
            model.source,
            "observations",
            "data whose Bayes factor B10 is below the largest float, 1.8e308 "
            f"(ln B10 = {result.log_bayes_factor:.6g}: the background-only model is excluded "
            f"beyond that; p = {result.p_value:.3g}, Z = {result.z:.6g})",
        )
    doc = result.to_dict()
    _common.emit(doc, as_json, _lines(result, doc))


def _lines(result: significance.Significance, doc: dict[str, Any]) -> list[str]:
    if result.toys and result.p_value == 0:
        first = (
            f"p < {result.p_value_uncertainty:.3g}, Z > {_common.fmt(doc['z_lower'])} "
            f"(95% CL; hybrid: no toy of {result.toys} as signal-like as the data)"
        )
    elif result.toys:
        first = (
            f"p = {result.p_value:.6g} +- {result.p_value_uncertainty:.2g}, "
            f"Z = {result.z:.4g} +- {result.z_uncertainty:.2g} (hybrid, {result.toys} toys)"
        )
    elif result.integration == "importance-sampling" and result.log_p_value is not None:
        first = (
            f"p = {result.p_value:.6g} (ln p = {result.log_p_value:.10g}), "
            f"Z = {result.z:.6g} +- {result.z_uncertainty:.2g} (hybrid, importance sampling)"
        )
    else:
        first = f"p = {result.p_value:.6g}, Z = {_common.fmt(doc['z'])} ({result.method})"
    if result.bayes_factor < math.inf:
        second = f"Bayes factor B10 = {_common.fmt(doc['bayes_factor'])}"
    else:  # not reached from the command (see above); kept for a complete formatter
        second = f"Bayes factor B10 > 1.8e308 (ln B10 = {result.log_bayes_factor:.6g})"
    lines = [first, second + f" (sigma_max = {result.sigma_max:g})"]
    if result.free_parameters:
        names = ", ".join(result.free_parameters)
        lines.append(f"free parameters ({names}): {result.free_parameter_treatment}")
    return lines


COMMANDS = [significance_command]
