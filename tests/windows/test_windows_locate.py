"""Tests of dhstat.windows.locate: membership, brute force and overlaps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dhstat import windows


def random_windows(rng: np.random.Generator, n: int) -> windows.Windows:
    center = np.stack([rng.uniform(-2, 30, n), rng.uniform(0, 100, n)], axis=1)
    a = rng.uniform(0.05, 3, n)
    b = a * rng.uniform(0.01, 1, n)
    angle = rng.uniform(-np.pi / 2, np.pi / 2, n)
    return windows.from_ellipses(center, np.stack([a, b], 1), angle)


def test_membership_equals_brute_force(rng: np.random.Generator) -> None:
    w = random_windows(rng, 300)
    x = rng.uniform(-6, 34, 20_000)
    y = rng.uniform(-4, 104, 20_000)
    # also points exactly on window centres and far outside
    x = np.concatenate([x, w.center[:, 0], [1e6, -1e6]])
    y = np.concatenate([y, w.center[:, 1], [0.0, 0.0]])
    fast = windows.membership(w, x, y, chunk_size=7000)
    brute = windows.contains(w, x, y)
    assert fast.shape == brute.shape
    assert fast.nnz > 1000
    assert np.array_equal(fast.toarray().astype(bool), brute)
    assert np.all(np.diff(fast.indices[fast.indptr[0] : fast.indptr[1]]) > 0)


def test_membership_with_ceta_cuts_equals_brute_force(rng: np.random.Generator) -> None:
    base = random_windows(rng, 200)
    w = windows.from_ellipses(
        base.center, base.axes, base.angle, ceta_cut=rng.uniform(0.3, 1.0, len(base))
    )
    x = rng.uniform(-6, 34, 10_000)
    y = rng.uniform(-4, 104, 10_000)
    ceta = rng.random(10_000)
    fast = windows.membership(w, x, y, ceta=ceta, chunk_size=3000, threads=2)
    brute = windows.contains(w, x, y) & (ceta[:, None] < w.ceta_cut[None, :])
    assert np.array_equal(fast.toarray().astype(bool), brute)


def test_membership_of_no_events_and_no_windows() -> None:
    w = windows.from_ellipses([[0.0, 0.0]], [[1.0, 1.0]], [0.0])
    assert windows.membership(w, np.zeros(0), np.zeros(0)).shape == (0, 1)
    empty = w.select(np.zeros(1, dtype=bool))
    assert windows.membership(empty, np.zeros(3), np.zeros(3)).shape == (3, 0)


def test_overlap_of_two_circles_matches_lens_formula() -> None:
    r, d = 1.0, 0.8
    w = windows.from_ellipses([[0.0, 0.0], [d, 0.0]], [[r, r], [r, r]], [0.0, 0.0])
    u = d / (2 * r)
    lens = 2 / math.pi * (math.acos(u) - u * math.sqrt(1 - u * u))
    got = windows.overlap_fractions(w, n_samples=40_000, rng=np.random.default_rng(3))
    assert got == pytest.approx([lens, lens], abs=0.01)
