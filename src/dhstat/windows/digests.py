"""What the windows depend on: the configuration digests of the windows file and the checkpoint.

``config_digest`` (stored in every windows file, compared by
:func:`~dhstat.windows.container.is_current`) covers the tables of :data:`DIGEST_TABLES` and the
master seed; ``point_digest`` (stored on every checkpoint line) leaves out the ``[windows]`` keys
that do not change a grid point's result, so changing them reuses the fitted points.

Example:
    >>> from dhstat import config
    >>> cfg = config.load()
    >>> len(config_digest(cfg)), config_digest(cfg) == point_digest(cfg)
    (64, False)
"""

from __future__ import annotations

from dhstat import jsonio
from dhstat.config import Config

__all__ = ["DIGEST_TABLES", "POINT_INDEPENDENT", "config_digest", "point_digest"]


def __dir__() -> list[str]:
    return __all__


#: Tables whose content determines the windows; their digest and ``[run] seed`` make the
#: ``config_digest`` stored in the windows file (``[run]`` workers/scheduler do not matter).
DIGEST_TABLES = (
    "beams",
    "physics",
    "detector",
    "signal",
    "simulation",
    "selection",
    "processes",
    "dataset",
    "grid",
    "windows",
)

#: ``[windows]`` keys that do not change a grid point's result (only the Punzi step or the
#: scheduling): they are left out of the checkpoint digest, so changing them reuses the points.
POINT_INDEPENDENT = (
    "punzi_a",
    "punzi_background_luminosity_fb",
    "punzi_background_chunks",
    "batch_size",
)


def config_digest(cfg: Config) -> str:
    """Digest of what the windows depend on: the tables of ``DIGEST_TABLES`` and the seed."""
    tables = cfg.digest(*(t for t in DIGEST_TABLES if t in cfg))
    return jsonio.canonical_digest({"tables": tables, "seed": int(cfg["run"]["seed"])})


def point_digest(cfg: Config) -> str:
    """Digest of what one grid point's result depends on (the checkpoint's key)."""
    tables = cfg.digest(*(t for t in DIGEST_TABLES if t in cfg and t != "windows"))
    w = {k: v for k, v in cfg["windows"].items() if k not in POINT_INDEPENDENT}
    return jsonio.canonical_digest({"tables": tables, "windows": w, "seed": cfg["run"]["seed"]})
