"""The typed settings: built once from the configuration, they select exactly like it."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from dhstat import config, selection
from dhstat.selection.documents import MacroregionSettings
from dhstat.selection.settings import SelectionSettings


def test_settings_select_like_the_configuration(random_sample: Any) -> None:
    _, columns, whole = random_sample
    cfg = config.load()
    settings = pickle.loads(pickle.dumps(SelectionSettings.from_config(cfg)))
    assert settings == SelectionSettings.from_config(cfg)
    again = selection.select(columns, settings, process="mumu")
    assert again.cutflow == whole.cutflow
    for s in selection.SAMPLES:
        for name in selection.VARIABLES:
            np.testing.assert_array_equal(again.sample(s)[name], whole.sample(s)[name])


def test_macroregion_settings_give_the_same_document() -> None:
    cfg = config.loads('[selection.macroregions]\nsystematics_source = "measured"\n')
    empty = {
        s: {v: np.zeros(0) for v in selection.VARIABLES} | {"process": np.zeros(0, np.int32)}
        for s in selection.SAMPLES
    }
    output = selection.SelectionOutput(empty, {}, {}, "0" * 64, 8.34)
    settings = MacroregionSettings.from_config(cfg)
    assert selection.macroregions_document(output, settings) == (
        selection.macroregions_document(output, cfg)
    )
