"""Counts far above any background (1e7, 1e9 events): p, Z and B10 against references written here.

The one-bin "smeared" workspace of the adversarial suite: a background ``b`` with a normsys
(``hi = 1 + r``, ``lo = 1 - r``, pyhf's exponential code 1) and a staterror (relative width r),
a signal ``eps`` per unit POI with a histosys (+-r, linear). With 1e9 observed events the
normsys pulls the background up to the count (alpha ~ 1400: ``(1 + r)^alpha b = n``), at a prior
cost of about 1e6 in ``ln``; the signal (at most a few hundred events) then hardly matters, so
B10 ~ 1 is right, and ``ln p ~ -1e6`` (Z ~ 1400). Prior-node quadrature misses that tail: it gave
Z = 181955 (issue 14/17), the Poisson tail of the largest node's background.

The references integrate over (alpha, z) on a dense grid following the ridge ``B(alpha, z) = n``
(z the staterror in prior widths), with no dhstat code: ``ln p`` of the hybrid p-value
``E_prior[P(X >= n | B)]`` and ``ln m(sigma)`` for B10 (Gauss-Legendre in sigma, Gauss-Hermite in
the histosys parameter).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import optimize, special

from dhstat.errors import InputError
from dhstat.stats import generic_bayes, significance

# the workspace the adversarial suite drew (the "huge observation" failure), at several counts
B, EPS, REL, SMAX = 19.627895736350307, 1.179869305188547, 0.0116214843923277, 452.767


def _spec(n: int, b: float = B, rel: float = REL, free: bool = False) -> dict[str, Any]:
    signal = {
        "name": "signal",
        "data": [EPS],
        "modifiers": [
            {"name": "sigma", "type": "normfactor", "data": None},
            {
                "name": "signal_shape",
                "type": "histosys",
                "data": {"hi_data": [EPS * (1 + rel)], "lo_data": [EPS * (1 - rel)]},
            },
        ],
    }
    modifiers: list[dict[str, Any]] = [
        {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1 + rel, "lo": 1 - rel}},
        {"name": "staterror_window", "type": "staterror", "data": [rel * b]},
    ]
    parameters: list[dict[str, Any]] = [{"name": "sigma", "bounds": [[0.0, SMAX]]}]
    if free:
        modifiers.append({"name": "mu_b", "type": "normfactor", "data": None})
        parameters.append({"name": "mu_b", "bounds": [[0.0, 10.0]], "inits": [1.0]})
    return {
        "channels": [
            {
                "name": "window",
                "samples": [signal, {"name": "background", "data": [b], "modifiers": modifiers}],
            }
        ],
        "observations": [{"name": "window", "data": [n]}],
        "measurements": [{"name": "m", "config": {"poi": "sigma", "parameters": parameters}}],
        "version": "1.0.0",
    }


# ----------------------------------------------------------------------------- references


def _log_kappa(alpha: np.ndarray, rel: float) -> np.ndarray:
    """ln of pyhf's normsys code-1 factor: (1 + r)^alpha above 0, (1 - r)^-alpha below."""
    return np.where(alpha >= 0, alpha * math.log1p(rel), -alpha * math.log1p(-rel))


def _log_sf(n: float, mu: np.ndarray) -> np.ndarray:
    """ln P(X >= n | mu): gammainc, or ln Pois(n; mu) + ln sum_j prod b / (n + i) in the tail."""
    with np.errstate(divide="ignore"):
        out = np.log(special.gammainc(n, mu))
    far = ~(out > -600)
    if far.any():
        m = mu[far][:, None]
        j = np.arange(1, 4001)[None, :]
        log_terms = np.cumsum(np.log(m) - np.log(n + j), axis=1)
        series = special.logsumexp(np.concatenate([np.zeros_like(m), log_terms], axis=1), axis=1)
        out[far] = n * np.log(mu[far]) - mu[far] - special.gammaln(n + 1) + series
    return out


def _log_prior(alpha: np.ndarray, z: np.ndarray, rel: float) -> np.ndarray:
    """ln of the normsys (standard normal) and staterror (normal, truncated at 0) priors."""
    return -0.5 * (alpha**2 + z**2) - math.log(2 * math.pi) - math.log(special.ndtr(1 / rel))


def _background(alpha: np.ndarray, z: np.ndarray, b: float, rel: float) -> np.ndarray:
    return b * (1 + rel * z) * np.exp(_log_kappa(alpha, rel))


def _log_tail_integral(n: float, b: float, rel: float) -> float:
    """ln of the integral of P(X >= n | B) x prior over (alpha, z): a grid around the maximum.

    Per z the integrand in alpha is unimodal: its maximum (bounded Brent), then the points 45
    below it on either side (root finding) bound a 3001-point grid.
    """

    def g(alpha: float, z: float) -> float:
        nu = _background(np.array([alpha]), np.array([z]), b, rel)
        return float(_log_sf(n, nu)[0] + _log_prior(np.array(alpha), np.array(z), rel))

    def minus(x: np.ndarray) -> float:
        return -g(x[0], x[1]) if 1 + rel * x[1] > 0 else 1e300

    starts = [np.array([0.0, 0.0]), np.array([math.log(n / b) / math.log1p(rel), 0.0])]
    start = min(starts, key=minus)
    found = optimize.minimize(
        minus,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 40000},
    )
    alpha_star, z_star = (float(v) for v in found.x)
    z = np.linspace(max(z_star - 15, -1 / rel + 1e-6), z_star + 15, 201)
    rows = []
    for zz in z:
        best = optimize.minimize_scalar(
            lambda a, zz=zz: -g(a, zz),
            bounds=(alpha_star - 60, alpha_star + 60),
            method="bounded",
            options={"xatol": 1e-12},
        )
        top, peak = float(best.x), -float(best.fun)

        def drop(a: float, zz: float = zz, peak: float = peak) -> float:
            return g(a, zz) - (peak - 45)

        lo = optimize.brentq(drop, top - 60, top) if drop(top - 60) < 0 else top - 60
        hi = optimize.brentq(drop, top, top + 60) if drop(top + 60) < 0 else top + 60
        alpha = np.linspace(lo, hi, 3001)
        zs = np.full_like(alpha, zz)
        f = _log_sf(n, _background(alpha, zs, b, rel)) + _log_prior(alpha, zs, rel)
        rows.append(float(special.logsumexp(f) + math.log(alpha[1] - alpha[0])))
    return float(special.logsumexp(rows) + math.log(z[1] - z[0]))


def _log_ridge_integral(n: float, b: float, rel: float, shift: float) -> float:
    """ln of the integral of Pois(n; B + shift) x prior, for counts far above the background.

    The posterior lies on the ridge B + shift = n (width 1 / (sqrt(n) ln(1 + r)) in alpha); the
    prior's slope there (alpha) moves it by alpha width^2. Per z a grid of alpha around it.
    """
    log_l = math.log1p(rel)
    z_guess = np.linspace(-8, 8 + math.sqrt(n), 20001)
    gamma_guess = 1 + rel * z_guess
    ok = gamma_guess > 0
    alpha_guess = np.log((n - shift) / (b * gamma_guess[ok])) / log_l
    z_star = float(z_guess[ok][np.argmax(-0.5 * (alpha_guess**2 + z_guess[ok] ** 2))])
    z = np.linspace(max(z_star - 15, -1 / rel + 1e-6), z_star + 15, 301)
    gamma = 1 + rel * z
    alpha0 = np.log((n - shift) / (b * gamma)) / log_l
    width = 1 / (math.sqrt(n) * log_l)
    u = np.linspace(-25 * width - 3 * abs(alpha0).max() * width**2, 25 * width, 1501)
    alpha = alpha0[:, None] + u[None, :]
    mu = _background(alpha, z[:, None], b, rel) + shift
    f = n * np.log(mu) - mu - special.gammaln(n + 1) + _log_prior(alpha, z[:, None], rel)
    return float(special.logsumexp(f) + math.log((z[1] - z[0]) * (u[1] - u[0])))


def reference_log_p(n: float, b: float = B, rel: float = REL) -> float:
    """ln of the hybrid p-value (no signal: the histosys does not enter)."""
    return _log_tail_integral(n, b, rel)


def reference_log_bayes_factor(n: float, b: float = B, rel: float = REL) -> float:
    """ln B10, flat POI prior on [0, SMAX]."""
    hermite, hermite_w = np.polynomial.hermite_e.hermegauss(5)
    hermite_w = hermite_w / hermite_w.sum()
    legendre, legendre_w = np.polynomial.legendre.leggauss(16)

    def log_m(sigma: float) -> float:
        s = sigma * EPS * (1 + rel * hermite)  # a symmetric histosys: linear in its parameter
        values = [_log_ridge_integral(n, b, rel, float(x)) for x in s]
        return float(special.logsumexp(values, b=hermite_w))

    log_m0 = _log_ridge_integral(n, b, rel, 0.0)
    sigmas = 0.5 * SMAX * (legendre + 1)
    ratio = np.array([log_m(s) for s in sigmas]) - log_m0
    return float(special.logsumexp(ratio, b=0.5 * legendre_w))


# ----------------------------------------------------------------------------- tests


def test_reference_matches_the_poisson_closed_form_without_pulls() -> None:
    """The reference's grid: with tiny systematics the p is the plain Poisson tail."""
    n, b, rel = 40, 20.0, 1e-4
    want = math.log(special.gammainc(n, b))
    assert reference_log_p(n, b, rel) == pytest.approx(want, abs=2e-3)


@pytest.mark.parametrize("n", [pytest.param(10**7, marks=pytest.mark.slow), 10**9])
def test_huge_count_z_follows_the_prior_tail(n: int) -> None:
    """Z from ln p of the tail where B(theta) reaches n (it was the Poisson tail: 181955)."""
    result = significance.significance(_spec(n))
    want = reference_log_p(n)
    assert result.log_p_value is not None
    assert result.integration == "importance-sampling"
    # p underflows, so its relative error is that of ln p's batches: Z's error is given instead
    assert result.z_uncertainty < 1e-3
    assert abs(result.log_p_value - want) < 0.05, (result.log_p_value, want)
    z_want = -special.ndtri_exp(want)
    assert result.z == pytest.approx(z_want, rel=1e-4)
    assert result.p_value == 0.0  # underflows: ln p ~ -1e6 (n = 1e9), -5e5 (1e7)


@pytest.mark.parametrize("n", [10**7, 10**9])
def test_huge_count_bayes_factor_against_the_reference(n: int) -> None:
    value, error = generic_bayes.log_bayes_factor(_spec(n))
    want = reference_log_bayes_factor(n)
    assert abs(value - want) <= max(3 * error, 1e-3 * max(1.0, abs(want))), (value, error, want)


def test_moderate_tail_pvalue_against_the_reference() -> None:
    """p ~ 1e-17: where prior quadrature is not exact (orders at the largest), sampled p."""
    n, b, rel = 30, 3.0, 0.1
    result = significance.significance(_spec(n, b, rel))
    want = reference_log_p(n, b, rel)
    rel_error = result.p_value_uncertainty / result.p_value
    assert abs(math.log(result.p_value) - want) < 3 * rel_error + 1e-3, (result, want)


def test_counts_beyond_the_precision_limit_are_one_clean_error() -> None:
    with pytest.raises(InputError, match="at most 1e\\+10"):
        significance.significance(_spec(10**12))


def _free_spec(n: int) -> dict[str, Any]:
    """One bin: a free background normfactor mu_b in [0, 10] and a staterror, no normsys."""
    spec = _spec(n, rel=0.1, free=True)
    background = spec["channels"][0]["samples"][1]
    background["modifiers"] = [m for m in background["modifiers"] if m["type"] != "normsys"]
    return spec


def _log_peak(n: float, sigma: float, rel: float = 0.1, b: float = B) -> float:
    """max over (staterror g, histosys beta) of ln p at mu_b = 10 (its bound: n >> any rate).

    Stationarity: g = 1 + rel^2 c (n / nu - 1), beta = a (n / nu - 1) with c = 10 b and
    a = sigma eps rel; then nu = c g + sigma eps + a beta is one equation in nu.
    """
    c, a = 10 * b, sigma * EPS * rel

    def excess(nu: float) -> float:
        return c * (1 + rel**2 * c * (n / nu - 1)) + sigma * EPS + a * a * (n / nu - 1) - nu

    nu = optimize.brentq(excess, 1.0, n, rtol=1e-15)
    g, beta = 1 + rel**2 * c * (n / nu - 1), a * (n / nu - 1)
    return n * math.log(nu) - nu - 0.5 * ((g - 1) / rel) ** 2 - 0.5 * beta**2


def test_huge_count_with_a_free_normfactor_at_its_bound() -> None:
    """ln B10 ~ 1e9: the conditional fits must move the staterror (to ~3000) with mu_b pinned.

    The Newton steps mixed the pinned normfactor with the staterror (collinear effects) and
    stopped at g = 1.01; the Laplace proposal at a bound was also far wider than the posterior's
    exponential fall-off (ESS 1): ln B10 came out 1.17e9 +- inf (3 bins: 8.1e8). The reference is
    the difference of the conditional maxima at sigma_max and 0; the Laplace volumes and the POI
    integral add O(10) to ln B10 (~1e9): a relative tolerance of 1e-7.
    """
    n = 10**9
    want = _log_peak(n, SMAX) - _log_peak(n, 0.0)
    value, error = generic_bayes.log_bayes_factor(_free_spec(n))
    assert abs(value - want) < 1e-7 * want, (value, want)
    assert error < 1.0
