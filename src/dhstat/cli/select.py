"""``dhstat select``: ntuples -> selected events, cutflow and macroregion data/MC yields."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from dhstat.cli import _common

__all__ = ["COMMANDS", "format_cutflow"]


def __dir__() -> list[str]:
    return __all__


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
@click.argument("inputs", nargs=-1, required=False, metavar="[INPUT...]")
@click.option(
    "--output",
    "-o",
    type=_common.OutputPath(),
    required=True,
    help="Selected-events ROOT file to write (trees search, control_mumugamma, control_emu).",
)
@click.option(
    "--cutflow",
    "cutflow_path",
    type=_common.OutputPath(),
    default=None,
    help="Also write the cutflow as JSON (schema cutflow).",
)
@click.option(
    "--macroregions",
    "macroregions_path",
    type=_common.OutputPath(),
    default=None,
    help="Also write data/MC yields per macroregion and the systematics (schema macroregions).",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not print the cutflow table.")
@_common.config_option
@_common.executor_options
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

    Without INPUT, selects the [[samples]] of the configuration (the analyst's own ntuples, any
    layout, no dhstat metadata needed); their signal points go to the tree "signal" of OUTPUT.
    """
    from dhstat import selection, stages  # local import: start-up time

    cfg = _common.load_config(config_path)
    with (
        _common.open_executor(cfg, workers, scheduler) as ex,
        _common.bars("select") as progress,
    ):
        result = stages.select(
            cfg,
            inputs,
            output=output,
            cutflow=cutflow_path,
            macroregions=macroregions_path,
            executor=ex,
            progress=progress,
        )
    if not quiet:
        click.echo(format_cutflow(selection.cutflow_document(result)))
        counts = ", ".join(f"{s} {len(result.samples[s]['weight'])}" for s in selection.SAMPLES)
        click.echo(f"selected events: {counts} -> {output}")


COMMANDS = [select_command]
