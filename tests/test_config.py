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
