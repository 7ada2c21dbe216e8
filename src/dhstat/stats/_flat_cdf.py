"""The flat-prior posterior CDF of single-bin models at prior nodes, for the limit solvers.

:class:`FlatCdf` evaluates ``sum_k W_k int_0^x Pois(n | B_k + S_k x') dx'`` and two
x-derivatives row by row, for the safeguarded Halley solver of :mod:`dhstat.stats.single_bin`
(:func:`dhstat.stats._core.solve_increasing_halley`). Its cost is the regularised incomplete gamma
functions; three shortcuts, each equal to the node-by-node arithmetic to rounding or to 1e-9 of
the step it integrates:

* :func:`lower_tails`: the tails at the lower end B once per distinct background of a row;
* upper tails that round away against the lower-end tail are not evaluated (the integral over
  the whole prior range, far above the count);
* :func:`hermite_step`: a row's next point, near its last (the solver's late iterates), adds
  the integral in between by the two-point quintic Hermite rule.

Example:
    >>> one = np.ones((1, 1))
    >>> value, slope, _ = FlatCdf(np.zeros(1), one, 0 * one, one)(np.array([2.0]), np.arange(1))
    >>> bool(abs(value[0] - (1 - np.exp(-2.0))) < 1e-15), bool(abs(slope[0] - np.exp(-2.0)) < 1e-15)
    (True, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

from dhstat.stats import _core

__all__ = ["FlatCdf", "hermite_step", "lower_tails"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


class FlatCdf:
    """``sum_k W_k int_0^x Pois(n | B_k + S_k x') dx'`` and two x-derivatives, row by row.

    The arithmetic of :func:`_core.flat_integral`, with the x-independent parts computed once per
    solve: one regularised incomplete gamma function per node at the lower end B (the other tail
    as its complement, exact to rounding on the side where it is >= 1/2), ``W / S``, ``ln n!``.
    Per evaluation only the branch (lower or upper tail) that is used is evaluated.

    Each row remembers its last point and per node the integral and the Poisson term there: the
    next evaluation of the row (the solver's next iterate) adds the integral between the two
    points by the two-point quintic Hermite rule (:func:`hermite_step`; values and two
    derivatives of the Poisson term at both ends, all known) on the nodes where the step is
    small against the Poisson term's local scale, instead of an incomplete gamma function.
    """

    def __init__(self, n: Array, signal: Array, background: Array, weight: Array) -> None:
        self.size = n.size
        self.n = n[:, None]
        self.signal, self.background, self.weight = signal, background, weight
        self.a = np.ascontiguousarray(np.broadcast_to(self.n + 1.0, background.shape))
        self.p_low, self.q_low = lower_tails(self.a, background)
        self.scale = 0.05 * _core._scale(self.n, background)
        self.log_factorial = special.gammaln(self.n + 1.0)
        positive = signal > 0
        self.per_signal = np.where(positive, weight / np.where(positive, signal, 1.0), 0.0)
        # nodes without signal: the integrand is constant, x Pois(n; B)
        self.flat_part = np.where(positive, 0.0, weight * _core.pmf(self.n, background)).sum(-1)
        # the last point of each row (NaN: none yet), the integrals and Poisson terms there
        self.last_x = np.full(n.size, np.nan)
        self.last_diff = np.zeros(background.shape)
        self.last_pmf = np.zeros(background.shape)

    def _take(self, rows: NDArray[np.intp]) -> tuple[Array, ...]:
        names = ("n", "signal", "background", "a", "p_low", "q_low", "scale", "per_signal")
        arrays = tuple(getattr(self, name) for name in names)
        arrays += (self.weight, self.log_factorial, self.flat_part)
        return arrays if rows.size == self.size else tuple(v[rows] for v in arrays)

    @staticmethod
    def _direct(
        parts: tuple[Array, ...], high: Array, pmf: Array, select: NDArray[np.bool_] | None
    ) -> Array:
        """``P(n + 1, high) - P(n + 1, B)`` of the nodes ``select`` (None: all) of some rows.

        ``parts`` are those rows' arrays as :meth:`_take` gives them.

        ``pmf`` is ``Pois(n; high)``. Above the count, ``Q(n + 1, high) = P(X <= n | high)`` is at
        most ``Pois(n; high) high / (high - n)``; where that bound is below 1e-17 of ``Q(n + 1,
        B)`` the difference rounds to ``Q(n + 1, B)`` and the incomplete gamma function is skipped
        (typically the integral over the whole prior range, the solver's target).
        """
        n, _, b, a, p_low, q_low, scale = parts[:7]
        nodes = [np.broadcast_to(n, high.shape), b, a, p_low, q_low, scale, high, high - b, pmf]
        if select is not None:
            nodes = [v[select] for v in nodes]
        nb, b, a, p_low, q_low, scale, high, width, pmf = nodes
        lower_side = high <= a
        diff = np.empty(high.shape)
        diff[lower_side] = special.gammainc(a[lower_side], high[lower_side]) - p_low[lower_side]
        upper = ~lower_side
        far, q_far = high[upper], q_low[upper]
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = pmf[upper] * far / (far - nb[upper])
        need = ~(bound < _NEGLIGIBLE * q_far)
        q_far[need] = q_far[need] - special.gammaincc(a[upper][need], far[need])
        diff[upper] = q_far
        small = width < scale
        if np.any(small):
            ns, ls, ws = nb[small], b[small], width[small]
            mu = ls[:, None] + ws[:, None] * _core._GL_X
            diff[small] = ws * (_core.pmf(ns[:, None], mu) * _core._GL_W).sum(axis=-1)
        return np.maximum(diff, 0.0)

    def __call__(self, x: Array, rows: NDArray[np.intp]) -> tuple[Array, Array, Array]:
        parts = self._take(rows)
        n, s, b, _, _, _, _, per_signal, w, log_factorial, flat = parts
        high = b + s * x[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            pmf = _core.fast_pmf(n, high, log_factorial)
            # d/dmu Pois(n | mu) = Pois (n / mu - 1); mu = 0 only for n = 0 (then -Pois)
            ratio = np.where(high > 0, n / np.where(high > 0, high, 1.0), 0.0)
        last = self.last_x[rows]
        # rows whose last point is near (the solver's late iterates): integrate the step
        known = np.abs(x - last) <= _HERMITE_ROW_STEP * x
        if known.any():
            start = b + s * np.where(known, last, x)[:, None]
            step, ok = hermite_step(n, start, high, self.last_pmf[rows], pmf, ratio)
            ok &= known[:, None]
            diff = np.where(ok, self.last_diff[rows] + step, 0.0)
            np.maximum(diff, 0.0, out=diff)
            if not ok.all():
                diff[~ok] = self._direct(parts, high, pmf, ~ok)
        else:
            diff = self._direct(parts, high, pmf, None)
        self.last_x[rows], self.last_diff[rows], self.last_pmf[rows] = x, diff, pmf
        value: Array = (per_signal * diff).sum(-1) + x * flat
        density = w * pmf
        slope: Array = density.sum(-1)
        curvature: Array = (density * s * (ratio - 1.0)).sum(-1)
        return value, slope, curvature


def lower_tails(a: Array, background: Array) -> tuple[Array, Array]:
    """``P(a, B)`` and ``Q(a, B)`` per node: the smaller tail by scipy, the other its complement.

    ``a`` is constant along each row, and the nodes of a row share few distinct backgrounds (the
    signal coordinates vary on the same background): with many nodes each distinct value is
    evaluated once (the same numbers as node by node).

    Example:
        >>> b = np.array([[0.5, 2.0, 0.5, 9.0] * 20])
        >>> p, q = lower_tails(np.full(b.shape, 3.0), b)
        >>> bool(np.array_equal(p, special.gammainc(3.0, b)))
        True
    """
    if background.shape[-1] < _DISTINCT_MIN:
        return _tails(a, background)
    order = np.argsort(background, axis=-1, kind="stable")
    ordered = np.take_along_axis(background, order, axis=-1)
    first = np.ones(ordered.shape, dtype=bool)
    first[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    p_first, q_first = _tails(a[first], ordered[first])
    # each node takes the values of the first node with its background (in the sorted order):
    # the number of first nodes up to it, minus one, is that node's index in p_first
    source = np.cumsum(first.ravel()).reshape(first.shape) - 1
    p_low, q_low = np.empty(background.shape), np.empty(background.shape)
    np.put_along_axis(p_low, order, p_first[source], axis=-1)
    np.put_along_axis(q_low, order, q_first[source], axis=-1)
    return p_low, q_low


#: rows with at least this many nodes evaluate the lower tails once per distinct background
_DISTINCT_MIN = 64


def _tails(a: Array, background: Array) -> tuple[Array, Array]:
    below = background <= a
    tail = np.empty(background.shape)
    tail[below] = special.gammainc(a[below], background[below])
    tail[~below] = special.gammaincc(a[~below], background[~below])
    return np.where(below, tail, 1.0 - tail), np.where(below, 1.0 - tail, tail)


#: an upper tail below this fraction of another rounds away in their difference (< 2^-53)
_NEGLIGIBLE = 1e-17

#: the Hermite step is used where it spans at most this fraction of the Poisson term's local scale
#: (its relative error is then below 1e-9, :func:`hermite_step`)
_HERMITE_REACH = 0.1
#: ... and only tried for rows whose point moved by at most this fraction
_HERMITE_ROW_STEP = 0.05


def hermite_step(
    n: Array, start: Array, end: Array, pmf_start: Array, pmf_end: Array, ratio_end: Array
) -> tuple[Array, NDArray[np.bool_]]:
    """``int_start^end Pois(n | mu) dmu`` per node by the two-point quintic Hermite rule.

    ``h/2 (f0 + f1) + h^2/10 (f0' - f1') + h^3/120 (f0'' + f1'')`` with ``h = end - start`` and
    ``f' = f g'``, ``f'' = f (g'^2 + g'')``, ``g = ln Pois``: ``g' = n / mu - 1``,
    ``g'' = -n / mu^2``. Its error is ``h^7 f^(6) / 100800``; it is used (second result True) where
    ``|h|`` is at most :data:`_HERMITE_REACH` times the local scale ``mu / sqrt((n - mu)^2 + n)``
    (``1 / sqrt(g'^2 - g'')``) at both ends, where the relative error stays below 1e-9 (tested
    against a 40-point Gauss-Legendre rule, ``tests/stats/test_flat_cdf_increments.py``).

    Example:
        >>> n, f = np.array([[3.0]]), lambda mu: _core.pmf(n, mu)
        >>> lo, hi = np.array([[2.95]]), np.array([[3.0]])
        >>> step, ok = hermite_step(n, lo, hi, f(lo), f(hi), n / hi)
        >>> exact = special.gammainc(4.0, 3.0) - special.gammainc(4.0, 2.95)
        >>> bool(ok[0, 0]), bool(abs(step[0, 0] / exact - 1) < 1e-12)
        (True, True)
    """
    # rates near the smallest floats (a zero background with a tiny signal yield) overflow the
    # derivatives: those nodes are left to the incomplete gamma function (ok False)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio_start = np.where(start > 0, n / np.where(start > 0, start, 1.0), 0.0)
        scale_start = start / np.sqrt((n - start) ** 2 + n)
        scale_end = end / np.sqrt((n - end) ** 2 + n)
        h = end - start
        ok = np.abs(h) <= _HERMITE_REACH * np.minimum(scale_start, scale_end)
        g0, g1 = ratio_start - 1.0, ratio_end - 1.0
        c0 = ratio_start / np.where(start > 0, start, 1.0)  # -g''
        c1 = ratio_end / np.where(end > 0, end, 1.0)
        first = pmf_start * g0 - pmf_end * g1
        second = pmf_start * (g0 * g0 - c0) + pmf_end * (g1 * g1 - c1)
        step: Array = h * (0.5 * (pmf_start + pmf_end) + h * (first / 10.0 + h * second / 120.0))
    return step, ok & np.isfinite(step)
