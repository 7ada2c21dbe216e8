"""The Punzi C_eta cut: per window the cut that maximises eps(c) / (a/2 + sqrt(B(c))).

The candidate cuts are the configured grid (:func:`~dhstat.windows.points.candidate_cuts`);
``eps`` comes from the ISR signal simulation of each grid point, ``B`` from the selected
background simulation (:func:`background_curves`; the background MC is made by
:func:`~dhstat.windows.simulate.simulate_background` or read from selected-events files).

Example:
    >>> from dhstat.windows.container import from_ellipses
    >>> w = from_ellipses([[0.0, 0.0]], [[1.0, 1.0]], [0.0])
    >>> bkg = {"mrecoil2": np.zeros(3), "mmumu2": np.zeros(3), "ceta": np.array([0.2, 0.6, 0.9]),
    ...        "weight": np.ones(3)}
    >>> background_curves(w, bkg, np.array([0.5, 1.0])).tolist()
    [[1.0, 3.0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.windows.container import Windows
from dhstat.windows.locate import membership

__all__ = ["background_curves", "punzi_cuts"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def __dir__() -> list[str]:
    return __all__


def punzi_cuts(
    efficiency: ArrayLike, background: ArrayLike, cuts: ArrayLike, *, a: float = 3.0
) -> tuple[IntArray, FloatArray]:
    """Per window the candidate cut maximising ``eps / (a/2 + sqrt(B))`` (first maximum).

    Args:
        efficiency: Signal efficiency per window and candidate cut, shape (n, k).
        background: Expected background per window and candidate cut, shape (n, k).
        cuts: The candidate cuts, shape (k,).
        a: Punzi's number of sigmas.

    Returns:
        ``(index, cut)``: the chosen candidate index and cut value per window.

    Example:
        >>> eff = np.array([[0.5, 0.8, 1.0]])
        >>> bkg = np.array([[0.0, 0.1, 100.0]])
        >>> punzi_cuts(eff, bkg, [0.5, 0.9, 1.0])[1].tolist()
        [0.9]
    """
    e = np.asarray(efficiency, dtype=np.float64)
    b = np.clip(np.asarray(background, dtype=np.float64), 0.0, None)
    c = np.asarray(cuts, dtype=np.float64)
    fom = e / (a / 2 + np.sqrt(b))
    index = np.argmax(fom, axis=1).astype(np.int64)
    return index, c[index]


def background_curves(
    windows: Windows, background: Mapping[str, NDArray[Any]], cuts: FloatArray
) -> FloatArray:
    """Background weight per window and candidate cut, shape (n_windows, n_cuts).

    Args:
        windows: The windows.
        background: Selected background MC, flat arrays ``mrecoil2``, ``mmumu2``, ``ceta``,
            ``weight``.
        cuts: The candidate cuts (increasing); an event passes cut ``c`` if ``C_eta < c``.

    Returns:
        Per window and candidate cut, the weight of the background events inside the window
        that pass the cut.
    """
    m = membership(windows, background["mrecoil2"], background["mmumu2"]).tocoo()
    ceta = np.asarray(background["ceta"], dtype=np.float64)
    weight = np.asarray(background["weight"], dtype=np.float64)
    j = np.searchsorted(cuts, ceta[m.row], side="right")
    k = cuts.size
    hist = np.bincount(m.col.astype(np.int64) * (k + 1) + j, weights=weight[m.row],
                       minlength=len(windows) * (k + 1))  # fmt: skip
    return np.asarray(np.cumsum(hist.reshape(len(windows), k + 1), axis=1)[:, :k], dtype=np.float64)
