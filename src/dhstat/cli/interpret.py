"""``dhstat interpret``: limits on eps^2 alpha_D from the cross-section limits of a scan."""

from __future__ import annotations

from pathlib import Path

import click

from dhstat.cli import _common

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


@click.command("interpret")
@click.argument("results", type=_common.InputPath())
@click.option(
    "--output",
    "-o",
    required=True,
    type=_common.OutputPath(),
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
    from dhstat import stages  # local import: start-up time

    cfg = _common.load_config(config_path)
    document = stages.interpret(cfg, results=results, output=output)
    limits = [w["eps2_alpha_d_ul"] for w in document["windows"] if w["eps2_alpha_d_ul"] is not None]
    flagged = sum(1 for w in document["windows"] if w["near_resonance"])
    span = f"{min(limits):.3g} - {max(limits):.3g}" if limits else "none"
    click.echo(
        f"{output}: {len(document['windows'])} windows, eps^2 alpha_D upper limits {span} "
        f"({document['cross_section']} cross section, {100 * document['credibility']:.0f} % CL); "
        f"{flagged} near narrow resonances"
    )


COMMANDS = [interpret_command]
