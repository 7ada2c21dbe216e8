"""A handful of adversarial cases through the installed command (``python -m dhstat``).

In-process runs catch exceptions before Python prints them; here the real interpreter prints
whatever escapes, logging and warnings go where they go for a user, and the exit code is the
process's own.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import adversarial_options as options
import pytest
from adversarial_harness import Case, assert_promise, run_case
from adversarial_oracles import check_limit_json, check_significance_json

_NAN_WORKSPACE = {
    "channels": [
        {
            "name": "window",
            "samples": [
                {
                    "name": "signal",
                    "data": [1.0],
                    "modifiers": [{"name": "sigma", "type": "normfactor", "data": None}],
                },
                {"name": "background", "data": [math.nan], "modifiers": []},
            ],
        }
    ],
    "observations": [{"name": "window", "data": [3]}],
    "measurements": [
        {
            "name": "m",
            "config": {"poi": "sigma", "parameters": [{"name": "sigma", "bounds": [[0, 50]]}]},
        }
    ],
    "version": "1.0.0",
}


def _cases(shared: dict[str, Any]) -> list[Case]:
    reference = {"n": options.N, "b": options.B, "eps": options.EPS, "sigma_max": options.UPPER}
    return [
        Case(
            "subprocess",
            "non-UTF-8 configuration",
            ("config", "check", "cfg.toml"),
            {"cfg.toml": b"[stats]\ncl = 0.9\n# caf\xe9\n"},
            "fail",
            ("cfg.toml",),
        ),
        Case(
            "subprocess",
            "NaN background yield",
            ("limit", "ws.json", "--json"),
            {"ws.json": json.dumps(_NAN_WORKSPACE).encode()},
            "fail",
            ("ws.json",),
        ),
        Case(
            "subprocess",
            "valid one-bin workspace",
            ("significance", "ws.json", "--json"),
            {"ws.json": shared["simple_workspace"]},
            "succeed",
            check=check_significance_json,
            reference=reference,
        ),
        Case(
            "subprocess",
            "--sigma-max nan",
            ("limit", "ws.json", "--json", "--sigma-max", "nan"),
            {"ws.json": shared["simple_workspace"]},
            "fail",
            ("--sigma-max",),
            check=check_limit_json,
        ),
        Case(
            "subprocess",
            "truncated ROOT file",
            ("select", "mumu.root", "--output", "out/selected.root", "--workers", "1"),
            {"mumu.root": shared["ntuple"][:64]},
            "fail",
            ("mumu.root",),
        ),
    ]


@pytest.mark.parametrize("index", range(5))
def test_real_process_gives_a_valid_result_or_one_clean_error(
    index: int, shared: dict[str, Any]
) -> None:
    case = dataclasses.replace(_cases(shared)[index], subprocess=True)
    assert_promise([run_case(case)])
