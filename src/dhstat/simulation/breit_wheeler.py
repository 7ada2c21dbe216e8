"""gamma gamma -> l+ l- (Breit-Wheeler): total cross section and angular distribution.

Example:
    >>> import numpy as np
    >>> c = breit_wheeler_cos(np.random.default_rng(1), np.full(100, 0.9), np.full(100, 0.5))
    >>> bool(np.all(np.abs(c) <= 0.5))
    True
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["breit_wheeler_cos", "breit_wheeler_fraction", "breit_wheeler_total"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def breit_wheeler_total(w: Array, m: float, alpha: float) -> Array:
    """sigma(gamma gamma -> l l) [GeV^-2] (Breit-Wheeler)."""
    beta = np.sqrt(np.clip(1 - 4 * m * m / (w * w), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.log((1 + beta) / np.maximum(1 - beta, 1e-300))
        value = 2 * np.pi * alpha**2 / (w * w) * ((3 - beta**4) * log - 2 * beta * (2 - beta**2))
    return np.asarray(np.where(beta > 0, value, 0.0), dtype=np.float64)


def breit_wheeler_cos(rng: np.random.Generator, beta: Array, c_max: Array | None = None) -> Array:
    """Cos theta* of gamma gamma -> l l: [1 + 2b^2 s^2 - b^4 (1 + s^4)]/(1 - b^2 c^2)^2.

    Restricted to ``|cos| <= c_max`` if given. Proposal ``1/(1 - b^2 c^2)`` (uniform in
    ``atanh(b c)``), acceptance ``num / (1 - b^2 c^2) / 2 <= 1``.
    """
    n = beta.shape[0]
    limit = np.ones(n) if c_max is None else c_max
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        b = beta[todo]
        a = np.arctanh(b * limit[todo])
        c = np.tanh(rng.uniform(-1, 1, todo.size) * a) / b
        ok = rng.random(todo.size) <= _bw_ratio(c, b) / 2.0
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def _bw_ratio(c: Array, b: Array) -> Array:
    s2 = 1 - c * c
    num = 1 + 2 * b * b * s2 - b**4 * (1 + s2 * s2)
    return np.asarray(num / (1 - b * b * c * c), dtype=np.float64)


def breit_wheeler_fraction(c_max: Array, beta: Array, points: int = 64) -> Array:
    """Fraction of the Breit-Wheeler angular distribution inside |cos| <= c_max."""
    t = (np.arange(points) + 0.5) / points  # midpoints in the proposal variable
    a_full = np.arctanh(beta)
    a_cut = np.arctanh(beta * c_max)

    def integral(a: Array) -> Array:
        c = np.tanh(a[..., None] * t) / beta[..., None]
        return np.asarray(a * _bw_ratio(c, beta[..., None]).mean(axis=-1))

    with np.errstate(invalid="ignore", divide="ignore"):
        frac = integral(a_cut) / integral(a_full)
    return np.asarray(np.nan_to_num(np.clip(frac, 0.0, 1.0)), dtype=np.float64)
