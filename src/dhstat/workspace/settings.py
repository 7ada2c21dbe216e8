"""What the workspaces stage takes from the analysis configuration, typed and read once.

Example:
    >>> from dhstat import config
    >>> settings = WorkspaceSettings.from_config(config.load())
    >>> settings.sigma_max > 0, settings.rules.mc_statistics
    (True, True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dhstat import systematics

__all__ = ["WorkspaceSettings", "sigma_max"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    """The settings of the workspaces stage.

    Attributes:
        sigma_max: Upper bound of the POI [fb]: ``[stats] sigma_max`` (the upper end of the prior
            on sigma).
        rules: The systematics rules of the ``[systematics]`` table
            (:meth:`dhstat.systematics.Rules.from_config`).
    """

    sigma_max: float
    rules: systematics.Rules

    @classmethod
    def from_config(
        cls, cfg: Mapping[str, Any], *, measured: str | os.PathLike[str] | None = None
    ) -> WorkspaceSettings:
        """Read the settings from an analysis configuration (:func:`dhstat.config.load`).

        Args:
            cfg: The configuration.
            measured: A macroregion file overriding the configured systematics source (see
                :meth:`dhstat.systematics.Rules.from_config`).

        Raises:
            InputError: inconsistent systematics curves, or a measured source without a file.
        """
        return cls(
            sigma_max=float(cfg["stats"]["sigma_max"]),
            rules=systematics.Rules.from_config(cfg, measured=measured),
        )


def sigma_max(cfg: Mapping[str, Any]) -> float:
    """Upper bound of the POI [fb]: ``[stats] sigma_max`` (the upper end of the prior on sigma).

    Kept for one release: use :attr:`WorkspaceSettings.sigma_max`.

    Example:
        >>> from dhstat import config
        >>> sigma_max(config.load()) > 0
        True
    """
    return float(cfg["stats"]["sigma_max"])
