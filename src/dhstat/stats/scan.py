"""The whole window set at once: p, Z, Bayes factor, limits observed and expected, flags, summary.

:func:`read_windows` reads ``DIR/index.json`` (schema ``workspace-index``, every file's SHA-256
checked) or a directory of workspace JSON files into a :class:`~dhstat.stats.model.WindowSet`;
:func:`scan` computes every result with the vectorised window path; :meth:`ScanResult.to_dict`
gives the ``results.json`` document (schema ``scan``), which also carries the window model so that
the look-elsewhere toys can rebuild the p-value tables without the workspaces.

Per window:

* the hybrid p-value, always in [0, 1], and the one-sided ``Z = max(0, Phi^-1(1 - p))``: a deficit
  (p >= 1/2, e.g. N = 0 with p = 1) has Z = 0, like pyhf's discovery statistic q0; Z = +inf (null
  in JSON) only where no background can produce N (p = 0);
* the Bayes factor B10 (flat prior on [0, sigma_max]);
* Bayesian upper limits (flat and log prior; the log prior's lower end follows the window's
  expected limit, docs/log-prior.md) and the expected flat-prior limits: the median and
  the -2, -1, +1, +2 sd quantiles under the background-only hypothesis, exact
  (:mod:`dhstat.stats.expected`);
* asymptotic CLs upper limits (qtilde, pyhf's), observed and expected with the same bands, at the
  same level ``cl`` (:mod:`dhstat.stats.cls`); the Bayesian flat-prior limit stays the headline;
* the expected (median) Z for a signal of ``sensitivity_sigma_fb`` (a sensitivity map);
* flags: ``z`` and ``bayes_factor`` (above the thresholds), ``sigma_max`` (a prior-dominated flat
  limit: it moves by more than ``sigma_max_tolerance`` when sigma_max is multiplied by
  ``sigma_max_check_factor``), ``no_sensitivity``: a signal yield per unit cross section
  ``signal_per_fb = eps L`` below ``min_signal_per_fb``. Such a window gets no limit (null),
  observed or expected, and no expected Z; its p, Z and B10 are still given.

The summary's limit ranges use only the sensitive windows whose flat limit is not prior-dominated
(``limit_range_windows``).

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
from dhstat.jsonio import loads_json, read_text, sha256_file
from dhstat.parallel import Executor
from dhstat.provenance import provenance
from dhstat.stats import cls, expected, priors, significance, window_bayes
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
    quadrature_tolerance: float = priors.QUADRATURE_TOLERANCE
    max_quadrature_order: int = 24
    sigma_max_tolerance: float = 0.01
    sigma_max_check_factor: float = 10.0
    sensitivity_sigma_fb: float = 5.0
    min_signal_per_fb: float = 0.025
    log_prior_lower: str = "expected"
    log_prior_fraction: float = 0.35

    @classmethod
    def from_config(cls, table: Mapping[str, Any], sigma_max: float | None = None) -> ScanSettings:
        """Settings from the ``[stats]`` table (``sigma_max`` from the command line, if given).

        Raises:
            InputError: ``sigma_max`` is not a finite positive number whose check point
                (``sigma_max * sigma_max_check_factor``) is finite too.
        """
        factor, sigma_min = float(table["sigma_max_check_factor"]), float(table["sigma_min"])
        if sigma_max is not None and not (
            sigma_max > sigma_min and math.isfinite(sigma_max * factor)
        ):
            expected = f"a number above [stats] sigma_min = {sigma_min:g}, times {factor:g} finite"
            source = "<command line>"
            raise InputError(source, "--sigma-max", expected, got=sigma_max)
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
            sensitivity_sigma_fb=float(table["sensitivity_sigma_fb"]),
            min_signal_per_fb=float(table["min_signal_per_fb"]),
            log_prior_lower=str(table.get("log_prior_lower", "expected")),
            log_prior_fraction=float(table.get("log_prior_fraction", 0.35)),
        )

    def log_sigma_min(
        self, expected_median: NDArray[np.float64], sigma_max: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Lower end of the log prior per window (docs/log-prior.md; NaN: no log limit).

        ``log_prior_lower = "expected"``: ``log_prior_fraction`` times the window's median
        expected flat-prior limit (data-independent, it follows the window's sensitivity), at
        most sigma_max / 2; ``"fixed"``: ``sigma_min`` [fb] for every window.

        Example:
            >>> ScanSettings().log_sigma_min(np.array([4.0, np.nan]), np.array([100.0, 100.0]))
            array([1.4, nan])
        """
        if self.log_prior_lower == "fixed":
            return np.full(sigma_max.shape, self.sigma_min)
        if self.log_prior_lower != "expected":
            raise InputError(
                None, "log_prior_lower", '"expected" or "fixed"', got=self.log_prior_lower
            )
        value = self.log_prior_fraction * expected_median
        ok = np.isfinite(value) & (value > 0)
        out: NDArray[np.float64] = np.where(ok, np.minimum(value, 0.5 * sigma_max), np.nan)
        return out


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
    """Results of a scan: one entry per window (arrays of shape (W,), bands (W, 5)).

    Attributes:
        windows: The window set.
        info: Index information (ids, masses, luminosity).
        settings: The settings used.
        p_value: Local hybrid p-values, in [0, 1].
        z: One-sided ``max(0, norm.isf(p))`` (0 for deficits; +inf only for p = 0).
        bayes_factor: B10 (inf possible).
        flat: Flat-prior limits (with the sigma_max-dependence flags; NaN without sensitivity).
        log_prior: Log-prior limits (NaN without sensitivity).
        flagged: Z or B10 above the thresholds.
        sensitive: ``signal_per_fb >= min_signal_per_fb``.
        flat_expected: Expected flat-prior limits at -2, -1, 0, +1, +2 sd (background only).
        cls_limits: Asymptotic CLs limits (qtilde), observed and expected.
        z_expected: Median Z for a signal of ``sensitivity_sigma_fb``.
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
    sensitive: NDArray[np.bool_]
    flat_expected: NDArray[np.float64]
    cls_limits: cls.ClsLimits
    z_expected: NDArray[np.float64]

    @property
    def quoted(self) -> NDArray[np.bool_]:
        """The windows of the summary's limit ranges: sensitive and not prior-dominated."""
        value: NDArray[np.bool_] = (
            self.sensitive & ~self.flat.sigma_max_dependent & np.isfinite(self.flat.upper_limit)
        )
        return value

    def summary(self) -> dict[str, Any]:
        """The summary block of ``results.json``."""
        w = self.windows
        z = np.where(np.isnan(self.z), -np.inf, self.z)
        top = int(np.argmax(z)) if len(w) else 0
        finite_bf = self.bayes_factor[~np.isnan(self.bayes_factor)]
        quoted = self.quoted
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = self.log_prior.upper_limit / self.flat.upper_limit
        dependent = self.flat.sigma_max_dependent
        return {
            "n_windows": len(w),
            "n_flagged": int(self.flagged.sum()),
            "flagged": [self.info.ids[i] for i in np.flatnonzero(self.flagged)],
            "n_sigma_max_dependent": int(dependent.sum()),
            "n_no_sensitivity": int((~self.sensitive).sum()),
            "n_prior_dominated": int((self.sensitive & dependent).sum()),
            "limit_range_windows": {"n": int(quoted.sum()), "selection": _QUOTED},
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
            "upper_limit_flat": _range(self.flat.upper_limit[quoted]),
            "upper_limit_log": _range(self.log_prior.upper_limit[quoted]),
            "log_over_flat": _range(ratio[quoted]),
            "log_flat_difference": _quantiles(np.abs(ratio[quoted] - 1.0)),
            "upper_limit_flat_expected": _range(self.flat_expected[quoted, 2]),
            "cls_upper_limit": _range(self.cls_limits.observed[quoted]),
            "cls_upper_limit_expected": _range(self.cls_limits.expected[quoted, 2]),
            "z_expected": _range(self.z_expected[self.sensitive]),
        }

    def _log_sigma_min(self) -> NDArray[np.float64]:
        """The lower end of the log prior per window (NaN where no log limit was computed)."""
        smin = self.log_prior.sigma_min
        values = np.full(len(self.windows), np.nan if smin is None else 0.0)
        return values + (0.0 if smin is None else smin)

    def _flags(self, i: int) -> list[str]:
        s = self.settings
        flags = []
        if self.z[i] > s.z_threshold:
            flags.append("z")
        if self.bayes_factor[i] > s.bayes_factor_threshold:
            flags.append("bayes_factor")
        if self.flat.sigma_max_dependent[i]:
            flags.append("sigma_max")
        if not self.sensitive[i]:
            flags.append("no_sensitivity")
        return flags

    def _row(self, i: int, log_sigma_min: NDArray[np.float64]) -> dict[str, Any]:
        """One entry of ``windows`` in ``results.json``."""
        w, info = self.windows, self.info
        lumi = info.luminosity_fb
        sensitive = bool(self.sensitive[i])
        return {
            "id": info.ids[i],
            "ma": _num(info.ma[i]),
            "mh": _num(info.mh[i]),
            "n": int(w.n[i]),
            "b": float(w.background[i]),
            "signal_per_fb": float(w.signal[i]),
            "eps": float(w.signal[i] / lumi) if lumi else None,
            "sensitive": sensitive,
            "p_value": float(self.p_value[i]),
            "z": _num(self.z[i]),
            "z_expected": _num(self.z_expected[i]) if sensitive else None,
            "bayes_factor": _num(self.bayes_factor[i]),
            "upper_limit_flat": _num(self.flat.upper_limit[i]),
            "upper_limit_log": _num(self.log_prior.upper_limit[i]),
            "log_prior_sigma_min": _num(log_sigma_min[i]),
            "upper_limit_flat_expected": _band(self.flat_expected[i]) if sensitive else None,
            "cls_upper_limit": _num(self.cls_limits.observed[i]),
            "cls_upper_limit_expected": _band(self.cls_limits.expected[i]) if sensitive else None,
            "sigma_max": float(self.flat.sigma_max[i]),
            "sigma_max_dependent": bool(self.flat.sigma_max_dependent[i]),
            "flags": self._flags(i),
        }

    def to_dict(self, *, config_digest: str = "", source: str | None = None) -> dict[str, Any]:
        """The ``results.json`` document (schema ``scan``).

        ``source`` is how the document records the window set it scanned (default: the path read,
        as given; :func:`dhstat.stages.scan_windows` records it relative to the results file).
        """
        s, info = self.settings, self.info
        smin = self._log_sigma_min()
        return {
            "schema_version": "1.0.0",
            "settings": {
                "cl": s.cl,
                "sigma_max": s.sigma_max,
                "sigma_min": s.sigma_min,
                "log_prior_lower": s.log_prior_lower,
                "log_prior_fraction": s.log_prior_fraction,
                "log_prior": _LOG_PRIOR[s.log_prior_lower],
                "z_threshold": s.z_threshold,
                "bayes_factor_threshold": s.bayes_factor_threshold,
                "method": "hybrid",
                "quadrature_tolerance": s.quadrature_tolerance,
                "max_quadrature_order": s.max_quadrature_order,
                "sigma_max_tolerance": s.sigma_max_tolerance,
                "sigma_max_check_factor": s.sigma_max_check_factor,
                "truncation": priors.TRUNCATION,
                "sensitivity_sigma_fb": s.sensitivity_sigma_fb,
                "min_signal_per_fb": s.min_signal_per_fb,
                "z_convention": _Z_CONVENTION,
                "expected": _EXPECTED_METHOD,
                "cls": _CLS_METHOD,
            },
            "luminosity_fb": info.luminosity_fb,
            "windows": [self._row(i, smin) for i in range(len(self.windows))],
            "summary": self.summary(),
            "window_model": self.windows.to_dict(),
            "provenance": provenance(
                pyhf=True,
                source=info.source if source is None else source,
                index_sha256=info.index_sha256,
                config_digest=config_digest,
            ),
        }


#: How Z is defined (``settings.z_convention`` of ``results.json``).
_Z_CONVENTION = (
    "one-sided: Z = max(0, Phi^-1(1 - p)) = max(0, norm.isf(p)); p in [0, 1]; a deficit "
    "(p >= 0.5, e.g. N = 0 with p = 1) has Z = 0; Z = +inf (null) only for p = 0"
)
#: How the expected limits are computed (``settings.expected``).
_EXPECTED_METHOD = (
    "background only: exact quantiles (Phi(-2), Phi(-1), 0.5, Phi(1), Phi(2)) of the "
    "prior-predictive distribution of N (nuisance parameters drawn from their priors), "
    "limit(N) at each; z_expected: Z at the median N with a signal of sensitivity_sigma_fb"
)
#: How the CLs limits are computed (``settings.cls``).
_CLS_METHOD = (
    "asymptotic CLs with qtilde (Cowan et al. 2011; pyhf hypotest test_stat='qtilde', "
    "calctype='asymptotic'), CLs = 1 - cl; expected band from the background-only Asimov data; "
    "nuisance parameters profiled, the POI not bounded above"
)
_QUOTED = (
    "sensitive windows (signal_per_fb >= min_signal_per_fb) whose flat-prior limit does not "
    "depend on sigma_max (no sigma_max flag)"
)


#: The log-prior convention (``settings.log_prior``; docs/log-prior.md).
_LOG_PRIOR = {
    "expected": "flat in ln(sigma) on [sigma_min, sigma_max], sigma_min = log_prior_fraction x the "
    "window's median expected flat-prior limit (at most sigma_max / 2; log_prior_sigma_min)",
    "fixed": "flat in ln(sigma) on [sigma_min, sigma_max], sigma_min fixed (settings.sigma_min)",
}


def _quantiles(values: NDArray[np.float64]) -> dict[str, float | None]:
    """Median, 68 % and 95 % quantiles of the finite values (null if none)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {"median": None, "q68": None, "q95": None}
    q = np.quantile(finite, [0.5, 0.68, 0.95])
    return {"median": float(q[0]), "q68": float(q[1]), "q95": float(q[2])}


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _band(values: NDArray[np.float64]) -> list[float | None] | None:
    """Five band values (null where undefined), or None if none is defined."""
    if not np.isfinite(values).any():
        return None
    return [_num(v) for v in values]


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


def _compute(task: tuple[WindowSet, ScanSettings]) -> dict[str, NDArray[Any]]:
    """Every per-window result for a chunk of windows (limits only for the sensitive ones)."""
    windows, settings = task
    sensitive = (windows.signal > 0) & (windows.signal >= settings.min_signal_per_fb)
    rows = np.flatnonzero(sensitive)
    flat = window_bayes.window_upper_limits(
        windows,
        cl=settings.cl,
        prior="flat",
        sigma_max=settings.sigma_max,
        check_factor=settings.sigma_max_check_factor,
        tolerance=settings.sigma_max_tolerance,
        rows=rows,
    )
    flat_expected = expected.expected_upper_limits(
        windows, cl=settings.cl, sigma_max=settings.sigma_max, observed=flat.upper_limit, rows=rows
    )
    smin = settings.log_sigma_min(flat_expected[:, 2], flat.sigma_max)
    smin = np.where(sensitive, smin, np.nan)
    log_limits = window_bayes.window_upper_limits(
        windows,
        cl=settings.cl,
        prior="log",
        sigma_max=settings.sigma_max,
        sigma_min=np.where(np.isfinite(smin), smin, 1.0),
        rows=np.flatnonzero(np.isfinite(smin)),
    )
    cls_limits = cls.cls_upper_limits(windows, cl=settings.cl, rows=rows)
    return {
        "p": significance.hybrid_pvalue(windows, windows.n[:, None])[:, 0],
        "bf": window_bayes.window_bayes_factors(windows, sigma_max=settings.sigma_max),
        "flat": flat.upper_limit,
        "at_check": flat.limit_at_check,
        "dependent": flat.sigma_max_dependent,
        "log": log_limits.upper_limit,
        "smin": smin,
        "smax": flat.sigma_max,
        "sensitive": sensitive,
        "flat_expected": flat_expected,
        "z_expected": expected.expected_significance(
            windows, settings.sensitivity_sigma_fb, rows=rows
        ),
        "cls": cls_limits.observed,
        "cls_expected": cls_limits.expected,
    }


def scan(
    windows: WindowSet,
    *,
    settings: ScanSettings | None = None,
    info: WindowInfo | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScanResult:
    """Compute p, Z, B10, the limits (observed and expected, Bayesian and CLs) of every window.

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
    columns: dict[str, list[NDArray[Any]]] = {}
    for rows, result in zip(chunks, mapper(_compute, tasks), strict=True):
        for key, values in result.items():
            columns.setdefault(key, []).append(values)
        if progress is not None:
            progress(rows.size)
    c = {key: np.concatenate(values) for key, values in columns.items()}
    z = significance.z_of_p(c["p"])
    dependent = c["dependent"].astype(bool)
    if dependent.any():
        log.warning("%d of %d flat-prior limits depend on sigma_max", int(dependent.sum()), count)
    sensitive = c["sensitive"].astype(bool)
    if not sensitive.all():
        log.info(
            "%d of %d windows without sensitivity (signal per fb < %g): no limits",
            int((~sensitive).sum()),
            count,
            settings.min_signal_per_fb,
        )
    flat = window_bayes.WindowLimits(
        c["flat"], dependent, c["at_check"], settings.cl, "flat", c["smax"], None
    )
    log_limits = window_bayes.WindowLimits(
        c["log"],
        np.zeros(count, dtype=bool),
        np.full(count, np.nan),
        settings.cl,
        "log",
        c["smax"],
        c["smin"],
    )
    flagged = (z > settings.z_threshold) | (c["bf"] > settings.bayes_factor_threshold)
    if flagged.any():
        log.warning("%d windows above the thresholds", int(flagged.sum()))
    return ScanResult(
        windows,
        info,
        settings,
        c["p"],
        z,
        c["bf"],
        flat,
        log_limits,
        flagged,
        sensitive,
        c["flat_expected"],
        cls.ClsLimits(c["cls"], c["cls_expected"], settings.cl),
        c["z_expected"],
    )


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
            specs.append(loads_json(read_text(file), source=file))
        except json.JSONDecodeError as error:
            raise InputError(file, f"line {error.lineno}", "valid JSON") from None
    names: Sequence[str] = [f.stem for f in files]
    windows = WindowSet.from_specs(
        specs, ids=list(names), sources=[str(f) for f in files], sigma_max=sigma_max
    )
    nan = np.full(len(files), np.nan)
    return windows, WindowInfo(tuple(names), nan, nan, None, str(target), None)
