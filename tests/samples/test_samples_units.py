"""Weight expressions, normalisations and empty files of the samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot
from tiny import BRANCHES, EVENTS, write_tiny

from dhstat import config, parallel, samples
from dhstat.errors import InputError
from dhstat.samples.expressions import evaluate, expression_branches


def test_expressions_evaluate_as_numpy_does() -> None:
    rng = np.random.default_rng(1)
    columns = {"a": rng.uniform(0.1, 2, 50), "b": rng.uniform(0.1, 2, 50)}
    a, b = columns["a"], columns["b"]
    cases = {
        "a": a,
        "a * b / 2 - 1": a * b / 2 - 1,
        "-a ** 2 + abs(b - 1)": -(a**2) + np.abs(b - 1),
        "sqrt(a) * exp(-b) + log(b)": np.sqrt(a) * np.exp(-b) + np.log(b),
        "max(a, b) - min(a, 1.5)": np.maximum(a, b) - np.minimum(a, 1.5),
    }
    for text, expected in cases.items():
        np.testing.assert_allclose(evaluate(text, columns), expected, rtol=1e-15, err_msg=text)
    assert expression_branches("max(a, b) * a") == ("a", "b")
    assert expression_branches(2.5) == ()


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "a.real",
        "open('x')",
        "a if b else 1",
        "a[0]",
        "'1'",
        "a < b",
        "lambda: 1",
    ],
)
def test_expressions_refuse_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(ValueError, match=r"not|only"):
        expression_branches(text)


def _config(folder: Path, tables: list[dict[str, Any]]) -> Any:
    path = folder / "c.toml"
    path.write_text("[dataset]\nluminosity_fb = 2.0\n" + samples.samples_toml(tables))
    return config.load(path)


def _table(name: str, kind: str, file: str, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "files": [file],
        "tree": "ntuple",
        "branches": BRANCHES,
    } | more


def test_cross_section_normalisation(tmp_path: Path) -> None:
    write_tiny(tmp_path / "mc.root")
    table = _table(
        "mc",
        "background",
        "mc.root",
        process="tautau",
        cross_section_fb=300.0,
        generated_events=1200,
        weight=0.5,
    )
    with parallel.executor(workers=1) as ex:
        chosen = samples.select_samples(_config(tmp_path, [table]), executor=ex)
    # 0.5 x sigma L / N = 0.5 x 300 x 2 / 1200
    assert chosen.output.cutflows["tautau"].weighted_input == pytest.approx(len(EVENTS) * 0.25)


def test_an_empty_signal_file_keeps_its_point(tmp_path: Path) -> None:
    write_tiny(tmp_path / "d.root")
    empty = {k: v[:0] for k, v in _columns(tmp_path / "t.root").items()}
    write_tiny(tmp_path / "s.root", **empty)
    tables = [
        _table("data", "data", "d.root"),
        _table("sig", "signal", "s.root", ma=4.0, mh=1.0, generated_events=500),
    ]
    with parallel.executor(workers=1) as ex:
        chosen = samples.select_samples(_config(tmp_path, tables), executor=ex)
    samples.write_selected_samples(tmp_path / "sel.root", chosen)
    [(ma, mh, columns, generated)] = samples.read_signal_points([tmp_path / "sel.root"])
    assert (ma, mh, len(columns["weight"]), generated) == (4.0, 1.0, 0, 500.0)
    del tables[1]["generated_events"]
    with (
        parallel.executor(workers=1) as ex,
        pytest.raises(InputError, match=r"samples\[1\] \('sig'\)\.generated_events"),
    ):
        samples.select_samples(_config(tmp_path, tables), executor=ex)


def _columns(path: Path) -> dict[str, np.ndarray]:
    with uproot.open(write_tiny(path)) as handle:
        return dict(handle["ntuple"].arrays(library="np"))
