"""Euler characteristics of excursion sets on the graph of window centres (Gross-Vitells).

For the first ``gv_toys`` toys the Euler characteristic ``phi`` of the excursion set
``{q_w > u}``, ``q = max(Z, 0)^2`` (i.e. ``{Z_w > sqrt(u)}``), is measured on the graph of window
centres: a Delaunay triangulation in 2-D, a chain in 1-D (Vitells & Gross, Astropart. Phys. 35
(2011) 230). The fit of the expected Euler characteristic is :mod:`dhstat.lee.grossvitells`.

Example:
    >>> g = window_graph(np.arange(4.0))
    >>> int(euler_characteristic(np.array([True, False, True, True]), g))
    2
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Delaunay

__all__ = ["Graph", "euler_characteristic", "window_graph"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Graph:
    """A simplicial complex on the window centres: vertices 0..V-1, edges and triangles.

    Attributes:
        n_vertices: Number of vertices (windows).
        edges: Vertex pairs, shape (E, 2).
        triangles: Vertex triples, shape (F, 3).
    """

    n_vertices: int
    edges: NDArray[np.int64]
    triangles: NDArray[np.int64]


def window_graph(centres: NDArray[np.float64]) -> Graph:
    """The graph of window centres on which Euler characteristics are measured.

    2-D centres: Delaunay triangulation (``scipy.spatial.Delaunay``; duplicate centres are joined
    to the vertex they coincide with). 1-D or collinear centres: a chain in the order along the line.

    Example:
        >>> g = window_graph(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        >>> g.edges.shape, g.triangles.shape
        ((3, 2), (1, 3))
        >>> window_graph(np.array([2.0, 0.0, 1.0])).edges.tolist()
        [[0, 2], [1, 2]]
    """
    points = np.asarray(centres, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    n = points.shape[0]
    empty_t = np.zeros((0, 3), dtype=np.int64)
    if n < 2:
        return Graph(n, np.zeros((0, 2), dtype=np.int64), empty_t)
    centred = points - points.mean(axis=0)
    flat = points.shape[1] == 1
    if not flat:
        singular = np.linalg.svd(centred, compute_uv=False)
        flat = n < 3 or singular[1] <= 1e-12 * max(singular[0], 1e-300)
    if flat:
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        order = np.argsort(centred @ direction, kind="stable")
        edges = np.sort(np.stack([order[:-1], order[1:]], axis=1), axis=1).astype(np.int64)
        return Graph(n, np.unique(edges, axis=0), empty_t)
    tri = Delaunay(points[:, :2])
    simplices = np.asarray(tri.simplices, dtype=np.int64)
    simplices.sort(axis=1)
    pairs = np.concatenate([simplices[:, [0, 1]], simplices[:, [0, 2]], simplices[:, [1, 2]]])
    edges = np.unique(pairs, axis=0)
    coplanar = np.asarray(tri.coplanar, dtype=np.int64).reshape(-1, 3)
    if coplanar.size:  # duplicates / points qhull dropped: attach to the vertex they coincide with
        extra = np.sort(coplanar[:, [0, 2]], axis=1)
        edges = np.unique(np.concatenate([edges, extra]), axis=0)
    return Graph(n, edges, simplices)


def euler_characteristic(above: NDArray[np.bool_], graph: Graph) -> NDArray[np.int64]:
    """Euler characteristic V - E + F of the subcomplex induced by the vertices ``above``.

    Args:
        above: Boolean mask over vertices, shape (V,) or (V, T) for T toys.
        graph: The complex (edges and triangles) on the vertices.

    Returns:
        The Euler characteristic (scalar array, or shape (T,)).

    Example:
        >>> g = Graph(3, np.array([[0, 1], [1, 2], [0, 2]]), np.zeros((0, 3), dtype=np.int64))
        >>> int(euler_characteristic(np.array([True, True, True]), g))  # a ring
        0
    """
    a = np.asarray(above, dtype=bool)
    v = a.sum(axis=0)
    e = (a[graph.edges[:, 0]] & a[graph.edges[:, 1]]).sum(axis=0)
    t = graph.triangles
    f = (a[t[:, 0]] & a[t[:, 1]] & a[t[:, 2]]).sum(axis=0)
    return np.asarray(v - e + f, dtype=np.int64)
