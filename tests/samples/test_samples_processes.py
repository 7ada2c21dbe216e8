"""Background processes with the analyst's own names flow from [[samples]] to the report.

The Belle II-like set's backgrounds are renamed (mumu -> qed_mumu, eemumu -> twophoton; tautau
keeps its name) and a fourth process ``bhabha`` is added (a copy of the two-photon file, so its
yields must equal ``twophoton``'s). The counts are checked against the selected events summed
directly here, with the windows' ellipses and C_eta cuts evaluated in this file.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from belle_set import NtupleSet

from dhstat import analysis, config, pipeline, report, samples, selection, stages
from dhstat import rundir as rd
from dhstat.errors import InputError
from dhstat.jsonio import read_json
from dhstat.report.tables import cutflow_yields

RENAMED = {"mumu": "qed_mumu", "tautau": "tautau", "eemumu": "twophoton"}
BACKGROUNDS = ("qed_mumu", "tautau", "twophoton", "bhabha")


def _renamed(belle: NtupleSet, folder: Path) -> NtupleSet:
    """A copy of the set whose samples table names the processes of :data:`BACKGROUNDS`."""
    shutil.copytree(belle.folder / "belle", folder / "belle")
    shutil.copyfile(folder / "belle" / "eemumu.root", folder / "belle" / "bhabha.root")
    tables: list[dict[str, Any]] = []
    for table in belle.tables:
        if table["kind"] == "background":
            tables.append(table | {"process": RENAMED[table["process"]]})
            if table["process"] == "eemumu":
                tables.append(
                    table
                    | {"name": "bkg_bhabha", "process": "bhabha", "files": ["belle/bhabha.root"]}
                )
        else:
            tables.append(table)
    return dataclasses.replace(belle, folder=folder, tables=tables)


def _inside(events: dict[str, Any], window: dict[str, Any]) -> np.ndarray:
    """Events inside the window's ellipse and below its C_eta cut (written here, not dhstat's)."""
    dx = events["mrecoil2"] - window["center"][0]
    dy = events["mmumu2"] - window["center"][1]
    cos, sin = np.cos(window["angle"]), np.sin(window["angle"])
    major, minor = window["axes"]
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    return ((u / major) ** 2 + (v / minor) ** 2 <= 1.0) & (events["ceta"] < window["ceta_cut"])


def _rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    columns = document["windows"]
    return [{key: columns[key][i] for key in columns} for i in range(len(columns["id"]))]


def test_declare_accepts_free_process_names_and_refuses_reserved_ones() -> None:
    def cfg(process: str) -> Any:
        return config.loads(
            f'[[samples]]\nname = "a"\nkind = "background"\nfiles = "a.root"\nprocess = "{process}"\n'
            '[[samples]]\nname = "b"\nkind = "background"\nfiles = "b.root"\nprocess = "zz"\n'
            '[[samples]]\nname = "c"\nkind = "background"\nfiles = "c.root"\n'
        )

    declared = samples.declare(cfg("qed_mumu"))
    assert [s.process for s in declared] == ["qed_mumu", "zz", "c"]
    assert samples.declaration.run_processes_of(declared) == (
        "data",
        "signal",
        "qed_mumu",
        "zz",
        "c",
    )
    # samples of one process add up: the process is listed once, where it is first declared
    assert samples.declaration.run_processes_of(samples.declare(cfg("zz"))) == (
        "data", "signal", "zz", "c"
    )  # fmt: skip
    for bad in ("signal", "data", "2photon"):
        with pytest.raises(InputError, match="not data or signal"):
            samples.declare(cfg(bad))


def _moved_windows(run: Path, events: dict[str, Any], output: Path) -> Path:
    """The run's windows moved onto selected background events (the fixture's signal windows
    hold none at its small luminosity), with wide ellipses: so that the counts are not all 0."""
    document = read_json(run / rd.WINDOWS)
    columns = document["windows"]
    background = events["process"] >= 2
    x, y = events["mrecoil2"][background], events["mmumu2"][background]
    for i in range(len(columns["id"])):
        q = (i + 1) / (len(columns["id"]) + 1)
        columns["center"][i] = [float(np.quantile(x, q)), float(np.quantile(y, q))]
        columns["axes"][i] = [20.0, 8.0]
    output.write_text(json.dumps(document), encoding="utf-8")
    return output


def _check_counts(counts: dict[str, Any], windows: dict[int, Any], events: Any) -> int:
    """Counts per process and window = the selected weights inside the window, summed here."""
    checked = 0
    for code, process in enumerate(("data", "signal", *BACKGROUNDS)):
        if process not in BACKGROUNDS:
            continue
        mine = {k: np.asarray(v)[events["process"] == code] for k, v in events.items()}
        assert mine["weight"].size > 0, process
        block = counts["windows"]["background"][process]
        for i, window_id in enumerate(counts["windows"]["id"]):
            inside = _inside(mine, windows[window_id])
            expected = float(np.sum(mine["weight"][inside]))
            error = float(np.sqrt(np.sum(mine["weight"][inside] ** 2)))
            assert block["yield"][i] == pytest.approx(expected, rel=1e-12, abs=1e-12)
            assert block["stat_error"][i] == pytest.approx(error, rel=1e-12, abs=1e-12)
            checked += int(np.count_nonzero(inside))
    # the copied file: bhabha and twophoton are the same events
    background = counts["windows"]["background"]
    assert background["bhabha"] == background["twophoton"]
    return checked


def _check_workspaces(folder: Path, counts: dict[str, Any]) -> None:
    """Every workspace has the run's processes as its background samples, with the counts."""
    background = counts["windows"]["background"]
    for i, window_id in enumerate(counts["windows"]["id"]):
        spec = json.loads((folder / f"w{window_id}.json").read_text())
        found = spec["channels"][0]["samples"]
        assert [s["name"] for s in found] == ["signal", *BACKGROUNDS]
        if sum(background[p]["yield"][i] for p in BACKGROUNDS) > 0:  # (else the one-event floor)
            for sample in found[1:]:
                assert sample["data"] == [background[sample["name"]]["yield"][i]]


def test_renamed_and_extra_processes_run_end_to_end(belle: NtupleSet, tmp_path: Path) -> None:
    renamed = _renamed(belle, tmp_path / "set")
    cfg = config.load(renamed.config(name="processes"))
    run = tmp_path / "run"
    # every stage but the look-elsewhere toys (the fixture's windows hold no event at all) and
    # the report, which needs them; the report's tables and summary are read below
    stages_ = [s for s in analysis.analysis_stages() if s.name not in ("lee", "report")]
    result = pipeline.run(cfg, run, stages_)
    assert result.ran == tuple(s.name for s in stages_)

    # the run's process list is recorded once, in the selected-events file
    processes = selection.selected_processes([run / rd.SELECTED])
    assert processes == ("data", "signal", *BACKGROUNDS)
    events = selection.read_selected([run / rd.SELECTED], processes=processes)
    counts = read_json(run / rd.COUNTS)
    assert counts["processes"] == list(BACKGROUNDS)
    assert set(read_json(run / rd.CUTFLOW)["processes"]) == {"data", "signal", *BACKGROUNDS}
    windows = {w["id"]: w for w in _rows(read_json(run / rd.WINDOWS))}
    _check_counts(counts, windows, events)
    _check_workspaces(run / rd.WORKSPACES, counts)
    assert len(read_json(run / rd.RESULTS)["windows"]) == len(windows)
    _, yields = cutflow_yields(read_json(run / rd.CUTFLOW))  # paper's first, others by name
    assert list(yields) == ["data", "tautau", "bhabha", "qed_mumu", "twophoton", "signal"]
    summary = report.summarize(run, report.ReportSettings.from_config(cfg))
    assert summary.expected is not None
    assert list(summary.expected) == list(BACKGROUNDS)
    assert all(f"  {name}" in report.format_summary(summary) for name in BACKGROUNDS)

    # the same stages on windows that do hold background events: the counts are not all zero
    moved = _moved_windows(run, events, tmp_path / "moved.json")
    stages.count(
        cfg, windows_file=moved, data=[run / rd.SELECTED], background=[run / rd.SELECTED],
        output=tmp_path / "counts.json",
    )  # fmt: skip
    stages.make_workspaces(
        cfg, counts=tmp_path / "counts.json", windows_file=moved, output=tmp_path / "workspaces"
    )
    counts = read_json(tmp_path / "counts.json")
    windows = {w["id"]: w for w in _rows(read_json(moved))}
    assert _check_counts(counts, windows, events) > 100
    _check_workspaces(tmp_path / "workspaces", counts)
