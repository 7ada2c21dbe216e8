"""A small synthetic run directory made with the stages' own library functions (for report tests).

The windows are hand-made ellipses on a small (M_A', M_h') grid, the events uniform random, so the
numbers mean nothing physically, but every file has the format and schema of a real run. The scan
(results.json: observed and expected limits, CLs, flags) and the interpretation (couplings.json)
are those of the real stages. Two windows are special: :data:`NO_SENSITIVITY` has zero signal
efficiency (no limit), :data:`PRIOR_DOMINATED` so little that its limit depends on sigma_max.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from dhstat import config, counting, selection, stages, windows, workspace
from dhstat.jsonio import write_json

#: The window with zero signal efficiency (M_A' = 5 GeV, M_h' = 1 GeV): no sensitivity.
NO_SENSITIVITY = 4
#: The window with an efficiency of 0.4 % (M_A' = 8 GeV, M_h' = 1 GeV): a prior-dominated limit.
PRIOR_DOMINATED = 13


def grid() -> tuple[np.ndarray, np.ndarray]:
    ma, mh = np.meshgrid(np.linspace(4.0, 9.0, 6), np.linspace(0.5, 1.5, 3), indexing="ij")
    return ma.ravel(), mh.ravel()


def make_windows() -> windows.Windows:
    ma, mh = grid()
    centre = np.c_[mh**2, ma**2]
    axes = np.c_[0.6 + 0.1 * mh, 0.05 * ma]
    base = windows.from_ellipses(
        centre, axes, np.full(ma.size, 0.05), ceta_cut=np.full(ma.size, 0.9)
    )
    eff = 0.1 + 0.01 * ma
    eff[NO_SENSITIVITY] = 0.0
    eff[PRIOR_DOMINATED] = 0.004
    cfg = config.load()
    meta = {
        "config_digest": windows.config_digest(cfg),
        "dhstat_version": "0.1.0",
        "seed": 1,
        "sqrt_s": config.sqrt_s(cfg),
        "n_grid_total": int(ma.size),
        "n_grid_in_range": int(ma.size),
        "grid": dict(cfg["grid"]),
        "windows": dict(cfg["windows"]),
        "ceta_cuts": "loosest",
        "contour": "hand-made ellipses (synthetic test run)",
    }
    return dataclasses.replace(base, efficiency=eff, efficiency_error=0.02 * eff, meta=meta)


def make_events(rng: np.random.Generator, n: int, *, weight: float) -> dict[str, np.ndarray]:
    return {
        "mrecoil2": rng.uniform(-0.5, 3.0, n),
        "mmumu2": rng.uniform(14.0, 85.0, n),
        "ceta": rng.uniform(0.0, 1.0, n),
        "weight": np.full(n, weight),
    }


def make_cutflow(final: dict[str, float]) -> dict:
    """A cutflow whose search sample ends with ``final[process]`` events (halving per cut)."""
    flows = {}
    for process, last in final.items():
        n = {s: len(selection.CUTS[s]) for s in selection.SAMPLES}
        weighted = {s: tuple(last * 2.0 ** (n[s] - 1 - k) for k in range(n[s])) for s in n}
        raw = {s: tuple(round(v) for v in weighted[s]) for s in n}
        zeros = {s: (0,) * n[s] for s in n}
        flows[process] = selection.Cutflow(
            raw["search"][0] * 2, weighted["search"][0] * 2, raw, weighted, zeros
        )
    files = {p: (f"{p}.root",) for p in flows}
    output = selection.SelectionOutput({}, flows, files, "0" * 64, 8.34)
    return selection.cutflow_document(output)


def make_run(
    outdir: Path, seed: int = 7, *, with_workspaces: bool = True, with_results: bool = True
) -> Path:
    """Write windows.json, counts.json, workspaces/ and cutflow.json into ``outdir``.

    With ``with_results`` (and the workspaces) also results.json (the scan) and couplings.json.
    """
    rng = np.random.default_rng(seed)
    cfg = config.load()
    outdir.mkdir(parents=True, exist_ok=True)
    search = make_windows()
    windows.save(search, outdir / "windows.json")
    data = make_events(rng, 3000, weight=1.0)
    backgrounds = {
        "mumu": make_events(rng, 6000, weight=0.4),
        "tautau": make_events(rng, 2000, weight=0.3),
    }
    counts = counting.count(search, data, backgrounds, luminosity_fb=8.34)
    counting.save(counts, outdir / "counts.json")
    final = {"data": 3000.0, "mumu": 2400.0, "tautau": 600.0}
    write_json(outdir / "cutflow.json", make_cutflow(final), schema="cutflow")
    if not with_workspaces:
        return outdir
    from dhstat import systematics

    joined = [
        workspace.WindowInput(
            id=int(search.ids[k]),
            ma=float(search.ma[k]),
            mh=float(search.mh[k]),
            center=(float(search.center[k, 0]), float(search.center[k, 1])),
            axes=(float(search.axes[k, 0]), float(search.axes[k, 1])),
            angle=float(search.angle[k]),
            ceta_cut=float(search.ceta_cut[k]),
            n_observed=int(counts.n_observed[k]),
            background={
                p: (float(counts.background[k, j]), float(counts.stat_error[k, j]))
                for j, p in enumerate(counts.processes)
            },
            efficiency=float(counts.efficiency[k]),
            efficiency_error=float(counts.efficiency_error[k]),
        )
        for k in range(len(search.ids))
    ]
    built = workspace.build_set(
        joined,
        systematics.rules_from_config(cfg),
        luminosity_fb=counts.luminosity_fb,
        sigma_max=workspace.sigma_max(cfg),
        provenance={"config_digest": cfg.digest(), "seed": 1},
    )
    workspace.save_set(built, outdir / "workspaces")
    if with_results:
        results = outdir / "results.json"
        stages.scan_windows(cfg, source=outdir / "workspaces" / "index.json", output=results)
        stages.interpret(cfg, results=results, output=outdir / "couplings.json")
    return outdir
