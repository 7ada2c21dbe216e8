"""Quadrature accuracy of the window path against adaptive integration (issue 18).

The hybrid p-value (as Z) and the flat-prior Bayesian limit of single-bin windows are compared with
``scipy.integrate.quad`` on the exact single-bin integrand, written here independently of dhstat,
with the priors of statistics.md section 1: a relative background uncertainty r_b is a Gaussian of
width r_b * b on the background (a ``histosys`` or a ``staterror``), a relative efficiency
uncertainty r_s a Gaussian of width r_s * s on the signal yield, both zero-truncated (prior weight
zero where B < 0 or S < 0, normalised over the allowed region).

Grid: expected backgrounds 0.01-1000 events, observed counts n = b, b + 2 sqrt(b) + 1 and
b + 5 sqrt(b) + 3 (rounded), relative uncertainties 0-100 %. Targets: |dZ| < 1e-4 and a relative
limit deviation < 1e-4 (flat prior; a few log-prior cases as well). The slow test adds the full grid
with both uncertainties at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, special, stats

from dhstat.stats import significance, window_bayes
from dhstat.stats.model import WindowSet, window_spec

BACKGROUNDS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
RELATIVE = (0.0, 0.05, 0.1, 0.17, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0)
SIGNAL = 1.0  # signal yield per fb
SIGMA_MAX = 100.0
CL = 0.9


def _counts(b: float) -> list[int]:
    return sorted({round(b), round(b + 2 * math.sqrt(b) + 1), round(b + 5 * math.sqrt(b) + 3)})


def _expect(g: Callable[[float], float], mean: float, sd: float, eps: float = 1e-12) -> float:
    """E[g(X)], X ~ N(mean, sd) truncated to X >= 0, by adaptive quadrature."""
    if sd == 0:
        return g(mean)
    lo, hi = max(0.0, mean - 14 * sd), mean + 14 * sd
    mass = stats.norm.sf(-mean / sd)

    def integrand(x: float) -> float:
        return math.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi) * mass) * g(x)

    points = [p for p in (mean - 3 * sd, mean - sd, mean, mean + sd, mean + 3 * sd) if lo < p < hi]
    value, _ = integrate.quad(integrand, lo, hi, points=points, epsabs=0, epsrel=eps, limit=400)
    return float(value)


def _reference_z(n: int, b: float, rb: float) -> float:
    """One-sided Z of p = E[P(X >= n | B)], B ~ the truncated Gaussian background prior."""
    if n == 0:
        return 0.0
    p = _expect(lambda x: float(special.gammainc(n, x)), b, rb * b, 1e-13)
    return max(0.0, float(stats.norm.isf(p)))


_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)


def _pois(n: int, mu: float) -> float:
    return math.exp(special.xlogy(n, mu) - mu - special.gammaln(n + 1))


def _cdf(n: int, s: float, b: float, x: float) -> float:
    """int_0^x Pois(n | b + s u) du (flat prior), the closed form or Gauss-Legendre for small s x."""
    width = s * x
    if width < 1e-3 * (1 + math.sqrt(n + 1)):
        return x * sum(
            0.5 * w * _pois(n, b + width * 0.5 * (u + 1))
            for u, w in zip(_GL_X, _GL_W, strict=False)
        )
    high = b + width
    if high <= n + 1:
        diff = special.gammainc(n + 1, high) - special.gammainc(n + 1, b)
    else:
        diff = special.gammaincc(n + 1, b) - special.gammaincc(n + 1, high)
    return float(diff) / s


def _expect2(g: Callable[[float, float], float], rs: float, b: float, rb: float) -> float:
    """E[g(S, B)] over the independent truncated Gaussian priors of S and B (nested quad)."""
    if rs == 0:
        return _expect(lambda x: g(SIGNAL, x), b, rb * b, 1e-11)
    return _expect(
        lambda s: _expect(lambda x: g(s, x), b, rb * b, 1e-11), SIGNAL, rs * SIGNAL, 1e-11
    )


def _reference_limit(n: int, b: float, rs: float, rb: float, start: float) -> float:
    """The flat-prior limit: Newton iterations on the reference posterior CDF from ``start``."""
    total = _expect2(lambda s, x: _cdf(n, s, x, SIGMA_MAX), rs, b, rb)
    limit = start
    for _ in range(8):
        mass = _expect2(lambda s, x, u=limit: _cdf(n, s, x, u), rs, b, rb)
        density = _expect2(lambda s, x, u=limit: _pois(n, x + s * u), rs, b, rb)
        step = (mass - CL * total) / density
        limit -= step
        if abs(step) < 1e-10 * limit:
            return limit
    msg = f"reference Newton iteration did not converge: n={n} b={b}"
    raise AssertionError(msg)


def _window(n: int, b: float, rs: float, rb: float, form: str = "histosys") -> dict[str, object]:
    background_shifts = {"mumu": {"syst": rb * b}} if rb and form == "histosys" else None
    stat_errors = {"mumu": rb * b} if rb and form == "staterror" else None
    return window_spec(
        n=n,
        signal=SIGNAL,
        backgrounds={"mumu": b},
        signal_shifts={"syst_signal": rs * SIGNAL} if rs else None,
        background_shifts=background_shifts,
        stat_errors=stat_errors,
        sigma_max=SIGMA_MAX,
    )


@pytest.mark.parametrize("form", ["histosys", "staterror"])
def test_hybrid_z_matches_adaptive_integration(form: str) -> None:
    cases = [(n, b, r) for b in BACKGROUNDS for n in _counts(b) for r in RELATIVE]
    windows = WindowSet.from_specs([_window(n, b, 0.0, r, form) for n, b, r in cases])
    z = significance.z_of_p(significance.hybrid_pvalue(windows, windows.n[:, None])[:, 0])
    reference = np.array([_reference_z(n, b, r) for n, b, r in cases])
    worst = int(np.argmax(np.abs(z - reference)))
    assert abs(z[worst] - reference[worst]) < 1e-4, (cases[worst], z[worst], reference[worst])


def test_pvalue_tables_match_adaptive_integration() -> None:
    """The p(n) tables of the look-elsewhere toys: every count up to b + 6 sqrt(b) + 6."""
    cases = [(b, r) for b in (0.1, 2.0, 30.0, 1000.0) for r in (0.2, 0.45, 1.0)]
    windows = WindowSet.from_specs([_window(0, b, 0.0, r) for b, r in cases])
    for i, (b, r) in enumerate(cases):
        counts = np.arange(max(0, math.floor(b - 3 * math.sqrt(b))), b + 6 * math.sqrt(b) + 7)
        counts = counts[:: max(1, counts.size // 12)].astype(np.int64)
        p = significance.hybrid_pvalue(windows.subset([i]), counts[None, :])[0]
        z = significance.z_of_p(p)
        reference = [_reference_z(int(c), b, r) for c in counts]
        np.testing.assert_allclose(z, reference, rtol=0, atol=1e-4, err_msg=f"b={b} r={r}")


def _limit_cases(relative: tuple[float, ...], kind: str) -> list[tuple[int, float, float, float]]:
    """(n, b, r_s, r_b): the uncertainty r on the background, the signal or both."""
    backgrounds = (0.01, 0.1, 1.0, 3.0, 10.0, 100.0, 1000.0)
    rs = {"background": 0.0, "signal": 1.0, "both": 1.0}[kind]
    rb = {"background": 1.0, "signal": 0.0, "both": 1.0}[kind]
    return [(n, b, rs * r, rb * r) for b in backgrounds for n in _counts(b) for r in relative]


def _check_limits(cases: list[tuple[int, float, float, float]]) -> None:
    windows = WindowSet.from_specs([_window(n, b, rs, rb) for n, b, rs, rb in cases])
    limits = window_bayes.window_upper_limits(windows, cl=CL, check=False).upper_limit
    deviation = [
        abs(limits[i] / _reference_limit(n, b, rs, rb, float(limits[i])) - 1.0)
        for i, (n, b, rs, rb) in enumerate(cases)
    ]
    worst = int(np.argmax(deviation))
    assert deviation[worst] < 1e-4, (cases[worst], limits[worst], deviation[worst])


@pytest.mark.parametrize("kind", ["background", "signal"])
def test_flat_limit_matches_adaptive_integration(kind: str) -> None:
    _check_limits(_limit_cases((0.1, 0.17, 0.3, 0.45, 0.7, 1.0), kind))


def test_flat_limit_both_uncertainties() -> None:
    """Signal and background uncertainties together (two nested quad integrals): a few cases."""
    cases = [(n, b, r, r) for b in (0.1, 3.0) for n in _counts(b)[1:] for r in (0.3, 1.0)]
    _check_limits(cases)


@pytest.mark.slow
def test_flat_limit_both_uncertainties_grid() -> None:
    _check_limits(_limit_cases((0.1, 0.3, 0.45, 0.7, 1.0), "both"))


def _log_cdf(n: int, s: float, b: float, x: float, low: float) -> float:
    """int_low^x Pois(n | b + s sigma) / sigma dsigma (log prior), adaptive in ln sigma."""
    value, _ = integrate.quad(
        lambda u: _pois(n, b + s * math.exp(u)),
        math.log(low),
        math.log(x),
        epsabs=0,
        epsrel=1e-11,
        limit=200,
    )
    return float(value)


def test_log_prior_limit_matches_adaptive_integration() -> None:
    low = 1.0
    cases = [
        (n, b, rs, rb)
        for b in (0.1, 3.0)
        for n in _counts(b)[1:]
        for rs, rb in ((0.0, 1.0), (1.0, 0.0))
    ]
    windows = WindowSet.from_specs([_window(n, b, rs, rb) for n, b, rs, rb in cases])
    limits = window_bayes.window_upper_limits(windows, prior="log", sigma_min=low).upper_limit
    for i, (n, b, rs, rb) in enumerate(cases):
        total = _expect2(lambda s, x, k=n: _log_cdf(k, s, x, SIGMA_MAX, low), rs, b, rb)
        limit = float(limits[i])
        mass = _expect2(lambda s, x, u=limit, k=n: _log_cdf(k, s, x, u, low), rs, b, rb)
        density = _expect2(lambda s, x, u=limit, k=n: _pois(k, x + s * u) / u, rs, b, rb)
        # one Newton step of the reference CDF from dhstat's limit: the deviation to first order
        deviation = abs((mass - CL * total) / density) / limit
        assert deviation < 1e-4, (cases[i], limit, deviation)
