"""Set-up of the workspace tests: makes ``workspace_helpers`` importable; the built reference set."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dhstat import config, systematics, workspace

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from workspace_helpers import write_inputs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, workspace.WorkspaceSet]:
    folder = tmp_path_factory.mktemp("ws")
    counts_path, windows_path = write_inputs(folder)
    cfg = config.load()
    lumi, joined, digests = workspace.read_inputs(counts_path, windows_path)
    wset = workspace.build_set(
        joined,
        systematics.rules_from_config(cfg),
        luminosity_fb=lumi,
        sigma_max=workspace.sigma_max(cfg),
        provenance={"config_digest": cfg.digest(), "seed": cfg["run"]["seed"], **digests},
    )
    workspace.save_set(wset, folder / "out")
    return folder / "out", wset
