"""Generated option values, missing files and bad output paths, for every command that takes them.

Each kind names one option (or one kind of path) of one command; the value is drawn from a pool
of bad values (NaN, infinities, signs, zero, out of range, not a number, empty), good values and
extreme ones whose fate is open. The inputs the commands read are valid: a one-bin workspace
without nuisance parameters (so good values are checked against closed forms), the synthetic
run of ``tests/data/synthetic_run.py`` (workspaces, counts.json, results.json), a small ntuple.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adversarial_harness import Case, Expect
from adversarial_oracles import (
    check_lee,
    check_limit_json,
    check_scan,
    check_significance_json,
    check_simulate,
)
from hypothesis import strategies as st

CATEGORY = "option"

#: The one-bin workspace every limit/significance case reads (closed forms apply).
N, B, EPS, UPPER = 4, 1.5, 1.2, 80.0

Pool = list[tuple[str, Expect]]

_NOT_A_NUMBER: Pool = [
    ("nan", "fail"),
    ("NaN", "fail"),
    ("inf", "fail"),
    ("-inf", "fail"),
    ("Infinity", "fail"),
    ("1e400", "fail"),
    ("abc", "fail"),
    ("", "fail"),
    ("1,5", "fail"),
]
CL: Pool = [
    *_NOT_A_NUMBER,
    ("0", "fail"),
    ("1", "fail"),
    ("1.5", "fail"),
    ("-0.1", "fail"),
    ("90", "fail"),
    ("0.9", "succeed"),
    ("0.68", "succeed"),
    ("0.95", "succeed"),
    ("0.999", "succeed"),
    ("1e-3", "either"),
]
SIGMA_MAX: Pool = [
    *_NOT_A_NUMBER,
    ("0", "fail"),
    ("-0", "fail"),
    ("-5", "fail"),
    ("2", "succeed"),
    ("20", "succeed"),
    ("1000", "succeed"),
    ("1e-300", "either"),
    ("1e300", "either"),
    ("1e-3", "either"),
]
SIGMA_MIN: Pool = [
    *_NOT_A_NUMBER,
    ("0", "fail"),
    ("-1", "fail"),
    ("1e9", "fail"),
    ("80", "fail"),
    ("0.01", "succeed"),
    ("0.5", "succeed"),
    ("1e-300", "either"),
]
LUMI: Pool = [
    *_NOT_A_NUMBER,
    ("0", "fail"),
    ("-1", "fail"),
    ("1e-5", "succeed"),
    ("3e-5", "succeed"),
    ("1e-300", "either"),
]
SEED: Pool = [
    ("-1", "fail"),
    ("abc", "fail"),
    ("1.5", "fail"),
    ("", "fail"),
    (str(2**64), "fail"),
    (str(10**30), "fail"),
    ("0", "succeed"),
    ("7", "succeed"),
    (str(2**32), "succeed"),
    (str(2**63 - 1), "either"),
]
TOYS: Pool = [
    ("0", "fail"),
    ("-1", "fail"),
    ("abc", "fail"),
    ("1.5", "fail"),
    ("", "fail"),
    (str(2**64), "fail"),
    ("5", "succeed"),
    ("17", "succeed"),
]
SHARD: Pool = [
    ("1/0", "fail"),
    ("a/b", "fail"),
    ("-1/4", "fail"),
    ("4/4", "fail"),
    ("1/2/3", "fail"),
    ("", "fail"),
    ("0/0", "fail"),
    ("/", "fail"),
    ("1/-2", "fail"),
    (f"0/{2**64}", "either"),
    ("0/2", "succeed"),
    ("1/2", "either"),
    ("0/1", "succeed"),
]
OUTPUT: Pool = [
    ("a-folder", "fail"),
    ("a-file/out.x", "fail"),
    ("", "fail"),
    (".", "fail"),
    ("/proc/dhstat-adversarial/out.x", "fail"),
    ("new/sub/out.x", "either"),
    ("out.x", "succeed"),
]
WORKERS: Pool = [("-1", "fail"), ("abc", "fail"), ("1.5", "fail"), ("1", "succeed")]


@dataclass(frozen=True)
class OptionInput:
    """One command line (and its files), what it deserves, and the option at fault."""

    kind: str
    value: str
    case: Case


def _ws(shared: Mapping[str, Any]) -> dict[str, bytes | None]:
    return {"ws.json": shared["simple_workspace"]}


def _reference(**extra: Any) -> dict[str, Any]:
    return {"n": N, "b": B, "eps": EPS, "sigma_max": UPPER, "bound": UPPER, **extra}


def _case(
    kind: str,
    value: str,
    expect: Expect,
    argv: tuple[str, ...],
    files: Mapping[str, bytes | None],
    culprit: str,
    **kwargs: Any,
) -> OptionInput:
    culprits = (culprit,) if expect == "fail" and culprit else ()
    label = f"{kind} = {value!r}"
    return OptionInput(kind, value, Case(CATEGORY, label, argv, files, expect, culprits, **kwargs))


def _limit_cl(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(CL))
    ref = _reference(cl=float(value)) if expect == "succeed" else {}
    argv = ("limit", "ws.json", "--json", "--cl", value)
    return _case(
        "limit --cl",
        value,
        expect,
        argv,
        _ws(shared),
        "--cl",
        check=check_limit_json,
        reference=ref,
    )


def _limit_sigma_max(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(SIGMA_MAX))
    ref = _reference(sigma_max=float(value), cl=0.9) if expect == "succeed" else {}
    argv = ("limit", "ws.json", "--json", "--sigma-max", value)
    return _case(
        "limit --sigma-max",
        value,
        expect,
        argv,
        _ws(shared),
        "--sigma-max",
        check=check_limit_json,
        reference=ref,
    )


def _limit_sigma_min(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(SIGMA_MIN))
    ref = _reference(cl=0.9) if expect == "succeed" else {}
    argv = ("limit", "ws.json", "--json", "--prior", "log", "--sigma-min", value)
    return _case(
        "limit --prior log --sigma-min",
        value,
        expect,
        argv,
        _ws(shared),
        "--sigma-min|sigma_min",  # the field name is as clear as the option's
        check=check_limit_json,
        reference=ref,
    )


def _significance_sigma_max(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(SIGMA_MAX))
    method = draw(st.sampled_from(["hybrid", "asymptotic"]))
    ref = _reference(sigma_max=float(value)) if expect == "succeed" else {}
    argv = ("significance", "ws.json", "--json", "--method", method, "--sigma-max", value)
    return _case(
        "significance --sigma-max",
        value,
        expect,
        argv,
        _ws(shared),
        "--sigma-max",
        check=check_significance_json,
        reference=ref,
    )


def _choice(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    command, option = draw(st.sampled_from([("limit", "--prior"), ("significance", "--method")]))
    value = draw(st.sampled_from(["bogus", "", "FLAT", "Hybrid"]))
    argv = (command, "ws.json", option, value)
    return _case(f"{command} {option}", value, "fail", argv, _ws(shared), option)


def _scan_sigma_max(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(SIGMA_MAX))
    ref = {"sigma_max": float(value)} if expect == "succeed" else {}
    argv = ("scan", shared["workspaces"], "--output", "results.json", "--workers", "1")
    argv += ("--sigma-max", value)
    return _case(
        "scan --sigma-max",
        value,
        expect,
        argv,
        {},
        "--sigma-max",
        outputs=("results.json",),
        check=check_scan,
        reference=ref,
    )


def _scan_workers(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(WORKERS))
    argv = ("scan", shared["workspaces"], "--output", "results.json", "--workers", value)
    return _case(
        "scan --workers",
        value,
        expect,
        argv,
        {},
        "--workers",
        outputs=("results.json",),
        check=check_scan,
    )


def _output_files() -> dict[str, bytes | None]:
    return {"a-folder": None, "a-file": b"a regular file\n"}


def _output(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(OUTPUT))
    command = draw(st.sampled_from(["scan", "lee", "select", "simulate", "lee merge"]))
    suffix = {"scan": ".json", "lee": ".json", "select": ".root", "simulate": ".root"}.get(
        command, ".json"
    )
    path = value.replace(".x", suffix) if value.endswith(".x") else value
    files = _output_files()
    outputs: tuple[str, ...] = (path,) if expect != "fail" else ()
    if command == "scan":
        argv = ("scan", shared["workspaces"], "--workers", "1", "--output", path)
        check = check_scan
    elif command == "lee":
        argv = _lee_args(shared, "--toys", "5", "--output", path)
        check = check_lee
    elif command == "select":
        files["mumu.root"] = shared["ntuple"]
        argv = ("select", "mumu.root", "--workers", "1", "-q", "--output", path)
        check = None
    elif command == "simulate":
        argv = ("simulate", "signal", "--ma", "5", "--mh", "1", "--events", "3", "--workers", "1")
        argv += ("--output", path)
        check = check_simulate
    else:
        files["part.json"] = shared["lee_part"]
        argv = ("lee", "merge", "part.json", "--output", path)
        check = None
    culprit = "--output" if path in {"", "."} else f"--output|{path}"
    return _case(
        f"{command} --output", value, expect, argv, files, culprit, outputs=outputs, check=check
    )


def _lee_args(shared: Mapping[str, Any], *extra: str) -> tuple[str, ...]:
    return (
        "lee",
        "--scan",
        shared["results"],
        "--counts",
        shared["counts"],
        "--workers",
        "1",
        *extra,
    )


def _lee(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    option = draw(st.sampled_from(["--toys", "--seed", "--shard"]))
    pool = {"--toys": TOYS, "--seed": SEED, "--shard": SHARD}[option]
    value, expect = draw(st.sampled_from(pool))
    extra = () if option == "--toys" else ("--toys", "5")
    argv = _lee_args(shared, *extra, option, value, "--output", "lee.json")
    ref: dict[str, Any] = {"shard": option == "--shard"}
    if expect == "succeed" and option == "--toys":
        ref["toys"] = int(value)
    if expect == "succeed" and option == "--seed":
        ref["seed"] = int(value)
    outputs = ("lee.json",) if expect != "fail" else ()
    return _case(
        f"lee {option}",
        value,
        expect,
        argv,
        {},
        option,
        outputs=outputs,
        check=check_lee,
        reference=ref,
    )


def _lee_inject(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    window, sigma, expect = draw(
        st.sampled_from(
            [
                ("9999", "5", "fail"),
                ("1", "nan", "fail"),
                ("1", "-5", "fail"),
                ("1", "inf", "fail"),
                ("x", "5", "fail"),
                ("1", "5", "succeed"),
                ("0", "0", "succeed"),
            ]
        )
    )
    argv = _lee_args(shared, "--toys", "5", "--inject", window, sigma, "--output", "lee.json")
    return _case(
        "lee --inject",
        f"{window} {sigma}",
        expect,
        argv,
        {},
        "--inject",
        outputs=("lee.json",) if expect != "fail" else (),
        check=check_lee,
    )


def _simulate_lumi(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(LUMI))
    sub = draw(st.sampled_from(["background", "data"]))
    head = (
        ("simulate", "background", "--process", "mumu")
        if sub == "background"
        else ("simulate", "data")
    )
    argv = (*head, "--lumi", value, "--workers", "1", "--output", "out.root")
    return _case(
        f"simulate {sub} --lumi",
        value,
        expect,
        argv,
        {},
        "--lumi",
        outputs=("out.root",) if expect != "fail" else (),
        check=check_simulate,
    )


def _simulate_seed(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    value, expect = draw(st.sampled_from(SEED))
    argv = ("simulate", "background", "--process", "mumu", "--lumi", "1e-5", "--workers", "1")
    argv += ("--seed", value, "--output", "out.root")
    return _case(
        "simulate --seed",
        value,
        expect,
        argv,
        {},
        "--seed",
        outputs=("out.root",) if expect != "fail" else (),
        check=check_simulate,
    )


def _simulate_signal(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    ma, mh, events, expect, culprit = draw(
        st.sampled_from(
            [
                ("nan", "1", "3", "fail", "--ma"),
                ("inf", "1", "3", "fail", "--ma"),
                ("-1", "1", "3", "fail", "--ma"),
                ("0", "1", "3", "fail", "--ma"),
                ("5", "nan", "3", "fail", "--mh"),
                ("5", "-1", "3", "fail", "--mh"),
                ("10", "5", "3", "fail", "--ma"),
                ("abc", "1", "3", "fail", "--ma"),
                ("5", "1", "0", "fail", "--events"),
                ("5", "1", "-1", "fail", "--events"),
                ("5", "1", "abc", "fail", "--events"),
                ("5", "1", str(2**64), "fail", "--events"),
                ("5", "1", "3", "succeed", ""),
                ("2", "0.5", "1", "succeed", ""),
                ("0.3", "0", "2", "either", ""),
            ]
        )
    )
    argv = ("simulate", "signal", "--ma", ma, "--mh", mh, "--events", events)
    argv += ("--workers", "1", "--output", "out.root")
    return _case(
        "simulate signal",
        f"{ma} {mh} {events}",
        expect,
        argv,
        {},
        culprit,
        outputs=("out.root",) if expect != "fail" else (),
        check=check_simulate,
    )


def _inject_signal(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    values, expect = draw(
        st.sampled_from(
            [
                (("5", "1", "nan"), "fail"),
                (("5", "1", "-1"), "fail"),
                (("nan", "1", "5"), "fail"),
                (("20", "1", "5"), "fail"),
                (("5", "1", "inf"), "fail"),
                (("5", "1", "5"), "succeed"),
            ]
        )
    )
    argv = ("simulate", "data", "--lumi", "1e-5", "--inject-signal", *values)
    argv += ("--workers", "1", "--output", "out.root")
    return _case(
        "simulate data --inject-signal",
        " ".join(values),
        expect,
        argv,
        {},
        "--inject-signal",
        outputs=("out.root",) if expect != "fail" else (),
        check=check_simulate,
    )


def _missing_input(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    which, culprit = draw(
        st.sampled_from(
            [
                ("limit missing.json", "missing.json"),
                ("significance a-folder", "a-folder"),
                ("limit ws.json --config missing.toml", "missing.toml"),
                ("limit ws.json --config a-folder", "a-folder"),
                ("config check a-folder", "a-folder"),
                ("config check missing.toml", "missing.toml"),
                ("scan missing-dir", "missing-dir"),
                ("lee --scan missing.json", "missing.json"),
                ("lee --counts ws.json", "ws.json"),
                ("select nothing-*.root", "nothing-*.root|INPUT"),
                ("select missing.root", "missing.root"),
                ("lee merge missing.json", "missing.json"),
            ]
        )
    )
    files = {**_ws(shared), "a-folder": None}
    words = which.split()
    if words[0] == "lee" and words[1] != "merge":
        scan = "missing.json" if words[2] == "missing.json" else shared["results"]
        counts = "ws.json" if words[2] == "ws.json" else shared["counts"]
        argv: tuple[str, ...] = (*_lee_args(shared)[:1], "--scan", scan, "--counts", counts)
        argv += ("--toys", "5", "--workers", "1", "--output", "lee.json")
    elif words[0] == "select":
        argv = (*words, "--output", "out/selected.root", "--workers", "1")
    elif words[0] == "scan":
        argv = (*words, "--output", "results.json", "--workers", "1")
    else:
        argv = tuple(words)
    return _case("missing or unreadable input", which, "fail", argv, files, culprit)


def _usage(draw: Any, shared: Mapping[str, Any]) -> OptionInput:
    which, argv, culprit = draw(
        st.sampled_from(
            [
                ("unknown option", ("limit", "ws.json", "--bogus", "1"), "--bogus"),
                ("missing argument", ("limit",), "WORKSPACE"),
                ("missing required option", ("select", "mumu.root"), "--output"),
                ("extra argument", ("significance", "ws.json", "extra.json"), "extra.json"),
                ("option without value", ("limit", "ws.json", "--cl"), "--cl"),
                ("unknown command", ("bogus",), "bogus"),
            ]
        )
    )
    return _case("usage", which, "fail", argv, _ws(shared), culprit)


KINDS: dict[str, Callable[[Any, Mapping[str, Any]], OptionInput]] = {
    "limit --cl": _limit_cl,
    "limit --sigma-max": _limit_sigma_max,
    "limit --sigma-min": _limit_sigma_min,
    "significance --sigma-max": _significance_sigma_max,
    "choice options": _choice,
    "scan --sigma-max": _scan_sigma_max,
    "scan --workers": _scan_workers,
    "--output": _output,
    "lee --toys/--seed/--shard": _lee,
    "lee --inject": _lee_inject,
    "simulate --lumi": _simulate_lumi,
    "simulate --seed": _simulate_seed,
    "simulate signal masses/events": _simulate_signal,
    "simulate data --inject-signal": _inject_signal,
    "missing inputs": _missing_input,
    "usage errors": _usage,
}


@st.composite
def inputs(draw: Any, kind: str, shared: Mapping[str, Any]) -> OptionInput:
    """One command line of ``kind`` with a drawn value."""
    return KINDS[kind](draw, shared)


def cases(item: OptionInput, shared: Mapping[str, Any]) -> list[Case]:
    """The one case of the input."""
    return [item.case]
