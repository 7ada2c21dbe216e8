from __future__ import annotations

import math
from pathlib import Path

import pytest

from dhstat import jsonio, parallel
from dhstat.errors import InputError


def test_write_is_atomic_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    jsonio.write_json(path, {"a": 1})
    with pytest.raises(ValueError, match="non-finite"):
        jsonio.write_json(path, {"a": math.nan})
    assert jsonio.read_json(path) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_path_leaves_nothing_on_exception(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"

    def write_half_then_fail() -> None:
        with jsonio.atomic_path(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_half_then_fail()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("{", "valid JSON"), ('{"a": NaN}', "finite numbers")],
)
def test_read_bad_json(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=fragment) as info:
        jsonio.read_json(path)
    assert str(path) in str(info.value)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="existing file"):
        jsonio.read_json(tmp_path / "nope.json")


def test_executor_orders_results_for_any_worker_count() -> None:
    items = list(range(40))
    with parallel.executor(workers=1) as one:
        serial = one.map(_draw, items)
    with parallel.executor(workers=2) as two:
        parallel_ = two.map(_draw, items)
    assert serial == parallel_


def test_task_seed_equals_spawn() -> None:
    import numpy as np

    children = np.random.SeedSequence(7).spawn(5)
    for index, child in enumerate(children):
        assert parallel.task_rng(7, index).integers(1 << 62) == np.random.default_rng(
            child
        ).integers(1 << 62)


def _draw(index: int) -> float:
    return float(parallel.task_rng(99, index).normal())


def test_input_error_survives_pickling() -> None:
    import pickle

    error = InputError("a.root", "trk_px", "an existing branch", got="nothing")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, InputError)
    assert str(copy) == str(error)
    assert (copy.source, copy.field, copy.expected, copy.got) == (
        "a.root",
        "trk_px",
        "an existing branch",
        "nothing",
    )


# ------------------------------------------------------------------ issue 17: reading


@pytest.mark.parametrize(
    ("data", "field", "got"),
    [
        (b'{"a": "caf\xe9"}', "byte 10", "b'\\xe9'"),  # Latin-1
        (b"\xff\xfe{\x00}\x00", "byte 0", "b'\\xff'"),  # UTF-16
        (b'{"a": 1}\xc3', "byte 8", "b'\\xc3'"),  # a truncated two-byte sequence at the end
    ],
)
def test_non_utf8_json_names_the_byte(tmp_path: Path, data: bytes, field: str, got: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        jsonio.read_json(path)
    assert str(info.value) == f"{path}: {field}: expected UTF-8 text, got {got}"


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ('{"a": 1e999}', "(value)", "finite numbers, got '1e999'"),
        ('{"a": -1e400}', "(value)", "finite numbers, got '-1e400'"),
        ('{"a": Infinity}', "(value)", "finite numbers, got 'Infinity'"),
        ("[" * 50_000 + "]" * 50_000, "(top level)", "JSON nested less deeply"),
        ('{"a": ' + "9" * 5000 + "}", "(number)", "digits"),
        ("\ufeff{}", "line 1 column 1", "valid JSON"),
    ],
)
def test_json_that_python_cannot_hold(text: str, field: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        jsonio.loads_json(text, source="x.json")
    message = str(info.value)
    assert message.startswith(f"x.json: {field}: expected ")
    assert fragment in message
    assert "\n" not in message


def test_read_text_of_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\(file\): expected a file, not a folder"):
        jsonio.read_json(tmp_path)
    with pytest.raises(InputError, match="expected an existing workspace"):
        jsonio.read_text(tmp_path / "missing.json", what="workspace")
