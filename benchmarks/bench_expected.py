"""Benchmark: expected limits, expected Z and CLs limits of all default windows, beside the scan.

Reads a window set (default: the default run's ``workspaces/index.json``) and measures, in one
process and with the machine's load printed first:

* the parts that issue 16 added to the scan, each on its own in this process: expected flat-prior
  limits with their +-1, +-2 sd bands (``stats.expected.expected_upper_limits``), the expected Z
  for ``[stats] sensitivity_sigma_fb`` (``expected_significance``) and the asymptotic CLs limits,
  observed and expected (``stats.cls.cls_upper_limits``);
* the whole scan (``stats.scan.scan``, which includes them) in this process and with 2 worker
  processes, and the scan without the new parts (p, Z, B10, flat and log limits) for the
  difference;
* CLs per window against pyhf's own loop on N_PYHF of the same windows (``toms748_scan`` with
  ``level = 1 - cl``: the observed and the five expected limits, asymptotic qtilde), and the
  largest relative difference of the limits.

Usage: python benchmarks/bench_expected.py [INDEX_JSON] [N_PYHF]
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _machine import machine

DEFAULT = Path("/work/baseline_results/workspaces/index.json")


def _timed(label: str, func, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"  {label}: {elapsed:.2f} s")
    return value, elapsed


def _old_scan(windows, settings):  # type: ignore[no-untyped-def]
    """What the scan computed before issue 16 (p, B10, flat limits with the check, log limits)."""
    from dhstat.stats import significance, window_bayes

    significance.hybrid_pvalue(windows, windows.n[:, None])
    window_bayes.window_bayes_factors(windows, sigma_max=settings.sigma_max)
    window_bayes.window_upper_limits(windows, cl=settings.cl, sigma_max=settings.sigma_max)
    window_bayes.window_upper_limits(
        windows, cl=settings.cl, prior="log", sigma_max=settings.sigma_max, sigma_min=0.5
    )


def _pyhf_limits(spec: dict, cl: float, low: float, high: float) -> list[float]:
    import pyhf

    spec = json.loads(json.dumps(spec))
    spec["measurements"][0]["config"]["parameters"][0]["bounds"] = [[0.0, 1e4]]
    ws = pyhf.Workspace(spec)
    model = ws.model()
    data = ws.data(model)
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
        data, model, low, high, level=1.0 - cl, rtol=1e-6, test_stat="qtilde"
    )
    return [float(obs)] + [float(x) for x in exp]


def main() -> None:
    from dhstat import config
    from dhstat.parallel import executor
    from dhstat.stats import cls, expected, scan

    index = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    n_pyhf = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(f"machine: {machine()}")
    settings = scan.ScanSettings.from_config(config.load()["stats"])
    windows, info = scan.read_windows(index)
    count = len(windows)
    print(f"{count} windows from {index}")
    q = (settings.quadrature_tolerance, settings.max_quadrature_order)

    print("the new parts alone, 1 process (fresh window sets: node planning included):")
    fresh = windows.with_quadrature(*q)
    rows = np.flatnonzero((fresh.signal > 0) & (fresh.signal >= settings.min_signal_per_fb))
    _, t_exp = _timed(
        "expected flat limits (5 quantiles)",
        expected.expected_upper_limits,
        fresh,
        cl=settings.cl,
        rows=rows,
    )
    _, t_z = _timed(
        "expected Z",
        expected.expected_significance,
        fresh,
        settings.sensitivity_sigma_fb,
        rows=rows,
    )
    _, t_cls = _timed("CLs observed + expected", cls.cls_upper_limits, fresh, rows=rows)
    print(f"  sum: {t_exp + t_z + t_cls:.2f} s for {rows.size} sensitive windows")

    print("scan, 1 process:")
    _, t_old = _timed("without the new parts", _old_scan, windows.with_quadrature(*q), settings)
    _, t_new = _timed("stats.scan.scan", scan.scan, windows, settings=settings, info=info)
    print(f"  added: {t_new - t_old:.2f} s")
    with executor(workers=2) as ex:
        list(ex.imap(abs, [1, 2]))  # start the pool
        _, t_two = _timed(
            "stats.scan.scan, 2 worker processes",
            scan.scan,
            windows,
            settings=settings,
            info=info,
            executor=ex,
        )

    rng = np.random.default_rng(16)
    sample = rng.choice(rows, size=min(n_pyhf, rows.size), replace=False)
    folder = index.parent
    entries = {str(e["id"]): e for e in json.loads(index.read_text())["windows"]}
    specs = [json.loads((folder / entries[windows.ids[i]]["file"]).read_text()) for i in sample]
    start = time.perf_counter()
    sub = windows.subset(sample)
    ours = cls.cls_upper_limits(sub, cl=settings.cl)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.array(
            [
                _pyhf_limits(spec, settings.cl, 0.5 * o, 2.0 * o)
                for spec, o in zip(specs, ours.observed, strict=True)
            ]
        )
    t_pyhf = time.perf_counter() - start
    mine = np.column_stack([ours.observed, ours.expected])
    per_window_all = t_cls / rows.size
    print(
        f"CLs, observed + 5 expected limits: dhstat {per_window_all * 1e3:.3f} ms/window "
        f"(all {rows.size} at once), {t_ours / sample.size * 1e3:.1f} ms/window on the "
        f"{sample.size}-window sample; pyhf toms748_scan {t_pyhf / sample.size * 1e3:.0f} "
        f"ms/window: ratio {t_pyhf / sample.size / per_window_all:.0f}x (vectorised, all "
        f"windows) / {t_pyhf / t_ours:.0f}x (sample alone)"
    )
    print(f"largest relative difference from pyhf: {np.max(np.abs(mine / theirs - 1)):.2e}")
    print(
        f"summary: scan {t_old:.1f} s before, {t_new:.1f} s now in 1 process "
        f"(+{t_new - t_old:.1f} s), {t_two:.1f} s with 2 workers; new parts alone "
        f"{t_exp + t_z + t_cls:.1f} s in 1 process; machine {machine()}"
    )


if __name__ == "__main__":
    main()
