"""Helpers of the selection tests: an independent per-event reference and event builders.

Loaded by tests/selection/conftest.py and the test modules (pytest runs with
--import-mode=importlib, so they load this file by path).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from dhstat import config, ntuples, selection

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


def _one(**override: Any) -> dict[str, Any]:
    event = selection.example_events()
    columns = {k: v[:1] for k, v in event.items()}
    for key, value in override.items():
        columns[key] = ak.Array([value]) if isinstance(value, list) else np.array([value])
    return columns


def _write(
    path: Path, events: dict[str, Any], process: str, rename: dict[str, str] | None = None
) -> Path:
    branches = dict(events)
    for canonical, name in (rename or {}).items():
        branches[name] = branches.pop(canonical)
    ntuples.write_trees(path, {"events": branches}, selection.example_metadata(process))
    return path
