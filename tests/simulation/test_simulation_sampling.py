"""Samples: weights, pseudo-data, generator cuts vs no cuts, reproducibility, CLI."""

from __future__ import annotations

import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from dhstat import ntuples, selection
from dhstat.cli import main
from dhstat.config import load, loads
from dhstat.simulation import (
    Injection,
    detector,
    plan_background,
    plan_data,
    process_info,
    simulate_background,
    simulate_data,
    simulate_signal,
)
from dhstat.simulation.backgrounds import generate
from dhstat.simulation.cuts import generator_cut_mask

SCHEMA = set(ntuples.EVENT_BRANCHES)
NO_CUTS = "[simulation.generator_cuts]\nenabled = false\n[simulation.skim]\nenabled = false\n"


@pytest.fixture(scope="module")
def cfg():  # type: ignore[no-untyped-def]
    return load()


def test_signal_sample(cfg) -> None:  # type: ignore[no-untyped-def]
    events = simulate_signal(6.0, 2.5, 2000, cfg=cfg, rng=np.random.default_rng(1), isr=False)
    assert set(events) == SCHEMA | {"truth_ma", "truth_mh"}
    assert len(events["weight"]) == 2000
    lumi = cfg["dataset"]["luminosity_fb"]
    assert events["weight"] == pytest.approx(np.full(2000, lumi / 2000))
    assert np.all(events["truth_ma"] == 6.0)
    assert np.all(events["truth_mh"] == 2.5)
    assert isinstance(events["trk_px"], ak.Array)
    assert isinstance(events["weight"], np.ndarray)


def test_flat_signal_branches_select_the_same_events(cfg) -> None:  # type: ignore[no-untyped-def]
    from dhstat import selection

    jagged = simulate_signal(6.0, 2.5, 3000, cfg=cfg, rng=np.random.default_rng(4))
    flat = simulate_signal(6.0, 2.5, 3000, cfg=cfg, rng=np.random.default_rng(4), jagged=False)
    assert set(flat) == set(jagged) | {"ntrk", "ngam"}
    assert isinstance(flat["trk_px"], np.ndarray)
    assert flat["ntrk"].tolist() == ak.num(jagged["trk_px"]).tolist()
    assert flat["ngam"].tolist() == ak.num(jagged["gam_E"]).tolist()
    assert np.array_equal(flat["trk_pz"], ak.to_numpy(ak.flatten(jagged["trk_pz"])))
    a = selection.select(jagged, cfg, process="signal").search
    b = selection.select(flat, cfg, process="signal").search
    assert len(a["mrecoil2"]) > 100
    for name in a:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name


def test_background_weights(cfg) -> None:  # type: ignore[no-untyped-def]
    info = process_info("mumu", cfg)
    plan = plan_background("mumu", 0.02, cfg=cfg, seed=4, normalise_to_fb=8.34)
    n = round(info.generated_cross_section_fb * 0.02)
    assert plan.n_events == n
    assert plan.metadata["n_generated"] == n
    assert plan.metadata["luminosity_fb"] == 8.34
    events = simulate_background(
        "mumu", 0.002, cfg=cfg, rng=np.random.default_rng(2), normalise_to_fb=8.34
    )
    n = round(info.generated_cross_section_fb * 0.002)
    assert events["weight"] == pytest.approx(
        np.full(len(events["weight"]), info.generated_cross_section_fb * 8.34 / n)
    )
    assert events["trg_pass"].all()  # the skim requires the trigger
    # tau tau: one weight per final state, sigma_fs x L_norm / N_fs
    tau = process_info("tautau", cfg)
    events = simulate_background(
        "tautau", 0.2, cfg=cfg, rng=np.random.default_rng(2), normalise_to_fb=8.34
    )
    expected = sorted(sigma * 8.34 / round(sigma * 0.2) for sigma in tau.final_states.values())
    assert sorted(np.unique(events["weight"]).tolist()) == pytest.approx(expected)


def test_pseudo_data_poisson_and_injection(cfg) -> None:  # type: ignore[no-untyped-def]
    lumi = 0.01
    drawn = []
    for seed in range(5):
        plan = plan_data(lumi, cfg=cfg, seed=seed, injection=Injection(5.0, 2.0, 2000.0))
        drawn.append(plan.metadata["generator"]["events_drawn"])
    for process in ("mumu", "tautau", "eemumu"):
        mean = process_info(process, cfg).generated_cross_section_fb * lumi
        counts = np.array([d[process] for d in drawn])
        assert np.all(np.abs(counts - mean) < 5 * math.sqrt(mean))
        assert len(set(counts.tolist())) > 1  # a Poisson realisation, not the mean
    signal = np.array([d["signal"] for d in drawn])
    assert np.all(np.abs(signal - 20.0) < 5 * math.sqrt(20.0))
    data = simulate_data(
        0.002, cfg=cfg, rng=np.random.default_rng(3), injection=Injection(5.0, 2.0, 5000.0)
    )
    assert set(data) == SCHEMA
    assert np.all(data["weight"] == 1.0)


def test_same_seed_same_events(cfg) -> None:  # type: ignore[no-untyped-def]
    a = simulate_background("mumu", 0.002, cfg=cfg, rng=np.random.default_rng(9))
    b = simulate_background("mumu", 0.002, cfg=cfg, rng=np.random.default_rng(9))
    c = simulate_background("mumu", 0.002, cfg=cfg, rng=np.random.default_rng(10))
    assert ak.all(ak.flatten(a["trk_px"]) == ak.flatten(b["trk_px"]))
    assert len(a["weight"]) != len(c["weight"]) or not np.array_equal(
        ak.flatten(a["trk_px"]).to_numpy(), ak.flatten(c["trk_px"]).to_numpy()
    )


def _selected(events: dict[str, object], cfg, process: str, sample: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    result = selection.select(events, cfg, process=process)
    w = np.asarray(result.sample(sample)["weight"])
    return float(w.sum()), float(np.sqrt((w * w).sum()))


@pytest.mark.parametrize(("ma", "mh"), [(6.0, 2.5), (2.0, 0.5), (9.5, 0.8)])
def test_skimmed_signal_keeps_the_selected_yield(cfg, ma: float, mh: float) -> None:  # type: ignore[no-untyped-def]
    n = 20000
    skimmed = simulate_signal(ma, mh, n, cfg=cfg, rng=np.random.default_rng(31), skim=True)
    full = simulate_signal(ma, mh, n, cfg=cfg, rng=np.random.default_rng(32))
    assert len(skimmed["weight"]) < 0.9 * n  # the skim drops events early ...
    assert skimmed["weight"] == pytest.approx(full["weight"][: len(skimmed["weight"])])
    y1, e1 = _selected(skimmed, cfg, "signal", "search")
    y2, e2 = _selected(full, cfg, "signal", "search")
    assert e2 > 0
    # ... but not selected ones: same selected yield within statistics (independent samples)
    assert abs(y1 - y2) / math.hypot(e1, e2) < 4


@pytest.mark.parametrize(
    ("process", "lumi_cut", "lumi_all", "samples"),
    [
        ("mumu", 0.2, 0.05, ("search",)),
        ("tautau", 2.0, 1.0, ("search", "control_emu")),
        ("eemumu", 0.5, 0.04, ("search",)),
    ],
)
def test_generator_cuts_do_not_change_selected_yield(
    process: str, lumi_cut: float, lumi_all: float, samples: tuple[str, ...]
) -> None:
    with_cuts = load()
    without = loads(NO_CUTS)
    cut_events = simulate_background(
        process, lumi_cut, cfg=with_cuts, rng=np.random.default_rng(21), normalise_to_fb=1.0
    )
    all_events = simulate_background(
        process, lumi_all, cfg=without, rng=np.random.default_rng(22), normalise_to_fb=1.0
    )
    for sample in samples:
        y1, e1 = _selected(cut_events, with_cuts, process, sample)
        y2, e2 = _selected(all_events, without, process, sample)
        assert e2 > 0
        assert y2 / e2 > 5
        assert abs(y1 - y2) < 3.5 * math.hypot(e1, e2), (sample, y1, e1, y2, e2)


def test_cli_commands(tmp_path: Path) -> None:
    sig = tmp_path / "sig.root"
    main(
        [
            "simulate",
            "signal",
            "--ma",
            "5.0",
            "--mh",
            "2.0",
            "--events",
            "300",
            "--no-isr",
            "--seed",
            "1",
            "--output",
            str(sig),
        ]
    )
    meta = ntuples.read_metadata(sig)
    assert meta["process"] == "signal"
    assert meta["n_generated"] == 300
    assert meta["seed"] == 1
    assert meta["generator"]["isr"] is False
    assert meta["schema_version"] == "1.0.0"
    assert len(ntuples.read_tree(sig, "events", ["truth_ma"])["truth_ma"]) == 300
    bkg = tmp_path / "bkg.root"
    main(
        [
            "simulate",
            "background",
            "--process",
            "tautau",
            "--lumi",
            "0.02",
            "--seed",
            "1",
            "--output",
            str(bkg),
            "--workers",
            "1",
        ]
    )
    assert ntuples.read_metadata(bkg)["process"] == "tautau"
    data = tmp_path / "data.root"
    main(
        [
            "simulate",
            "data",
            "--lumi",
            "0.001",
            "--seed",
            "1",
            "--output",
            str(data),
            "--inject-signal",
            "5.0",
            "2.0",
            "1000",
            "--workers",
            "1",
        ]
    )
    meta = ntuples.read_metadata(data)
    assert meta["is_data"] is True
    assert meta["generator"]["injection"]["sigma_fb"] == 1000.0
    with pytest.raises(SystemExit) as info:
        main(
            [
                "simulate",
                "signal",
                "--ma",
                "9.0",
                "--mh",
                "2.0",
                "--output",
                str(tmp_path / "x.root"),
            ]
        )
    assert info.value.code == 2
    assert not (tmp_path / "x.root").exists()


def test_cli_everything(tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text(
        "[dataset]\nluminosity_fb = 0.001\n[simulation]\nmc_luminosity_factor = 2.0\n"
    )
    out = tmp_path / "out"
    main(
        ["simulate", "--config", str(config), "--output", str(out), "--workers", "1", "--seed", "5"]
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "data.root",
        "mc_eemumu.root",
        "mc_mumu.root",
        "mc_tautau.root",
        "samples.toml",
    ]
    meta = ntuples.read_metadata(out / "mc_mumu.root")
    assert meta["luminosity_fb"] == 0.001
    assert meta["generator"]["mc_luminosity_fb"] == 0.002


@pytest.mark.parametrize("process", ["mumu", "tautau"])
def test_early_rejection_keeps_the_skimmed_sample(cfg, process: str) -> None:  # type: ignore[no-untyped-def]
    """generate(skim=True) (cuts and skim window applied while generating) vs the plain chain."""
    n = 300_000
    samples = []
    for seed, early in ((31, True), (32, False)):
        rng = np.random.default_rng(seed)
        truth = generate(process, n, cfg=cfg, rng=rng, skim=early, final_state="emu")
        if not early:
            truth = truth.select(generator_cut_mask(truth, cfg))
        events = detector.to_branches(
            detector.reconstruct_padded(truth, cfg=cfg, rng=rng, skim=True), 1.0
        )
        samples.append(events)
    fast, plain = (len(s["weight"]) for s in samples)
    p = plain / n
    assert abs(fast - plain) < 4 * math.sqrt(2 * n * p * (1 - p)), (fast, plain)
    for name in ("trk_px", "trk_pz", "trk_clusterE"):
        a, b = (ak.flatten(s[name]).to_numpy() for s in samples)
        assert stats.ks_2samp(a, b).pvalue > 1e-3, name
