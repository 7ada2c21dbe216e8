"""``dhstat interpret`` and ``dhstat reinterpret``: coupling limits and limits for other models."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


@click.command("interpret")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Coupling limits to write (JSON, schema couplings).",
)
@_common.config_option
def interpret_command(results: Path, output: Path, config_path: Path | None) -> None:
    """Limits on eps^2 alpha_D from the cross-section limits of RESULTS (`dhstat scan`).

    B(A'->mumu) comes from the PDG R data; its 4 % uncertainty is included.

    Both conventions are written: sigma taken as the Born or as the ISR-inclusive cross section
    ([interpretation] cross_section picks the primary one). Windows near the narrow J/psi,
    psi(2S) and Upsilon(nS), which the R data do not contain, are flagged.
    """
    from dhstat import interpretation
    from dhstat.jsonio import write_json

    cfg = _common.load_config(config_path)
    document = interpretation.interpret(results, cfg)
    write_json(output, document, schema="couplings")
    limits = [w["eps2_alpha_d_ul"] for w in document["windows"] if w["eps2_alpha_d_ul"] is not None]
    flagged = sum(1 for w in document["windows"] if w["near_resonance"])
    span = f"{min(limits):.3g} - {max(limits):.3g}" if limits else "none"
    click.echo(
        f"{output}: {len(document['windows'])} windows, eps^2 alpha_D upper limits {span} "
        f"({document['cross_section']} cross section, {100 * document['credibility']:.0f} % CL); "
        f"{flagged} near narrow resonances"
    )


@click.command("reinterpret")
@click.option(
    "--workspaces",
    "workspaces_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Published per-window workspaces (DIR/index.json + DIR/w<id>.json).",
)
@click.option(
    "--efficiencies",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The new model's efficiency per window and model point (JSON, schema efficiencies).",
)
@click.option(
    "--events",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Truth-level LHE events of one model point (repeat for several points); dhstat runs its "
    "detector simulation and selection on them to get the efficiencies.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Limits to write (JSON, schema reinterpretation).",
)
@click.option(
    "--prior", type=click.Choice(["flat", "log"]), default="flat", show_default=True,
    help="Prior on the model's cross section.",
)  # fmt: skip
@click.option(
    "--patches",
    "patches_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write pyhf patchsets (one per chosen window) that put the model's signal into the "
    "published workspaces.",
)
@click.option(
    "--efficiencies-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --events: also write the derived efficiencies (schema efficiencies).",
)
@click.option(
    "--invisible-pdg", multiple=True, type=int,
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
    from dhstat import interpretation
    from dhstat.errors import InputError
    from dhstat.jsonio import write_json

    if (efficiencies is None) == (not events):
        raise InputError(None, "--efficiencies/--events", "exactly one of the two options")
    cfg = _common.load_config(config_path)
    published = interpretation.read_published(workspaces_dir)
    ids = [int(i) for i in published.window_set.ids]
    if efficiencies is not None:
        name, points = interpretation.read_efficiencies(efficiencies, window_ids=ids)
    else:
        from dhstat import lhe, parallel

        name = "LHE events"
        found = []
        seed = int(cfg["run"]["seed"])
        for k, path in enumerate(events):
            sample = lhe.read(path, cfg=cfg, invisible_pdg=invisible_pdg)
            found.append(
                interpretation.efficiencies_from_events(
                    sample,
                    published.index,
                    cfg,
                    rng=parallel.task_rng(seed, 8, k),
                    name=re.sub(r"[^A-Za-z0-9_.-]", "_", path.name.split(".")[0]) or f"point{k}",
                )
            )
        points = tuple(found)
        if efficiencies_out is not None:
            document = interpretation.efficiencies_document(model or name, points)
            write_json(efficiencies_out, document, schema="efficiencies")
    stats = cfg["stats"]
    table = cfg["interpretation"]["reinterpretation"]
    limits = interpretation.reinterpret(
        published.window_set,
        points,
        luminosity_fb=published.luminosity_fb,
        cl=float(stats["cl"]),
        prior=prior,
        sigma_min=float(stats["sigma_min"]),
        min_relative_efficiency=float(table["min_relative_efficiency"]),
    )
    written: tuple[str, list[str]] | None = None
    if patches_dir is not None:
        sets = interpretation.patchsets(
            published.specs, limits, luminosity_fb=published.luminosity_fb, model=model or name
        )
        files = []
        for window, patchset in sorted(sets.items()):
            file = f"w{window}.patchset.json"
            write_json(patches_dir / file, patchset)
            files.append(file)
        written = (str(patches_dir), files)
    document = interpretation.reinterpretation_document(
        published,
        model or name,
        limits,
        cl=float(stats["cl"]),
        prior=prior,
        sigma_min=float(stats["sigma_min"]),
        min_relative_efficiency=float(table["min_relative_efficiency"]),
        efficiencies=str(efficiencies) if efficiencies is not None else None,
        events=[str(p) for p in events],
        patches=written,
    )
    write_json(output, document, schema="reinterpretation")
    for point in document["points"]:
        limit = point["observed_ul_fb"]
        shown = f"{limit:.4g} fb (window {point['window']})" if limit is not None else "no limit"
        click.echo(f"{point['name']}: sigma < {shown}")


COMMANDS = [interpret_command, reinterpret_command]
