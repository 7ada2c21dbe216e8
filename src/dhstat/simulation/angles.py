"""Random polar angles of the generators: ``a + b c^2`` and the radiation dipole ``1/(1 - beta c)``.

Example:
    >>> import numpy as np
    >>> c = sample_quadratic(np.random.default_rng(1), np.ones(1000), np.ones(1000))
    >>> bool(np.all(np.abs(c) <= 1.0))
    True
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["dipole_cos", "sample_quadratic"]

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def sample_quadratic(rng: np.random.Generator, a: Array, b: Array) -> Array:
    """Cos theta from the density ``a + b c^2`` on [-1, 1] (a, b arrays, a + b c^2 >= 0)."""
    n = a.shape[0]
    out = np.empty(n)
    todo = np.arange(n)
    bound = np.maximum(a, a + b)
    while todo.size:
        c = rng.uniform(-1.0, 1.0, todo.size)
        ok = rng.random(todo.size) * bound[todo] <= a[todo] + b[todo] * c * c
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def dipole_cos(rng: np.random.Generator, one_minus_beta: Array, beta: Array) -> Array:
    """Cos theta from ``1/(1 - beta cos)`` (photon emitted by a particle of velocity beta).

    Returns ``1 - cos`` (accurate for tiny angles).
    """
    n = beta.shape[0]
    # 1 - beta c = (1 + beta) r^U with r = (1 - beta)/(1 + beta)
    r = one_minus_beta / (1.0 + beta)
    t = (1.0 + beta) * np.exp(rng.random(n) * np.log(r))
    return np.asarray(np.clip((t - one_minus_beta) / beta, 0.0, 2.0), dtype=np.float64)
