"""Search windows: the mass grid, ellipse fits to signal simulation, membership, Punzi C_eta cuts.

The search plane is (x, y) = (M_recoil^2, M_mumu^2) in GeV^2. One window per grid point
(M_A', M_h'); the window is an ellipse centred at the fitted signal mean.

* **Grid** (:func:`grid_points`). Rows of constant M_A' from ``ma_min`` to ``ma_max``, each step
  ``step_fraction_ma * sigma(M_mumu)``; in each row, M_h'^2 from ``mh_min^2`` upwards in steps of
  ``step_fraction_mh * sigma(M_recoil^2)`` while M_h' < min(M_A', sqrt(s) - M_A'). The resolutions
  are the smooth parametrisation of the ``[grid]`` table (:func:`resolution`).
* **Fit** (:func:`fit_ellipse`). Selected no-ISR signal events are fitted (unbinned maximum
  likelihood, iminuit) with the sum of two 2-D Gaussians sharing the mean ``mu`` and the
  correlation ``rho``: ``f N(mu, S1) + (1 - f) N(mu, S2)``, ``S_i = [[sx_i^2, rho sx_i sy_i],
  [rho sx_i sy_i, sy_i^2]]``. Starting values come from the sample moments refined by a few EM
  iterations. A failed fit is retried from a single-Gaussian start with a stricter strategy; if
  it still fails, the window comes from the robust sample covariance and the point keeps
  ``fit_status = "fallback"`` (never dropped).
* **Contour.** The density of a two-Gaussian sum has no elliptical contours in general, so the
  window is defined through the covariance of the fitted mixture, ``S = f S1 + (1 - f) S2``
  (exact for a common mean): the window is ``{d : d^T S^-1 d <= n_sigma^2}``, ``d = (x, y) - mu``.
  For a single Gaussian this is exactly its ``n_sigma`` standard-deviation contour, which contains
  ``1 - exp(-n_sigma^2 / 2)`` of it (86.5 % for 2).
* **Membership** (:func:`membership`). Window bounding boxes are registered in a grid of buckets
  whose edges are quantiles of the box bounds; each event is tested exactly only against the
  windows of its bucket. The result is a sparse events x windows CSR matrix.
* **C_eta cut** (:func:`punzi_cuts`). Per window the cut ``C_eta < c`` maximising
  ``eps(c) / (a/2 + sqrt(B(c)))`` over the configured candidate grid; ``eps`` from the ISR signal
  simulation, ``B`` from the selected background simulation.

Example:
    >>> import numpy as np
    >>> w = from_ellipses([[1.0, 4.0]], [[0.5, 0.1]], [0.0])
    >>> contains(w, np.array([1.4, 1.0, 2.0]), np.array([4.0, 4.09, 4.0])).tolist()
    [[True], [True], [False]]
    >>> membership(w, np.array([1.4, 2.0]), np.array([4.0, 4.0])).toarray().tolist()
    [[1], [0]]
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike, NDArray

from dhstat import config as config_module
from dhstat import jsonio, parallel
from dhstat.errors import InputError

__all__ = [
    "FIT_STATUSES",
    "Grid",
    "PointResult",
    "Windows",
    "candidate_cuts",
    "config_digest",
    "contains",
    "covariance_ellipse",
    "define",
    "ellipse_area",
    "fit_ellipse",
    "fit_points",
    "fit_resolution",
    "from_ellipses",
    "grid_points",
    "is_current",
    "load",
    "measure_resolution",
    "membership",
    "overlap_fractions",
    "punzi_cuts",
    "resolution",
    "save",
    "simulate_background",
]

log = logging.getLogger(__name__)

#: Values of ``Windows.fit_status``: fit converged; converged after a retry; fit failed and the
#: robust sample covariance was used; too few events to fit (resolution model used).
FIT_STATUSES = ("ok", "retried", "fallback", "too_few_events")

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

#: First key of every random stream of this stage (task_rng(seed, _STREAM, point_id, isr)).
_STREAM = 0x57494E

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: A signal simulator: (ma, mh, n_events, cfg, rng, isr) -> (selected search arrays, sum of the
#: weights of all generated events, sum of their squares).
SignalSimulator = Callable[
    [float, float, int, Mapping[str, Any], np.random.Generator, bool],
    tuple[Mapping[str, NDArray[Any]], float, float],
]


def __dir__() -> list[str]:
    return __all__


# ----------------------------------------------------------------------------------------- grid


@dataclass(frozen=True, slots=True, eq=False)
class Grid:
    """The mass grid over the whole kinematic triangle.

    Attributes:
        ma: A' mass of each point [GeV].
        mh: h' mass of each point [GeV].
        in_range: Whether the point is in the analysis range (M_A' >= ``analysis_ma_min``).
        sigma: Resolution model at each point, columns (sigma(M_recoil^2), sigma(M_mumu^2))
            [GeV^2].
    """

    ma: FloatArray
    mh: FloatArray
    in_range: NDArray[np.bool_]
    sigma: FloatArray

    @property
    def size(self) -> int:
        """Number of points in the whole triangle."""
        return int(self.ma.size)


def resolution(ma: ArrayLike, mh: ArrayLike, cfg: Mapping[str, Any]) -> FloatArray:
    """Resolution model of the ``[grid]`` table in the squared-mass plane.

    ``sigma(M_mumu) = hypot(rel * M_A', const)`` so ``sigma(M_mumu^2) = 2 M_A' sigma(M_mumu)``;
    ``sigma(M_recoil^2) = 2 sqrt(s) hypot(e0, e1 * p*)`` with ``p*`` the c.m. momentum of the A'.

    Args:
        ma: A' masses [GeV].
        mh: h' masses [GeV].
        cfg: The configuration (``[grid]``, ``[beams]``, ``[physics]``).

    Returns:
        Array of shape ``(..., 2)``: (sigma(M_recoil^2), sigma(M_mumu^2)) [GeV^2].

    Example:
        >>> from dhstat import config
        >>> s = resolution(5.0, 2.0, config.load())
        >>> bool(0.1 < s[0] < 1.0 and 0.1 < s[1] < 0.5)
        True
    """
    g = cfg["grid"]
    ma_ = np.asarray(ma, dtype=np.float64)
    mh_ = np.asarray(mh, dtype=np.float64)
    roots = config_module.sqrt_s(cfg)
    s = roots * roots
    ra, rh = ma_**2 / s, mh_**2 / s
    lam = np.clip(1 + ra**2 + rh**2 - 2 * ra - 2 * rh - 2 * ra * rh, 0.0, None)
    pstar = 0.5 * roots * np.sqrt(lam)
    sig_m = np.hypot(g["mumu_resolution_relative"] * ma_, g["mumu_resolution_constant_gev"])
    sig_y = 2.0 * ma_ * sig_m
    sig_x = (
        2.0
        * roots
        * np.hypot(
            g["recoil_energy_resolution_constant_gev"], g["recoil_energy_resolution_slope"] * pstar
        )
    )
    return np.stack(np.broadcast_arrays(sig_x, sig_y), axis=-1)


def grid_points(cfg: Mapping[str, Any]) -> Grid:
    """The (M_A', M_h') grid over the triangle M_h' < M_A', M_A' + M_h' < sqrt(s).

    Args:
        cfg: The configuration (``[grid]`` for the range and steps).

    Returns:
        All grid points, rows of increasing M_A', each with increasing M_h'.

    Example:
        >>> from dhstat import config
        >>> g = grid_points(config.load())
        >>> bool(np.all(g.mh < g.ma)), bool(8000 < g.size < 10000)
        (True, True)
    """
    g = cfg["grid"]
    roots = config_module.sqrt_s(cfg)
    rows: list[float] = []
    ma = float(g["ma_min"])
    while ma <= g["ma_max"] * (1 + 1e-12):
        rows.append(ma)
        sig_m = math.hypot(g["mumu_resolution_relative"] * ma, g["mumu_resolution_constant_gev"])
        ma += g["step_fraction_ma"] * sig_m
    mas: list[float] = []
    mhs: list[float] = []
    for ma in rows:
        mh_max = min(ma, roots - ma)
        x = float(g["mh_min"]) ** 2
        while x < mh_max * mh_max:
            mh = math.sqrt(x)
            mas.append(ma)
            mhs.append(mh)
            x += g["step_fraction_mh"] * float(resolution(ma, mh, cfg)[0])
    ma_arr = np.array(mas, dtype=np.float64)
    mh_arr = np.array(mhs, dtype=np.float64)
    return Grid(
        ma=ma_arr,
        mh=mh_arr,
        in_range=ma_arr >= g["analysis_ma_min"],
        sigma=resolution(ma_arr, mh_arr, cfg).reshape(-1, 2),
    )


def measure_resolution(
    cfg: config_module.Config,
    ma: ArrayLike,
    mh: ArrayLike,
    *,
    simulate: SignalSimulator | None = None,
) -> FloatArray:
    """Resolutions measured from no-ISR signal simulation: the fitted mixture's standard deviations.

    Used once to calibrate the ``[grid]`` resolution model (see :func:`fit_resolution`); points
    with fewer than ``fit_min_events`` selected events give NaN.

    Args:
        cfg: The configuration.
        ma: A' masses [GeV].
        mh: h' masses [GeV].
        simulate: Signal simulator (default: dhstat.simulation + dhstat.selection).

    Returns:
        Shape (n, 2): sqrt of the diagonal of ``f S1 + (1 - f) S2`` in (M_recoil^2, M_mumu^2).
    """
    run = simulate if simulate is not None else _default_signal
    w = cfg["windows"]
    out = []
    for k, (a, h) in enumerate(zip(np.atleast_1d(ma), np.atleast_1d(mh), strict=True)):
        rng = parallel.task_rng(int(cfg["run"]["seed"]), _STREAM, 1 << 30, k)
        arrays, _, _ = run(float(a), float(h), int(w["n_events"]), cfg, rng, False)
        x = np.asarray(arrays["mrecoil2"], dtype=np.float64)[: w["fit_max_events"]]
        y = np.asarray(arrays["mmumu2"], dtype=np.float64)[: w["fit_max_events"]]
        if x.size < w["fit_min_events"]:
            out.append([np.nan, np.nan])
            continue
        _, cov = fit_ellipse(x, y)
        out.append(np.sqrt(np.diag(cov)).tolist())
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def fit_resolution(
    cfg: config_module.Config,
    ma: ArrayLike,
    mh: ArrayLike,
    sigma: ArrayLike,
    *,
    free: Sequence[str] = (
        "mumu_resolution_relative",
        "recoil_energy_resolution_constant_gev",
        "recoil_energy_resolution_slope",
    ),
) -> dict[str, float]:
    """Least-squares (in log sigma) fit of the ``[grid]`` resolution model to measured widths.

    Args:
        cfg: The configuration (starting values and sqrt(s)).
        ma: A' masses [GeV].
        mh: h' masses [GeV].
        sigma: Measured (sigma(M_recoil^2), sigma(M_mumu^2)) [GeV^2], shape (n, 2); NaN rows
            are ignored.
        free: The ``[grid]`` resolution keys to fit; the others keep their configured values
            (by default the dimuon-mass floor, which the analysis range does not constrain).

    Returns:
        The fitted keys with their values.
    """
    from scipy.optimize import least_squares

    ma_ = np.atleast_1d(np.asarray(ma, dtype=np.float64))
    mh_ = np.atleast_1d(np.asarray(mh, dtype=np.float64))
    sig = np.asarray(sigma, dtype=np.float64).reshape(-1, 2)
    ok = np.all(np.isfinite(sig), axis=1) & np.all(sig > 0, axis=1)
    ma_, mh_, sig = ma_[ok], mh_[ok], sig[ok]
    keys = tuple(free)
    base = cfg.to_dict()

    def residual(p: FloatArray) -> FloatArray:
        base["grid"].update(dict(zip(keys, np.abs(p).tolist(), strict=True)))
        model = resolution(ma_, mh_, base).reshape(-1, 2)
        return np.asarray(np.log(model / sig).ravel(), dtype=np.float64)

    start = np.array([float(cfg["grid"][k]) for k in keys])
    result = least_squares(residual, start, x_scale=np.abs(start) + 1e-6)
    return {k: float(abs(v)) for k, v in zip(keys, result.x, strict=True)}


# ------------------------------------------------------------------------------------- ellipses


def covariance_ellipse(cov: ArrayLike, n_sigma: float = 2.0) -> tuple[FloatArray, FloatArray]:
    """Semi-axes and angle of the ``n_sigma`` contour ``d^T cov^-1 d = n_sigma^2``.

    Args:
        cov: Covariance matrices, shape ``(..., 2, 2)``.
        n_sigma: Size of the contour in standard deviations.

    Returns:
        ``(axes, angle)``: semi-major and semi-minor axes ``(..., 2)`` and the angle of the major
        axis to the x axis in (-pi/2, pi/2] ``(...)``.

    Example:
        >>> axes, angle = covariance_ellipse([[4.0, 0.0], [0.0, 1.0]])
        >>> axes.tolist(), float(angle)
        ([4.0, 2.0], 0.0)
    """
    c = np.asarray(cov, dtype=np.float64)
    vals, vecs = np.linalg.eigh(c)
    vals = np.clip(vals, 0.0, None)
    axes = n_sigma * np.sqrt(vals[..., ::-1])
    major = vecs[..., :, 1]
    angle = np.arctan2(major[..., 1], major[..., 0])
    angle = np.where(angle > np.pi / 2, angle - np.pi, angle)
    angle = np.where(angle <= -np.pi / 2, angle + np.pi, angle)
    return axes, angle


def ellipse_area(axes: ArrayLike) -> FloatArray:
    """Area ``pi a b`` of ellipses with semi-axes ``axes`` (shape ``(..., 2)``) [GeV^4].

    Example:
        >>> round(float(ellipse_area([2.0, 1.0])), 6)
        6.283185
    """
    a = np.asarray(axes, dtype=np.float64)
    return np.asarray(np.pi * a[..., 0] * a[..., 1], dtype=np.float64)


def _quadratic(axes: FloatArray, angle: FloatArray) -> FloatArray:
    """Coefficients (A, B, C) of ``A dx^2 + B dx dy + C dy^2 <= 1`` per window, shape (n, 3)."""
    c, s = np.cos(angle), np.sin(angle)
    ia = 1.0 / np.maximum(axes[:, 0], 1e-300) ** 2
    ib = 1.0 / np.maximum(axes[:, 1], 1e-300) ** 2
    return np.stack([c * c * ia + s * s * ib, 2 * s * c * (ia - ib), s * s * ia + c * c * ib], 1)


# -------------------------------------------------------------------------------------- windows


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
        fit_status: One of :data:`FIT_STATUSES` per window.
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
        return _quadratic(self.axes, self.angle)

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


def config_digest(cfg: config_module.Config) -> str:
    """Digest of what the windows depend on: the tables of ``DIGEST_TABLES`` and the seed."""
    tables = cfg.digest(*(t for t in DIGEST_TABLES if t in cfg))
    return jsonio.canonical_digest({"tables": tables, "seed": int(cfg["run"]["seed"])})


#: ``[windows]`` keys that do not change a grid point's result (only the Punzi step or the
#: scheduling): they are left out of the checkpoint digest, so changing them reuses the points.
_POINT_INDEPENDENT = (
    "punzi_a",
    "punzi_background_luminosity_fb",
    "punzi_background_chunks",
    "batch_size",
)


def _point_digest(cfg: config_module.Config) -> str:
    tables = cfg.digest(*(t for t in DIGEST_TABLES if t in cfg and t != "windows"))
    w = {k: v for k, v in cfg["windows"].items() if k not in _POINT_INDEPENDENT}
    return jsonio.canonical_digest({"tables": tables, "windows": w, "seed": cfg["run"]["seed"]})


def is_current(path: str | os.PathLike[str], cfg: config_module.Config) -> bool:
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


# ----------------------------------------------------------------------------------- membership


def contains(windows: Windows, x: ArrayLike, y: ArrayLike) -> NDArray[np.bool_]:
    """Brute-force membership (events x windows dense boolean matrix); for tests only.

    Example:
        >>> w = from_ellipses([[0.0, 0.0]], [[2.0, 1.0]], [np.pi / 2])
        >>> contains(w, [0.0, 1.5], [1.5, 0.0]).ravel().tolist()
        [True, False]
    """
    xs = np.asarray(x, dtype=np.float64)[:, None]
    ys = np.asarray(y, dtype=np.float64)[:, None]
    dx = xs - windows.center[None, :, 0]
    dy = ys - windows.center[None, :, 1]
    c, s = np.cos(windows.angle), np.sin(windows.angle)
    u = (dx * c + dy * s) / windows.axes[:, 0]
    v = (-dx * s + dy * c) / windows.axes[:, 1]
    result: NDArray[np.bool_] = u * u + v * v <= 1.0
    return result


@dataclass(frozen=True, slots=True, eq=False)
class _Buckets:
    ex: FloatArray
    ey: FloatArray
    start: IntArray  # bucket -> first registration
    windows_of: NDArray[np.int32]  # registration -> window
    # per registration (bucket order): window centre and quadratic form, for contiguous gathers
    cx: FloatArray
    cy: FloatArray
    qa: FloatArray
    qb: FloatArray
    qc: FloatArray
    cut: FloatArray


def _buckets(windows: Windows, target: float = 1.0) -> _Buckets:
    """Register window bounding boxes in quantile-spaced buckets (about ``target`` per bucket)."""
    n = len(windows)
    c, s = np.cos(windows.angle), np.sin(windows.angle)
    a, b = windows.axes[:, 0], windows.axes[:, 1]
    hx = np.sqrt((a * c) ** 2 + (b * s) ** 2) * (1 + 1e-9)
    hy = np.sqrt((a * s) ** 2 + (b * c) ** 2) * (1 + 1e-9)
    x0, x1 = windows.center[:, 0] - hx, windows.center[:, 0] + hx
    y0, y1 = windows.center[:, 1] - hy, windows.center[:, 1] + hy
    nb = max(int(math.sqrt(max(n, 1) / target)) * 2, 1)
    qs = np.linspace(0, 1, nb + 1)
    ex = np.unique(np.quantile(np.concatenate([x0, x1]), qs)) if n else np.zeros(2)
    ey = np.unique(np.quantile(np.concatenate([y0, y1]), qs)) if n else np.zeros(2)
    if ex.size < 2:
        ex = np.array([ex[0] - 1.0, ex[0] + 1.0])
    if ey.size < 2:
        ey = np.array([ey[0] - 1.0, ey[0] + 1.0])
    nx, ny = ex.size - 1, ey.size - 1
    ix0 = np.clip(np.searchsorted(ex, x0, "right") - 1, 0, nx - 1)
    ix1 = np.clip(np.searchsorted(ex, x1, "right") - 1, 0, nx - 1)
    iy0 = np.clip(np.searchsorted(ey, y0, "right") - 1, 0, ny - 1)
    iy1 = np.clip(np.searchsorted(ey, y1, "right") - 1, 0, ny - 1)
    wy = iy1 - iy0 + 1
    per = (ix1 - ix0 + 1) * wy
    total = int(per.sum())
    win = np.repeat(np.arange(n, dtype=np.int64), per)
    k = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
    bucket = (ix0[win] + k // wy[win]) * ny + iy0[win] + k % wy[win]
    order = np.lexsort((win, bucket))
    counts = np.bincount(bucket, minlength=nx * ny)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    reg = win[order]
    quad = windows.quadratic
    return _Buckets(
        ex=ex,
        ey=ey,
        start=start,
        windows_of=reg.astype(np.int32),
        cx=np.ascontiguousarray(windows.center[reg, 0]),
        cy=np.ascontiguousarray(windows.center[reg, 1]),
        qa=np.ascontiguousarray(quad[reg, 0]),
        qb=np.ascontiguousarray(quad[reg, 1]),
        qc=np.ascontiguousarray(quad[reg, 2]),
        cut=np.ascontiguousarray(windows.ceta_cut[reg]),
    )


def _member_pairs(
    index: _Buckets, x: FloatArray, y: FloatArray, ceta: FloatArray | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    nx, ny = index.ex.size - 1, index.ey.size - 1
    ix = np.searchsorted(index.ex, x, "right") - 1
    iy = np.searchsorted(index.ey, y, "right") - 1
    # events on the upper edge belong to the last bucket
    ix[x == index.ex[-1]] = nx - 1
    iy[y == index.ey[-1]] = ny - 1
    events = np.flatnonzero((ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny))
    bucket = ix[events] * ny + iy[events]
    lo = index.start[bucket]
    per = index.start[bucket + 1] - lo
    total = int(per.sum())
    ev = np.repeat(events, per)
    pos = np.arange(total, dtype=np.int64)
    pos += np.repeat(lo - (np.cumsum(per) - per), per)
    dx = x[ev]
    dx -= index.cx[pos]
    dy = y[ev]
    dy -= index.cy[pos]
    q = index.qa[pos] * dx * dx
    q += index.qb[pos] * dx * dy
    q += index.qc[pos] * dy * dy
    hit = q <= 1.0
    if ceta is not None:
        hit &= ceta[ev] < index.cut[pos]
    ev = ev[hit]
    # per event number of windows (events are in increasing order) and the window indices
    return np.bincount(ev, minlength=x.size), index.windows_of[pos[hit]]


def membership(
    windows: Windows,
    x: ArrayLike,
    y: ArrayLike,
    *,
    ceta: ArrayLike | None = None,
    chunk_size: int = 1 << 17,
    threads: int | None = None,
) -> scipy.sparse.csr_matrix:
    """Which events lie in which windows, through a bucket index (never a dense loop).

    Window bounding boxes are registered in a grid of buckets (edges at quantiles of the box
    bounds); each event is tested exactly (``A dx^2 + B dx dy + C dy^2 <= 1``) only against the
    windows registered in its bucket. Chunks of events run in threads (numpy releases the GIL).

    Args:
        windows: The windows.
        x: M_recoil^2 of the events [GeV^2].
        y: M_mumu^2 of the events [GeV^2].
        ceta: C_eta of the events; when given, an event counts in a window only if also
            ``ceta < windows.ceta_cut``.
        chunk_size: Events processed at once (bounds the memory).
        threads: Worker threads (default: the cores this process may use).

    Returns:
        CSR matrix (events x windows, int8, 1 where the event is inside the ellipse); columns
        follow the order of ``windows`` (not the ids); indices sorted within each row.
    """
    from concurrent.futures import ThreadPoolExecutor

    xs = np.ascontiguousarray(x, dtype=np.float64).ravel()
    ys = np.ascontiguousarray(y, dtype=np.float64).ravel()
    n_ev = xs.size
    if ys.size != n_ev:
        msg = f"x and y differ in length ({n_ev} and {ys.size})"
        raise ValueError(msg)
    if len(windows) == 0 or n_ev == 0:
        return scipy.sparse.csr_matrix((n_ev, len(windows)), dtype=np.int8)
    cs = None if ceta is None else np.ascontiguousarray(ceta, dtype=np.float64).ravel()
    if cs is not None and cs.size != n_ev:
        msg = f"ceta and x differ in length ({cs.size} and {n_ev})"
        raise ValueError(msg)
    index = _buckets(windows)
    starts = range(0, n_ev, chunk_size)

    def run(lo: int) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        part = slice(lo, lo + chunk_size)
        return _member_pairs(index, xs[part], ys[part], None if cs is None else cs[part])

    n_threads = threads if threads is not None else parallel.cpu_count()
    if n_threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(lo) for lo in starts]
    indptr = np.zeros(n_ev + 1, dtype=np.int64)
    np.cumsum(np.concatenate([counts for counts, _ in parts]), out=indptr[1:])
    indices = np.concatenate([win for _, win in parts])
    data = np.ones(indices.size, dtype=np.int8)
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(n_ev, len(windows)))


def overlap_fractions(
    windows: Windows,
    *,
    kind: Literal["neighbour", "union"] = "neighbour",
    n_samples: int = 400,
    rng: np.random.Generator | None = None,
) -> FloatArray:
    """Area overlap of each window with the other windows, as a fraction of its area.

    ``kind="neighbour"``: the overlap with its most-overlapping neighbour (one other window);
    ``kind="union"``: the part of the window covered by at least one other window. Estimated by
    Monte Carlo with ``n_samples`` uniform points inside each ellipse, tested through
    :func:`membership`.

    Example:
        >>> w = from_ellipses([[0.0, 0.0], [0.0, 0.0]], [[2.0, 1.0], [2.0, 1.0]], [0.0, 0.0])
        >>> overlap_fractions(w, n_samples=50).tolist()
        [1.0, 1.0]
    """
    gen = rng if rng is not None else np.random.default_rng(0)
    n = len(windows)
    if n < 2:
        return np.zeros(n)
    r = np.sqrt(gen.random((n, n_samples)))
    t = gen.random((n, n_samples)) * 2 * np.pi
    u = r * np.cos(t) * windows.axes[:, :1]
    v = r * np.sin(t) * windows.axes[:, 1:]
    c, s = np.cos(windows.angle)[:, None], np.sin(windows.angle)[:, None]
    px = windows.center[:, :1] + u * c - v * s
    py = windows.center[:, 1:] + u * s + v * c
    m = membership(windows, px.ravel(), py.ravel()).tocoo()
    owner = m.row // n_samples
    other = m.col != owner
    if kind == "union":
        covered = np.unique(m.row[other])
        return np.bincount(covered // n_samples, minlength=n) / n_samples
    pair = owner[other].astype(np.int64) * n + m.col[other]
    uniq, counts = np.unique(pair, return_counts=True)
    best = np.zeros(n)
    np.maximum.at(best, uniq // n, counts / n_samples)
    return best


# ------------------------------------------------------------------------------------------ fit


def _nll_terms(
    p: Sequence[float], x: FloatArray, y: FloatArray
) -> tuple[FloatArray, FloatArray, float]:
    mx, my, sx1, sy1, sx2, sy2, rho, _ = p
    dx, dy = x - mx, y - my
    one = 1.0 - rho * rho
    u1, v1 = dx / sx1, dy / sy1
    u2, v2 = dx / sx2, dy / sy2
    q1 = (u1 * u1 - 2 * rho * u1 * v1 + v1 * v1) / one
    q2 = (u2 * u2 - 2 * rho * u2 * v2 + v2 * v2) / one
    return q1, q2, one


def _nll(p: Sequence[float], x: FloatArray, y: FloatArray) -> float:
    sx1, sy1, sx2, sy2, f = p[2], p[3], p[4], p[5], p[7]
    q1, q2, one = _nll_terms(p, x, y)
    norm = 2 * np.pi * math.sqrt(one)
    d1 = f / (norm * sx1 * sy1) * np.exp(-0.5 * q1)
    d2 = (1 - f) / (norm * sx2 * sy2) * np.exp(-0.5 * q2)
    return float(-np.sum(np.log(d1 + d2 + 1e-300)))


def _nll_grad(p: Sequence[float], x: FloatArray, y: FloatArray) -> FloatArray:
    """Analytic gradient of :func:`_nll` (parameters mx, my, sx1, sy1, sx2, sy2, rho, f).

    With ``u = dx / sx``, ``v = dy / sy`` and ``Q = (u^2 - 2 rho u v + v^2) / (1 - rho^2)`` per
    component, ``d log g / d mx = (u - rho v) / ((1 - rho^2) sx)``, ``d log g / d sx =
    (u (u - rho v) / (1 - rho^2) - 1) / sx`` (likewise in y), ``d log g / d rho =
    (rho + u v - rho Q) / (1 - rho^2)``; the mixture weights them by the responsibilities.
    """
    mx, my, sx1, sy1, sx2, sy2, rho, f = p
    dx, dy = x - mx, y - my
    one = 1.0 - rho * rho
    grad = np.zeros(8)
    logs = []
    parts = []
    for sx, sy, w in ((sx1, sy1, f), (sx2, sy2, 1.0 - f)):
        u, v = dx / sx, dy / sy
        q = (u * u - 2 * rho * u * v + v * v) / one
        logs.append(math.log(max(w, 1e-300)) - math.log(sx * sy) - 0.5 * q)
        parts.append((u, v, q, sx, sy))
    top = np.maximum(logs[0], logs[1])
    e1, e2 = np.exp(logs[0] - top), np.exp(logs[1] - top)
    total = e1 + e2
    r1, r2 = e1 / total, e2 / total  # responsibilities of the two components
    for k, (r, (u, v, q, sx, sy)) in enumerate(zip((r1, r2), parts, strict=True)):
        au, av = (u - rho * v) / one, (v - rho * u) / one
        grad[0] -= float(r @ au) / sx
        grad[1] -= float(r @ av) / sy
        grad[2 + 2 * k] -= (float(r @ (u * au)) - float(r.sum())) / sx
        grad[3 + 2 * k] -= (float(r @ (v * av)) - float(r.sum())) / sy
        grad[6] -= float(r @ (rho + u * v - rho * q)) / one
    # d/df: -sum (g1 - g2) / (f g1 + (1 - f) g2) = -sum (r1 / f - r2 / (1 - f))
    grad[7] -= float(r1.sum()) / max(f, 1e-300) - float((1.0 - r1).sum()) / max(1.0 - f, 1e-300)
    return grad


def _start(x: FloatArray, y: FloatArray, n_em: int = 6) -> list[float]:
    """Starting values: moments, then EM for a two-component common-mean Gaussian mixture."""
    mx, my = float(np.median(x)), float(np.median(y))
    vxx, vyy = float(np.var(x)) + 1e-12, float(np.var(y)) + 1e-12
    vxy = float(np.mean((x - x.mean()) * (y - y.mean())))
    comps = [[0.5 * vxx, 0.5 * vxy, 0.5 * vyy], [2.0 * vxx, 2.0 * vxy, 2.0 * vyy]]
    f = 0.6
    for _ in range(n_em):
        dx, dy = x - mx, y - my
        dens = []
        precs = []
        for a, b, c in comps:
            det = max(a * c - b * b, 1e-300)
            pa, pb, pc = c / det, -b / det, a / det
            precs.append((pa, pb, pc))
            q = pa * dx * dx + 2 * pb * dx * dy + pc * dy * dy
            dens.append(np.exp(-0.5 * q) / (2 * np.pi * math.sqrt(det)))
        r1 = f * dens[0]
        tot = r1 + (1 - f) * dens[1] + 1e-300
        g1 = r1 / tot
        g2 = 1.0 - g1
        f = float(np.clip(g1.mean(), 0.05, 0.95))
        # common mean: (sum_n sum_k g_nk P_k)^-1 sum_n sum_k g_nk P_k x_n
        s1, s2 = float(g1.sum()), float(g2.sum())
        (a1, b1, c1), (a2, b2, c2) = precs
        m11, m12, m22 = s1 * a1 + s2 * a2, s1 * b1 + s2 * b2, s1 * c1 + s2 * c2
        gx1, gy1 = float(g1 @ x), float(g1 @ y)
        gx2, gy2 = float(g2 @ x), float(g2 @ y)
        r_x = a1 * gx1 + b1 * gy1 + a2 * gx2 + b2 * gy2
        r_y = b1 * gx1 + c1 * gy1 + b2 * gx2 + c2 * gy2
        det_m = m11 * m22 - m12 * m12
        if det_m > 0:
            mx, my = (m22 * r_x - m12 * r_y) / det_m, (m11 * r_y - m12 * r_x) / det_m
        dx, dy = x - mx, y - my
        comps = []
        for g, total in ((g1, s1), (g2, s2)):
            sg = max(total, 1e-9)
            comps.append(
                [
                    float(g @ (dx * dx)) / sg + 1e-12,
                    float(g @ (dx * dy)) / sg,
                    float(g @ (dy * dy)) / sg + 1e-12,
                ]
            )
    (a1, b1, c1), (a2, b2, c2) = comps
    rho = f * b1 / math.sqrt(a1 * c1) + (1 - f) * b2 / math.sqrt(a2 * c2)
    return [
        mx,
        my,
        math.sqrt(a1),
        math.sqrt(c1),
        math.sqrt(a2),
        math.sqrt(c2),
        float(np.clip(rho, -0.98, 0.98)),
        f,
    ]


@dataclass(frozen=True, slots=True)
class _Fit:
    params: tuple[float, ...]
    status: str
    edm: float


def _minimise(x: FloatArray, y: FloatArray, start: Sequence[float], strategy: int) -> _Fit | None:
    from iminuit import Minuit

    sx = float(np.std(x)) or 1e-6
    sy = float(np.std(y)) or 1e-6

    def cost(mx: float, my: float, sx1: float, sy1: float, sx2: float, sy2: float,
             rho: float, f: float) -> float:  # fmt: skip
        return _nll((mx, my, sx1, sy1, sx2, sy2, rho, f), x, y)

    def grad(mx: float, my: float, sx1: float, sy1: float, sx2: float, sy2: float,
             rho: float, f: float) -> FloatArray:  # fmt: skip
        return _nll_grad((mx, my, sx1, sy1, sx2, sy2, rho, f), x, y)

    m = Minuit(cost, *start, grad=grad)
    m.errordef = Minuit.LIKELIHOOD
    m.strategy = strategy
    for name, scale in (("sx1", sx), ("sx2", sx), ("sy1", sy), ("sy2", sy)):
        m.limits[name] = (scale * 1e-4, scale * 1e2)
    m.limits["rho"] = (-0.995, 0.995)
    m.limits["f"] = (0.0, 1.0)
    try:
        m.migrad(ncall=4000)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):  # pragma: no cover
        return None
    if not m.valid:
        return None
    return _Fit(tuple(float(v) for v in m.values), "ok", float(m.fmin.edm) if m.fmin else 0.0)


def _mixture_cov(p: Sequence[float]) -> FloatArray:
    _, _, sx1, sy1, sx2, sy2, rho, f = p
    c1 = np.array([[sx1 * sx1, rho * sx1 * sy1], [rho * sx1 * sy1, sy1 * sy1]])
    c2 = np.array([[sx2 * sx2, rho * sx2 * sy2], [rho * sx2 * sy2, sy2 * sy2]])
    return np.asarray(f * c1 + (1 - f) * c2, dtype=np.float64)


def fit_ellipse(
    x: ArrayLike, y: ArrayLike, *, n_sigma: float = 2.0
) -> tuple[dict[str, Any], FloatArray]:
    """Fit two 2-D Gaussians (common mean and correlation) and return the window ellipse.

    Args:
        x: M_recoil^2 of the (no-ISR, selected) signal events [GeV^2].
        y: M_mumu^2 of the same events [GeV^2].
        n_sigma: Window size: the ``n_sigma`` contour of the mixture covariance.

    Returns:
        ``(fit, cov)``: fit results (``center``, ``axes``, ``angle``, ``sigma_core``,
        ``sigma_tail``, ``rho``, ``core_fraction``, ``fit_status``, ``fit_edm``) and the mixture
        covariance ``f S1 + (1 - f) S2``.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> pts = rng.multivariate_normal([1.0, 4.0], [[0.04, -0.01], [-0.01, 0.01]], 2000)
        >>> fit, cov = fit_ellipse(pts[:, 0], pts[:, 1])
        >>> np.allclose(fit["center"], [1.0, 4.0], atol=0.02), fit["fit_status"]
        (True, 'ok')
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.size < 10 or xs.size != ys.size:
        msg = f"an ellipse fit needs at least 10 events with x and y, got {xs.size} and {ys.size}"
        raise ValueError(msg)
    # standardise for a well-conditioned fit, transform back afterwards
    ox, oy = float(np.median(xs)), float(np.median(ys))
    kx = float(np.std(xs)) or 1.0
    ky = float(np.std(ys)) or 1.0
    u, v = (xs - ox) / kx, (ys - oy) / ky
    start = _start(u, v)
    fit = _minimise(u, v, start, strategy=0)
    status = "ok"
    if fit is None:
        status = "retried"
        c = np.corrcoef(u, v)[0, 1] if u.size > 2 else 0.0
        alt = [0.0, 0.0, 0.6, 0.6, 2.0, 2.0, float(np.clip(c, -0.9, 0.9)), 0.7]
        fit = _minimise(u, v, alt, strategy=2)
    if fit is None:
        status = "fallback"
        med = np.array([np.median(u), np.median(v)])
        # robust covariance: scaled MAD-based standard deviations, Spearman-like correlation
        su = 1.4826 * float(np.median(np.abs(u - med[0]))) or 1.0
        sv = 1.4826 * float(np.median(np.abs(v - med[1]))) or 1.0
        r = float(np.clip(np.corrcoef(u, v)[0, 1], -0.99, 0.99))
        fit = _Fit((float(med[0]), float(med[1]), su, sv, su, sv, r, 1.0), status, 0.0)
    p = list(fit.params)
    # label the narrower component (smaller determinant) as the core
    if p[2] * p[3] > p[4] * p[5]:
        p[2], p[3], p[4], p[5], p[7] = p[4], p[5], p[2], p[3], 1 - p[7]
    scale = np.array([kx, ky])
    cov_u = _mixture_cov(p)
    cov = cov_u * np.outer(scale, scale)
    axes, angle = covariance_ellipse(cov, n_sigma)
    result = {
        "center": [ox + p[0] * kx, oy + p[1] * ky],
        "axes": axes.tolist(),
        "angle": float(angle),
        "sigma_core": [p[2] * kx, p[3] * ky],
        "sigma_tail": [p[4] * kx, p[5] * ky],
        "rho": p[6],
        "core_fraction": p[7],
        "fit_status": status,
        "fit_edm": fit.edm,
    }
    return result, cov


# ----------------------------------------------------------------------------- grid-point work


def candidate_cuts(cfg: Mapping[str, Any]) -> FloatArray:
    """The candidate C_eta cuts of the ``[windows]`` table (keep C_eta < c).

    Example:
        >>> from dhstat import config
        >>> c = candidate_cuts(config.load())
        >>> float(c[0]), float(c[-1]), c.size
        (0.5, 1.0, 51)
    """
    w = cfg["windows"]
    return np.linspace(w["ceta_cut_min"], w["ceta_cut_max"], w["ceta_cut_steps"])


@dataclass(frozen=True, slots=True)
class PointResult:
    """What one grid point contributes: its fitted window and its signal efficiency curve.

    Attributes:
        id: Grid point index.
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        fit: Fit results (see :func:`fit_ellipse`).
        n_fit: Events in the fit.
        sumw_pass: Per candidate cut, the ISR signal weight selected, inside and C_eta < cut.
        sumw2_pass: The same with squared weights.
        sumw_selected: ISR signal weight selected (no window, no C_eta cut).
        sumw_inside: ISR signal weight selected and inside the ellipse (no C_eta cut).
        sumw_total: Weight of all generated ISR signal events.
        sumw2_total: Sum of their squared weights.
    """

    id: int
    ma: float
    mh: float
    fit: Mapping[str, Any]
    n_fit: int
    sumw_pass: tuple[float, ...]
    sumw2_pass: tuple[float, ...]
    sumw_selected: float
    sumw_inside: float
    sumw_total: float
    sumw2_total: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (one checkpoint line)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PointResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=int(d["id"]),
            ma=float(d["ma"]),
            mh=float(d["mh"]),
            fit=dict(d["fit"]),
            n_fit=int(d["n_fit"]),
            sumw_pass=tuple(d["sumw_pass"]),
            sumw2_pass=tuple(d["sumw2_pass"]),
            sumw_selected=float(d["sumw_selected"]),
            sumw_inside=float(d["sumw_inside"]),
            sumw_total=float(d["sumw_total"]),
            sumw2_total=float(d["sumw2_total"]),
        )


def _default_signal(
    ma: float,
    mh: float,
    n_events: int,
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
    isr: bool,
) -> tuple[Mapping[str, NDArray[Any]], float, float]:
    """Simulate signal with dhstat.simulation (skimmed) and select it with dhstat.selection."""
    from dhstat import selection, simulation

    events = simulation.simulate_signal(
        ma, mh, n_events, cfg=cfg, rng=rng, isr=isr, jagged=False, skim=True
    )
    weight = simulation.signal_weight(n_events, cfg)
    search = selection.select(events, cfg, process="signal").search
    return search, weight * n_events, weight * weight * n_events


def _resolution_fit(ma: float, mh: float, cfg: Mapping[str, Any], n_sigma: float) -> dict[str, Any]:
    sig = resolution(ma, mh, cfg)
    cov = np.diag(sig**2)
    axes, angle = covariance_ellipse(cov, n_sigma)
    return {
        "center": [mh * mh, ma * ma],
        "axes": axes.tolist(),
        "angle": float(angle),
        "sigma_core": sig.tolist(),
        "sigma_tail": sig.tolist(),
        "rho": 0.0,
        "core_fraction": 1.0,
        "fit_status": "too_few_events",
        "fit_edm": 0.0,
    }


def _fit_point(
    pid: int, ma: float, mh: float, cfg: Mapping[str, Any], simulate: SignalSimulator
) -> PointResult:
    w = cfg["windows"]
    seed = int(cfg["run"]["seed"])
    n_sigma = float(w["n_sigma"])
    shape, _, _ = simulate(
        ma, mh, w["n_events"], cfg, parallel.task_rng(seed, _STREAM, pid, 0), False
    )
    x = np.asarray(shape["mrecoil2"], dtype=np.float64)[: w["fit_max_events"]]
    y = np.asarray(shape["mmumu2"], dtype=np.float64)[: w["fit_max_events"]]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < w["fit_min_events"]:
        fit = _resolution_fit(ma, mh, cfg, n_sigma)
    else:
        fit, _ = fit_ellipse(x, y, n_sigma=n_sigma)
    eff, total, total2 = simulate(
        ma, mh, w["n_events"], cfg, parallel.task_rng(seed, _STREAM, pid, 1), True
    )
    one = from_ellipses([fit["center"]], [fit["axes"]], [fit["angle"]])
    ex = np.asarray(eff["mrecoil2"], dtype=np.float64)
    ey = np.asarray(eff["mmumu2"], dtype=np.float64)
    ew = np.asarray(eff["weight"], dtype=np.float64)
    ec = np.asarray(eff["ceta"], dtype=np.float64)
    inside = contains(one, ex, ey)[:, 0]
    cuts = candidate_cuts(cfg)
    j = np.searchsorted(cuts, ec[inside], side="right")
    sw = np.cumsum(np.bincount(j, weights=ew[inside], minlength=cuts.size + 1))[: cuts.size]
    sw2 = np.cumsum(np.bincount(j, weights=ew[inside] ** 2, minlength=cuts.size + 1))[: cuts.size]
    return PointResult(
        id=pid,
        ma=ma,
        mh=mh,
        fit=fit,
        n_fit=int(x.size),
        sumw_pass=tuple(float(v) for v in sw),
        sumw2_pass=tuple(float(v) for v in sw2),
        sumw_selected=float(ew.sum()),
        sumw_inside=float(ew[inside].sum()),
        sumw_total=total,
        sumw2_total=total2,
    )


@dataclass(frozen=True, slots=True)
class _Task:
    points: tuple[tuple[int, float, float], ...]
    cfg: Mapping[str, Any]
    simulate: SignalSimulator | None


def _run_task(task: _Task) -> list[PointResult]:
    simulate = task.simulate if task.simulate is not None else _default_signal
    return [_fit_point(pid, ma, mh, task.cfg, simulate) for pid, ma, mh in task.points]


def _read_checkpoint(path: Path, digest: str) -> dict[int, PointResult]:
    done: dict[int, PointResult] = {}
    if not path.is_file():
        return done
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by an interruption
                continue
            if record.get("digest") != digest:
                continue
            result = PointResult.from_dict(record["point"])
            done[result.id] = result
    return done


def fit_points(
    cfg: config_module.Config,
    *,
    executor: parallel.Executor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
    simulate: SignalSimulator | None = None,
) -> tuple[Grid, list[PointResult]]:
    """Simulate and fit every grid point in the analysis range (resumable).

    Args:
        cfg: The configuration.
        executor: Where batches of points run (default: in this process).
        checkpoint: JSON-lines file; finished points are appended, and points already there
            (with the same digest of the point-level settings: every table the windows depend
            on except the Punzi and scheduling keys of ``[windows]``) are not recomputed.
        progress: Called with the number of newly finished points.
        simulate: Signal simulator (default: dhstat.simulation + dhstat.selection); must be a
            module-level function to run in worker processes.

    Returns:
        The grid and one :class:`PointResult` per in-range point, in grid order.
    """
    grid = grid_points(cfg)
    digest = _point_digest(cfg)
    ids = np.flatnonzero(grid.in_range)
    done: dict[int, PointResult] = {}
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        done = _read_checkpoint(path, digest)
        if progress is not None and done:
            progress(sum(1 for i in ids if int(i) in done))
    todo = [(int(i), float(grid.ma[i]), float(grid.mh[i])) for i in ids if int(i) not in done]
    size = int(cfg["windows"]["batch_size"])
    tasks = [_Task(tuple(todo[k : k + size]), cfg, simulate) for k in range(0, len(todo), size)]
    stream = path.open("a", encoding="utf-8") if path is not None else None
    try:
        if executor is None:
            results: Iterator[list[PointResult]] = map(_run_task, tasks)
        else:
            results = executor.imap(_run_task, tasks)
        for batch in results:
            for result in batch:
                done[result.id] = result
                if stream is not None:
                    stream.write(json.dumps({"digest": digest, "point": result.to_dict()}) + "\n")
            if stream is not None:
                stream.flush()
            if progress is not None:
                progress(len(batch))
    finally:
        if stream is not None:
            stream.close()
    return grid, [done[int(i)] for i in ids]


# ------------------------------------------------------------------------------------- C_eta cut


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


def _background_curves(
    windows: Windows, background: Mapping[str, NDArray[Any]], cuts: FloatArray
) -> FloatArray:
    """Background weight per window and candidate cut, shape (n_windows, n_cuts)."""
    m = membership(windows, background["mrecoil2"], background["mmumu2"]).tocoo()
    ceta = np.asarray(background["ceta"], dtype=np.float64)
    weight = np.asarray(background["weight"], dtype=np.float64)
    j = np.searchsorted(cuts, ceta[m.row], side="right")
    k = cuts.size
    hist = np.bincount(m.col.astype(np.int64) * (k + 1) + j, weights=weight[m.row],
                       minlength=len(windows) * (k + 1))  # fmt: skip
    return np.asarray(np.cumsum(hist.reshape(len(windows), k + 1), axis=1)[:, :k], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _BackgroundTask:
    process: str
    index: int
    chunk: int
    n_chunks: int
    luminosity_fb: float
    cfg: Mapping[str, Any]


def _background_task(task: _BackgroundTask) -> dict[str, NDArray[np.float64]]:
    from dhstat import selection, simulation

    rng = parallel.task_rng(int(task.cfg["run"]["seed"]), _STREAM, 1 << 31, task.index, task.chunk)
    # each chunk is normalised to its share of the data luminosity, so the chunks add up to it
    events = simulation.simulate_background(
        task.process,
        task.luminosity_fb,
        cfg=task.cfg,
        rng=rng,
        normalise_to_fb=float(task.cfg["dataset"]["luminosity_fb"]) / task.n_chunks,
    )
    search = selection.select(events, task.cfg, process=task.process).search
    return {k: np.asarray(search[k], dtype=np.float64) for k in _BKG_KEYS}


_BKG_KEYS = ("mrecoil2", "mmumu2", "ceta", "weight")
_BKG_PROCESSES = ("mumu", "tautau", "eemumu")


def simulate_background(
    cfg: config_module.Config, *, executor: parallel.Executor | None = None
) -> dict[str, NDArray[np.float64]]:
    """Simulate and select background MC for the Punzi optimisation (no files involved).

    Each process is simulated at ``[windows] punzi_background_luminosity_fb`` in
    ``punzi_background_chunks`` tasks (streams keyed by the master seed, the process and the
    chunk, so the result does not depend on the number of workers), selected, and its weights
    normalised to the data luminosity (``[dataset] luminosity_fb``).

    Args:
        cfg: The configuration.
        executor: Where the chunks run (default: in this process).

    Returns:
        Flat arrays ``mrecoil2``, ``mmumu2``, ``ceta``, ``weight`` of the selected search
        sample of all background processes together.
    """
    w = cfg["windows"]
    chunks = int(w["punzi_background_chunks"])
    lumi = float(w["punzi_background_luminosity_fb"]) / chunks
    tasks = [
        _BackgroundTask(p, k, c, chunks, lumi, cfg)
        for k, p in enumerate(_BKG_PROCESSES)
        for c in range(chunks)
    ]
    parts = (
        executor.map(_background_task, tasks) if executor else list(map(_background_task, tasks))
    )
    return {k: np.concatenate([p[k] for p in parts]) for k in _BKG_KEYS}


def define(
    cfg: config_module.Config,
    *,
    background: Mapping[str, NDArray[Any]] | None,
    executor: parallel.Executor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
    simulate: SignalSimulator | None = None,
) -> Windows:
    """Build the search windows: grid, signal fits, Punzi C_eta cuts, efficiencies.

    Args:
        cfg: The configuration (``[grid]``, ``[windows]`` and the simulation tables).
        background: Selected background MC (flat arrays ``mrecoil2``, ``mmumu2``, ``ceta``,
            ``weight``; weights normalised to the data luminosity) for the Punzi optimisation;
            ``None`` keeps the loosest candidate cut (``ceta_cut_max``) in every window.
        executor: Where batches of grid points run.
        checkpoint: Resumable JSON-lines checkpoint (see :func:`fit_points`).
        progress: Called with the number of newly finished grid points.
        simulate: Signal simulator override (tests); default dhstat.simulation + selection.

    Returns:
        The windows, in grid order, ids = grid point indices.
    """
    grid, points = fit_points(
        cfg, executor=executor, checkpoint=checkpoint, progress=progress, simulate=simulate
    )
    wcfg = cfg["windows"]
    cuts = candidate_cuts(cfg)
    n = len(points)
    fits = [p.fit for p in points]
    base = Windows(
        ids=np.array([p.id for p in points], dtype=np.int64),
        ma=np.array([p.ma for p in points]),
        mh=np.array([p.mh for p in points]),
        center=np.array([f["center"] for f in fits], dtype=np.float64).reshape(n, 2),
        axes=np.array([f["axes"] for f in fits], dtype=np.float64).reshape(n, 2),
        angle=np.array([f["angle"] for f in fits], dtype=np.float64),
        ceta_cut=np.full(n, cuts[-1]),
        efficiency=np.zeros(n),
        efficiency_error=np.zeros(n),
        window_fraction=np.zeros(n),
        sigma_core=np.array([f["sigma_core"] for f in fits], dtype=np.float64).reshape(n, 2),
        sigma_tail=np.array([f["sigma_tail"] for f in fits], dtype=np.float64).reshape(n, 2),
        rho=np.array([f["rho"] for f in fits], dtype=np.float64),
        core_fraction=np.array([f["core_fraction"] for f in fits], dtype=np.float64),
        fit_status=tuple(str(f["fit_status"]) for f in fits),
        fit_edm=np.array([f["fit_edm"] for f in fits], dtype=np.float64),
        n_fit=np.array([p.n_fit for p in points], dtype=np.int64),
    )
    total = np.array([max(p.sumw_total, 1e-300) for p in points])
    total2 = np.array([p.sumw2_total for p in points])
    sw = np.array([p.sumw_pass for p in points], dtype=np.float64).reshape(n, cuts.size)
    sw2 = np.array([p.sumw2_pass for p in points], dtype=np.float64).reshape(n, cuts.size)
    eff_curves = sw / total[:, None]
    summary: dict[str, Any] = {}
    if background is not None:
        bkg = _background_curves(base, background, cuts)
        index, chosen = punzi_cuts(eff_curves, bkg, cuts, a=float(wcfg["punzi_a"]))
        counted = membership(
            dataclasses.replace(base, ceta_cut=np.asarray(chosen, dtype=np.float64)),
            background["mrecoil2"],
            background["mmumu2"],
            ceta=background["ceta"],
        )
        weight = np.asarray(background["weight"], dtype=np.float64)
        per_event = np.diff(counted.indptr)
        summary["background_windows_per_event"] = float(
            np.sum(weight * per_event) / max(float(weight.sum()), 1e-300)
        )
        summary["background_events"] = int(weight.size)
    else:
        index = np.full(n, cuts.size - 1, dtype=np.int64)
        chosen = cuts[index]
    rows = np.arange(n)
    eff = eff_curves[rows, index]
    pass2 = sw2[rows, index]
    # weighted binomial: Var = [sum_pass w^2 (1-eps)^2 + sum_fail w^2 eps^2] / W^2
    var = (pass2 * (1 - eff) ** 2 + np.clip(total2 - pass2, 0, None) * eff**2) / total**2
    sel = np.array([max(p.sumw_selected, 1e-300) for p in points])
    inside_all = np.array([p.sumw_inside for p in points])
    fraction = np.clip(inside_all / sel, 0, 1)
    statuses = [str(f["fit_status"]) for f in fits]
    summary.update(
        n_windows=n,
        fit_status={k: statuses.count(k) for k in FIT_STATUSES},
        mean_window_fraction=float(np.mean(fraction)) if n else 0.0,
        mean_window_fraction_fitted=float(np.mean(fraction[fraction > 0])) if n else 0.0,
        mean_efficiency=float(np.mean(eff)) if n else 0.0,
        mean_ceta_cut=float(np.mean(chosen)) if n else 0.0,
        median_neighbour_overlap=float(np.median(overlap_fractions(base))) if n > 1 else 0.0,
        median_union_overlap=(
            float(np.median(overlap_fractions(base, kind="union"))) if n > 1 else 0.0
        ),
    )
    meta = {
        "config_digest": config_digest(cfg),
        "dhstat_version": _version(),
        "seed": int(cfg["run"]["seed"]),
        "sqrt_s": config_module.sqrt_s(cfg),
        "n_grid_total": grid.size,
        "n_grid_in_range": int(grid.in_range.sum()),
        "grid": dict(cfg["grid"]),
        "windows": dict(cfg["windows"]),
        "ceta_cuts": "punzi" if background is not None else "loosest",
        "contour": "n_sigma contour of the mixture covariance f*S1 + (1-f)*S2",
        "summary": summary,
    }
    return dataclasses.replace(
        base,
        ceta_cut=np.asarray(chosen, dtype=np.float64),
        efficiency=eff,
        efficiency_error=np.sqrt(np.clip(var, 0, None)),
        window_fraction=fraction,
        meta=meta,
    )


def _version() -> str:
    from dhstat import __version__

    return str(__version__)
