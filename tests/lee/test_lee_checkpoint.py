"""Checkpoints: a killed run resumes; a foreign or damaged checkpoint is refused (dhstat.lee.checkpoint)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from lee_helpers import header, small_model

from dhstat import jsonio, lee, schemas
from dhstat.errors import InputError

RUNNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dhstat import jsonio
    from dhstat import lee
    sys.path.insert(0, {tests!r})
    from lee_helpers import header, small_model
    model = small_model(1500, 4000)
    n_toys, out = {n_toys}, Path({out!r})
    head = header(model, n_toys, 3)
    ckpt = out.with_name(out.name + ".checkpoint.jsonl")
    results = lee.run_checkpointed(model, head, checkpoint=ckpt)
    jsonio.write_json(out, lee.lee_document(head, results), schema="lee")
    ckpt.unlink()
    """
)


def _lines(path: Path) -> list[bytes]:
    """The complete lines of a checkpoint (a last line without its newline is left out)."""
    return path.read_bytes().split(b"\n")[:-1]


def test_killed_run_resumes_without_losing_or_repeating_toys(tmp_path: Path) -> None:
    n_toys = 2000  # 20 batches of 100 toys
    tests = str(Path(__file__).parent)
    reference = tmp_path / "reference.json"  # the uninterrupted run, in this process
    model = small_model(1500, 4000)
    head = header(model, n_toys, 3)
    whole = lee.lee_document(head, lee.run_toys(model, n_toys=n_toys, seed=3))
    jsonio.write_json(reference, whole, schema="lee")

    script = tmp_path / "runner.py"
    out = tmp_path / "resumed.json"
    checkpoint = tmp_path / "resumed.json.checkpoint.jsonl"
    script.write_text(RUNNER.format(tests=tests, n_toys=n_toys, out=str(out)))
    process = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists() and len(_lines(checkpoint)) - 1 >= 3:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    lines = _lines(checkpoint)
    first = json.loads(lines[0])
    schemas.validate(first, "lee-part")
    assert not first["complete"]
    assert first["batches"] == []
    assert 3 <= len(lines) - 1 < 20
    subprocess.run([sys.executable, str(script)], check=True, timeout=300)
    assert not checkpoint.exists()
    assert out.read_bytes() == reference.read_bytes()


def _full_checkpoint(tmp_path: Path, n_toys: int = 500, seed: int = 1) -> tuple[Path, dict]:
    """A checkpoint of a finished run of the small model (5 batches) and the run's results."""
    model = small_model()
    path = tmp_path / "x.checkpoint.jsonl"
    results = lee.run_checkpointed(model, header(model, n_toys, seed), checkpoint=path)
    return path, results


def _same(a: dict, b: dict) -> bool:
    return sorted(a) == sorted(b) and all(
        np.array_equal(a[i].max_z, b[i].max_z)
        and np.array_equal(a[i].argmax, b[i].argmax)
        and np.array_equal(a[i].euler, b[i].euler)
        for i in a
    )


def test_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    model = small_model()
    checkpoint, whole = _full_checkpoint(tmp_path, n_toys=200)
    checkpoint.write_bytes(b"\n".join(_lines(checkpoint)[:2]) + b"\n")  # header + batch 0
    with pytest.raises(InputError, match="same run"):
        lee.run_checkpointed(model, header(model, 200, 2), checkpoint=checkpoint)
    with pytest.raises(InputError, match="same run"):
        lee.run_checkpointed(model, header(model, 200, 1), checkpoint=checkpoint, shard=(0, 2))
    resumed = lee.run_checkpointed(model, header(model, 200, 1), checkpoint=checkpoint)
    assert _same(resumed, whole)
    assert len(_lines(checkpoint)) == 3  # batch 1 appended after batch 0


@pytest.mark.parametrize("cut", [1, 7, -2])
def test_last_line_cut_short_is_dropped_and_rerun(tmp_path: Path, cut: int) -> None:
    checkpoint, whole = _full_checkpoint(tmp_path)
    lines = _lines(checkpoint)
    intact = b"".join(line + b"\n" for line in lines[:-1])
    checkpoint.write_bytes(intact + lines[-1][:cut])  # the last batch was being written
    model = small_model()
    resumed = lee.run_checkpointed(model, header(model, 500, 1), checkpoint=checkpoint)
    assert _same(resumed, whole)
    assert _lines(checkpoint) == lines  # the cut line was replaced by the rerun batch
    assert checkpoint.read_bytes().endswith(b"\n")


def test_garbage_last_line_with_newline_is_dropped(tmp_path: Path) -> None:
    checkpoint, whole = _full_checkpoint(tmp_path)
    lines = _lines(checkpoint)
    checkpoint.write_bytes(b"".join(line + b"\n" for line in lines[:-1]) + b"\0\0\0\n")
    model = small_model()
    resumed = lee.run_checkpointed(model, header(model, 500, 1), checkpoint=checkpoint)
    assert _same(resumed, whole)
    assert _lines(checkpoint) == lines


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("middle", "JSON batch record"),
        ("duplicate", "at most once"),
        ("short", "finished batch"),
        ("nan", "finished batch"),
        ("header", "checkpoint header"),
    ],
)
def test_damaged_checkpoint_is_refused(tmp_path: Path, damage: str, match: str) -> None:
    checkpoint, _ = _full_checkpoint(tmp_path)
    lines = _lines(checkpoint)
    if damage == "middle":
        lines[2] = lines[2][:-5]
    elif damage == "duplicate":
        lines.append(lines[1])
    elif damage == "short":
        item = json.loads(lines[3])
        item["max_z"] = item["max_z"][:-1]
        lines[3] = json.dumps(item).encode()
    elif damage == "nan":
        lines[3] = lines[3].replace(b'"max_z": [', b'"max_z": [NaN, ', 1)
    else:
        lines[0] = lines[0][:-1]
    checkpoint.write_bytes(b"".join(line + b"\n" for line in lines))
    model = small_model()
    with pytest.raises(InputError, match=match) as info:
        lee.run_checkpointed(model, header(model, 500, 1), checkpoint=checkpoint)
    assert str(checkpoint) in str(info.value)
    assert "delete the file" in str(info.value)


def test_each_batch_is_appended_not_rewritten(tmp_path: Path) -> None:
    model = small_model()
    checkpoint = tmp_path / "c.jsonl"
    seen: list[tuple[int, bytes]] = []

    def progress(n: int) -> None:
        del n
        seen.append((checkpoint.stat().st_ino, checkpoint.read_bytes()))

    lee.run_checkpointed(model, header(model, 500, 1), checkpoint=checkpoint, progress=progress)
    assert len(seen) == 5
    assert len({inode for inode, _ in seen}) == 1  # one file, never replaced
    for (_, before), (_, after) in itertools.pairwise(seen):
        assert after.startswith(before)  # earlier bytes untouched
        assert after.count(b"\n") == before.count(b"\n") + 1  # one line per batch


def test_lines_are_part_document_items(tmp_path: Path) -> None:
    """Header + lines = the lee-part checkpoint document of the run, with its batches in order."""
    checkpoint, results = _full_checkpoint(tmp_path)
    lines = [json.loads(line) for line in _lines(checkpoint)]
    model = small_model()
    document = {**lines[0], "batches": sorted(lines[1:], key=lambda item: item["index"])}
    expected = lee.part_document(header(model, 500, 1), (0, 1), results, complete=False)
    assert document == expected
    schemas.validate(document, "lee-part")
    for line, item in zip(_lines(checkpoint)[1:], lines[1:], strict=True):
        assert line + b"\n" == jsonio.dumps(results[item["index"]].to_dict(), indent=None).encode()
