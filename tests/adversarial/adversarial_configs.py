"""Generated configurations: the default tables with one value mutated, and broken files.

Each input is a TOML file (one or two tables of the default configuration, written out whole,
with one mutation) run through ``dhstat config check FILE`` and, when the mutated table feeds a
fast command, through that command with ``--config FILE`` too:

- ``[stats]`` -> ``dhstat limit`` / ``dhstat significance`` on a one-bin workspace with nuisances;
- ``[selection]``, ``[dataset]``, ``[run]`` -> ``dhstat select`` on a small ntuple;
- ``[physics]``, ``[beams]``, ``[signal]``, ``[detector]``, ``[simulation]`` ->
  ``dhstat simulate signal`` with 5 events;
- ``[processes]`` -> ``dhstat simulate background`` at 1e-5 fb^-1.

What an input deserves is decided here, from the meaning of the keys (not from dhstat's schema):
NaN and infinities, wrong types, unknown keys, reversed min/max pairs and intervals, arrays of
nodes and values of different lengths, non-UTF-8 bytes and TOML syntax errors must be rejected;
negative, zero or > 1 values must be rejected where the key is a positive quantity or a
probability; anything else may go either way, but a result must then be right.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adversarial_harness import Case, Expect
from adversarial_oracles import (
    check_config_valid,
    check_limit_json,
    check_select,
    check_significance_json,
    check_simulate,
)
from adversarial_toml import get, leaves, put, toml_document, toml_value
from hypothesis import strategies as st

from dhstat import config

CATEGORY = "config"
FILE = "cfg.toml"

#: The default configuration as plain data (parsed from the shipped default files).
DEFAULT: dict[str, Any] = tomllib.loads(config.default_text())

#: Keys that are positive quantities (a negative or zero value must be rejected).
POSITIVE = (
    "physics.",
    "beams.e_her",
    "beams.e_ler",
    "dataset.luminosity_fb",
    "processes.mumu.cross_section_fb",
    "processes.tautau.cross_section_fb",
    "processes.eemumu.cross_section_fb",
    "signal.events_per_point",
    "signal.reference_cross_section_fb",
    "stats.sigma_max",
    "stats.sigma_min",
    "stats.cl",
    "stats.quadrature_tolerance",
    "stats.max_quadrature_order",
    "stats.max_quadrature_points",
    "stats.mc_samples",
    "lee.n_toys",
    "lee.batch_size",
    "windows.n_events",
    "windows.fit_max_events",
    "windows.ceta_cut_steps",
    "run.chunk_size",
    "simulation.chunk_events",
    "simulation.mc_luminosity_factor",
    "report.dpi",
    "report.width_in",
    "report.font_size",
    "interpretation.isr_nodes",
)

#: Keys that are probabilities (outside [0, 1] must be rejected).
PROBABILITY = (
    "stats.cl",
    "detector.tracking.efficiency",
    "detector.muon_id.efficiency",
    "detector.electron_id.efficiency",
    "detector.trigger.efficiency",
    "detector.ecl.photon_efficiency",
    "detector.muon_id.electron_fake_rate",
    "detector.electron_id.muon_fake_rate",
    "detector.impact_parameters.tail_fraction",
    "processes.tautau.branching_mu",
    "processes.tautau.branching_e",
)

#: Keys that are counts, seeds or sizes of uncertainties (a negative value must be rejected).
NON_NEGATIVE = (
    "run.seed",
    "run.workers",
    "stats.mc_seed",
    "dataset.luminosity_uncertainty_fb",
    "beams.energy_spread_her_mev",
    "beams.energy_spread_ler_mev",
    "systematics.detector.",
    "systematics.ceta.",
    "systematics.mass_resolution.signal",
    "systematics.window_offset.signal",
    "detector.tracking.pt_resolution_a",
    "detector.tracking.pt_resolution_b",
    "detector.tracking.angle_resolution_mrad",
    "detector.ecl.energy_resolution_stochastic",
    "detector.ecl.energy_resolution_constant",
    "lee.gv_toys",
)

#: String keys with a fixed set of values.
ENUMS = (
    "stats.method",
    "systematics.source",
    "interpretation.cross_section",
    "interpretation.interpolation.method",
    "selection.macroregions.systematics_source",
)

#: (lower, upper) key pairs that must be ordered (strictly: equal bounds are not tested).
PAIRS = (
    ("grid.ma_min", "grid.ma_max"),
    ("stats.sigma_min", "stats.sigma_max"),
    ("windows.ceta_cut_min", "windows.ceta_cut_max"),
    ("windows.fit_min_events", "windows.fit_max_events"),
    ("detector.tracking.theta_min", "detector.tracking.theta_max"),
    ("detector.muon_id.theta_min", "detector.muon_id.theta_max"),
    ("detector.muon_id.barrel_theta_min", "detector.muon_id.barrel_theta_max"),
    ("detector.trigger.theta_min", "detector.trigger.theta_max"),
    ("simulation.generator_cuts.theta_min", "simulation.generator_cuts.theta_max"),
    ("simulation.skim.theta_min", "simulation.skim.theta_max"),
    ("simulation.skim.recoil_theta_min", "simulation.skim.recoil_theta_max"),
    ("selection.track_theta_min_deg", "selection.track_theta_max_deg"),
    ("selection.recoil_theta_min_deg", "selection.recoil_theta_max_deg"),
    (
        "selection.control.mumugamma_photon_theta_min_deg",
        "selection.control.mumugamma_photon_theta_max_deg",
    ),
)

#: Two-element arrays that are intervals [low, high].
INTERVALS = (
    "detector.ecl.forward",
    "detector.ecl.barrel",
    "detector.ecl.backward",
    "report.summary_ma_range",
    "selection.macroregions.regions[0].mmumu",
    "selection.macroregions.regions[2].mrecoil",
)

#: Arrays of nodes and of values at the nodes (same length, nodes increasing).
NODE_ARRAYS = (
    ("systematics.mass_resolution.ma_gev", "systematics.mass_resolution.signal"),
    ("systematics.window_offset.ma_gev", "systematics.window_offset.signal"),
)

#: Tables and the fast command that reads them.
FAST = {
    "stats": "stats",
    "selection": "select",
    "dataset": "select",
    "run": "select",
    "physics": "signal",
    "beams": "signal",
    "signal": "signal",
    "detector": "signal",
    "simulation": "signal",
    "processes": "background",
}

#: Mutations of one value, and file-level breakage.
KINDS = (
    "nan",
    "inf",
    "-inf",
    "negative",
    "zero",
    "huge float",
    "huge int",
    "tiny",
    "string for number",
    "bool for number",
    "array for scalar",
    "table for scalar",
    "float for int",
    "number for string",
    "number for bool",
    "bad enum",
    "unknown key",
    "unknown table",
    "min > max",
    "reversed interval",
    "nan in array",
    "length mismatch",
    "non-increasing nodes",
    "non-utf8",
    "syntax error",
    "duplicate key",
    "deep nesting",
    "valid edit",
    "empty or comments",
)


@dataclass(frozen=True)
class ConfigInput:
    """One generated configuration file."""

    kind: str
    path: str  # the mutated key ("" for file-level kinds)
    text: bytes
    expect: Expect
    tables: tuple[str, ...]
    pick: int = 0  # which of two fast commands (limit or significance for [stats])


LEAVES = tuple(leaves(DEFAULT))
NUMBERS = tuple(p for p, v in LEAVES if isinstance(v, int | float) and not isinstance(v, bool))
INTEGERS = tuple(p for p, v in LEAVES if isinstance(v, int) and not isinstance(v, bool))
STRINGS = tuple(p for p, v in LEAVES if isinstance(v, str))
BOOLS = tuple(p for p, v in LEAVES if isinstance(v, bool))
NUMBER_ARRAYS = tuple(
    p for p, v in LEAVES if isinstance(v, list) and v and all(isinstance(x, float) for x in v)
)
TABLE_PATHS = tuple(
    p
    for p, _ in (
        (f"{t}.{k}" if k else t, None)
        for t, node in DEFAULT.items()
        for k in ["", *[k for k, v in node.items() if isinstance(v, Mapping)]]
    )
    if p != "selection.branches"
)


def _matches(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or (p.endswith(".") and path.startswith(p)) for p in prefixes)


def _expect_value(path: str, value: float) -> Expect:
    """What a numeric value at ``path`` deserves, from the key's meaning."""
    if not math.isfinite(value):
        return "fail"
    if _matches(path, PROBABILITY) and not 0 <= value <= 1:
        return "fail"
    if _matches(path, POSITIVE) and value <= 0:
        return "fail"
    if _matches(path, NON_NEGATIVE) and value < 0:
        return "fail"
    if path in INTEGERS and not -(2**63) <= value < 2**63:
        return "fail"
    return "either"


# ----------------------------------------------------------------------------- strategies


def _whole_table(path: str) -> tuple[str, dict[str, Any]]:
    table = path.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
    return table, {table: copy.deepcopy(DEFAULT[table])}


def _value_mutation(kind: str, path: str, draw: Any) -> tuple[Any, Expect]:
    value = get(DEFAULT, path)
    scale = abs(value) if isinstance(value, int | float) and value else 1.0
    if kind in {"nan", "inf", "-inf"}:
        return float(kind), "fail"
    if kind == "negative":
        new = -scale * draw(st.sampled_from([1.0, 0.5, 2.0]))
        new = int(new) or -1 if isinstance(value, int) else new
        return new, _expect_value(path, new)
    if kind == "zero":
        new = 0 if isinstance(value, int) else 0.0
        return new, _expect_value(path, new)
    if kind == "huge float":
        new = draw(st.sampled_from([1e300, 1.7e308, 1e30]))
        return new, "fail" if path in INTEGERS else _expect_value(path, new)
    if kind == "huge int":
        new = draw(st.sampled_from([2**63, 2**64 + 1, 2**62, 10**30]))
        return new, "fail" if path not in INTEGERS and new >= 2**63 else _expect_value(path, new)
    if kind == "tiny":
        new = draw(st.sampled_from([1e-300, 5e-324, 1e-12]))
        return new, "fail" if path in INTEGERS else _expect_value(path, new)
    if kind == "float for int":
        return value + 0.5, "fail"
    wrong = {
        "string for number": draw(st.sampled_from(["abc", "1.0", "", "nan"])),
        "bool for number": draw(st.booleans()),
        "array for scalar": [value, value],
        "table for scalar": {"value": value},
        "number for string": draw(st.sampled_from([1, 0.5, -3])),
        "number for bool": draw(st.sampled_from([1, 0])),
        "bad enum": draw(st.sampled_from(["bogus", "", "HYBRID", "flat "])),
    }
    return wrong[kind], "fail"


_PATHS = {
    "nan": NUMBERS,
    "inf": NUMBERS,
    "-inf": NUMBERS,
    "negative": NUMBERS,
    "zero": NUMBERS,
    "huge float": NUMBERS,
    "huge int": INTEGERS,
    "tiny": NUMBERS,
    "string for number": NUMBERS,
    "bool for number": NUMBERS,
    "array for scalar": NUMBERS + STRINGS + BOOLS,
    "table for scalar": NUMBERS + STRINGS,
    "float for int": INTEGERS,
    "number for string": STRINGS,
    "number for bool": BOOLS,
    "bad enum": ENUMS,
}


@st.composite
def inputs(draw: Any, kind: str, shared: Mapping[str, Any]) -> ConfigInput:
    """One configuration file with a mutation of ``kind``."""
    return dataclasses.replace(draw(_inputs(kind)), pick=draw(st.integers(0, 1)))


@st.composite
def _inputs(draw: Any, kind: str) -> ConfigInput:
    if kind in _PATHS:
        path = draw(st.sampled_from(_PATHS[kind]))
        value, expect = _value_mutation(kind, path, draw)
        table, document = _whole_table(path)
        put(document, path, value)
        return ConfigInput(kind, path, toml_document(document).encode(), expect, (table,))
    return draw(_structural(kind))


@st.composite
def _structural(draw: Any, kind: str) -> ConfigInput:
    if kind == "unknown key":
        path = draw(st.sampled_from(TABLE_PATHS))
        table, document = _whole_table(path)
        get(document, path)[draw(st.sampled_from(["bogus", "sigma_maxx", "Cl"]))] = 1.0
        return ConfigInput(kind, path, toml_document(document).encode(), "fail", (table,))
    if kind == "unknown table":
        text = toml_document({"bogus": {"x": 1}, "stats": DEFAULT["stats"]})
        return ConfigInput(kind, "bogus", text.encode(), "fail", ("stats",))
    if kind == "min > max":
        low, high = draw(st.sampled_from(PAIRS))
        table, document = _whole_table(low)
        a, b = get(DEFAULT, low), get(DEFAULT, high)
        put(document, low, b)
        put(document, high, a)
        return ConfigInput(kind, low, toml_document(document).encode(), "fail", (table,))
    if kind == "reversed interval":
        path = draw(st.sampled_from(INTERVALS))
        table, document = _whole_table(path)
        put(document, path, list(reversed(get(DEFAULT, path))))
        return ConfigInput(kind, path, toml_document(document).encode(), "fail", (table,))
    if kind == "nan in array":
        path = draw(st.sampled_from(NUMBER_ARRAYS))
        table, document = _whole_table(path)
        values = list(get(DEFAULT, path))
        values[draw(st.integers(0, len(values) - 1))] = math.nan
        put(document, path, values)
        return ConfigInput(kind, path, toml_document(document).encode(), "fail", (table,))
    if kind in {"length mismatch", "non-increasing nodes"}:
        nodes, values = draw(st.sampled_from(NODE_ARRAYS))
        table, document = _whole_table(nodes)
        if kind == "length mismatch":
            target = draw(st.sampled_from([nodes, values]))
            put(document, target, list(get(DEFAULT, target))[:-1])
            path = target
        else:
            ordered = list(get(DEFAULT, nodes))
            ordered[1], ordered[2] = ordered[2], ordered[1]
            put(document, nodes, ordered)
            path = nodes
        return ConfigInput(kind, path, toml_document(document).encode(), "fail", (table,))
    return draw(_file_level(kind))


@st.composite
def _file_level(draw: Any, kind: str) -> ConfigInput:
    table = draw(st.sampled_from(["stats", "selection", "beams"]))
    text = toml_document({table: DEFAULT[table]})
    if kind == "non-utf8":
        where = draw(st.sampled_from(["comment", "string", "key", "start"]))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe9", b"\x80\x80"]))
        body = text.encode()
        raw = {
            "comment": body + b"# caf" + bad + b"\n",
            "string": body + b'label = "x' + bad + b'"\n',
            "key": body + b"k" + bad + b" = 1\n",
            "start": bad + body,
        }[where]
        return ConfigInput(kind, where, raw, "fail", (table,))
    if kind == "syntax error":
        broken = draw(
            st.sampled_from(
                [f"[{table}\n", "cl = \n", "= 1\n", "[stats]\ncl = 0.9 0.8\n", "a = [1, 2\n"]
            )
        )
        return ConfigInput(kind, broken.strip(), (text + broken).encode(), "fail", (table,))
    if kind == "duplicate key":
        first = next(k for k, v in DEFAULT[table].items() if not isinstance(v, Mapping | list))
        extra = f"[{table}]\n{first} = {toml_value(DEFAULT[table][first])}\n"
        raw = (toml_document({table: DEFAULT[table]}) + extra).encode()
        return ConfigInput(kind, first, raw, "fail", (table,))
    if kind == "deep nesting":
        depth = draw(st.sampled_from([2000, 20000, 200000]))
        raw = f"[stats]\ncl = {'[' * depth}{']' * depth}\n".encode()
        return ConfigInput(kind, f"depth {depth}", raw, "fail", ("stats",))
    if kind == "valid edit":
        return _valid_edit(draw)
    variant = draw(st.sampled_from(["empty", "comments", "crlf", "bom"]))
    raw = {
        "empty": b"",
        "comments": b"# nothing to change\n\n   \n",
        "crlf": text.replace("\n", "\r\n").encode(),
        "bom": b"\xef\xbb\xbf" + text.encode(),
    }[variant]
    return ConfigInput(kind, variant, raw, "either" if variant == "bom" else "succeed", (table,))


def _valid_edit(draw: Any) -> ConfigInput:
    """A sensible change: cl, sigma_max, a cut, the luminosity or the seed, within range."""
    path, value = draw(
        st.sampled_from(
            [
                ("stats.cl", draw(st.sampled_from([0.68, 0.95, 0.99]))),
                ("stats.sigma_max", draw(st.sampled_from([20.0, 50.0, 500.0]))),
                ("stats.sigma_min", draw(st.sampled_from([0.01, 0.1, 1.0]))),
                ("selection.pt_cm_min", draw(st.sampled_from([0.0, 0.2, 0.5]))),
                ("dataset.luminosity_fb", draw(st.sampled_from([0.1, 1.0, 100.0]))),
                ("run.seed", draw(st.integers(0, 2**63 - 1))),
                ("run.chunk_size", draw(st.sampled_from([1, 7, 1000]))),
                ("detector.tracking.efficiency", draw(st.sampled_from([0.5, 1.0]))),
            ]
        )
    )
    table, document = _whole_table(path)
    put(document, path, value)
    return ConfigInput("valid edit", path, toml_document(document).encode(), "succeed", (table,))


# ----------------------------------------------------------------------------- cases


def cases(item: ConfigInput, shared: Mapping[str, Any]) -> list[Case]:
    """``config check`` of the file, and the fast command of its table with ``--config``."""
    files = {FILE: item.text}
    label = f"{item.kind} ({item.path})" if item.path else item.kind
    culprits = (FILE,) if item.expect == "fail" else ()
    out = [
        Case(
            CATEGORY,
            label,
            ("config", "check", FILE),
            files,
            item.expect,
            culprits,
            check=check_config_valid,
        )
    ]
    fast = next((FAST[t] for t in item.tables if t in FAST), None)
    if fast is not None:
        out.append(_fast_case(fast, item, label, files, culprits, shared))
    return out


def _fast_case(
    fast: str,
    item: ConfigInput,
    label: str,
    files: dict[str, bytes | None],
    culprits: tuple[str, ...],
    shared: Mapping[str, Any],
) -> Case:
    label = f"{label} -> {fast}"
    config_args = ("--config", FILE)
    if fast == "stats":
        files = {**files, "ws.json": shared["smeared_workspace"]}
        command = ("limit", "significance")[item.pick]
        check = check_limit_json if command == "limit" else check_significance_json
        argv = (command, "ws.json", "--json", *config_args)
        return Case(CATEGORY, label, argv, files, item.expect, culprits, check=check)
    if fast == "select":
        files = {**files, "mumu.root": shared["ntuple"]}
        outputs = ("out/selected.root", "out/cutflow.json")
        argv = ("select", "mumu.root", "-o", outputs[0], "--cutflow", outputs[1], "-q")
        argv += ("--workers", "1", *config_args)
        return Case(CATEGORY, label, argv, files, item.expect, culprits, outputs, check_select)
    if fast == "signal":
        argv = ("simulate", "signal", "--ma", "5", "--mh", "1", "--events", "5")
    else:
        argv = ("simulate", "background", "--process", "mumu", "--lumi", "1e-5")
    argv += ("--output", "out.root", "--workers", "1", *config_args)
    return Case(CATEGORY, label, argv, files, item.expect, culprits, ("out.root",), check_simulate)


def consistency(outcomes: list[Any]) -> None:
    """A command that accepts a configuration ``config check`` rejects is a wrong result."""
    if len(outcomes) < 2:
        return
    check, command = outcomes[0], outcomes[1]
    if check.verdict == "clean_error" and command.run.code == 0:
        command.verdict = "wrong_result"
        command.reasons.append("`config check` rejects this configuration; the command ran")
