from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from dhstat import config, counting, report, windows


def _synthetic():
    path = Path(__file__).parent / "data" / "synthetic_run.py"
    spec = importlib.util.spec_from_file_location("dhstat_synthetic_run", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthetic().make_run(tmp_path_factory.mktemp("run"))


def test_collect_aligns_counts_with_windows(run_dir: Path) -> None:
    tables = report.collect(run_dir)
    counts = counting.load(run_dir / "counts.json")
    search = windows.load(run_dir / "windows.json")
    cols = tables.columns
    assert cols["id"].tolist() == search.ids.tolist()
    assert cols["ma"] == pytest.approx(search.ma)
    assert cols["n_observed"].tolist() == counts.n_observed.tolist()
    assert cols["background"] == pytest.approx(counts.background.sum(axis=1))


def test_summary_reads_the_cutflow_and_windows(run_dir: Path) -> None:
    from dhstat import counting

    summary = report.summarize(run_dir, config.load())
    assert summary.n_selected == 3000
    # The paper's 28 985 (and its expectation) are the events inside the windows: from the cells.
    counts = counting.load(run_dir / "counts.json")
    in_windows = counts.cell_background.sum(axis=0)
    assert summary.expected == pytest.approx(dict(zip(counts.processes, in_windows, strict=True)))
    assert summary.n_in_windows == int(counts.cell_n_observed.sum())
    assert summary.window_counts == int(counts.n_observed.sum())
    assert summary.n_windows == 18
    assert summary.max_z is None  # no scan in this run
    text = report.format_summary(summary)
    assert re.search(r"selected data events \(before windows\)\s+3000\s+-", text)
    assert re.search(
        rf"data events in windows \(C_eta cut\)\s+{summary.n_in_windows}\s+28985", text
    )
    share = 100 * in_windows[0] / in_windows.sum()
    assert re.search(rf"mumu\s+{in_windows[0]:.1f} \({share:.1f} %\)\s+78.5 %", text)


def test_figures_and_report(run_dir: Path) -> None:
    cfg = config.load()
    figures = report.make_figures(run_dir, cfg)
    stems = {p.stem for p in figures}
    assert {"fig1_counts", "efficiency", "resolution", "cutflow"} <= stems
    assert all(p.is_file() for p in figures)
    path = report.write_report(run_dir, cfg, figures=figures)
    text = path.read_text()
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert len(links) == len([p for p in figures if p.suffix == ".png"])
    assert all((run_dir / link).is_file() for link in links)
    assert "| cut | data | mumu | tautau |" in text


def test_resolutions_from_ellipses_match_a_closed_form() -> None:
    # an axis-aligned 2-sigma ellipse in (M_recoil^2, M_mumu^2) with sigma(M^2) = 2 M sigma(M)
    ma, mh, s_mumu, s_recoil = 5.0, 2.0, 0.01, 0.2
    centers = np.array([[mh**2, ma**2]])
    axes = np.array([[2 * 2 * mh * s_recoil, 2 * 2 * ma * s_mumu]])
    sig_mumu, sig_recoil = report._resolutions(centers, axes, np.zeros(1))
    assert sig_mumu[0] == pytest.approx(s_mumu)
    assert sig_recoil[0] == pytest.approx(s_recoil)


def test_empty_directory_gives_an_empty_summary(tmp_path: Path) -> None:
    summary = report.summarize(tmp_path, config.load())
    assert summary.n_windows is None
    assert summary.n_selected is None
    assert "9003" in report.format_summary(summary)
