"""Benchmarks of the windows stage: membership/counting throughput and the full windows stage.

Usage:
    python benchmarks/bench_windows.py                 # membership + counting (1e7 events)
    python benchmarks/bench_windows.py --events 2e6    # fewer events
    python benchmarks/bench_windows.py --stage CFG     # also time `windows.define` with config CFG
    python benchmarks/bench_windows.py --points 40     # also CPU time per grid point vs a baseline
    python benchmarks/bench_windows.py --signal-points 20  # analyst signal MC vs simulated points

Windows for the membership benchmark: the frozen default windows file if present, otherwise
ellipses from the grid's resolution model (rho = -0.5) at every in-range grid point.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine

from dhstat import config, counting, parallel, windows
from dhstat.physics.beams import Beams
from dhstat.windows.points import fit_point
from dhstat.windows.simulate import default_signal


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def model_windows(cfg: config.Config) -> windows.Windows:
    default = Path(windows.__file__).parent.parent / "data" / "windows-default.json"
    if default.is_file():
        return windows.load(default)
    g = windows.grid_points(windows.GridSettings.from_config(cfg))
    ma, mh, sig = g.ma[g.in_range], g.mh[g.in_range], g.sigma[g.in_range] * 1.3
    rho = -0.5
    cov = np.zeros((ma.size, 2, 2))
    cov[:, 0, 0], cov[:, 1, 1] = sig[:, 0] ** 2, sig[:, 1] ** 2
    cov[:, 0, 1] = cov[:, 1, 0] = rho * sig[:, 0] * sig[:, 1]
    axes, angle = windows.covariance_ellipse(cov, 2.0)
    center = np.stack([mh**2, ma**2], axis=1)
    return windows.from_ellipses(center, axes, angle, ceta_cut=np.full(ma.size, 0.9))


def bench_membership(n_events: int) -> None:
    cfg = config.load()
    w = model_windows(cfg)
    rng = np.random.default_rng(1)
    # background-like events: half near the kinematic limit M_recoil + M_mumu ~ sqrt(s), half
    # uniform over the search triangle (squared masses)
    roots = Beams.from_config(cfg).sqrt_s
    mmumu = rng.uniform(1.0, roots, n_events)
    near = rng.random(n_events) < 0.5
    mrec = np.where(
        near,
        roots - mmumu - rng.exponential(0.3, n_events),
        rng.uniform(0, 1, n_events) * np.minimum(mmumu, roots - mmumu),
    )
    x = np.sign(mrec) * mrec**2 + rng.normal(0, 0.3, n_events)
    y = mmumu**2
    ceta = rng.random(n_events)
    weight = np.full(n_events, 0.01)
    print(f"windows: {len(w)}; events: {n_events:.3g}")
    t = time.perf_counter()
    m = windows.membership(w, x, y)
    dt = time.perf_counter() - t
    print(
        f"membership: {dt:.2f} s, {n_events / dt:.3g} events/s, {m.nnz / n_events:.2f} windows/event"
    )
    # brute-force baseline on a subset (events x windows dense test)
    k = 1_000
    t = time.perf_counter()
    dense = windows.contains(w, x[:k], y[:k])
    dtb = time.perf_counter() - t
    assert np.array_equal(dense, m[:k].toarray().astype(bool))
    print(
        f"brute-force baseline: {k / dtb:.3g} events/s -> speed-up {(n_events / dt) / (k / dtb):.0f}x"
    )
    half = n_events // 2
    ev = {"mrecoil2": x, "mmumu2": y, "ceta": ceta, "weight": weight}
    data = {key: v[:half] for key, v in ev.items()}
    bkg = {"mumu": {key: v[half:] for key, v in ev.items()}}
    t = time.perf_counter()
    c = counting.count(w, data, bkg, luminosity_fb=8.34)
    dt = time.perf_counter() - t
    print(
        f"count (membership x2, C_eta cuts, N, B, cells): {dt:.2f} s, {n_events / dt:.3g} events/s, "
        f"{c.n_cells} cells"
    )


def bench_stage(path: str, workers: int) -> None:
    cfg = config.load(path)
    g = windows.grid_points(windows.GridSettings.from_config(cfg))
    print(
        f"windows stage ({path}): {int(g.in_range.sum())} points x 2 x {cfg['windows']['n_events']} events"
    )
    t = time.perf_counter()
    with parallel.executor(workers=workers) as ex:
        w = windows.define(cfg, background=None, executor=ex)
    dt = time.perf_counter() - t
    print(
        f"windows.define: {dt:.1f} s for {len(w)} windows ({dt / max(len(w), 1) * 1e3:.1f} ms/point wall)"
    )


def plain_signal(
    ma: float, mh: float, n_events: int, cfg: Any, rng: np.random.Generator, isr: bool
) -> tuple[Any, float, float]:
    """Baseline signal path: every generated event reconstructed, awkward (jagged) branches."""
    from dhstat import selection, simulation

    events = simulation.simulate_signal(ma, mh, n_events, cfg=cfg, rng=rng, isr=isr)
    weight = np.asarray(events["weight"], dtype=np.float64)
    search = selection.select(events, cfg, process="signal").search
    return search, float(weight.sum()), float(np.sum(weight * weight))


def bench_points(n_points: int) -> None:
    """CPU time per grid point: dhstat's signal path against the plain path, same points."""
    cfg = config.load()
    settings = windows.WindowSettings.from_config(cfg)
    g = windows.grid_points(settings.grid)
    ids = np.random.default_rng(5).choice(np.flatnonzero(g.in_range), n_points, replace=False)
    times = {}
    for name, simulate in (("plain (jagged, unskimmed)", plain_signal), ("dhstat", None)):
        sim = simulate if simulate is not None else default_signal
        t = time.process_time()
        for i in ids:
            fit_point(int(i), float(g.ma[i]), float(g.mh[i]), cfg, settings, sim)
        times[name] = (time.process_time() - t) / n_points
        print(f"per grid point, {name}: {times[name] * 1e3:.1f} ms CPU ({n_points} points)")
    base, ours = times.values()
    print(f"signal path speed-up: {base / ours:.2f}x")


def bench_signal_points(n_points: int) -> None:
    """CPU time per point: windows from given signal MC (core fit) against today's simulated path.

    The signal points carry ``[windows] n_events`` generated events with ISR, simulated before the
    clock starts (an analyst's MC is read, not simulated); the baseline simulates and fits as today.
    """
    cfg = config.load()
    settings = windows.WindowSettings.from_config(cfg)
    g = windows.grid_points(settings.grid)
    # M_A' >= 3 GeV: below, some points select fewer events than a fit needs (an InputError here)
    eligible = np.flatnonzero(g.in_range & (g.ma >= 3.0))
    ids = np.random.default_rng(5).choice(eligible, n_points, replace=False)
    n = settings.n_events
    points = []
    for i in ids:
        ma, mh = float(g.ma[i]), float(g.mh[i])
        events, total, _ = default_signal(ma, mh, n, cfg, parallel.task_rng(99, int(i)), True)
        columns = {k: np.asarray(v, dtype=np.float64) for k, v in events.items()}
        columns["weight"] = columns["weight"] / (total / n)
        points.append(windows.SignalPoint.from_tuple((ma, mh, columns, float(n))))
    t = time.process_time()
    for i in ids:
        fit_point(int(i), float(g.ma[i]), float(g.mh[i]), cfg, settings, default_signal)
    base = (time.process_time() - t) / n_points
    t = time.process_time()
    windows.fit_signal_points(points, settings)
    ours = (time.process_time() - t) / n_points
    print(f"per point, simulated (today): {base * 1e3:.1f} ms CPU ({n_points} points)")
    print(f"per point, given signal MC (core fit): {ours * 1e3:.1f} ms CPU")
    print(f"given signal MC / simulated: {ours / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=float, default=1e7)
    parser.add_argument("--stage", default=None, help="config file for a windows.define timing")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--points", type=int, default=0, help="time this many grid points")
    parser.add_argument(
        "--signal-points", type=int, default=0, help="time this many points from given signal MC"
    )
    args = parser.parse_args()
    print("machine:", machine())
    bench_membership(int(args.events))
    if args.points:
        bench_points(args.points)
    if args.signal_points:
        bench_signal_points(args.signal_points)
    if args.stage:
        bench_stage(args.stage, args.workers)
    print(f"peak RSS: {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
