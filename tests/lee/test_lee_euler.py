"""Euler characteristics on the graph of window centres (dhstat.lee.euler)."""

from __future__ import annotations

import numpy as np

from dhstat import lee


def grid_graph(size: int = 9) -> tuple[lee.Graph, np.ndarray]:
    rng = np.random.default_rng(3)
    x, y = np.meshgrid(np.arange(size, dtype=float), np.arange(size, dtype=float))
    points = np.stack([x.ravel(), y.ravel()], axis=1) + rng.uniform(-0.1, 0.1, (size * size, 2))
    return lee.window_graph(points), points


def test_euler_characteristic_of_hand_made_sets() -> None:
    graph, points = grid_graph()
    r = np.hypot(points[:, 0] - 4, points[:, 1] - 4)
    disk = r < 2.5
    ring = (r > 1.5) & (r < 3.6)
    blobs = (np.hypot(points[:, 0] - 1.5, points[:, 1] - 1.5) < 1.3) | (
        np.hypot(points[:, 0] - 6.5, points[:, 1] - 6.5) < 1.3
    )
    # Sanity of the hand-made sets: the ring really encloses the centre, the blobs are apart.
    assert ring.sum() > 12
    assert not ring[np.argmin(r)]
    assert int(lee.euler_characteristic(disk, graph)) == 1
    assert int(lee.euler_characteristic(ring, graph)) == 0
    assert int(lee.euler_characteristic(blobs, graph)) == 2
    assert int(lee.euler_characteristic(np.zeros(r.size, bool), graph)) == 0
    assert int(lee.euler_characteristic(np.ones(r.size, bool), graph)) == 1
    # Vectorised over toys (columns).
    stacked = np.stack([disk, ring, blobs], axis=1)
    assert lee.euler_characteristic(stacked, graph).tolist() == [1, 0, 2]


def test_euler_characteristic_of_a_chain_counts_components() -> None:
    graph = lee.window_graph(np.arange(10.0))
    assert graph.triangles.shape == (0, 3)
    above = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 0], bool)
    assert int(lee.euler_characteristic(above, graph)) == 3


def test_duplicate_centres_join_the_graph() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    graph = lee.window_graph(points)
    # The duplicate alone above threshold is one component, joined to its twin when both are above.
    assert int(lee.euler_characteristic(np.array([0, 0, 0, 0, 1], bool), graph)) == 1
    assert int(lee.euler_characteristic(np.array([0, 0, 0, 1, 1], bool), graph)) == 1
