from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, Rectangle

from dhstat import config, plots

STYLE = plots.Style(luminosity_fb=8.34, sqrt_s_gev=10.58)


@pytest.fixture
def grid(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ma = rng.uniform(1.7, 10.3, 400)
    mh = rng.uniform(0.0, 1.0, 400) * np.minimum(ma, 10.5 - ma)
    return ma, mh


def _labels(fig: Figure) -> list[str]:
    return [t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel()) if t]


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _bands(n: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.linspace(4, 9, n)
    expected = np.outer([0.5, 0.7, 1.0, 1.4, 2.0], np.full(n, 1e-7))
    return x, np.full(n, 1.1e-7), expected


def _all_figures(grid, rng) -> dict[str, Figure]:
    ma, mh = grid
    n = rng.poisson(5.0, ma.size)
    limits = np.ones((20, 30))
    x, observed, expected = _bands()
    return {
        "counts": plots.observed_counts(ma, mh, n, style=STYLE),
        "z": plots.local_significance_map(ma, mh, rng.normal(size=ma.size), style=STYLE),
        "eff": plots.efficiency_map(ma, mh, np.full(ma.size, 0.2), style=STYLE),
        "zexp": plots.sensitivity_map(ma, mh, rng.uniform(0, 4, ma.size), sigma_fb=5, style=STYLE),
        "res": plots.resolution_map(ma, mh, 0.01 + 0 * ma, 0.1 + ma / 10, style=STYLE),
        "map": plots.sigma_limit_map(
            np.linspace(2, 10, 20), np.linspace(0, 8, 30), limits, centres=(ma, mh), style=STYLE
        ),
        "ratio": plots.limit_ratio_map(
            np.linspace(2, 10, 20), np.linspace(0, 8, 30), limits, style=STYLE
        ),
        "fig3": plots.coupling_limits(
            {1.0: (np.linspace(4, 9, 5), np.full(5, 1e-7))},
            {5.0: (np.linspace(0, 4, 5), np.full(5, 2e-7))},
            style=STYLE,
        ),
        "bands": plots.coupling_limit_bands({1.0: (x, observed, expected)}, versus="ma"),
        "maxz": plots.max_z_distribution(rng.normal(3, 0.5, 200), 3.7, global_z=0.5, style=STYLE),
        "windows": plots.windows_over_events(
            rng.uniform(0, 50, 100),
            rng.uniform(0, 100, 100),
            np.c_[mh**2, ma**2],
            np.c_[np.full(ma.size, 1.0), np.full(ma.size, 0.2)],
            np.zeros(ma.size),
            limit=5,
            style=STYLE,
        ),
        "cutflow": plots.cutflow(
            {"data": [12.0, 6.0, 1.0], "mumu": [10.0, 5.0, 1.0]}, ["input", "a", "b"], style=STYLE
        ),
    }


def test_every_figure_has_units_on_its_mass_axes(grid, rng, tmp_path: Path) -> None:
    style = plots.Style(formats=("png",))  # PDF: test_pdf_and_svg_bytes_are_reproducible
    for name, fig in _all_figures(grid, rng).items():
        labels = _labels(fig)
        assert labels, name
        # every axis label carries a unit in brackets, except counts, ratios and eps^2 alpha_D
        dimensionless = ("events", "toys", "epsilon^2", "data / mc", "/ median expected")
        for label in labels:
            assert "[" in label or any(w in label.lower() for w in dimensionless), (name, label)
        written = plots.save(fig, tmp_path / name, style)
        assert [p.suffix for p in written] == [".png"]
        assert written[0].stat().st_size > 1000
    assert not list(tmp_path.glob(".*part*"))  # atomic writes leave no temporaries


def test_every_figure_carries_the_label_and_the_luminosity(grid, rng) -> None:
    for name, fig in _all_figures(grid, rng).items():
        texts = _texts(fig)
        assert "Belle II-like" in texts, name
        assert "simulation" in texts, name
        if name != "bands":  # drawn without a luminosity
            assert any("8.34 fb$^{-1}$" in t for t in texts), (name, texts)


def test_label_text_follows_the_config() -> None:
    cfg = config.loads('[report]\nlabel_experiment = "Toy"\nlabel_text = "study"\n')
    style = plots.Style.from_config(cfg["report"], luminosity_fb=2.0)
    fig = plots.observed_counts(np.array([5.0]), np.array([1.0]), np.array([3]), style=style)
    assert {"Toy", "study", "2 fb$^{-1}$"} <= set(_texts(fig))


def test_pdf_and_svg_bytes_are_reproducible(grid, tmp_path: Path) -> None:
    ma, mh = grid
    style = plots.Style(formats=("pdf", "svg", "png"), luminosity_fb=8.34)
    ma, mh = ma[:50], mh[:50]
    first = plots.save(plots.efficiency_map(ma, mh, ma / 50, style=style), tmp_path / "a", style)
    again = plots.save(plots.efficiency_map(ma, mh, ma / 50, style=style), tmp_path / "b", style)
    for one, two in zip(first, again, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.suffix
    assert b"CreationDate" not in first[0].read_bytes()


def test_figure_size_follows_the_report_config() -> None:
    style = plots.Style.from_config(config.load()["report"])
    fig = plots.observed_counts(np.array([5.0]), np.array([1.0]), np.array([3]), style=style)
    width, _ = fig.get_size_inches()
    assert width == pytest.approx(3.4)
    assert style.formats == ("png", "pdf")


def test_local_z_map_marks_the_largest_excess(grid) -> None:
    ma, mh = grid
    z = np.zeros(ma.size)
    z[17] = 4.2
    fig = plots.local_significance_map(ma, mh, z)
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("$\\mathit{Z}$")]
    assert texts == ["$\\mathit{Z}$ = 4.20"]


def test_local_z_colour_scale_is_the_physical_range(grid) -> None:
    ma, mh = grid
    z = np.linspace(0.0, 4.5, ma.size)
    z[:10] = -8.2  # a deficit as runs before one-sided Z wrote it
    points = plots.local_significance_map(ma, mh, z).axes[0].collections[0]
    assert (points.norm.vmin, points.norm.vmax) == (0.0, pytest.approx(4.5))
    assert points.get_array().min() == 0.0  # the deficits drawn as Z = 0


def test_local_z_map_survives_infinite_and_missing_values(grid) -> None:
    ma, mh = grid
    z = np.zeros(ma.size)
    z[3], z[4], z[5] = np.inf, np.nan, -np.inf
    fig = plots.local_significance_map(ma, mh, z)
    assert [t for t in _texts(fig) if t.startswith("$\\mathit{Z}$")] == ["$\\mathit{Z}$ = inf"]
    fig.savefig(io.BytesIO(), format="png")


def test_resolution_scale_leaves_out_undefined_windows(grid) -> None:
    ma, mh = grid
    recoil = 0.02 + mh / 100  # 20-70 MeV
    recoil[:5] = np.nan  # windows reaching M^2 <= 0: undefined
    fig = plots.resolution_map(ma, mh, np.full(ma.size, 0.01), recoil)
    norm = fig.axes[1].collections[0].norm
    assert norm.vmin == pytest.approx(1000 * np.nanmin(recoil))
    assert norm.vmax == pytest.approx(1000 * np.nanmax(recoil))


def test_windows_figure_draws_a_few_ellipses_spread_out(grid) -> None:
    ma, mh = grid
    centres = np.c_[mh**2, ma**2]
    fig = plots.windows_over_events(
        [], [], centres, np.ones((ma.size, 2)), np.zeros(ma.size), limit=6
    )
    ellipses = [p for p in fig.axes[0].patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2 * 6  # a filled and an outlined ellipse per window
    drawn = {tuple(np.round(e.center, 9)) for e in ellipses}
    assert len(drawn) == 6


def test_spread_out_picks_distinct_far_apart_points(rng) -> None:
    points = rng.uniform(0, 1, (200, 2))
    chosen = plots.spread_out(points, 8)
    assert len(set(chosen.tolist())) == 8
    assert chosen.tolist() == plots.spread_out(points, 8).tolist()  # deterministic
    gaps = [np.min(np.hypot(*(points[chosen[:k]] - points[chosen[k]]).T)) for k in range(1, 8)]
    # greedy farthest points: each is at least as far from the earlier ones as any later one
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(gaps))
    assert plots.spread_out(points[:3], 10).size == 3


def test_cutflow_stacks_the_backgrounds_against_the_data() -> None:
    yields = {"data": [100.0, 50.0], "mumu": [70.0, 30.0], "tautau": [20.0, 15.0]}
    fig = plots.cutflow(yields, ["Input", "Muon ID"])
    top, bottom = fig.axes[:2]
    bars = [p for p in top.patches if isinstance(p, Rectangle) and p.get_height() > 0]
    tops = sorted({round(b.get_y() + b.get_height(), 9) for b in bars})
    assert tops == [30.0, 45.0, 70.0, 90.0]  # mumu, then tautau on top of it
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["Input", "Muon ID"]
    ratio = bottom.lines[-1].get_ydata()
    assert ratio == pytest.approx([100 / 90, 50 / 45])


def test_limit_map_hatches_prior_dominated_and_greys_no_sensitivity() -> None:
    ma, mh = np.linspace(2, 10, 20), np.linspace(0, 8, 30)
    limits = np.full((20, 30), 5.0)
    prior = np.zeros((20, 30), dtype=bool)
    prior[:5] = True
    no_sens = np.zeros((20, 30), dtype=bool)
    no_sens[-3:] = True
    fig = plots.sigma_limit_map(ma, mh, limits, prior_dominated=prior, no_sensitivity=no_sens)
    ax = fig.axes[0]
    hatches = [h for c in ax.collections for h in (getattr(c, "hatches", None) or []) if h]
    assert hatches == ["////"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["No sensitivity: no limit", "Prior-dominated"]
    mesh = ax.collections[0]
    assert np.ma.getmaskarray(mesh.get_array()).reshape(20, 30)[-3:].all()  # no limit drawn
    assert isinstance(mesh.norm, LogNorm)


def test_ratio_map_scale_is_symmetric_about_one() -> None:
    ratio = np.full((4, 4), 1.0)
    ratio[0, 0], ratio[1, 1] = 3.0, 0.5
    mesh = plots.limit_ratio_map(np.arange(4.0), np.arange(4.0), ratio).axes[0].collections[0]
    assert mesh.norm.vmin == pytest.approx(1 / 3)
    assert mesh.norm.vmax == pytest.approx(3.0)


def test_band_figure_has_one_panel_per_slice_with_both_bands() -> None:
    x, observed, expected = _bands()
    prior = np.array([False, False, True, True, False])
    curves = dict.fromkeys((0.5, 1.0, 2.0, 3.0), (x, observed, expected, prior))
    fig = plots.coupling_limit_bands(curves, versus="ma")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert len(panels) == 4
    for ax in panels:
        fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(fills) == 2
        assert ax.get_yscale() == "log"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["Observed", "Median expected"]
    assert "Prior-dominated" in legend


def test_coupling_limits_has_one_curve_per_slice() -> None:
    x = np.linspace(4, 9, 5)
    curves = {m: (x, np.full(5, 1e-7)) for m in (0.5, 1.0, 2.0, 3.0)}
    fig = plots.coupling_limits(curves, curves)
    assert [len(ax.get_lines()) for ax in fig.axes] == [4, 4]
    assert all(ax.get_yscale() == "log" for ax in fig.axes)


def test_coupling_limits_draw_prior_dominated_stretches_dotted() -> None:
    x = np.linspace(4, 9, 6)
    prior = np.array([True, True, False, False, False, False])
    fig = plots.coupling_limits({1.0: (x, np.full(6, 1e-7), prior)}, {})
    styles = [line.get_linestyle() for line in fig.axes[0].get_lines()]
    assert styles.count(":") == 2  # the dotted stretch and its legend entry
