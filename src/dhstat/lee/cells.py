"""The disjoint cells of a search, the window -> cell map, and signal injection into cells.

The window boundaries and C_eta cuts cut the plane into disjoint *cells* (``counting``). A toy
draws one count per cell and sums the cells into windows through the sparse window -> cell map
(CSR, ``scipy.sparse``, int32), so an event in the overlap of several windows counts in all of
them. For a Poisson process this is exact.

Example:
    >>> c = CellInputs(np.array([1.0, 3.0]), np.zeros(2), np.array([0, 2]), np.array([0, 1]))
    >>> c.n_windows, c.n_cells
    (1, 2)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from dhstat.errors import InputError

__all__ = ["CellInputs", "inject_signal"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class CellInputs:
    """The disjoint cells of a search and how the windows are made of them.

    Attributes:
        background: Expected background per cell (summed over processes), shape (C,).
        sumw2: Sum of squared MC weights per cell (MC statistical variance), shape (C,).
        indptr: CSR row pointers of the window -> cell map, shape (W + 1,).
        indices: CSR column indices (cell numbers), shape (nnz,).
        signal: Expected signal per cell to inject (power studies); zeros for background-only.
    """

    background: NDArray[np.float64]
    sumw2: NDArray[np.float64]
    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    signal: NDArray[np.float64] | None = None

    @property
    def n_windows(self) -> int:
        """Number of windows W."""
        return int(self.indptr.size - 1)

    @property
    def n_cells(self) -> int:
        """Number of cells C."""
        return int(self.background.size)

    def matrix(self) -> sparse.csr_matrix:
        """The window -> cell map as an int32 CSR matrix of shape (W, C)."""
        data = np.ones(self.indices.size, dtype=np.int32)
        return sparse.csr_matrix(
            (data, self.indices.astype(np.int32), self.indptr.astype(np.int32)),
            shape=(self.n_windows, self.n_cells),
        )

    def check(self, source: str | os.PathLike[str] | None = None) -> None:
        """Raise :class:`InputError` unless the arrays are consistent, finite and non-negative."""
        if self.indptr.ndim != 1 or self.indptr.size < 2 or self.indptr[0] != 0:
            raise InputError(source, "cells.indptr", "a CSR row-pointer array starting at 0")
        if np.any(np.diff(self.indptr) < 0) or self.indptr[-1] != self.indices.size:
            raise InputError(
                source, "cells.indptr", "non-decreasing pointers ending at len(cells.indices)"
            )
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.n_cells):
            raise InputError(source, "cells.indices", f"cell numbers in [0, {self.n_cells})")
        for name, array in (("background", self.background), ("sumw2", self.sumw2)):
            if array.shape != (self.n_cells,):
                raise InputError(source, f"cells.{name}", f"{self.n_cells} values (one per cell)")
            if not np.all(np.isfinite(array)) or np.any(array < 0):
                raise InputError(source, f"cells.{name}", "finite, non-negative numbers")
        if self.signal is not None and (
            self.signal.shape != (self.n_cells,) or np.any(~(self.signal >= 0))
        ):
            raise InputError(source, "signal", "a finite non-negative expectation per cell")


def inject_signal(cells: CellInputs, window: int, expected: float) -> CellInputs:
    """Cells with ``expected`` signal events added to window ``window`` (for power studies).

    The counts file has no signal per cell, so the signal is spread over the window's cells in
    proportion to their background (uniformly if the window has no background): an approximation
    that keeps every injected event inside the window.

    Example:
        >>> c = CellInputs(np.array([1.0, 3.0]), np.zeros(2), np.array([0, 2]), np.array([0, 1]))
        >>> inject_signal(c, 0, 8.0).signal.tolist()
        [2.0, 6.0]
    """
    if not 0 <= window < cells.n_windows or not expected >= 0:
        raise InputError(None, "signal injection", "a window index and a non-negative yield")
    members = cells.indices[cells.indptr[window] : cells.indptr[window + 1]]
    weight = cells.background[members]
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(members.size, 1 / members.size)
    signal = np.zeros(cells.n_cells) if cells.signal is None else cells.signal.copy()
    np.add.at(signal, members, expected * weight)
    return CellInputs(cells.background, cells.sumw2, cells.indptr, cells.indices, signal)
