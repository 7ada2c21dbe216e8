"""``dhstat workspaces``: one pyhf workspace per window, the index, and HEPData patchsets."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common
from dhstat.errors import InputError

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


def _systematics_source(value: str | None) -> Path | None:
    """``paper`` -> None (the config decides), ``measured:FILE`` -> FILE."""
    if value is None or value == "paper":
        return None
    if value.startswith("measured:") and len(value) > len("measured:"):
        return Path(value.removeprefix("measured:"))
    raise InputError(_common.COMMAND_LINE, "--systematics", "'paper' or 'measured:FILE'", got=value)


@click.group("workspaces", invoke_without_command=True)
@click.option(
    "--counts",
    "counts_path",
    type=_common.InputPath(),
    help="counts.json from `dhstat count`.",
)
@click.option(
    "--windows",
    "windows_path",
    type=_common.InputPath(),
    help="windows.json from `dhstat windows`.",
)
@click.option(
    "--output",
    "-o",
    "outdir",
    type=_common.OutputPath(folder=True),
    help="Directory for index.json and one w<id>.json per window.",
)
@click.option(
    "--systematics",
    "systematics_option",
    default=None,
    metavar="paper|measured:FILE",
    help="Detector uncertainty: the paper's fixed values, or the macroregion file of "
    "`dhstat select` (default: [systematics] source).",
)
@click.option(
    "--archive",
    "archive_path",
    type=_common.OutputPath(),
    default=None,
    help="Also write the set as a reproducible .tar.gz (index.json + workspaces).",
)
@_common.config_option
@click.pass_context
def workspaces_group(
    ctx: click.Context,
    counts_path: Path | None,
    windows_path: Path | None,
    outdir: Path | None,
    systematics_option: str | None,
    archive_path: Path | None,
    config_path: Path | None,
) -> None:
    """Build one pyhf workspace per window from COUNTS and WINDOWS into OUTPUT.

    Every workspace is validated against pyhf's schema before anything is written; OUTPUT gets
    index.json (windows, ellipses, C_eta cuts, SHA-256 of each file, provenance) and w<id>.json.
    Subcommands export the set as a HEPData patchset and materialise it back.
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        name
        for name, value in (
            ("--counts", counts_path),
            ("--windows", windows_path),
            ("--output", outdir),
        )
        if value is None
    ]
    if missing:
        message = f"missing option(s): {', '.join(missing)}"
        raise click.UsageError(message, ctx=ctx)
    assert counts_path is not None
    assert windows_path is not None
    assert outdir is not None
    from dhstat import stages, workspace  # local import: start-up time

    cfg = _common.load_config(config_path)
    with _common.bars("workspaces") as progress:
        built = stages.make_workspaces(
            cfg,
            counts=counts_path,
            windows_file=windows_path,
            output=outdir,
            measured=_systematics_source(systematics_option),
            archive=archive_path,
            progress=progress,
        )
    index = outdir / workspace.INDEX
    click.echo(f"{len(built.workspaces)} workspaces written; index: {index}")


@workspaces_group.command("export-patchset")
@click.argument("directory", type=_common.InputPath(folder=True))
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=_common.OutputPath(),
    help="The pyhf patchset (one patch per window).",
)
@click.option(
    "--background-only",
    "background_only",
    type=_common.OutputPath(),
    default=None,
    help="The background-only workspace (default: BkgOnly.json next to --output).",
)
@click.option(
    "--hepdata",
    default="ins0000000",
    show_default=True,
    metavar="insNNNNNNN",
    help="HEPData (INSPIRE) record the patchset references.",
)
def export_patchset(
    directory: Path, output: Path, background_only: Path | None, hepdata: str
) -> None:
    """Export the set in DIRECTORY as background-only workspace + pyhf patchset (HEPData)."""
    from dhstat import workspace  # local import: start-up time
    from dhstat.jsonio import write_json  # local import: start-up time

    workspace_set = workspace.read_set(directory)
    bkg, patchset = workspace.to_patchset(workspace_set, hepdata=hepdata)
    bkg_path = background_only or output.with_name("BkgOnly.json")
    write_json(bkg_path, bkg)
    write_json(output, patchset, indent=None)
    click.echo(f"{len(patchset['patches'])} patches: {output}; background-only: {bkg_path}")


@workspaces_group.command("import-patchset")
@click.argument("patchset_path", type=_common.InputPath())
@click.option(
    "--background-only",
    "background_only",
    type=_common.InputPath(),
    default=None,
    help="The background-only workspace (default: BkgOnly.json next to PATCHSET).",
)
@click.option(
    "--output",
    "-o",
    "outdir",
    required=True,
    type=_common.OutputPath(folder=True),
    help="Directory for index.json and one w<id>.json per window.",
)
def import_patchset(patchset_path: Path, background_only: Path | None, outdir: Path) -> None:
    """Materialise the per-window workspaces and the index from a patchset made by export-patchset."""
    from dhstat import workspace  # local import: start-up time
    from dhstat.jsonio import read_json  # local import: start-up time

    bkg_path = background_only or patchset_path.with_name("BkgOnly.json")
    patchset = read_json(patchset_path)
    bkg = read_json(bkg_path)
    workspace_set = workspace.from_patchset(patchset, bkg, source=patchset_path)
    index = workspace.save_set(workspace_set, outdir)
    click.echo(f"{len(workspace_set.workspaces)} workspaces written; index: {index}")


COMMANDS = [workspaces_group]
