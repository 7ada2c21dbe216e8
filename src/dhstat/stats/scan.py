"""The whole window set at once: p, Z, Bayes factor, flat and log upper limits, flags, summary.

:func:`read_windows` reads ``DIR/index.json`` (schema ``workspace-index``, every file's SHA-256
checked) or a directory of workspace JSON files into a :class:`~dhstat.stats.model.WindowSet`;
:func:`scan` computes every result with the vectorised window path; :meth:`ScanResult.to_dict`
gives the ``results.json`` document (schema ``scan``), which also carries the window model so that
the look-elsewhere toys can rebuild the p-value tables without the workspaces.

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs(
    ...     [window_spec(n=0, signal=1.5, backgrounds={"b": 0.1}),
    ...      window_spec(n=9, signal=1.5, backgrounds={"b": 1.0})], ids=["a", "b"])
    >>> result = scan(ws)
    >>> result.summary()["largest_excess"]["id"], result.flagged.tolist()
    ('b', [False, True])
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat import workspace
from dhstat.errors import InputError
from dhstat.jsonio import sha256_file
from dhstat.parallel import Executor
from dhstat.provenance import provenance
from dhstat.stats import priors, significance, window_bayes
from dhstat.stats.model import WindowSet

__all__ = ["ScanResult", "ScanSettings", "WindowInfo", "read_windows", "scan"]

log = logging.getLogger(__name__)


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """Settings of a scan (the ``[stats]`` table; ``sigma_max=None``: each workspace's POI bound).

    Example:
        >>> ScanSettings().cl
        0.9
    """

    cl: float = 0.9
    sigma_max: float | None = None
    sigma_min: float = 0.5
    z_threshold: float = 3.5
    bayes_factor_threshold: float = 80.0
    quadrature_tolerance: float = 1e-8
    max_quadrature_order: int = 24
    sigma_max_tolerance: float = 0.01
    sigma_max_check_factor: float = 10.0

    @classmethod
    def from_config(cls, table: Mapping[str, Any], sigma_max: float | None = None) -> ScanSettings:
        """Settings from the ``[stats]`` table (``sigma_max`` from the command line, if given)."""
        return cls(
            cl=float(table["cl"]),
            sigma_max=sigma_max,
            sigma_min=float(table["sigma_min"]),
            z_threshold=float(table["z_threshold"]),
            bayes_factor_threshold=float(table["bayes_factor_threshold"]),
            quadrature_tolerance=float(table["quadrature_tolerance"]),
            max_quadrature_order=int(table["max_quadrature_order"]),
            sigma_max_tolerance=float(table["sigma_max_tolerance"]),
            sigma_max_check_factor=float(table["sigma_max_check_factor"]),
        )


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """What the index says about the windows (optional for a plain directory).

    Attributes:
        ids: Window ids as in the index (int) or file stems (str).
        ma: M_A' per window [GeV] (NaN when unknown).
        mh: M_h' per window [GeV] (NaN when unknown).
        luminosity_fb: L [fb^-1] or None.
        source: The index file or directory.
        index_sha256: SHA-256 of the index, or None.
    """

    ids: tuple[int | str, ...]
    ma: NDArray[np.float64]
    mh: NDArray[np.float64]
    luminosity_fb: float | None
    source: str
    index_sha256: str | None


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Results of a scan: one entry per window (arrays of shape (W,)).

    Attributes:
        windows: The window set.
        info: Index information (ids, masses, luminosity).
        settings: The settings used.
        p_value: Local hybrid p-values.
        z: ``norm.isf(p)`` (+-inf possible).
        bayes_factor: B10 (inf possible).
        flat: Flat-prior limits (with the sigma_max-dependence flags).
        log_prior: Log-prior limits.
        flagged: Z or B10 above the thresholds.
    """

    windows: WindowSet
    info: WindowInfo
    settings: ScanSettings
    p_value: NDArray[np.float64]
    z: NDArray[np.float64]
    bayes_factor: NDArray[np.float64]
    flat: window_bayes.WindowLimits
    log_prior: window_bayes.WindowLimits
    flagged: NDArray[np.bool_]

    def summary(self) -> dict[str, Any]:
        """The summary block of ``results.json``."""
        w = self.windows
        z = np.where(np.isnan(self.z), -np.inf, self.z)
        top = int(np.argmax(z)) if len(w) else 0
        finite_bf = self.bayes_factor[~np.isnan(self.bayes_factor)]
        ratio = self.log_prior.upper_limit / self.flat.upper_limit
        return {
            "n_windows": len(w),
            "n_flagged": int(self.flagged.sum()),
            "flagged": [self.info.ids[i] for i in np.flatnonzero(self.flagged)],
            "n_sigma_max_dependent": int(self.flat.sigma_max_dependent.sum()),
            "largest_excess": {
                "id": self.info.ids[top],
                "ma": _num(self.info.ma[top]),
                "mh": _num(self.info.mh[top]),
                "n": int(w.n[top]),
                "b": float(w.background[top]),
                "p_value": float(self.p_value[top]),
                "z": _num(self.z[top]),
                "bayes_factor": _num(self.bayes_factor[top]),
            },
            "max_bayes_factor": _num(finite_bf.max()) if finite_bf.size else None,
            "upper_limit_flat": _range(self.flat.upper_limit),
            "upper_limit_log": _range(self.log_prior.upper_limit),
            "log_over_flat": _range(ratio),
        }

    def to_dict(self, *, config_digest: str = "") -> dict[str, Any]:
        """The ``results.json`` document (schema ``scan``)."""
        w, s, info = self.windows, self.settings, self.info
        lumi = info.luminosity_fb
        rows = []
        for i in range(len(w)):
            flags = []
            if self.z[i] > s.z_threshold:
                flags.append("z")
            if self.bayes_factor[i] > s.bayes_factor_threshold:
                flags.append("bayes_factor")
            if self.flat.sigma_max_dependent[i]:
                flags.append("sigma_max")
            rows.append(
                {
                    "id": info.ids[i],
                    "ma": _num(info.ma[i]),
                    "mh": _num(info.mh[i]),
                    "n": int(w.n[i]),
                    "b": float(w.background[i]),
                    "signal_per_fb": float(w.signal[i]),
                    "eps": float(w.signal[i] / lumi) if lumi else None,
                    "p_value": float(self.p_value[i]),
                    "z": _num(self.z[i]),
                    "bayes_factor": _num(self.bayes_factor[i]),
                    "upper_limit_flat": _num(self.flat.upper_limit[i]),
                    "upper_limit_log": _num(self.log_prior.upper_limit[i]),
                    "sigma_max": float(self.flat.sigma_max[i]),
                    "sigma_max_dependent": bool(self.flat.sigma_max_dependent[i]),
                    "flags": flags,
                }
            )
        return {
            "schema_version": "1.0.0",
            "settings": {
                "cl": s.cl,
                "sigma_max": s.sigma_max,
                "sigma_min": s.sigma_min,
                "z_threshold": s.z_threshold,
                "bayes_factor_threshold": s.bayes_factor_threshold,
                "method": "hybrid",
                "quadrature_tolerance": s.quadrature_tolerance,
                "max_quadrature_order": s.max_quadrature_order,
                "sigma_max_tolerance": s.sigma_max_tolerance,
                "sigma_max_check_factor": s.sigma_max_check_factor,
                "truncation": priors.TRUNCATION,
            },
            "luminosity_fb": lumi,
            "windows": rows,
            "summary": self.summary(),
            "window_model": w.to_dict(),
            "provenance": provenance(
                pyhf=True,
                source=info.source,
                index_sha256=info.index_sha256,
                config_digest=config_digest,
            ),
        }


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _range(values: NDArray[np.float64]) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {"min": None, "median": None, "max": None}
    return {
        "min": float(finite.min()),
        "median": float(np.median(finite)),
        "max": float(finite.max()),
    }


def _default_info(windows: WindowSet) -> WindowInfo:
    nan = np.full(len(windows), np.nan)
    return WindowInfo(windows.ids, nan, nan, None, "<memory>", None)


def _compute(task: tuple[WindowSet, ScanSettings]) -> tuple[NDArray[np.float64], ...]:
    """p, B10, flat limit, flat limit at the check, flat flag, log limit for a chunk of windows."""
    windows, settings = task
    p = significance.hybrid_pvalue(windows, windows.n[:, None])[:, 0]
    bf = window_bayes.window_bayes_factors(windows, sigma_max=settings.sigma_max)
    flat = window_bayes.window_upper_limits(
        windows,
        cl=settings.cl,
        prior="flat",
        sigma_max=settings.sigma_max,
        check_factor=settings.sigma_max_check_factor,
        tolerance=settings.sigma_max_tolerance,
    )
    log_limits = window_bayes.window_upper_limits(
        windows,
        cl=settings.cl,
        prior="log",
        sigma_max=settings.sigma_max,
        sigma_min=settings.sigma_min,
    )
    return (
        p,
        bf,
        flat.upper_limit,
        flat.limit_at_check,
        flat.sigma_max_dependent.astype(np.float64),
        log_limits.upper_limit,
        flat.sigma_max,
    )


def scan(
    windows: WindowSet,
    *,
    settings: ScanSettings | None = None,
    info: WindowInfo | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScanResult:
    """Compute p, Z, B10 and the flat and log upper limits of every window.

    Args:
        windows: The window set (its quadrature settings are replaced by ``settings``').
        settings: Scan settings.
        info: Index information (ids, masses, luminosity) for the output.
        executor: Runs chunks of windows in parallel (``parallel.executor``); None: this process.
        progress: Called with the number of newly finished windows.
    """
    settings = settings or ScanSettings()
    windows = windows.with_quadrature(settings.quadrature_tolerance, settings.max_quadrature_order)
    info = info or _default_info(windows)
    count = len(windows)
    parts = 1 if executor is None or executor.workers <= 1 else 4 * executor.workers
    parts = max(1, min(parts, count))
    chunks = np.array_split(np.arange(count), parts)
    tasks = [(windows.subset(rows), settings) for rows in chunks]
    mapper = executor.imap if executor is not None else map
    columns: list[list[NDArray[np.float64]]] = [[] for _ in range(7)]
    for rows, result in zip(chunks, mapper(_compute, tasks), strict=True):
        for column, values in zip(columns, result, strict=True):
            column.append(values)
        if progress is not None:
            progress(rows.size)
    p, bf, flat_ul, at_check, dependent, log_ul, smax = (np.concatenate(c) for c in columns)
    z = significance.z_of_p(p)
    flags = dependent.astype(bool)
    if flags.any():
        log.warning("%d of %d flat-prior limits depend on sigma_max", int(flags.sum()), count)
    flat = window_bayes.WindowLimits(flat_ul, flags, at_check, settings.cl, "flat", smax, None)
    log_limits = window_bayes.WindowLimits(
        log_ul,
        np.zeros(count, dtype=bool),
        np.full(count, np.nan),
        settings.cl,
        "log",
        smax,
        settings.sigma_min,
    )
    flagged = (z > settings.z_threshold) | (bf > settings.bayes_factor_threshold)
    if flagged.any():
        log.warning("%d windows above the thresholds", int(flagged.sum()))
    return ScanResult(windows, info, settings, p, z, bf, flat, log_limits, flagged)


def read_windows(
    path: str | os.PathLike[str], *, sigma_max: float | None = None
) -> tuple[WindowSet, WindowInfo]:
    """Read a window set: ``DIR/index.json`` (or the index file itself), or a directory of JSONs.

    Args:
        path: The index file, its directory, or a directory of workspace JSON files.
        sigma_max: POI bound for workspaces that do not set one.

    Raises:
        InputError: missing files, digests that differ from the index, invalid workspaces.
    """
    target = Path(path)
    index_path = target if target.is_file() else target / "index.json"
    if index_path.is_file():
        folder = index_path.parent
        wset = workspace.read_set(folder)
        entries = wset.index["windows"]
        ids = tuple(entry["id"] for entry in entries)
        windows = WindowSet.from_specs(
            list(wset.workspaces),
            ids=[str(i) for i in ids],
            sources=[str(folder / entry["file"]) for entry in entries],
            sigma_max=sigma_max,
        )
        info = WindowInfo(
            ids=ids,
            ma=np.array([float(e["ma"]) for e in entries]),
            mh=np.array([float(e["mh"]) for e in entries]),
            luminosity_fb=float(wset.index["luminosity_fb"]),
            source=str(index_path),
            index_sha256=sha256_file(index_path),
        )
        return windows, info
    if not target.is_dir():
        raise InputError(target, "(path)", "an index.json or a directory of workspace JSON files")
    files = sorted(p for p in target.glob("*.json") if p.name != "index.json")
    if not files:
        raise InputError(target, "(directory)", "workspace JSON files")
    specs: list[Any] = []
    for file in files:
        try:
            specs.append(json.loads(file.read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise InputError(file, f"line {error.lineno}", "valid JSON") from None
    names: Sequence[str] = [f.stem for f in files]
    windows = WindowSet.from_specs(
        specs, ids=list(names), sources=[str(f) for f in files], sigma_max=sigma_max
    )
    nan = np.full(len(files), np.nan)
    return windows, WindowInfo(tuple(names), nan, nan, None, str(target), None)
