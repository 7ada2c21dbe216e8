from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest

from dhstat import config, schemas
from dhstat.errors import InputError


def test_default_loads_and_reproduces_sqrt_s() -> None:
    cfg = config.load()
    assert cfg.source == "<default>"
    assert config.sqrt_s(cfg) == pytest.approx(10.5796, abs=5e-5)
    assert cfg["dataset"]["luminosity_fb"] == 8.34


def test_every_table_present_in_pipeline_order() -> None:
    cfg = config.load()
    assert tuple(cfg) == config.TABLES or set(cfg) == set(config.TABLES)


def test_default_text_round_trips() -> None:
    cfg = config.loads(config.default_text(), source="shown.toml")
    assert cfg.digest() == config.load().digest()


def test_user_file_merges_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text("[dataset]\nluminosity_fb = 1.5\n")
    cfg = config.load(path)
    assert cfg["dataset"]["luminosity_fb"] == 1.5
    assert cfg["dataset"]["luminosity_uncertainty_fb"] == 0.08
    assert cfg.source == str(path)
    assert cfg.digest("beams") == config.load().digest("beams")
    assert cfg.digest("dataset") != config.load().digest("dataset")


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("[beams]\nfoo = 1\n", "beams", "unknown key"),
        ("[nosuchtable]\nx = 1\n", "(top level)", "unknown key"),
        ("[beams]\ne_her = 'seven'\n", "beams.e_her", "not of type 'number'"),
        ("[dataset]\nluminosity_fb = -8.34\n", "dataset.luminosity_fb", "minimum"),
        ("[dataset\n", "(syntax)", "valid TOML"),
    ],
)
def test_invalid_configs_name_file_and_field(text: str, field: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        config.loads(text, source="bad.toml")
    message = str(info.value)
    assert message.startswith(f"bad.toml: {field}: expected")
    assert fragment in message


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="existing configuration file"):
        config.load(tmp_path / "missing.toml")


def test_sqrt_s_closed_form() -> None:
    cfg = config.load()
    e1, e2, a = 7.004, 4.002, 0.0415
    m = cfg["physics"]["electron_mass"]
    p1, p2 = math.sqrt(e1**2 - m**2), math.sqrt(e2**2 - m**2)
    s = (e1 + e2) ** 2 - ((p1 + p2) * math.sin(a)) ** 2 - ((p1 - p2) * math.cos(a)) ** 2
    assert config.sqrt_s(cfg) == pytest.approx(math.sqrt(s), rel=1e-12)


def test_config_schemas_are_closed() -> None:
    """Every object in every config schema rejects unknown keys."""

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, where
                assert node["properties"], f"{where}: empty table schema"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    for name in schemas.names():
        if name.startswith("config"):
            walk(schemas.load(name), name)


def test_all_schemas_valid_against_metaschema() -> None:
    for name in schemas.names():
        document = schemas.load(name)
        jsonschema.Draft202012Validator.check_schema(document)
        assert document["$id"] == schemas.schema_id(name)


def test_schema_files_are_the_repository_folder_in_editable_install() -> None:
    root = Path(__file__).resolve().parents[1] / "schemas"
    assert schemas.directory() == root
    assert json.loads((root / "config.json").read_text())["$id"].endswith(":config")


def test_mass_point_beyond_the_kinematic_limit_is_rejected() -> None:
    with pytest.raises(InputError) as info:
        config.loads("[simulation.injection]\nma = 8.0\nmh = 3.0\n", source="inj.toml")
    message = str(info.value)
    assert message.startswith(
        "inj.toml: simulation.injection.ma + simulation.injection.mh: expected M_A' + M_h' < sqrt(s)"
    )
    config.loads("[simulation.injection]\nma = 7.0\nmh = 3.0\n", source="ok.toml")


# ------------------------------------------------------------------ issue 17: checks at load


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[dataset]\nluminosity_fb = nan\n", "dataset.luminosity_fb"),
        ("[stats]\ncl = nan\n", "stats.cl"),
        ("[stats]\nsigma_max = inf\n", "stats.sigma_max"),
        ("[beams]\ne_her = -inf\n", "beams.e_her"),
        ("[systematics.window_offset]\nsignal = [0.05, nan, 0.016, 0.016, 0.03]\n",
         "systematics.window_offset.signal[1]"),
        ("[[interpretation.resonances]]\nname = 'x'\nmass_gev = nan\nwidth_gev = 1e-4\n",
         "interpretation.resonances[0].mass_gev"),
    ],
)  # fmt: skip
def test_every_number_must_be_finite(text: str, field: str) -> None:
    with pytest.raises(InputError) as info:
        config.loads(text, source="bad.toml")
    assert str(info.value).startswith(f"bad.toml: {field}: expected a finite number, got ")


def test_integers_beyond_64_bits_are_refused() -> None:
    with pytest.raises(InputError, match=r"bad\.toml: run\.seed: expected an integer within 64"):
        config.loads(f"[run]\nseed = {2**63}\n", source="bad.toml")
    assert config.loads(f"[run]\nseed = {2**63 - 1}\n")["run"]["seed"] == 2**63 - 1


def test_every_min_max_pair_of_the_default_is_ordered_and_checked() -> None:
    """Each ``<x>_min`` / ``<x>_max`` pair of the configuration: swapping its values is an error."""
    default = config.load().to_dict()
    pairs = []
    for table, content in default.items():
        stack: list[tuple[str, dict[str, object]]] = [(table, content)]
        while stack:
            path, node = stack.pop()
            for key, value in node.items():
                if isinstance(value, dict):
                    stack.append((f"{path}.{key}", value))
                partner = "_".join("max" if t == "min" else t for t in key.split("_"))
                if "min" in key.split("_") and partner in node:
                    pairs.append((path, key, partner, value, node[partner]))
    # the pairs the issue names are among them
    names = {f"{path}.{key}" for path, key, *_ in pairs}
    assert {"stats.sigma_min", "grid.ma_min", "detector.tracking.theta_min"} <= names
    assert len(pairs) >= 12
    for path, low, high, low_value, high_value in pairs:
        table, *inner = path.split(".")
        header = f"[{'.'.join([table, *inner])}]"
        swapped = f"{header}\n{low} = {high_value!r}\n{high} = {low_value!r}\n"
        with pytest.raises(InputError) as info:
            config.loads(swapped.replace("True", "true"), source="swap.toml")
        assert str(info.value).startswith(f"swap.toml: {path}.{low}: expected "), swapped


def test_sigma_max_times_the_check_factor_stays_finite() -> None:
    with pytest.raises(InputError, match=r"x\.toml: stats\.sigma_max: expected a value that stays"):
        config.loads("[stats]\nsigma_max = 1e308\n", source="x.toml")
    assert config.loads("[stats]\nsigma_max = 1e300\n")["stats"]["sigma_max"] == 1e300


def test_intervals_and_systematics_nodes_are_checked() -> None:
    with pytest.raises(InputError, match=r"detector\.ecl\.barrel: expected an interval"):
        config.loads("[detector.ecl]\nbarrel = [130.0, 32.2]\n", source="x.toml")
    regions = (
        "[[selection.macroregions.regions]]\nname = 'r'\ndominant = 'mumu'\n"
        "mmumu = [1.0, 2.0]\nmrecoil = [3.0, 3.0]\n"
    )
    with pytest.raises(InputError, match=r"regions\[0\]\.mrecoil: expected an interval"):
        config.loads(regions, source="x.toml")
    with pytest.raises(InputError, match=r"mass_resolution\.signal: expected as many values"):
        config.loads("[systematics.mass_resolution]\nsignal = [0.01]\n", source="x.toml")
    with pytest.raises(InputError, match=r"mass_resolution\.ma_gev: expected strictly increasing"):
        config.loads(
            "[systematics.mass_resolution]\nma_gev = [1.0, 1.0]\nsignal = [0.1, 0.2]\n",
            source="x.toml",
        )


def test_non_utf8_and_deeply_nested_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("[run]\n# Müller\nseed = 1\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        config.load(path)
    assert str(info.value) == f"{path}: byte 9: expected UTF-8 text, got b'\\xfc'"
    with pytest.raises(InputError, match=r"\(syntax\): expected TOML nested less deeply"):
        config.loads("a = " + "[" * 5000 + "]" * 5000, source="deep.toml")
    with pytest.raises(InputError, match=r"\(file\): expected a configuration file, not a folder"):
        config.load(tmp_path)
