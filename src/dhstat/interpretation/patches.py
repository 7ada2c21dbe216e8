"""Pyhf patchsets that put a reinterpreted model's signal into the published window workspaces.

:func:`signal_patch` is the JSON patch (RFC 6902) for one window; :func:`patchsets` groups them,
one patchset per chosen window with one patch per model point, so that pyhf users can redo a
reinterpretation without dhstat (``pyhf patchset apply``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dhstat.interpretation.reinterpret import PointLimit

__all__ = ["patchsets", "signal_patch"]


def __dir__() -> list[str]:
    return __all__


def signal_patch(
    spec: Mapping[str, Any], signal: float, signal_error: float, *, mcstat: str = "mcstat_signal"
) -> list[dict[str, Any]]:
    """JSON-patch operations that put a new model's signal into a published window workspace.

    The signal sample's nominal becomes ``signal`` (= efficiency * L), each histosys on it is
    scaled with the nominal (relative systematics kept), ``mcstat`` is set to ``signal_error``, and
    the POI's upper bound is scaled by old / new nominal (same range in signal events). The
    operations follow RFC 6902, so ``jsonpatch`` or ``pyhf patchset apply`` can apply them.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=1, signal=2.0, backgrounds={"b": 1.0}, sigma_max=10.0)
        >>> ops = signal_patch(spec, 1.0, 0.1)
        >>> [op["path"] for op in ops]
        ['/channels/0/samples/0', '/measurements/0/config/parameters/0/bounds']
        >>> ops[0]["value"]["modifiers"][-1]["data"]
        {'hi_data': [1.1], 'lo_data': [0.9]}
    """
    samples = spec["channels"][0]["samples"]
    poi = spec["measurements"][0]["config"]["poi"]
    position = next(
        i
        for i, sample in enumerate(samples)
        if any(m["type"] == "normfactor" and m["name"] == poi for m in sample["modifiers"])
    )
    sample = samples[position]
    old = float(sample["data"][0])
    scale = signal / old if old > 0 else 0.0
    modifiers: list[dict[str, Any]] = []
    for modifier in sample["modifiers"]:
        if modifier["type"] == "histosys" and modifier["name"] != mcstat:
            hi = float(modifier["data"]["hi_data"][0]) - old
            lo = float(modifier["data"]["lo_data"][0]) - old
            data = {"hi_data": [signal + scale * hi], "lo_data": [signal + scale * lo]}
            modifiers.append({"name": modifier["name"], "type": "histosys", "data": data})
        elif modifier["name"] != mcstat:
            modifiers.append(dict(modifier))
    if signal_error > 0:
        data = {"hi_data": [signal + signal_error], "lo_data": [signal - signal_error]}
        modifiers.append({"name": mcstat, "type": "histosys", "data": data})
    ops: list[dict[str, Any]] = [
        {
            "op": "replace",
            "path": f"/channels/0/samples/{position}",
            "value": {"name": sample["name"], "data": [signal], "modifiers": modifiers},
        }
    ]
    parameters = spec["measurements"][0]["config"]["parameters"]
    for k, parameter in enumerate(parameters):
        if parameter["name"] == poi and "bounds" in parameter and old > 0 and signal > 0:
            low, high = parameter["bounds"][0]
            bounds = [[float(low), float(high) * old / signal]]
            path = f"/measurements/0/config/parameters/{k}/bounds"
            ops.append({"op": "replace", "path": path, "value": bounds})
    return ops


def _patch_name(text: str) -> str:
    """``text`` with every character other than letters, digits and ``_`` replaced by ``_``."""
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    return cleaned or "point"


def patchsets(
    specs: Mapping[int, Mapping[str, Any]],
    limits: Sequence[PointLimit],
    *,
    luminosity_fb: float,
    model: str,
) -> dict[int, dict[str, Any]]:
    """Pyhf patchsets, one per chosen window, with one patch per model point choosing it.

    Each patchset carries the SHA-256 digest of its window's published workspace (pyhf checks it
    before applying), labels = the model's parameter names (``point`` if it has none) and values =
    the point's parameters. Apply with ``pyhf patchset apply w<id>.json <patchset> --name <point>``.
    """
    import pyhf  # local import: start-up time

    names = [tuple(_patch_name(key) for key in r.point.parameters) for r in limits]
    shared = bool(names) and len(set(names)) == 1 and len(names[0]) > 0
    labels = list(names[0]) if shared else ["point"]
    out: dict[int, dict[str, Any]] = {}
    for number, result in enumerate(limits):
        window = result.window
        if window is None:
            continue
        spec = specs[window]
        k = result.chosen
        ops = signal_patch(
            spec,
            float(result.efficiency[k]) * luminosity_fb,
            float(result.efficiency_error[k]) * luminosity_fb,
        )
        values: list[float | int] = (
            [float(v) for v in result.point.parameters.values()] if shared else [number]
        )
        patch = {
            "metadata": {"name": _patch_name(result.point.name), "values": values},
            "patch": ops,
        }
        if window not in out:
            digest = pyhf.utils.digest(spec, algorithm="sha256")
            out[window] = {
                "metadata": {
                    "description": f"{model}: signal of a reinterpreted model in window {window}",
                    "digests": {"sha256": digest},
                    "labels": labels,
                    "references": {"hepdata": "ins0000000"},
                },
                "patches": [],
                "version": "1.0.0",
            }
        out[window]["patches"].append(patch)
    return out
