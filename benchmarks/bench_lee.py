"""Benchmark of the look-elsewhere toys: toys per second over ~9000 windows with realistic cells.

Synthetic but realistic search: 9000 circular windows on a 2-D grid (each event in ~2.7 windows on
average, as in the paper), per-window C_eta cuts, a smoothly falling background of ~29 000 expected
events, cells = the distinct (window membership) patterns of 300 000 MC points. The baseline is
pyhf's toy rate for ONE window (about 115 toys/s with pyhf 0.7.6 as measured for the issue; pyhf's
toy calculator fails on NumPy 2.4, so it cannot be re-run here): compared as window-toys per second.

    python benchmarks/bench_lee.py [--toys N] [--workers K] [--mc-points M]

With ``--checkpoint-overhead`` it measures instead what the run's checkpoint costs
(:func:`dhstat.lee.run_checkpointed`, one JSON line appended per batch) at ``--toys`` toys (use
1000000) on a small search (``--side`` x ``--side`` windows, default 5 x 5, so that 1e6 toys take
about a minute): the same toys without a checkpoint are the baseline, measured in the same
process; the time spent inside the checkpoint callbacks is measured directly as well; and the
former checkpoint (the whole file rewritten after every batch) is run for comparison.

    python benchmarks/bench_lee.py --checkpoint-overhead --toys 1000000 [--side 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine

from dhstat import jsonio, lee, parallel
from dhstat.lee import checkpoint as checkpoints

PYHF_TOYS_PER_S = 115.0  # one window, pyhf 0.7.6 (from the issue; not re-runnable on NumPy 2.4)


def cpu_seconds() -> float:
    """User + system CPU time of this process."""
    return time.process_time()


def realistic_search(n_side: int = 95, mc_points: int = 300_000, seed: int = 1):
    """Windows, cells and the CSR map of a synthetic 2-D search with ~n_side^2 windows."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    d = 1.0
    radius = d * np.sqrt(2.7 / np.pi)  # mean coverage 2.7 windows per point
    gx, gy = np.meshgrid(np.arange(n_side) * d, np.arange(n_side) * d)
    centres = np.stack([gx.ravel(), gy.ravel()], axis=1)
    centres += rng.uniform(-0.05, 0.05, centres.shape)
    n_windows = centres.shape[0]
    ceta_cut = rng.uniform(0.8, 1.0, n_windows)
    # MC points: density falling along y, weights normalised to ~29 000 expected events.
    span = n_side * d
    x = rng.uniform(-radius, span + radius, mc_points)
    y = span * rng.power(0.6, mc_points)  # more events at low y
    ceta = rng.uniform(0, 1, mc_points)
    weight = np.full(mc_points, 29_000 / mc_points)
    tree = cKDTree(centres)
    members = tree.query_ball_point(np.stack([x, y], axis=1), radius)
    keys = []
    for i, found in enumerate(members):
        kept = [w for w in found if ceta[i] < ceta_cut[w]]
        keys.append(tuple(sorted(kept)))
    # Cells: distinct non-empty membership patterns.
    index: dict[tuple[int, ...], int] = {}
    cell_of = np.empty(mc_points, dtype=np.int64)
    for i, k in enumerate(keys):
        cell_of[i] = index.setdefault(k, len(index)) if k else -1
    inside = cell_of >= 0
    n_cells = len(index)
    background = np.bincount(cell_of[inside], weights=weight[inside], minlength=n_cells)
    sumw2 = np.bincount(cell_of[inside], weights=weight[inside] ** 2, minlength=n_cells)
    rows: list[list[int]] = [[] for _ in range(n_windows)]
    for k, c in index.items():
        for w in k:
            rows[w].append(c)
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    indices = np.concatenate([np.sort(np.asarray(r, dtype=np.int64)) for r in rows])
    cells = lee.CellInputs(background, sumw2, indptr, indices)
    b_window = np.asarray(cells.matrix().astype(float) @ background).ravel()
    relative = np.stack(
        [np.where(centres[:, 1] > 0.9 * span, 0.13, 0.02), np.full(n_windows, 0.01)]
    )
    return cells, b_window, centres, relative


class _Clock:
    """Wall and CPU seconds of a block."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        w0, c0 = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - w0
            self.cpu += cpu_seconds() - c0


@contextlib.contextmanager
def _timed_callbacks(clock: _Clock) -> Iterator[None]:
    """Time every ``on_batch`` call that :func:`dhstat.lee.run_checkpointed` makes."""
    original = checkpoints.run_toys

    def wrapped(*args: Any, on_batch: Callable[..., None] | None = None, **kwargs: Any) -> Any:
        def timed(results: Any) -> None:
            with clock():
                assert on_batch is not None
                on_batch(results)

        return original(*args, on_batch=timed, **kwargs)

    checkpoints.run_toys = wrapped  # type: ignore[assignment]
    try:
        yield
    finally:
        checkpoints.run_toys = original


def _rewrite_every_batch(path: Path, head: dict[str, Any]) -> Callable[[dict[int, Any]], None]:
    """The former checkpoint: the whole part document rewritten (atomically) after each batch."""
    cache: dict[int, str] = {}

    def save(results: dict[int, Any]) -> None:
        for index, result in results.items():
            if index not in cache:
                cache[index] = jsonio.dumps(result.to_dict(), indent=None).strip()
        text = jsonio.dumps(head, indent=None).strip()[:-1]
        text += ',"batches":[' + ",".join(cache[i] for i in sorted(results)) + "]}\n"
        with jsonio.atomic_path(path) as temporary:
            temporary.write_text(text, encoding="utf-8")

    return save


def checkpoint_overhead(n_toys: int, side: int, batch_size: int, skip_rewrite: bool) -> None:
    """Toys without a checkpoint, with the appended checkpoint, and with the former rewrite."""
    cells, b, centres, relative = realistic_search(n_side=side, mc_points=80 * side * side)
    model = lee.build_toy_model(
        b, cells, pvalue=lee.poisson_pvalue, centres=centres, relative_windows=relative,
        gv_toys=200, batch_size=batch_size,
    )  # fmt: skip
    head = lee.run_header(
        model, n_toys=n_toys, seed=7, z_local=3.0, window=0,
        window_ids=list(range(model.n_windows)), systematics=["a", "b"],
        inputs={"scan": "0" * 64, "counts": "1" * 64},
    )  # fmt: skip
    n_batches = -(-n_toys // batch_size)
    print(
        f"checkpoint overhead: {n_toys} toys in {n_batches} batches of {batch_size}, "
        f"{model.n_windows} windows, {cells.n_cells} cells, systematics and MC statistics "
        f"smeared, {model.gv_toys} Gross-Vitells toys; one process"
    )
    folder = Path(tempfile.mkdtemp())
    plain, appended, inside, rewrite = _Clock(), _Clock(), _Clock(), _Clock()
    with plain():
        reference = lee.run_toys(model, n_toys=n_toys, seed=7)
    path = checkpoints.checkpoint_path(folder, head)
    with appended(), _timed_callbacks(inside):
        results = lee.run_checkpointed(model, head, checkpoint=path)
    same = all(np.array_equal(results[i].max_z, reference[i].max_z) for i in reference)
    size = path.stat().st_size
    resume = _Clock()
    with resume():
        lee.run_checkpointed(model, head, checkpoint=path)  # every batch read back, none rerun
    print(
        f"  no checkpoint:         {plain.wall:8.2f} s wall, {plain.cpu:8.2f} s CPU (baseline)\n"
        f"  appended checkpoint:   {appended.wall:8.2f} s wall, {appended.cpu:8.2f} s CPU; "
        f"ratio {appended.wall / plain.wall:.3f} wall, {appended.cpu / plain.cpu:.3f} CPU; "
        f"identical toys: {same}\n"
        f"    inside the {n_batches} checkpoint callbacks: {inside.wall:.2f} s wall "
        f"({100 * inside.wall / plain.wall:.2f} % of the baseline), {inside.cpu:.2f} s CPU; "
        f"{1e3 * inside.wall / n_batches:.2f} ms per batch\n"
        f"    checkpoint file {size / 1e6:.1f} MB; resuming from it (all batches done): "
        f"{resume.wall:.2f} s"
    )
    if not skip_rewrite:
        save = _rewrite_every_batch(folder / "rewrite.json", {"run": head.to_dict()})
        with rewrite():
            lee.run_toys(model, n_toys=n_toys, seed=7, on_batch=save)
        print(
            f"  former checkpoint (file rewritten after every batch): {rewrite.wall:.2f} s wall, "
            f"{rewrite.cpu:.2f} s CPU; ratio {rewrite.wall / plain.wall:.3f} wall"
        )
    for stale in folder.iterdir():
        stale.unlink()
    folder.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--toys", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mc-points", type=int, default=300_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--table-windows", type=int, default=0, help="tabulate ~N windows only (0: all)"
    )
    parser.add_argument("--checkpoint-overhead", action="store_true")
    parser.add_argument("--side", type=int, default=5, help="--checkpoint-overhead: side x side")
    parser.add_argument(
        "--skip-rewrite", action="store_true", help="--checkpoint-overhead: not the former one"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.checkpoint_overhead:
        checkpoint_overhead(args.toys, args.side, args.batch_size, args.skip_rewrite)
        print(f"machine after: {machine()}")
        return
    t0 = time.perf_counter()
    cells, b, centres, relative = realistic_search(mc_points=args.mc_points)
    t_search = time.perf_counter() - t0
    w = cells.n_windows
    print(
        f"search: {w} windows, {cells.n_cells} cells, {cells.indices.size} window-cell links, "
        f"{cells.background.sum():.0f} expected events, mean b/window {b.mean():.2f} "
        f"(built in {t_search:.1f} s)"
    )
    for label, systematics, mc in (
        ("Poisson only", False, False),
        ("+ syst + MC stat", True, True),
    ):
        t0 = time.perf_counter()
        model = lee.build_toy_model(
            b,
            cells,
            pvalue=lee.poisson_pvalue,
            centres=centres,
            mc_stat=mc,
            relative_windows=relative if systematics else None,
            gv_toys=200,
            batch_size=args.batch_size,
        )
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        with parallel.executor(workers=args.workers) as ex:
            results = lee.run_toys(model, n_toys=args.toys, seed=7, executor=ex)
        t_toys = time.perf_counter() - t0
        # CPU time per toy in this process (less sensitive to the load than wall time).
        n_cpu = max(model.batch_size, args.toys // 10)
        c0 = cpu_seconds()
        lee.run_toys(model, n_toys=n_cpu, seed=8)
        c_toys = cpu_seconds() - c0
        n = sum(r.max_z.size for r in results.values())
        rate = n / t_toys
        print(f"[{label}] model + Z tables: {t_build:.2f} s ({model.ztable.values.size} entries)")
        print(
            f"[{label}] {n} toys x {w} windows on {args.workers} workers: {t_toys:.2f} s -> "
            f"{rate:.0f} toys/s, {rate * w:.3g} window-toys/s; "
            f"ratio vs pyhf single-window toys ({PYHF_TOYS_PER_S:.0f}/s): {rate * w / PYHF_TOYS_PER_S:.3g}; "
            f"1e5 toys would take {1e5 / rate:.0f} s"
        )
        print(
            f"[{label}] CPU time in one process: {n_cpu} toys in {c_toys:.1f} s -> "
            f"{n_cpu / c_toys:.0f} toys per CPU-second ({n_cpu / c_toys * w:.3g} window-toys/s, "
            f"ratio vs pyhf {n_cpu / c_toys * w / PYHF_TOYS_PER_S:.3g}); 1e5 toys on 2 free "
            f"cores would take ~{1e5 / (2 * n_cpu / c_toys):.0f} s"
        )
    # Z tables with the real hybrid p-value (stats.significance) for ALL windows (one-off cost).
    from dhstat.stats import significance
    from dhstat.stats.model import WindowSet

    sub = np.arange(0, w, max(1, w // args.table_windows)) if args.table_windows else np.arange(w)
    sumw2_w = np.add.reduceat(cells.sumw2[cells.indices], cells.indptr[:-1])[sub]
    shifts = np.zeros((sub.size, 2, 3))
    shifts[:, :, 1] = (relative[:, sub] * b[sub]).T
    windows = WindowSet(
        ids=tuple(str(i) for i in sub),
        n=np.rint(b[sub]).astype(np.int64),
        signal=np.full(sub.size, 1.67),
        stat_background=b[sub],
        other_background=np.zeros(sub.size),
        parameters=("syst_ceta", "syst_detector"),
        shifts=shifts,
        stat_width=np.sqrt(sumw2_w) / np.maximum(b[sub], 1e-9),
        sigma_max=np.full(sub.size, 100.0),
    )
    sub_cells = lee.CellInputs(b[sub], sumw2_w, np.arange(sub.size + 1), np.arange(sub.size))
    t0 = time.perf_counter()
    with parallel.executor(workers=args.workers) as ex:
        model = lee.build_toy_model(
            windows,
            sub_cells,
            pvalue=significance.hybrid_pvalue,
            relative_windows=relative[:, sub],
            executor=ex,
        )
    t_table = time.perf_counter() - t0
    entries = model.ztable.values.size
    # CPU in this process: the first call pays the one-off set-up of the quadrature rules
    # (stats.priors, cached per process), the second is the table construction alone.
    cpu = []
    for _ in range(2):
        c0 = cpu_seconds()
        lee.build_ztable(
            windows.with_quadrature(windows.tolerance, windows.max_order),
            model.ztable.n_max,
            significance.hybrid_pvalue,
            n_min=model.ztable.n_min,
        )
        cpu.append(cpu_seconds() - c0)
    print(
        f"[hybrid p-value tables] {sub.size} windows, {entries} (window, n) entries on "
        f"{args.workers} workers (including worker start-up and per-process set-up): "
        f"{t_table:.2f} s wall"
    )
    print(
        f"[hybrid p-value tables] CPU in one process: {cpu[1]:.2f} s "
        f"({entries / cpu[1]:.0f} entries per CPU-second); first call incl. one-off "
        f"quadrature set-up {cpu[0]:.2f} s"
    )
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak memory: main {self_mb:.0f} MB, largest worker {child_mb:.0f} MB; pid {os.getpid()}"
    )


if __name__ == "__main__":
    main()
