"""The records of the workspaces stage: one window's input, and a built set of workspaces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["WindowInput", "WorkspaceSet"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class WindowInput:
    """Everything one window's workspace is built from (one entry of counts + windows).

    Attributes:
        id: Window id.
        ma: M_A' of the window centre [GeV].
        mh: M_h' of the window centre [GeV].
        center: Ellipse centre (M_recoil^2, M_mumu^2) [GeV^2].
        axes: Ellipse semi-axes (major, minor) [GeV^2].
        angle: Ellipse orientation, major axis vs the M_recoil^2 axis [rad].
        ceta_cut: The window's C_eta cut (events with C_eta below it are counted).
        n_observed: Observed count N.
        background: Per background process, in the order of the workspace's samples: (expected
            yield, MC statistical error).
        efficiency: Signal efficiency in [0, 1].
        efficiency_error: MC statistical error of the efficiency.
    """

    id: int
    ma: float
    mh: float
    center: tuple[float, float]
    axes: tuple[float, float]
    angle: float
    ceta_cut: float
    n_observed: int
    background: Mapping[str, tuple[float, float]]
    efficiency: float
    efficiency_error: float


@dataclass(frozen=True, slots=True)
class WorkspaceSet:
    """A validated set of window workspaces and its index, ready to write.

    Attributes:
        index: The index document (schema ``workspace-index``); window ``i`` of
            ``index["windows"]`` is workspace ``i``.
        workspaces: One pyhf workspace per window.
        texts: The exact file content of each workspace (its SHA-256 is in the index).
    """

    index: Mapping[str, Any]
    workspaces: tuple[dict[str, Any], ...]
    texts: tuple[str, ...]
