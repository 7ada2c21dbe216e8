"""``dhstat limit``: Bayesian upper limit on the POI of any pyhf workspace with one POI."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dhstat.cli import _common, _workspace_inputs
from dhstat.errors import InputError

if TYPE_CHECKING:
    from dhstat.stats.expected_toys import ToyBand
    from dhstat.stats.generic import GenericModel, PriorOverride
    from dhstat.stats.generic_bayes import UpperLimit

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
@_workspace_inputs.workspace_options
@click.option(
    "--fix",
    "fix",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fix a parameter (repeatable; NAME or NAME[i] of a vector parameter), as pyhf's --fix.",
)
@click.option(
    "--prior-of",
    "prior_of",
    multiple=True,
    metavar="NAME=normal:MU,SD|flat:LO,HI",
    help="Prior of one nuisance parameter instead of its constraint term (repeatable).",
)
@click.option(
    "--expected",
    is_flag=True,
    help="Also the expected limits (median, +-1 sd, +-2 sd) from background-only toys, with "
    "their Monte Carlo errors.",
)
@click.option(
    "--toys",
    type=_common.Integer(minimum=20),
    default=200,
    show_default=True,
    help="Toys of --expected (one limit each).",
)
@click.option(
    "--sampler",
    type=click.Choice(["default", "nuts"]),
    default="default",
    show_default=True,
    help="nuts: sample the joint posterior with NUTS (numpyro on pyhf's jax backend; needs "
    "pip install 'dhstat[nuts]'), for large models whose posterior is far from Gaussian.",
)
@click.option(
    "--draws",
    type=_common.Integer(minimum=20),
    default=None,
    help="Draws per chain of --sampler nuts (default 1000; 4 chains, 500 warm-up iterations each).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@_common.config_option
def limit(
    workspace: Path,
    cl: float | None,
    prior: str,
    sigma_max: float | None,
    sigma_min: float | None,
    member: str | None,
    patch: str | None,
    patchset: str | None,
    fix: tuple[str, ...],
    prior_of: tuple[str, ...],
    expected: bool,
    toys: int,
    sampler: str,
    draws: int | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Bayesian upper limit on the POI of any pyhf WORKSPACE with one POI.

    WORKSPACE is a pyhf workspace JSON file; with --patchset FILE --patch NAME, the
    background-only workspace of a HEPData likelihood and the patch (signal point) to apply.
    It may also be a .tar.gz archive as downloaded from HEPData, read in memory: --workspace
    and --patchset then name members of the archive (default: its single *BkgOnly*.json and
    *patchset*.json, or its single JSON file), e.g.
    dhstat limit likelihoods.tar.gz --patch NAME
    """
    from dhstat.stats import bayes, expected_toys, generic  # local import: start-up time

    cfg = _common.load_config(config_path)
    table = cfg["stats"]
    settings = generic.Settings.from_config(table)
    loaded = _workspace_inputs.read(workspace, member, patchset, patch)
    overrides = _priors(prior_of)
    if expected and overrides:
        raise InputError(
            _PRIOR_OF,
            prior_of[0],
            "no --prior-of with --expected (toys use the workspace's constraint terms)",
        )
    if sampler == "nuts" and expected:
        raise InputError(_SAMPLER, "--expected", "no --expected (one NUTS run per toy)")
    if sampler != "nuts" and draws is not None:
        raise InputError(_DRAWS, str(draws), "--draws only with --sampler nuts")
    model = generic.GenericModel.from_spec(
        loaded.spec, source=loaded.source, fix=_fixes(fix), priors=overrides
    )
    if sampler == "nuts":
        settings_ = _NutsCall(cl, prior, sigma_max, sigma_min, draws or 1000, settings.mc_seed)
        _common.emit(*_nuts_limit(model, settings_, table, as_json))
        return

    def limit_of(m: generic.GenericModel) -> bayes.UpperLimit:
        return bayes.upper_limit(
            m,
            cl=float(table["cl"]) if cl is None else cl,
            prior="log" if prior == "log" else "flat",
            sigma_max=sigma_max,
            sigma_min=float(table["sigma_min"]) if sigma_min is None else sigma_min,
            settings=settings,
        )

    result = limit_of(model)
    doc = result.to_dict()
    band = None
    if expected:
        bars = _common.Bars("limit")
        try:
            band = expected_toys.expected_upper_limits_workspace(
                model,
                lambda m: limit_of(m).upper_limit,
                toys=toys,
                seed=settings.mc_seed,
                update=bars(toys, "expected-limit toys"),
            )
        finally:
            bars.close()
        doc["expected"] = band.to_dict()
    _common.emit(doc, as_json, _lines(result, band))


@dataclass(frozen=True, slots=True)
class _NutsCall:
    """The options of ``dhstat limit --sampler nuts``."""

    cl: float | None
    prior: str
    sigma_max: float | None
    sigma_min: float | None
    draws: int
    seed: int


def _nuts_limit(
    model: GenericModel, call: _NutsCall, table: Mapping[str, Any], as_json: bool
) -> tuple[dict[str, Any], bool, list[str]]:
    """The NUTS limit's JSON document, ``as_json`` and its text lines."""
    from dhstat.stats import nuts  # local import: start-up time (and jax is optional)

    result = nuts.nuts_upper_limit(
        model,
        cl=float(table["cl"]) if call.cl is None else call.cl,
        prior="log" if call.prior == "log" else "flat",
        sigma_max=call.sigma_max,
        sigma_min=float(table["sigma_min"]) if call.sigma_min is None else call.sigma_min,
        seed=call.seed,
        settings=nuts.NutsSettings(draws=call.draws),
    )
    lines = [
        (
            f"{result.cl:.0%} CL upper limit on {result.poi} ({result.prior} prior): "
            f"{result.upper_limit:.6g}"
        ),
        f"sigma_max = {result.sigma_max:g}"
        + (f", sigma_min = {result.sigma_min:g}" if result.sigma_min is not None else ""),
        f"numerical uncertainty (nuts, Monte Carlo): {result.numerical_uncertainty:.3g}",
        (
            f"NUTS: {result.chains} chains x {result.draws} draws ({result.warmup} warm-up), "
            f"{result.n_parameters} parameters, seed {result.seed}"
        ),
        (
            f"R-hat: max {result.rhat:.4f} (POI {result.rhat_poi:.4f}); bulk ESS: min "
            f"{result.ess_bulk:.0f} (POI {result.ess_poi:.0f}); "
            f"ESS at the limit {result.ess_limit:.0f}"
        ),
        (
            f"divergent transitions: {result.divergences}; "
            f"draws at the largest tree depth: {result.max_depth_hits}"
        ),
    ]
    lines += [f"warning: {problem}" for problem in result.problems]
    lines += _parameter_lines(result.parameters, result.fixed)
    return result.to_dict(), as_json, lines


def _parameter_lines(
    parameters: tuple[dict[str, object], ...], fixed: Mapping[str, float]
) -> list[str]:
    """One line per nuisance prior and per fixed parameter."""
    lines = []
    for item in parameters:
        extra = {k: v for k, v in item.items() if k not in ("name", "kind")}
        values = ", ".join(f"{k}={v:g}" for k, v in extra.items() if isinstance(v, float))
        lines.append(f"prior of {item['name']}: {item['kind']}({values})")
    for name, value in fixed.items():
        lines.append(f"fixed: {name} = {value:g}")
    return lines


def _lines(result: UpperLimit, band: ToyBand | None) -> list[str]:
    """The text output of ``dhstat limit``."""
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
    if result.method != "quadrature":
        lines.append(f"numerical uncertainty ({result.method}): {result.numerical_uncertainty:.3g}")
    if not result.proposal_ok:
        lines.append("warning: few effective importance-sampling draws; the uncertainty is rough")
    lines += _parameter_lines(result.parameters, result.fixed)
    if band is not None:
        lines.append(f"expected ({band.toys} background-only toys; Monte Carlo error):")
        for z, q, e in zip(band.sigmas, band.limits, band.errors, strict=True):
            label = "median" if z == 0 else f"{z:+g} sd"
            lines.append(f"  {label:>7}: {q:.6g} +- {e:.2g}")
    return lines


_FIX = "--fix"
_SAMPLER = "--sampler nuts"
_DRAWS = "--draws"
_PRIOR_OF = "--prior-of"


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise InputError(option, text, "NAME=VALUE")
    return name.strip(), value.strip()


def _fixes(items: tuple[str, ...]) -> dict[str, float]:
    """``--fix NAME=VALUE`` options as a mapping (a later one wins)."""
    out = {}
    for item in items:
        name, value = _pair(item, _FIX)
        try:
            number = float(value)
        except ValueError:
            raise InputError(_FIX, item, "NAME=VALUE with a number VALUE") from None
        if not math.isfinite(number):
            raise InputError(_FIX, item, "a finite VALUE")
        out[name] = number
    return out


def _priors(items: tuple[str, ...]) -> dict[str, PriorOverride]:
    """``--prior-of NAME=normal:MU,SD`` / ``NAME=flat:LO,HI`` options as a mapping.

    Example:
        >>> _priors(("alpha_jes=normal:0.1,0.5", "mu_bkg=flat:0,5"))
        {'alpha_jes': ('normal', 0.1, 0.5), 'mu_bkg': ('flat', 0.0, 5.0)}
    """
    out: dict[str, PriorOverride] = {}
    expected = "NAME=normal:MU,SD or NAME=flat:LO,HI (finite numbers, SD > 0, LO < HI)"
    for item in items:
        name, value = _pair(item, _PRIOR_OF)
        kind, _, numbers = value.partition(":")
        parts = numbers.split(",")
        try:
            a, b = (float(x) for x in parts)
        except ValueError:
            raise InputError(_PRIOR_OF, item, expected) from None
        if kind == "normal" and math.isfinite(a) and 0 < b < math.inf:
            out[name] = ("normal", a, b)
        elif kind == "flat" and math.isfinite(a) and math.isfinite(b) and a < b:
            out[name] = ("flat", a, b)
        else:
            raise InputError(_PRIOR_OF, item, expected)
    return out


COMMANDS = [limit]
