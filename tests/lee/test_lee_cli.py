"""``dhstat lee`` and ``dhstat lee merge`` end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from lee_helpers import search_documents

from dhstat import jsonio


def test_cli_shards_merge_to_the_single_run(tmp_path: Path) -> None:
    from dhstat.cli import main

    scan_path, counts_path = search_documents(tmp_path)
    config = tmp_path / "cfg.toml"
    config.write_text("[lee]\nbatch_size = 100\ngv_toys = 150\n")
    common = [
        "lee",
        "--scan",
        str(scan_path),
        "--counts",
        str(counts_path),
        "--toys",
        "700",
        "--seed",
        "3",
        "--workers",
        "1",
        "--config",
        str(config),
    ]
    main([*common, "--output", str(tmp_path / "single.json")])
    for i in range(3):
        main([*common, "--shard", f"{i}/3", "--output", str(tmp_path / f"p{i}.json")])
    main(
        [
            "lee",
            "merge",
            *(str(tmp_path / f"p{i}.json") for i in (2, 0, 1)),
            "--output",
            str(tmp_path / "merged.json"),
        ]
    )
    single = (tmp_path / "single.json").read_bytes()
    assert (tmp_path / "merged.json").read_bytes() == single
    document = jsonio.read_json(tmp_path / "single.json", schema="lee")
    assert document["n_toys"] == 700
    assert document["provenance"]["systematics"] == ["syst_ceta", "syst_detector"]
    assert document["gross_vitells"]["n_toys"] == 150
    assert not list(tmp_path.glob("lee-*.json"))
    with pytest.raises(SystemExit) as info:
        main([*common, "--shard", "3/3", "--output", str(tmp_path / "bad.json")])
    assert info.value.code == 2
