"""``dhstat report``: the figures and the Markdown report of a run, and its summary."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat import rundir
from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("report")
@click.argument("outdir", type=_common.InputPath(folder=True, exists=True))
@_common.config_option
def report_command(outdir: Path, config_path: Path | None) -> None:
    """Draw the figures of the run in OUTDIR and write OUTDIR/report.md; print the summary."""
    from dhstat import report, stages  # local import: start-up time

    cfg = _common.load_config(config_path)
    *figures, path = stages.make_report(cfg, outdir)
    click.echo(
        report.format_summary(report.summarize(outdir, report.ReportSettings.from_config(cfg)))
    )
    click.echo(f"\n{len(figures)} figure files in {outdir / rundir.FIGURES}; report: {path}")


COMMANDS = [report_command]
