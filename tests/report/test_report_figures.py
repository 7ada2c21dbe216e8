from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dhstat import config, report
from dhstat.report.figures import _resolutions


def test_figures_and_report(run_dir: Path) -> None:
    settings = report.ReportSettings.from_config(config.load())
    figures = report.make_figures(run_dir, settings)
    stems = {p.stem for p in figures}
    assert {"fig1_counts", "efficiency", "resolution", "cutflow"} <= stems
    assert all(p.is_file() for p in figures)
    path = report.write_report(run_dir, settings, figures=figures)
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
    sig_mumu, sig_recoil = _resolutions(centers, axes, np.zeros(1))
    assert sig_mumu[0] == pytest.approx(s_mumu)
    assert sig_recoil[0] == pytest.approx(s_recoil)
