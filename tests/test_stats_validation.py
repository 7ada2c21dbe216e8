"""Validation of the stats engine against published tables, closed forms, pyhf and brute force."""

from __future__ import annotations

import math

import numpy as np
import pyhf
import pytest
from scipy import optimize, special, stats

from dhstat.stats import bayes, generic, significance
from dhstat.stats.model import WindowSet, window_spec

PDG = {
    0.90: [2.30, 3.89, 5.32, 6.68, 7.99, 9.27, 10.53, 11.77, 12.99, 14.21, 15.41],
    0.95: [3.00, 4.74, 6.30, 7.75, 9.15, 10.51, 11.84, 13.15, 14.43, 15.71, 16.96],
}


def _helene(n: int, b: float, cl: float) -> float:
    """Solve 1 - CL = F(n; s + b) / F(n; b) for s (scipy, independent of dhstat)."""

    def f(s: float) -> float:
        return stats.poisson.cdf(n, s + b) / stats.poisson.cdf(n, b) - (1 - cl)

    return float(optimize.brentq(f, 0.0, 1000.0, xtol=1e-14, rtol=1e-14))


@pytest.mark.parametrize("cl", [0.90, 0.95])
def test_pdg_table_flat_prior_b0(cl: float) -> None:
    specs = [window_spec(n=n, signal=1.0, backgrounds={"b": 0.0}) for n in range(11)]
    windows = WindowSet.from_specs(specs)
    vectorised = bayes.window_upper_limits(windows, cl=cl).upper_limit
    for n, expected in enumerate(PDG[cl]):
        assert vectorised[n] == pytest.approx(expected, abs=0.006)
        generic_limit = bayes.upper_limit(specs[n], cl=cl).upper_limit
        assert generic_limit == pytest.approx(expected, abs=0.006)


@pytest.mark.parametrize(
    ("n", "b"), [(0, 0.5), (1, 0.2), (3, 2.5), (7, 3.0), (20, 12.0), (60, 80.0)]
)
def test_helene_formula_b_positive(n: int, b: float) -> None:
    signal = 0.7
    spec = window_spec(n=n, signal=signal, backgrounds={"mumu": b * 0.8, "tautau": b * 0.2})
    ws = WindowSet.from_specs([spec])
    for cl in (0.9, 0.95):
        reference = _helene(n, b, cl) / signal
        assert bayes.window_upper_limits(ws, cl=cl).upper_limit[0] == pytest.approx(
            reference, rel=1e-4
        )
        assert bayes.upper_limit(spec, cl=cl).upper_limit == pytest.approx(reference, rel=1e-4)


@pytest.mark.parametrize(
    ("n", "b", "s", "smax"),
    [(0, 1.0, 1.0, 100.0), (5, 1.2, 2.0, 30.0), (12, 4.0, 0.3, 100.0), (40, 35.0, 1.5, 50.0)],
)
def test_bayes_factor_closed_form(n: int, b: float, s: float, smax: float) -> None:
    spec = window_spec(n=n, signal=s, backgrounds={"b": b}, sigma_max=smax)
    s_max = s * smax
    reference = (stats.poisson.cdf(n, b) - stats.poisson.cdf(n, b + s_max)) / (
        s_max * stats.poisson.pmf(n, b)
    )
    ws = WindowSet.from_specs([spec])
    assert bayes.window_bayes_factors(ws)[0] == pytest.approx(reference, rel=1e-6)
    assert significance.significance(spec).bayes_factor == pytest.approx(reference, rel=1e-6)


def test_log_prior_without_uncertainty_matches_direct_integral() -> None:
    n, b, s, smin, smax, cl = 4, 1.5, 1.2, 0.5, 100.0, 0.9
    spec = window_spec(n=n, signal=s, backgrounds={"b": b}, sigma_max=smax)

    def density(x: float) -> float:
        return float(stats.poisson.pmf(n, b + s * x) / x)

    total = quad_log(density, smin, smax)
    ref = optimize.brentq(lambda u: quad_log(density, smin, u) - cl * total, smin, smax)
    result = bayes.upper_limit(spec, prior="log", sigma_min=smin)
    assert result.upper_limit == pytest.approx(ref, rel=1e-6)
    assert result.sigma_min == smin


def quad_log(density: object, lo: float, hi: float) -> float:
    from scipy import integrate

    value, _ = integrate.quad(
        lambda t: density(math.exp(t)) * math.exp(t),  # type: ignore[operator]
        math.log(lo),
        math.log(hi),
        epsabs=0,
        epsrel=1e-12,
        limit=200,
    )
    return float(value)


@pytest.mark.parametrize(
    ("n", "b", "s"),
    [(400, 390.0, 1.1), (3, 2.0, 1.5), (10, 5.0, 0.2), (0, 0.3, 2.0), (25, 4.0, 1.0)],
)
def test_log_prior_series_and_numeric_paths_agree(n: int, b: float, s: float) -> None:
    x = np.array([float(n)])
    sig, bkg, w = np.array([[s, 1.05 * s]]), np.array([[b, 0.9 * b]]), np.array([[0.6, 0.4]])
    smin, smax = np.array([0.5]), np.array([100.0])
    numeric = bayes._log_limit_numeric(x, sig, bkg, w, 0.9, smin, smax)
    series = bayes._log_limit_series(x, sig, bkg, w, 0.9, smin, smax)
    assert numeric[0] == pytest.approx(series[0], rel=1e-7)


def test_asymptotic_z_equals_pyhf_q0() -> None:
    spec = window_spec(
        n=14,
        signal=1.3,
        backgrounds={"mumu": 5.0, "tautau": 1.0},
        signal_shifts={"syst_detector": 0.03},
        background_shifts={"mumu": {"syst_detector": 0.1, "syst_ceta": 0.05}},
        stat_errors={"mumu": 0.4, "tautau": 0.2},
    )
    with generic.quiet_pyhf():
        ws = pyhf.Workspace(spec)
        model = ws.model()
        q0 = pyhf.infer.test_statistics.q0(
            0.0,
            ws.data(model),
            model,
            model.config.suggested_init(),
            model.config.suggested_bounds(),
            model.config.suggested_fixed(),
        )
        p0 = pyhf.infer.hypotest(0.0, ws.data(model), model, test_stat="q0")
    result = significance.significance(spec, method="asymptotic")
    assert result.z == pytest.approx(math.sqrt(float(q0)), rel=1e-6)
    assert result.p_value == pytest.approx(float(p0), rel=1e-6)
    assert result.method == "asymptotic"


def _smeared_spec(n: int, b: float, s: float, rel_s: float, rel_b: float, stat: float) -> dict:
    return window_spec(
        n=n,
        signal=s,
        backgrounds={"mumu": b},
        signal_shifts={"syst_detector": rel_s * s * 0.6, "mcstat_signal": rel_s * s * 0.8},
        background_shifts={"mumu": {"syst_detector": rel_b * b}},
        stat_errors={"mumu": stat * b},
    )


def _brute_force(
    n: int, b: float, s: float, rel_s: float, rel_b: float, stat: float, smax: float, cl: float
) -> dict[str, tuple[float, float]]:
    """Monte Carlo over the priors, written independently of dhstat (fixed seed)."""
    rng = np.random.default_rng(2024)
    size = 400_000
    det = rng.standard_normal(size)
    mc = rng.standard_normal(size)
    gamma = stats.truncnorm.rvs(-1 / stat, np.inf, loc=1, scale=stat, size=size, random_state=rng)
    sig = s + rel_s * s * (0.6 * det + 0.8 * mc)
    bkg = gamma * (b + rel_b * b * det)
    keep = (sig >= 0) & (bkg >= 0)
    sig, bkg = sig[keep], bkg[keep]
    out = {}
    tail = special.gammainc(n, bkg) if n > 0 else np.ones_like(bkg)
    out["p"] = (tail.mean(), tail.std() / math.sqrt(tail.size))

    def j(u: float) -> np.ndarray:
        return (special.gammaincc(n + 1, bkg) - special.gammaincc(n + 1, bkg + sig * u)) / sig

    num, den = j(smax), stats.poisson.pmf(n, bkg)
    bf = num.mean() / (smax * den.mean())
    # delta-method standard error of a ratio of means
    cov = np.cov(num, den)
    var = (
        (
            cov[0, 0] / num.mean() ** 2
            + cov[1, 1] / den.mean() ** 2
            - 2 * cov[0, 1] / (num.mean() * den.mean())
        )
        * bf**2
        / num.size
    )
    out["bf"] = (bf, math.sqrt(var))
    total = num.mean()
    ul = optimize.brentq(lambda u: j(u).mean() - cl * total, 1e-9, smax, xtol=1e-12)
    # standard error of the limit: batches
    parts = np.array_split(np.arange(sig.size), 20)
    uls = []
    for part in parts:

        def jp(u: float, idx: np.ndarray = part) -> float:
            g = special.gammaincc(n + 1, bkg[idx]) - special.gammaincc(
                n + 1, bkg[idx] + sig[idx] * u
            )
            return float((g / sig[idx]).mean())

        tp = jp(smax)
        uls.append(optimize.brentq(lambda u, f=jp, t=tp: f(u) - cl * t, 1e-9, smax))
    out["ul"] = (ul, float(np.std(uls, ddof=1) / math.sqrt(len(uls))))
    return out


@pytest.mark.parametrize(
    ("n", "b", "s", "rel_s", "rel_b", "stat"),
    [(3, 1.0, 1.5, 0.2, 0.3, 0.3), (0, 0.4, 1.0, 0.2, 0.5, 0.5), (9, 3.0, 0.8, 0.1, 0.2, 0.6)],
)
def test_smeared_against_brute_force_monte_carlo(
    n: int, b: float, s: float, rel_s: float, rel_b: float, stat: float
) -> None:
    spec = _smeared_spec(n, b, s, rel_s, rel_b, stat)
    ws = WindowSet.from_specs([spec])
    ref = _brute_force(n, b, s, rel_s, rel_b, stat, 100.0, 0.9)
    p = significance.hybrid_pvalue(ws, ws.n[:, None])[0, 0]
    bf = bayes.window_bayes_factors(ws)[0]
    ul = bayes.window_upper_limits(ws, check=False).upper_limit[0]
    for name, value in (("p", p), ("bf", bf), ("ul", ul)):
        mean, error = ref[name]
        assert abs(value - mean) <= 5 * error + 1e-12, (name, value, mean, error)


def test_vectorised_path_equals_generic_path_on_random_windows() -> None:
    rng = np.random.default_rng(11)
    specs = []
    for _ in range(3):
        b = float(10 ** rng.uniform(-1.5, 1.0))
        s = float(rng.uniform(0.5, 2.0))
        specs.append(
            window_spec(
                n=int(rng.poisson(b)),
                signal=s,
                backgrounds={"mumu": 0.8 * b, "tautau": 0.2 * b},
                signal_shifts={
                    "syst_detector": 0.02 * s,
                    "syst_mass_resolution": 0.024 * s,
                    "mcstat_signal": 0.04 * s,
                },
                background_shifts={
                    "mumu": {"syst_detector": 0.016 * b, "syst_ceta": 0.008 * b},
                    "tautau": {"syst_detector": 0.004 * b, "syst_ceta": 0.002 * b},
                },
                stat_errors={"mumu": 0.15 * b, "tautau": 0.05 * b},
            )
        )
    ws = WindowSet.from_specs(specs).with_quadrature(1e-10, 24)
    settings = generic.Settings(quadrature_tolerance=1e-10)
    p = significance.hybrid_pvalue(ws, ws.n[:, None])[:, 0]
    bf = bayes.window_bayes_factors(ws)
    flat = bayes.window_upper_limits(ws).upper_limit
    logl = bayes.window_upper_limits(ws, prior="log").upper_limit
    for i, spec in enumerate(specs):
        model = generic.GenericModel.from_spec(spec)
        sig = significance.significance(model, settings=settings)
        assert sig.p_value == pytest.approx(p[i], rel=1e-6)
        assert sig.bayes_factor == pytest.approx(bf[i], rel=1e-6)
        assert bayes.upper_limit(model, settings=settings).upper_limit == pytest.approx(
            flat[i], rel=1e-6
        )
        assert bayes.upper_limit(model, prior="log", settings=settings).upper_limit == (
            pytest.approx(logl[i], rel=1e-6)
        )


@pytest.mark.parametrize(
    ("n", "b", "s", "rel"),
    [
        (0, 0.0, 1.5, 0.0),
        (0, 1e-9, 1.5, 0.1),
        (1000, 1000.0, 1.5, 0.02),
        (2, 0.5, 1e-6, 0.05),
        (4, 2.0, 1.0, 0.0),
        (4, 2.0, 1.0, 0.5),
    ],
)
def test_edge_cases_give_finite_consistent_results(n: int, b: float, s: float, rel: float) -> None:
    spec = window_spec(
        n=n,
        signal=s,
        backgrounds={"mumu": b},
        signal_shifts={"syst_detector": rel * s} if rel else None,
        background_shifts={"mumu": {"syst_detector": rel * b}} if rel else None,
        stat_errors={"mumu": rel * b} if rel and b > 0 else None,
    )
    ws = WindowSet.from_specs([spec])
    p = significance.hybrid_pvalue(ws, ws.n[:, None])[0, 0]
    assert 0 <= p <= 1
    if n == 0:
        assert p == 1.0
    flat = bayes.window_upper_limits(ws)
    limit = flat.upper_limit[0]
    assert 0 < limit <= 100.0
    log_limit = bayes.window_upper_limits(ws, prior="log").upper_limit[0]
    assert 0.5 < log_limit <= 100.0
    if s < 1e-3:
        # efficiency -> 0: the posterior is flat on [0, sigma_max]; the limit is CL * sigma_max
        assert limit == pytest.approx(90.0, rel=1e-3)
        assert flat.sigma_max_dependent[0]
    if rel == 0 and b > 0:
        assert limit == pytest.approx(_helene(n, b, 0.9) / s, rel=1e-6)
    if n == 1000:
        # Gaussian regime: half-normal posterior of width sqrt(N + sigma_B^2), 90 % at 1.645 widths
        assert limit * s == pytest.approx(1.6449 * math.sqrt(1000 + 2 * 20.0**2), rel=0.05)


def test_multibin_multichannel_monte_carlo_reports_uncertainty() -> None:
    channels, observations = [], []
    rng = np.random.default_rng(5)
    for c in range(2):
        bins = 4
        sig = list(rng.uniform(0.2, 1.0, bins))
        bkg = list(rng.uniform(2.0, 6.0, bins))
        obs = [int(v) for v in rng.poisson(bkg)]
        channels.append(
            {
                "name": f"ch{c}",
                "samples": [
                    {
                        "name": "signal",
                        "data": sig,
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {"name": "lumi", "type": "lumi", "data": None},
                            {
                                "name": f"sig_norm{c}",
                                "type": "normsys",
                                "data": {"hi": 1.05, "lo": 0.95},
                            },
                        ],
                    },
                    {
                        "name": "bkg",
                        "data": bkg,
                        "modifiers": [
                            {
                                "name": f"stat{c}",
                                "type": "staterror",
                                "data": [0.03 * v for v in bkg],
                            },
                            {
                                "name": f"shape{c}",
                                "type": "shapesys",
                                "data": [0.02 * v for v in bkg],
                            },
                            {
                                "name": "bkg_norm",
                                "type": "normsys",
                                "data": {"hi": 1.02, "lo": 0.98},
                            },
                            {
                                "name": f"bkg_shape{c}",
                                "type": "histosys",
                                "data": {
                                    "hi_data": [1.01 * v for v in bkg],
                                    "lo_data": [0.99 * v for v in bkg],
                                },
                            },
                        ],
                    },
                ],
            }
        )
        observations.append({"name": f"ch{c}", "data": obs})
    spec = {
        "channels": channels,
        "observations": observations,
        "measurements": [
            {
                "name": "m",
                "config": {
                    "poi": "mu",
                    "parameters": [
                        {"name": "mu", "bounds": [[0.0, 50.0]]},
                        {
                            "name": "lumi",
                            "auxdata": [1.0],
                            "sigmas": [0.02],
                            "bounds": [[0.5, 1.5]],
                            "inits": [1.0],
                        },
                    ],
                },
            }
        ],
        "version": "1.0.0",
    }
    model = generic.GenericModel.from_spec(spec)
    assert len(model.priors) >= 20
    settings = generic.Settings(mc_samples=20_000, max_quadrature_points=1000)
    result = bayes.upper_limit(model, settings=settings)
    assert result.method == "monte-carlo"
    assert result.numerical_uncertainty > 0
    # reference: the small uncertainties barely matter; integrate the nominal likelihood (scipy)
    n = np.concatenate([o["data"] for o in observations]).astype(float)
    s = np.concatenate([ch["samples"][0]["data"] for ch in channels])
    b = np.concatenate([ch["samples"][1]["data"] for ch in channels])

    def like(x: float) -> float:
        return float(np.exp(stats.poisson.logpmf(n, b + s * x).sum()))

    from scipy import integrate

    total = integrate.quad(like, 0, 50, limit=200)[0]
    nominal = optimize.brentq(
        lambda u: integrate.quad(like, 0, u, limit=200)[0] - 0.9 * total, 1e-6, 50
    )
    assert result.upper_limit == pytest.approx(nominal, rel=0.05)
