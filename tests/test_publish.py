from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import warnings
from pathlib import Path

import pyhf
import pytest
import yaml

from dhstat import config, publish
from dhstat.errors import InputError
from dhstat.report import ReportSettings


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


@pytest.fixture(scope="module")
def archive(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pub") / "submission.tar.gz"
    return publish.build_submission(run_dir, ReportSettings.from_config(config.load()), out)


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_archive_passes_the_hepdata_validator(archive: Path) -> None:
    with warnings.catch_warnings():
        # hepdata_validator uses jsonschema's deprecated RefResolver
        warnings.simplefilter("ignore", DeprecationWarning)
        from hepdata_validator.full_submission_validator import FullSubmissionValidator

        validator = FullSubmissionValidator()
        valid = validator.validate(archive=str(archive))
    assert valid, validator.get_messages()


def test_tables_hold_every_window(archive: Path, run_dir: Path) -> None:
    members = _members(archive)
    counts = json.loads((run_dir / "counts.json").read_text())
    table = yaml.safe_load(members["search_windows.yaml"])
    n = len(counts["windows"]["id"])
    assert all(len(v["values"]) == n for v in table["independent_variables"])
    names = [v["header"]["name"] for v in table["dependent_variables"]]
    assert "Observed events" in names
    observed = table["dependent_variables"][names.index("Observed events")]["values"]
    assert sorted(int(v["value"]) for v in observed) == sorted(counts["windows"]["n_observed"])
    assert "cutflow.yaml" in members


def test_likelihoods_are_a_histfactory_resource_pyhf_can_use(archive: Path, run_dir: Path) -> None:
    members = _members(archive)
    submission = next(yaml.safe_load_all(members["submission.yaml"]))
    resources = [r for r in submission["additional_resources"] if r.get("type") == "HistFactory"]
    assert {r["location"] for r in resources} == {
        "likelihoods_patchset.tar.gz",
        "likelihoods_workspaces.tar.gz",
    }
    inner = _members_bytes(members["likelihoods_patchset.tar.gz"])
    background = json.loads(inner["BkgOnly.json"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pyhf's schema validation
        patchset = pyhf.PatchSet(json.loads(inner["patchset.json"]))
        for patch in (patchset.patches[0], patchset.patches[-1]):
            patched = pyhf.Workspace(patch.apply(background))
            window = pyhf.Workspace(
                json.loads((run_dir / "workspaces" / f"{patch.name}.json").read_text())
            )
            # the patched workspace is the window's workspace: same likelihood at any point
            model, model_w = patched.model(), window.model()
            pars = model.config.suggested_init()
            assert model.config.par_names == model_w.config.par_names
            assert model.logpdf(pars, patched.data(model)).tolist() == pytest.approx(
                model_w.logpdf(pars, window.data(model_w)).tolist(), rel=1e-12
            )


def _members_bytes(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_archive_over_the_limit_is_refused_with_a_clear_message(
    run_dir: Path, tmp_path: Path
) -> None:
    cfg = config.loads("[report]\nhepdata_max_mb = 0.001\n")
    out = tmp_path / "big.tar.gz"
    with pytest.raises(InputError, match="50 MB"):
        publish.build_submission(run_dir, ReportSettings.from_config(cfg), out)
    assert not out.exists()


def test_empty_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="finished run"):
        publish.build_submission(
            tmp_path, ReportSettings.from_config(config.load()), tmp_path / "s.tar.gz"
        )
