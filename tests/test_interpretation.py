from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize, stats
from scipy.integrate import quad
from scipy.special import gammaincc

from dhstat import config, interpretation, schemas
from dhstat.cli import cli
from dhstat.jsonio import read_json, write_json
from dhstat.physics import decay
from dhstat.physics.constants import ALPHA, ELECTRON_MASS
from dhstat.stats.model import WindowSet, window_spec


def test_born_check_value_of_analysis_md() -> None:
    """analysis.md section 3: sqrt(s) = 10.58, M_A' = 5, M_h' = 2, eps^2 alpha_D = 1e-8 -> 1.013 fb."""
    sigma = 1e-8 * float(interpretation.born_unit_cross_section(5.0, 2.0, sqrt_s=10.58))
    assert sigma == pytest.approx(1.013, abs=5e-4)


@pytest.mark.parametrize(
    ("ma", "mh"), [(5.0, 2.0), (9.0, 1.0), (2.0, 0.5), (10.2, 0.3), (4.0, 6.5)]
)
def test_isr_convolution_against_adaptive_quadrature(ma: float, mh: float) -> None:
    roots = 10.5796
    s = roots**2
    beta = 2 * ALPHA / math.pi * (math.log(s / ELECTRON_MASS**2) - 1)
    x_max = 1 - (ma + mh) ** 2 / s

    def born(x: float) -> float:
        return float(interpretation.born_unit_cross_section(ma, mh, sqrt_s=math.sqrt(s * (1 - x))))

    # Reference: the radiator's x^(beta-1) term integrated in u = x^beta, the rest in x (scipy quad).
    singular = quad(lambda u: born(u ** (1 / beta)), 0, x_max**beta, limit=200, epsabs=0)[0]
    regular = quad(lambda x: (1 - x / 2) * born(x), 0, x_max, limit=200, epsabs=0)[0]
    reference = (1 + 0.75 * beta) * singular - beta * regular
    value = float(interpretation.isr_unit_cross_section(ma, mh, sqrt_s=roots))
    assert value == pytest.approx(reference, rel=1e-6)


def test_isr_zero_below_threshold_and_vectorised() -> None:
    values = interpretation.isr_unit_cross_section([5.0, 8.0], [2.0, 3.0], sqrt_s=10.58)
    assert values[1] == 0.0
    assert values[0] == pytest.approx(
        float(interpretation.isr_unit_cross_section(5.0, 2.0, sqrt_s=10.58)), rel=1e-12
    )


def _plane(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    ma = rng.uniform(2.0, 9.0, n)
    mh = rng.uniform(0.1, 1.0, n) * ma
    return ma, mh


def test_linear_interpolation_is_exact_for_linear_functions(rng: np.random.Generator) -> None:
    ma, mh = _plane(rng)
    values = 3.0 + 0.5 * ma - 0.2 * mh
    qa, qh = rng.uniform(4.0, 6.0, 50), rng.uniform(1.0, 2.0, 50)
    got = interpretation.interpolate_points(ma, mh, values, qa, qh, log=False)
    np.testing.assert_allclose(got, 3.0 + 0.5 * qa - 0.2 * qh, rtol=1e-12)


def test_log_interpolation_is_exact_for_power_laws(rng: np.random.Generator) -> None:
    ma, mh = _plane(rng)
    values = 10 ** (-8 + 0.3 * ma + 0.1 * mh)
    qa, qh = rng.uniform(4.0, 6.0, 50), rng.uniform(1.0, 2.0, 50)
    got = interpretation.interpolate_points(ma, mh, values, qa, qh, log=True)
    np.testing.assert_allclose(got, 10 ** (-8 + 0.3 * qa + 0.1 * qh), rtol=1e-10)


def test_values_at_centres_and_outside_hull() -> None:
    ma = np.array([4.0, 6.0, 4.0, 6.0, 5.0])
    mh = np.array([1.0, 1.0, 3.0, 3.0, 2.0])
    values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    for method in ("linear", "nearest"):
        got = interpretation.interpolate_points(ma, mh, values, ma, mh, method=method)
        np.testing.assert_allclose(got, values, rtol=1e-12)
        outside = interpretation.interpolate_points(
            ma, mh, values, [3.9, 5.0], [2.0, 3.1], method=method
        )
        assert np.all(np.isnan(outside))


def test_kinematic_limit_and_bad_values_masked() -> None:
    ma = np.array([4.0, 9.0, 4.0, 9.0])
    mh = np.array([0.5, 0.5, 4.0, 4.0])
    values = np.array([1.0, 1.0, 1.0, np.nan])
    got = interpretation.interpolate_points(ma, mh, values, [5.0, 8.0], [1.0, 3.0], sqrt_s=10.58)
    assert got[0] == pytest.approx(1.0)
    assert np.isnan(got[1])  # 8 + 3 > sqrt(s)


def test_map_shape_and_orientation() -> None:
    ma = np.array([4.0, 6.0, 4.0, 6.0])
    mh = np.array([1.0, 1.0, 3.0, 3.0])
    grid = interpretation.interpolate_limits(
        ma, mh, ma * 10 + mh, [4.0, 5.0, 6.0], [1.0, 3.0], log=False
    )
    assert grid.shape == (3, 2)
    np.testing.assert_allclose(grid, [[41.0, 43.0], [51.0, 53.0], [61.0, 63.0]])


def test_coupling_curves_follow_document_settings(rng: np.random.Generator) -> None:
    ma, mh = _plane(rng)
    values = 10 ** (-7 + 0.2 * ma)
    doc = {
        "sqrt_s": 10.58,
        "interpolation": {"method": "linear", "log": True, "mh_scale": 1.0},
        "windows": [
            {"ma": float(a), "mh": float(h), "eps2_alpha_d_ul": float(v)}
            for a, h, v in zip(ma, mh, values, strict=True)
        ],
    }
    versus_ma, versus_mh = interpretation.coupling_curves(doc, mh_values=[1.0], ma_values=[6.0])
    x, y = versus_ma[1.0]
    assert x.size > 10
    np.testing.assert_allclose(y, 10 ** (-7 + 0.2 * x), rtol=1e-10)
    x, y = versus_mh[6.0]
    assert x.size > 10
    np.testing.assert_allclose(y, 10 ** (-7 + 0.2 * 6.0), rtol=1e-10)


# ------------------------------------------------------------------------------------------
# coupling limits on synthetic scan results

WINDOWS = [  # id, ma, mh, n, signal (eps L), background
    (11, 5.0, 2.0, 3, 2.0, 1.0),
    (12, 7.0, 1.0, 0, 1.5, 0.4),
    (13, 3.1, 0.5, 6, 0.8, 4.0),
    (14, 9.5, 0.5, 2, 1.2, 2.5),
]


def _results(with_syst: bool = False) -> dict:
    specs = [
        window_spec(
            n=n,
            signal=s,
            backgrounds={"mumu": b},
            signal_shifts={"syst_detector": 0.05 * s} if with_syst else None,
            sigma_max=100.0,
        )
        for _, _, _, n, s, b in WINDOWS
    ]
    ws = WindowSet.from_specs(specs, ids=[str(w[0]) for w in WINDOWS])
    return {
        "window_model": ws.to_dict(),
        "windows": [{"id": w[0], "ma": w[1], "mh": w[2]} for w in WINDOWS],
        "cl": 0.9,
    }


def _helene(n: int, b: float, cl: float = 0.9) -> float:
    """Flat-prior limit on s without uncertainties: 1 - CL = F(n; s + b) / F(n; b)."""
    target = (1 - cl) * stats.poisson.cdf(n, b)
    return float(optimize.brentq(lambda s: stats.poisson.cdf(n, s + b) - target, 0, 100))


def _smeared_limit(n: int, s0: float, b: float, rel: float, cl: float = 0.9) -> float:
    """Reference: posterior of sigma with f ~ N(1, rel) (truncated at 0) on the signal.

    The sigma integral is the Poisson identity int_0^x Pois(n | a s + b) ds =
    [F(n; b) - F(n; b + a x)] / a; the f integral a 200-point Gauss-Legendre rule on +-8 rel.
    """
    nodes, weights = np.polynomial.legendre.leggauss(200)
    f = 1 + 8 * rel * nodes
    w = 8 * rel * weights * stats.norm.pdf(f, 1, rel)

    def cdf(x: float) -> float:
        a = s0 * f  # Poisson CDF F(n; mu) = Q(n + 1, mu), the regularised upper gamma function
        return float(np.sum(w * (gammaincc(n + 1, b) - gammaincc(n + 1, b + a * x)) / a))

    total = cdf(100.0)
    return float(optimize.brentq(lambda x: cdf(x) - cl * total, 1e-9, 100, xtol=1e-14))


def _cfg(tmp_path: Path, text: str = "") -> config.Config:
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return config.load(path)


def test_coupling_limits_without_br_uncertainty_match_helene(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[interpretation]\nbr_mumu_rel_uncertainty = 0.0\n")
    inputs = interpretation.scan_inputs(_results())
    limits = interpretation.coupling_limits(inputs, cfg, priors=("flat",))
    roots = config.sqrt_s(cfg)
    for i, (_, ma, mh, n, s0, b) in enumerate(WINDOWS):
        sigma_ul = _helene(n, b) / s0
        assert limits.sigma_ul["flat"][i] == pytest.approx(sigma_ul, rel=1e-6)
        born = float(interpretation.born_unit_cross_section(ma, mh, sqrt_s=roots))
        br = float(decay.branching_ratio_mumu(ma))
        assert limits.coupling_ul("born")[i] == pytest.approx(sigma_ul / (born * br), rel=1e-6)


def test_br_uncertainty_is_a_truncated_gaussian_smearing(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    inputs = interpretation.scan_inputs(_results())
    limits = interpretation.coupling_limits(inputs, cfg, priors=("flat",))
    for i in (0, 1):
        _, _, _, n, s0, b = WINDOWS[i]
        reference = _smeared_limit(n, s0, b, 0.04)
        assert limits.sigma_ul_br["flat"][i] == pytest.approx(reference, rel=2e-4)
        # the smearing loosens the limit, but by much less than 4 %
        assert 1.0 < limits.sigma_ul_br["flat"][i] / limits.sigma_ul["flat"][i] < 1.01


def test_couplings_document_contents_and_schema(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, '[interpretation]\npriors = ["flat", "log"]\n')
    path = tmp_path / "results.json"
    write_json(path, _results(with_syst=True))
    doc = interpretation.interpret(path, cfg)
    schemas.validate(doc, "couplings", source="couplings.json")
    assert doc["cross_section"] == "born"
    assert "Born" in doc["cross_section_note"]
    rows = {row["id"]: row for row in doc["windows"]}
    assert rows[13]["near_resonance"] == "J/psi"
    assert rows[11]["near_resonance"] is None
    assert 0.15 <= rows[11]["br_mumu"] <= 0.16
    roots = config.sqrt_s(cfg)
    r_a, r_h = 25.0 / roots**2, 4.0 / roots**2
    lam = 1 + r_a**2 + r_h**2 - 2 * r_a - 2 * r_h - 2 * r_a * r_h
    born = math.pi * ALPHA / (3 * roots**2) * math.sqrt(lam) * (lam + 12 * r_a) / (1 - r_a) ** 2
    assert rows[11]["sigma_unit_fb"]["born"] == pytest.approx(born * 3.893794e11, rel=1e-9)
    for row in doc["windows"]:
        by = row["eps2_alpha_d_ul_by"]
        assert row["eps2_alpha_d_ul"] == by["born"]["flat"]
        ratio = row["sigma_unit_fb"]["born"] / row["sigma_unit_fb"]["isr"]
        assert by["isr"]["flat"] == pytest.approx(by["born"]["flat"] * ratio, rel=1e-9)
        assert by["born"]["log"] is not None


def test_interpret_cli_writes_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_json(path, _results())
    out = tmp_path / "couplings.json"
    result = CliRunner().invoke(cli, ["interpret", str(path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 windows" in result.output
    doc = read_json(out, schema="couplings")
    assert len(doc["windows"]) == 4


def test_interpret_rejects_results_without_window_model(tmp_path: Path) -> None:
    from dhstat.errors import InputError

    path = tmp_path / "results.json"
    write_json(path, {"windows": []})
    with pytest.raises(InputError, match=r"results\.json: window_model: expected"):
        interpretation.interpret(path, config.load())


# ------------------------------------------------------------------------------------------
# reinterpretation on a small published set built from dhstat's own signal simulation

CENTRES = [(5.0, 2.0), (4.9, 2.0), (5.1, 2.0), (5.0, 1.7), (5.0, 2.3)]
N_EFF = 4000


def _selected(ma: float, mh: float, n: int, seed: int, *, isr: bool) -> dict:
    from dhstat import selection
    from dhstat.simulation import detector, generators

    cfg = config.load()
    truth = generators.generate_signal(ma, mh, n, cfg=cfg, rng=np.random.default_rng(seed), isr=isr)
    reco = detector.reconstruct(truth, cfg=cfg, rng=np.random.default_rng(seed + 1))
    return dict(selection.select(reco, cfg, process="signal").search)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_published(tmp_path_factory.mktemp("published"))


def _build_published(folder: Path) -> Path:
    from dhstat import systematics, windows, workspace

    cfg = config.load()
    geometry = []
    for k, (ma, mh) in enumerate(CENTRES):
        search = _selected(ma, mh, 3000, 100 + 2 * k, isr=False)
        x, y = search["mrecoil2"], search["mmumu2"]
        axes, angle = windows.covariance_ellipse(np.cov(x, y), 2.0)
        geometry.append(
            {"id": 20 + k, "center": [float(x.mean()), float(y.mean())],
             "axes": [float(a) for a in axes], "angle": float(angle), "ceta_cut": 0.9}
        )  # fmt: skip
    index = {"windows": geometry}
    inputs = []
    for k, (ma, mh) in enumerate(CENTRES):
        search = _selected(ma, mh, N_EFF, 200 + 2 * k, isr=True)
        ids, eff, err = interpretation.window_efficiencies(
            search["mrecoil2"], search["mmumu2"], search["ceta"], np.ones(search["ceta"].size),
            index, total_weight=N_EFF, total_weight2=N_EFF,
        )  # fmt: skip
        own = int(np.flatnonzero(ids == 20 + k)[0])
        g = geometry[k]
        inputs.append(
            workspace.WindowInput(
                id=g["id"], ma=ma, mh=mh, center=tuple(g["center"]), axes=tuple(g["axes"]),
                angle=g["angle"], ceta_cut=0.9, n_observed=[18, 25, 22, 30, 16][k],
                background={"mumu": (20.0, 2.0), "tautau": (4.0, 0.8), "eemumu": (0.5, 0.2)},
                efficiency=float(eff[own]), efficiency_error=float(err[own]),
            )
        )  # fmt: skip
    built = workspace.build_set(
        inputs,
        systematics.rules_from_config(cfg),
        luminosity_fb=8.34,
        sigma_max=100.0,
        provenance={
            "config_digest": None,
            "seed": None,
            "counts_sha256": None,
            "windows_sha256": None,
        },
    )
    workspace.save_set(built, folder)
    return folder


def _standard_limits(folder: Path) -> dict[int, float]:
    pub = interpretation.read_published(folder)
    limits = interpretation.window_limits(pub.window_set, cl=0.9)
    return {int(i): float(v) for i, v in zip(pub.window_set.ids, limits, strict=True)}


def _own_efficiencies(pub: interpretation.PublishedWindows) -> list[interpretation.ModelPoint]:
    points = []
    for entry in pub.index["windows"]:
        samples = pub.specs[entry["id"]]["channels"][0]["samples"]
        signal = samples[0]
        eff = signal["data"][0] / pub.luminosity_fb
        mc = next(m for m in signal["modifiers"] if m["name"] == "mcstat_signal")
        err = (mc["data"]["hi_data"][0] - signal["data"][0]) / pub.luminosity_fb
        points.append(
            interpretation.ModelPoint(
                f"w{entry['id']}", {"ma": entry["ma"], "mh": entry["mh"]},
                np.array([entry["id"]]), np.array([eff]), np.array([err]),
            )
        )  # fmt: skip
    return points


def test_default_model_through_efficiencies_reproduces_standard_limits(published: Path) -> None:
    pub = interpretation.read_published(published)
    standard = _standard_limits(published)
    limits = interpretation.reinterpret(pub.window_set, _own_efficiencies(pub), luminosity_fb=8.34)
    for result in limits:
        assert result.window == int(result.point.windows[0])
        assert result.observed[0] == pytest.approx(standard[result.window], rel=1e-9)


def test_expected_limit_uses_median_background_not_data(published: Path) -> None:
    pub = interpretation.read_published(published)
    limits = interpretation.reinterpret(pub.window_set, _own_efficiencies(pub), luminosity_fb=8.34)
    # all windows have the same background: the expected limits rank by efficiency only,
    # whatever the observed counts (18, 25, 22, 30, 16)
    expected = np.array([r.expected[0] for r in limits])
    eff = np.array([r.efficiency[0] for r in limits])
    assert np.array_equal(np.argsort(expected), np.argsort(-eff))
    # the median of Poisson(24.5) is 24: compare with the engine on a window with n = 24
    from dhstat.stats.model import WindowSet

    first = pub.window_set.subset([0])
    at_24 = WindowSet(first.ids, np.array([24]), first.signal, first.stat_background,
                      first.other_background, first.parameters, first.shifts, first.stat_width,
                      first.sigma_max)  # fmt: skip
    assert expected[0] == pytest.approx(float(interpretation.window_limits(at_24)[0]), rel=1e-9)


def test_lhe_events_reproduce_efficiency_and_limit(published: Path, tmp_path: Path) -> None:
    """(b): LHE written from dhstat's generator -> detector + selection -> same efficiency/limit."""
    from dhstat import lhe
    from dhstat.simulation import generators

    cfg = config.load()
    pub = interpretation.read_published(published)
    truth = generators.generate_signal(5.0, 2.0, N_EFF, cfg=cfg, rng=np.random.default_rng(7))
    path = tmp_path / "default.lhe"
    lhe.write(path, truth, cfg=cfg)
    events = lhe.read(path, cfg=cfg)
    point = interpretation.efficiencies_from_events(
        events, pub.index, cfg, rng=np.random.default_rng(8), name="default"
    )
    own = _own_efficiencies(pub)[0]
    k = int(np.flatnonzero(point.windows == 20)[0])
    eff, err = point.efficiency[k], point.efficiency_error[k]
    combined = math.hypot(err, own.efficiency_error[0])
    assert abs(eff - own.efficiency[0]) < 3 * combined
    result = interpretation.reinterpret(pub.window_set, [point], luminosity_fb=8.34)[0]
    j = int(np.flatnonzero(result.candidates == 20)[0])
    standard = _standard_limits(published)[20]
    # limit ~ 1 / efficiency: agreement within 3 combined relative MC uncertainties
    assert abs(result.observed[j] / standard - 1) < 3 * combined / own.efficiency[0]


def test_patchsets_reproduce_limits_with_pyhf_and_dhstat(published: Path) -> None:
    """(c): the patched published workspace gives the reinterpreted limit; pyhf can apply it."""
    import jsonpatch
    import pyhf

    from dhstat.stats.model import WindowSet

    pub = interpretation.read_published(published)
    points = [
        interpretation.ModelPoint(
            "model_a", {"ma": 5.0, "mh": 2.0}, np.array([20, 21, 22]),
            np.array([0.12, 0.05, 0.02]), np.array([0.004, 0.002, 0.001]),
        )
    ]  # fmt: skip
    result = interpretation.reinterpret(pub.window_set, points, luminosity_fb=8.34)[0]
    sets = interpretation.patchsets(pub.specs, [result], luminosity_fb=8.34, model="toy")
    assert list(sets) == [result.window]
    patchset = sets[result.window]
    patched = jsonpatch.apply_patch(pub.specs[result.window], patchset["patches"][0]["patch"])
    again = interpretation.window_limits(WindowSet.from_specs([patched]), cl=0.9)[0]
    assert again == pytest.approx(result.observed[result.chosen], rel=1e-9)
    with warnings.catch_warnings():  # pyhf 0.7 uses jsonschema's deprecated RefResolver
        warnings.simplefilter("ignore", DeprecationWarning)
        ws = pyhf.Workspace(pub.specs[result.window])
        applied = pyhf.PatchSet(patchset).apply(ws, "model_a")
    assert applied["channels"][0]["samples"][0]["data"] == pytest.approx([0.12 * 8.34])


def test_reinterpret_cli_with_efficiencies_and_events(published: Path, tmp_path: Path) -> None:
    from dhstat import lhe
    from dhstat.simulation import generators

    pub = interpretation.read_published(published)
    eff = tmp_path / "eff.json"
    write_json(eff, interpretation.efficiencies_document("default", _own_efficiencies(pub)),
               schema="efficiencies")  # fmt: skip
    out = tmp_path / "limits.json"
    args = ["reinterpret", "--workspaces", str(published), "--efficiencies", str(eff),
            "--output", str(out), "--patches", str(tmp_path / "patches")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = read_json(out, schema="reinterpretation")
    assert [p["window"] for p in doc["points"]] == [20, 21, 22, 23, 24]
    assert len(doc["patches"]["files"]) == 5
    cfg = config.load()
    truth = generators.generate_signal(5.0, 2.0, 500, cfg=cfg, rng=np.random.default_rng(3))
    lhe.write(tmp_path / "m1.lhe", truth, cfg=cfg)
    args = ["reinterpret", "--workspaces", str(published), "--events", str(tmp_path / "m1.lhe"),
            "--output", str(out), "--efficiencies-out", str(tmp_path / "derived.json")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "m1: sigma <" in result.output
    read_json(tmp_path / "derived.json", schema="efficiencies")


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 20, "efficiency": 1.5}]}]},
         "points.0.efficiencies.0.efficiency"),
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 99, "efficiency": 0.1}]}]},
         "points.0.efficiencies.0.window"),
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 20, "efficiency": 0.1},
                                           {"window": 20, "efficiency": 0.2}]}]},
         "points.0.efficiencies.1.window"),
        ({"schema_version": "1.0.0", "model": "m", "points": [
            {"name": "a", "efficiencies": [{"window": 20, "eff": 0.1}]}]},
         "points.0.efficiencies.0"),
    ],
)  # fmt: skip
def test_malformed_efficiency_files_name_file_and_entry(
    tmp_path: Path, document: dict, field: str
) -> None:
    from dhstat.errors import InputError

    path = tmp_path / "eff.json"
    write_json(path, document)
    with pytest.raises(InputError) as info:
        interpretation.read_efficiencies(path, window_ids=[20, 21])
    assert str(info.value).startswith(f"{path}: {field}"), str(info.value)
