from __future__ import annotations

from pathlib import Path

import pytest

from dhstat import counting, report, windows


def test_collect_aligns_counts_with_windows(run_dir: Path) -> None:
    tables = report.collect(run_dir)
    counts = counting.load(run_dir / "counts.json")
    search = windows.load(run_dir / "windows.json")
    cols = tables.columns
    assert cols["id"].tolist() == search.ids.tolist()
    assert cols["ma"] == pytest.approx(search.ma)
    assert cols["n_observed"].tolist() == counts.n_observed.tolist()
    assert cols["background"] == pytest.approx(counts.background.sum(axis=1))
