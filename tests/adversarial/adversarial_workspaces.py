"""Generated pyhf workspaces: valid one- and multi-bin specs, and each broken in one way.

Three families, written here by hand (not with dhstat's builders):

- ``simple``: one bin, a signal sample (normfactor ``sigma``) and a background, no nuisance
  parameters: p, B10 and the limits have closed forms (:mod:`adversarial_oracles`);
- ``smeared``: one bin with normsys, histosys and staterror nuisances;
- ``multibin``: one or two channels of two or three bins, with normsys, histosys, staterror,
  shapesys and lumi modifiers.

Each input runs through two of ``dhstat limit`` / ``dhstat significance`` with and without
``--json`` (the log prior with ``--sigma-min`` for some limits, the asymptotic method for some
significances).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adversarial_harness import Case, Expect
from adversarial_oracles import (
    check_limit_json,
    check_limit_text,
    check_significance_json,
    check_significance_text,
)
from hypothesis import strategies as st

CATEGORY = "workspace"
FILE = "ws.json"

#: Mutation kinds and what the input deserves.
KINDS: dict[str, Expect] = {
    "none": "succeed",
    "closed form": "succeed",
    "negative background yield": "either",
    "negative signal yield": "either",
    "zero background": "either",
    "nan yield": "fail",
    "inf yield": "fail",
    "string yield": "fail",
    "nan observation": "fail",
    "negative observation": "fail",
    "fractional observation": "either",
    "huge observation": "either",
    "huge yields": "either",
    "missing poi": "fail",
    "unknown poi": "fail",
    "poi not a normfactor": "fail",
    "bounds [0, 0]": "fail",
    "bounds [100, 0]": "fail",
    "bounds with nan": "fail",
    "bounds [-10, 100]": "either",
    "bounds [5, 100]": "either",
    "bounds [0, 1e300]": "either",
    "no bounds": "either",
    "observation too long": "fail",
    "observation too short": "fail",
    "missing observation": "fail",
    "modifier data wrong length": "fail",
    "nan in normsys": "fail",
    "negative staterror": "either",
    "non-utf8": "fail",
    "truncated json": "fail",
    "not an object": "fail",
    "empty file": "fail",
    "deep nesting": "fail",
    "no measurements": "fail",
    "unknown top-level key": "either",
}


@dataclass(frozen=True)
class WorkspaceInput:
    """One generated workspace file and the commands to run on it."""

    kind: str
    family: str
    text: bytes
    expect: Expect
    commands: tuple[str, ...]
    reference: Mapping[str, Any] = field(default_factory=dict)
    sigma_min: float | None = None


# ----------------------------------------------------------------------------- valid specs


def _signal(data: list[float], extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    modifiers = [{"name": "sigma", "type": "normfactor", "data": None}, *(extra or [])]
    return {"name": "signal", "data": data, "modifiers": modifiers}


def _spec(channels: list[dict[str, Any]], observed: dict[str, list[Any]], upper: float) -> dict:
    return {
        "channels": channels,
        "observations": [{"name": name, "data": data} for name, data in observed.items()],
        "measurements": [
            {
                "name": "measurement",
                "config": {
                    "poi": "sigma",
                    "parameters": [{"name": "sigma", "bounds": [[0.0, upper]]}],
                },
            }
        ],
        "version": "1.0.0",
    }


@st.composite
def simple(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One bin, no nuisance parameters; returns (spec, closed-form reference inputs)."""
    n = draw(st.integers(0, 30))
    b = draw(st.floats(0.05, 30.0))
    eps = draw(st.floats(0.2, 3.0))
    upper = draw(st.floats(5.0, 500.0))
    channel = {
        "name": "window",
        "samples": [_signal([eps]), {"name": "background", "data": [b], "modifiers": []}],
    }
    spec = _spec([channel], {"window": [n]}, upper)
    return spec, {"n": n, "b": b, "eps": eps, "sigma_max": upper, "bound": upper}


@st.composite
def smeared(draw: Any) -> dict[str, Any]:
    """One bin with a normsys and staterror on the background and a histosys on the signal."""
    n = draw(st.integers(0, 30))
    b = draw(st.floats(0.1, 30.0))
    eps = draw(st.floats(0.2, 3.0))
    rel = draw(st.floats(0.01, 0.3))
    upper = draw(st.floats(5.0, 500.0))
    signal = _signal(
        [eps],
        [
            {
                "name": "signal_shape",
                "type": "histosys",
                "data": {"hi_data": [eps * (1 + rel)], "lo_data": [eps * (1 - rel)]},
            }
        ],
    )
    background = {
        "name": "background",
        "data": [b],
        "modifiers": [
            {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1 + rel, "lo": 1 - rel}},
            {"name": "staterror_window", "type": "staterror", "data": [rel * b]},
        ],
    }
    return _spec([{"name": "window", "samples": [signal, background]}], {"window": [n]}, upper)


@st.composite
def multibin(draw: Any) -> dict[str, Any]:
    """One or two channels of two or three bins, with every common modifier type."""
    channels, observed = [], {}
    for c in range(draw(st.integers(1, 2))):
        bins = draw(st.integers(2, 3))
        sig = [draw(st.floats(0.1, 3.0)) for _ in range(bins)]
        bkg = [draw(st.floats(0.5, 20.0)) for _ in range(bins)]
        name = f"ch{c}"
        signal = _signal(
            sig,
            [
                {"name": "lumi", "type": "lumi", "data": None},
                {
                    "name": "sig_shape",
                    "type": "histosys",
                    "data": {"hi_data": [1.1 * s for s in sig], "lo_data": [0.9 * s for s in sig]},
                },
            ],
        )
        background = {
            "name": "background",
            "data": bkg,
            "modifiers": [
                {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
                {"name": f"staterror_{name}", "type": "staterror", "data": [0.1 * x for x in bkg]},
                {"name": f"shape_{name}", "type": "shapesys", "data": [0.2 * x for x in bkg]},
            ],
        }
        channels.append({"name": name, "samples": [signal, background]})
        observed[name] = [draw(st.integers(0, 25)) for _ in range(bins)]
    spec = _spec(channels, observed, draw(st.floats(5.0, 200.0)))
    spec["measurements"][0]["config"]["parameters"].append(
        {
            "name": "lumi",
            "auxdata": [1.0],
            "sigmas": [0.02],
            "bounds": [[0.9, 1.1]],
            "inits": [1.0],
        }
    )
    return spec


# ----------------------------------------------------------------------------- mutations


def _background(spec: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in spec["channels"][0]["samples"] if s["name"] != "signal")


def _signal_sample(spec: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in spec["channels"][0]["samples"] if s["name"] == "signal")


def _bounds(spec: dict[str, Any], bounds: list[float] | None) -> None:
    parameters = spec["measurements"][0]["config"]["parameters"]
    if bounds is None:
        parameters[:] = [p for p in parameters if p["name"] != "sigma"]
    else:
        next(p for p in parameters if p["name"] == "sigma")["bounds"] = [bounds]


def _mutate_spec(kind: str, spec: dict[str, Any], draw: Any) -> dict[str, Any]:
    """Apply a mutation that keeps the file JSON (NaN and Infinity written as JS tokens)."""
    if kind in _YIELD_KINDS:
        _mutate_yields(kind, spec, draw)
    elif kind in _OBSERVATION_KINDS:
        _mutate_observations(kind, spec, draw)
    elif kind.startswith("bounds") or kind == "no bounds":
        bounds = {
            "bounds [0, 0]": [0.0, 0.0],
            "bounds [100, 0]": [100.0, 0.0],
            "bounds [-10, 100]": [-10.0, 100.0],
            "bounds [5, 100]": [5.0, 100.0],
            "bounds [0, 1e300]": [0.0, 1e300],
            "bounds with nan": draw(st.sampled_from([[0.0, math.nan], [0.0, math.inf]])),
        }.get(kind)
        _bounds(spec, bounds)
    else:
        _mutate_structure(kind, spec)
    return spec


_YIELD_KINDS = {
    "negative background yield",
    "negative signal yield",
    "zero background",
    "nan yield",
    "inf yield",
    "string yield",
    "huge yields",
    "modifier data wrong length",
    "nan in normsys",
    "negative staterror",
}

_OBSERVATION_KINDS = {
    "nan observation",
    "negative observation",
    "fractional observation",
    "huge observation",
    "observation too long",
    "observation too short",
    "missing observation",
}


def _mutate_yields(kind: str, spec: dict[str, Any], draw: Any) -> None:
    background, signal = _background(spec), _signal_sample(spec)
    if kind == "negative background yield":
        background["data"][0] = -draw(st.floats(0.1, 10.0))
    elif kind == "negative signal yield":
        signal["data"][0] = -draw(st.floats(0.1, 3.0))
    elif kind == "zero background":
        background["data"] = [0.0] * len(background["data"])
    elif kind == "nan yield":
        background["data"][0] = math.nan
    elif kind == "inf yield":
        signal["data"][0] = draw(st.sampled_from([math.inf, -math.inf]))
    elif kind == "string yield":
        background["data"][0] = "1.5"
    elif kind == "huge yields":
        background["data"][0] = draw(st.sampled_from([1e300, 1e150, 1.7e308]))
    elif kind == "modifier data wrong length":
        modifier = _modifier(spec, "staterror", "histosys")
        if modifier["type"] == "staterror":
            modifier["data"] = [1.0, 2.0, 3.0, 4.0]
        else:
            modifier["data"] = {"hi_data": [1.0] * 4, "lo_data": [1.0] * 4}
    elif kind == "nan in normsys":
        normsys = _modifier(spec, "normsys")
        if normsys is None:
            data = {"hi": math.nan, "lo": 0.9}
            background["modifiers"].append({"name": "bkg_norm", "type": "normsys", "data": data})
        else:
            normsys["data"]["hi"] = math.nan
    elif kind == "negative staterror":
        staterror = _modifier(spec, "staterror")
        staterror["data"] = [-abs(x) - 0.1 for x in staterror["data"]]


def _mutate_observations(kind: str, spec: dict[str, Any], draw: Any) -> None:
    observed = spec["observations"][0]["data"]
    if kind == "nan observation":
        observed[0] = math.nan
    elif kind == "negative observation":
        observed[0] = -draw(st.integers(1, 5))
    elif kind == "fractional observation":
        observed[0] += 0.5
    elif kind == "huge observation":
        observed[0] = draw(st.sampled_from([10**6, 10**9, 10**18, 10**30]))
    elif kind == "observation too long":
        observed.append(3)
    elif kind == "observation too short":
        observed.pop()
    elif kind == "missing observation":
        spec["observations"].pop(0)


def _mutate_structure(kind: str, spec: dict[str, Any]) -> None:
    config = spec["measurements"][0]["config"]
    if kind == "missing poi":
        del config["poi"]
    elif kind == "unknown poi":
        config["poi"] = "nosuch"
    elif kind == "poi not a normfactor":
        for channel in spec["channels"]:
            for sample in channel["samples"]:
                modifiers = sample["modifiers"]
                sample["modifiers"] = [m for m in modifiers if m["type"] != "normfactor"]
    elif kind == "no measurements":
        spec["measurements"] = []
    elif kind == "unknown top-level key":
        spec["bogus"] = 1


def _modifier(spec: dict[str, Any], *types: str) -> Any:
    for channel in spec["channels"]:
        for sample in channel["samples"]:
            for modifier in sample["modifiers"]:
                if modifier["type"] in types:
                    return modifier
    if "staterror" in types:  # a simple spec: give it one to break
        modifier = {"name": "staterror_window", "type": "staterror", "data": [0.1]}
        _background(spec)["modifiers"].append(modifier)
        return modifier
    return None


def _file_level(kind: str, spec: dict[str, Any], draw: Any) -> bytes:
    text = json.dumps(spec)
    if kind == "non-utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe9"]))
        where = draw(st.sampled_from(["name", "start", "end"]))
        body = text.encode()
        if where == "name":
            return body.replace(b'"background"', b'"backgr' + bad + b'und"', 1)
        return bad + body if where == "start" else body + bad
    if kind == "truncated json":
        return text.encode()[: draw(st.integers(1, max(1, len(text) - 1)))]
    if kind == "not an object":
        return draw(st.sampled_from([b"[]", b"42", b'"ws"', b"null", b"[{}]"]))
    if kind == "empty file":
        return draw(st.sampled_from([b"", b"   \n"]))
    if kind == "deep nesting":
        depth = draw(st.sampled_from([5000, 100000]))
        return ('{"channels": ' + "[" * depth + "]" * depth + "}").encode()
    return json.dumps(spec).encode()


FILE_LEVEL = {"non-utf8", "truncated json", "not an object", "empty file", "deep nesting"}

_COMMANDS = ("limit --json", "limit", "significance --json", "significance")


@st.composite
def inputs(draw: Any, kind: str, shared: Mapping[str, Any]) -> WorkspaceInput:
    """A workspace of a drawn family with the mutation ``kind``, and two commands for it."""
    # multi-bin models are integrated by Monte Carlo (tens of seconds each): drawn less often
    families = ["simple"] if kind == "closed form" else ["simple", "smeared", "simple", "multibin"]
    family = draw(st.sampled_from(families))
    reference: dict[str, Any] = {}
    if family == "simple":
        spec, reference = draw(simple())
    else:
        spec = draw(smeared() if family == "smeared" else multibin())
    spec = copy.deepcopy(spec)
    if kind in FILE_LEVEL:
        text = _file_level(kind, spec, draw)
    else:
        spec = _mutate_spec(kind, spec, draw)
        text = json.dumps(spec, allow_nan=True).encode()
    if kind not in {"none", "closed form"}:
        reference = {}
    first = draw(st.sampled_from(_COMMANDS))
    second = draw(st.sampled_from([c for c in _COMMANDS if c.split()[0] != first.split()[0]]))
    sigma_min = draw(st.one_of(st.none(), st.sampled_from([0.01, 0.1, 0.5, 2.0])))
    return WorkspaceInput(kind, family, text, KINDS[kind], (first, second), reference, sigma_min)


def cases(item: WorkspaceInput, shared: Mapping[str, Any]) -> list[Case]:
    """The two commands of the input, each checked against the invariants (and closed forms)."""
    out = []
    for command in item.commands:
        name, *flags = command.split()
        argv: tuple[str, ...] = (name, FILE, *flags)
        reference = dict(item.reference)
        if name == "limit" and item.sigma_min is not None:
            argv += ("--prior", "log", "--sigma-min", repr(item.sigma_min))
        if name == "significance" and (item.sigma_min == 0.5 or item.family == "multibin"):
            # the hybrid p-value is defined for one bin only (statistics.md sec. 2 and 8)
            argv += ("--method", "asymptotic")
        if name == "limit":
            reference["cl"] = 0.9
            check = check_limit_json if "--json" in flags else check_limit_text
        else:
            check = check_significance_json if "--json" in flags else check_significance_text
        label = f"{item.kind} ({item.family}) -> {command}"
        culprits = (FILE,) if item.expect == "fail" else ()
        files: dict[str, bytes | None] = {FILE: item.text}
        out.append(
            Case(
                CATEGORY,
                label,
                argv,
                files,
                item.expect,
                culprits,
                check=check,
                reference=reference,
            )
        )
    return out
