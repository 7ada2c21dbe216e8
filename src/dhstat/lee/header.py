"""The run header: the settings and inputs that define a look-elsewhere run.

The header is identical in every shard of a run. Its dict form (:meth:`RunHeader.to_dict`) is the
``run`` object of part files and checkpoints (schema ``lee-part``, ``$defs/run``) and the
``provenance`` of ``lee.json``; :meth:`RunHeader.from_dict` reads it back from a part file, and
:meth:`RunHeader.checkpoint_key` names the run's checkpoint.

Example:
    >>> finite_or_none(float("inf")) is None, finite_or_none(2.5)
    (True, 2.5)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dhstat import __version__
from dhstat.lee.model import NO_SMEARING, NUISANCE_MODEL, ToyModel

__all__ = ["RunHeader", "finite_or_none", "run_header"]


def __dir__() -> list[str]:
    return __all__


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or ``None`` if it is missing or not finite (JSON has no inf/nan)."""
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True, slots=True)
class RunHeader:
    """The settings and inputs that define a run (identical in every shard of it).

    The field names are the keys of the dict form; a part file's ``run`` object reads back
    unchanged (``RunHeader.from_dict(d).to_dict() == d``).

    Attributes:
        n_toys: Total number of toys of the run (all shards).
        batch_size: Toys per batch.
        seed: Master seed.
        n_windows: Number of windows.
        n_cells: Number of disjoint cells.
        window_ids: Window id of each window index.
        systematics: Background systematic sources drawn in the toys.
        mc_stat: Whether any cell's mean is smeared by its MC statistics.
        signal_injected: Total injected signal expectation.
        gross_vitells_thresholds: Gross-Vitells thresholds u.
        gross_vitells_toys: Toys whose Euler characteristics are recorded.
        nuisance_model: Plain-text description of the toy model (:data:`NUISANCE_MODEL`).
        z_local: Observed largest local Z (from the toys' tables).
        window: Index of the window with the largest observed Z.
        z_local_scan: Largest local Z of the scan results (``None`` if absent).
        inputs: (name, SHA-256) of the input files, sorted by name.
        config_digest: Digest of the ``[lee]`` configuration table.
        dhstat_version: Version of dhstat that defined the run.
    """

    n_toys: int
    batch_size: int
    seed: int
    n_windows: int
    n_cells: int
    window_ids: tuple[int | str, ...]
    systematics: tuple[str, ...]
    mc_stat: bool
    signal_injected: float
    gross_vitells_thresholds: tuple[float, ...]
    gross_vitells_toys: int
    nuisance_model: str
    z_local: float
    window: int
    z_local_scan: float | None
    inputs: tuple[tuple[str, str], ...]
    config_digest: str
    dhstat_version: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the ``run`` object of part files and the provenance of ``lee.json``."""
        return {
            "n_toys": self.n_toys,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "n_windows": self.n_windows,
            "n_cells": self.n_cells,
            "window_ids": list(self.window_ids),
            "systematics": list(self.systematics),
            "mc_stat": self.mc_stat,
            "signal_injected": self.signal_injected,
            "gross_vitells_thresholds": list(self.gross_vitells_thresholds),
            "gross_vitells_toys": self.gross_vitells_toys,
            "nuisance_model": self.nuisance_model,
            "z_local": self.z_local,
            "window": self.window,
            "z_local_scan": self.z_local_scan,
            "inputs": dict(self.inputs),
            "config_digest": self.config_digest,
            "dhstat_version": self.dhstat_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunHeader:
        """Inverse of :meth:`to_dict` (values are kept as read, so the dict round-trips exactly).

        Args:
            data: A ``run`` object of a part file (validated by schema ``lee-part``).
        """
        return cls(
            n_toys=data["n_toys"],
            batch_size=data["batch_size"],
            seed=data["seed"],
            n_windows=data["n_windows"],
            n_cells=data["n_cells"],
            window_ids=tuple(data["window_ids"]),
            systematics=tuple(data["systematics"]),
            mc_stat=data["mc_stat"],
            signal_injected=data["signal_injected"],
            gross_vitells_thresholds=tuple(data["gross_vitells_thresholds"]),
            gross_vitells_toys=data["gross_vitells_toys"],
            nuisance_model=data["nuisance_model"],
            z_local=data["z_local"],
            window=data["window"],
            z_local_scan=data["z_local_scan"],
            inputs=tuple(sorted(data["inputs"].items())),
            config_digest=data["config_digest"],
            dhstat_version=data["dhstat_version"],
        )

    def checkpoint_key(self) -> str:
        """16 hex digits of the SHA-256 of the dict form (sorted keys): names the checkpoint."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_header(
    model: ToyModel,
    *,
    n_toys: int,
    seed: int,
    z_local: float,
    window: int,
    window_ids: Sequence[int | str],
    systematics: Sequence[str] = (),
    z_scan: float | None = None,
    inputs: Mapping[str, str] | None = None,
    config_digest: str = "",
) -> RunHeader:
    """The settings and inputs that define a run (identical in every shard of it)."""
    return RunHeader(
        n_toys=int(n_toys),
        batch_size=model.batch_size,
        seed=int(seed),
        n_windows=model.n_windows,
        n_cells=int(model.background.size),
        window_ids=tuple(window_ids),
        systematics=tuple(systematics),
        mc_stat=bool(np.any(model.mc_scale > NO_SMEARING)),
        signal_injected=float(model.signal.sum()),
        gross_vitells_thresholds=model.thresholds,
        gross_vitells_toys=min(model.gv_toys, int(n_toys)),
        nuisance_model=NUISANCE_MODEL,
        z_local=float(z_local),
        window=int(window),
        z_local_scan=finite_or_none(z_scan),
        inputs=tuple(sorted(dict(inputs or {}).items())),
        config_digest=config_digest,
        dhstat_version=__version__,
    )
