"""The stats commands (limit, significance, scan): JSON keys, bad input, scan schema, LEE hand-off."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import integrate, optimize, special, stats

from dhstat import schemas
from dhstat.cli import cli
from dhstat.stats import bayes, generic, generic_bayes, significance
from dhstat.stats.model import WindowSet, window_spec


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _smeared(n: int, b: float) -> dict:
    return window_spec(
        n=n,
        signal=1.4,
        backgrounds={"mumu": 0.8 * b, "tautau": 0.2 * b},
        signal_shifts={"syst_detector": 0.03, "mcstat_signal": 0.05},
        background_shifts={"mumu": {"syst_detector": 0.02 * b}},
        stat_errors={"mumu": 0.1 * b},
        sigma_max=80.0,
    )


def test_limit_json_keys_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "ws.json", window_spec(n=2, signal=1.0, backgrounds={"b": 0.0}))
    code, out, _ = _run("limit", str(path), "--json")
    assert code == 0
    doc = json.loads(out)
    assert {"upper_limit", "cl", "prior", "poi", "sigma_max"} <= set(doc)
    assert doc["upper_limit"] == pytest.approx(5.32, abs=0.006)
    assert doc["sigma_max"] == 100.0
    code, out, _ = _run(
        "limit",
        str(path),
        "--json",
        "--prior",
        "log",
        "--sigma-min",
        "0.2",
        "--cl",
        "0.95",
        "--sigma-max",
        "50",
    )
    doc = json.loads(out)
    assert code == 0
    assert (doc["prior"], doc["sigma_min"], doc["cl"], doc["sigma_max"]) == ("log", 0.2, 0.95, 50.0)


def test_significance_json_keys_and_methods(tmp_path: Path) -> None:
    path = _write(tmp_path / "ws.json", window_spec(n=6, signal=1.0, backgrounds={"b": 1.5}))
    code, out, _ = _run("significance", str(path), "--json", "--sigma-max", "20")
    assert code == 0
    doc = json.loads(out)
    assert {"p_value", "z", "bayes_factor", "sigma_max", "method"} <= set(doc)
    assert doc["p_value"] == pytest.approx(stats.poisson.sf(5, 1.5), rel=1e-9)
    assert doc["sigma_max"] == 20.0
    code, out, _ = _run("significance", str(path), "--json", "--method", "asymptotic")
    assert json.loads(out)["method"] == "asymptotic"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: "{not json", "valid JSON"),
        (lambda d: {**d, "measurements": [{"name": "m", "config": {"parameters": []}}]}, "POI"),
        (
            lambda d: {
                **d,
                "measurements": [{"name": "m", "config": {"poi": ["a", "b"], "parameters": []}}],
            },
            "one POI",
        ),
        (lambda d: {k: v for k, v in d.items() if k != "observations"}, "observ"),
        (
            lambda d: {
                **d,
                "channels": [
                    {
                        "name": "window",
                        "samples": [{**d["channels"][0]["samples"][0], "data": [float("nan")]}],
                    }
                ],
            },
            "finite",
        ),
    ],
)
def test_bad_workspaces_give_one_clear_error(tmp_path: Path, mutate: object, fragment: str) -> None:
    good = window_spec(n=2, signal=1.0, backgrounds={"b": 0.5})
    bad = mutate(good)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    for command in ("limit", "significance"):
        from dhstat.cli import main

        with pytest.raises(SystemExit) as info:
            main([command, str(path)])
        assert info.value.code == 2


def test_bad_workspace_message_names_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dhstat.cli import main

    path = _write(tmp_path / "nopoi.json", {"channels": [], "version": "1.0.0"})
    with pytest.raises(SystemExit):
        main(["limit", str(path)])
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "nopoi.json" in err
    assert len(err.strip().splitlines()) == 1


def test_scan_directory_schema_and_lee_handoff(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    counts = [(0, 0.0), (1, 0.3), (12, 2.0), (5, 4.0)]
    for i, (n, b) in enumerate(counts):
        _write(folder / f"w{i}.json", _smeared(n, b))
    output = tmp_path / "results.json"
    code, _out, err = _run("scan", str(folder), "--output", str(output))
    assert code == 0, err
    doc = json.loads(output.read_text())
    schemas.validate(doc, "scan")
    rows = doc["windows"]
    assert [r["n"] for r in rows] == [n for n, _ in counts]
    assert rows[0]["z"] == 0.0  # N = 0: p = 1, one-sided Z = 0 (never -inf)
    assert rows[0]["p_value"] == 1.0
    assert all(0.0 <= r["p_value"] <= 1.0 and r["z"] >= 0.0 for r in rows)
    assert doc["summary"]["largest_excess"]["id"] == "w2"
    assert "z" in rows[2]["flags"]
    assert rows[2]["sigma_max"] == 80.0
    assert doc["settings"]["sigma_max"] is None
    # the window model rebuilds the same p-values (LEE hand-off)
    rebuilt = WindowSet.from_dict(doc["window_model"])
    p = significance.hybrid_pvalue(rebuilt, rebuilt.n[:, None])[:, 0]
    assert p.tolist() == [r["p_value"] for r in rows]
    table = significance.hybrid_pvalue(rebuilt, np.arange(20)[None, :])
    assert np.all(np.diff(table, axis=1) <= 0)
    assert table[np.arange(4), rebuilt.n].tolist() == p.tolist()
    # the same numbers with one worker as with several
    single = tmp_path / "single.json"
    code, _, _ = _run("scan", str(folder), "--output", str(single), "--workers", "1")
    assert json.loads(single.read_text())["windows"] == rows
    # explicit sigma_max on the command line
    code, _, _ = _run("scan", str(folder), "--output", str(output), "--sigma-max", "30")
    doc = json.loads(output.read_text())
    assert doc["settings"]["sigma_max"] == 30.0
    assert all(r["sigma_max"] == 30.0 for r in doc["windows"])


def test_scan_reads_workspace_index(tmp_path: Path) -> None:
    workspace = pytest.importorskip("dhstat.workspace")
    from dhstat import config, systematics

    cfg = config.load()
    rules = systematics.rules_from_config(cfg)
    inputs = [
        workspace.WindowInput(
            i,
            5.0 + 0.1 * i,
            2.0,
            (4.0, 25.0),
            (0.5, 0.05),
            0.1,
            0.9,
            n,
            {"mumu": (b, 0.1 * b), "tautau": (0.2 * b, 0.05 * b), "eemumu": (0.0, 0.0)},
            0.2,
            0.004,
        )
        for i, (n, b) in enumerate([(0, 0.2), (3, 1.0), (2, 2.5)])
    ]
    wset = workspace.build_set(
        inputs,
        rules,
        luminosity_fb=8.34,
        sigma_max=100.0,
        provenance={"config_digest": "x", "seed": 1},
    )
    workspace.save_set(wset, tmp_path)
    output = tmp_path / "results.json"
    code, _, err = _run("scan", str(tmp_path), "--output", str(output))
    assert code == 0, err
    doc = json.loads(output.read_text())
    assert [r["id"] for r in doc["windows"]] == [0, 1, 2]
    assert doc["windows"][1]["eps"] == pytest.approx(0.2, rel=1e-12)
    assert doc["windows"][1]["ma"] == pytest.approx(5.1)
    assert doc["provenance"]["index_sha256"]


def test_window_set_roundtrip_and_subset() -> None:
    ws = WindowSet.from_specs([_smeared(3, 1.0), _smeared(0, 0.0)], ids=["a", "b"])
    again = WindowSet.from_dict(json.loads(json.dumps(ws.to_dict())))
    assert again.ids == ws.ids
    assert np.array_equal(again.shifts, ws.shifts)
    assert bayes.window_bayes_factors(again).tolist() == bayes.window_bayes_factors(ws).tolist()
    sub = ws.subset([1])
    assert sub.ids == ("b",)
    assert math.isclose(
        bayes.window_upper_limits(sub).upper_limit[0],
        bayes.window_upper_limits(ws).upper_limit[1],
        rel_tol=1e-12,
    )


# ------------------------------------------------------------------ issue 17: no silent wrong results


@pytest.mark.parametrize(
    ("argv", "bounds", "fragment"),
    [
        (["--sigma-max", "0"], [0.0, 80.0], "<command line>: --sigma-max: expected a finite number > 0"),
        (["--sigma-max", "-5"], [0.0, 80.0], "<command line>: --sigma-max: expected"),
        (["--sigma-max", "nan"], [0.0, 80.0], "<command line>: --sigma-max: expected"),
        ([], [0.0, 0.0], "bounds of the POI sigma: expected [lower, upper] with lower <= 0 < upper"),
        ([], [100.0, 0.0], "bounds of the POI sigma: expected"),
    ],
)  # fmt: skip
def test_significance_refuses_what_gave_b10_inf_or_null(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    bounds: list[float],
    fragment: str,
) -> None:
    from dhstat.cli import main

    spec = _smeared(4, 1.0)
    spec["measurements"][0]["config"]["parameters"][0]["bounds"] = [bounds]
    path = _write(tmp_path / "ws.json", spec)
    for command in ("significance", "limit"):
        with pytest.raises(SystemExit) as info:
            main([command, str(path), "--json", *argv])
        assert info.value.code == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("error: ")
        assert fragment in lines[0]


def test_significance_of_a_million_events_deficit_is_finite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """N = 1e6 over B = 1.2e6: the likelihood underflows; B10 was 0.0, now the integral's value.

    Without uncertainties B10 = int_0^smax exp(l(x) - l(0)) dx / smax, l(x) = N ln(B + x) - x,
    computed here by scipy quad.
    """
    from scipy import integrate

    from dhstat.cli import main

    n, b, smax = 10**6, 1.2e6, 100.0
    path = _write(tmp_path / "ws.json", window_spec(n=n, signal=1.0, backgrounds={"b": b}))
    main(["significance", str(path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    reference = (
        integrate.quad(
            lambda x: math.exp(n * math.log1p(x / b) - x), 0.0, smax, epsabs=0.0, epsrel=1e-12
        )[0]
        / smax
    )
    assert doc["bayes_factor"] == pytest.approx(reference, rel=1e-8)
    assert doc["p_value"] == pytest.approx(1.0)


# ------------------------------------------------------------------ very large counts


def _reference(n: float, b: float, s: float, smax: float, cl: float = 0.9) -> tuple[float, float]:
    """(ln B10, flat-prior limit) of Pois(n | b + s x), x flat on [0, smax], by scipy quad.

    Independent of dhstat: the integrand is the likelihood ratio to its maximum, integrated with
    adaptive quadrature using break points at the mode and a few posterior widths around it.
    """

    def ell(x: float) -> float:
        return float(special.xlogy(n, b + s * x) - (b + s * x))

    mode = min(max((n - b) / s, 0.0), smax)
    peak = ell(mode)
    slope = abs(n * s / (b + s * mode) - s)
    width = math.sqrt(max(n, 1.0)) / s
    if mode in (0.0, smax) and slope > 0:
        width = min(width, 1.0 / slope)
    points = sorted(
        {min(max(mode + k * width, 0.0), smax) for k in (-30, -10, -3, -1, 1, 3, 10, 30)}
        - {0.0, smax}
    )

    def area(low: float, high: float) -> float:
        inside = [p for p in points if low < p < high] or None
        return float(
            integrate.quad(
                lambda x: math.exp(ell(x) - peak),
                low,
                high,
                points=inside,
                limit=1000,
                epsabs=0.0,
                epsrel=1e-12,
            )[0]
        )

    total = area(0.0, smax)
    log_b10 = math.log(total) + peak - ell(0.0) - math.log(smax)
    limit = optimize.brentq(lambda u: area(0.0, u) - cl * total, 0.0, smax, xtol=1e-15)
    return log_b10, limit


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.filterwarnings("ignore:.*depends on sigma_max")
@pytest.mark.parametrize(
    ("n", "b", "s", "smax", "tolerance"),
    [
        (10**6, 1.2e6, 1.0, 100.0, 1e-8),  # a 180-sigma deficit: m underflows everywhere
        (10**6, 0.5, 1.0, 100.0, 1e-10),  # far beyond the prior: the posterior piles at sigma_max
        (10**6, 9.9e5, 1.0, 1e5, 1e-9),  # a 10-sigma excess, B10 ~ 2e20
        (10**6, 1e6, 1.0, 100.0, 1e-8),
        (10**9, 1.0001e9, 10.0, 1e4, 1e-5),  # 1e9 counts: ln L resolved to ~1e-7
    ],
)
def test_very_large_counts_give_the_right_answer(
    n: int, b: float, s: float, smax: float, tolerance: float
) -> None:
    spec = window_spec(n=n, signal=s, backgrounds={"b": b}, sigma_max=smax)
    model = generic.GenericModel.from_spec(spec)
    log_b10, limit = _reference(n, b, s, smax)
    got_log, error = generic_bayes.log_bayes_factor(model)
    assert error == 0.0
    assert got_log == pytest.approx(log_b10, rel=tolerance, abs=tolerance)
    got = bayes.upper_limit(model)
    assert 0 < got.upper_limit <= smax
    assert got.upper_limit == pytest.approx(limit, rel=tolerance)
    if log_b10 < 700:
        assert generic_bayes.bayes_factor(model)[0] == pytest.approx(math.exp(log_b10), rel=1e-6)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_very_large_counts_several_bins_and_a_nuisance() -> None:
    """Two bins (numeric path) with a 10 % signal uncertainty: nested quad as the reference."""
    n, b, s, smax = np.array([10**6, 10**6]), np.array([1.2e6, 1.1e6]), np.array([1.0, 2.0]), 50.0
    spec = window_spec(n=0, signal=1.0, backgrounds={"b": 1.0}, sigma_max=smax)
    channel = spec["channels"][0]
    channel["samples"][0]["data"] = s.tolist()
    channel["samples"][0]["modifiers"].append(
        {
            "name": "eff",
            "type": "histosys",
            "data": {"hi_data": (1.1 * s).tolist(), "lo_data": (0.9 * s).tolist()},
        }
    )
    channel["samples"][1]["data"] = b.tolist()
    spec["observations"][0]["data"] = n.tolist()
    model = generic.GenericModel.from_spec(spec)
    assert model.n_bins == 2

    def ell(x: float, theta: float) -> float:
        mu = b + s * (1 + 0.1 * theta) * x
        return float((special.xlogy(n, mu) - mu).sum())

    reference = ell(0.0, 0.0)

    def ratio(x: float) -> float:  # m(x) / m(0), the nuisance integrated with its normal prior
        def inner(theta: float) -> float:
            return math.exp(ell(x, theta) - reference - 0.5 * theta**2) / math.sqrt(2 * math.pi)

        return float(integrate.quad(inner, -9.0, 9.0, epsabs=0.0, epsrel=1e-12)[0])

    total = integrate.quad(ratio, 0.0, smax, points=[0.01, 0.1, 1.0], epsabs=0.0, epsrel=1e-11)[0]
    log_b10 = math.log(total / smax)
    got, _ = generic_bayes.log_bayes_factor(model)
    assert got == pytest.approx(log_b10, rel=1e-6)
    limit = optimize.brentq(
        lambda u: integrate.quad(ratio, 0.0, u, epsabs=0.0, epsrel=1e-11)[0] - 0.9 * total,
        0.0,
        smax,
        xtol=1e-13,
    )
    assert bayes.upper_limit(model).upper_limit == pytest.approx(limit, rel=1e-6)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_bayes_factor_beyond_the_largest_float_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dhstat.cli import main

    spec = window_spec(n=10**6, signal=1e4, backgrounds={"b": 5e5})
    path = _write(tmp_path / "ws.json", spec)
    log_b10, limit = _reference(10**6, 5e5, 1e4, 100.0)
    with pytest.raises(SystemExit) as info:
        main(["significance", str(path)])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: observations: expected ")
    assert f"ln B10 = {log_b10:.6g}" in lines[0]  # the value is still given
    assert generic_bayes.log_bayes_factor(spec)[0] == pytest.approx(log_b10, rel=1e-12)
    # the limit of the same workspace is an ordinary number
    main(["limit", str(path), "--json"])
    assert json.loads(capsys.readouterr().out)["upper_limit"] == pytest.approx(limit, rel=1e-10)
