"""Tests of dhstat.workspace.patchsets: export as a pyhf patchset and back."""

from __future__ import annotations

import json
from typing import Any

import pyhf
import pytest

from dhstat import workspace
from dhstat.errors import InputError

pytestmark = pytest.mark.filterwarnings(
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------ patchsets


def test_patchset_round_trip(built: Any) -> None:
    _, wset = built
    bkg, patchset = workspace.to_patchset(wset, hepdata="ins2104697")
    pyhf.schema.validate(patchset, "patchset.json")
    pyhf.schema.validate(bkg, "workspace.json")
    assert patchset["metadata"]["labels"] == ["M_Aprime", "M_hprime"]
    pset = pyhf.PatchSet(patchset)
    for entry, spec in zip(wset.index["windows"], wset.workspaces, strict=True):
        patched = pset.apply(pyhf.Workspace(bkg), [entry["ma"], entry["mh"]])
        assert json.loads(json.dumps(dict(patched))) == spec
    back = workspace.from_patchset(patchset, bkg)
    assert back.index == wset.index
    assert back.texts == wset.texts
    bkg["channels"][0]["samples"][0]["data"] = [123.0]
    with pytest.raises(InputError, match="digest of the background-only"):
        workspace.from_patchset(patchset, bkg)
