"""Which events lie in which windows: brute force, a bucket index, and window overlaps.

Window bounding boxes are registered in a grid of buckets whose edges are quantiles of the box
bounds; each event is tested exactly (``A dx^2 + B dx dy + C dy^2 <= 1``) only against the windows
of its bucket (:func:`membership`). The result is a sparse events x windows CSR matrix.
:func:`contains` is the dense brute-force test (for tests), :func:`overlap_fractions` the area
overlap of each window with the others.

Example:
    >>> import numpy as np
    >>> from dhstat.windows.container import from_ellipses
    >>> w = from_ellipses([[1.0, 4.0]], [[0.5, 0.1]], [0.0])
    >>> contains(w, np.array([1.4, 1.0, 2.0]), np.array([4.0, 4.09, 4.0])).tolist()
    [[True], [True], [False]]
    >>> membership(w, np.array([1.4, 2.0]), np.array([4.0, 4.0])).toarray().tolist()
    [[1], [0]]
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike, NDArray

from dhstat import parallel
from dhstat.windows.container import Windows

__all__ = ["contains", "membership", "overlap_fractions"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def __dir__() -> list[str]:
    return __all__


def contains(windows: Windows, x: ArrayLike, y: ArrayLike) -> NDArray[np.bool_]:
    """Brute-force membership (events x windows dense boolean matrix); for tests only.

    Example:
        >>> from dhstat.windows.container import from_ellipses
        >>> w = from_ellipses([[0.0, 0.0]], [[2.0, 1.0]], [np.pi / 2])
        >>> contains(w, [0.0, 1.5], [1.5, 0.0]).ravel().tolist()
        [True, False]
    """
    xs = np.asarray(x, dtype=np.float64)[:, None]
    ys = np.asarray(y, dtype=np.float64)[:, None]
    dx = xs - windows.center[None, :, 0]
    dy = ys - windows.center[None, :, 1]
    c, s = np.cos(windows.angle), np.sin(windows.angle)
    u = (dx * c + dy * s) / windows.axes[:, 0]
    v = (-dx * s + dy * c) / windows.axes[:, 1]
    result: NDArray[np.bool_] = u * u + v * v <= 1.0
    return result


@dataclass(frozen=True, slots=True, eq=False)
class _Buckets:
    ex: FloatArray
    ey: FloatArray
    start: IntArray  # bucket -> first registration
    windows_of: NDArray[np.int32]  # registration -> window
    # per registration (bucket order): window centre and quadratic form, for contiguous gathers
    cx: FloatArray
    cy: FloatArray
    qa: FloatArray
    qb: FloatArray
    qc: FloatArray
    cut: FloatArray


def _buckets(windows: Windows, target: float = 1.0) -> _Buckets:
    """Register window bounding boxes in quantile-spaced buckets (about ``target`` per bucket)."""
    n = len(windows)
    c, s = np.cos(windows.angle), np.sin(windows.angle)
    a, b = windows.axes[:, 0], windows.axes[:, 1]
    hx = np.sqrt((a * c) ** 2 + (b * s) ** 2) * (1 + 1e-9)
    hy = np.sqrt((a * s) ** 2 + (b * c) ** 2) * (1 + 1e-9)
    x0, x1 = windows.center[:, 0] - hx, windows.center[:, 0] + hx
    y0, y1 = windows.center[:, 1] - hy, windows.center[:, 1] + hy
    nb = max(int(math.sqrt(max(n, 1) / target)) * 2, 1)
    qs = np.linspace(0, 1, nb + 1)
    ex = np.unique(np.quantile(np.concatenate([x0, x1]), qs)) if n else np.zeros(2)
    ey = np.unique(np.quantile(np.concatenate([y0, y1]), qs)) if n else np.zeros(2)
    if ex.size < 2:
        ex = np.array([ex[0] - 1.0, ex[0] + 1.0])
    if ey.size < 2:
        ey = np.array([ey[0] - 1.0, ey[0] + 1.0])
    nx, ny = ex.size - 1, ey.size - 1
    ix0 = np.clip(np.searchsorted(ex, x0, "right") - 1, 0, nx - 1)
    ix1 = np.clip(np.searchsorted(ex, x1, "right") - 1, 0, nx - 1)
    iy0 = np.clip(np.searchsorted(ey, y0, "right") - 1, 0, ny - 1)
    iy1 = np.clip(np.searchsorted(ey, y1, "right") - 1, 0, ny - 1)
    wy = iy1 - iy0 + 1
    per = (ix1 - ix0 + 1) * wy
    total = int(per.sum())
    win = np.repeat(np.arange(n, dtype=np.int64), per)
    k = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
    bucket = (ix0[win] + k // wy[win]) * ny + iy0[win] + k % wy[win]
    order = np.lexsort((win, bucket))
    counts = np.bincount(bucket, minlength=nx * ny)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    reg = win[order]
    quad = windows.quadratic
    return _Buckets(
        ex=ex,
        ey=ey,
        start=start,
        windows_of=reg.astype(np.int32),
        cx=np.ascontiguousarray(windows.center[reg, 0]),
        cy=np.ascontiguousarray(windows.center[reg, 1]),
        qa=np.ascontiguousarray(quad[reg, 0]),
        qb=np.ascontiguousarray(quad[reg, 1]),
        qc=np.ascontiguousarray(quad[reg, 2]),
        cut=np.ascontiguousarray(windows.ceta_cut[reg]),
    )


def _member_pairs(
    index: _Buckets, x: FloatArray, y: FloatArray, ceta: FloatArray | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    nx, ny = index.ex.size - 1, index.ey.size - 1
    ix = np.searchsorted(index.ex, x, "right") - 1
    iy = np.searchsorted(index.ey, y, "right") - 1
    # events on the upper edge belong to the last bucket
    ix[x == index.ex[-1]] = nx - 1
    iy[y == index.ey[-1]] = ny - 1
    events = np.flatnonzero((ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny))
    bucket = ix[events] * ny + iy[events]
    lo = index.start[bucket]
    per = index.start[bucket + 1] - lo
    total = int(per.sum())
    ev = np.repeat(events, per)
    pos = np.arange(total, dtype=np.int64)
    pos += np.repeat(lo - (np.cumsum(per) - per), per)
    dx = x[ev]
    dx -= index.cx[pos]
    dy = y[ev]
    dy -= index.cy[pos]
    q = index.qa[pos] * dx * dx
    q += index.qb[pos] * dx * dy
    q += index.qc[pos] * dy * dy
    hit = q <= 1.0
    if ceta is not None:
        hit &= ceta[ev] < index.cut[pos]
    ev = ev[hit]
    # per event number of windows (events are in increasing order) and the window indices
    return np.bincount(ev, minlength=x.size), index.windows_of[pos[hit]]


def membership(
    windows: Windows,
    x: ArrayLike,
    y: ArrayLike,
    *,
    ceta: ArrayLike | None = None,
    chunk_size: int = 1 << 17,
    threads: int | None = None,
) -> scipy.sparse.csr_matrix:
    """Which events lie in which windows, through a bucket index (never a dense loop).

    Window bounding boxes are registered in a grid of buckets (edges at quantiles of the box
    bounds); each event is tested exactly (``A dx^2 + B dx dy + C dy^2 <= 1``) only against the
    windows registered in its bucket. Chunks of events run in threads (numpy releases the GIL).

    Args:
        windows: The windows.
        x: M_recoil^2 of the events [GeV^2].
        y: M_mumu^2 of the events [GeV^2].
        ceta: C_eta of the events; when given, an event counts in a window only if also
            ``ceta < windows.ceta_cut``.
        chunk_size: Events processed at once (bounds the memory).
        threads: Worker threads (default: the cores this process may use).

    Returns:
        CSR matrix (events x windows, int8, 1 where the event is inside the ellipse); columns
        follow the order of ``windows`` (not the ids); indices sorted within each row.
    """
    xs = np.ascontiguousarray(x, dtype=np.float64).ravel()
    ys = np.ascontiguousarray(y, dtype=np.float64).ravel()
    n_ev = xs.size
    if ys.size != n_ev:
        msg = f"x and y differ in length ({n_ev} and {ys.size})"
        raise ValueError(msg)
    if len(windows) == 0 or n_ev == 0:
        return scipy.sparse.csr_matrix((n_ev, len(windows)), dtype=np.int8)
    cs = None if ceta is None else np.ascontiguousarray(ceta, dtype=np.float64).ravel()
    if cs is not None and cs.size != n_ev:
        msg = f"ceta and x differ in length ({cs.size} and {n_ev})"
        raise ValueError(msg)
    index = _buckets(windows)
    starts = range(0, n_ev, chunk_size)

    def run(lo: int) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        part = slice(lo, lo + chunk_size)
        return _member_pairs(index, xs[part], ys[part], None if cs is None else cs[part])

    n_threads = threads if threads is not None else parallel.cpu_count()
    if n_threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(lo) for lo in starts]
    indptr = np.zeros(n_ev + 1, dtype=np.int64)
    np.cumsum(np.concatenate([counts for counts, _ in parts]), out=indptr[1:])
    indices = np.concatenate([win for _, win in parts])
    data = np.ones(indices.size, dtype=np.int8)
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(n_ev, len(windows)))


def overlap_fractions(
    windows: Windows,
    *,
    kind: Literal["neighbour", "union"] = "neighbour",
    n_samples: int = 400,
    rng: np.random.Generator | None = None,
) -> FloatArray:
    """Area overlap of each window with the other windows, as a fraction of its area.

    ``kind="neighbour"``: the overlap with its most-overlapping neighbour (one other window);
    ``kind="union"``: the part of the window covered by at least one other window. Estimated by
    Monte Carlo with ``n_samples`` uniform points inside each ellipse, tested through
    :func:`membership`.

    Example:
        >>> from dhstat.windows.container import from_ellipses
        >>> w = from_ellipses([[0.0, 0.0], [0.0, 0.0]], [[2.0, 1.0], [2.0, 1.0]], [0.0, 0.0])
        >>> overlap_fractions(w, n_samples=50).tolist()
        [1.0, 1.0]
    """
    gen = rng if rng is not None else np.random.default_rng(0)
    n = len(windows)
    if n < 2:
        return np.zeros(n)
    r = np.sqrt(gen.random((n, n_samples)))
    t = gen.random((n, n_samples)) * 2 * np.pi
    u = r * np.cos(t) * windows.axes[:, :1]
    v = r * np.sin(t) * windows.axes[:, 1:]
    c, s = np.cos(windows.angle)[:, None], np.sin(windows.angle)[:, None]
    px = windows.center[:, :1] + u * c - v * s
    py = windows.center[:, 1:] + u * s + v * c
    m = membership(windows, px.ravel(), py.ravel()).tocoo()
    owner = m.row // n_samples
    other = m.col != owner
    if kind == "union":
        covered = np.unique(m.row[other])
        return np.bincount(covered // n_samples, minlength=n) / n_samples
    pair = owner[other].astype(np.int64) * n + m.col[other]
    uniq, counts = np.unique(pair, return_counts=True)
    best = np.zeros(n)
    np.maximum.at(best, uniq // n, counts / n_samples)
    return best
