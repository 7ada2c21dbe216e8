"""``dhstat lee``: global significance from correlated toys; ``dhstat lee merge``: combine shards."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dhstat.cli import _common
from dhstat.errors import InputError

__all__ = ["COMMANDS"]


def __dir__() -> list[str]:
    return __all__


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d+)/(\d+)", value.strip())
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise InputError(
            _common.COMMAND_LINE, "--shard", "i/K with 0 <= i < K (e.g. 0/4)", got=value
        )
    return int(match[1]), int(match[2])


@click.group(
    "lee",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--scan",
    "scan_path",
    type=_common.InputPath(),
    help="Scan results (results.json) with the window likelihoods and observed Z.",
)
@click.option(
    "--counts",
    "counts_path",
    type=_common.InputPath(),
    help="Counts file (counts.json) with the disjoint cells and the window -> cell map.",
)
@click.option("--toys", type=_common.Integer(minimum=1), default=None, help="Toys (default [lee]).")
@click.option("--shard", default=None, metavar="i/K", help="Run shard i of K (0 <= i < K).")
@click.option("--seed", type=_common.Integer(minimum=0), default=None, help="Seed (default [run]).")
@click.option(
    "--inject",
    nargs=2,
    type=(str, _common.Number(minimum=0)),
    default=None,
    metavar="WINDOW_ID SIGMA_FB",
    help="Inject signal with cross section SIGMA_FB [fb] in window WINDOW_ID (power studies).",
)
@click.option(
    "--output",
    type=_common.OutputPath(),
    default=Path("lee.json"),
    show_default=True,
    help="lee.json, or the shard's part file with --shard.",
)
@_common.config_option
@_common.executor_options
@click.pass_context
def lee_group(
    ctx: click.Context,
    scan_path: Path | None,
    counts_path: Path | None,
    toys: int | None,
    shard: str | None,
    seed: int | None,
    inject: tuple[str, float] | None,
    output: Path,
    config_path: Path | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Global p-value of the largest local excess from background-only toys.

    Toys keep every correlation of the search (Poisson counts per disjoint cell summed into the
    overlapping windows; background nuisances drawn once per toy) and give each window the Z of
    the scan's own p-value function. With --shard i/K only batches i, i+K, ... run and a part file
    is written; `dhstat lee merge` combines the K parts into exactly the single-run lee.json.
    A killed run resumes from its checkpoint (.checkpoints/lee-<key>.jsonl beside OUTPUT) when
    restarted with the same arguments.
    """
    if ctx.invoked_subcommand is not None:
        return
    if scan_path is None or counts_path is None:
        msg = "--scan and --counts are required (or use `dhstat lee merge`)"
        raise click.UsageError(msg)
    from dhstat import stages  # local import: start-up time

    shard_ = _shard(shard)
    cfg = _common.load_config(config_path)
    with (
        _common.open_executor(cfg, workers, scheduler) as ex,
        _common.bars("lee") as progress,
    ):
        header, document = stages.look_elsewhere(
            cfg,
            scan=scan_path,
            counts=counts_path,
            output=output,
            n_toys=toys,
            seed=seed,
            shard=shard_,
            inject=inject,
            executor=ex,
            progress=progress,
        )
    if shard_ is None:
        z_global = document["z_global"]
        text = "n/a" if z_global is None else f"{z_global:.2f}"
        click.echo(
            f"{output}: max local Z {header.z_local:.2f} "
            f"(window {header.window_ids[header.window]}), "
            f"global p {document['p_global']:.4f} +- {document['p_global_error']:.4f}, "
            f"global Z {text} ({header.n_toys} toys)"
        )
    else:
        toys_run = sum(len(batch["max_z"]) for batch in document["batches"])
        click.echo(f"{output}: shard {shard_[0]}/{shard_[1]}, {toys_run} toys")


@lee_group.command("merge")
@click.argument("parts", nargs=-1, required=True, type=_common.InputPath())
@click.option(
    "--output",
    type=_common.OutputPath(),
    default=Path("lee.json"),
    show_default=True,
    help="The merged lee.json.",
)
def merge(parts: tuple[Path, ...], output: Path) -> None:
    """Merge the part files of all shards of one run into lee.json."""
    from dhstat import jsonio, lee  # local import: start-up time

    documents = [jsonio.read_json(path, schema="lee-part") for path in parts]
    results = lee.merge_parts(documents, list(parts))
    document = lee.lee_document(lee.RunHeader.from_dict(documents[0]["run"]), results)
    jsonio.write_json(output, document, schema="lee", indent=None)
    click.echo(f"{output}: {len(parts)} parts, global p {document['p_global']:.4f}")


COMMANDS = [lee_group]
