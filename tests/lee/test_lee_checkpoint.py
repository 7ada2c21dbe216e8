"""Checkpoints: a killed run resumes; a foreign checkpoint is refused (dhstat.lee.checkpoint)."""

from __future__ import annotations

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

from dhstat import jsonio, lee
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
    ckpt = out.with_name(out.name + ".checkpoint.json")
    results = lee.run_checkpointed(model, head, checkpoint=ckpt)
    jsonio.write_json(out, lee.lee_document(head, results), schema="lee")
    ckpt.unlink()
    """
)


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
    checkpoint = tmp_path / "resumed.json.checkpoint.json"
    script.write_text(RUNNER.format(tests=tests, n_toys=n_toys, out=str(out)))
    process = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists():
                done = len(jsonio.read_json(checkpoint)["batches"])
                if done >= 3:
                    break
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    partial = jsonio.read_json(checkpoint, schema="lee-part")
    assert not partial["complete"]
    assert 3 <= len(partial["batches"]) < 20
    subprocess.run([sys.executable, str(script)], check=True, timeout=300)
    assert not checkpoint.exists()
    assert out.read_bytes() == reference.read_bytes()


def test_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    model = small_model()
    checkpoint = tmp_path / "x.checkpoint.json"
    results = lee.run_toys(model, n_toys=200, seed=1, batches=[0])
    jsonio.write_json(
        checkpoint,
        lee.part_document(header(model, 200, 1), (0, 1), results, complete=False),
        schema="lee-part",
    )
    with pytest.raises(InputError, match="same run"):
        lee.run_checkpointed(model, header(model, 200, 2), checkpoint=checkpoint)
    resumed = lee.run_checkpointed(model, header(model, 200, 1), checkpoint=checkpoint)
    np.testing.assert_array_equal(resumed[0].max_z, results[0].max_z)
    assert sorted(resumed) == [0, 1]
