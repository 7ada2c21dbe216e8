"""``dhstat run``: the whole analysis from one configuration, resumable, with a summary."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from dhstat.cli import _common
from dhstat.errors import InputError

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("run")
@click.argument("config_path", required=False, type=_common.InputPath(exists=True))
@click.option(
    "--output",
    "-o",
    "outdir",
    required=True,
    type=_common.OutputPath(folder=True),
    help="Run directory: every stage's files, figures, report.md and run.json go here.",
)
@click.option(
    "--preset",
    default=None,
    metavar="NAME",
    help="Run a packaged configuration instead of CONFIG_PATH: 'quick' runs a small analysis "
    "in about a minute.",
)
@_common.executor_options
@click.option(
    "--cluster",
    default=None,
    metavar="SPEC",
    help="Start a cluster for this run: local:N (N dask worker processes), slurm or htcondor "
    "(dask-jobqueue, options in [run.jobqueue]); default: [run] cluster.",
)
@click.option("--from", "start", default=None, metavar="STAGE", help="Re-run from this stage on.")
@click.option("--force", is_flag=True, help="Re-run every stage, even those that are up to date.")
def run_command(
    config_path: Path | None,
    outdir: Path,
    preset: str | None,
    workers: int | None,
    scheduler: str | None,
    cluster: str | None,
    start: str | None,
    force: bool,
) -> None:
    """Run the whole analysis of CONFIG_PATH (default: the paper's setting) into OUTDIR.

    --preset NAME runs a configuration shipped with dhstat instead (`dhstat run --preset quick
    --output DIR`: a small analysis in about a minute).

    simulate -> select -> windows -> count -> workspaces -> scan -> lee -> interpret -> report.
    A stage is skipped when its configuration tables and input files are unchanged since it last
    ran, so an interrupted run resumes where it stopped. Prints per-stage timings and a summary
    compared with the paper.
    """
    from dhstat import analysis, config, parallel, pipeline, report  # local import: start-up time

    if preset is not None:
        if config_path is not None:
            msg = "give either CONFIG_PATH or --preset, not both"
            raise click.UsageError(msg)
        config_path = config.preset_path(preset)
    cfg = _common.load_config(config_path)
    if cluster is not None and scheduler is not None:
        raise InputError(
            _common.COMMAND_LINE, "--cluster", "either --cluster or --scheduler", got=cluster
        )
    spec = (
        None
        if scheduler is not None
        else parallel.ClusterSpec.from_run(cfg["run"], spec=cluster, source=cfg.source)
    )
    bars = _common.Bars()
    clock: dict[str, float] = {}

    def on_stage(name: str, event: str) -> None:
        if event == "start":
            bars.stage = name
            clock[name] = time.perf_counter()
            click.echo(f"[{name}] running ...", err=True)
        elif event == "ran":
            bars.close()
            click.echo(f"[{name}] done in {time.perf_counter() - clock[name]:.1f} s", err=True)
        else:
            click.echo(f"[{name}] up to date, skipped", err=True)

    cluster_stack = contextlib.ExitStack()  # the cluster, started on first use, for every stage
    opener = _opener(cfg, workers, scheduler, spec, cluster_stack)
    try:
        result = pipeline.run(
            cfg,
            outdir,
            analysis.analysis_stages(),
            open_executor=opener,
            start=start,
            force=force,
            progress=bars,
            on_stage=on_stage,
        )
    finally:
        bars.close()
        cluster_stack.close()
    click.echo(report.format_timings(result))
    summary = report.summarize(outdir, report.ReportSettings.from_config(cfg))
    click.echo(report.format_summary(summary))


def _opener(
    cfg: Any,
    workers: int | None,
    scheduler: str | None,
    spec: Any,
    stack: contextlib.ExitStack,
) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """The executor factory of the stages: local or scheduler, or a cluster started once."""
    from dhstat import parallel  # local import: start-up time

    address: list[str] = []

    @contextlib.contextmanager
    def opener() -> Iterator[Any]:
        if spec is None:
            with _common.open_executor(cfg, workers, scheduler) as ex:
                yield ex
            return
        if not address:
            address.append(stack.enter_context(parallel.running_cluster(spec, source=cfg.source)))
        with parallel.executor(scheduler=address[0], workers=spec.workers) as ex:
            yield ex

    return opener


COMMANDS = [run_command]
