"""Clusters of charged particles in the ECL without a track are photon candidates (issue 18).

References: the configured ECL and tracker polar ranges, the ECL energy resolution formula, and
the truth direction of the particle.
"""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from dhstat.config import loads
from dhstat.physics import kinematics as kin
from dhstat.simulation.detector import reconstruct
from dhstat.simulation.truth import TruthEvents

BASE = (
    "[detector.beam_background]\nphotons_per_event = 1e-9\n[detector.tracking]\nefficiency = 1.0\n"
)
ON = BASE + "[detector.ecl]\nuntracked_charged_clusters = true\n"
OFF = BASE + "[detector.ecl]\nuntracked_charged_clusters = false\n"
MASS = {13: 0.1056584, 11: 0.00051099895}


def _event(n: int, thetas: list[float], energies: list[float], pdgs: list[int]) -> TruthEvents:
    """``n`` copies of an event: two muons at 60 and 110 deg plus the listed particles."""
    slots = [(60.0, 5.0, 13), (110.0, 5.0, -13), *zip(thetas, energies, pdgs, strict=True)]
    p = np.zeros((n, len(slots), 4))
    pdg = np.zeros((n, len(slots)), np.int32)
    for k, (theta_deg, mom, code) in enumerate(slots):
        t, phi = math.radians(theta_deg), 0.3 + 2.0 * k
        p[:, k] = kin.four_vector(
            mom * math.sin(t) * math.cos(phi),
            mom * math.sin(t) * math.sin(phi),
            mom * math.cos(t),
            MASS[abs(code)],
        )
        pdg[:, k] = code
    return TruthEvents(p=p, pdg=pdg)


def test_electron_in_ecl_outside_tracker_is_a_photon() -> None:
    n = 4000
    # e- at 14 deg: in the forward ECL (12.4-31.4), outside the tracker (17-150)
    truth = _event(n, [14.0], [5.0], [11])
    on = reconstruct(truth, cfg=loads(ON), rng=np.random.default_rng(3))
    off = reconstruct(truth, cfg=loads(OFF), rng=np.random.default_rng(3))
    assert ak.all(ak.num(on["gam_E"]) == 1)
    assert ak.sum(ak.num(off["gam_E"])) == 0
    e = ak.flatten(on["gam_E"]).to_numpy()
    sigma = 5.0 * math.hypot(0.013 / math.sqrt(5.0), 0.013)
    assert np.mean(e) == pytest.approx(5.0, abs=4 * sigma / math.sqrt(n))
    assert np.std(e) == pytest.approx(sigma, rel=0.06)
    theta = ak.flatten(on["gam_theta"]).to_numpy()
    assert np.allclose(theta, math.radians(14.0), atol=1e-9)
    # the tracks are the two muons only, in both cases
    assert ak.all(ak.num(on["trk_px"]) == 2)
    assert ak.all(ak.num(off["trk_px"]) == 2)


@pytest.mark.parametrize(
    ("theta", "expected"),
    [
        (60.0, 0),
        (160.0, 0),
        (31.8, 0),
        (152.0, 1),
    ],  # tracked; outside the ECL; ECL gap; backward ECL
)
def test_only_untracked_particles_inside_the_ecl(theta: float, expected: int) -> None:
    truth = _event(200, [theta], [3.0], [-11])
    on = reconstruct(truth, cfg=loads(ON), rng=np.random.default_rng(5))
    assert ak.all(ak.num(on["gam_E"]) == expected)


def test_untracked_muon_leaves_a_mip_cluster() -> None:
    truth = _event(2000, [14.0], [3.0], [13])
    on = reconstruct(truth, cfg=loads(ON), rng=np.random.default_rng(8))
    e = ak.flatten(on["gam_E"]).to_numpy()
    # MIP: Moyal with most probable value 0.2 GeV and width 0.02 GeV, all above the threshold
    assert e.size == 2000
    assert np.median(e) == pytest.approx(0.2 + 0.02 * 0.7875, abs=0.005)


def test_stream_of_events_without_untracked_particles_is_unchanged() -> None:
    plain = _event(500, [60.0], [5.0], [11])  # tracked electron: nothing to add
    a = reconstruct(plain, cfg=loads(ON), rng=np.random.default_rng(1))
    b = reconstruct(plain, cfg=loads(OFF), rng=np.random.default_rng(1))
    assert sorted(a) == sorted(b)
    for name in a:
        assert ak.all(ak.Array(a[name]) == ak.Array(b[name])), name
