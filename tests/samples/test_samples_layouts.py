"""The Belle II-like set (plain uproot, flat per-daughter) selects as the same events in dhstat's layout."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot
from belle_set import NtupleSet

from dhstat import analysis, config, parallel, pipeline, samples, selection, stages
from dhstat.errors import InputError
from dhstat.jsonio import read_json
from dhstat.processes import PROCESSES
from dhstat.selection import SAMPLES, VARIABLES


def _reference(belle: NtupleSet, cfg: Any) -> selection.SelectionOutput:
    files = [str(p) for paths in belle.reference.values() for p in paths]
    with parallel.executor(workers=1) as ex:
        return selection.select_files(files, cfg, executor=ex)


def _samples(cfg: Any, output: Path) -> samples.SamplesSelection:
    with parallel.executor(workers=1) as ex:
        chosen = samples.select_samples(cfg, executor=ex)
    samples.write_selected_samples(output, chosen)
    return chosen


def _assert_same(a: dict[str, Any], b: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=0, err_msg=name)


@pytest.mark.parametrize("photons", ["event", "jagged"])
def test_flat_layout_selects_the_same_events(
    belle: NtupleSet, photons: str, tmp_path: Path
) -> None:
    cfg = config.load(belle.config(photons=photons, name=f"flat_{photons}"))
    reference = _reference(belle, cfg)
    chosen = _samples(cfg, tmp_path / "selected.root")
    total = 0
    for sample in SAMPLES:
        ref, new = reference.samples[sample], chosen.output.samples[sample]
        for code, process in enumerate(PROCESSES):
            if process == "signal":
                continue
            mine, theirs = new["process"] == code, ref["process"] == code
            assert mine.sum() == theirs.sum(), (sample, process)
            _assert_same(
                {k: v[mine] for k, v in new.items()},
                {k: v[theirs] for k, v in ref.items()},
                VARIABLES,
            )
            total += int(mine.sum())
        # the cutflows agree from the cut on the candidate's tracks on (the flat file has no
        # row for an event without two good tracks)
        for process in ("data", "mumu", "tautau", "eemumu"):
            assert (
                chosen.output.cutflows[process].raw[sample][2:]
                == (reference.cutflows[process].raw[sample][2:])
            ), (sample, process)
            np.testing.assert_allclose(
                chosen.output.cutflows[process].weighted[sample][2:],
                reference.cutflows[process].weighted[sample][2:],
                rtol=1e-12,
            )
    assert total > 1000  # the comparison is not vacuous
    assert len(chosen.output.samples["control_mumugamma"]["weight"]) > 50


def test_signal_points_match_the_reference(belle: NtupleSet, tmp_path: Path) -> None:
    cfg = config.load(belle.config(name="signal"))
    _samples(cfg, tmp_path / "selected.root")
    points = samples.read_signal_points([tmp_path / "selected.root"])
    assert sorted((ma, mh) for ma, mh, _, _ in points) == sorted(belle.signal_reference)
    selected = 0
    for ma, mh, columns, generated in points:
        with parallel.executor(workers=1) as ex:
            ref = selection.select_files(
                [str(belle.signal_reference[(ma, mh)])], cfg, executor=ex
            ).samples["search"]
        assert generated == belle.generated[(ma, mh)]
        assert len(columns["weight"]) == len(ref["weight"]) > 5
        selected += len(ref["weight"])
        _assert_same(columns, ref, tuple(v for v in VARIABLES if v != "weight"))
        assert np.all(columns["weight"] == 1.0)  # the sample's own weight (none declared)
        # the efficiency: selected / generated, as dhstat's weights give it
        reference_efficiency = ref["weight"].sum() / (cfg["dataset"]["luminosity_fb"] * 1.0)
        assert columns["weight"].sum() / generated == pytest.approx(reference_efficiency, rel=1e-9)
    assert selected > 200


def test_select_stage_and_cli_write_the_samples_selection(belle: NtupleSet, tmp_path: Path) -> None:
    cfg = config.load(belle.config(name="stage"))
    with parallel.executor(workers=2) as ex:
        result = stages.select(
            cfg,
            [],
            output=tmp_path / "a" / "s.root",
            cutflow=tmp_path / "cutflow.json",
            macroregions=tmp_path / "macro.json",
            executor=ex,
        )
    chosen = _samples(cfg, tmp_path / "b" / "s.root")  # 1 worker, same bytes
    assert (tmp_path / "a" / "s.root").read_bytes() == (tmp_path / "b" / "s.root").read_bytes()
    assert result.cutflows.keys() == {"data", "signal", "mumu", "tautau", "eemumu"}
    assert len(chosen.signal) == 4


def test_run_goes_end_to_end_on_the_belle_set(belle: NtupleSet, tmp_path: Path) -> None:
    # every stage of `dhstat run` but the report (see the report's own tests)
    extra = "[lee]\nn_toys = 200\nbatch_size = 100\ngv_toys = 100\n"
    copy = dataclasses.replace(belle, folder=tmp_path / "copy")  # its files are changed below
    shutil.copytree(belle.folder / "belle", copy.folder / "belle")
    belle = copy
    cfg = config.load(belle.config(name="run", extra=extra))
    stages_ = [s for s in analysis.analysis_stages() if s.name != "report"]
    result = pipeline.run(cfg, tmp_path / "run", stages_)
    assert result.ran == tuple(s.name for s in stages_)
    links = sorted((tmp_path / "run" / "ntuples").rglob("*.root"))  # nothing simulated
    assert all(p.is_symlink() for p in links)
    assert len(links) == 2 + 3 + 3  # two data files, three backgrounds, three signal files
    found = read_json(tmp_path / "run" / "windows.json")
    points = sorted(zip(found["windows"]["ma"], found["windows"]["mh"], strict=True))
    assert points == sorted(belle.signal_reference)
    counts = read_json(tmp_path / "run" / "counts.json")
    selected = selection.read_selected([tmp_path / "run" / "selected.root"])
    assert sum(counts["windows"]["n_observed"]) <= np.count_nonzero(
        selected["process"] == PROCESSES.index("data")
    )
    assert len(read_json(tmp_path / "run" / "results.json")["windows"]) == len(points)
    # a second run skips every stage; a sample file changed in place re-runs the selection
    again = pipeline.run(cfg, tmp_path / "run", stages_)
    assert again.ran == ()
    changed = belle.folder / "belle" / "data_1.root"
    with uproot.open(changed) as handle:
        rows = handle["variables"].arrays(library="np", entry_stop=100)
    rows.pop("ngamma")
    gamma = {k: rows.pop(f"gamma_{k}") for k in ("E", "theta", "phi")}
    rows["gamma"] = ak.zip({k: ak.Array(list(v)) for k, v in gamma.items()})
    types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in rows.items()}
    with uproot.recreate(changed) as handle:
        handle.mktree("variables", types).extend(rows)
    third = pipeline.run(cfg, tmp_path / "run", stages_)
    assert third.ran[:2] == ("select", "windows")


@pytest.mark.parametrize("kind", ["data", "background"])
def test_the_analysis_needs_data_and_background_samples(
    belle: NtupleSet, tmp_path: Path, kind: str
) -> None:
    """Without either, `dhstat run` went on to Z = inf and a global p of 1e-313 (exit 0)."""
    kept = [t for t in belle.tables if t["kind"] != kind]
    partial = dataclasses.replace(belle, tables=kept)
    cfg = config.load(partial.config(name=f"no_{kind}"))
    with pytest.raises(
        InputError, match=f"samples: expected at least one data and one background.*no {kind}"
    ):
        pipeline.run(cfg, tmp_path / "run", analysis.analysis_stages())
    assert not (tmp_path / "run" / "ntuples").exists()
