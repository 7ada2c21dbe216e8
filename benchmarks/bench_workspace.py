"""Benchmark: build, validate and write all ~9000 window workspaces (dhstat workspaces).

Synthetic counts on the paper-sized grid (9003 windows, the three backgrounds with MC errors, a
signal efficiency per window) go through the same library calls as `dhstat workspaces`:
build_set (build + compiled-schema validation + serialisation), save_set (atomic writes + index),
and archive (.tar.gz). Baseline in the same process: validating every workspace with
pyhf.schema.validate (pyhf's own, uncached resolver) instead of the compiled validator, on a
subsample, scaled to the full set. Goal: <= 30 s on 2 cores for the whole set.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
import warnings
from pathlib import Path
from typing import Self

import numpy as np
from _machine import machine

from dhstat import config, systematics, workspace

N_WINDOWS = 9003


def synthetic_windows(n: int, seed: int = 1) -> tuple[workspace.WindowInput, ...]:
    rng = np.random.default_rng(seed)
    ma = rng.uniform(1.65, 10.45, n)
    mh = rng.uniform(0.01, 1.0, n) * np.minimum(ma, 10.58 - ma)
    result = []
    for i in range(n):
        yields = rng.exponential([5.0, 1.0, 0.3])
        yields[rng.random(3) < 0.1] = 0.0
        errors = 0.1 * np.sqrt(yields)
        eff = float(rng.uniform(0.01, 0.25))
        result.append(
            workspace.WindowInput(
                id=i,
                ma=float(ma[i]),
                mh=float(mh[i]),
                center=(float(mh[i] ** 2), float(ma[i] ** 2)),
                axes=(0.5, 0.05),
                angle=0.01,
                ceta_cut=0.9,
                n_observed=int(rng.poisson(yields.sum())),
                background={
                    p: (float(y), float(e))
                    for p, y, e in zip(workspace.BACKGROUNDS, yields, errors, strict=True)
                },
                efficiency=eff,
                efficiency_error=eff * 0.01,
            )
        )
    return tuple(result)


class Clock:
    """Wall and CPU time of a block (CPU time is less sensitive to the shared machine's load)."""

    def __enter__(self) -> Self:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0

    def __str__(self) -> str:
        return f"{self.wall:7.2f} s wall, {self.cpu:6.2f} s CPU"


def main() -> None:
    cfg = config.load()
    rules = systematics.rules_from_config(cfg)
    windows = synthetic_windows(N_WINDOWS)
    provenance = {"config_digest": cfg.digest(), "seed": cfg["run"]["seed"]}
    load_before = os.getloadavg()[0]

    with Clock() as build:
        wset = workspace.build_set(
            windows,
            rules,
            luminosity_fb=8.34,
            sigma_max=workspace.sigma_max(cfg),
            provenance=provenance,
        )
    with tempfile.TemporaryDirectory() as tmp:
        with Clock() as save:
            workspace.save_set(wset, Path(tmp) / "ws")
        with Clock() as pack:
            tar = workspace.archive(wset, Path(tmp) / "ws.tar.gz")
        size_tar = tar.stat().st_size
        size_dir = sum(p.stat().st_size for p in (Path(tmp) / "ws").iterdir())
        with Clock() as read:
            workspace.read_set(Path(tmp) / "ws")
    with Clock() as export:
        bkg, patchset = workspace.to_patchset(wset)
    with Clock() as materialise:
        back = workspace.from_patchset(patchset, bkg)
    assert back.texts == wset.texts

    # Validation alone: dhstat's validator vs pyhf.schema.validate (baseline, subsample, scaled).
    with Clock() as ours:
        for spec in wset.workspaces:
            workspace.validate(spec)
    import pyhf

    n_sample = 300
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with Clock() as theirs:
            for spec in wset.workspaces[:n_sample]:
                pyhf.schema.validate(spec, "workspace.json")
        with Clock() as models:
            for spec in wset.workspaces[:50]:
                pyhf.Workspace(spec).model()
    scale_schema = len(wset.workspaces) / n_sample
    scale_model = len(wset.workspaces) / 50

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"dhstat workspaces benchmark: {N_WINDOWS} synthetic windows (1 process)")
    print(f"  build + validate + serialise (build_set): {build}")
    print(f"  write files + index (save_set):           {save}")
    total_wall, total_cpu = build.wall + save.wall, build.cpu + save.cpu
    print(
        f"  total build+validate+write:               {total_wall:7.2f} s wall, "
        f"{total_cpu:6.2f} s CPU  (goal <= 30 s)"
    )
    print(
        f"  archive .tar.gz:                          {pack}  ({size_tar / 1e6:.2f} MB; "
        f"files {size_dir / 1e6:.1f} MB)"
    )
    print(f"  export patchset (to_patchset):            {export}")
    print(f"  import patchset (from_patchset):          {materialise}")
    print(f"  read_set (digests + validation):          {read}")
    print(f"  validation only, dhstat validator:        {ours}")
    print(
        f"  baseline pyhf.schema.validate (scaled):   {theirs.wall * scale_schema:7.2f} s wall, "
        f"{theirs.cpu * scale_schema:6.2f} s CPU  (CPU ratio "
        f"{theirs.cpu * scale_schema / ours.cpu:.0f}x)"
    )
    print(
        f"  baseline pyhf Workspace+Model (scaled):   {models.wall * scale_model:7.2f} s wall, "
        f"{models.cpu * scale_model:6.2f} s CPU  (CPU ratio "
        f"{models.cpu * scale_model / ours.cpu:.0f}x)"
    )
    print(f"  peak memory (ru_maxrss): {peak_mb:.0f} MB")
    print(f"  machine: {machine()}")
    print(f"  load average (1 min) before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
