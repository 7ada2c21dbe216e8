"""The search windows as data: the :class:`Windows` columns, their JSON document and files.

One window per grid point in the analysis range: an ellipse in (x, y) = (M_recoil^2, M_mumu^2)
[GeV^2] centred at the fitted signal mean, with its C_eta cut, signal efficiency and fit results.
:func:`save` and :func:`load` write and read the ``windows`` JSON document (columnar, rounded for
compactness, schema-checked); :func:`is_current` tells whether a windows file was made with a
configuration's relevant tables (:func:`~dhstat.windows.digests.config_digest`).

Example:
    >>> w = from_ellipses([[1.0, 4.0], [2.0, 9.0]], [[0.5, 0.1], [0.4, 0.2]], [0.0, 0.1])
    >>> len(w), len(w.select([1])), round(float(w.area[0]), 6)
    (2, 1, 0.15708)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat import jsonio
from dhstat.config import Config
from dhstat.errors import InputError
from dhstat.windows.digests import config_digest
from dhstat.windows.geometry import ellipse_area, ellipse_quadratic

__all__ = ["Windows", "from_ellipses", "is_current", "load", "save"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True, eq=False)
class Windows:
    """The search windows (one per grid point in the analysis range).

    Attributes:
        ids: Window id = index of the grid point in the whole-triangle grid.
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        center: Ellipse centre (x = M_recoil^2, y = M_mumu^2) [GeV^2], shape (n, 2).
        axes: Semi-major and semi-minor axes [GeV^2], shape (n, 2).
        angle: Angle of the major axis to the x axis [rad], in (-pi/2, pi/2].
        ceta_cut: Events count in the window if C_eta < ceta_cut.
        efficiency: Signal efficiency (ISR simulation): selected, inside, C_eta < cut over all
            generated.
        efficiency_error: MC statistical uncertainty of ``efficiency``.
        window_fraction: Fraction of the selected ISR signal inside the ellipse (no C_eta cut).
        sigma_core: Fitted (sx, sy) of the first Gaussian [GeV^2], shape (n, 2).
        sigma_tail: Fitted (sx, sy) of the second Gaussian [GeV^2], shape (n, 2).
        rho: Fitted common correlation.
        core_fraction: Fitted weight of the first Gaussian.
        fit_status: One of :data:`~dhstat.windows.fit.FIT_STATUSES` per window.
        fit_edm: Estimated distance to minimum of the accepted fit (0 if no fit).
        n_fit: Number of events in the fit.
        meta: Grid settings, config digest and provenance (JSON-serialisable).
    """

    ids: IntArray
    ma: FloatArray
    mh: FloatArray
    center: FloatArray
    axes: FloatArray
    angle: FloatArray
    ceta_cut: FloatArray
    efficiency: FloatArray
    efficiency_error: FloatArray
    window_fraction: FloatArray
    sigma_core: FloatArray
    sigma_tail: FloatArray
    rho: FloatArray
    core_fraction: FloatArray
    fit_status: tuple[str, ...]
    fit_edm: FloatArray
    n_fit: IntArray
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def quadratic(self) -> FloatArray:
        """Per window (A, B, C) with the window ``A dx^2 + B dx dy + C dy^2 <= 1``."""
        return ellipse_quadratic(self.axes, self.angle)

    @property
    def area(self) -> FloatArray:
        """Ellipse areas [GeV^4]."""
        return ellipse_area(self.axes)

    def select(self, mask: ArrayLike) -> Windows:
        """The windows where ``mask`` (boolean or index array) selects."""
        index = np.arange(len(self))[np.asarray(mask)]
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "meta":
                values[f.name] = value
            elif f.name == "fit_status":
                values[f.name] = tuple(value[i] for i in index)
            else:
                values[f.name] = value[index]
        return Windows(**values)

    def to_dict(self) -> dict[str, Any]:
        """The ``windows`` JSON document (columnar: one list per field)."""
        columns: dict[str, Any] = {
            "id": self.ids.tolist(),
            "ma": _round(self.ma, 6),
            "mh": _round(self.mh, 6),
            "center": _round(self.center, 6),
            "axes": _round(self.axes, 6, relative=True),
            "angle": _round(self.angle, 7),
            "ceta_cut": _round(self.ceta_cut, 4),
            "efficiency": _round(self.efficiency, 6, relative=True),
            "efficiency_error": _round(self.efficiency_error, 4, relative=True),
            "window_fraction": _round(self.window_fraction, 5),
            "sigma_core": _round(self.sigma_core, 5, relative=True),
            "sigma_tail": _round(self.sigma_tail, 5, relative=True),
            "rho": _round(self.rho, 5),
            "core_fraction": _round(self.core_fraction, 5),
            "fit_status": list(self.fit_status),
            "fit_edm": _round(self.fit_edm, 3, relative=True),
            "n_fit": self.n_fit.tolist(),
        }
        return {"schema_version": "1.0.0", "meta": dict(self.meta), "windows": columns}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, source: str = "<input>") -> Windows:
        """Rebuild from :meth:`to_dict` output (already schema-valid)."""
        cols = document["windows"]
        n = len(cols["id"])
        for key, value in cols.items():
            if len(value) != n:
                raise InputError(source, f"windows.{key}", f"{n} entries (one per window)")

        def arr(key: str, kind: str = "f8") -> NDArray[Any]:
            return np.asarray(cols[key], dtype=kind).reshape((n, 2) if key in _PAIRS else (n,))

        return cls(
            ids=arr("id", "i8"),
            ma=arr("ma"),
            mh=arr("mh"),
            center=arr("center"),
            axes=arr("axes"),
            angle=arr("angle"),
            ceta_cut=arr("ceta_cut"),
            efficiency=arr("efficiency"),
            efficiency_error=arr("efficiency_error"),
            window_fraction=arr("window_fraction"),
            sigma_core=arr("sigma_core"),
            sigma_tail=arr("sigma_tail"),
            rho=arr("rho"),
            core_fraction=arr("core_fraction"),
            fit_status=tuple(cols["fit_status"]),
            fit_edm=arr("fit_edm"),
            n_fit=arr("n_fit", "i8"),
            meta=dict(document["meta"]),
        )


_PAIRS = frozenset({"center", "axes", "sigma_core", "sigma_tail"})


def _round(values: NDArray[Any], digits: int, *, relative: bool = False) -> list[Any]:
    """Round for compact JSON: ``digits`` decimals, or significant digits if ``relative``."""
    v = np.asarray(values, dtype=np.float64)
    if relative:
        out = np.array([float(f"{x:.{digits}g}") for x in v.ravel()]).reshape(v.shape)
    else:
        out = np.round(v, digits)
    out = np.where(out == 0, 0.0, out)  # no "-0.0"
    result: list[Any] = out.tolist()
    return result


def from_ellipses(
    center: ArrayLike,
    axes: ArrayLike,
    angle: ArrayLike,
    *,
    ceta_cut: ArrayLike | None = None,
    ids: ArrayLike | None = None,
) -> Windows:
    """Windows from bare ellipses (for tests and hand-made windows); fit fields are empty.

    Args:
        center: Centres (x, y) [GeV^2], shape (n, 2).
        axes: Semi-major and semi-minor axes [GeV^2], shape (n, 2).
        angle: Major-axis angles [rad], shape (n,).
        ceta_cut: C_eta cuts (default 1: no cut).
        ids: Window ids (default 0..n-1).

    Returns:
        Windows with zero efficiency and ``fit_status`` "fallback".
    """
    c = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    n = c.shape[0]
    zeros = np.zeros(n)
    return Windows(
        ids=np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64),
        ma=np.sqrt(np.clip(c[:, 1], 0, None)),
        mh=np.sqrt(np.clip(c[:, 0], 0, None)),
        center=c,
        axes=np.asarray(axes, dtype=np.float64).reshape(n, 2),
        angle=np.asarray(angle, dtype=np.float64).reshape(n),
        ceta_cut=np.ones(n) if ceta_cut is None else np.asarray(ceta_cut, dtype=np.float64),
        efficiency=zeros,
        efficiency_error=zeros,
        window_fraction=zeros,
        sigma_core=np.zeros((n, 2)),
        sigma_tail=np.zeros((n, 2)),
        rho=zeros,
        core_fraction=zeros,
        fit_status=("fallback",) * n,
        fit_edm=zeros,
        n_fit=np.zeros(n, dtype=np.int64),
        meta={},
    )


def save(windows: Windows, path: str | os.PathLike[str]) -> None:
    """Write ``windows`` as a ``windows`` JSON document (atomic, schema-checked)."""
    jsonio.write_json(path, windows.to_dict(), schema="windows", indent=None)


def load(path: str | os.PathLike[str]) -> Windows:
    """Read a ``windows`` JSON document.

    Raises:
        InputError: missing file, invalid JSON, schema mismatch or inconsistent columns.
    """
    document = jsonio.read_json(path, schema="windows")
    return Windows.from_dict(document, source=str(path))


def is_current(path: str | os.PathLike[str], cfg: Config) -> bool:
    """Whether the windows file at ``path`` was made with this configuration's relevant tables.

    Example:
        >>> from dhstat import config
        >>> is_current("/nonexistent/windows.json", config.load())
        False
    """
    try:
        document = jsonio.read_json(path, schema="windows")
    except InputError:
        return False
    return bool(document["meta"].get("config_digest") == config_digest(cfg))
