"""``dhstat simulate``: fast-simulation samples (signal, background MC, pseudo-data) as ROOT files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dhstat.cli import _common
from dhstat.errors import InputError
from dhstat.processes import BACKGROUNDS

if TYPE_CHECKING:
    from dhstat.config import Config
    from dhstat.simulation import SamplePlan

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


_output = click.option(
    "--output",
    "output",
    type=_common.OutputPath(),
    required=True,
    help="Output ROOT file.",
)
_seed = click.option(
    "--seed",
    type=_common.Integer(minimum=0),
    default=None,
    help="Master seed (default: [run] seed of the config).",
)


def _write_one(
    plan: SamplePlan,
    path: Path,
    cfg: Config,
    workers: int | None,
    scheduler: str | None,
    label: str,
) -> int:
    from dhstat import stages  # local import: start-up time

    with (
        _common.open_executor(cfg, workers, scheduler) as ex,
        _common.bars(label) as progress,
    ):
        return stages.write_sample(plan, path, executor=ex, update=progress(plan.n_events))


def _seed_of(cfg: Config, seed: int | None) -> int:
    return int(cfg["run"]["seed"] if seed is None else seed)


@click.group("simulate", invoke_without_command=True)
@_common.config_option
@click.option(
    "--output",
    "directory",
    type=_common.OutputPath(folder=True),
    default=None,
    help="Directory for everything the default analysis needs (without a subcommand).",
)
@_seed
@_common.executor_options
@click.pass_context
def simulate(
    ctx: click.Context,
    config_path: Path | None,
    directory: Path | None,
    seed: int | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Simulate samples with the fast simulation (built-in default data).

    Without a subcommand: write DIR/data.root (pseudo-data at the [dataset] luminosity, with the
    [simulation.injection] signal if enabled) and DIR/mc_<process>.root for each background at
    [simulation] mc_luminosity_factor x the data luminosity (weights normalised to the data),
    and DIR/samples.toml, the [[samples]] table describing them.
    """
    if ctx.invoked_subcommand is not None:
        return
    if directory is None:
        msg = "give a subcommand, or --output DIR to simulate everything"
        raise click.UsageError(msg)
    from dhstat import stages  # local import: start-up time

    cfg = _common.load_config(config_path)
    with (
        _common.open_executor(cfg, workers, scheduler) as ex,
        _common.bars("simulate") as progress,
    ):
        written = stages.simulate(
            cfg, directory, seed=_seed_of(cfg, seed), executor=ex, progress=progress
        )
    from dhstat.samples import write_samples_table  # local import: start-up time

    table = write_samples_table(directory, list(written))
    for name, entries in written.items():
        click.echo(f"{directory / name}: {entries} events")
    click.echo(f"{table}: the samples table of these ntuples (dhstat run --config {table})")


@simulate.command("signal")
@click.option(
    "--ma", type=_common.Number(minimum=0, min_open=True), required=True, help="A' mass [GeV]."
)
@click.option("--mh", type=_common.Number(minimum=0), required=True, help="h' mass [GeV].")
@click.option("--events", type=_common.Integer(minimum=1), default=None, help="Events to generate.")
@click.option("--no-isr", is_flag=True, help="Switch initial-state radiation off.")
@_seed
@_output
@_common.config_option
@_common.executor_options
def signal(
    ma: float,
    mh: float,
    events: int | None,
    no_isr: bool,
    seed: int | None,
    output: Path,
    config_path: Path | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Signal e+e- -> A'(-> mu mu) h'(invisible) at (M_A', M_h'); weight = L x 1 fb / N."""
    from dhstat.physics.beams import Beams  # local import: start-up time
    from dhstat.simulation import plan_signal  # local import: start-up time

    cfg = _common.load_config(config_path)
    roots = Beams.from_config(cfg).sqrt_s
    mmu = float(cfg["physics"]["muon_mass"])
    if not (ma > 2 * mmu and mh >= 0 and ma + mh < roots):
        msg = "<command line>"
        raise InputError(
            msg,
            "--ma, --mh",
            f"2 m_mu < M_A' and M_A' + M_h' < sqrt(s) = {roots:.4f} GeV",
            got=(ma, mh),
        )
    n = events if events is not None else int(cfg["signal"]["events_per_point"])
    isr = bool(cfg["signal"]["isr"]) and not no_isr
    plan = plan_signal(ma, mh, n, cfg=cfg, seed=_seed_of(cfg, seed), isr=isr)
    entries = _write_one(plan, output, cfg, workers, scheduler, "signal")
    click.echo(f"{output}: {entries} events")


@simulate.command("background")
@click.option(
    "--process",
    type=click.Choice(BACKGROUNDS),
    required=True,
    help="Background process.",
)
@click.option(
    "--lumi",
    type=_common.Number(minimum=0, min_open=True),
    required=True,
    help="Luminosity [fb^-1].",
)
@_seed
@_output
@_common.config_option
@_common.executor_options
def background(
    process: str,
    lumi: float,
    seed: int | None,
    output: Path,
    config_path: Path | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Background MC of PROCESS at LUMI (generator cuts and skim; weights to LUMI)."""
    from dhstat.simulation import plan_background  # local import: start-up time

    cfg = _common.load_config(config_path)
    plan = plan_background(process, lumi, cfg=cfg, seed=_seed_of(cfg, seed))
    entries = _write_one(plan, output, cfg, workers, scheduler, process)
    click.echo(f"{output}: {entries} events")


@simulate.command("data")
@click.option(
    "--lumi",
    type=_common.Number(minimum=0, min_open=True),
    default=None,
    help="Luminosity [fb^-1] (default: [dataset] luminosity_fb).",
)
@click.option(
    "--inject-signal",
    type=(_common.Number(), _common.Number(), _common.Number(minimum=0)),
    default=None,
    metavar="MA MH SIGMA_FB",
    help="Add signal at (M_A', M_h') [GeV] with cross section SIGMA_FB [fb].",
)
@_seed
@_output
@_common.config_option
@_common.executor_options
def data(
    lumi: float | None,
    inject_signal: tuple[float, float, float] | None,
    seed: int | None,
    output: Path,
    config_path: Path | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Pseudo-data: a Poisson realisation of all backgrounds (optionally plus a signal)."""
    from dhstat.physics.beams import Beams  # local import: start-up time
    from dhstat.simulation import Injection, plan_data  # local import: start-up time

    cfg = _common.load_config(config_path)
    roots = Beams.from_config(cfg).sqrt_s
    injection = None
    if inject_signal is not None:
        ma, mh, sigma = inject_signal
        if not (
            ma > 2 * float(cfg["physics"]["muon_mass"])
            and mh >= 0
            and ma + mh < roots
            and sigma >= 0
        ):
            msg = "<command line>"
            raise InputError(
                msg,
                "--inject-signal",
                f"MA MH SIGMA_FB with M_A' + M_h' < {roots:.4f} GeV and SIGMA_FB >= 0",
                got=inject_signal,
            )
        injection = Injection(ma, mh, sigma)
    luminosity = float(cfg["dataset"]["luminosity_fb"]) if lumi is None else lumi
    plan = plan_data(luminosity, cfg=cfg, seed=_seed_of(cfg, seed), injection=injection)
    entries = _write_one(plan, output, cfg, workers, scheduler, "data")
    click.echo(f"{output}: {entries} events")


COMMANDS = [simulate]
