"""Window counts of a group of toys from negative-binomial counts per cell (the toy generator).

Poisson of a Gamma-smeared mean is negative binomial. Cells with a mean above two (and cells with
injected signal) are drawn directly (numpy Gamma and Poisson). All others, most cells with means
far below one, are drawn by inversion of one uniform number per cell and toy, and only where it
matters: toys with similar systematic draws are simulated together, so per cell the CDF values
``P(N <= n)``, n = 0, 1, 2, are bracketed by their values at the smallest and largest systematic
factor of the group; the uniform number is compared with the brackets (its leading 32 bits alone
decide most counts, 0) and only undecided pairs are inverted with their own factor. The counts
are exactly those of inverting every pair; the window counts are sums of the cell counts through
the window -> cell map (uint16 when no window can exceed 65535).

Example:
    >>> _cdf_levels(np.array([1.0]), np.array([1.0])).ravel().round(4).tolist()
    [0.5, 0.75, 0.875, -inf]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from dhstat.lee.model import NO_SMEARING, ToyModel

__all__ = ["Layout", "cell_layout", "window_counts"]


#: Cells with a larger mean are drawn directly (an inversion would take many rounds).
_DENSE_MEAN = 2.0

#: Largest window count summed in uint16.
_UINT16_MAX = 65535


#: Counts 0 .. _LEVELS - 1 are decided by bounds on the CDF; larger ones are inverted exactly.
_LEVELS = 3


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Layout:
    """Per-batch view of a model's cells for the sparse toy generator (see :func:`window_counts`).

    Attributes:
        small: Cells drawn by the thresholded inversion (small mean, no injected signal).
        large: Cells drawn directly by numpy's Gamma and Poisson generators.
        sparse_map: Window -> sparse-cell map, (W, S), uint16 and int64 copies.
        max_cells: Largest number of sparse cells in one window.
        dense_map: Window -> dense-cell map, (W, D), int64.
        shape: Gamma shape ``b / scale`` of each sparse cell.
        scale: Gamma scale of each sparse cell.
        relative: Relative systematic shifts of the sparse cells, (K, S).
    """

    small: NDArray[np.int64]
    large: NDArray[np.int64]
    sparse_map: tuple[sparse.csr_matrix, sparse.csr_matrix]
    max_cells: int
    dense_map: sparse.csr_matrix
    shape: NDArray[np.float64]
    scale: NDArray[np.float64]
    relative: NDArray[np.float64]


def cell_layout(model: ToyModel) -> Layout:
    """Split the model's cells into inverted (small) and directly drawn (large) ones."""
    matrix = sparse.csr_matrix(
        (
            np.ones(model.indices.size, dtype=np.int64),
            model.indices.astype(np.int32),
            model.indptr.astype(np.int32),
        ),
        shape=(model.n_windows, model.background.size),
    )
    is_dense = (model.background > _DENSE_MEAN) | (model.signal > 0)
    dense = np.flatnonzero(is_dense)
    cells = np.flatnonzero(~is_dense)
    wide = matrix[:, cells].tocsr()
    shape = np.where(model.mc_scale > 0, model.background / model.mc_scale, 0.0)
    return Layout(
        small=cells,
        large=dense,
        sparse_map=(wide.astype(np.uint16), wide),
        max_cells=int(np.diff(wide.indptr).max(initial=0)),
        dense_map=matrix[:, dense].tocsr(),
        shape=shape[cells],
        scale=model.mc_scale[cells],
        relative=np.ascontiguousarray(model.relative[:, cells]),
    )


def _factor_range(
    relative: NDArray[np.float64], theta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bounds of ``f_ct = max(0, 1 + sum_k theta_kt relative_kc)`` over the toys t, per cell."""
    top, bottom = theta.max(axis=1), theta.min(axis=1)
    positive, negative = relative.clip(min=0.0).T, relative.clip(max=0.0).T
    high = positive @ top + negative @ bottom
    low = positive @ bottom + negative @ top
    return np.maximum(1.0 + low, 0.0), np.maximum(1.0 + high, 0.0)


def _p_zero(shape: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``P(N = 0) = (1 + x)^-a`` of the negative binomial with Gamma shape a and scale x."""
    p: NDArray[np.float64] = np.log1p(x)
    p *= -shape
    np.exp(p, out=p)
    return p


def _cdf_levels(shape: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``P(N <= n)`` for n = 0 .. _LEVELS - 1 (rows) of the negative binomial (shape a, scale x).

    The last row is ``-inf``: no count is decided beyond the levels.
    """
    out = np.empty((_LEVELS + 1, x.size))
    p = _p_zero(shape, x)
    q = x / (1.0 + x)
    out[0] = p
    for n in range(1, _LEVELS):
        p = p * (shape + (n - 1)) * q / n
        out[n] = out[n - 1] + p
    out[_LEVELS] = -np.inf
    return out


def _invert(
    u: NDArray[np.float64], shape: NDArray[np.float64], x: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Negative-binomial counts by inversion of ``u``, one per entry.

    ``P(0) = (1 + x)^-a`` and ``P(n + 1) = P(n) (a + n) q / (n + 1)``, ``q = x / (1 + x)``, for
    the Poisson-Gamma mixture with Gamma shape ``a`` and scale ``x`` (a tiny scale makes it Poisson
    with mean ``a x``). The count is the smallest n with ``u <= P(N <= n)``.
    """
    counts = np.zeros(u.size, dtype=np.int64)
    p = _p_zero(shape, x)
    index = np.flatnonzero(u > p)
    if not index.size:
        return counts
    q = x[index] / (1.0 + x[index])
    alpha = q * shape[index]
    p, uu = p[index], u[index]
    cumulative = p.copy()
    k = 0
    while index.size:
        k += 1
        p *= (alpha + q * (k - 1)) / k
        cumulative += p
        counts[index] = k
        keep = (uu > cumulative) & (p > 0.0)  # p == 0: the tail is exhausted in float64
        if not keep.all():
            index, p, cumulative, uu, alpha, q = (
                index[keep],
                p[keep],
                cumulative[keep],
                uu[keep],
                alpha[keep],
                q[keep],
            )
    return counts


def window_counts(
    model: ToyModel,
    layout: Layout,
    rng: np.random.Generator,
    theta: NDArray[np.float64] | None,
    t: int,
) -> NDArray[np.int64]:
    """Window counts of ``t`` toys, shape (W, t), from negative-binomial counts per cell and toy.

    Sparse cells: one uniform number ``u = (v + w) 2^-32`` per cell and toy, ``v`` a 32-bit integer
    (two per 64-bit draw) and ``w ~ U(0, 1)`` drawn only where needed; the count is the inverse
    CDF at ``u``. With ``f_lo <= f_ct <= f_hi`` the range of the systematic factor of a cell over
    these toys, ``P(N <= n)`` lies between its values at ``f_hi`` and ``f_lo`` (the negative
    binomial grows stochastically with its scale), so the count is 0 wherever
    ``u <= P_fhi(0)`` (decided on ``v`` alone: most pairs), 1 wherever
    ``P_flo(0) < u <= P_fhi(N <= 1)``, and only the remaining pairs are inverted exactly with
    their own ``f_ct``. The counts are exactly those of inverting every pair.
    """
    n_cells = layout.small.size
    scale, shape = layout.scale, layout.shape
    if theta is None:
        low = high = _cdf_levels(shape, scale)
    else:
        f_low, f_high = _factor_range(layout.relative, theta)
        low, high = _cdf_levels(shape, scale * f_high), _cdf_levels(shape, scale * f_low)
    # u > low_0 is possible only if (v + 1) 2^-32 > low_0, i.e. v >= floor(low_0 2^32).
    threshold = np.minimum(np.floor(low[0] * 2.0**32), 2.0**32 - 1).astype(np.uint32)
    raw = np.asarray(rng.bit_generator.random_raw((n_cells * t + 1) // 2), dtype=np.uint64)
    v = raw.view(np.uint32)[: n_cells * t].reshape(n_cells, t)
    candidate = v >= threshold[:, None]
    pairs = np.flatnonzero(candidate)
    slot = pairs // t
    u = v.ravel()[pairs] + rng.random(pairs.size)
    u *= 2.0**-32
    # count > n where u > high_n; count <= n where u <= low_n: decided where both agree.
    count = np.zeros(pairs.size, dtype=np.int64)
    for level in range(_LEVELS):
        count += u > high[level][slot]
    if theta is None:  # exact bounds: only counts beyond the levels are undecided
        exact = np.flatnonzero(count == _LEVELS)
    else:
        exact = np.flatnonzero(u > low.ravel()[count * n_cells + slot])
    cell, toy = slot[exact], pairs[exact] - slot[exact] * t
    x = scale[cell]
    if theta is not None:
        f = np.ones(exact.size)
        for k in range(theta.shape[0]):
            f += layout.relative[k, cell] * theta[k, toy]
        np.maximum(f, 0.0, out=f)
        x = x * f
    count[exact] = _invert(u[exact], shape[cell], x)
    # A window count is at most (cells in the window) x (largest cell count): uint16 if it fits.
    small = layout.max_cells * int(count.max(initial=0)) <= _UINT16_MAX
    counts = np.zeros((n_cells, t), dtype=np.uint16 if small else np.int64)
    counts.ravel()[pairs] = count
    n_w = np.asarray(layout.sparse_map[0 if small else 1] @ counts, dtype=np.int64)
    dense = layout.large
    if dense.size:
        mean = np.repeat(model.background[dense, None], t, axis=1)
        if theta is not None:
            factor = np.ones((dense.size, t))
            for k in range(theta.shape[0]):
                factor += model.relative[k, dense, None] * theta[k]
            np.maximum(factor, 0.0, out=factor)
            mean *= factor
        rows = np.flatnonzero(model.mc_scale[dense] > NO_SMEARING)
        if rows.size:
            cells = dense[rows]
            gamma = rng.standard_gamma(
                np.repeat(model.background[cells, None], t, axis=1) / (model.mc_scale[cells, None])
            )
            mean[rows] *= gamma * (model.mc_scale[cells, None] / model.background[cells, None])
        mean += model.signal[dense, None]
        n_w += np.asarray(layout.dense_map @ rng.poisson(mean), dtype=np.int64)
    return n_w
