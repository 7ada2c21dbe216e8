"""The typed run header, its dict form, checkpoint names and the [lee] settings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lee_helpers import header, small_model

from dhstat import config, jsonio, lee


def test_run_header_dict_round_trips_through_a_part_file(tmp_path: Path) -> None:
    model = small_model()
    head = header(model, 300, 7)
    data = head.to_dict()
    assert list(data) == [
        "n_toys", "batch_size", "seed", "n_windows", "n_cells", "window_ids", "systematics",
        "mc_stat", "signal_injected", "gross_vitells_thresholds", "gross_vitells_toys",
        "nuisance_model", "z_local", "window", "z_local_scan", "inputs", "config_digest",
        "dhstat_version",
    ]  # fmt: skip
    assert data["window_ids"] == list(range(model.n_windows))
    assert data["gross_vitells_thresholds"] == [1.0, 2.0, 3.0, 4.0]
    assert data["inputs"] == {"scan": "0" * 64, "counts": "1" * 64}
    assert data["nuisance_model"] == lee.NUISANCE_MODEL
    path = tmp_path / "part.json"
    jsonio.write_json(path, lee.part_document(head, (0, 1), {}, complete=False), schema="lee-part")
    run = jsonio.read_json(path, schema="lee-part")["run"]
    assert run == data
    assert lee.RunHeader.from_dict(run) == head
    assert lee.RunHeader.from_dict(run).to_dict() == run


def test_checkpoint_key_is_the_pipeline_formula(tmp_path: Path) -> None:
    head = header(small_model(), 300, 7)
    text = json.dumps(head.to_dict(), sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert head.checkpoint_key() == key
    assert lee.checkpoint_path(tmp_path, head) == tmp_path / f"lee-{key}.jsonl"
    assert lee.checkpoint_path(str(tmp_path), head, (2, 3)).name == f"lee-{key}-shard2of3.jsonl"
    assert header(small_model(), 300, 8).checkpoint_key() != key


def test_lee_settings_from_the_default_table() -> None:
    table = config.load()["lee"]
    settings = lee.LeeSettings.from_config(table)
    assert settings.n_toys == table["n_toys"]
    assert settings.batch_size == table["batch_size"]
    assert settings.gv_toys == table["gv_toys"]
    assert settings.gv_thresholds == tuple(table["gv_thresholds"])
    assert settings.systematics is bool(table["systematics"])
    assert settings.mc_stat is bool(table["mc_stat"])
    assert settings.table_sigmas == table["table_sigmas"]
