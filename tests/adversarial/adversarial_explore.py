"""Driving the generators: hypothesis draws inputs of one kind, every case is run and judged.

:func:`explore` does not stop at the first failure: it runs every drawn input and returns all
outcomes, so that one test run (or the census) reports every failing case at once. Inputs are
drawn with ``derandomize=True`` and no example database, so a run is deterministic; there is no
shrinking (each case runs the command line, and the inputs are small already).

:func:`make_shared` writes the valid inputs the generated cases lean on (a one-bin workspace, a
smeared one, an ntuple, and the synthetic run of ``tests/data/synthetic_run.py`` with its scan
results and a look-elsewhere part file).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import adversarial_configs
import adversarial_ntuples
import adversarial_options
import adversarial_patchsets
import adversarial_workspaces
import synthetic_run
from adversarial_harness import Outcome, invoke, run_case
from hypothesis import HealthCheck, Phase, given, settings

#: The generators, by census category.
CATEGORIES: dict[str, ModuleType] = {
    "config": adversarial_configs,
    "workspace": adversarial_workspaces,
    "ntuple": adversarial_ntuples,
    "option": adversarial_options,
    "patchset": adversarial_patchsets,
}


def explore(
    module: ModuleType,
    kind: str,
    shared: dict[str, Any],
    *,
    examples: int,
    keep: Path | None = None,
) -> list[Outcome]:
    """Draw up to ``examples`` inputs of ``kind`` from ``module``, run and judge every case."""
    outcomes: list[Outcome] = []
    inputs: list[Any] = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(module.inputs(kind, shared))
    def one(item: Any) -> None:
        group = [run_case(case, keep=keep) for case in module.cases(item, shared)]
        for outcome in group:
            outcome.input_id = len(inputs)
        inputs.append(item)
        consistency = getattr(module, "consistency", None)
        if consistency is not None:
            consistency(group)
        outcomes.extend(group)

    one()
    return outcomes


class Shared(dict[str, Any]):
    """The shared inputs; a short repr, since hypothesis prints strategy arguments."""

    def __repr__(self) -> str:
        return "<shared inputs>"


def make_shared(folder: Path) -> Shared:
    """Write the shared valid inputs under ``folder``; returns their bytes and absolute paths."""
    folder.mkdir(parents=True, exist_ok=True)
    simple, _ = _simple_spec()
    smeared = _smeared_spec()
    run = synthetic_run.make_run(folder / "run")
    results, part = run / "results.json", folder / "part.json"
    patchset = folder / "patchset" / "patchset.json"
    for argv, target in (
        (["scan", str(run / "workspaces"), "--output", str(results), "--workers", "1"], results),
        (
            [
                "lee",
                "--scan",
                str(results),
                "--counts",
                str(run / "counts.json"),
                "--toys",
                "5",
                "--shard",
                "0/1",
                "--workers",
                "1",
                "--output",
                str(part),
            ],
            part,
        ),
        (
            ["workspaces", "export-patchset", str(run / "workspaces"), "--output", str(patchset)],
            patchset,
        ),
    ):
        done = invoke(argv, folder)
        if done.code != 0 or not target.is_file():
            msg = f"could not prepare {target}: {done.stderr or done.exception}"
            raise RuntimeError(msg)
    return Shared(
        {
            "simple_workspace": json.dumps(simple).encode(),
            "smeared_workspace": json.dumps(smeared).encode(),
            "ntuple": adversarial_ntuples.valid_ntuple(),
            "workspaces": str(run / "workspaces"),
            "counts": str(run / "counts.json"),
            "results": str(results),
            "lee_part": part.read_bytes(),
            "patchset": patchset.read_bytes(),
            "background_only": (patchset.parent / "BkgOnly.json").read_bytes(),
        }
    )


def _simple_spec() -> tuple[dict[str, Any], dict[str, Any]]:
    n, b, eps, upper = (
        adversarial_options.N,
        adversarial_options.B,
        adversarial_options.EPS,
        adversarial_options.UPPER,
    )
    channel = {
        "name": "window",
        "samples": [
            adversarial_workspaces._signal([eps]),
            {"name": "background", "data": [b], "modifiers": []},
        ],
    }
    return adversarial_workspaces._spec([channel], {"window": [n]}, upper), {}


def _smeared_spec() -> dict[str, Any]:
    signal = adversarial_workspaces._signal(
        [1.3],
        [{"name": "shape", "type": "histosys", "data": {"hi_data": [1.4], "lo_data": [1.2]}}],
    )
    background = {
        "name": "background",
        "data": [3.0],
        "modifiers": [
            {"name": "norm", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
            {"name": "staterror_window", "type": "staterror", "data": [0.3]},
        ],
    }
    channel = {"name": "window", "samples": [signal, background]}
    return adversarial_workspaces._spec([channel], {"window": [5]}, 60.0)
