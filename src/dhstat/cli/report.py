"""``dhstat report`` and ``dhstat publish``: figures, Markdown report, HEPData submission."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


@click.command("report")
@click.argument("outdir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_common.config_option
def report_command(outdir: Path, config_path: Path | None) -> None:
    """Draw the figures of the run in OUTDIR and write OUTDIR/report.md; print the summary."""
    from dhstat import report

    cfg = _common.load_config(config_path)
    figures = report.make_figures(outdir, cfg)
    path = report.write_report(outdir, cfg, figures=figures)
    click.echo(report.format_summary(report.summarize(outdir, cfg)))
    click.echo(f"\n{len(figures)} figure files in {outdir / 'figures'}; report: {path}")


@click.command("publish")
@click.argument("outdir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("submission.tar.gz"),
    show_default=True,
    help="The HEPData submission archive to write.",
)
@_common.config_option
def publish_command(outdir: Path, output: Path, config_path: Path | None) -> None:
    """Write the HEPData submission (tables + pyhf workspaces) of the run in OUTDIR."""
    from dhstat import publish

    cfg = _common.load_config(config_path)
    path = publish.build_submission(outdir, cfg, output)
    click.echo(f"{path}: valid HEPData submission ({path.stat().st_size / 1e6:.2f} MB)")


COMMANDS = [report_command, publish_command]
