from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SMALL = ROOT / "tests" / "data" / "small.toml"


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


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run directory for all notebooks: the first runs the stages, the others skip them."""
    return tmp_path_factory.mktemp("notebook-run") / "run"


# the quickstart runs the small analysis (about a minute); the others reuse its run directory
@pytest.mark.slow
@pytest.mark.parametrize("name", ["quickstart", "theorist_limits", "look_elsewhere"])
def test_notebook_executes(name: str, shared_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("DHSTAT_NOTEBOOK_CONFIG", str(SMALL))
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
