"""The stats modules keep their public import paths after the split into smaller modules."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from dhstat.errors import InputError
from dhstat.stats import bayes, generic_bayes, model, nodes, specs, window_bayes
from dhstat.stats.model import WindowSet, window_spec


def test_bayes_keeps_its_public_names() -> None:
    assert bayes.__all__ == [
        "UpperLimit",
        "WindowLimits",
        "bayes_factor",
        "upper_limit",
        "window_bayes_factors",
        "window_upper_limits",
    ]
    assert bayes.upper_limit is generic_bayes.upper_limit
    assert bayes.bayes_factor is generic_bayes.bayes_factor
    assert bayes.UpperLimit is generic_bayes.UpperLimit
    assert bayes.window_upper_limits is window_bayes.window_upper_limits
    assert bayes.window_bayes_factors is window_bayes.window_bayes_factors
    assert bayes.WindowLimits is window_bayes.WindowLimits


def test_model_keeps_its_public_names() -> None:
    assert model.__all__ == ["NodeSet", "WindowSet", "window_nodes", "window_spec"]
    assert model.NodeSet is nodes.NodeSet
    assert model.window_nodes is nodes.window_nodes
    assert model.window_spec is specs.window_spec


def test_parse_window_spec_rejects_unsupported_modifiers() -> None:
    spec = window_spec(n=1, signal=1.0, backgrounds={"b": 1.0})
    spec["channels"][0]["samples"][1]["modifiers"].append(
        {"name": "norm", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}}
    )
    with pytest.raises(InputError, match="window modifier"):
        WindowSet.from_specs([spec])
    asym = window_spec(n=1, signal=1.0, backgrounds={"b": 1.0}, signal_shifts={"d": 0.1})
    asym["channels"][0]["samples"][0]["modifiers"][1]["data"]["lo_data"] = [0.95]
    with pytest.raises(InputError, match="symmetric histosys"):
        WindowSet.from_specs([asym])


def test_window_limit_warnings_keep_the_bayes_logger(caplog: pytest.LogCaptureFixture) -> None:
    ws = WindowSet.from_specs([window_spec(n=2, signal=1e-6, backgrounds={"b": 0.5})])
    with caplog.at_level(logging.WARNING):
        limits = bayes.window_upper_limits(ws)
    assert bool(limits.sigma_max_dependent[0])
    assert np.isfinite(limits.limit_at_check[0])
    assert [r.name for r in caplog.records] == ["dhstat.stats.bayes"]
