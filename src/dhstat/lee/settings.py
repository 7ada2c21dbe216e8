"""The ``[lee]`` configuration table as a typed, frozen settings object.

Example:
    >>> from dhstat import config
    >>> settings = LeeSettings.from_config(config.load()["lee"])
    >>> settings.batch_size, settings.gv_thresholds
    (1000, (1.0, 1.5, 2.0, 2.5, 3.0, 4.0))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LeeSettings"]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class LeeSettings:
    """The look-elsewhere settings (the ``[lee]`` table; see its comments for the defaults).

    Attributes:
        n_toys: Toys of the main job (``dhstat lee --toys`` overrides it).
        batch_size: Toys per batch: the unit of seeding, parallel work and checkpoints.
        gv_toys: Toys (the first ones) whose Euler characteristics feed the Gross-Vitells fit.
        gv_thresholds: Gross-Vitells thresholds u on q = max(Z, 0)^2.
        systematics: Draw the background systematic nuisance parameters once per toy.
        mc_stat: Smear each cell's mean by its MC statistical uncertainty.
        table_sigmas: Z tables reach this many standard deviations above the mean.
    """

    n_toys: int
    batch_size: int
    gv_toys: int
    gv_thresholds: tuple[float, ...]
    systematics: bool
    mc_stat: bool
    table_sigmas: float

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> LeeSettings:
        """The settings of a validated ``[lee]`` table (``cfg["lee"]``)."""
        return cls(
            n_toys=int(table["n_toys"]),
            batch_size=int(table["batch_size"]),
            gv_toys=int(table["gv_toys"]),
            gv_thresholds=tuple(float(u) for u in table["gv_thresholds"]),
            systematics=bool(table["systematics"]),
            mc_stat=bool(table["mc_stat"]),
            table_sigmas=float(table["table_sigmas"]),
        )
