from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pyhf
import pytest

from dhstat import config
from dhstat.stats import bayes
from dhstat.stats.specs import window_spec

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
THEORIST = ROOT / "notebooks" / "theorist_limits.ipynb"


def test_the_three_notebooks_exist() -> None:
    assert {p.stem for p in NOTEBOOKS} == {"quickstart", "theorist_limits", "look_elsewhere"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_outputs_are_stripped(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: outputs not stripped"
            assert cell.execution_count is None, f"{path.name}: execution count not stripped"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_run_the_packaged_quick_preset(path: Path) -> None:
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert 'os.environ.get("DHSTAT_NOTEBOOK_CONFIG", "quick")' in source
    assert "config.preset_path(CONFIG)" in source
    assert "tests/data" not in source  # the notebooks need no test data
    assert '"tests"' not in source


# ------------------------------------------------------- the theorist notebook's brute force


def _notebook_function(name: str) -> Any:
    """A function defined in a code cell of the theorist notebook (the cell run on its own)."""
    cell = next(
        c
        for c in nbformat.read(THEORIST, as_version=4).cells
        if c.cell_type == "code" and f"def {name}(" in c.source
    )
    namespace: dict[str, Any] = {"np": np, "pyhf": pyhf}
    exec(compile(cell.source, str(THEORIST), "exec"), namespace)  # noqa: S102
    return namespace[name]


BRUTE_FORCE_CASES = {
    # N, signal per fb, background, a 13 % background and a 9 % signal systematic, MC stat
    "data-set limit": {"n": 3, "signal": 0.25, "background": 1.2, "stat": 0.4},
    "prior-set limit": {"n": 4, "signal": 0.03, "background": 1.0, "stat": 0.5},
    "no signal": {"n": 1, "signal": 0.0, "background": 0.8, "stat": 0.3},
}


@pytest.mark.parametrize("case", BRUTE_FORCE_CASES)
def test_theorist_brute_force_agrees_with_dhstat(case: str) -> None:
    """The notebook's Monte Carlo limit agrees with dhstat's quadrature within 3 MC errors."""
    c = BRUTE_FORCE_CASES[case]
    spec = window_spec(
        n=c["n"],
        signal=c["signal"],
        backgrounds={"mumu": c["background"]},
        signal_shifts={"syst_detector": 0.091 * c["signal"]},
        background_shifts={"mumu": {"syst_detector": 0.13 * c["background"]}},
        stat_errors={"mumu": c["stat"]},
        sigma_max=100.0,
    )
    brute_force_limit = _notebook_function("brute_force_limit")
    limit, error = brute_force_limit(spec, n_draws=2000, n_batches=20)
    reference = bayes.upper_limit(spec, cl=0.9)
    assert abs(limit - reference.upper_limit) <= 3 * error + 1e-3 * reference.upper_limit
    assert error < 0.02 * reference.upper_limit  # a real Monte Carlo precision, not a wide band
    if case == "no signal":  # a flat posterior on [0, sigma_max]: the prior range sets it
        assert limit == pytest.approx(90.0, rel=1e-6)
    if case == "prior-set limit":
        assert reference.sigma_max_dependent


def test_theorist_brute_force_uses_the_prior_range() -> None:
    """Integrating beyond sigma_max (the notebook's old mistake) would not agree."""
    brute_force_limit = _notebook_function("brute_force_limit")
    spec = window_spec(n=2, signal=0.03, backgrounds={"mumu": 1.0}, sigma_max=100.0)
    wide = window_spec(n=2, signal=0.03, backgrounds={"mumu": 1.0}, sigma_max=400.0)
    inside, _ = brute_force_limit(spec, n_draws=200, n_batches=10)
    beyond, _ = brute_force_limit(wide, n_draws=200, n_batches=10)
    assert inside == pytest.approx(bayes.upper_limit(spec).upper_limit, rel=1e-3)
    assert beyond > 1.5 * inside


_BRUTE_LINE = re.compile(r"brute force (\S+) \+- (\S+) fb, dhstat (\S+) fb: (agree|DISAGREE)")


def check_brute_force_output(text: str, sigma_max: float) -> None:
    """The theorist notebook's cross-check lines: both windows agree, one limit set by the prior."""
    found = [(float(a), float(b), float(c), word) for a, b, c, word in _BRUTE_LINE.findall(text)]
    assert len(found) == 2, text
    for brute, error, quadrature, word in found:
        assert abs(brute - quadrature) <= 3 * error + 1e-3 * quadrature, (brute, error, quadrature)
        assert word == "agree"
    # the weakest window's limit is the prior's (close to cl * sigma_max), the typical one's is not
    assert found[0][2] < 0.5 * sigma_max
    assert found[1][2] > 0.5 * sigma_max
    assert "limit set by the prior's upper end: no" in text
    assert "limit set by the prior's upper end: yes" in text


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run directory for all notebooks: the first runs the stages, the others skip them."""
    return tmp_path_factory.mktemp("notebook-run") / "run"


# the quickstart runs the quick preset (about a minute); the others reuse its run directory
@pytest.mark.slow
@pytest.mark.parametrize("name", ["quickstart", "theorist_limits", "look_elsewhere"])
def test_notebook_executes(name: str, shared_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("DHSTAT_NOTEBOOK_CONFIG", "quick")
    monkeypatch.setenv("DHSTAT_NOTEBOOK_OUTDIR", str(shared_run))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = ROOT / "notebooks" / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    text = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "Traceback" not in text
    assert str(config.preset_path("quick")) in text  # the preset ran
    if name == "quickstart":  # the workspace's limit beside the scan's: the same posterior
        (difference,) = re.findall(r"relative difference: +([-+.\d]+)%", text)
        assert abs(float(difference)) < 1.0
    if name == "theorist_limits":
        sigma_max = float(config.load(config.preset_path("quick"))["stats"]["sigma_max"])
        check_brute_force_output(text, sigma_max)
