"""Single-bin window form of pyhf models, for the vectorised path over a whole window set.

A :class:`WindowSet` holds the likelihood of many one-bin pyhf workspaces as arrays, read directly
from the workspace JSON (no pyhf Model per window). Per window w the expected count is::

    nu_w(sigma, theta, gamma) = sigma * S_w(theta) + gamma * G_w(theta) + H_w(theta)
    S_w = s0_w + sum_j theta_j dS_wj     (samples carrying the POI normfactor; yield per unit POI)
    G_w = g0_w + sum_j theta_j dG_wj     (background samples carrying the staterror gamma)
    H_w = h0_w + sum_j theta_j dH_wj     (other background samples)

with ``theta_j ~ N(0, 1)`` one per symmetric ``histosys`` modifier (pyhf code 0, linear for symmetric
variations: additive Gaussian smearing) and ``gamma ~ N(1, delta_w)`` truncated at 0 (``staterror``,
``delta_w = sqrt(sum err^2) / sum nominal`` as in pyhf). The supported modifiers are exactly these:
``normfactor`` (the POI only), symmetric ``histosys``, and one ``staterror`` on background samples;
anything else is rejected (use the generic path, :mod:`dhstat.stats.generic`).

The histosys parameters act on (S, G, H) linearly, so their joint effect is one Gaussian vector with
covariance ``D^T D`` (at most 3 coordinates instead of one per parameter); :func:`window_nodes`
integrates over it with a Cholesky factor (signal first where the zero-truncation of S matters, so
that it is a bound on one coordinate, handled exactly by a truncated Gauss rule; background first
otherwise) and over gamma with a truncated Gauss rule. The order of each coordinate follows from the
quadrature tolerance; coordinates whose prior is wide against the Poisson scale (large backgrounds
with 10 % systematics) use the trapezoidal rule. The truncation of B < 0 in a direction that is not
a coordinate axis is applied as an indicator on the nodes: exact when its prior mass is negligible
(all realistic windows), approximate otherwise (e.g. 50 % correlated uncertainties).

Example:
    >>> spec = window_spec(n=3, signal=1.5, backgrounds={"mumu": 2.0}, stat_errors={"mumu": 0.2})
    >>> ws = WindowSet.from_specs([spec], ids=["w1"])
    >>> ws.n.tolist(), ws.signal.tolist(), ws.background.tolist()
    ([3], [1.5], [2.0])
    >>> WindowSet.from_dict(ws.to_dict()).stat_width.tolist()
    [0.1]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats import priors

__all__ = ["NodeSet", "WindowSet", "window_nodes", "window_spec"]


def __dir__() -> list[str]:
    return __all__


_SYM_TOL = 1e-9

Purpose = Literal["posterior", "pvalue"]


@dataclass(frozen=True, slots=True)
class NodeSet:
    """Quadrature nodes of the nuisance-parameter prior for a group of single-bin models.

    Attributes:
        rows: Index of each model (window) in its WindowSet, shape (m,).
        n: Observed count per model, shape (m,).
        signal: Signal yield per unit POI at each node, shape (m, k).
        background: Total background at each node, shape (m, k).
        weight: Normalised prior weight of each node (zero outside the allowed region), (m, k).
    """

    rows: NDArray[np.int64]
    n: NDArray[np.int64]
    signal: NDArray[np.float64]
    background: NDArray[np.float64]
    weight: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WindowSet:
    """Many single-bin window likelihoods as arrays (see the module docstring for the model).

    Attributes:
        ids: Window identifiers.
        n: Observed counts, shape (W,).
        signal: Nominal signal yield per unit POI s0 (eps * L for sigma in fb), shape (W,).
        stat_background: Nominal background of the samples with the staterror, g0, shape (W,).
        other_background: Nominal background of the other samples, h0, shape (W,).
        parameters: Names of the histosys parameters (columns of ``shifts``).
        shifts: Additive +1 standard deviation shifts of (S, G, H) per parameter, (W, P, 3);
            zero where a window lacks the parameter.
        stat_width: Relative width delta of the staterror gamma (0: none), shape (W,).
        sigma_max: Upper bound of the POI in each workspace, shape (W,).
        poi: Name of the POI.
        tolerance: Quadrature tolerance of :meth:`nodes` (``[stats] quadrature_tolerance``).
        max_order: Largest Gauss order per dimension (``[stats] max_quadrature_order``).
    """

    ids: tuple[str, ...]
    n: NDArray[np.int64]
    signal: NDArray[np.float64]
    stat_background: NDArray[np.float64]
    other_background: NDArray[np.float64]
    parameters: tuple[str, ...]
    shifts: NDArray[np.float64]
    stat_width: NDArray[np.float64]
    sigma_max: NDArray[np.float64]
    poi: str = "sigma"
    tolerance: float = 1e-8
    max_order: int = 24
    _cache: dict[tuple[str, float, int], tuple[NodeSet, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def background(self) -> NDArray[np.float64]:
        """Nominal total background B = g0 + h0, shape (W,)."""
        total: NDArray[np.float64] = self.stat_background + self.other_background
        return total

    def background_shifts(self) -> NDArray[np.float64]:
        """Additive +1 sd shift of the total background per histosys parameter, shape (W, P)."""
        shift: NDArray[np.float64] = self.shifts[:, :, 1] + self.shifts[:, :, 2]
        return shift

    def subset(self, rows: Sequence[int] | NDArray[np.int64]) -> WindowSet:
        """The windows at ``rows`` as a new WindowSet."""
        index = np.asarray(rows, dtype=np.int64)
        return WindowSet(
            ids=tuple(self.ids[i] for i in index),
            n=self.n[index],
            signal=self.signal[index],
            stat_background=self.stat_background[index],
            other_background=self.other_background[index],
            parameters=self.parameters,
            shifts=self.shifts[index],
            stat_width=self.stat_width[index],
            sigma_max=self.sigma_max[index],
            poi=self.poi,
            tolerance=self.tolerance,
            max_order=self.max_order,
        )

    def nodes(self, purpose: Purpose = "posterior") -> tuple[NodeSet, ...]:
        """The quadrature nodes of all windows (computed once), grouped by node count.

        Args:
            purpose: ``"posterior"`` (Bayes factors and limits at the observed counts) or
                ``"pvalue"`` (p-values for any count up to 6 sd background fluctuations: the nodes
                of :func:`dhstat.stats.significance.hybrid_pvalue`).
        """
        key = (purpose, float(self.tolerance), int(self.max_order))
        if key not in self._cache:
            self._cache[key] = window_nodes(
                self, purpose=purpose, tolerance=self.tolerance, max_order=self.max_order
            )
        return self._cache[key]

    def with_quadrature(self, tolerance: float, max_order: int) -> WindowSet:
        """The same windows with other quadrature settings."""
        return dataclasses.replace(self, tolerance=tolerance, max_order=max_order, _cache={})

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the ``window_model`` of ``results.json``, schema ``scan``)."""
        return {
            "ids": list(self.ids),
            "poi": self.poi,
            "n": self.n.tolist(),
            "signal": self.signal.tolist(),
            "stat_background": self.stat_background.tolist(),
            "other_background": self.other_background.tolist(),
            "parameters": list(self.parameters),
            "shifts": self.shifts.tolist(),
            "stat_width": self.stat_width.tolist(),
            "sigma_max": self.sigma_max.tolist(),
            "quadrature_tolerance": self.tolerance,
            "max_quadrature_order": self.max_order,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowSet:
        """Inverse of :meth:`to_dict`."""
        count = len(data["ids"])
        shifts = np.asarray(data["shifts"], dtype=np.float64).reshape(
            count, len(data["parameters"]), 3
        )
        return cls(
            ids=tuple(str(i) for i in data["ids"]),
            n=np.asarray(data["n"], dtype=np.int64),
            signal=np.asarray(data["signal"], dtype=np.float64),
            stat_background=np.asarray(data["stat_background"], dtype=np.float64),
            other_background=np.asarray(data["other_background"], dtype=np.float64),
            parameters=tuple(data["parameters"]),
            shifts=shifts,
            stat_width=np.asarray(data["stat_width"], dtype=np.float64),
            sigma_max=np.asarray(data["sigma_max"], dtype=np.float64),
            poi=str(data.get("poi", "sigma")),
            tolerance=float(data.get("quadrature_tolerance", 1e-8)),
            max_order=int(data.get("max_quadrature_order", 24)),
        )

    @classmethod
    def from_specs(
        cls,
        specs: Sequence[Mapping[str, Any]],
        *,
        ids: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        sigma_max: float | None = None,
    ) -> WindowSet:
        """Read single-bin pyhf workspace specs (dicts) into a WindowSet.

        Args:
            specs: pyhf workspace documents, one channel with one bin each.
            ids: Window identifiers (default: ``"0"``, ``"1"``, ...).
            sources: File names for error messages.
            sigma_max: POI upper bound for specs that do not set one (default: error).

        Raises:
            InputError: a spec is not a single-bin window workspace of the supported form.
        """
        names = list(ids) if ids is not None else [str(i) for i in range(len(specs))]
        parsed = [
            _parse(spec, sources[i] if sources is not None else f"window {names[i]}", sigma_max)
            for i, spec in enumerate(specs)
        ]
        parameters = tuple(sorted({p for item in parsed for p in item["shifts"]}))
        column = {p: j for j, p in enumerate(parameters)}
        shifts = np.zeros((len(parsed), len(parameters), 3))
        for i, item in enumerate(parsed):
            for p, value in item["shifts"].items():
                shifts[i, column[p]] = value
        pois = {item["poi"] for item in parsed}
        if len(pois) > 1:
            raise InputError(None, "measurements[0].config.poi", "the same POI in every window")
        return cls(
            ids=tuple(names),
            n=np.array([item["n"] for item in parsed], dtype=np.int64),
            signal=np.array([item["s0"] for item in parsed]),
            stat_background=np.array([item["g0"] for item in parsed]),
            other_background=np.array([item["h0"] for item in parsed]),
            parameters=parameters,
            shifts=shifts,
            stat_width=np.array([item["delta"] for item in parsed]),
            sigma_max=np.array([item["sigma_max"] for item in parsed]),
            poi=pois.pop() if pois else "sigma",
        )


def _number(value: Any, source: str, where: str, *, minimum: float | None = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(source, where, "a number", got=value) from None
    if not math.isfinite(number):
        raise InputError(source, where, "a finite number", got=value)
    if minimum is not None and number < minimum:
        raise InputError(source, where, f"a number >= {minimum}", got=value)
    return number


def _one(values: Any, source: str, where: str) -> float:
    if not isinstance(values, list) or len(values) != 1:
        raise InputError(source, where, "a list with one bin", got=values)
    return _number(values[0], source, f"{where}[0]", minimum=None)


def _parse(spec: Mapping[str, Any], source: str, default_max: float | None) -> dict[str, Any]:
    """One window spec -> the numbers of the WindowSet model."""
    if not isinstance(spec, Mapping):
        raise InputError(source, "(top level)", "a pyhf workspace object")
    channels = spec.get("channels")
    if not isinstance(channels, list) or len(channels) != 1:
        raise InputError(source, "channels", "exactly one channel (a single-bin window workspace)")
    channel = channels[0]
    observations = [o for o in spec.get("observations", []) if o.get("name") == channel.get("name")]
    if not observations:
        raise InputError(
            source, "observations", f"an observation for channel {channel.get('name')!r}"
        )
    count = _one(observations[0].get("data"), source, "observations[0].data")
    if count < 0 or count != round(count):
        raise InputError(
            source, "observations[0].data[0]", "a non-negative integer count", got=count
        )
    measurements = spec.get("measurements") or []
    if not measurements:
        raise InputError(source, "measurements", "one measurement with a POI")
    config = measurements[0].get("config", {})
    poi = config.get("poi")
    if not isinstance(poi, str) or not poi:
        raise InputError(source, "measurements[0].config.poi", "the name of one POI")
    upper = default_max
    for parameter in config.get("parameters", []):
        if parameter.get("name") == poi and "bounds" in parameter:
            upper = _number(parameter["bounds"][0][1], source, f"bounds of {poi}")
        elif parameter.get("fixed"):
            raise InputError(source, f"parameter {parameter.get('name')}", "no fixed parameters")
    if upper is None or upper <= 0:
        raise InputError(source, f"measurements[0].config.parameters[{poi}].bounds", "a POI bound")
    s0 = g0 = h0 = 0.0
    shifts: dict[str, NDArray[np.float64]] = {}
    stat_sq = 0.0
    stat_names: set[str] = set()
    has_poi = False
    for k, sample in enumerate(channel.get("samples", [])):
        where = f"channels[0].samples[{k}]"
        nominal = _one(sample.get("data"), source, f"{where}.data")
        if nominal < 0:
            raise InputError(source, f"{where}.data[0]", "a non-negative yield", got=nominal)
        modifiers = sample.get("modifiers", [])
        types = {m.get("type") for m in modifiers}
        is_signal = any(m.get("type") == "normfactor" and m.get("name") == poi for m in modifiers)
        has_poi = has_poi or is_signal
        group = 0 if is_signal else (1 if "staterror" in types else 2)
        if group == 0:
            s0 += nominal
        elif group == 1:
            g0 += nominal
        else:
            h0 += nominal
        for j, modifier in enumerate(modifiers):
            kind, name = modifier.get("type"), modifier.get("name")
            mwhere = f"{where}.modifiers[{j}]"
            if kind == "normfactor" and name == poi:
                continue
            if kind == "histosys":
                hi = _one(modifier["data"].get("hi_data"), source, f"{mwhere}.data.hi_data")
                lo = _one(modifier["data"].get("lo_data"), source, f"{mwhere}.data.lo_data")
                up, down = hi - nominal, nominal - lo
                if abs(up - down) > _SYM_TOL * max(abs(nominal), abs(up), 1e-300):
                    raise InputError(
                        source, mwhere, "a symmetric histosys (hi - nominal = nominal - lo)"
                    )
                vector = shifts.setdefault(str(name), np.zeros(3))
                vector[group] += up
            elif kind == "staterror" and group != 0:
                error = _number(modifier.get("data", [None])[0], source, f"{mwhere}.data[0]")
                stat_sq += error * error
                stat_names.add(str(name))
            else:
                raise InputError(
                    source,
                    mwhere,
                    "a window modifier (POI normfactor, symmetric histosys, background staterror);"
                    " use the generic path for other models",
                    got=f"{kind} {name}",
                )
    if not has_poi:
        raise InputError(source, "channels[0].samples", f"a sample with the normfactor {poi!r}")
    if len(stat_names) > 1:
        raise InputError(source, "staterror", "one staterror parameter", got=sorted(stat_names))
    delta = math.sqrt(stat_sq) / g0 if g0 > 0 else 0.0
    return {
        "n": int(count),
        "s0": s0,
        "g0": g0,
        "h0": h0,
        "shifts": shifts,
        "delta": delta,
        "sigma_max": upper,
        "poi": poi,
    }


def _cholesky3(cov: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower Cholesky factors of PSD 3x3 matrices (W, 3, 3), tolerant of singular ones."""
    low = np.zeros_like(cov)
    c = cov
    l11 = np.sqrt(np.maximum(c[:, 0, 0], 0.0))
    safe1 = np.where(l11 > 0, l11, 1.0)
    l21 = np.where(l11 > 0, c[:, 1, 0] / safe1, 0.0)
    l31 = np.where(l11 > 0, c[:, 2, 0] / safe1, 0.0)
    l22 = np.sqrt(np.maximum(c[:, 1, 1] - l21**2, 0.0))
    safe2 = np.where(l22 > 0, l22, 1.0)
    l32 = np.where(
        l22 > 1e-12 * np.sqrt(np.maximum(c[:, 1, 1], 1e-300)), (c[:, 2, 1] - l21 * l31) / safe2, 0.0
    )
    l33 = np.sqrt(np.maximum(c[:, 2, 2] - l31**2 - l32**2, 0.0))
    low[:, 0, 0], low[:, 1, 0], low[:, 2, 0] = l11, l21, l31
    low[:, 1, 1], low[:, 2, 1], low[:, 2, 2] = l22, l32, l33
    return low


_GH, _TRUNCATED, _TRAPEZOID = 0, 1, 2


def _loadings(windows: WindowSet) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Loadings A (W, 3, 3): (S, G, H) shifts = A z; and the lower bound of z (W, 3).

    The coordinates are a Cholesky factorisation of ``D^T D``: signal first where the truncation of
    S at zero has prior mass above :data:`priors.NEGLIGIBLE_TRUNCATION` (so that it is a bound on z1),
    background first otherwise (so that the coordinate with the largest effect comes first and the
    signal-only remainder needs few nodes).
    """
    cov = np.einsum("wpi,wpj->wij", windows.shifts, windows.shifts)
    s0 = windows.signal
    sd_s = np.sqrt(np.maximum(cov[:, 0, 0], 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(sd_s > 0, -s0 / np.where(sd_s > 0, sd_s, 1.0), -np.inf)
    signal_first = bound > priors._LOWER_GH
    perm = np.where(signal_first[:, None], np.array([0, 1, 2]), np.array([1, 2, 0]))
    rows = np.arange(len(windows))[:, None, None]
    permuted = cov[rows, perm[:, :, None], perm[:, None, :]]
    low = _cholesky3(permuted)
    loadings = np.zeros_like(low)
    loadings[np.arange(len(windows))[:, None], perm, :] = low
    lower = np.full((len(windows), 3), -np.inf)
    lower[:, 0] = np.where(signal_first, bound, -np.inf)
    return loadings, lower


def _plan(
    windows: WindowSet,
    loadings: NDArray[np.float64],
    lower: NDArray[np.float64],
    purpose: Purpose,
    tolerance: float,
    max_order: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rule kind and size of each coordinate (z1, z2, z3, gamma) per window, two (W, 4) arrays."""
    s0, g0, h0 = windows.signal, windows.stat_background, windows.other_background
    b0 = g0 + h0
    n = windows.n.astype(np.float64)
    n_ref = n if purpose == "posterior" else np.maximum(n, np.ceil(b0 + 6.0 * np.sqrt(b0) + 6.0))
    # background: curvature scale of ln Pois(n; B) at B = b0, and its slope
    curvature = np.sqrt(n_ref + 1.0) / (b0 + 1.0)
    slope = np.abs(n_ref - b0) / (b0 + 1.0)
    d_s = np.abs(loadings[:, 0, :])
    d_b = np.abs(loadings[:, 1, :] + loadings[:, 2, :])
    t = np.sqrt((d_b * curvature[:, None]) ** 2 + (0.3 * d_b * slope[:, None]) ** 2)
    if purpose == "posterior":
        # signal: S enters through sigma * S; posterior quantities vary like the limit, ~ 1 / S
        events = np.maximum(n - b0, 0.0) + 1.5 * np.sqrt(n + 1.0) + 1.5
        lever = np.maximum(2.0, events / np.sqrt(n + 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_s = np.where(s0[:, None] > 0, d_s / np.where(s0 > 0, s0, 1.0)[:, None], np.inf)
        t = t + np.where(d_s > 0, t_s * lever[:, None], 0.0)
    delta = windows.stat_width
    g_shift = delta * g0
    t_gamma = np.sqrt((g_shift * curvature) ** 2 + (0.3 * g_shift * slope) ** 2)
    t = np.concatenate([t, t_gamma[:, None]], axis=1)
    bounds = np.concatenate(
        [lower, np.where(delta > 0, -1.0 / np.where(delta > 0, delta, 1.0), -np.inf)[:, None]], 1
    )
    active = np.concatenate([(d_s + d_b) > 0, (delta > 0)[:, None]], axis=1)
    half = math.sqrt(2.0 * math.log(1.0 / tolerance)) + 1.0
    truncated = bounds > priors._LOWER_GH
    trapezoid = (t > priors.TRAPEZOID_SCALE) & (bounds <= -half)
    kind = np.where(trapezoid, _TRAPEZOID, np.where(truncated, _TRUNCATED, _GH))
    size = np.where(
        trapezoid,
        priors.trapezoid_size(np.where(np.isfinite(t), t, 1e3), tolerance),
        priors.order_for(t, tolerance, max_order),
    )
    kind = np.where(active, kind, _GH)
    size = np.where(active, size, 1)
    return kind.astype(np.int64), size.astype(np.int64)


def _rule(
    kind: int, size: int, bounds: NDArray[np.float64], tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights (m, size) of one coordinate for m windows."""
    m = bounds.size
    if kind == _TRUNCATED:
        return priors.normal_rule(size, bounds)
    if kind == _TRAPEZOID:
        z, w = priors.trapezoid_rule(size, tolerance)
    else:
        z, w = priors.normal_rule(size)
    return np.broadcast_to(z, (m, size)), np.broadcast_to(w, (m, size))


def window_nodes(
    windows: WindowSet,
    *,
    purpose: Purpose = "posterior",
    tolerance: float = 1e-8,
    max_order: int = 24,
) -> tuple[NodeSet, ...]:
    """Quadrature nodes of the prior of every window, grouped by rule.

    Coordinates: ``(S, G, H) = (s0, g0, h0) + A z`` with ``A`` a Cholesky factor of ``D^T D``
    (:func:`_loadings`) and ``z`` standard normal, and ``gamma = 1 + delta z4`` truncated at 0. Each
    coordinate's scale t is its effect on the Poisson terms relative to the scale on which they
    vary: at the observed count (``purpose="posterior"``), or at counts up to ``B + 6 sqrt(B) + 6``
    (``purpose="pvalue"``, for the p-value tables of the look-elsewhere toys). Coordinates with
    ``t <= 0.7`` (or truncated) get a Gauss rule of order :func:`priors.order_for`, the others the
    trapezoidal rule of :func:`priors.trapezoid_size` nodes.

    Example:
        >>> spec = window_spec(n=2, signal=1.0, backgrounds={"mumu": 1.0}, stat_errors={"mumu": 0.5})
        >>> (group,) = window_nodes(WindowSet.from_specs([spec]))
        >>> round(float(group.weight.sum()), 12), bool((group.background >= 0).all())
        (1.0, True)
    """
    loadings, lower = _loadings(windows)
    kind, size = _plan(windows, loadings, lower, purpose, tolerance, max_order)
    delta = windows.stat_width
    bounds = np.concatenate(
        [lower, np.where(delta > 0, -1.0 / np.where(delta > 0, delta, 1.0), -np.inf)[:, None]], 1
    )
    base = np.stack([windows.signal, windows.stat_background, windows.other_background], 1)
    keys, inverse = np.unique(np.concatenate([kind, size], 1), axis=0, return_inverse=True)
    groups: list[NodeSet] = []
    for g, key in enumerate(keys):
        rows = np.flatnonzero(inverse.ravel() == g)
        m = rows.size
        rules = [_rule(int(key[c]), int(key[4 + c]), bounds[rows, c], tolerance) for c in range(4)]
        sizes = tuple(int(k) for k in key[4:])
        z = np.zeros((m, 3, *sizes[:3]))
        weight = np.ones((m, *sizes))
        for c in range(4):
            shape = [m, 1, 1, 1, 1]
            shape[1 + c] = sizes[c]
            weight = weight * rules[c][1].reshape(shape)
        # shifts of (S, G, H) at the (z1, z2, z3) grid: (m, 3, k1, k2, k3)
        shift = np.zeros((m, 3, *sizes[:3]))
        for c in range(3):
            shape = [m, 1, 1, 1, 1]
            shape[2 + c] = sizes[c]
            shift = shift + loadings[rows, :, c][:, :, None, None, None] * rules[c][0].reshape(
                shape
            )
        del z
        values = base[rows][:, :, None, None, None] + shift
        gamma = 1.0 + delta[rows, None, None, None, None] * rules[3][0].reshape(m, 1, 1, 1, -1)
        sig = np.broadcast_to(values[:, 0, ..., None], (m, *sizes)).reshape(m, -1)
        bkg = (gamma * values[:, 1, ..., None] + values[:, 2, ..., None]).reshape(m, -1)
        w = _truncate(sig, bkg, weight.reshape(m, -1))
        keep = w.max(axis=0) > 0 if m else np.ones(0, dtype=bool)
        groups.append(
            NodeSet(
                rows=rows,
                n=windows.n[rows],
                signal=np.ascontiguousarray(np.maximum(sig[:, keep], 0.0)),
                background=np.ascontiguousarray(np.maximum(bkg[:, keep], 0.0)),
                weight=np.ascontiguousarray(w[:, keep]),
            )
        )
    return tuple(groups)


def _truncate(
    signal: NDArray[np.float64], background: NDArray[np.float64], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Zero weight where S < 0 or B < 0 (rounding-level negatives count as 0); renormalise."""
    scale = np.abs(signal).max(axis=-1, keepdims=True) + np.abs(background).max(
        axis=-1, keepdims=True
    )
    eps = 1e-13 * scale
    allowed = (signal >= -eps) & (background >= -eps)
    w = np.where(allowed, weight, 0.0)
    total = w.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise InputError(None, "prior", "a nuisance prior with a non-empty allowed region")
    normalised: NDArray[np.float64] = w / total
    return normalised


def window_spec(
    *,
    n: int,
    signal: float,
    backgrounds: Mapping[str, float],
    signal_shifts: Mapping[str, float] | None = None,
    background_shifts: Mapping[str, Mapping[str, float]] | None = None,
    stat_errors: Mapping[str, float] | None = None,
    sigma_max: float = 100.0,
    poi: str = "sigma",
) -> dict[str, Any]:
    """A single-bin window workspace (pyhf JSON) in the per-window layout, for tests and examples.

    Args:
        n: Observed count.
        signal: Nominal signal yield per unit POI (eps * L).
        backgrounds: Nominal yield per background sample.
        signal_shifts: Symmetric histosys +1 sd shift of the signal, per parameter.
        background_shifts: Per sample, symmetric histosys +1 sd shift per parameter.
        stat_errors: Per background sample, its MC statistical error (staterror
            ``mcstat_background``).
        sigma_max: POI upper bound.
        poi: POI name.

    Example:
        >>> sorted(window_spec(n=0, signal=1.0, backgrounds={"mumu": 0.5}))
        ['channels', 'measurements', 'observations', 'version']
    """

    def histosys(name: str, nominal: float, shift: float) -> dict[str, Any]:
        return {
            "name": name,
            "type": "histosys",
            "data": {"hi_data": [nominal + shift], "lo_data": [nominal - shift]},
        }

    modifiers: list[dict[str, Any]] = [{"name": poi, "type": "normfactor", "data": None}]
    modifiers += [histosys(k, signal, v) for k, v in (signal_shifts or {}).items()]
    samples: list[dict[str, Any]] = [{"name": "signal", "data": [signal], "modifiers": modifiers}]
    for name, nominal in backgrounds.items():
        mods = [
            histosys(k, nominal, v) for k, v in ((background_shifts or {}).get(name, {})).items()
        ]
        if stat_errors and name in stat_errors:
            mods.append(
                {"name": "mcstat_background", "type": "staterror", "data": [stat_errors[name]]}
            )
        samples.append({"name": name, "data": [nominal], "modifiers": mods})
    return {
        "channels": [{"name": "window", "samples": samples}],
        "observations": [{"name": "window", "data": [n]}],
        "measurements": [
            {
                "name": "measurement",
                "config": {"poi": poi, "parameters": [{"name": poi, "bounds": [[0.0, sigma_max]]}]},
            }
        ],
        "version": "1.0.0",
    }
