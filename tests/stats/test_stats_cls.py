"""Asymptotic CLs limits (qtilde) of window sets against pyhf itself and an independent closed form.

pyhf 0.7.6 pitfalls handled here: ``upper_limit`` ignores ``level`` without an explicit scan, so
the reference is ``upper_limits.toms748_scan`` with ``level`` passed explicitly (what
``upper_limit`` runs internally) and a tight tolerance; the POI bounds are set explicitly and wide
(dhstat's CLs search is not bounded by the workspace's sigma_max).
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from dhstat import config, systematics, workspace
from dhstat.stats import cls
from dhstat.stats.model import WindowSet, window_spec

pyhf = pytest.importorskip("pyhf")


def _built_windows(count: int, seed: int) -> list[dict]:
    """Window workspaces built by dhstat.workspace (the real layout and the paper's systematics)."""
    rules = systematics.rules_from_config(config.load())
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(count):
        ma = rng.uniform(1.7, 10.3)
        mh = rng.uniform(0.05, min(ma, 10.5 - ma))
        total = 10 ** rng.uniform(-1.0, 2.5)
        mc_events = rng.integers(1, 400)
        background = {
            name: (total * f, total * f / math.sqrt(mc_events))
            for name, f in {"mumu": 0.78, "tautau": 0.19, "eemumu": 0.03}.items()
        }
        eff = rng.uniform(0.02, 0.25)
        n = int(rng.poisson(total * rng.uniform(0.6, 1.6)))
        window = workspace.WindowInput(
            i, ma, mh, (1.0, 1.0), (0.1, 0.05), 0.0, 0.9, n, background, eff, 0.01 * eff
        )
        specs.append(
            workspace.build(
                window, systematics.evaluate(rules, ma, mh), luminosity_fb=8.34, sigma_max=100.0
            )
        )
    return specs


def _pyhf_limits(spec: dict, cl: float, guess: float) -> list[float]:
    """Observed and the five expected limits from pyhf (asymptotic, qtilde), at CLs = 1 - cl."""
    spec = copy.deepcopy(spec)
    spec["measurements"][0]["config"]["parameters"][0]["bounds"] = [[0.0, 1e4]]
    ws = pyhf.Workspace(spec)
    model = ws.model()
    data = ws.data(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
            data, model, 0.3 * guess, 3.0 * guess, level=1.0 - cl, rtol=1e-7, test_stat="qtilde"
        )
    return [float(obs), *(float(x) for x in exp)]


@pytest.mark.parametrize(
    ("count", "sample", "seed"),
    [
        pytest.param(60, 4, 3, id="4-of-60"),
        pytest.param(60, 20, 7, id="20-of-60", marks=pytest.mark.slow),
    ],
)
def test_cls_limits_agree_with_pyhf_on_built_windows(count: int, sample: int, seed: int) -> None:
    # all six limits (observed, expected -2 .. +2 sd) within 1e-3 relative (measured: < 3e-5)
    specs = _built_windows(count, seed=16)
    windows = WindowSet.from_specs(specs)
    rng = np.random.default_rng(seed)
    rows = rng.choice(count, size=sample, replace=False)
    ours = cls.cls_upper_limits(windows, cl=0.9)
    for i in rows:
        mine = [ours.observed[i], *ours.expected[i]]
        theirs = _pyhf_limits(specs[i], 0.9, float(ours.expected[i, 2]))
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, err_msg=f"window {i}")


def _closed_form(n: int, s: float, b: float, cl: float) -> tuple[float, float]:
    """Observed and median expected CLs limits without nuisance parameters (scipy only)."""

    def nll2(mu: float, data: float) -> float:
        nu = mu * s + b
        return 2.0 * (nu - (data * math.log(nu) if data > 0 else 0.0))

    mu_hat = max(0.0, (n - b) / s)

    def q(mu: float) -> float:
        return 0.0 if mu < mu_hat else max(nll2(mu, n) - nll2(mu_hat, n), 0.0)

    def q_asimov(mu: float) -> float:
        return max(nll2(mu, b) - nll2(0.0, b), 0.0)

    def cls_obs(mu: float) -> float:
        sq, sqa = math.sqrt(q(mu)), math.sqrt(q_asimov(mu))
        if sq <= sqa:
            return stats.norm.sf(sq) / stats.norm.cdf(sqa - sq)
        t = (q(mu) - q_asimov(mu)) / (2 * sqa)
        return stats.norm.sf(t + sqa) / stats.norm.sf(t)

    alpha = 1 - cl
    top = 100.0 * (n + 5) / s
    observed = optimize.brentq(lambda m: cls_obs(m) - alpha, mu_hat + 1e-6, top, xtol=1e-14)
    median = optimize.brentq(
        lambda m: stats.norm.sf(math.sqrt(q_asimov(m))) / 0.5 - alpha, 1e-6, top, xtol=1e-14
    )
    return observed, median


@pytest.mark.parametrize(
    ("n", "s", "b"), [(0, 1.0, 0.3), (3, 1.0, 3.0), (12, 0.7, 4.0), (90, 2.0, 100.0)]
)
def test_cls_without_systematics_matches_the_asymptotic_formulae(
    n: int, s: float, b: float
) -> None:
    windows = WindowSet.from_specs([window_spec(n=n, signal=s, backgrounds={"b": b})])
    for cl in (0.9, 0.95):
        limits = cls.cls_upper_limits(windows, cl=cl)
        observed, median = _closed_form(n, s, b, cl)
        assert limits.observed[0] == pytest.approx(observed, rel=1e-8)
        assert limits.expected[0, 2] == pytest.approx(median, rel=1e-8)
        assert np.all(np.diff(limits.expected[0]) > 0)
        value, _band = cls.cls_values(windows, [limits.observed[0]])
        assert value[0] == pytest.approx(1 - cl, rel=1e-8)
        _, at_median = cls.cls_values(windows, [limits.expected[0, 2]])
        assert at_median[0, 2] == pytest.approx(1 - cl, rel=1e-8)


def test_windows_without_signal_or_not_chosen_get_no_cls_limit() -> None:
    windows = WindowSet.from_specs(
        [window_spec(n=2, signal=s, backgrounds={"b": 1.0}) for s in (0.0, 1.0, 1.0)]
    )
    limits = cls.cls_upper_limits(windows, cl=0.9, rows=[0, 1])
    assert np.isnan(limits.observed[[0, 2]]).all()
    assert np.isnan(limits.expected[[0, 2]]).all()
    assert np.isfinite(limits.observed[1])
    assert np.isfinite(limits.expected[1]).all()
    with pytest.raises(Exception, match="cl"):
        cls.cls_upper_limits(windows, cl=0.4)
