"""Typed settings of the simulation, the chunk tasks that carry them, the old generators module."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dhstat.config import load, loads
from dhstat.physics.beams import Beams
from dhstat.simulation import generators
from dhstat.simulation.frames import cm_to_lab
from dhstat.simulation.plans import plan_background, plan_signal
from dhstat.simulation.settings import GeneratorSettings, SimulationSettings


def test_settings_pickle_with_the_tasks() -> None:
    cfg = load()
    settings = SimulationSettings.from_config(cfg)
    assert pickle.loads(pickle.dumps(settings)) == settings
    for plan in (
        plan_background("tautau", 0.01, cfg=cfg, seed=1),
        plan_signal(5.0, 2.0, 100, cfg=cfg, seed=1),
    ):
        task = plan.tasks[0]
        assert task.settings == settings
        assert pickle.loads(pickle.dumps(task)) == task


def test_generator_settings_follow_the_configuration() -> None:
    settings = GeneratorSettings.from_config(load())
    assert settings.beams == Beams.from_config(load())
    assert settings.electron_mass == settings.beams.electron_mass
    off = GeneratorSettings.from_config(loads("[simulation.generator_cuts]\nenabled = false\n"))
    assert off.lepton_window is None
    no_skim = GeneratorSettings.from_config(loads("[simulation.skim]\nenabled = false\n"))
    c_lo, c_hi, p_min = no_skim.lepton_window or (0.0, 0.0, 0.0)
    assert (c_lo, c_hi, p_min) == pytest.approx(
        (np.cos(np.radians(130.0)), np.cos(np.radians(30.0)), 0.6)
    )


def test_generators_module_keeps_the_old_names() -> None:
    for name in generators.__all__:
        assert getattr(generators, name) is not None
    assert generators.cm_to_lab is cm_to_lab
    assert generators.BACKGROUNDS == ("mumu", "tautau", "eemumu")
