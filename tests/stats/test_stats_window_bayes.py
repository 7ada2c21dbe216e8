"""Window-set limits and Bayes factors against published tables, closed forms and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from dhstat import schemas
from dhstat.errors import InputError
from dhstat.stats import bayes, scan, significance
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


def test_log_prior_sigma_min_per_window_equals_one_at_a_time() -> None:
    specs = [
        window_spec(n=n, signal=s, backgrounds={"mumu": b})
        for n, s, b in ((0, 1.0, 0.2), (3, 0.8, 1.5), (12, 1.2, 9.0))
    ]
    windows = WindowSet.from_specs(specs)
    smin = np.array([0.3, 1.1, 2.5])
    together = bayes.window_upper_limits(windows, prior="log", sigma_min=smin)
    for i in range(3):
        alone = bayes.window_upper_limits(windows.subset([i]), prior="log", sigma_min=smin[i])
        assert together.upper_limit[i] == pytest.approx(alone.upper_limit[0], rel=1e-12)
    assert together.sigma_min is not None
    np.testing.assert_array_equal(together.sigma_min, smin)


def test_log_prior_limit_against_direct_integration() -> None:
    """Flat in ln sigma on [sigma_min, sigma_max]: quad of Pois(n | b + s sigma) / sigma."""
    n, s, b, smin, smax = 4, 0.9, 1.3, 0.7, 100.0
    windows = WindowSet.from_specs([window_spec(n=n, signal=s, backgrounds={"mumu": b})])
    limit = bayes.window_upper_limits(windows, prior="log", sigma_min=np.array([smin])).upper_limit

    def mass(x: float) -> float:
        value, _ = integrate.quad(
            lambda u: stats.poisson.pmf(n, b + s * math.exp(u)),
            math.log(smin),
            math.log(x),
            epsabs=0,
            epsrel=1e-12,
            limit=200,
        )
        return float(value)

    reference = optimize.brentq(
        lambda x: mass(x) - 0.9 * mass(smax), smin * 1.0001, smax, xtol=1e-12
    )
    assert limit[0] == pytest.approx(reference, rel=1e-6)


def test_log_prior_sigma_min_checked_only_where_computed() -> None:
    windows = WindowSet.from_specs(
        [window_spec(n=1, signal=1.0, backgrounds={"b": 0.5}) for _ in range(2)]
    )
    bad = np.array([0.5, 500.0])
    with pytest.raises(InputError):
        bayes.window_upper_limits(windows, prior="log", sigma_min=bad)
    ok = bayes.window_upper_limits(windows, prior="log", sigma_min=bad, rows=np.array([0]))
    assert np.isfinite(ok.upper_limit[0])
    assert np.isnan(ok.upper_limit[1])


def test_scan_log_prior_lower_end_follows_the_expected_limit() -> None:
    specs = [
        window_spec(n=n, signal=s, backgrounds={"mumu": b})
        for n, s, b in ((0, 1.0, 0.2), (3, 0.8, 1.5), (12, 1.2, 9.0), (1, 0.001, 0.5))
    ]
    windows = WindowSet.from_specs(specs)
    result = scan.scan(windows)
    assert result.settings.log_prior_lower == "expected"
    sensitive = result.sensitive
    assert sensitive.tolist() == [True, True, True, False]
    smin = result.settings.log_prior_fraction * result.flat_expected[:3, 2]
    direct = bayes.window_upper_limits(
        windows.subset([0, 1, 2]), prior="log", sigma_min=smin
    ).upper_limit
    np.testing.assert_allclose(result.log_prior.upper_limit[:3], direct, rtol=1e-12)
    assert np.isnan(result.log_prior.upper_limit[3])
    doc = result.to_dict()
    schemas.validate(doc, "scan")
    recorded = [row["log_prior_sigma_min"] for row in doc["windows"]]
    assert recorded[:3] == pytest.approx(smin.tolist(), rel=1e-12)
    assert recorded[3] is None
    assert set(doc["summary"]["log_flat_difference"]) == {"median", "q68", "q95"}
    fixed = scan.scan(windows, settings=scan.ScanSettings(log_prior_lower="fixed"))
    direct = bayes.window_upper_limits(windows.subset([0, 1, 2]), prior="log", sigma_min=0.5)
    np.testing.assert_allclose(fixed.log_prior.upper_limit[:3], direct.upper_limit, rtol=1e-12)
    assert fixed.to_dict()["windows"][0]["log_prior_sigma_min"] == 0.5
