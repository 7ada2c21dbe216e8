from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from dhstat import config, plots


@pytest.fixture
def grid(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ma = rng.uniform(1.7, 10.3, 400)
    mh = rng.uniform(0.0, 1.0, 400) * np.minimum(ma, 10.5 - ma)
    return ma, mh


def _labels(fig: Figure) -> list[str]:
    return [t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel()) if t]


def test_every_figure_has_units_on_its_mass_axes(grid, rng, tmp_path: Path) -> None:
    ma, mh = grid
    n = rng.poisson(5.0, ma.size)
    figures = {
        "counts": plots.observed_counts(ma, mh, n),
        "z": plots.local_significance_map(ma, mh, rng.normal(size=ma.size)),
        "eff": plots.efficiency_map(ma, mh, np.full(ma.size, 0.2)),
        "res": plots.resolution_map(ma, mh, 0.01 + 0 * ma, 0.1 + ma / 10),
        "map": plots.sigma_limit_map(
            np.linspace(2, 10, 20), np.linspace(0, 8, 30), np.ones((20, 30)), centres=(ma, mh)
        ),
        "fig3": plots.coupling_limits(
            {1.0: (np.linspace(4, 9, 5), np.full(5, 1e-7))},
            {5.0: (np.linspace(0, 4, 5), np.full(5, 2e-7))},
        ),
        "maxz": plots.max_z_distribution(rng.normal(3, 0.5, 200), 3.7, global_z=0.5),
        "windows": plots.windows_over_events(
            rng.uniform(0, 50, 100),
            rng.uniform(0, 100, 100),
            np.c_[mh**2, ma**2],
            np.c_[np.full(ma.size, 1.0), np.full(ma.size, 0.2)],
            np.zeros(ma.size),
            limit=50,
        ),
        "cutflow": plots.cutflow({"mumu": [10.0, 5.0, 1.0]}, ["input", "a", "b"]),
    }
    for name, fig in figures.items():
        labels = _labels(fig)
        assert labels, name
        # every axis label carries a unit in brackets, except counts and eps^2 alpha_D
        dimensionless = ("events", "toys", "alpha_d")
        for label in labels:
            assert "[" in label or any(w in label.lower() for w in dimensionless), (name, label)
        written = plots.save(fig, tmp_path / name)
        assert [p.suffix for p in written] == [".png", ".pdf"]
        assert all(p.stat().st_size > 1000 for p in written)
    assert not list(tmp_path.glob(".*part*"))  # atomic writes leave no temporaries


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
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["$Z$ = 4.20"]


def test_windows_figure_draws_at_most_the_limit(grid) -> None:
    ma, mh = grid
    fig = plots.windows_over_events(
        [], [], np.c_[mh**2, ma**2], np.ones((ma.size, 2)), np.zeros(ma.size), limit=40
    )
    assert 1 <= len(fig.axes[0].patches) <= 40


def test_coupling_limits_has_one_curve_per_slice() -> None:
    x = np.linspace(4, 9, 5)
    curves = {m: (x, np.full(5, 1e-7)) for m in (0.5, 1.0, 2.0, 3.0)}
    fig = plots.coupling_limits(curves, curves)
    assert [len(ax.get_lines()) for ax in fig.axes] == [4, 4]
    assert all(ax.get_yscale() == "log" for ax in fig.axes)


def test_local_z_map_survives_infinite_and_missing_values(grid) -> None:
    ma, mh = grid
    z = np.zeros(ma.size)
    z[3], z[4], z[5] = np.inf, np.nan, -np.inf
    fig = plots.local_significance_map(ma, mh, z)
    assert [t.get_text() for t in fig.axes[0].texts] == ["$Z$ = inf"]
    fig.savefig(io.BytesIO(), format="png")
