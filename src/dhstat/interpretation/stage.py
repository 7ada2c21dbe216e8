"""Files in, files out for ``dhstat reinterpret``: limits for a new model from published workspaces.

The published per-window workspaces and the model's efficiencies (a table, or truth-level LHE
events passed through the detector and selection) go in; the limits (schema
``reinterpretation``) and, on request, the derived efficiencies and one pyhf patchset per chosen
window come out. :func:`dhstat.stages.reinterpret` is this function.

Example:
    >>> import inspect
    >>> list(inspect.signature(reinterpret).parameters)[:4]
    ['cfg', 'workspaces', 'output', 'efficiencies']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from dhstat import interpretation, parallel
from dhstat.config import Config
from dhstat.errors import InputError
from dhstat.interpretation import lhe
from dhstat.jsonio import write_json
from dhstat.physics.beams import Beams

__all__ = ["reinterpret"]


def __dir__() -> list[str]:
    return __all__


def reinterpret(
    cfg: Config,
    *,
    workspaces: Path,
    output: Path,
    efficiencies: Path | None = None,
    events: Sequence[Path] = (),
    prior: Literal["flat", "log"] = "flat",
    patches: Path | None = None,
    efficiencies_out: Path | None = None,
    invisible_pdg: Sequence[int] = (),
    model: str | None = None,
) -> dict[str, Any]:
    """Limits for a model the analysis did not consider, from the published workspaces.

    Args:
        cfg: The configuration (``[stats]``, ``[interpretation.reinterpretation]``, ``[run] seed``).
        workspaces: The published per-window workspaces (``DIR/index.json`` + ``DIR/w<id>.json``).
        output: The limits to write (schema ``reinterpretation``).
        efficiencies: The model's efficiency per window and point (schema ``efficiencies``).
        events: Truth-level LHE events, one file per model point (instead of ``efficiencies``).
        prior: Prior on the model's cross section.
        patches: Also write one pyhf patchset per chosen window into this folder.
        efficiencies_out: With ``events``: also write the derived efficiencies.
        invisible_pdg: With ``events``: extra PDG ids that escape the detector.
        model: Model description (default: from the input).

    Returns:
        The document written.

    Raises:
        InputError: not exactly one of ``efficiencies`` and ``events`` is given.
    """
    if (efficiencies is None) == (not events):
        raise InputError(None, "--efficiencies/--events", "exactly one of the two options")
    published = interpretation.read_published(workspaces)
    if efficiencies is not None:
        ids = [int(i) for i in published.window_set.ids]
        name, points = interpretation.read_efficiencies(efficiencies, window_ids=ids)
    else:
        name, points = "LHE events", _event_efficiencies(cfg, published, events, invisible_pdg)
        if efficiencies_out is not None:
            document = interpretation.efficiencies_document(model or name, points)
            write_json(efficiencies_out, document, schema="efficiencies")
    cl, sigma_min = float(cfg["stats"]["cl"]), float(cfg["stats"]["sigma_min"])
    relative = float(cfg["interpretation"]["reinterpretation"]["min_relative_efficiency"])
    limits = interpretation.reinterpret(
        published.window_set,
        points,
        luminosity_fb=published.luminosity_fb,
        cl=cl,
        prior=prior,
        sigma_min=sigma_min,
        min_relative_efficiency=relative,
    )
    written = None if patches is None else _write_patches(published, limits, patches, model or name)
    document = interpretation.reinterpretation_document(
        published,
        model or name,
        limits,
        cl=cl,
        prior=prior,
        sigma_min=sigma_min,
        min_relative_efficiency=relative,
        efficiencies=str(efficiencies) if efficiencies is not None else None,
        events=[str(p) for p in events],
        patches=written,
    )
    write_json(output, document, schema="reinterpretation")
    return document


def _event_efficiencies(
    cfg: Config,
    published: interpretation.PublishedWindows,
    events: Sequence[Path],
    invisible_pdg: Sequence[int],
) -> tuple[interpretation.ModelPoint, ...]:
    """Efficiencies per window of each LHE file's events, through the detector and selection."""
    seed = int(cfg["run"]["seed"])
    beams = Beams.from_config(cfg)
    points = []
    for k, path in enumerate(events):
        sample = lhe.read(path, beams=beams, invisible_pdg=tuple(invisible_pdg))
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.name.split(".")[0]) or f"point{k}"
        points.append(
            interpretation.efficiencies_from_events(
                sample, published.index, cfg, rng=parallel.task_rng(seed, 8, k), name=name
            )
        )
    return tuple(points)


def _write_patches(
    published: interpretation.PublishedWindows,
    limits: Sequence[interpretation.PointLimit],
    folder: Path,
    model: str,
) -> tuple[str, list[str]]:
    """One pyhf patchset per chosen window into ``folder``; returns the folder and file names."""
    sets = interpretation.patchsets(
        published.specs, limits, luminosity_fb=published.luminosity_fb, model=model
    )
    files = []
    for window, patchset in sorted(sets.items()):
        file = f"w{window}.patchset.json"
        write_json(folder / file, patchset)
        files.append(file)
    return str(folder), files
