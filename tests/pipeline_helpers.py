"""Fake stages for the runner's tests (test_pipeline.py, test_analysis.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from dhstat import config, pipeline
from dhstat.parallel import Executor


class Recorder:
    """Fake stages: each copies its inputs' text (plus its config value) into its output."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: str | None = None

    def stage(self, name: str, tables: tuple[str, ...], inputs: tuple[str, ...]) -> pipeline.Stage:
        def function(
            cfg: config.Config,
            paths: Mapping[str, Path],
            outdir: Path,
            executor: Executor,
            progress: pipeline.Progress,
        ) -> None:
            self.calls.append(name)
            if self.fail == name:
                raise KeyboardInterrupt
            update = progress(2, name)
            text = "".join(paths[i].read_text() for i in inputs)
            text += json.dumps([cfg[t] for t in tables], sort_keys=True)
            update(2)
            (outdir / f"{name}.txt").write_text(text)

        return pipeline.Stage(
            name, function, tables=tables, inputs=inputs, outputs=(f"{name}.txt",)
        )


def chain(rec: Recorder) -> list[pipeline.Stage]:
    return [
        rec.stage("a", ("dataset",), ()),
        rec.stage("b", ("run",), ("a.txt",)),
        rec.stage("c", ("beams",), ("b.txt",)),
        rec.stage("d", (), ("c.txt", "a.txt")),
    ]
