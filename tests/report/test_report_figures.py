from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from data_synthetic import NO_SENSITIVITY, PRIOR_DOMINATED

from dhstat import config, interpretation, report
from dhstat.report.figures import _resolutions
from dhstat.report.limit_figures import _Interpolator, limit_maps, slice_limits
from dhstat.report.tables import RunTables

NEW_FIGURES = {
    "expected_sigma_limit",
    "observed_over_expected",
    "fig3_expected_vs_ma",
    "fig3_expected_vs_mh",
    "expected_significance",
}


@pytest.fixture(scope="module")
def figures(run_dir: Path) -> list[Path]:
    settings = report.ReportSettings.from_config(config.loads('[report]\nformats = ["png"]\n'))
    return report.make_figures(run_dir, settings)


def test_figures_and_report(run_dir: Path, figures: list[Path]) -> None:
    settings = report.ReportSettings.from_config(config.load())
    stems = {p.stem for p in figures}
    assert {"fig1_counts", "efficiency", "resolution", "cutflow", "fig2_sigma_limit"} <= stems
    assert stems >= NEW_FIGURES
    assert all(p.is_file() for p in figures)
    path = report.write_report(run_dir, settings, figures=figures)
    text = path.read_text()
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert len(links) == len([p for p in figures if p.suffix == ".png"])
    assert all((run_dir / link).is_file() for link in links)
    assert "| cut | data | mumu | tautau |" in text
    assert "| Muon ID (`muon_id`) |" in text  # readable cut names
    assert "UL exp. [fb] | CLs obs. [fb] | CLs exp. [fb] | flags |" in text
    assert "## Limits over the windows of the quoted ranges" in text
    assert "hence without a limit (flag no_sensitivity): 1;" in text
    for stem in NEW_FIGURES:
        assert f"![{stem}]" in text
        assert report.markdown.CAPTIONS[stem] in text


def test_resolutions_from_ellipses_match_a_closed_form() -> None:
    # an axis-aligned 2-sigma ellipse in (M_recoil^2, M_mumu^2) with sigma(M^2) = 2 M sigma(M)
    ma, mh, s_mumu, s_recoil = 5.0, 2.0, 0.01, 0.2
    centers = np.array([[mh**2, ma**2]])
    axes = np.array([[2 * 2 * mh * s_recoil, 2 * 2 * ma * s_mumu]])
    sig_mumu, sig_recoil = _resolutions(centers, axes, np.zeros(1))
    assert sig_mumu[0] == pytest.approx(s_mumu)
    assert sig_recoil[0] == pytest.approx(s_recoil)


def test_resolution_is_undefined_where_the_window_reaches_zero_mass() -> None:
    # M_h' = 0.05 GeV: M_recoil^2 = 0.0025, far inside the ellipse's extent (0.3 GeV^2)
    centers = np.array([[0.0025, 25.0], [4.0, 25.0]])
    axes = np.array([[0.3, 0.2], [0.3, 0.2]])
    _, sig_recoil = _resolutions(centers, axes, np.zeros(2))
    assert np.isnan(sig_recoil[0])
    assert sig_recoil[1] == pytest.approx(0.3 / (4 * 2.0))


def _tables(rng: np.random.Generator, n: int = 60) -> RunTables:
    ma = rng.uniform(3.0, 9.0, n)
    mh = rng.uniform(0.2, 1.0, n) * (10.4 - ma) * 0.5
    limits = np.exp(rng.normal(1.5, 0.5, n))
    sensitive = np.ones(n)
    sensitive[:4] = 0.0
    return RunTables(
        {"ma": ma, "mh": mh, "sigma_ul": np.where(sensitive > 0, limits, np.nan),
         "sensitive": sensitive, "prior_dominated": (np.arange(n) % 7 == 0).astype(float)},
        {"couplings": {"sqrt_s": 10.58, "interpolation": {"method": "linear", "log": True,
                                                          "mh_scale": 2.0}}},
    )  # fmt: skip


@pytest.mark.parametrize("method", ["linear", "nearest"])
def test_interpolator_agrees_with_the_interpretation_interpolation(rng, method: str) -> None:
    tables = _tables(rng)
    tables.documents["couplings"]["interpolation"]["method"] = method
    cols = tables.columns
    ma, mh = np.meshgrid(np.linspace(2.5, 9.5, 23), np.linspace(0.0, 3.5, 19), indexing="ij")
    reference = interpretation.interpolate_points(
        cols["ma"], cols["mh"], cols["sigma_ul"], ma, mh, method=method, log=True,
        mh_scale=2.0, sqrt_s=10.58,
    )  # fmt: skip
    run = _Interpolator(tables, ma, mh)
    ours = run.values(cols["sigma_ul"])
    # the same values wherever the nearest window has sensitivity, NaN where it has none
    blank = run.no_sensitivity
    assert blank.any()
    assert not blank.all()
    np.testing.assert_allclose(ours[~blank], reference[~blank], rtol=1e-10)
    assert np.isnan(ours[blank]).all()


def test_flags_follow_the_nearest_window(rng) -> None:
    tables = _tables(rng)
    cols = tables.columns
    # query exactly at the window centres: each point's nearest window is itself
    run = _Interpolator(tables, cols["ma"], cols["mh"])
    inside = ~np.isnan(
        interpretation.interpolate_points(
            cols["ma"], cols["mh"], np.ones(len(cols["ma"])), cols["ma"], cols["mh"], log=False
        )
    )
    prior = run.flag(cols["prior_dominated"] > 0.5)
    assert prior[inside].tolist() == (cols["prior_dominated"][inside] > 0.5).tolist()
    assert run.no_sensitivity[inside].tolist() == (cols["sensitive"][inside] < 0.5).tolist()


def test_limit_map_masks_the_window_without_sensitivity(run_dir: Path) -> None:
    tables = report.collect(run_dir)
    cols = tables.columns
    maps = limit_maps(tables, 61)
    k = int(np.flatnonzero(cols["id"] == NO_SENSITIVITY)[0])
    i = int(np.argmin(np.abs(maps.ma_axis - cols["ma"][k])))
    j = int(np.argmin(np.abs(maps.mh_axis - cols["mh"][k])))
    assert maps.no_sensitivity[i, j]
    assert np.isnan(maps.observed[i, j])
    assert maps.expected is not None
    assert np.isnan(maps.expected[:, i, j]).all()
    k = int(np.flatnonzero(cols["id"] == PRIOR_DOMINATED)[0])
    i = int(np.argmin(np.abs(maps.ma_axis - cols["ma"][k])))
    j = int(np.argmin(np.abs(maps.mh_axis - cols["mh"][k])))
    assert maps.prior_dominated[i, j]
    assert maps.observed[i, j] == pytest.approx(cols["sigma_ul"][k], rel=1e-9)


def test_slices_scale_the_expected_band_to_the_coupling(run_dir: Path) -> None:
    tables = report.collect(run_dir)
    cols = tables.columns
    curves = slice_limits(tables, [0.5], versus="ma", points=6)  # x = 4, 5, ..., 9: the windows
    x, observed, expected, prior = curves[0.5]
    rows = np.flatnonzero(np.isclose(cols["mh"], 0.5))
    assert x.tolist() == pytest.approx(cols["ma"][rows].tolist())
    assert observed == pytest.approx(cols["coupling_ul"][rows], rel=1e-9)
    scaled = cols["coupling_per_fb"][rows, None] * cols["sigma_ul_expected"][rows]
    assert expected == pytest.approx(scaled.T, rel=1e-9)
    assert not prior.any()
