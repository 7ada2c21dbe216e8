from __future__ import annotations

import importlib.util
import io
import json
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pyhf
import pytest
import yaml

from dhstat import config, publish
from dhstat.errors import InputError
from dhstat.report import ReportSettings


def _synthetic():
    path = Path(__file__).parent / "data" / "synthetic_run.py"
    spec = importlib.util.spec_from_file_location("dhstat_synthetic_run_publish", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
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


def _table(members: dict[str, bytes], name: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser where available: fast
    return yaml.load(members[name], Loader=loader)  # a safe loader


def _variable(table: dict, name: str) -> dict:
    found = [v for v in table["dependent_variables"] if v["header"]["name"] == name]
    assert len(found) == 1, [v["header"]["name"] for v in table["dependent_variables"]]
    return found[0]


def test_limits_carry_their_qualifiers(archive: Path, run_dir: Path) -> None:
    members = _members(archive)
    couplings = json.loads((run_dir / "couplings.json").read_text())
    table = _table(members, "cross-section_limits.yaml")
    for variable in table["dependent_variables"]:
        if variable["header"]["name"] == "Flags":
            continue
        qualifiers = {q["name"]: q for q in variable["qualifiers"]}
        assert qualifiers["CL"]["value"] == "90%"
        assert qualifiers["SQRT(S)"]["value"] == pytest.approx(couplings["sqrt_s"], abs=1e-4)
        assert qualifiers["SQRT(S)"]["units"] == "GeV"
        assert qualifiers["LUMINOSITY"]["value"] == pytest.approx(8.34)
        method = "PRIOR" if "Bayesian" in variable["header"]["name"] else "METHOD"
        assert method in qualifiers
    bayes = _variable(table, "Observed UL on $\\sigma$ (Bayesian)")
    assert {q["name"]: q["value"] for q in bayes["qualifiers"]}["PRIOR"] == (
        "flat in sigma on [0, 100 fb]"
    )


def test_limits_observed_and_expected_per_window(archive: Path, run_dir: Path) -> None:
    members = _members(archive)
    scan = {int(w["id"]): w for w in json.loads((run_dir / "results.json").read_text())["windows"]}
    windows = json.loads((run_dir / "windows.json").read_text())["windows"]
    table = _table(members, "cross-section_limits.yaml")
    ids = windows["id"]
    observed = _variable(table, "Observed UL on $\\sigma$ (Bayesian)")["values"]
    expected = _variable(table, "Expected UL on $\\sigma$ (Bayesian)")["values"]
    cls = _variable(table, "Observed UL on $\\sigma$ (CLs)")["values"]
    flags = _variable(table, "Flags")["values"]
    for k, i in enumerate(ids):
        row = scan[int(i)]
        if row["upper_limit_flat"] is None:
            assert observed[k]["value"] == expected[k]["value"] == cls[k]["value"] == "-"
            assert flags[k]["value"] == "no sensitivity"
            continue
        assert observed[k]["value"] == pytest.approx(row["upper_limit_flat"], rel=1e-4)
        assert cls[k]["value"] == pytest.approx(row["cls_upper_limit"], rel=1e-4)
        band = row["upper_limit_flat_expected"]
        errors = {e["label"]: e["asymerror"] for e in expected[k]["errors"]}
        median = expected[k]["value"]
        assert median == pytest.approx(band[2], rel=1e-4)
        assert median + errors["1 sigma"]["minus"] == pytest.approx(band[1], rel=1e-3)
        assert median + errors["1 sigma"]["plus"] == pytest.approx(band[3], rel=1e-3)
        assert median + errors["2 sigma"]["minus"] == pytest.approx(band[0], rel=1e-3)
        assert median + errors["2 sigma"]["plus"] == pytest.approx(band[4], rel=1e-3)
        want = "prior-dominated" if "sigma_max" in row["flags"] else "-"
        assert flags[k]["value"] == want
    assert [f["value"] for f in flags].count("no sensitivity") == 1
    assert [f["value"] for f in flags].count("prior-dominated") == 1


def test_window_geometry_table(archive: Path, run_dir: Path) -> None:
    windows = json.loads((run_dir / "windows.json").read_text())["windows"]
    table = _table(_members(archive), "window_geometry.yaml")
    columns = {
        "Ellipse centre $M_{\\rm recoil}^2$": [c[0] for c in windows["center"]],
        "Ellipse centre $M_{\\mu\\mu}^2$": [c[1] for c in windows["center"]],
        "Semi-major axis": [a[0] for a in windows["axes"]],
        "Semi-minor axis": [a[1] for a in windows["axes"]],
        "Angle of the major axis": windows["angle"],
        "$C_\\eta$ cut (upper)": windows["ceta_cut"],
    }
    for name, want in columns.items():
        got = [v["value"] for v in _variable(table, name)["values"]]
        assert got == pytest.approx(want, rel=1e-4), name


def test_interpolated_limit_table(archive: Path, run_dir: Path) -> None:
    from dhstat_synthetic_run_publish import NO_SENSITIVITY

    scan = json.loads((run_dir / "results.json").read_text())["windows"]
    table = _table(_members(archive), "interpolated_limits.yaml")
    ma = np.array([v["value"] for v in table["independent_variables"][0]["values"]])
    mh = np.array([v["value"] for v in table["independent_variables"][1]["values"]])
    limit = np.array(
        [v["value"] for v in _variable(table, "Observed UL on $\\sigma$ (Bayesian)")["values"]]
    )
    assert ma.size > 1000  # 120 x 120 grid over the windows, less the blank parts
    finite = [w["upper_limit_flat"] for w in scan if w["upper_limit_flat"] is not None]
    # log-linear interpolation stays within the values it interpolates
    assert limit.min() >= min(finite) * (1 - 1e-4)
    assert limit.max() <= max(finite) * (1 + 1e-4)
    hole = next(w for w in scan if w["id"] == NO_SENSITIVITY)
    near = (np.abs(ma - hole["ma"]) < 0.2) & (np.abs(mh - hole["mh"]) < 0.05)
    assert not near.any()  # no limit where the nearest window has no sensitivity


def test_empty_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="finished run"):
        publish.build_submission(
            tmp_path, ReportSettings.from_config(config.load()), tmp_path / "s.tar.gz"
        )
