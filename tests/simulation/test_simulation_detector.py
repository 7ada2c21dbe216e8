"""Detector response against the configured numbers (analysis.md section 6)."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from dhstat.config import load, loads
from dhstat.physics import kinematics as kin
from dhstat.simulation.detector import reconstruct, reconstruct_padded
from dhstat.simulation.truth import TruthEvents

MU = 0.1056584


def _single(
    theta_deg: float | np.ndarray, p: float | np.ndarray, pdg: int, n: int, phi: float = 0.3
) -> TruthEvents:
    theta = np.radians(np.broadcast_to(theta_deg, (n,)))
    mom = np.broadcast_to(p, (n,))
    mass = {13: MU, -13: MU, 11: 0.000511, -11: 0.000511, 22: 0.0}[pdg]
    vec = kin.four_vector(
        mom * np.sin(theta) * math.cos(phi),
        mom * np.sin(theta) * math.sin(phi),
        mom * np.cos(theta),
        mass,
    )
    return TruthEvents(p=vec[:, None, :], pdg=np.full((n, 1), pdg, np.int32))


@pytest.fixture(scope="module")
def quiet():  # type: ignore[no-untyped-def]
    return loads("[detector.beam_background]\nphotons_per_event = 1e-9\n")


def test_tracking_acceptance_and_resolution(quiet) -> None:  # type: ignore[no-untyped-def]
    n = 20000
    theta = np.random.default_rng(1).uniform(5, 175, n)
    reco = reconstruct_padded(_single(theta, 2.0, 13, n), cfg=quiet, rng=np.random.default_rng(2))
    inside = (theta >= 17) & (theta <= 150)
    assert not reco.track[~inside, 0].any()
    assert reco.track[inside, 0].mean() == pytest.approx(0.99, abs=0.005)
    # pT resolution: a pT (+) b / beta at pT = 3 GeV, theta = 90 deg
    pt = 3.0
    reco = reconstruct_padded(_single(90.0, pt, 13, n), cfg=quiet, rng=np.random.default_rng(3))
    pt_m = np.hypot(reco.trk["px"][:, 0], reco.trk["py"][:, 0])
    beta = pt / math.hypot(pt, MU)
    scale = quiet["detector"]["tracking"]["momentum_resolution_scale"]
    expected = scale * math.hypot(0.0011 * pt, 0.0030 / beta)
    assert np.std(pt_m / pt - 1) == pytest.approx(expected, rel=0.03)
    assert np.std(reco.trk["theta"][:, 0] - math.pi / 2) == pytest.approx(1e-3, rel=0.03)
    # the calibration scale multiplies both terms
    doubled = loads(
        "[detector.beam_background]\nphotons_per_event = 1e-9\n"
        f"[detector.tracking]\nmomentum_resolution_scale = {2 * scale}\n"
    )
    reco = reconstruct_padded(_single(90.0, pt, 13, n), cfg=doubled, rng=np.random.default_rng(3))
    pt_m = np.hypot(reco.trk["px"][:, 0], reco.trk["py"][:, 0])
    assert np.std(pt_m / pt - 1) == pytest.approx(2 * expected, rel=0.03)


def test_muon_id_efficiency(quiet) -> None:  # type: ignore[no-untyped-def]
    n = 20000
    for p, expected in [(3.0, 0.90), (0.6, 0.0), (0.85, 0.45)]:
        events = reconstruct(_single(100.0, p, 13, n), cfg=quiet, rng=np.random.default_rng(4))
        ident = ak.flatten(events["trk_muonID"]).to_numpy() > 0.5
        assert ident.mean() == pytest.approx(expected * 0.99 / 0.99, abs=0.015)
    # barrel KLM needs pT > 0.6: p = 0.9 GeV at 60 deg has pT = 0.78 (passes), at 90 deg in
    # the barrel with p = 0.75: ramp (0.75 - 0.7)/0.3 x 0.9 = 0.15 and pT = 0.75 > 0.6
    events = reconstruct(_single(90.0, 0.75, 13, n), cfg=quiet, rng=np.random.default_rng(5))
    assert (ak.flatten(events["trk_muonID"]) > 0.5).to_numpy().mean() == pytest.approx(
        0.15, abs=0.01
    )
    # electrons fake muons at the configured rate
    events = reconstruct(_single(90.0, 3.0, 11, n), cfg=quiet, rng=np.random.default_rng(6))
    assert (ak.flatten(events["trk_muonID"]) > 0.5).to_numpy().mean() == pytest.approx(
        0.003, abs=0.0015
    )
    assert (ak.flatten(events["trk_electronID"]) > 0.5).to_numpy().mean() == pytest.approx(
        0.95, abs=0.005
    )


def test_muon_cluster_and_charge(quiet) -> None:  # type: ignore[no-untyped-def]
    events = reconstruct(_single(90.0, 3.0, 13, 5000), cfg=quiet, rng=np.random.default_rng(7))
    e = ak.flatten(events["trk_clusterE"]).to_numpy()
    assert np.median(e) == pytest.approx(0.2 + 0.02 * 0.7832, abs=0.005)  # Moyal median
    assert np.all(ak.flatten(events["trk_charge"]).to_numpy() == -1)  # 13 = mu-
    gap = reconstruct(_single(129.5, 3.0, 13, 100), cfg=quiet, rng=np.random.default_rng(8))
    assert np.all(ak.flatten(gap["trk_clusterE"]).to_numpy() == 0.0)


def test_electron_id_and_cluster(quiet) -> None:  # type: ignore[no-untyped-def]
    n = 20000
    for p, expected in [(2.0, 0.95), (0.4, 0.0)]:  # electron ID above p_min = 0.5 GeV/c
        events = reconstruct(_single(70.0, p, -11, n), cfg=quiet, rng=np.random.default_rng(14))
        ident = ak.flatten(events["trk_electronID"]).to_numpy() > 0.5
        assert ident.mean() == pytest.approx(expected, abs=0.006)
        assert np.all(ak.flatten(events["trk_charge"]).to_numpy() == 1)  # -11 = e+
    e = ak.flatten(events["trk_clusterE"]).to_numpy()  # ECL cluster ~ E for electrons
    assert np.mean(e) == pytest.approx(0.4, rel=0.01)
    assert np.std(e) == pytest.approx(math.hypot(0.013 / math.sqrt(0.4), 0.013) * 0.4, rel=0.05)
    gap = reconstruct(_single(129.5, 2.0, 11, 100), cfg=quiet, rng=np.random.default_rng(15))
    assert np.all(ak.flatten(gap["trk_electronID"]).to_numpy() < 0.5)  # no ECL, no electron ID
    muons = reconstruct(_single(70.0, 2.0, 13, n), cfg=quiet, rng=np.random.default_rng(16))
    fake = (ak.flatten(muons["trk_electronID"]) > 0.5).to_numpy().mean()
    assert fake == pytest.approx(0.005, abs=0.0015)  # muons fake electrons at the set rate


def test_photons(quiet) -> None:  # type: ignore[no-untyped-def]
    n = 20000
    events = reconstruct(_single(90.0, 1.0, 22, n), cfg=quiet, rng=np.random.default_rng(9))
    assert (ak.num(events["gam_E"]) == 1).to_numpy().mean() == pytest.approx(0.98, abs=0.005)
    e = ak.flatten(events["gam_E"]).to_numpy()
    assert np.std(e) == pytest.approx(math.hypot(0.013, 0.013), rel=0.05)
    for theta in (31.8, 10.0, 160.0):  # gap and outside the ECL
        lost = reconstruct(_single(theta, 1.0, 22, 200), cfg=quiet, rng=np.random.default_rng(10))
        assert ak.sum(ak.num(lost["gam_E"])) == 0
    soft = reconstruct(_single(90.0, 0.05, 22, 2000), cfg=quiet, rng=np.random.default_rng(11))
    assert ak.sum(ak.num(soft["gam_E"])) == 0  # below the 0.1 GeV threshold


def test_beam_background_photons() -> None:
    cfg = load()
    n = 40000
    events = reconstruct(_single(90.0, 0.01, 22, n), cfg=cfg, rng=np.random.default_rng(12))
    bkg = cfg["detector"]["beam_background"]
    scale, e_max = bkg["energy_scale"], bkg["energy_max"]
    # fraction above threshold (exponential truncated at e_max), ignoring the small smearing
    above = (math.exp(-0.1 / scale) - math.exp(-e_max / scale)) / (1 - math.exp(-e_max / scale))
    ecl = cfg["detector"]["ecl"]
    lo, hi = math.radians(ecl["forward"][0]), math.radians(ecl["backward"][1])

    def solid(a: float, b: float) -> float:
        return math.cos(math.radians(a)) - math.cos(math.radians(b))

    acceptance = sum(solid(*ecl[r]) for r in ("forward", "barrel", "backward")) / (
        math.cos(lo) - math.cos(hi)
    )
    expected = bkg["photons_per_event"] * above * acceptance
    assert float(ak.mean(ak.num(events["gam_E"]))) == pytest.approx(expected, rel=0.1)


def test_trigger_and_impact_parameters(quiet) -> None:  # type: ignore[no-untyped-def]
    n = 20000
    mu1 = _single(80.0, 3.0, 13, n, phi=0.0)
    for phi, expected in [(math.pi, 0.89), (1.0, 0.0)]:
        mu2 = _single(100.0, 3.0, -13, n, phi=phi)
        both = TruthEvents(np.concatenate([mu1.p, mu2.p], 1), np.concatenate([mu1.pdg, mu2.pdg], 1))
        events = reconstruct(both, cfg=quiet, rng=np.random.default_rng(13))
        fired = events["trg_pass"].mean()
        assert fired == pytest.approx(expected * 0.99**2, abs=0.01)
    dr = ak.flatten(events["trk_dr"]).to_numpy()
    assert np.mean(np.abs(dr) > 0.5) == pytest.approx(
        0.01 * math.erfc(0.5 / math.sqrt(2)), abs=0.002
    )
