"""Exact counts on a tiny hand-made flat ntuple: each event's fate is decided by hand.

Every event is a copy of one clean mu+ mu- candidate with one thing changed. The clean candidate
(checked below with plain numpy, independent of dhstat's kinematics) has both muons at 59.5 and
68.5 degrees, an opening angle in phi of 132 degrees, the recoil at 76 degrees and a c.m.
transverse momentum near 2 GeV/c: far from every cut.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny import BRANCHES, EVENTS, MU0, MU1, write_tiny

from dhstat import config, parallel, samples
from dhstat.physics.beams import Beams
from dhstat.selection import CUTS


def test_the_clean_candidate_is_far_from_every_cut() -> None:
    p0, p1 = (np.array([m["px"], m["py"], m["pz"]]) for m in (MU0, MU1))
    theta = [np.degrees(np.arctan2(np.hypot(p[0], p[1]), p[2])) for p in (p0, p1)]
    assert 45 < theta[0] < 110  # cut: 37-120
    assert 45 < theta[1] < 110
    dphi = abs(np.degrees(np.arctan2(p0[1], p0[0]) - np.arctan2(p1[1], p1[0])))
    assert min(dphi, 360 - dphi) > 110  # cut: > 90
    beams = Beams.from_config(config.load()).total()
    recoil = beams[1:] - p0 - p1
    assert 50 < np.degrees(np.arctan2(np.hypot(recoil[0], recoil[1]), recoil[2])) < 100  # 32-125
    # the pair's transverse momentum barely changes in the c.m. (beta ~ 0.28 along ~z)
    assert np.hypot(*(p0 + p1)[:2]) > 1.5  # cut: > 0.1


@pytest.mark.parametrize("kind", ["data", "background"])
def test_exact_counts_on_a_hand_made_file(tmp_path: Path, kind: str) -> None:
    write_tiny(tmp_path / "tiny.root")
    table = {
        "name": "tiny",
        "kind": kind,
        "files": ["tiny.root"],
        "tree": "ntuple",
        "branches": BRANCHES,
    }
    if kind == "background":
        table |= {"process": "mumu", "weight": "w * 1.5", "luminosity_fb": 4.0}
    path = tmp_path / "c.toml"
    path.write_text("[dataset]\nluminosity_fb = 8.0\n" + samples.samples_toml([table]))
    cfg = config.load(path)
    with parallel.executor(workers=1) as ex:
        chosen = samples.select_samples(cfg, executor=ex)
    process = "data" if kind == "data" else "mumu"
    flow = chosen.output.cutflows[process]
    expected = []
    alive = len(EVENTS)
    for cut in CUTS["search"]:
        alive -= sum(1 for _, fails in EVENTS.values() if fails == cut)
        expected.append(alive)
    assert flow.n_input == len(EVENTS)
    assert flow.raw["search"] == tuple(expected)
    assert expected[-1] == 2
    weight = 1.0 if kind == "data" else 2.0 * 1.5 * 8.0 / 4.0
    assert flow.weighted["search"] == pytest.approx(tuple(n * weight for n in expected))
    search = chosen.output.samples["search"]
    assert search["egamma_total"].tolist() == [0.0, 0.3]
    assert search["weight"].tolist() == [weight, weight]
    assert len(chosen.output.samples["control_mumugamma"]["weight"]) == 0
