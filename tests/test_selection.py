from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from click.testing import CliRunner

from dhstat import config, jsonio, ntuples, parallel, schemas, selection
from dhstat.errors import InputError

CFG = config.load()
MMU = 0.1056584
ME = 0.51099895e-3


# ------------------------------------------------------------------------------------------
# an independent, per-event reference of the selection (plain Python, own kinematics)


def _beams() -> tuple[list[float], list[float]]:
    a = 0.0415
    e1, e2 = 7.004, 4.002
    p1, p2 = math.sqrt(e1**2 - ME**2), math.sqrt(e2**2 - ME**2)
    return [e1, p1 * math.sin(a), 0.0, p1 * math.cos(a)], [
        e2,
        p2 * math.sin(a),
        0.0,
        -p2 * math.cos(a),
    ]


def _lorentz(p: list[float], b: list[float]) -> list[float]:
    """Boost p into the rest frame of a system moving with velocity b (textbook matrix)."""
    b2 = sum(x * x for x in b)
    if b2 == 0:
        return list(p)
    g = 1 / math.sqrt(1 - b2)
    bp = sum(bi * pi for bi, pi in zip(b, p[1:], strict=True))
    e = g * (p[0] - bp)
    vec = [pi + ((g - 1) * bp / b2 - g * p[0]) * bi for pi, bi in zip(p[1:], b, strict=True)]
    return [e, *vec]


def _m2(p: list[float]) -> float:
    return p[0] ** 2 - p[1] ** 2 - p[2] ** 2 - p[3] ** 2


def _theta(p: list[float]) -> float:
    return math.atan2(math.hypot(p[1], p[2]), p[3])


def _reference(
    ev: dict[str, Any], s: dict[str, Any]
) -> tuple[dict[str, str | None], dict[str, float]]:
    """Per sample: the first cut the event fails (None: selected); and the derived variables."""
    her, ler = _beams()
    beams = [x + y for x, y in zip(her, ler, strict=True)]
    beta = [x / beams[0] for x in beams[1:]]
    out: dict[str, str | None] = {}
    derived: dict[str, float] = {}
    good = [
        i
        for i in range(len(ev["trk_px"]))
        if abs(ev["trk_dr"][i]) < s["dr_max_cm"] and abs(ev["trk_dz"][i]) < s["dz_max_cm"]
    ]
    c = s["control"]
    for sample in selection.SAMPLES:

        def fail(sample: str = sample) -> str | None:
            if not ev["trg_pass"]:
                return "trigger"
            if len(good) < 2:
                return "impact_parameters"
            if len(good) != 2 or ev["trk_charge"][good[0]] * ev["trk_charge"][good[1]] >= 0:
                return "two_tracks"
            i, j = good
            mu = [ev["trk_muonID"][k] > s["muon_id_min"] for k in (i, j)]
            el = [
                ev["trk_electronID"][k] > s["electron_id_min"] and not mu[n]
                for n, k in enumerate((i, j))
            ]
            masses = [MMU, MMU]
            muon_tracks = [i, j]
            if sample == "control_emu":
                if not ((mu[0] and el[1]) or (mu[1] and el[0])):
                    return "emu_id"
                e_pos = 1 if el[1] else 0
                masses[e_pos] = ME
                muon_tracks = [(i, j)[1 - e_pos]]
            elif not all(mu):
                return "muon_id"
            p = [
                [
                    math.sqrt(
                        ev["trk_px"][k] ** 2 + ev["trk_py"][k] ** 2 + ev["trk_pz"][k] ** 2 + m * m
                    ),
                    ev["trk_px"][k],
                    ev["trk_py"][k],
                    ev["trk_pz"][k],
                ]
                for k, m in zip((i, j), masses, strict=True)
            ]
            lo, hi = math.radians(s["track_theta_min_deg"]), math.radians(s["track_theta_max_deg"])
            if not all(lo <= _theta(q) <= hi for q in p):
                return "track_theta"
            dphi = abs(math.atan2(p[0][2], p[0][1]) - math.atan2(p[1][2], p[1][1]))
            dphi = min(dphi, 2 * math.pi - dphi)
            if not dphi > math.radians(s["delta_phi_min_deg"]):
                return "delta_phi"
            if not all(ev["trk_clusterE"][k] < s["muon_cluster_energy_max"] for k in muon_tracks):
                return "cluster_energy"
            rec = [b - x - y for b, x, y in zip(beams, p[0], p[1], strict=True)]
            if (
                not math.radians(s["recoil_theta_min_deg"])
                <= _theta(rec)
                <= math.radians(s["recoil_theta_max_deg"])
            ):
                return "recoil_theta"
            photons = [
                (e, t, f)
                for e, t, f in zip(ev["gam_E"], ev["gam_theta"], ev["gam_phi"], strict=True)
                if e > s["photon_energy_min"]
            ]
            prec = math.sqrt(sum(x * x for x in rec[1:]))
            if sample == "control_mumugamma":
                if not any(
                    e > c["mumugamma_photon_energy_min"]
                    and math.radians(c["mumugamma_photon_theta_min_deg"])
                    <= t
                    <= math.radians(c["mumugamma_photon_theta_max_deg"])
                    for e, t, _ in photons
                ):
                    return "photon_control"
            else:
                if not sum(e for e, _, _ in photons) < s["photon_energy_total_max"]:
                    return "photon_energy"
                for _, t, f in photons:
                    u = [math.sin(t) * math.cos(f), math.sin(t) * math.sin(f), math.cos(t)]
                    cosang = sum(a * b for a, b in zip(u, rec[1:], strict=True)) / prec
                    if (
                        math.degrees(math.acos(max(-1.0, min(1.0, cosang))))
                        < s["photon_recoil_angle_min_deg"]
                    ):
                        return "photon_recoil"
            tot = [x + y for x, y in zip(p[0], p[1], strict=True)]
            cm = _lorentz(tot, beta)
            if not math.hypot(cm[1], cm[2]) > s["pt_cm_min"]:
                return "pt_cm"
            if sample == "search":
                # helicity angle: boost to c.m., then to the dimuon rest frame
                minus = p[0] if ev["trk_charge"][i] < 0 else p[1]
                mcm = _lorentz(minus, beta)
                bq = [x / cm[0] for x in cm[1:]]
                mrest = _lorentz(mcm, bq)
                direction = [-x for x in bq]  # c.m. system seen from the dimuon rest frame
                cos_eta = sum(a * b for a, b in zip(mrest[1:], direction, strict=True)) / (
                    math.sqrt(sum(x * x for x in mrest[1:]))
                    * math.sqrt(sum(x * x for x in direction))
                )
                derived.update(
                    mmumu2=_m2(tot),
                    mrecoil2=_m2(rec),
                    ceta=abs(cos_eta),
                    p_recoil=prec,
                    theta_recoil=_theta(rec),
                    phi_recoil=math.atan2(rec[2], rec[1]),
                    pt_cm=math.hypot(cm[1], cm[2]),
                    egamma_total=sum(e for e, _, _ in photons),
                )
            return None

        out[sample] = fail()
    return out, derived


def _random_events(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    """Events built to pass each cut about half of the time, so every cut is exercised."""
    events = []
    for _ in range(n):
        ntrk = int(rng.choice([1, 2, 2, 2, 2, 2, 3]))
        theta = rng.uniform(np.radians(30), np.radians(128), ntrk)
        phi0 = rng.uniform(-np.pi, np.pi)
        phi = phi0 + np.concatenate([[0.0], rng.uniform(np.pi / 3, np.pi, ntrk - 1)])
        pt = rng.uniform(0.3, 4.5, ntrk)
        if ntrk == 2 and rng.random() < 0.3:  # recoil nearly at rest in the lab: tests pt_cm
            her, ler = _beams()
            total = np.array(her[1:]) + np.array(ler[1:]) + rng.uniform(-0.12, 0.12, 3)
            mass = rng.uniform(2.0, 8.0)
            energy = math.sqrt(mass**2 + float(total @ total))
            n = rng.normal(size=3)
            n *= math.sqrt(mass**2 / 4 - MMU**2) / np.linalg.norm(n)
            to_lab = [-x / energy for x in total]
            lab = [_lorentz([mass / 2, *v], to_lab) for v in (n, -n)]
            pt = np.array([math.hypot(q[1], q[2]) for q in lab])
            phi = np.array([math.atan2(q[2], q[1]) for q in lab])
            theta = np.array([_theta(q) for q in lab])
        ngam = int(rng.choice([0, 0, 0, 1, 2]))
        gam = [
            rng.exponential(0.5, ngam),
            rng.uniform(0.3, 2.6, ngam),
            rng.uniform(-np.pi, np.pi, ngam),
        ]
        if ntrk == 2 and rng.random() < 0.3:  # a soft photon near the recoil: tests photon_recoil
            her, ler = _beams()
            rec = np.array([x + y for x, y in zip(her[1:], ler[1:], strict=True)])
            rec -= np.array([pt * np.cos(phi), pt * np.sin(phi), pt / np.tan(theta)]).sum(axis=1)
            t_rec = math.atan2(math.hypot(rec[0], rec[1]), rec[2]) + rng.uniform(-0.2, 0.2)
            f_rec = math.atan2(rec[1], rec[0]) + rng.uniform(-0.2, 0.2)
            gam = [np.array([0.2]), np.array([t_rec]), np.array([f_rec])]
        events.append(
            {
                "weight": float(rng.uniform(0.5, 2.0)),
                "trg_pass": bool(rng.random() < 0.95),
                "trk_px": (pt * np.cos(phi)).tolist(),
                "trk_py": (pt * np.sin(phi)).tolist(),
                "trk_pz": (pt / np.tan(theta)).tolist(),
                "trk_charge": rng.choice([-1, 1], ntrk).tolist()
                if rng.random() < 0.2
                else [(-1) ** k for k in range(ntrk)],
                "trk_dr": rng.exponential(0.08, ntrk).tolist(),
                "trk_dz": rng.normal(0, 0.5, ntrk).tolist(),
                "trk_muonID": np.where(rng.random(ntrk) < 0.85, 0.95, 0.1).tolist(),
                "trk_electronID": np.where(rng.random(ntrk) < 0.3, 0.9, 0.05).tolist(),
                "trk_clusterE": rng.exponential(0.4, ntrk).tolist(),
                "gam_E": gam[0].tolist(),
                "gam_theta": gam[1].tolist(),
                "gam_phi": gam[2].tolist(),
            }
        )
    return events


def _columns(events: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "weight": np.array([e["weight"] for e in events]),
        "trg_pass": np.array([e["trg_pass"] for e in events]),
    }
    for name in selection.BRANCHES:
        if name.startswith(("trk_", "gam_")):
            kind = np.int32 if name == "trk_charge" else np.float64
            out[name] = ak.values_astype(ak.Array([e[name] for e in events]), kind)
    return out


@pytest.fixture(scope="module")
def random_sample() -> tuple[list[dict[str, Any]], dict[str, Any], selection.Selection]:
    rng = np.random.default_rng(7)
    events = _random_events(rng, 3000)
    columns = _columns(events)
    return events, columns, selection.select(columns, CFG, process="mumu")


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


def _one(**override: Any) -> dict[str, Any]:
    event = selection.example_events()
    columns = {k: v[:1] for k, v in event.items()}
    for key, value in override.items():
        columns[key] = ak.Array([value]) if isinstance(value, list) else np.array([value])
    return columns


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


# ------------------------------------------------------------------------------------------
# files


def _write(
    path: Path, events: dict[str, Any], process: str, rename: dict[str, str] | None = None
) -> Path:
    branches = dict(events)
    for canonical, name in (rename or {}).items():
        branches[name] = branches.pop(canonical)
    ntuples.write_trees(path, {"events": branches}, selection.example_metadata(process))
    return path


def test_select_files_chunked_and_independent_of_workers(
    tmp_path: Path, random_sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    data = _write(tmp_path / "data.root", _columns(events[:500]), "data")
    cfg = config.loads("[run]\nchunk_size = 1000\n")  # 3 chunks
    sizes: list[int] = []
    original = selection.select

    def spy(ev: Any, c: Any, *, process: str) -> selection.Selection:
        sizes.append(len(ev["weight"]))
        return original(ev, c, process=process)

    monkeypatch.setattr(selection, "select", spy)
    with parallel.executor(workers=1) as ex:
        one = selection.select_files([str(tmp_path / "*.root")], cfg, executor=ex)
    monkeypatch.undo()
    assert max(sizes) <= 1000
    assert sum(sizes) == 3500
    assert one.cutflows["mumu"].raw == whole.cutflow.raw
    for s in selection.SAMPLES:  # chunk sums: equal up to rounding
        np.testing.assert_allclose(
            one.cutflows["mumu"].weighted[s], whole.cutflow.weighted[s], rtol=1e-12
        )
    with parallel.executor(workers=2) as ex:
        two = selection.select_files([str(data), str(path)], cfg, executor=ex)
    for s in selection.SAMPLES:
        for name in (*selection.VARIABLES, "process"):
            np.testing.assert_array_equal(one.samples[s][name], two.samples[s][name])
    assert one.cutflows == two.cutflows
    # data first (sorted file names), then mumu; process indexes PROCESSES
    proc = one.samples["search"]["process"]
    assert list(np.unique(proc)) == [
        selection.PROCESSES.index("data"),
        selection.PROCESSES.index("mumu"),
    ]
    assert np.all(np.diff(proc) >= 0)


def test_write_and_read_selected_round_trip(tmp_path: Path, random_sample: Any) -> None:
    _, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    with parallel.executor(workers=1) as ex:
        out = selection.select_files([path], CFG, executor=ex)
    selection.write_selected(tmp_path / "a.root", out)
    selection.write_selected(tmp_path / "b.root", out)
    both = selection.read_selected([tmp_path / "a.root", tmp_path / "b.root"], tree="control_emu")
    n = len(whole.control_emu["weight"])
    assert len(both["weight"]) == 2 * n
    np.testing.assert_array_equal(both["mrecoil2"][:n], whole.control_emu["mrecoil2"])
    assert set(both["process"].tolist()) == {selection.PROCESSES.index("mumu")}
    with pytest.raises(InputError, match="tree"):
        selection.read_selected([tmp_path / "a.root"], tree="events")


def test_branch_mapping_and_missing_branch_message(tmp_path: Path) -> None:
    rename = {"trk_muonID": "trk_mid", "weight": "w"}
    path = _write(tmp_path / "real.root", selection.example_events(), "data", rename)
    with parallel.executor(workers=2) as ex:  # the error travels back from a worker
        with pytest.raises(InputError) as info:
            selection.select_files([path], CFG, executor=ex)
        message = str(info.value)
        assert "real.root" in message
        assert "trk_muonID" in message
        assert "weight" in message
        assert "mapping" in message
        cfg = config.loads('[selection.branches]\ntrk_muonID = "trk_mid"\nweight = "w"\n')
        out = selection.select_files([path], cfg, executor=ex)
    assert out.cutflows["data"].raw["search"][-1] == 1


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "good.root", selection.example_events(), "mumu")
    bad = tmp_path / "cut.root"
    bad.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with parallel.executor(workers=1) as ex, pytest.raises(InputError, match=r"cut\.root"):
        selection.select_files([path, bad], CFG, executor=ex)


def test_documents_validate_and_macroregion_ratio(tmp_path: Path) -> None:
    ev = selection.example_events()
    data = _write(tmp_path / "data.root", ev, "data")
    ev_mc = dict(ev)
    ev_mc["weight"] = np.array([0.5, 0.5, 0.5])
    mc = _write(tmp_path / "mumu.root", ev_mc, "mumu")
    cfg = config.loads(
        '[selection.macroregions]\nsystematics_source = "measured"\nmeasured_min_events = 1\n'
    )
    with parallel.executor(workers=1) as ex:
        out = selection.select_files([data, mc], cfg, executor=ex)
    flow = selection.cutflow_document(out)
    schemas.validate(flow, "cutflow")
    macro = selection.macroregions_document(out, cfg)
    schemas.validate(macro, "macroregions")
    # the selected event has M_mumu = 4.68, M_recoil = 4.90 GeV: the first region containing it
    mm = math.sqrt(out.samples["search"]["mmumu2"][0])
    mr = math.sqrt(out.samples["search"]["mrecoil2"][0])
    regions = CFG["selection"]["macroregions"]["regions"]
    first = next(
        r
        for r in regions
        if r["mmumu"][0] <= mm < r["mmumu"][1] and r["mrecoil"][0] <= mr < r["mrecoil"][1]
    )
    entry = next(r for r in macro["regions"] if r["name"] == first["name"])
    search = entry["samples"]["search"]
    assert search["data"] == 1
    assert search["mc_total"] == pytest.approx(0.5)
    assert search["ratio"] == pytest.approx(2.0)
    assert search["ratio_error"] == pytest.approx(2.0 * math.sqrt(1 + 1))
    assert entry["measured_uncertainty"] == pytest.approx(1.0)
    assert entry["relative_uncertainty"] == pytest.approx(1.0)
    assert sum(r["samples"]["search"]["data"] for r in macro["regions"]) == 1
    paper = selection.macroregions_document(out, CFG)
    assert {r["relative_uncertainty"] for r in paper["regions"]} == {0.02, 0.13}
    # "measured" without enough data events falls back to the paper's values
    few = config.loads('[selection.macroregions]\nsystematics_source = "measured"\n')
    fallback = selection.macroregions_document(out, few)
    assert all(r["uncertainty_source"] == "paper" for r in fallback["regions"])
    assert all(r["measured_uncertainty"] is None for r in fallback["regions"])


def test_cli_writes_outputs_and_nothing_on_failure(tmp_path: Path) -> None:
    from dhstat.cli import cli

    path = _write(tmp_path / "mumu.root", selection.example_events(), "mumu")
    runner = CliRunner()
    args = [
        "select",
        str(path),
        "--output",
        str(tmp_path / "sel.root"),
        "--cutflow",
        str(tmp_path / "cf.json"),
        "--macroregions",
        str(tmp_path / "mr.json"),
        "--workers",
        "1",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "photon_recoil" in result.output
    assert "mumu" in result.output
    doc = jsonio.read_json(tmp_path / "cf.json", schema="cutflow")
    assert doc["processes"]["mumu"]["samples"]["search"][-1]["raw"] == 1
    jsonio.read_json(tmp_path / "mr.json", schema="macroregions")
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"not root")
    result = runner.invoke(
        cli,
        [
            "select",
            str(bad),
            "--output",
            str(tmp_path / "x.root"),
            "--cutflow",
            str(tmp_path / "x.json"),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    assert "bad.root" in str(result.exception)
    assert not (tmp_path / "x.root").exists()
    assert not (tmp_path / "x.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_select_files_on_a_dask_cluster(tmp_path: Path, random_sample: Any) -> None:
    import distributed

    _, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        parallel.executor(scheduler=cluster.scheduler_address) as ex,
    ):
        out = selection.select_files([path], CFG, executor=ex)
    assert out.cutflows["mumu"].raw == whole.cutflow.raw
    np.testing.assert_array_equal(out.samples["search"]["mmumu2"], whole.search["mmumu2"])


def test_large_files_split_into_chunk_tasks_when_ntuples_reads_ranges(
    tmp_path: Path, random_sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With entry-range reading, a file becomes several tasks; the merged result is the same."""
    _, columns, whole = random_sample
    path = _write(tmp_path / "mumu.root", columns, "mumu")
    calls: list[tuple[int, int]] = []

    def iterate(
        files: Any,
        tree: str,
        branches: Any,
        *,
        step_size: int,
        mapping: Any = None,
        entry_start: int = 0,
        entry_stop: int | None = None,
    ) -> Any:
        arrays = ntuples.read_tree(files[0], tree, list(branches), mapping=mapping)
        stop = len(arrays["weight"]) if entry_stop is None else entry_stop
        calls.append((entry_start, stop))
        for index, start in enumerate(range(entry_start, stop, step_size)):
            end = min(start + step_size, stop)
            yield Path(files[0]), index, {k: v[start:end] for k, v in arrays.items()}

    monkeypatch.setattr(ntuples, "iterate", iterate)
    monkeypatch.setattr(ntuples, "num_entries", lambda p, t: 3000, raising=False)
    cfg = config.loads("[run]\nchunk_size = 1000\n")
    with parallel.executor(workers=1) as ex:
        out = selection.select_files([path], cfg, executor=ex)
    assert calls == [(0, 2000), (2000, 3000)]
    assert out.cutflows["mumu"].raw == whole.cutflow.raw
    for s in selection.SAMPLES:
        np.testing.assert_array_equal(out.samples[s]["mrecoil2"], whole.sample(s)["mrecoil2"])
