"""Aligning scan results and counts (dhstat.lee.inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lee_helpers import search_documents

from dhstat import jsonio, lee
from dhstat.errors import InputError


def test_search_inputs_align_scan_and_counts(tmp_path: Path) -> None:
    scan_path, counts_path = search_documents(tmp_path)
    inputs = lee.search_inputs(jsonio.read_json(scan_path), jsonio.read_json(counts_path))
    assert inputs.systematics == ("syst_ceta", "syst_detector")
    np.testing.assert_allclose(inputs.relative[1], np.repeat([0.02, 0.13], 20), rtol=1e-12)
    # Cells add up to the windows' background.
    b = np.asarray(inputs.cells.matrix() @ inputs.cells.background).ravel()
    np.testing.assert_allclose(b, inputs.windows.background, rtol=1e-12)
    assert inputs.centres is not None
    assert inputs.centres.shape == (40, 2)
    # The observed maximum from the toy tables equals the scan's own largest Z.
    from dhstat.stats import significance

    model = lee.build_toy_model(
        inputs.windows,
        inputs.cells,
        pvalue=significance.hybrid_pvalue,
        relative_windows=inputs.relative,
        centres=inputs.centres,
    )
    z, _ = lee.observed_max(model, inputs.n_observed)
    assert inputs.z_scan is not None
    assert z == pytest.approx(inputs.z_scan, rel=1e-12)
    # A count that disagrees with the scan is an input error naming the counts file.
    document = jsonio.read_json(counts_path)
    document["windows"]["n_observed"][3] += 1
    with pytest.raises(InputError, match=r"counts\.json: windows\.n_observed\[3\]"):
        lee.search_inputs(jsonio.read_json(scan_path), document, counts_source=counts_path)
