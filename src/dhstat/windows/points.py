"""The work of each grid point: simulate, fit the window, sum the signal per candidate C_eta cut.

For every grid point in the analysis range, :func:`fit_point` simulates no-ISR signal for the
window shape (:func:`~dhstat.windows.fit.fit_ellipse`; with too few selected events the window
comes from the resolution model) and ISR signal for the efficiency, summed per candidate cut
(:func:`candidate_cuts`). :func:`fit_points` runs all points in batches on an executor and
appends every finished point to a JSON-lines checkpoint, so an interrupted run resumes where it
stopped.

Example:
    >>> from dhstat import config
    >>> settings = WindowSettings.from_config(config.load())
    >>> fit = resolution_fit(6.0, 2.0, settings.grid, settings.n_sigma)
    >>> fit["center"], fit["fit_status"]
    ([4.0, 36.0], 'too_few_events')
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import parallel
from dhstat.config import Config
from dhstat.windows.container import from_ellipses
from dhstat.windows.digests import point_digest
from dhstat.windows.fit import fit_ellipse
from dhstat.windows.geometry import covariance_ellipse
from dhstat.windows.grid import Grid, grid_points, resolution
from dhstat.windows.locate import contains
from dhstat.windows.settings import GridSettings, WindowSettings
from dhstat.windows.simulate import STREAM, SignalSimulator, default_signal

__all__ = [
    "PointResult",
    "candidate_cuts",
    "fit_point",
    "fit_points",
    "resolution_fit",
    "summed_point",
]

FloatArray = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def candidate_cuts(settings: WindowSettings) -> FloatArray:
    """The candidate C_eta cuts of the ``[windows]`` table (keep C_eta < c).

    Example:
        >>> from dhstat import config
        >>> c = candidate_cuts(WindowSettings.from_config(config.load()))
        >>> float(c[0]), float(c[-1]), c.size
        (0.5, 1.0, 51)
    """
    return np.linspace(settings.ceta_cut_min, settings.ceta_cut_max, settings.ceta_cut_steps)


@dataclass(frozen=True, slots=True)
class PointResult:
    """What one grid point contributes: its fitted window and its signal efficiency curve.

    Attributes:
        id: Grid point index.
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        fit: Fit results (see :func:`~dhstat.windows.fit.fit_ellipse`).
        n_fit: Events in the fit.
        sumw_pass: Per candidate cut, the ISR signal weight selected, inside and C_eta < cut.
        sumw2_pass: The same with squared weights.
        sumw_selected: ISR signal weight selected (no window, no C_eta cut).
        sumw_inside: ISR signal weight selected and inside the ellipse (no C_eta cut).
        sumw_total: Weight of all generated ISR signal events.
        sumw2_total: Sum of their squared weights.
    """

    id: int
    ma: float
    mh: float
    fit: Mapping[str, Any]
    n_fit: int
    sumw_pass: tuple[float, ...]
    sumw2_pass: tuple[float, ...]
    sumw_selected: float
    sumw_inside: float
    sumw_total: float
    sumw2_total: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (one checkpoint line)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PointResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=int(d["id"]),
            ma=float(d["ma"]),
            mh=float(d["mh"]),
            fit=dict(d["fit"]),
            n_fit=int(d["n_fit"]),
            sumw_pass=tuple(d["sumw_pass"]),
            sumw2_pass=tuple(d["sumw2_pass"]),
            sumw_selected=float(d["sumw_selected"]),
            sumw_inside=float(d["sumw_inside"]),
            sumw_total=float(d["sumw_total"]),
            sumw2_total=float(d["sumw2_total"]),
        )


def resolution_fit(ma: float, mh: float, grid: GridSettings, n_sigma: float) -> dict[str, Any]:
    """The window of a point with too few events to fit: the resolution model around (mh^2, ma^2).

    Args:
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        grid: The ``[grid]`` settings (resolution model).
        n_sigma: Window size in standard deviations.

    Returns:
        Fit results as :func:`~dhstat.windows.fit.fit_ellipse` gives them, with ``fit_status``
        ``"too_few_events"``.
    """
    sig = resolution(ma, mh, grid)
    cov = np.diag(sig**2)
    axes, angle = covariance_ellipse(cov, n_sigma)
    return {
        "center": [mh * mh, ma * ma],
        "axes": axes.tolist(),
        "angle": float(angle),
        "sigma_core": sig.tolist(),
        "sigma_tail": sig.tolist(),
        "rho": 0.0,
        "core_fraction": 1.0,
        "fit_status": "too_few_events",
        "fit_edm": 0.0,
    }


def _fit_shape(
    pid: int,
    ma: float,
    mh: float,
    cfg: Mapping[str, Any],
    settings: WindowSettings,
    simulate: SignalSimulator,
) -> tuple[dict[str, Any], int]:
    """The window of a point from its no-ISR signal, and the number of events fitted."""
    shape, _, _ = simulate(
        ma, mh, settings.n_events, cfg, parallel.task_rng(settings.seed, STREAM, pid, 0), False
    )
    x = np.asarray(shape["mrecoil2"], dtype=np.float64)[: settings.fit_max_events]
    y = np.asarray(shape["mmumu2"], dtype=np.float64)[: settings.fit_max_events]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < settings.fit_min_events:
        fit = resolution_fit(ma, mh, settings.grid, settings.n_sigma)
    else:
        fit, _ = fit_ellipse(x, y, n_sigma=settings.n_sigma, contour=settings.contour)
    return fit, int(x.size)


def fit_point(
    pid: int,
    ma: float,
    mh: float,
    cfg: Mapping[str, Any],
    settings: WindowSettings,
    simulate: SignalSimulator,
) -> PointResult:
    """Simulate, fit and sum the ISR signal per candidate cut at one grid point.

    Args:
        pid: Grid point index (keys its random streams).
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        cfg: The configuration (for the simulator).
        settings: The windows settings.
        simulate: The signal simulator.

    Returns:
        The point's window and efficiency sums.
    """
    fit, n_fit = _fit_shape(pid, ma, mh, cfg, settings, simulate)
    eff, total, total2 = simulate(
        ma, mh, settings.n_events, cfg, parallel.task_rng(settings.seed, STREAM, pid, 1), True
    )
    return summed_point(pid, ma, mh, fit, n_fit, eff, settings, total, total2)


def summed_point(
    pid: int,
    ma: float,
    mh: float,
    fit: Mapping[str, Any],
    n_fit: int,
    events: Mapping[str, NDArray[Any]],
    settings: WindowSettings,
    total: float,
    total2: float,
) -> PointResult:
    """A point's result: its window and the weights of ``events`` summed per candidate cut.

    Args:
        pid: Grid point index.
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        fit: The fitted window (see :func:`~dhstat.windows.fit.fit_ellipse`).
        n_fit: Events in the fit.
        events: The selected signal with ISR (``mrecoil2``, ``mmumu2``, ``ceta``, ``weight``).
        settings: The windows settings (candidate cuts).
        total: Weight of all generated events (the efficiency's denominator).
        total2: Sum of their squared weights.

    Returns:
        The point's result.
    """
    one = from_ellipses([fit["center"]], [fit["axes"]], [fit["angle"]])
    ex = np.asarray(events["mrecoil2"], dtype=np.float64)
    ey = np.asarray(events["mmumu2"], dtype=np.float64)
    ew = np.asarray(events["weight"], dtype=np.float64)
    ec = np.asarray(events["ceta"], dtype=np.float64)
    inside = contains(one, ex, ey)[:, 0]
    cuts = candidate_cuts(settings)
    j = np.searchsorted(cuts, ec[inside], side="right")
    sw = np.cumsum(np.bincount(j, weights=ew[inside], minlength=cuts.size + 1))[: cuts.size]
    sw2 = np.cumsum(np.bincount(j, weights=ew[inside] ** 2, minlength=cuts.size + 1))[: cuts.size]
    return PointResult(
        id=pid,
        ma=ma,
        mh=mh,
        fit=fit,
        n_fit=n_fit,
        sumw_pass=tuple(float(v) for v in sw),
        sumw2_pass=tuple(float(v) for v in sw2),
        sumw_selected=float(ew.sum()),
        sumw_inside=float(ew[inside].sum()),
        sumw_total=total,
        sumw2_total=total2,
    )


@dataclass(frozen=True, slots=True)
class _Task:
    points: tuple[tuple[int, float, float], ...]
    cfg: Mapping[str, Any]
    settings: WindowSettings
    simulate: SignalSimulator | None


def _run_task(task: _Task) -> list[PointResult]:
    simulate = task.simulate if task.simulate is not None else default_signal
    return [
        fit_point(pid, ma, mh, task.cfg, task.settings, simulate) for pid, ma, mh in task.points
    ]


def _read_checkpoint(path: Path, digest: str) -> dict[int, PointResult]:
    done: dict[int, PointResult] = {}
    if not path.is_file():
        return done
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by an interruption
                continue
            if record.get("digest") != digest:
                continue
            result = PointResult.from_dict(record["point"])
            done[result.id] = result
    return done


def _run_tasks(
    tasks: Sequence[_Task],
    done: dict[int, PointResult],
    *,
    executor: parallel.Executor | None,
    path: Path | None,
    digest: str,
    progress: Callable[[int], None] | None,
) -> None:
    """Run the batches, add their points to ``done`` and append them to the checkpoint."""
    stream = path.open("a", encoding="utf-8") if path is not None else None
    try:
        if executor is None:
            results: Iterator[list[PointResult]] = map(_run_task, tasks)
        else:
            results = executor.imap(_run_task, tasks)
        for batch in results:
            for result in batch:
                done[result.id] = result
                if stream is not None:
                    stream.write(json.dumps({"digest": digest, "point": result.to_dict()}) + "\n")
            if stream is not None:
                stream.flush()
            if progress is not None:
                progress(len(batch))
    finally:
        if stream is not None:
            stream.close()


def fit_points(
    cfg: Config,
    *,
    settings: WindowSettings | None = None,
    executor: parallel.Executor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
    simulate: SignalSimulator | None = None,
) -> tuple[Grid, list[PointResult]]:
    """Simulate and fit every grid point in the analysis range (resumable).

    Args:
        cfg: The configuration (for the simulator and the checkpoint digest).
        settings: The windows settings (default: built from ``cfg``).
        executor: Where batches of points run (default: in this process).
        checkpoint: JSON-lines file; finished points are appended, and points already there
            (with the same digest of the point-level settings: every table the windows depend
            on except the Punzi and scheduling keys of ``[windows]``) are not recomputed.
        progress: Called with the number of newly finished points.
        simulate: Signal simulator (default: dhstat.simulation + dhstat.selection); must be a
            module-level function to run in worker processes.

    Returns:
        The grid and one :class:`PointResult` per in-range point, in grid order.
    """
    s = settings if settings is not None else WindowSettings.from_config(cfg)
    grid = grid_points(s.grid)
    digest = point_digest(cfg)
    ids = np.flatnonzero(grid.in_range)
    done: dict[int, PointResult] = {}
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        done = _read_checkpoint(path, digest)
        if progress is not None and done:
            progress(sum(1 for i in ids if int(i) in done))
    todo = [(int(i), float(grid.ma[i]), float(grid.mh[i])) for i in ids if int(i) not in done]
    size = s.batch_size
    tasks = [_Task(tuple(todo[k : k + size]), cfg, s, simulate) for k in range(0, len(todo), size)]
    _run_tasks(tasks, done, executor=executor, path=path, digest=digest, progress=progress)
    return grid, [done[int(i)] for i in ids]
