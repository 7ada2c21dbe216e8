"""The windows stage: grid, signal fits, Punzi C_eta cuts and efficiencies, put together.

:func:`define` builds the :class:`~dhstat.windows.settings.WindowSettings` once, fits every grid
point in the analysis range (:func:`~dhstat.windows.points.fit_points`), chooses the C_eta cut of
each window (:func:`~dhstat.windows.punzi.punzi_cuts`, or the loosest candidate without background
MC), and derives the efficiencies with their binomial uncertainties, a summary and the provenance.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import parallel
from dhstat.config import Config
from dhstat.provenance import provenance
from dhstat.windows.container import Windows
from dhstat.windows.digests import config_digest
from dhstat.windows.fit import FIT_STATUSES
from dhstat.windows.locate import membership, overlap_fractions
from dhstat.windows.points import PointResult, candidate_cuts, fit_points
from dhstat.windows.punzi import background_curves, punzi_cuts
from dhstat.windows.settings import WindowSettings
from dhstat.windows.signal_mc import CORE_WIDTH, SignalPoint, fit_signal_points
from dhstat.windows.simulate import SignalSimulator

__all__ = ["define"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: The windows file's ``contour`` description per ``[windows] contour``.
_CONTOUR_TEXT = {
    "tail": "n_sigma contour of the wider fitted component S2 (the tail Gaussian)",
    "mixture": "n_sigma contour of the mixture covariance f*S1 + (1-f)*S2",
}


def __dir__() -> list[str]:
    return __all__


def define(
    cfg: Config,
    *,
    background: Mapping[str, NDArray[Any]] | None,
    executor: parallel.Executor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
    simulate: SignalSimulator | None = None,
    signal: Sequence[SignalPoint] = (),
) -> Windows:
    """Build the search windows: grid, signal fits, Punzi C_eta cuts, efficiencies.

    Args:
        cfg: The configuration (``[grid]``, ``[windows]`` and the simulation tables).
        background: Selected background MC (flat arrays ``mrecoil2``, ``mmumu2``, ``ceta``,
            ``weight``; weights normalised to the data luminosity) for the Punzi optimisation;
            ``None`` keeps the loosest candidate cut (``ceta_cut_max``) in every window.
        executor: Where batches of grid points run.
        checkpoint: Resumable JSON-lines checkpoint (see :func:`fit_points`).
        progress: Called with the number of newly finished grid points.
        simulate: Signal simulator override (tests); default dhstat.simulation + selection.
        signal: The analyst's signal MC (:mod:`~dhstat.windows.signal_mc`): one window per
            point, sorted by (ma, mh), ids 0, 1, ...; nothing simulated, no checkpoint.

    Returns:
        The windows, in grid order, ids = grid point indices.

    Raises:
        InputError: A signal point cannot make a window (names the point).
    """
    settings = WindowSettings.from_config(cfg)
    extra: dict[str, Any] = {}
    if signal:
        points = fit_signal_points(signal, settings, executor=executor, progress=progress)
        n_grid = n_in_range = len(points)
        extra["signal_source"] = _signal_source(len(points))
    else:
        grid, points = fit_points(
            cfg, settings=settings, executor=executor, checkpoint=checkpoint,
            progress=progress, simulate=simulate,
        )  # fmt: skip
        n_grid, n_in_range = grid.size, int(grid.in_range.sum())
    cuts = candidate_cuts(settings)
    n = len(points)
    base = _base_windows(points, cuts)
    eff_curves, sw2, total, total2 = _curves(points, cuts.size)
    summary: dict[str, Any] = {}
    if background is not None:
        index, chosen = _punzi_choice(base, background, eff_curves, cuts, settings.punzi_a)
        summary.update(_background_summary(base, background, chosen))
    else:
        index = np.full(n, cuts.size - 1, dtype=np.int64)
        chosen = cuts[index]
    rows = np.arange(n)
    eff = eff_curves[rows, index]
    var = _efficiency_variance(eff, sw2[rows, index], total, total2)
    fraction = _window_fraction(points)
    summary.update(_summary(base, eff, chosen, fraction))
    meta = provenance(
        config_digest=config_digest(cfg),
        seed=settings.seed,
        sqrt_s=settings.grid.sqrt_s,
        n_grid_total=n_grid,
        n_grid_in_range=n_in_range,
        grid=dict(cfg["grid"]),
        windows=dict(cfg["windows"]),
        ceta_cuts="punzi" if background is not None else "loosest",
        contour=_CONTOUR_TEXT[settings.contour],
        summary=summary,
        **extra,
    )
    return dataclasses.replace(
        base,
        ceta_cut=np.asarray(chosen, dtype=np.float64),
        efficiency=eff,
        efficiency_error=np.sqrt(np.clip(var, 0, None)),
        window_fraction=fraction,
        meta=meta,
    )


def _curves(
    points: Sequence[PointResult], k: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Efficiency per point and candidate cut, the squared weights passing, the totals."""
    n = len(points)
    total = np.array([max(p.sumw_total, 1e-300) for p in points])
    total2 = np.array([p.sumw2_total for p in points])
    sw = np.array([p.sumw_pass for p in points], dtype=np.float64).reshape(n, k)
    sw2 = np.array([p.sumw2_pass for p in points], dtype=np.float64).reshape(n, k)
    return sw / total[:, None], sw2, total, total2


def _signal_source(n: int) -> str:
    """How the windows file describes windows made from ``n`` signal points."""
    return (
        f"analyst signal MC, {n} mass points; ellipses fitted to the core x <= median + "
        f"{CORE_WIDTH:g} (median - q15.87) of x = M_recoil^2 (truncated fit)"
    )


def _base_windows(points: Sequence[PointResult], cuts: FloatArray) -> Windows:
    """The fitted windows of the points, with the loosest cut and no efficiencies yet."""
    n = len(points)
    fits = [p.fit for p in points]
    return Windows(
        ids=np.array([p.id for p in points], dtype=np.int64),
        ma=np.array([p.ma for p in points]),
        mh=np.array([p.mh for p in points]),
        center=np.array([f["center"] for f in fits], dtype=np.float64).reshape(n, 2),
        axes=np.array([f["axes"] for f in fits], dtype=np.float64).reshape(n, 2),
        angle=np.array([f["angle"] for f in fits], dtype=np.float64),
        ceta_cut=np.full(n, cuts[-1]),
        efficiency=np.zeros(n),
        efficiency_error=np.zeros(n),
        window_fraction=np.zeros(n),
        sigma_core=np.array([f["sigma_core"] for f in fits], dtype=np.float64).reshape(n, 2),
        sigma_tail=np.array([f["sigma_tail"] for f in fits], dtype=np.float64).reshape(n, 2),
        rho=np.array([f["rho"] for f in fits], dtype=np.float64),
        core_fraction=np.array([f["core_fraction"] for f in fits], dtype=np.float64),
        fit_status=tuple(str(f["fit_status"]) for f in fits),
        fit_edm=np.array([f["fit_edm"] for f in fits], dtype=np.float64),
        n_fit=np.array([p.n_fit for p in points], dtype=np.int64),
    )


def _punzi_choice(
    base: Windows,
    background: Mapping[str, NDArray[Any]],
    eff_curves: FloatArray,
    cuts: FloatArray,
    a: float,
) -> tuple[IntArray, FloatArray]:
    """Index and value of the Punzi-optimal candidate cut of every window."""
    bkg = background_curves(base, background, cuts)
    return punzi_cuts(eff_curves, bkg, cuts, a=a)


def _background_summary(
    base: Windows, background: Mapping[str, NDArray[Any]], chosen: FloatArray
) -> dict[str, Any]:
    """Mean number of windows a background event counts in (with the chosen cuts)."""
    counted = membership(
        dataclasses.replace(base, ceta_cut=np.asarray(chosen, dtype=np.float64)),
        background["mrecoil2"],
        background["mmumu2"],
        ceta=background["ceta"],
    )
    weight = np.asarray(background["weight"], dtype=np.float64)
    per_event = np.diff(counted.indptr)
    return {
        "background_windows_per_event": float(
            np.sum(weight * per_event) / max(float(weight.sum()), 1e-300)
        ),
        "background_events": int(weight.size),
    }


def _efficiency_variance(
    eff: FloatArray, pass2: FloatArray, total: FloatArray, total2: FloatArray
) -> FloatArray:
    """Variance of weighted-binomial efficiencies.

    ``Var = [sum_pass w^2 (1-eps)^2 + sum_fail w^2 eps^2] / W^2``.

    Example:
        >>> _efficiency_variance(np.array([0.5]), np.array([2.0]), np.array([4.0]),
        ...                      np.array([4.0])).tolist()
        [0.0625]
    """
    var = (pass2 * (1 - eff) ** 2 + np.clip(total2 - pass2, 0, None) * eff**2) / total**2
    return np.asarray(var, dtype=np.float64)


def _window_fraction(points: Sequence[PointResult]) -> FloatArray:
    """Fraction of the selected ISR signal of each point inside its ellipse (no C_eta cut)."""
    sel = np.array([max(p.sumw_selected, 1e-300) for p in points])
    inside_all = np.array([p.sumw_inside for p in points])
    return np.asarray(np.clip(inside_all / sel, 0, 1), dtype=np.float64)


def _summary(
    base: Windows, eff: FloatArray, chosen: FloatArray, fraction: FloatArray
) -> dict[str, Any]:
    """Counts of fit statuses, mean efficiency, cut and window fraction, and overlaps."""
    n = len(base)
    statuses = list(base.fit_status)
    return {
        "n_windows": n,
        "fit_status": {k: statuses.count(k) for k in FIT_STATUSES},
        "mean_window_fraction": float(np.mean(fraction)) if n else 0.0,
        "mean_window_fraction_fitted": float(np.mean(fraction[fraction > 0])) if n else 0.0,
        "mean_efficiency": float(np.mean(eff)) if n else 0.0,
        "mean_ceta_cut": float(np.mean(chosen)) if n else 0.0,
        **_overlaps(base),
    }


def _overlaps(base: Windows) -> dict[str, float]:
    """Median area overlap of a window with its nearest neighbour and with all other windows."""
    n = len(base)
    return {
        "median_neighbour_overlap": (float(np.median(overlap_fractions(base))) if n > 1 else 0.0),
        "median_union_overlap": (
            float(np.median(overlap_fractions(base, kind="union"))) if n > 1 else 0.0
        ),
    }
