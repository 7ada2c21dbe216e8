"""The top-level Python API in pyhf's style: ``dhstat.upper_limit(data, model)`` and friends."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pyhf
import pytest
from scipy import stats

import dhstat
from dhstat.errors import InputError
from dhstat.stats.hybrid import HybridSettings

DATA = Path(__file__).parent / "data" / "pyhf_patchset"


def test_import_dhstat_stays_light() -> None:
    code = (
        "import sys, dhstat; "
        "print(sorted(m for m in ('pyhf', 'scipy', 'dhstat.stats.infer') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_data_and_model_like_pyhf() -> None:
    model = pyhf.simplemodels.uncorrelated_background([3.0], [0.0], [0.0])
    # no background, flat prior: Helene's formula, 1 - CL = F(0; s) / F(0; 0): s = ln 10
    result = dhstat.upper_limit([0, *model.config.auxdata], model, sigma_max=20.0)
    assert isinstance(result, dhstat.UpperLimit)
    assert result.upper_limit == pytest.approx(math.log(10) / 3.0, rel=1e-6)
    assert result.poi == "mu"
    with pytest.raises(AttributeError):
        result.upper_limit = 1.0  # type: ignore[misc]


def test_workspace_forms_agree() -> None:
    spec = json.loads((DATA / "example_bkgonly.json").read_text())
    workspace = pyhf.Workspace(spec)
    model = workspace.model()
    data = workspace.data(model)
    from_model = dhstat.upper_limit(data, model)
    from_workspace = dhstat.upper_limit_workspace(workspace)
    from_file = dhstat.upper_limit_workspace(DATA / "example_bkgonly.json")
    assert from_model.upper_limit == pytest.approx(from_workspace.upper_limit, rel=1e-9)
    assert from_file.upper_limit == pytest.approx(from_workspace.upper_limit, rel=1e-9)
    patched = dhstat.upper_limit_workspace(
        DATA / "example_bkgonly.json",
        patchset=DATA / "example_patchset.json",
        patch="patch_channel1_signal_syst1",
    )
    assert patched.upper_limit != from_file.upper_limit  # the patch changes the signal


def test_significance_and_bayes_factor_one_bin() -> None:
    model = pyhf.simplemodels.uncorrelated_background([1.0], [2.0], [1e-6])
    result = dhstat.significance([7, *model.config.auxdata], model)
    assert isinstance(result, dhstat.Significance)
    assert result.p_value == pytest.approx(stats.poisson.sf(6, 2.0), rel=1e-4)
    b10, _ = dhstat.bayes_factor([0], model, sigma_max=10.0)
    assert 0 < b10 < 1  # no events: the data favour background only
    toys = dhstat.significance_workspace(
        pyhf.Workspace(json.loads((DATA / "example_bkgonly.json").read_text())),
        toys=HybridSettings(max_toys=20_000),
    )
    assert toys.integration == "toys"


def test_bad_data_and_models_are_input_errors() -> None:
    model = pyhf.simplemodels.uncorrelated_background([1.0, 2.0], [2.0, 3.0], [0.1, 0.1])
    with pytest.raises(InputError, match="data: expected 2 counts"):
        dhstat.upper_limit([1, 2, 3], model)
    with pytest.raises(InputError, match="auxdata"):
        dhstat.upper_limit([1, 2, 5.0, 5.0], model)
    with pytest.raises(InputError, match=r"a pyhf\.Model"):
        dhstat.upper_limit([1], object())
    with pytest.raises(AttributeError):
        _ = dhstat.no_such_name
