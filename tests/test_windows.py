from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from dhstat import config, parallel, schemas, windows
from dhstat.errors import InputError

# ------------------------------------------------------------------------- synthetic signal


def synthetic_signal(
    ma: float,
    mh: float,
    n_events: int,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool,
) -> tuple[dict[str, NDArray[Any]], float, float]:
    """Selected 'signal': two Gaussians (common mean, rho = -0.6) at (mh^2, ma^2), 60 % kept."""
    sx, sy = windows.resolution(ma, mh, cfg)
    n_sel = int(0.6 * n_events)
    core = rng.random(n_sel) < 0.7
    scale = np.where(core, 1.0, 2.5)
    rho = -0.6
    z1 = rng.standard_normal(n_sel)
    z2 = rho * z1 + math.sqrt(1 - rho * rho) * rng.standard_normal(n_sel)
    x = mh * mh + sx * scale * z1
    y = ma * ma + sy * scale * z2
    if isr:
        radiated = rng.random(n_sel) < 0.3
        x = x + radiated * rng.exponential(3 * sx, n_sel)
    arrays = {
        "mrecoil2": x,
        "mmumu2": y,
        "ceta": rng.random(n_sel),
        "weight": np.ones(n_sel),
    }
    return arrays, float(n_events), float(n_events)


CALLS: list[int] = []


def counting_signal(
    ma: float,
    mh: float,
    n_events: int,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool,
) -> tuple[dict[str, NDArray[Any]], float, float]:
    CALLS.append(1)
    return synthetic_signal(ma, mh, n_events, cfg, rng, isr)


TINY = """
[grid]
ma_min = 5.0
ma_max = 5.7
analysis_ma_min = 5.2
step_fraction_ma = 12.0
step_fraction_mh = 16.0
[windows]
n_events = 2000
batch_size = 3
ceta_cut_steps = 11
"""


@pytest.fixture
def tiny() -> config.Config:
    return config.loads(TINY, source="tiny.toml")


# ---------------------------------------------------------------------------------- geometry


def test_single_gaussian_contour_is_n_sigma() -> None:
    s1, s2, rho = 0.7, 0.2, -0.8
    cov = np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
    axes, angle = windows.covariance_ellipse(cov, 2.0)
    # closed form eigenvalues of a 2x2 symmetric matrix
    tr, det = cov.trace(), np.linalg.det(cov)
    lam1 = tr / 2 + math.sqrt(tr * tr / 4 - det)
    lam2 = tr / 2 - math.sqrt(tr * tr / 4 - det)
    assert axes == pytest.approx([2 * math.sqrt(lam1), 2 * math.sqrt(lam2)], rel=1e-12)
    # angle of the major axis: tan(2 theta) = 2 c_xy / (c_xx - c_yy)
    expected = 0.5 * math.atan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])
    assert float(angle) == pytest.approx(expected, abs=1e-12)
    # area = pi n^2 sqrt(det)
    assert float(windows.ellipse_area(axes)) == pytest.approx(4 * math.pi * math.sqrt(det))
    # the boundary points satisfy d^T C^-1 d = 4
    w = windows.from_ellipses([[0.0, 0.0]], [axes], [angle])
    t = np.linspace(0, 2 * np.pi, 50)
    u, v = axes[0] * np.cos(t), axes[1] * np.sin(t)
    px = u * math.cos(angle) - v * math.sin(angle)
    py = u * math.sin(angle) + v * math.cos(angle)
    d = np.stack([px, py])
    q = np.einsum("in,ij,jn->n", d, np.linalg.inv(cov), d)
    assert q == pytest.approx(np.full(50, 4.0), rel=1e-10)
    inside = windows.contains(w, 0.999 * px, 0.999 * py)[:, 0]
    outside = windows.contains(w, 1.001 * px, 1.001 * py)[:, 0]
    assert inside.all()
    assert not outside.any()


def test_containment_of_gaussian_in_two_sigma_ellipse(rng: np.random.Generator) -> None:
    cov = np.array([[0.5, -0.3], [-0.3, 0.4]])
    axes, angle = windows.covariance_ellipse(cov, 2.0)
    w = windows.from_ellipses([[1.0, 2.0]], [axes], [angle])
    n = 200_000
    pts = rng.multivariate_normal([1.0, 2.0], cov, n)
    frac = windows.membership(w, pts[:, 0], pts[:, 1]).nnz / n
    expected = 1 - math.exp(-2)  # 86.47 %
    assert frac == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n))


def test_fit_recovers_two_gaussian_parameters(rng: np.random.Generator) -> None:
    n = 20_000
    mu = np.array([3.0, 25.0])
    s_core, s_tail, rho, f = np.array([0.3, 0.05]), np.array([0.9, 0.12]), -0.7, 0.65
    core = rng.random(n) < f
    sig = np.where(core[:, None], s_core, s_tail)
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + math.sqrt(1 - rho * rho) * rng.standard_normal(n)
    x = mu[0] + sig[:, 0] * z1
    y = mu[1] + sig[:, 1] * z2
    fit, cov = windows.fit_ellipse(x, y)
    assert fit["fit_status"] == "ok"
    assert fit["center"] == pytest.approx(mu, abs=0.02)
    assert fit["sigma_core"] == pytest.approx(s_core, rel=0.05)
    assert fit["sigma_tail"] == pytest.approx(s_tail, rel=0.05)
    assert fit["rho"] == pytest.approx(rho, abs=0.02)
    assert fit["core_fraction"] == pytest.approx(f, abs=0.04)
    c1 = np.outer(s_core, s_core) * np.array([[1, rho], [rho, 1]])
    c2 = np.outer(s_tail, s_tail) * np.array([[1, rho], [rho, 1]])
    assert cov == pytest.approx(f * c1 + (1 - f) * c2, rel=0.06)


@pytest.mark.parametrize(
    "params",
    [(0.1, -0.2, 0.7, 0.6, 1.8, 1.5, -0.4, 0.6), (0.0, 0.3, 0.3, 0.4, 2.0, 2.5, 0.3, 0.95)],
)
def test_analytic_gradient_of_the_fit_matches_finite_differences(
    rng: np.random.Generator, params: tuple[float, ...]
) -> None:
    x = rng.normal(size=2000)
    y = -0.5 * x + 0.8 * rng.normal(size=2000)
    grad = windows._nll_grad(params, x, y)
    for i in range(8):
        h = 1e-6
        up, down = list(params), list(params)
        up[i] += h
        down[i] -= h
        numeric = (windows._nll(up, x, y) - windows._nll(down, x, y)) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-4), i


def test_fit_of_degenerate_sample_is_reported_not_dropped() -> None:
    x = np.zeros(100)
    y = np.ones(100)
    fit, _ = windows.fit_ellipse(x, y)
    assert fit["fit_status"] in windows.FIT_STATUSES
    assert all(math.isfinite(v) for v in fit["center"])


# -------------------------------------------------------------------------------- membership


def random_windows(rng: np.random.Generator, n: int) -> windows.Windows:
    center = np.stack([rng.uniform(-2, 30, n), rng.uniform(0, 100, n)], axis=1)
    a = rng.uniform(0.05, 3, n)
    b = a * rng.uniform(0.01, 1, n)
    angle = rng.uniform(-np.pi / 2, np.pi / 2, n)
    return windows.from_ellipses(center, np.stack([a, b], 1), angle)


def test_membership_equals_brute_force(rng: np.random.Generator) -> None:
    w = random_windows(rng, 300)
    x = rng.uniform(-6, 34, 20_000)
    y = rng.uniform(-4, 104, 20_000)
    # also points exactly on window centres and far outside
    x = np.concatenate([x, w.center[:, 0], [1e6, -1e6]])
    y = np.concatenate([y, w.center[:, 1], [0.0, 0.0]])
    fast = windows.membership(w, x, y, chunk_size=7000)
    brute = windows.contains(w, x, y)
    assert fast.shape == brute.shape
    assert fast.nnz > 1000
    assert np.array_equal(fast.toarray().astype(bool), brute)
    assert np.all(np.diff(fast.indices[fast.indptr[0] : fast.indptr[1]]) > 0)


def test_membership_with_ceta_cuts_equals_brute_force(rng: np.random.Generator) -> None:
    base = random_windows(rng, 200)
    w = windows.from_ellipses(
        base.center, base.axes, base.angle, ceta_cut=rng.uniform(0.3, 1.0, len(base))
    )
    x = rng.uniform(-6, 34, 10_000)
    y = rng.uniform(-4, 104, 10_000)
    ceta = rng.random(10_000)
    fast = windows.membership(w, x, y, ceta=ceta, chunk_size=3000, threads=2)
    brute = windows.contains(w, x, y) & (ceta[:, None] < w.ceta_cut[None, :])
    assert np.array_equal(fast.toarray().astype(bool), brute)


def test_membership_of_no_events_and_no_windows() -> None:
    w = windows.from_ellipses([[0.0, 0.0]], [[1.0, 1.0]], [0.0])
    assert windows.membership(w, np.zeros(0), np.zeros(0)).shape == (0, 1)
    empty = w.select(np.zeros(1, dtype=bool))
    assert windows.membership(empty, np.zeros(3), np.zeros(3)).shape == (3, 0)


def test_overlap_of_two_circles_matches_lens_formula() -> None:
    r, d = 1.0, 0.8
    w = windows.from_ellipses([[0.0, 0.0], [d, 0.0]], [[r, r], [r, r]], [0.0, 0.0])
    u = d / (2 * r)
    lens = 2 / math.pi * (math.acos(u) - u * math.sqrt(1 - u * u))
    got = windows.overlap_fractions(w, n_samples=40_000, rng=np.random.default_rng(3))
    assert got == pytest.approx([lens, lens], abs=0.01)


# ------------------------------------------------------------------------------------- Punzi


def test_punzi_optimum_of_constructed_case() -> None:
    # eps(c) = c, B(c) = B0 c^4: d/dc [c / (a/2 + sqrt(B0) c^2)] = 0 at c^2 = a / (2 sqrt(B0))
    a, b0 = 3.0, 100.0
    cuts = np.linspace(0.0, 1.0, 1001)
    eff = cuts[None, :]
    bkg = b0 * cuts[None, :] ** 4
    index, cut = windows.punzi_cuts(eff, bkg, cuts, a=a)
    assert float(cut[0]) == pytest.approx(math.sqrt(a / (2 * math.sqrt(b0))), abs=1e-3)
    assert cuts[index[0]] == cut[0]
    # without background the loosest cut wins
    _, loose = windows.punzi_cuts(eff, 0 * bkg, cuts, a=a)
    assert float(loose[0]) == 1.0


# --------------------------------------------------------------------------------------- grid


def test_default_grid_covers_triangle_with_resolution_steps() -> None:
    cfg = config.load()
    g = windows.grid_points(cfg)
    roots = config.sqrt_s(cfg)
    assert np.all(g.mh < g.ma)
    assert np.all(g.ma + g.mh < roots)
    assert g.ma.min() == pytest.approx(0.21)
    assert g.ma.max() <= 10.45
    assert g.mh.min() == pytest.approx(0.01)
    # steps between rows = step_fraction_ma * sigma(M_mumu) of the lower row
    rows = np.unique(g.ma)
    gcfg = cfg["grid"]
    sig = np.hypot(gcfg["mumu_resolution_relative"] * rows, gcfg["mumu_resolution_constant_gev"])
    assert np.diff(rows) == pytest.approx(gcfg["step_fraction_ma"] * sig[:-1], rel=1e-9)
    # within a row: mh^2 steps = step_fraction_mh * sigma(M_recoil^2)
    row = g.ma == rows[len(rows) // 2]
    x = g.mh[row] ** 2
    expected = gcfg["step_fraction_mh"] * windows.resolution(g.ma[row], g.mh[row], cfg)[:, 0]
    assert np.diff(x) == pytest.approx(expected[:-1], rel=1e-9)
    # inside the paper's range of sigma(M_mumu), 3-50 MeV
    assert 0.0029 < sig.min() < 0.004
    assert 0.02 < sig.max() < 0.05
    assert g.in_range.sum() == np.sum(g.ma >= gcfg["analysis_ma_min"])


# ------------------------------------------------------------------------------------ define


def test_define_tiny_grid_resumes_from_checkpoint(tiny: config.Config, tmp_path: Path) -> None:
    ck = tmp_path / "w.checkpoint.jsonl"
    rng = np.random.default_rng(5)
    bkg = {
        "mrecoil2": rng.uniform(-2, 30, 20_000),
        "mmumu2": rng.uniform(20, 40, 20_000),
        "ceta": rng.random(20_000) ** 0.2,  # peaks at 1 like the backgrounds
        "weight": np.full(20_000, 0.5),
    }
    CALLS.clear()
    w = windows.define(tiny, background=bkg, checkpoint=ck, simulate=counting_signal)
    g = windows.grid_points(tiny)
    n = int(g.in_range.sum())
    assert len(w) == n > 3
    assert len(CALLS) == 2 * n
    assert np.array_equal(w.ids, np.flatnonzero(g.in_range))
    assert set(w.fit_status) <= set(windows.FIT_STATUSES)
    assert np.all((w.efficiency > 0) & (w.efficiency < 1))
    assert np.all(w.efficiency_error > 0)
    assert np.all(w.ceta_cut < 1.0)  # background peaks at C_eta = 1: the cut is tighter
    # fitted centres near the generated (mh^2, ma^2), ellipses contain ~ the Gaussian mass
    assert w.center[:, 1] == pytest.approx(w.ma**2, abs=0.05)
    assert np.all((w.window_fraction > 0.6) & (w.window_fraction < 0.95))
    # summary: windows per background event (with the chosen C_eta cuts) against brute force
    inside = windows.contains(w, bkg["mrecoil2"], bkg["mmumu2"])
    counted = inside & (bkg["ceta"][:, None] < w.ceta_cut[None, :])
    expected = np.sum(bkg["weight"] * counted.sum(axis=1)) / bkg["weight"].sum()
    assert w.meta["summary"]["background_windows_per_event"] == pytest.approx(expected)
    assert w.meta["summary"]["fit_status"]["ok"] == w.fit_status.count("ok")
    # the resumed run reads every point from the checkpoint and simulates nothing
    CALLS.clear()
    again = windows.define(tiny, background=bkg, checkpoint=ck, simulate=counting_signal)
    assert CALLS == []
    assert np.array_equal(again.center, w.center)
    assert np.array_equal(again.ceta_cut, w.ceta_cut)
    # a truncated last line (interrupted run) is ignored and that point recomputed
    lines = ck.read_text().splitlines()
    ck.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    CALLS.clear()
    third = windows.define(tiny, background=bkg, checkpoint=ck, simulate=counting_signal)
    assert len(CALLS) == 2
    assert np.array_equal(third.center, w.center)


def test_define_same_with_two_workers(tiny: config.Config) -> None:
    one = windows.define(tiny, background=None, simulate=synthetic_signal)
    with parallel.executor(workers=2) as ex:
        two = windows.define(tiny, background=None, executor=ex, simulate=synthetic_signal)
    assert np.array_equal(one.center, two.center)
    assert np.array_equal(one.efficiency, two.efficiency)
    assert np.all(one.ceta_cut == tiny["windows"]["ceta_cut_max"])


def test_save_load_round_trip_and_is_current(tiny: config.Config, tmp_path: Path) -> None:
    w = windows.define(tiny, background=None, simulate=synthetic_signal)
    path = tmp_path / "w.json"
    windows.save(w, path)
    back = windows.load(path)
    assert np.allclose(back.center, w.center, rtol=1e-6, atol=1e-6)
    assert np.allclose(back.axes, w.axes, rtol=1e-5)
    assert back.fit_status == w.fit_status
    assert np.array_equal(back.ids, w.ids)
    assert windows.is_current(path, tiny)
    assert not windows.is_current(path, config.load())
    doc = json.loads(path.read_text())
    schemas.validate(doc, "windows", source=path)
    doc["windows"]["ma"] = doc["windows"]["ma"][:-1]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"windows\.ma"):
        windows.load(path)


def test_default_windows_file_is_valid() -> None:
    path = Path(windows.__file__).parent / "data" / "windows-default.json"
    if not path.is_file():
        pytest.skip("frozen default windows not generated yet")
    w = windows.load(path)
    assert len(w) == int(windows.grid_points(config.load()).in_range.sum())
    assert path.stat().st_size < 6_000_000


def test_windows_command_with_the_simulation(tmp_path: Path) -> None:
    from dhstat import selection
    from dhstat.cli import main

    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text(TINY.replace("n_events = 2000", "n_events = 1500") + "[run]\nworkers = 1\n")
    rng = np.random.default_rng(2)
    n = 5000
    arrays = {v: np.zeros(n) for v in selection.VARIABLES}
    arrays.update(
        mrecoil2=rng.uniform(-2, 30, n),
        mmumu2=rng.uniform(24, 32, n),
        ceta=rng.random(n) ** 0.2,
        weight=np.full(n, 0.5),
    )
    arrays["process"] = np.full(n, selection.PROCESSES.index("mumu"), dtype=np.int32)
    empty = {v: np.zeros(0) for v in selection.VARIABLES} | {"process": np.zeros(0, np.int32)}
    samples = {s: (arrays if s == "search" else empty) for s in selection.SAMPLES}
    bkg_path = tmp_path / "bkg.root"
    selection.write_selected(bkg_path, selection.SelectionOutput(samples, {}, {}, "0" * 64, 8.34))
    out = tmp_path / "w.json"
    main(
        ["windows", "--config", str(cfg_path), "--output", str(out), "--background", str(bkg_path)]
    )
    cfg = config.load(cfg_path)
    w = windows.load(out)
    assert windows.is_current(out, cfg)
    assert len(w) == int(windows.grid_points(cfg).in_range.sum())
    assert w.meta["ceta_cuts"] == "punzi"
    assert (tmp_path / "w.json.checkpoint.jsonl").is_file()  # kept: re-runs reuse the points
    # simulated signal: fitted centres near (M_h'^2, M_A'^2), efficiencies in (0, 1)
    fitted = np.array([s == "ok" for s in w.fit_status])
    assert fitted.sum() >= len(w) // 2
    assert w.center[fitted, 1] == pytest.approx(w.ma[fitted] ** 2, abs=0.2)
    assert np.all((w.efficiency >= 0) & (w.efficiency < 1))
    assert np.mean(w.efficiency) > 0.05


def test_simulated_background_is_normalised_to_the_data_luminosity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dhstat import selection, simulation

    def fake_simulate(
        process: str, luminosity_fb: float, *, cfg: Any, rng: Any, normalise_to_fb: float
    ) -> dict[str, NDArray[Any]]:
        n = round(1000 * luminosity_fb)  # 1000 events per simulated fb^-1
        return {k: np.full(n, normalise_to_fb / luminosity_fb) for k in ("weight", "x")}

    def fake_select(events: Any, cfg: Any, *, process: str) -> Any:
        w = events["weight"]
        search = {"mrecoil2": 0 * w, "mmumu2": 0 * w, "ceta": 0 * w, "weight": w}
        return type("S", (), {"search": search})()

    monkeypatch.setattr(simulation, "simulate_background", fake_simulate)
    monkeypatch.setattr(selection, "select", fake_select)
    lumi = config.load()["dataset"]["luminosity_fb"]
    for chunks in (1, 4):
        cfg = config.loads(
            f"[windows]\npunzi_background_luminosity_fb = 2.0\npunzi_background_chunks = {chunks}\n"
        )
        merged = windows.simulate_background(cfg)
        # 3 processes, each 1000 events per fb^-1 of data luminosity, whatever the chunking
        assert merged["weight"].sum() == pytest.approx(3 * 1000 * lumi, rel=1e-12)
        assert merged["weight"].size == 3 * 2000
