"""Look windows up by mass: the windows nearest to a point (M_A', M_h'), with what a run adds.

A signal of masses (M_A', M_h') sits at (x, y) = (M_h'^2, M_A'^2) of the search plane
(M_recoil^2, M_mumu^2); resolution and ISR smear it around that point. Its distance to a window
is measured in units of the window's ellipse,
``d = sqrt(A dx^2 + B dx dy + C dy^2)`` with ``(dx, dy)`` the offset from the window centre and
``A, B, C`` the window's quadratic form (:func:`~dhstat.windows.geometry.ellipse_quadratic`):
``d <= 1`` is inside the window, ``d = 1`` its boundary (``n_sigma`` of the fitted signal
covariance), ``d = 2`` twice as far out as the boundary in that direction.

:func:`nearest` ranks the windows of a :class:`~dhstat.windows.container.Windows` by ``d``.
:func:`open_catalogue` reads the windows of a run directory, of a folder of workspaces
(``index.json``) or of a ``windows.json``, with each window's workspace file and the scan's
result (observed limit, flags) when the run has them; :meth:`Catalogue.nearest` returns the
matches with those attached.

Example:
    >>> w = from_ellipses([[4.0, 25.0], [4.0, 36.0]], [[0.5, 0.2], [0.5, 0.2]], [0.0, 0.0])
    >>> best = nearest(w, 5.0, 2.0)[0]
    >>> best.id, best.distance, best.inside, best.center
    (0, 0.0, True, (4.0, 25.0))
    >>> [(m.id, round(m.distance, 2)) for m in nearest(w, 5.5, 2.0, k=2)]
    [(0, 26.25), (1, 28.75)]
"""

from __future__ import annotations

import dataclasses
import math
import operator
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dhstat import config, jsonio, rundir
from dhstat.errors import InputError
from dhstat.windows.container import Windows, from_ellipses
from dhstat.windows.container import load as load_windows

__all__ = [
    "Catalogue",
    "WindowMatch",
    "WindowResult",
    "nearest",
    "open_catalogue",
    "windows_from_index",
]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class WindowResult:
    """What a scan (``results.json``) says of one window.

    Attributes:
        cl: Credibility level of the limit.
        n_observed: Observed count N.
        background: Nominal expected background B.
        efficiency: Signal efficiency (``None`` when the scan did not know the luminosity).
        upper_limit: Observed Bayesian upper limit, flat prior on [0, sigma_max] [fb]
            (``None`` where the scan gives none).
        sigma_max: Upper end of the window's prior [fb].
        flags: The scan's flags of the window (``"sigma_max"``: the limit depends on the
            prior's upper end, so the prior, not the data, sets it; ``"no_sensitivity"``: no
            limit, the window has (almost) no signal efficiency).
        expected_limit: Expected flat-prior limit under the background-only hypothesis, the
            -2, -1, 0, +1, +2 standard-deviation quantiles [fb] (``None``: not in the scan).
        cls_upper_limit: Observed asymptotic CLs limit [fb] (``None``: none or not in the scan).
    """

    cl: float
    n_observed: int
    background: float
    efficiency: float | None
    upper_limit: float | None
    sigma_max: float
    flags: tuple[str, ...]
    expected_limit: tuple[float | None, ...] | None = None
    cls_upper_limit: float | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], cl: float) -> WindowResult:
        """From one entry of ``results.json``'s ``windows`` (already schema-valid)."""
        eps, limit = entry.get("eps"), entry.get("upper_limit_flat")
        band, cls_limit = entry.get("upper_limit_flat_expected"), entry.get("cls_upper_limit")
        return cls(
            cl=float(cl),
            n_observed=int(entry["n"]),
            background=float(entry["b"]),
            efficiency=None if eps is None else float(eps),
            upper_limit=None if limit is None else float(limit),
            sigma_max=float(entry["sigma_max"]),
            flags=tuple(str(flag) for flag in entry.get("flags", ())),
            expected_limit=None
            if band is None
            else tuple(None if v is None else float(v) for v in band),
            cls_upper_limit=None if cls_limit is None else float(cls_limit),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``None`` stays ``null``)."""
        return {
            "cl": self.cl,
            "n_observed": self.n_observed,
            "background": self.background,
            "efficiency": self.efficiency,
            "upper_limit_fb": self.upper_limit,
            "sigma_max_fb": self.sigma_max,
            "flags": list(self.flags),
            "expected_limit_fb": None if self.expected_limit is None else list(self.expected_limit),
            "cls_upper_limit_fb": self.cls_upper_limit,
        }


@dataclass(frozen=True, slots=True)
class WindowMatch:
    """One window near a point (M_A', M_h'), with its geometry.

    Attributes:
        id: Window id (as in windows.json, the workspace index and results.json).
        ma: M_A' of the window's grid point [GeV].
        mh: M_h' of the window's grid point [GeV].
        distance: Distance of the point to the window in units of its ellipse (<= 1: inside).
        inside: Whether the point is inside the window's ellipse.
        center: Ellipse centre (M_recoil^2, M_mumu^2) [GeV^2].
        axes: Semi-major and semi-minor axes [GeV^2].
        angle: Angle of the major axis to the M_recoil^2 axis [rad].
        ceta_cut: Events count in the window if C_eta < ceta_cut.
        workspace: Path of the window's pyhf workspace file (``None`` if not known).
        result: The scan's result for the window (``None`` without a results.json).
    """

    id: int
    ma: float
    mh: float
    distance: float
    inside: bool
    center: tuple[float, float]
    axes: tuple[float, float]
    angle: float
    ceta_cut: float
    workspace: str | None = None
    result: WindowResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "ma": self.ma,
            "mh": self.mh,
            "distance": self.distance,
            "inside": self.inside,
            "center": list(self.center),
            "axes": list(self.axes),
            "angle": self.angle,
            "ceta_cut": self.ceta_cut,
            "workspace": self.workspace,
            "result": None if self.result is None else self.result.to_dict(),
        }


def _check_point(ma: Any, mh: Any, sqrt_s: float | None, source: str) -> tuple[float, float]:
    """The point as two floats; they must be finite masses in the kinematic triangle."""
    masses = []
    for name, value in (("ma", ma), ("mh", mh)):
        try:
            mass = float(value)
        except (TypeError, ValueError):
            mass = math.nan
        if isinstance(value, bool) or not math.isfinite(mass):
            raise InputError(source, name, "a finite mass [GeV]", got=value)
        masses.append(mass)
    ma, mh = masses
    triangle = "0 <= M_h' < M_A'" + (
        "" if sqrt_s is None else f", M_A' + M_h' < sqrt(s) = {sqrt_s:.4f} GeV"
    )
    if not (0.0 <= mh < ma and (sqrt_s is None or ma + mh < sqrt_s)):
        raise InputError(
            source, "(ma, mh)", f"a point of the kinematic triangle {triangle}", got=(ma, mh)
        )
    return ma, mh


def nearest(
    windows: Windows,
    ma: float,
    mh: float,
    k: int = 1,
    *,
    sqrt_s: float | None = None,
    source: str = "<input>",
) -> tuple[WindowMatch, ...]:
    """The ``k`` windows nearest to the masses (M_A', M_h'), nearest first.

    The point is (x, y) = (M_h'^2, M_A'^2); the distance to a window is
    ``sqrt(A dx^2 + B dx dy + C dy^2)`` with the window's quadratic form, so ``<= 1`` is inside
    (the ellipse is ``n_sigma`` of the fitted signal covariance). Ties keep the windows' order.

    Args:
        windows: The windows.
        ma: M_A' [GeV].
        mh: M_h' [GeV].
        k: Number of windows returned (fewer if there are fewer windows).
        sqrt_s: c.m. energy [GeV] of the kinematic triangle (default: ``windows.meta["sqrt_s"]``
            if recorded, else only ``0 <= M_h' < M_A'`` is checked).
        source: Where the masses came from, for error messages.

    Returns:
        The matches, by increasing distance; ``workspace`` and ``result`` are ``None``.

    Raises:
        InputError: masses not finite or outside the triangle ``0 <= M_h' < M_A'``,
            ``M_A' + M_h' < sqrt(s)``; ``k < 1``; no windows.

    Example:
        >>> w = from_ellipses([[1.0, 4.0]], [[0.5, 0.1]], [0.0])
        >>> m = nearest(w, 2.0, math.sqrt(1.25))[0]  # x = 1.25: half-way to the boundary
        >>> round(m.distance, 12), m.inside
        (0.5, True)
        >>> nearest(w, 2.0, 2.5)
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: <input>: (ma, mh): expected a point of the kinematic triangle 0 <= M_h' < M_A', got (2.0, 2.5)
    """
    roots = sqrt_s if sqrt_s is not None else windows.meta.get("sqrt_s")
    ma, mh = _check_point(ma, mh, None if roots is None else float(roots), source)
    try:
        count = operator.index(k)
    except TypeError:
        count = 0
    if count < 1:
        raise InputError(source, "k", "a positive number of windows", got=k)
    if len(windows) == 0:
        raise InputError(source, "windows", "at least one window")
    dx = mh * mh - windows.center[:, 0]
    dy = ma * ma - windows.center[:, 1]
    quad = windows.quadratic
    q = quad[:, 0] * dx * dx + quad[:, 1] * dx * dy + quad[:, 2] * dy * dy
    distance = np.sqrt(np.clip(q, 0.0, None))
    order = np.argsort(distance, kind="stable")[:count]
    return tuple(
        WindowMatch(
            id=int(windows.ids[i]),
            ma=float(windows.ma[i]),
            mh=float(windows.mh[i]),
            distance=float(distance[i]),
            inside=bool(q[i] <= 1.0),
            center=(float(windows.center[i, 0]), float(windows.center[i, 1])),
            axes=(float(windows.axes[i, 0]), float(windows.axes[i, 1])),
            angle=float(windows.angle[i]),
            ceta_cut=float(windows.ceta_cut[i]),
        )
        for i in order
    )


@dataclass(frozen=True, slots=True, eq=False)
class Catalogue:
    """Windows with what a run adds: each window's workspace file and scan result.

    Attributes:
        windows: The windows.
        source: Where they were read from (for messages).
        workspaces: Window id -> path of its pyhf workspace.
        results: Window id -> the scan's result.
        sqrt_s: c.m. energy of the kinematic triangle [GeV] (``None``: not known).
    """

    windows: Windows
    source: str = "<input>"
    workspaces: Mapping[int, str] = field(default_factory=dict)
    results: Mapping[int, WindowResult] = field(default_factory=dict)
    sqrt_s: float | None = None

    def nearest(
        self, ma: float, mh: float, k: int = 1, *, source: str = "<input>"
    ) -> tuple[WindowMatch, ...]:
        """:func:`nearest` with the workspace file and scan result of each match attached."""
        matches = nearest(self.windows, ma, mh, k, sqrt_s=self.sqrt_s, source=source)
        return tuple(
            dataclasses.replace(
                m, workspace=self.workspaces.get(m.id), result=self.results.get(m.id)
            )
            for m in matches
        )


def windows_from_index(document: Mapping[str, Any]) -> Windows:
    """The windows of a workspace index (``index.json``, already schema-valid).

    The index has each window's ellipse, C_eta cut and masses; the fit fields are empty.

    Example:
        >>> entry = {"id": 7, "ma": 5.0, "mh": 2.0, "center": [4.0, 25.0], "axes": [0.5, 0.2],
        ...          "angle": 0.0, "ceta_cut": 0.9}
        >>> w = windows_from_index({"windows": [entry]})
        >>> w.ids.tolist(), w.ma.tolist(), w.ceta_cut.tolist()
        ([7], [5.0], [0.9])
    """
    entries = document["windows"]
    bare = from_ellipses(
        [e["center"] for e in entries],
        [e["axes"] for e in entries],
        [e["angle"] for e in entries],
        ceta_cut=[e["ceta_cut"] for e in entries],
        ids=[e["id"] for e in entries],
    )
    return dataclasses.replace(
        bare,
        ma=np.array([e["ma"] for e in entries], dtype=np.float64),
        mh=np.array([e["mh"] for e in entries], dtype=np.float64),
    )


def _workspace_files(index: Path, document: Mapping[str, Any]) -> dict[int, str]:
    return {int(e["id"]): str(index.parent / e["file"]) for e in document["windows"]}


def _results(path: Path) -> dict[int, WindowResult]:
    document = jsonio.read_json(path, schema="scan")
    cl = float(document["settings"]["cl"])
    found: dict[int, WindowResult] = {}
    for entry in document["windows"]:
        key = entry["id"]
        if isinstance(key, str):
            key = key.removeprefix("w")
            if not key.isdigit():
                continue  # a workspace file stem without a window id
        found[int(key)] = WindowResult.from_entry(entry, cl)
    return found


def _default_sqrt_s() -> float:
    return config.sqrt_s(config.load())


def open_catalogue(
    *,
    run: str | os.PathLike[str] | None = None,
    workspaces: str | os.PathLike[str] | None = None,
    windows_file: str | os.PathLike[str] | None = None,
) -> Catalogue:
    """The windows of a run directory, of a folder of workspaces, or of a windows file.

    Args:
        run: A run directory (``dhstat run``): its ``windows.json``, plus the workspace files of
            ``workspaces/index.json`` and the results of ``results.json`` when present.
        workspaces: A folder of workspaces with its ``index.json`` (or the index file itself):
            the ellipses and file names of the index. The index does not record sqrt(s); the
            kinematic triangle is the default beams'.
        windows_file: A ``windows.json`` document (geometry only).

    Exactly one of them must be given.

    Raises:
        InputError: not exactly one source, a missing file, or a file that is not valid.

    Example:
        >>> open_catalogue()
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: <input>: (source): expected exactly one of run, workspaces, windows_file
    """
    given = [s for s in (run, workspaces, windows_file) if s is not None]
    if len(given) != 1:
        raise InputError(None, "(source)", "exactly one of run, workspaces, windows_file")
    if run is not None:
        root = Path(run)
        if not root.is_dir():
            raise InputError(root, "(directory)", "a run directory")
        windows = load_windows(root / rundir.WINDOWS)
        index = root / rundir.WORKSPACE_INDEX
        files = {}
        if index.is_file():
            files = _workspace_files(index, jsonio.read_json(index, schema="workspace-index"))
        results = root / rundir.RESULTS
        found = _results(results) if results.is_file() else {}
        roots = windows.meta.get("sqrt_s")
        return Catalogue(windows, str(root), files, found, None if roots is None else float(roots))
    if workspaces is not None:
        index = Path(workspaces)
        if index.is_dir():
            index = index / "index.json"
        document = jsonio.read_json(index, schema="workspace-index")
        return Catalogue(
            windows_from_index(document),
            str(index),
            _workspace_files(index, document),
            {},
            _default_sqrt_s(),
        )
    path = Path(str(windows_file))
    windows = load_windows(path)
    roots = windows.meta.get("sqrt_s")
    return Catalogue(windows, str(path), {}, {}, None if roots is None else float(roots))
