"""Windows from the analyst's signal MC (windows.SignalPoint) against today's simulated windows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from windows_helpers import TINY

from dhstat import config, parallel, stages, windows
from dhstat.errors import InputError
from dhstat.windows.points import fit_point
from dhstat.windows.simulate import default_signal

POINTS = ((4.0, 1.0), (6.0, 2.0), (8.0, 1.0), (9.5, 0.5))


def _analyst_point(
    cfg: config.Config, ma: float, mh: float, n: int, key: int
) -> windows.SignalPoint:
    """What an analyst's MC gives: selected events *with* ISR, unit weights, n generated."""
    events, total, _ = default_signal(ma, mh, n, cfg, parallel.task_rng(99, key), True)
    columns = {k: np.asarray(v, dtype=np.float64) for k, v in events.items()}
    columns["weight"] = columns["weight"] / (total / n)  # dhstat's weights -> 1 per event
    return windows.SignalPoint.from_tuple((ma, mh, columns, float(n)))


def _mahalanobis(shift: NDArray[np.float64], axes: list[float], angle: float, n: float) -> float:
    """Length of ``shift`` in standard deviations of the window's covariance."""
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    cov = rot @ np.diag((np.asarray(axes) / n) ** 2) @ rot.T
    return float(np.sqrt(shift @ np.linalg.solve(cov, shift)))


def test_signal_points_reproduce_the_simulated_windows() -> None:
    """Core fit of ISR MC vs today's no-ISR fit, 4 points, 10 000 generated events each.

    Statistical precision of today's windows (same points, three seeds): centres within 0.08
    sigma, axes within 1.5 %. Measured for the core fit of ISR MC (seeds 99, 900, 901): centres
    0.15-0.21 sigma apart, major axes -1 % to +13 %, minor axes +13 % to +26 % (soft ISR left in
    the core: a systematic, not statistical, difference), efficiencies at the loosest cut 0-8 %
    higher (the wider windows). With the tail contour (the default; the figures above are for the
    mixture contour): centres 0.16-0.27 sigma apart, major axes -4 % to +14 %, minor axes +10 % to
    +31 %, angles within 0.063 rad, efficiencies 0-10 % higher: the tail component is less well
    determined by the truncated core fit. The tolerances below cover these with a margin. Fitting all ISR
    events instead makes the major axis 1.03-23 times too long (asserted at the end).
    """
    cfg = config.load()
    settings = windows.WindowSettings.from_config(cfg)
    n = settings.n_events
    reference = [
        fit_point(k, ma, mh, cfg, settings, default_signal) for k, (ma, mh) in enumerate(POINTS)
    ]
    points = [_analyst_point(cfg, ma, mh, n, k) for k, (ma, mh) in enumerate(POINTS)]
    got = windows.define(cfg, background=None, signal=points[::-1])  # any order in
    assert got.ma.tolist() == [p[0] for p in POINTS]
    assert got.ids.tolist() == [0, 1, 2, 3]
    assert set(got.fit_status) <= {"ok", "retried"}
    assert "4 mass points" in got.meta["signal_source"]
    for k, ref in enumerate(reference):
        fit = ref.fit
        shift = got.center[k] - np.asarray(fit["center"])
        assert _mahalanobis(shift, fit["axes"], fit["angle"], settings.n_sigma) < 0.45
        major, minor = got.axes[k] / np.asarray(fit["axes"])
        assert 0.9 < major < 1.2
        assert 0.95 < minor < 1.35
        assert abs(got.angle[k] - fit["angle"]) < 0.08
        eff_ref = ref.sumw_pass[-1] / ref.sumw_total
        assert 0.97 < got.efficiency[k] / eff_ref < 1.12
        assert 0 < got.efficiency_error[k] < 0.01
    # the whole ISR sample, untruncated, does not give the no-ISR window
    x, y = points[0].events["mrecoil2"], points[0].events["mmumu2"]
    full, _ = windows.fit_ellipse(x, y, n_sigma=settings.n_sigma)
    assert full["axes"][0] / reference[0].fit["axes"][0] > 3


def _gaussian_point(n: int, generated: float, seed: int = 4) -> windows.SignalPoint:
    rng = np.random.default_rng(seed)
    columns = {
        "mrecoil2": rng.normal(4.0, 0.3, n),
        "mmumu2": rng.normal(36.0, 0.2, n),
        "ceta": rng.random(n),
        "weight": np.ones(n),
    }
    return windows.SignalPoint.from_tuple((6.0, 2.0, columns, generated))


def test_efficiency_divides_by_generated_events(tiny: config.Config) -> None:
    once = windows.define(tiny, background=None, signal=[_gaussian_point(2000, 2000.0)])
    twice = windows.define(tiny, background=None, signal=[_gaussian_point(2000, 4000.0)])
    assert np.array_equal(once.center, twice.center)
    assert twice.efficiency[0] == pytest.approx(once.efficiency[0] / 2, rel=1e-12)
    # loosest cut (C_eta < 1 keeps all): efficiency = weight inside / generated, by hand
    point = _gaussian_point(2000, 2000.0)
    inside = windows.contains(once, point.events["mrecoil2"], point.events["mmumu2"])[:, 0]
    assert once.efficiency[0] == pytest.approx(inside.sum() / 2000.0, rel=1e-12)
    eps = once.efficiency[0]
    assert once.efficiency_error[0] == pytest.approx(math.sqrt(eps * (1 - eps) / 2000), rel=1e-9)
    # a 2-D Gaussian: the 2-sigma ellipse of the mixture covariance holds 1 - exp(-2) of it
    # (within 3 binomial sigmas); the default tail contour, the wider fitted component's, more
    mixture = config.loads(TINY + 'contour = "mixture"\n', source="tiny.toml")
    fitted = windows.define(mixture, background=None, signal=[_gaussian_point(2000, 2000.0)])
    assert fitted.window_fraction[0] == pytest.approx(1 - math.exp(-2), abs=3 * 0.01)
    assert once.window_fraction[0] >= fitted.window_fraction[0]


def _with(point: windows.SignalPoint, change: dict[str, Any]) -> windows.SignalPoint:
    """The point with some columns, or ``generated_events``, replaced."""
    columns: dict[str, Any] = {**point.events, **change}
    generated = float(columns.pop("generated_events", point.generated_events))
    return windows.SignalPoint.from_tuple((point.ma, point.mh, columns, generated))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"generated_events": -10.0}, "generated_events: expected a positive number"),
        ({"mrecoil2": np.r_[np.nan, np.ones(99)]}, "mrecoil2: expected finite values"),
        ({"ceta": np.full(100, np.nan)}, "ceta: expected finite values"),
        ({"weight": np.r_[-1.0, np.ones(99)]}, "weight: expected weights >= 0"),
        ({"generated_events": 50.0}, "generated_events: expected generated_events >="),
        ({"mmumu2": np.ones(99)}, "expected columns of one length"),
    ],
)
def test_bad_signal_points_name_the_point(
    tiny: config.Config, change: dict[str, Any], match: str
) -> None:
    bad = _with(_gaussian_point(100, 1000.0), change)
    with pytest.raises(InputError, match=match) as info:
        windows.define(tiny, background=None, signal=[bad])
    assert str(info.value).startswith("signal point (ma=6, mh=2): ")
    assert "\n" not in str(info.value)


def test_too_few_events_and_duplicates(tiny: config.Config) -> None:
    few = _gaussian_point(30, 1000.0)  # ~21 in the core, fit_min_events = 50
    with pytest.raises(InputError, match=r"signal point \(ma=6, mh=2\): mrecoil2: .*core"):
        windows.define(tiny, background=None, signal=[few])
    with pytest.raises(InputError, match="missing"):
        windows.SignalPoint.from_tuple((6.0, 2.0, {"mrecoil2": [1.0]}, 10.0))
    named = windows.SignalPoint.from_tuple((6.0, 2.0, few.events, -1.0), source="sel.root")
    with pytest.raises(InputError, match=r"^sel.root, signal point \(ma=6, mh=2\): generated_"):
        windows.define(tiny, background=None, signal=[named])
    twin = _gaussian_point(500, 1000.0)
    with pytest.raises(InputError, match="one signal sample per mass point"):
        windows.define(tiny, background=None, signal=[twin, _gaussian_point(500, 900.0, seed=5)])


def test_stage_writes_windows_of_the_signal_points(tmp_path: Path) -> None:
    cfg = config.loads(TINY + "punzi_background_luminosity_fb = 0.05\n", source="tiny.toml")
    out = tmp_path / "windows.json"
    with parallel.executor(workers=1) as ex:
        w = stages.define_windows(
            cfg,
            output=out,
            checkpoint=tmp_path / "unused.jsonl",
            executor=ex,
            signal=[_gaussian_point(800, 900.0)],
        )
    assert not (tmp_path / "unused.jsonl").exists()
    assert w.meta["ceta_cuts"] == "punzi"
    assert w.meta["background_files"] == ["simulated default background MC (seed from [run])"]
    back = windows.load(out)  # schema-validated
    assert back.center == pytest.approx(w.center, rel=1e-6)
    assert back.meta["signal_source"] == w.meta["signal_source"]
    assert back.meta["n_grid_total"] == 1
