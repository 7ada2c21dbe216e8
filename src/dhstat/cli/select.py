"""``dhstat select``: ntuples -> selected events, cutflow and macroregion data/MC yields."""

from __future__ import annotations

from collections.abc import Mapping
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

__all__ = ["COMMANDS", "format_cutflow"]


def format_cutflow(document: Mapping[str, Any], *, sample: str = "search") -> str:
    """The cutflow document as a text table: one row per cut, raw and weighted per process."""
    processes = list(document["processes"])
    if not processes:
        return "(no input events)"
    cuts = [row["cut"] for row in document["processes"][processes[0]]["samples"][sample]]
    head = f"{'cut':<18}" + "".join(f"{p:>22}" for p in processes)
    sub = f"{'':<18}" + "".join(f"{'raw':>10}{'weighted':>12}" for _ in processes)
    lines = [f"cutflow of the {sample} sample", head, sub]
    inputs = [document["processes"][p]["input"] for p in processes]
    lines.append(
        f"{'input':<18}" + "".join(f"{i['raw']:>10}{i['weighted']:>12.1f}" for i in inputs)
    )
    nonfinite = 0
    for index, cut in enumerate(cuts):
        rows = [document["processes"][p]["samples"][sample][index] for p in processes]
        nonfinite += sum(r["nonfinite"] for r in rows)
        lines.append(f"{cut:<18}" + "".join(f"{r['raw']:>10}{r['weighted']:>12.1f}" for r in rows))
    if nonfinite:
        bad = {
            r["cut"]: sum(
                document["processes"][p]["samples"][sample][i]["nonfinite"] for p in processes
            )
            for i, r in enumerate(document["processes"][processes[0]]["samples"][sample])
        }
        lines.append(
            "events removed for NaN/inf inputs: "
            + ", ".join(f"{c} {n}" for c, n in bad.items() if n)
        )
    return "\n".join(lines)


@click.command("select")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Selected-events ROOT file to write (trees search, control_mumugamma, control_emu).",
)
@click.option(
    "--cutflow",
    "cutflow_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the cutflow as JSON (schema cutflow).",
)
@click.option(
    "--macroregions",
    "macroregions_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write data/MC yields per macroregion and the systematics (schema macroregions).",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not print the cutflow table.")
@config_option
@executor_options
def select_command(
    inputs: tuple[str, ...],
    output: Path,
    cutflow_path: Path | None,
    macroregions_path: Path | None,
    quiet: bool,
    config_path: Path | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Select events of the ntuples INPUT... (files or glob patterns) with the paper's cuts.

    Reads the files in chunks of [run] chunk_size events over the workers, applies the cuts of
    [selection] (branch names mapped by [selection] branches), and writes the search and control
    samples with their derived variables. Prints the cutflow of the search sample.
    """
    from dhstat import jsonio, selection

    cfg = load_config(config_path)
    with (
        open_executor(cfg, workers, scheduler) as ex,
        progress(None, "select") as update,
    ):
        result = selection.select_files(list(inputs), cfg, executor=ex, progress=update)
    document = selection.cutflow_document(result)
    macro = selection.macroregions_document(result, cfg) if macroregions_path else None
    # validate everything before writing anything: nothing half-written on failure
    from dhstat import schemas

    schemas.validate(document, "cutflow", source=cutflow_path)
    if macro is not None:
        schemas.validate(macro, "macroregions", source=macroregions_path)
    selection.write_selected(output, result)
    if cutflow_path is not None:
        jsonio.write_json(cutflow_path, document, schema="cutflow")
    if macroregions_path is not None:
        jsonio.write_json(macroregions_path, macro, schema="macroregions")
    if not quiet:
        click.echo(format_cutflow(document))
        counts = ", ".join(f"{s} {len(result.samples[s]['weight'])}" for s in selection.SAMPLES)
        click.echo(f"selected events: {counts} -> {output}")


COMMANDS = [select_command]
