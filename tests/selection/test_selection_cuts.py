"""Selecting events in memory: cutflow and derived variables against a per-event reference."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from selection_reference import CFG, MMU, _beams, _columns, _lorentz, _m2, _one, _reference

from dhstat import config, selection
from dhstat.errors import InputError


def test_cutflow_matches_per_event_reference(random_sample: Any) -> None:
    events, _, result = random_sample
    table = CFG["selection"]
    for sample in selection.SAMPLES:
        first_fail = [_reference(e, table)[0][sample] for e in events]
        cuts = selection.CUTS[sample]
        expected = []
        for k in range(len(cuts)):
            failed_before = set(cuts[: k + 1])
            expected.append(sum(1 for f in first_fail if f is None or f not in failed_before))
        assert list(result.cutflow.raw[sample]) == expected, sample
        weights = [e["weight"] for e, f in zip(events, first_fail, strict=True) if f is None]
        assert result.cutflow.weighted[sample][-1] == pytest.approx(math.fsum(weights), rel=1e-12)
    # every cut removes something in this sample, so each one was tested
    for sample in selection.SAMPLES:
        raw = (len(events), *result.cutflow.raw[sample])
        assert all(a > b for a, b in itertools.pairwise(raw)), (sample, raw)


def test_derived_variables_match_reference(random_sample: Any) -> None:
    events, _, result = random_sample
    table = CFG["selection"]
    derived = [d for e in events for f, d in [_reference(e, table)] if f["search"] is None]
    assert len(derived) == len(result.search["mmumu2"]) > 20
    for name in (
        "mmumu2",
        "mrecoil2",
        "ceta",
        "p_recoil",
        "theta_recoil",
        "phi_recoil",
        "pt_cm",
        "egamma_total",
    ):
        got = result.search[name]
        want = np.array([d[name] for d in derived])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=name)


def test_signal_kinematics_closed_form() -> None:
    """A' -> mu mu and h' built in the c.m. frame: M_mumu^2 = M_A'^2, M_recoil^2 = M_h'^2."""
    rng = np.random.default_rng(3)
    ma, mh = 5.0, 2.0
    her, ler = _beams()
    beams = [x + y for x, y in zip(her, ler, strict=True)]
    beta = [-x / beams[0] for x in beams[1:]]  # c.m. -> lab
    roots = math.sqrt(_m2(beams))
    pstar = math.sqrt((roots**2 - (ma + mh) ** 2) * (roots**2 - (ma - mh) ** 2)) / (2 * roots)
    events = []
    pt_expected = []
    for _ in range(50):
        n = rng.normal(size=3)
        n /= np.linalg.norm(n)
        pt_expected.append(pstar * math.hypot(n[0], n[1]))
        a_cm = [math.sqrt(pstar**2 + ma**2), *(pstar * n)]
        m = rng.normal(size=3)
        m /= np.linalg.norm(m)
        q = math.sqrt(ma**2 / 4 - MMU**2)
        mus = [[ma / 2, *(s * q * m)] for s in (1, -1)]
        ba = [x / a_cm[0] for x in a_cm[1:]]
        lab = [_lorentz(_lorentz(mu, [-x for x in ba]), beta) for mu in mus]
        events.append(
            {
                "weight": 1.0,
                "trg_pass": True,
                "trk_px": [p[1] for p in lab],
                "trk_py": [p[2] for p in lab],
                "trk_pz": [p[3] for p in lab],
                "trk_charge": [-1, 1],
                "trk_dr": [0.0, 0.0],
                "trk_dz": [0.0, 0.0],
                "trk_muonID": [1.0, 1.0],
                "trk_electronID": [0.0, 0.0],
                "trk_clusterE": [0.2, 0.2],
                "gam_E": [],
                "gam_theta": [],
                "gam_phi": [],
            }
        )
    cfg = config.loads(
        "[selection]\ntrack_theta_min_deg = 0.0\ntrack_theta_max_deg = 180.0\ndelta_phi_min_deg = 0.0\n"
        "recoil_theta_min_deg = 0.0\nrecoil_theta_max_deg = 180.0\npt_cm_min = 0.0\n"
    )
    result = selection.select(_columns(events), cfg, process="signal")
    assert len(result.search["mmumu2"]) == 50
    np.testing.assert_allclose(result.search["mmumu2"], ma**2, rtol=1e-9)
    np.testing.assert_allclose(result.search["mrecoil2"], mh**2, rtol=1e-8)
    np.testing.assert_allclose(result.search["pt_cm"], pt_expected, rtol=1e-9)
    assert np.all((result.search["ceta"] >= 0) & (result.search["ceta"] <= 1))


def test_chunks_add_up(random_sample: Any) -> None:
    events, _, whole = random_sample
    total = selection.Cutflow.empty()
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(events), 700):
        r = selection.select(_columns(events[start : start + 700]), CFG, process="mumu")
        total = total + r.cutflow
        parts.append(dict(r.search))
    assert total.raw == whole.cutflow.raw
    assert total.n_input == whole.cutflow.n_input
    for name in selection.VARIABLES:
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole.search[name])
    for sample in selection.SAMPLES:
        np.testing.assert_allclose(
            total.weighted[sample], whole.cutflow.weighted[sample], rtol=1e-12
        )


def test_nonfinite_inputs_are_counted_and_never_selected() -> None:
    base = selection.select(_one(), CFG, process="mumu")
    assert base.cutflow.raw["search"][-1] == 1
    cases = {
        "muon_id": {"trk_muonID": [float("nan"), 0.99]},
        "impact_parameters": {"trk_dr": [0.01, float("inf")]},
        "track_theta": {"trk_pz": [float("nan"), 1.0]},
        "cluster_energy": {"trk_clusterE": [0.2, float("nan")]},
        "photon_energy": {"gam_E": [float("nan")], "gam_theta": [1.0], "gam_phi": [0.0]},
        "photon_recoil": {"gam_E": [0.2], "gam_theta": [float("nan")], "gam_phi": [0.0]},
    }
    for cut, override in cases.items():
        result = selection.select(_one(**override), CFG, process="mumu")
        index = selection.CUTS["search"].index(cut)
        assert result.cutflow.nonfinite["search"][index] == 1, cut
        assert result.cutflow.raw["search"][index] == 0, cut
        assert len(result.search["weight"]) == 0
    bad_weight = selection.select(_one(weight=float("nan")), CFG, process="mumu")
    assert bad_weight.cutflow.raw["search"][0] == 0
    assert bad_weight.cutflow.nonfinite["search"][0] == 1


def test_control_samples() -> None:
    emu = selection.select(
        _one(trk_muonID=[0.99, 0.1], trk_electronID=[0.01, 0.95], trk_clusterE=[0.2, 2.5]),
        CFG,
        process="tautau",
    )
    assert len(emu.control_emu["weight"]) == 1
    assert len(emu.search["weight"]) == 0
    # the electron has the electron mass: M^2 differs from the mu mu hypothesis
    mumu = selection.select(_one(), CFG, process="tautau")
    assert emu.control_emu["mmumu2"][0] != mumu.search["mmumu2"][0]
    no_emu = selection.select(
        _one(trk_muonID=[0.99, 0.1], trk_electronID=[0.01, 0.95]),
        config.loads("[selection.control]\nemu = false\n"),
        process="tautau",
    )
    assert len(no_emu.control_emu["weight"]) == 0
    # a 2 GeV barrel photon: out of the search sample, into mu mu gamma; 0.9 GeV is not enough
    gam = selection.select(_one(gam_E=[2.0], gam_theta=[1.2], gam_phi=[0.3]), CFG, process="mumu")
    assert (len(gam.search["weight"]), len(gam.control_mumugamma["weight"])) == (0, 1)
    soft = selection.select(_one(gam_E=[0.9], gam_theta=[1.2], gam_phi=[0.3]), CFG, process="mumu")
    assert len(soft.control_mumugamma["weight"]) == 0
    forward = selection.select(
        _one(gam_E=[2.0], gam_theta=[0.3], gam_phi=[0.3]), CFG, process="mumu"
    )
    assert len(forward.control_mumugamma["weight"]) == 0


def test_cuts_are_configurable(random_sample: Any) -> None:
    _, columns, result = random_sample
    loose = config.loads(
        "[selection]\npt_cm_min = 0.0\nphoton_energy_total_max = 100.0\nrequire_trigger = false\n"
    )
    more = selection.select(columns, loose, process="mumu")
    assert more.cutflow.raw["search"][0] == len(columns["weight"])
    assert more.cutflow.raw["search"][-1] > result.cutflow.raw["search"][-1]


def test_missing_branch_is_one_input_error() -> None:
    columns = _one()
    del columns["trk_muonID"], columns["gam_phi"]
    with pytest.raises(InputError, match=r"trk_muonID, gam_phi.*\[selection\] branches"):
        selection.select(columns, CFG, process="mumu")
