"""Asymptotic CLs upper limits (test statistic qtilde) of a whole window set, as pyhf computes them.

The frequentist cross-check of the Bayesian limits: ``pyhf.infer.hypotest(mu, data, model,
test_stat="qtilde", calctype="asymptotic")`` and its expected band (Cowan, Cranmer, Gross, Vitells,
EPJC 71 (2011) 1554, arXiv:1007.1727), for every window at once with numpy, without a pyhf model.

The likelihood is the window's pyhf likelihood (:mod:`dhstat.stats.model`)::

    -2 ln L = 2 (nu - N ln nu) + sum_j (theta_j - a_j)^2 + ((gamma - a_gamma) / delta)^2 + const
    nu = mu S(theta) + gamma G(theta) + H(theta)     (S, G, H linear in theta)

with the auxiliary data ``a = 0``, ``a_gamma = 1`` for the observation. The nuisance parameters are
profiled in closed form: at fixed (mu, gamma) the rate is linear in theta, so the optimum is
``theta - a = lambda v`` with ``v = d nu / d theta`` and ``lambda = N / nu - 1``, a quadratic
equation in lambda; only the Gram matrix of the histosys shifts of (S, G, H) enters, whatever the
number of parameters. gamma (the staterror) is then found by a safeguarded Newton iteration on the
profiled objective (exact first and second derivatives). The fits are those of pyhf:

* free fit: ``mu_hat = max(0, (N - B) / S)`` at the nominal nuisances (the saturated point);
* Asimov data (background only): the expected count and auxiliary data at the nuisances of the
  conditional fit ``mu = 0`` to the observation (``pyhf.infer.calculators.generate_asimov_data``);
* ``qtilde(mu) = -2 ln [L(mu, theta_hat_hat) / L(mu_hat, theta_hat)]`` for ``mu >= mu_hat``, else 0;
* ``CLs = CLs+b / CLb`` from ``sqrt(qtilde)`` and ``sqrt(q_A)`` (``calc_base_dist="normal"``), and
  the expected ``CLs(k) = Phi(-(k + sqrt(q_A))) / Phi(-k)`` for ``k = 2, 1, 0, -1, -2``.

A limit solves ``CLs(mu) = 1 - cl``. With ``cl`` = ``[stats] cl`` = 0.9 the limits are at 90 %
confidence, like the Bayesian ones (pyhf: ``upper_limit(..., level=0.1)``). Differences from pyhf,
all outside realistic windows: the nuisance parameters are not bounded (pyhf: theta in [-5, 5],
gamma in [1e-10, 10]), the search for mu is not bounded by the workspace's POI range (qtilde needs
only mu >= 0; give pyhf a wide POI bound to compare) and a rate never goes negative (pyhf allows
it for N = 0).

Example:
    >>> from dhstat.stats.model import WindowSet, window_spec
    >>> ws = WindowSet.from_specs([window_spec(n=3, signal=1.0, backgrounds={"b": 3.0})])
    >>> limits = cls_upper_limits(ws, cl=0.9)
    >>> value, band = cls_values(ws, limits.observed)  # CLs = 1 - cl at the limit
    >>> round(float(value[0]), 10), limits.expected.shape
    (0.1, (1, 5))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from dhstat.errors import InputError
from dhstat.stats import _core
from dhstat.stats.model import WindowSet

__all__ = ["ClsLimits", "cls_upper_limits", "cls_values"]

Array = NDArray[np.float64]
Rows = NDArray[np.intp]

#: Band order of the expected limits: -2, -1, 0, +1, +2 standard deviations (pyhf's k = 2 .. -2).
_BANDS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

#: A function of mu for rows of a window set, with its mu-derivative.
_Func = Callable[[Array, Rows], tuple[Array, Array]]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class ClsLimits:
    """Asymptotic CLs upper limits of a window set.

    Attributes:
        observed: Observed limit per window, shape (W,) (NaN: not computed or not found).
        expected: Expected limits (W, 5) at -2, -1, 0 (median), +1, +2 sd.
        cl: Confidence level (the limit solves CLs = 1 - cl).
    """

    observed: Array
    expected: Array
    cl: float


@dataclass(frozen=True, slots=True)
class _Data:
    """A data set of every window: counts and auxiliary data (as projections on the shifts)."""

    n: Array  # (W,) counts (non-integer for Asimov data)
    proj: Array  # (W, 3): a . dS, a . dG, a . dH
    gamma: Array  # (W,) staterror auxiliary datum


@dataclass(frozen=True, slots=True)
class _Model:
    """The numbers of a window set that the profile likelihood needs.

    Attributes:
        s0: Nominal signal per unit POI, shape (W,).
        g0: Nominal background with the staterror, shape (W,).
        h0: Nominal background without it, shape (W,).
        delta: Staterror relative width (0: none), shape (W,).
        gram: ``D^T D`` of the histosys shifts of (S, G, H), shape (W, 3, 3).
        n: Observed counts, shape (W,).
    """

    s0: Array
    g0: Array
    h0: Array
    delta: Array
    gram: Array
    n: Array

    @classmethod
    def from_windows(cls, windows: WindowSet) -> _Model:
        """The profile model of a window set."""
        return cls(
            s0=windows.signal.astype(np.float64),
            g0=windows.stat_background.astype(np.float64),
            h0=windows.other_background.astype(np.float64),
            delta=windows.stat_width.astype(np.float64),
            gram=np.einsum("wpi,wpj->wij", windows.shifts, windows.shifts),
            n=windows.n.astype(np.float64),
        )

    def observed(self) -> _Data:
        """The observation: counts N, auxiliary data 0 (histosys) and 1 (staterror)."""
        size = self.n.size
        return _Data(self.n, np.zeros((size, 3)), np.ones(size))


@dataclass(frozen=True, slots=True)
class _Point:
    """The profiled likelihood at (mu, gamma) with theta at its optimum, per row."""

    f: Array  # -2 ln L (without constants)
    nu: Array
    lam: Array
    variance: Array  # V = |v|^2
    gamma: Array


def _at(m: _Model, d: _Data, rows: Rows, mu: Array, gamma: Array) -> _Point:
    """``-2 ln L`` at (mu, gamma), profiled over theta in closed form."""
    g = m.gram[rows]
    ss, sg, sh = g[:, 0, 0], g[:, 0, 1], g[:, 0, 2]
    gg, gh, hh = g[:, 1, 1], g[:, 1, 2], g[:, 2, 2]
    pa = d.proj[rows]
    n = d.n[rows]
    variance = np.maximum(
        mu * mu * ss + gamma * gamma * gg + hh + 2 * (mu * gamma * sg + mu * sh + gamma * gh), 0.0
    )
    nu0 = mu * (m.s0[rows] + pa[:, 0]) + gamma * (m.g0[rows] + pa[:, 1]) + m.h0[rows] + pa[:, 2]
    denominator = (nu0 + variance) + np.sqrt((nu0 - variance) ** 2 + 4.0 * variance * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(denominator > 0, 2.0 * (n - nu0) / denominator, 0.0)
    nu = np.maximum(nu0 + lam * variance, 0.0)
    delta = m.delta[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        pull = np.where(delta > 0, (gamma - d.gamma[rows]) / np.where(delta > 0, delta, 1.0), 0.0)
    f = 2.0 * (nu - special.xlogy(n, nu)) + lam * lam * variance + pull * pull
    return _Point(f, nu, lam, variance, gamma)


def _gamma_derivatives(
    m: _Model, d: _Data, rows: Rows, mu: Array, gamma: Array
) -> tuple[Array, Array]:
    """First and second derivative of the theta-profiled ``-2 ln L`` in gamma (Schur complement)."""
    p = _at(m, d, rows, mu, gamma)
    g = m.gram[rows]
    n = d.n[rows]
    safe = np.where(p.nu > 0, p.nu, 1.0)
    r = np.where(p.nu > 0, 1.0 - n / safe, 1.0)
    c = np.where(p.nu > 0, n / safe**2, 0.0)
    dgv = mu * g[:, 0, 1] + gamma * g[:, 1, 1] + g[:, 1, 2]
    big_g = m.g0[rows] + d.proj[rows, 1] + p.lam * dgv
    delta = m.delta[rows]
    inv = 1.0 / np.where(delta > 0, delta, 1.0) ** 2
    first = 2.0 * r * big_g + 2.0 * (gamma - d.gamma[rows]) * inv
    w2 = 4.0 * c * c * big_g**2 * p.variance + 8.0 * c * big_g * r * dgv + 4.0 * r * r * g[:, 1, 1]
    vw = 2.0 * c * big_g * p.variance + 2.0 * r * dgv
    second = 2.0 * c * big_g**2 + 2.0 * inv - 0.5 * (w2 - c * vw * vw / (1.0 + c * p.variance))
    return first, second


def _profile(m: _Model, d: _Data, rows: Rows, mu: Array) -> tuple[Array, Array]:
    """``-2 ln L(mu, profiled)`` and its mu-derivative ``2 (1 - N / nu) S(theta_hat_hat)``."""
    gamma = d.gamma[rows].copy()
    free = m.delta[rows] > 0
    if free.any():
        k = np.flatnonzero(free)
        sub = rows[k]

        def slope(x: Array, idx: Rows) -> tuple[Array, Array]:
            return _gamma_derivatives(m, d, sub[idx], mu[k[idx]], x)

        start = d.gamma[sub]
        top = start + 40.0 * m.delta[sub] + 1.0
        gamma[k] = _core.solve_increasing(
            slope, np.zeros(k.size), np.zeros(k.size), top, start, rtol=1e-13
        )
    p = _at(m, d, rows, mu, gamma)
    g = m.gram[rows]
    dsv = mu * g[:, 0, 0] + gamma * g[:, 0, 1] + g[:, 0, 2]
    big_s = m.s0[rows] + d.proj[rows, 0] + p.lam * dsv
    n = d.n[rows]
    r = np.where(p.nu > 0, 1.0 - n / np.where(p.nu > 0, p.nu, 1.0), 1.0)
    return p.f, 2.0 * r * big_s


@dataclass(frozen=True, slots=True)
class _Fits:
    """What the test statistics need besides the conditional fits."""

    observed: _Data
    asimov: _Data
    mu_hat: Array
    f_min: Array  # observed data
    f_min_asimov: Array


def _fits(m: _Model) -> _Fits:
    """Free fit to the data and the background-only Asimov data set (pyhf's conventions)."""
    rows = np.arange(m.n.size)
    obs = m.observed()
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = (m.n - m.g0 - m.h0) / m.s0
    zero = np.zeros(rows.size)
    f0, _ = _profile(m, obs, rows, zero)
    saturated = 2.0 * (m.n - special.xlogy(m.n, m.n))
    f_min = np.where(raw > 0, saturated, f0)
    # conditional fit at mu = 0: its nuisances become the Asimov auxiliary data
    gamma = obs.gamma.copy()
    free = m.delta > 0
    if free.any():
        k = np.flatnonzero(free)

        def slope(x: Array, idx: Rows) -> tuple[Array, Array]:
            return _gamma_derivatives(m, obs, k[idx], zero[k[idx]], x)

        gamma[k] = _core.solve_increasing(
            slope,
            zero[k],
            zero[k],
            obs.gamma[k] + 40.0 * m.delta[k] + 1.0,
            obs.gamma[k],
            rtol=1e-13,
        )
    p = _at(m, obs, rows, zero, gamma)
    g = m.gram
    lam = p.lam
    proj = np.stack(
        [
            lam * (g[:, 0, 2] + gamma * g[:, 0, 1]),
            lam * (g[:, 1, 2] + gamma * g[:, 1, 1]),
            lam * (g[:, 2, 2] + gamma * g[:, 1, 2]),
        ],
        axis=1,
    )
    asimov = _Data(p.nu, proj, gamma)
    f_min_asimov = 2.0 * (p.nu - special.xlogy(p.nu, p.nu))
    return _Fits(obs, asimov, np.where(raw > 0, raw, 0.0), f_min, f_min_asimov)


def _m_ratio(x: Array) -> Array:
    """``phi(x) / Phi(x)`` (d/dx of ln Phi), stable for large |x|."""
    value: Array = np.exp(-0.5 * x * x - _LOG_SQRT_2PI - special.log_ndtr(x))
    return value


def _log_cls(q: Array, dq: Array, qa: Array, dqa: Array) -> tuple[Array, Array]:
    """``ln CLs`` and its derivative from (q, q') and (q_A, q_A') (pyhf's qtilde asymptotics)."""
    sq, sqa = np.sqrt(q), np.sqrt(qa)
    with np.errstate(divide="ignore", invalid="ignore"):
        dsq = dq / (2.0 * sq)
        dsqa = dqa / (2.0 * sqa)
        t = (q - qa) / (2.0 * sqa)
        dt = (dq - dqa) / (2.0 * sqa) - (q - qa) * dsqa / (2.0 * qa)
    near = sq <= sqa
    value = np.where(
        near,
        special.log_ndtr(-sq) - special.log_ndtr(sqa - sq),
        special.log_ndtr(-(t + sqa)) - special.log_ndtr(-t),
    )
    slope = np.where(
        near,
        -_m_ratio(-sq) * dsq - _m_ratio(sqa - sq) * (dsqa - dsq),
        -_m_ratio(-(t + sqa)) * (dt + dsqa) + _m_ratio(-t) * dt,
    )
    return value, slope


class _Statistic:
    """``-ln CLs(mu)`` (observed) or ``q_A(mu)`` of rows of a window set, with mu-derivatives."""

    def __init__(self, m: _Model, fits: _Fits) -> None:
        self.m, self.fits = m, fits

    def asimov(self, mu: Array, rows: Rows) -> tuple[Array, Array]:
        f, df = _profile(self.m, self.fits.asimov, rows, mu)
        return np.maximum(f - self.fits.f_min_asimov[rows], 0.0), df

    def minus_log_cls(self, mu: Array, rows: Rows) -> tuple[Array, Array]:
        f, df = _profile(self.m, self.fits.observed, rows, mu)
        above = mu >= self.fits.mu_hat[rows]
        q = np.where(above, np.maximum(f - self.fits.f_min[rows], 0.0), 0.0)
        dq = np.where(above, df, 0.0)
        qa, dqa = self.asimov(mu, rows)
        value, slope = _log_cls(q, dq, qa, dqa)
        return -value, -slope


def _solve(func: _Func, target: Array, low: Array, scale: Array, rows: Rows) -> Array:
    """Solve the increasing ``func(mu) = target`` on [low, inf): bracket by doubling, then Newton."""
    high = low + scale
    todo = np.arange(target.size)
    for _ in range(60):
        if not todo.size:
            break
        value, _ = func(high[todo], rows[todo])
        short = ~(value >= target[todo])
        high[todo[short]] = low[todo[short]] + 2.0 * (high[todo[short]] - low[todo[short]])
        todo = todo[short]
    found = np.ones(target.size, dtype=bool)
    found[todo] = False

    def wrapped(x: Array, idx: Rows) -> tuple[Array, Array]:
        return func(x, rows[idx])

    root = _core.solve_increasing(wrapped, target, low, high, 0.5 * (low + high), rtol=1e-11)
    return np.where(found, root, np.nan)


def _checked_cl(cl: float) -> float:
    if not 0.5 < cl < 1:
        raise InputError(None, "cl", "a confidence level in (0.5, 1)", got=cl)
    return float(cl)


def _targets(alpha: float) -> Array:
    """``sqrt(q_A)`` at which the expected CLs equals alpha, per band (-2 .. +2 sd)."""
    value: Array = _BANDS - special.ndtri(alpha * special.ndtr(_BANDS))
    return value


def cls_upper_limits(
    windows: WindowSet, *, cl: float = 0.9, rows: ArrayLike | None = None
) -> ClsLimits:
    """Observed and expected asymptotic CLs upper limits (qtilde) of every window.

    Args:
        windows: The window set.
        cl: Confidence level; the limit solves ``CLs = 1 - cl`` (pyhf ``level = 1 - cl``).
        rows: Windows to compute (default: all with a signal); the others get NaN.

    Returns:
        The limits (NaN where the signal is zero or no limit was found).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=0, signal=1.0, backgrounds={"b": 0.5})])
        >>> limits = cls_upper_limits(ws, cl=0.95)
        >>> bool(limits.expected[0, 0] < limits.expected[0, 2] < limits.expected[0, 4])
        True
    """
    alpha = 1.0 - _checked_cl(cl)
    count = len(windows)
    observed = np.full(count, np.nan)
    expected = np.full((count, _BANDS.size), np.nan)
    chosen = np.arange(count) if rows is None else np.asarray(rows, dtype=np.intp)
    chosen = chosen[windows.signal[chosen] > 0]
    if not chosen.size:
        return ClsLimits(observed, expected, float(cl))
    model = _Model.from_windows(windows.subset(chosen))
    fits = _fits(model)
    stat = _Statistic(model, fits)
    own = np.arange(chosen.size)
    scale = (np.sqrt(model.n + 1.0) + 2.0) / model.s0
    observed[chosen] = _solve(
        stat.minus_log_cls, np.full(own.size, -math.log(alpha)), fits.mu_hat, scale, own
    )
    targets = _targets(alpha) ** 2
    flat = np.repeat(own, _BANDS.size)
    goal = np.tile(targets, own.size)
    values = _solve(stat.asimov, goal, np.zeros(flat.size), scale[flat], flat)
    expected[chosen] = values.reshape(own.size, _BANDS.size)
    return ClsLimits(observed, expected, float(cl))


def cls_values(windows: WindowSet, mu: ArrayLike) -> tuple[Array, Array]:
    """Observed CLs and the expected CLs band (-2 .. +2 sd) of every window at POI values mu.

    Args:
        windows: The window set (every window needs a signal).
        mu: POI value per window, broadcastable to (W,).

    Returns:
        ``(cls, expected)`` of shapes (W,) and (W, 5).

    Example:
        >>> from dhstat.stats.model import WindowSet, window_spec
        >>> ws = WindowSet.from_specs([window_spec(n=3, signal=1.0, backgrounds={"b": 3.0})] * 2)
        >>> value, band = cls_values(ws, [0.0, 3.0])  # mu = 0: CLs = 1
        >>> value.round(4).tolist(), band[1].round(4).tolist()  # N = B: observed = median
        ([1.0, 0.1748], [0.0173, 0.0581, 0.1748, 0.4286, 0.7572])
    """
    if np.any(windows.signal <= 0):
        raise InputError(None, "signal", "a signal yield > 0 in every window")
    model = _Model.from_windows(windows)
    fits = _fits(model)
    stat = _Statistic(model, fits)
    rows = np.arange(len(windows))
    x = np.broadcast_to(np.asarray(mu, dtype=np.float64), rows.shape).copy()
    minus_log, _ = stat.minus_log_cls(x, rows)
    qa, _ = stat.asimov(x, rows)
    k = -_BANDS[None, :]
    sqa = np.sqrt(qa)[:, None]
    band = np.exp(special.log_ndtr(-(k + sqa)) - special.log_ndtr(-k))
    return np.exp(-minus_log), band
