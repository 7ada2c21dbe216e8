"""``dhstat reinterpret``: limits for a model the analysis did not consider, from efficiencies or LHE."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("reinterpret")
@click.option(
    "--workspaces",
    "workspaces_dir",
    required=True,
    type=_common.InputPath(folder=True),
    help="Published per-window workspaces (DIR/index.json + DIR/w<id>.json).",
)
@click.option(
    "--efficiencies",
    type=_common.InputPath(),
    default=None,
    help="The new model's efficiency per window and model point (JSON, schema efficiencies).",
)
@click.option(
    "--events",
    multiple=True,
    type=_common.InputPath(),
    help="Truth-level LHE events of one model point (repeat for several points); dhstat runs its "
    "detector simulation and selection on them to get the efficiencies.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=_common.OutputPath(),
    help="Limits to write (JSON, schema reinterpretation).",
)
@click.option(
    "--prior", type=click.Choice(["flat", "log"]), default="flat", show_default=True,
    help="Prior on the model's cross section.",
)  # fmt: skip
@click.option(
    "--patches",
    "patches_dir",
    type=_common.OutputPath(folder=True),
    default=None,
    help="Also write pyhf patchsets (one per chosen window) that put the model's signal into the "
    "published workspaces.",
)
@click.option(
    "--efficiencies-out",
    type=_common.OutputPath(),
    default=None,
    help="With --events: also write the derived efficiencies (schema efficiencies).",
)
@click.option(
    "--invisible-pdg", multiple=True, type=_common.Integer(),
    help="With --events: extra PDG ids that escape the detector (e.g. the model's h' id).",
)  # fmt: skip
@click.option("--model", default=None, help="Model description (default: from the input).")
@_common.config_option
def reinterpret_command(
    workspaces_dir: Path,
    efficiencies: Path | None,
    events: tuple[Path, ...],
    output: Path,
    prior: str,
    patches_dir: Path | None,
    efficiencies_out: Path | None,
    invisible_pdg: tuple[int, ...],
    model: str | None,
    config_path: Path | None,
) -> None:
    """Limits on the cross section of a model the analysis did not consider.

    Give the model's per-window signal efficiencies (--efficiencies) or its truth-level events
    (--events, LHE, one file per model point). Each point's limit is reported for the window with
    the best expected limit (chosen without the observed counts), with every candidate window's
    limits alongside. --patches writes pyhf patchsets so that pyhf users can redo it without dhstat.
    """
    from dhstat import stages  # local import: start-up time

    document = stages.reinterpret(
        _common.load_config(config_path),
        workspaces=workspaces_dir,
        output=output,
        efficiencies=efficiencies,
        events=events,
        prior="log" if prior == "log" else "flat",
        patches=patches_dir,
        efficiencies_out=efficiencies_out,
        invisible_pdg=invisible_pdg,
        model=model,
    )
    for point in document["points"]:
        limit = point["observed_ul_fb"]
        shown = f"{limit:.4g} fb (window {point['window']})" if limit is not None else "no limit"
        click.echo(f"{point['name']}: sigma < {shown}")


COMMANDS = [reinterpret_command]
