"""Synthetic pyhf workspaces for the generic-path tests and benchmarks (no dhstat code).

* :func:`lhc_like_spec`: the structure of a published LHC likelihood (4 channels: two signal
  regions and two control regions that fit free background normalisations; staterror per bin,
  shared normsys and histosys, lumi), about 65 parameters.
* :func:`scaling_spec`: N bins, each with a staterror, plus 3 shared systematics (a normsys on the
  background, a histosys on the background, a normsys on the signal).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["lhc_like_spec", "scaling_spec"]


def _histosys(
    name: str, nominal: np.ndarray, rng: np.random.Generator, size: float
) -> dict[str, Any]:
    up = nominal * (1 + size * rng.uniform(0.3, 1.0, nominal.size))
    down = nominal * (1 - size * rng.uniform(0.3, 1.0, nominal.size))
    return {
        "name": name,
        "type": "histosys",
        "data": {"hi_data": up.tolist(), "lo_data": down.tolist()},
    }


def _normsys(name: str, up: float, down: float) -> dict[str, Any]:
    return {"name": name, "type": "normsys", "data": {"hi": up, "lo": down}}


def lhc_like_spec(seed: int = 3) -> dict[str, Any]:
    """A 4-channel likelihood with free normfactors, ~65 parameters (data: a background fluctuation)."""
    rng = np.random.default_rng(seed)
    layout = {"SR_lowmass": 6, "SR_highmass": 6, "CR_WZ": 4, "CR_ttZ": 4}
    channels, observations = [], []
    shared_norm = [f"alpha_theory_{k}" for k in range(8)]
    shared_shape = [f"alpha_jes_{k}" for k in range(16)]
    for c, (name, bins) in enumerate(layout.items()):
        signal_region = name.startswith("SR")
        wz = rng.uniform(20, 60, bins) * (1.0 if name != "CR_ttZ" else 0.15)
        ttz = rng.uniform(10, 30, bins) * (1.0 if name != "CR_WZ" else 0.1)
        other = rng.uniform(2, 8, bins)
        samples = []
        if signal_region:
            sig = rng.uniform(1.0, 6.0, bins)
            samples.append(
                {
                    "name": "signal",
                    "data": sig.tolist(),
                    "modifiers": [
                        {"name": "mu_SIG", "type": "normfactor", "data": None},
                        {"name": "lumi", "type": "lumi", "data": None},
                        _normsys("alpha_sig_xsec", 1.06, 0.95),
                        _histosys(f"alpha_sig_shape_{c}", sig, rng, 0.05),
                    ],
                }
            )
        mods_wz = [
            {"name": "mu_WZ", "type": "normfactor", "data": None},
            {
                "name": f"staterror_{name}",
                "type": "staterror",
                "data": (0.04 * (wz + ttz + other)).tolist(),
            },
            _normsys(shared_norm[c], 1.08, 0.93),
            _normsys(shared_norm[4], 1.03, 0.96),
        ]
        mods_ttz = [
            {"name": "mu_ttZ", "type": "normfactor", "data": None},
            {
                "name": f"staterror_{name}",
                "type": "staterror",
                "data": (0.04 * (wz + ttz + other)).tolist(),
            },
            _normsys(shared_norm[(c + 1) % 4], 1.05, 0.94),
            _normsys(shared_norm[5], 1.04, 0.97),
        ]
        mods_other = [
            {"name": "lumi", "type": "lumi", "data": None},
            {
                "name": f"staterror_{name}",
                "type": "staterror",
                "data": (0.04 * (wz + ttz + other)).tolist(),
            },
            _normsys(shared_norm[6], 1.2, 0.8),
            _normsys(shared_norm[7], 1.1, 0.92),
        ]
        for k, jes in enumerate(shared_shape):
            if (k + c) % 2 == 0:
                mods_wz.append(_histosys(jes, wz, rng, 0.03))
            else:
                mods_ttz.append(_histosys(jes, ttz, rng, 0.03))
            if k % 3 == c % 3:
                mods_other.append(_histosys(jes, other, rng, 0.05))
        mods_other.append(_histosys(f"alpha_fakes_{c}", other, rng, 0.3))
        mods_other.append(_normsys(f"alpha_other_xsec_{c}", 1.15, 0.87))
        mods_wz.append(_histosys(f"alpha_wz_shape_{c}", wz, rng, 0.04))
        samples += [
            {"name": "WZ", "data": wz.tolist(), "modifiers": mods_wz},
            {"name": "ttZ", "data": ttz.tolist(), "modifiers": mods_ttz},
            {"name": "other", "data": other.tolist(), "modifiers": mods_other},
        ]
        channels.append({"name": name, "samples": samples})
        truth = 1.1 * wz + 0.9 * ttz + other
        observations.append({"name": name, "data": rng.poisson(truth).astype(float).tolist()})
    return {
        "channels": channels,
        "observations": observations,
        "measurements": [
            {
                "name": "meas",
                "config": {
                    "poi": "mu_SIG",
                    "parameters": [
                        {
                            "name": "lumi",
                            "auxdata": [1.0],
                            "sigmas": [0.017],
                            "bounds": [[0.9, 1.1]],
                            "inits": [1.0],
                        },
                        {"name": "mu_SIG", "bounds": [[0.0, 10.0]]},
                    ],
                },
            }
        ],
        "version": "1.0.0",
    }


def scaling_spec(bins: int, seed: int = 11) -> dict[str, Any]:
    """N bins, each with a staterror, plus 3 shared systematics; data: background + small signal."""
    rng = np.random.default_rng(seed)
    sig = rng.uniform(0.2, 1.5, bins)
    bkg = rng.uniform(5.0, 40.0, bins)
    stat = bkg * rng.uniform(0.03, 0.12, bins)
    up = bkg * (1 + 0.04 * np.linspace(-1, 1, bins))
    down = bkg * (1 - 0.03 * np.linspace(-1, 1, bins))
    observed = rng.poisson(bkg + 0.3 * sig).astype(float)
    return {
        "channels": [
            {
                "name": "scan",
                "samples": [
                    {
                        "name": "signal",
                        "data": sig.tolist(),
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            _normsys("sig_eff", 1.05, 0.95),
                        ],
                    },
                    {
                        "name": "background",
                        "data": bkg.tolist(),
                        "modifiers": [
                            {"name": "stat", "type": "staterror", "data": stat.tolist()},
                            _normsys("bkg_norm", 1.1, 0.92),
                            {
                                "name": "bkg_shape",
                                "type": "histosys",
                                "data": {"hi_data": up.tolist(), "lo_data": down.tolist()},
                            },
                        ],
                    },
                ],
            }
        ],
        "observations": [{"name": "scan", "data": observed.tolist()}],
        "measurements": [
            {
                "name": "meas",
                "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [[0.0, 20.0]]}]},
            }
        ],
        "version": "1.0.0",
    }
