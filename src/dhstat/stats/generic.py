"""Any pyhf workspace with one POI: loading, checks, and prior nodes for the Bayesian integrals.

The generic path does not assume any structure of the model beyond what pyhf guarantees: the POI is
a ``normfactor``, so every bin's expected count is linear in it,
``nu_i(sigma, theta) = sigma S_i(theta) + B_i(theta)``. The model is built once (``pyhf.Model`` with
a batch size) and evaluated in batch at the nodes of the nuisance prior:

* **quadrature** (few parameters): a tensor product of the Gauss rules of the priors
  (:mod:`dhstat.stats.priors`), the order of each parameter chosen from its effect on the expected
  counts at +-1 prior width relative to the Poisson scale of each bin;
* **Monte Carlo** (when the tensor grid would exceed ``max_quadrature_points``): ``mc_samples``
  draws from the priors (importance sampling with the priors as proposal), split into 10 batches
  whose spread gives the numerical uncertainty of every result.

The zero-truncation (:data:`dhstat.stats.priors.TRUNCATION`) gives weight zero to nodes where any
bin's S or B is negative; multiplicative factors have priors truncated at zero.

Example:
    >>> from dhstat.stats.model import window_spec
    >>> model = GenericModel.from_spec(window_spec(n=2, signal=1.0, backgrounds={"b": 0.5}))
    >>> model.poi, model.n_bins, model.observed.tolist()
    ('sigma', 1, [2.0])
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.jsonio import read_text
from dhstat.parallel import task_rng
from dhstat.stats import priors

__all__ = [
    "MAX_COUNT",
    "GenericModel",
    "GenericNodes",
    "Settings",
    "check_spec",
    "load_spec",
    "quiet_pyhf",
]

#: Largest yield or observed count accepted: beyond it the Poisson log-likelihood's dependence on
#: the POI is lost in double-precision rounding (``n ln mu`` carries an absolute error of about
#: ``1e-16 n ln mu``, 3e-5 at 1e10), so results would be silently wrong.
MAX_COUNT = 1e10


def __dir__() -> list[str]:
    return __all__


_MC_BATCHES = 10
#: Largest expected count at a prior node (far beyond any count of a valid input): squares of
#: larger ones overflow.
_MAX_RATE = 1e100
_MULTIPLICATIVE = {"staterror", "lumi", "shapesys"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Numerical settings of the stats engine (the ``[stats]`` config table).

    Example:
        >>> Settings().max_quadrature_order
        24
    """

    quadrature_tolerance: float = 1e-8
    max_quadrature_order: int = 24
    max_quadrature_points: int = 2_000_000
    mc_samples: int = 50_000
    mc_seed: int = 20230224
    sigma_max_tolerance: float = 0.01
    sigma_max_check_factor: float = 10.0

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Settings:
        """Settings from the ``[stats]`` table of a configuration."""
        return cls(
            quadrature_tolerance=float(table["quadrature_tolerance"]),
            max_quadrature_order=int(table["max_quadrature_order"]),
            max_quadrature_points=int(table["max_quadrature_points"]),
            mc_samples=int(table["mc_samples"]),
            mc_seed=int(table["mc_seed"]),
            sigma_max_tolerance=float(table["sigma_max_tolerance"]),
            sigma_max_check_factor=float(table["sigma_max_check_factor"]),
        )


@dataclass(frozen=True, slots=True)
class GenericNodes:
    """Prior nodes of a generic model: per node, S and B in every bin, and the weight.

    Attributes:
        signal: S_i at each node, shape (k, bins).
        background: B_i at each node, shape (k, bins).
        weight: Normalised weights (zero outside the allowed region), shape (k,).
        batch: Monte Carlo batch of each node (all 0 for quadrature), shape (k,).
        method: ``"quadrature"`` or ``"monte-carlo"``.
        orders: Gauss order per nuisance parameter (empty for Monte Carlo).
    """

    signal: NDArray[np.float64]
    background: NDArray[np.float64]
    weight: NDArray[np.float64]
    batch: NDArray[np.int64]
    method: str
    orders: tuple[int, ...]

    def batches(self) -> list[GenericNodes]:
        """The Monte Carlo batches as separate node sets (each renormalised)."""
        out = []
        for b in range(int(self.batch.max()) + 1):
            keep = self.batch == b
            w = self.weight[keep]
            total = w.sum()
            out.append(
                GenericNodes(
                    self.signal[keep],
                    self.background[keep],
                    w / total if total > 0 else w,
                    self.batch[keep],
                    self.method,
                    self.orders,
                )
            )
        return out


@contextlib.contextmanager
def quiet_pyhf() -> Iterator[None]:
    """Silence pyhf's own deprecation warnings (jsonschema.RefResolver) around pyhf calls."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a pyhf workspace JSON file and check it (pyhf schema, one POI, observations, finite yields).

    Raises:
        InputError: naming the file and the problem.
    """
    source = Path(path)
    text = read_text(source, what="pyhf workspace file")
    try:
        spec = json.loads(text)  # NaN and Infinity pass here: check_spec names where they are
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise InputError(source, where, f"valid JSON ({error.msg})") from None
    except RecursionError:
        raise InputError(source, "(top level)", "JSON nested less deeply") from None
    except ValueError as error:  # an integer with more digits than Python converts
        raise InputError(source, "(number)", str(error).splitlines()[0][:200]) from None
    check_spec(spec, str(source))
    result: dict[str, Any] = spec
    return result


def _finite_tree(node: Any, where: str, source: str) -> None:
    if isinstance(node, float) and not math.isfinite(node):
        raise InputError(source, where, "a finite number", got=node)
    if isinstance(node, dict):
        for key, value in node.items():
            _finite_tree(value, f"{where}.{key}" if where else str(key), source)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _finite_tree(value, f"{where}[{index}]", source)


def _items(node: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array (anything else in it, or a non-array, gives none)."""
    return [item for item in node if isinstance(item, dict)] if isinstance(node, list) else []


def _check_measurements(spec: dict[str, Any], source: str) -> None:
    for i, measurement in enumerate(_items(spec.get("measurements"))):
        config = measurement.get("config")
        poi = config.get("poi") if isinstance(config, dict) else None
        if isinstance(poi, list):
            raise InputError(source, f"measurements[{i}].config.poi", "exactly one POI", got=poi)
        if not poi:
            raise InputError(source, f"measurements[{i}].config.poi", "exactly one POI (none)")


def _check_names(spec: dict[str, Any], source: str) -> None:
    """Unique channel and observation names, and each measurement's POI a modifier of the model."""
    for key in ("channels", "observations"):
        names = [item["name"] for item in spec[key]]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise InputError(
                    source, f"{key}[{i}].name", f"a name not used before in {key}", got=name
                )
    modifiers = {
        modifier["name"]
        for channel in spec["channels"]
        for sample in channel["samples"]
        for modifier in sample["modifiers"]
    }
    for i, measurement in enumerate(spec["measurements"]):
        poi = measurement["config"]["poi"]
        if poi not in modifiers:
            where = f"measurements[{i}].config.poi"
            raise InputError(source, where, "the name of a modifier of the model", got=poi)


def _check_observations(spec: dict[str, Any], source: str) -> None:
    channels = [c.get("name") for c in _items(spec.get("channels"))]
    observed = {o.get("name") for o in _items(spec.get("observations"))}
    if not spec.get("observations"):
        raise InputError(source, "observations", "observed data for every channel")
    missing = [c for c in channels if c not in observed]
    if missing:
        raise InputError(source, "observations", f"observed data for channel {missing[0]!r}")


def _check_normsys(modifier: dict[str, Any], where: str, source: str) -> None:
    """Normsys factors: positive (pyhf takes their logarithm) and at most :data:`MAX_COUNT`."""
    if modifier.get("type") != "normsys" or not isinstance(modifier.get("data"), dict):
        return
    for key in ("hi", "lo"):
        value = modifier["data"].get(key)
        if isinstance(value, int | float) and not 0 < value <= MAX_COUNT:
            expected = f"a positive factor of at most {MAX_COUNT:.0e}"
            raise InputError(source, f"{where}.data.{key}", expected, got=value)


def _modifier_arrays(modifier: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The per-bin arrays of a modifier (histosys templates, staterror/shapesys uncertainties)."""
    data = modifier.get("data")
    if isinstance(data, list):
        return [("data", data)]
    if isinstance(data, dict):
        return [
            (key, data[key]) for key in ("hi_data", "lo_data") if isinstance(data.get(key), list)
        ]
    return []


def _check_counts(values: list[Any], where: str, source: str, *, signed: bool = False) -> None:
    for b, value in enumerate(values):
        if not signed and value < 0:
            raise InputError(source, f"{where}[{b}]", "a non-negative yield", got=value)
        if abs(value) > MAX_COUNT:
            expected = f"a count of at most {MAX_COUNT:.0e} (double precision limit)"
            raise InputError(source, f"{where}[{b}]", expected, got=value)


def _check_bins(spec: dict[str, Any], source: str) -> None:
    """Bins agree: every sample, modifier array and observation of a channel has its length."""
    bins: dict[str, int] = {}
    for c, channel in enumerate(spec["channels"]):
        samples = channel["samples"]
        size = len(samples[0]["data"])
        bins[channel["name"]] = size
        for s, sample in enumerate(samples):
            where = f"channels[{c}].samples[{s}]"
            arrays = [("data", sample["data"])]
            for m, modifier in enumerate(sample.get("modifiers", [])):
                arrays += [(f"modifiers[{m}].{k}", v) for k, v in _modifier_arrays(modifier)]
                _check_normsys(modifier, f"{where}.modifiers[{m}]", source)
            for key, values in arrays:
                if len(values) != size:
                    expected = f"{size} values (the bins of channel {channel['name']!r})"
                    raise InputError(source, f"{where}.{key}", expected, got=len(values))
                signed = key.endswith(("hi_data", "lo_data"))  # histosys templates may dip
                _check_counts(values, f"{where}.{key}", source, signed=signed)
    for o, observation in enumerate(spec["observations"]):
        bins_of = bins.get(observation["name"])
        if bins_of is not None and len(observation["data"]) != bins_of:
            expected = f"{bins_of} counts (the bins of channel {observation['name']!r})"
            raise InputError(
                source, f"observations[{o}].data", expected, got=len(observation["data"])
            )
        _check_counts(observation["data"], f"observations[{o}].data", source)


def check_spec(spec: Any, source: str) -> None:
    """Check a workspace document: pyhf-valid, finite, observations for all channels, one POI.

    Beyond pyhf's schema: every number finite, every sample yield and observed count
    non-negative and at most :data:`MAX_COUNT`, the POI a modifier of the model, and every array
    of a channel (samples, modifier templates, observations) as long as the channel has bins.

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> spec = window_spec(n=2, signal=1.0, backgrounds={"b": 0.5})
        >>> spec["observations"][0]["data"] = [2, 3]
        >>> check_spec(spec, "ws.json")
        Traceback (most recent call last):
        ...
        dhstat.errors.InputError: ws.json: observations[0].data: expected 1 counts (the bins of channel 'window'), got 2
    """
    import pyhf  # local import: start-up time

    if not isinstance(spec, dict):
        raise InputError(source, "(top level)", "a pyhf workspace (JSON object)")
    _finite_tree(spec, "", source)
    _check_observations(spec, source)
    _check_measurements(spec, source)
    try:
        with quiet_pyhf():
            pyhf.Workspace(spec)
    except Exception as error:  # noqa: BLE001 - pyhf raises several types for invalid specs
        message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        raise InputError(
            source, "(pyhf workspace)", f"a valid pyhf workspace ({message})"
        ) from None
    _check_names(spec, source)
    _check_bins(spec, source)


def _scale(mu: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
    value: NDArray[np.float64] = (mu + 1.0) / np.sqrt((n - mu) ** 2 + n + 1.0)
    return value


@dataclass(frozen=True, slots=True)
class GenericModel:
    """A pyhf workspace's model prepared for Bayesian integration over its nuisance parameters.

    Attributes:
        spec: The workspace document.
        source: Where it came from (for messages).
        poi: Name of the POI.
        sigma_max: Upper bound of the POI in the workspace.
        observed: Observed counts of the main model, shape (bins,).
        priors: One :class:`~dhstat.stats.priors.Prior` per nuisance parameter component.
        n_bins: Number of bins of the main model.
    """

    spec: Mapping[str, Any]
    source: str
    poi: str
    sigma_max: float
    observed: NDArray[np.float64]
    priors: tuple[priors.Prior, ...]
    n_bins: int
    _model: Any
    _index: tuple[int, ...]
    _init: NDArray[np.float64]
    _poi_index: int

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, source: str = "<workspace>") -> GenericModel:
        """Prepare a workspace document (checked with :func:`check_spec`)."""
        import pyhf  # local import: start-up time

        check_spec(spec, source)
        try:
            with quiet_pyhf():
                workspace = pyhf.Workspace(dict(spec))
                model = workspace.model()
        except Exception as error:  # noqa: BLE001 - pyhf raises several types for invalid models
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise InputError(source, "(pyhf model)", f"a valid pyhf model ({message})") from None
        config = model.config
        poi = config.poi_name
        if poi is None:
            raise InputError(source, "measurements[0].config.poi", "one POI")
        modifier_type = dict(config.modifiers)
        if modifier_type.get(poi) != "normfactor":
            raise InputError(source, f"parameter {poi}", "a POI that is a normfactor")
        data = np.asarray(workspace.data(model, include_auxdata=False), dtype=np.float64)
        if np.any(data < 0) or np.any(data != np.round(data)):
            raise InputError(source, "observations", "non-negative integer counts")
        init = np.asarray(config.suggested_init(), dtype=np.float64)
        fixed = config.suggested_fixed()
        bounds = config.suggested_bounds()
        sigma_max = _poi_upper_bound(bounds[config.poi_index], poi, source)
        prior_list: list[priors.Prior] = []
        index: list[int] = []
        for name in config.par_order:
            if name == poi:
                continue
            pset = config.param_set(name)
            slot = config.par_slice(name)
            positions = range(slot.start, slot.stop)
            for i, position in enumerate(positions):
                label = name if pset.n_parameters == 1 else f"{name}[{i}]"
                if fixed[position]:
                    continue
                prior_list.append(_prior(pset, i, label, modifier_type.get(name), source))
                index.append(position)
        return cls(
            spec=spec,
            source=source,
            poi=poi,
            sigma_max=sigma_max,
            observed=data,
            priors=tuple(prior_list),
            n_bins=int(data.size),
            _model=model,
            _index=tuple(index),
            _init=init,
            _poi_index=int(config.poi_index),
        )

    def rates(self, values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """S and B per bin at nuisance values (k, n_priors): two arrays of shape (k, bins)."""
        import pyhf  # local import: start-up time

        k = values.shape[0]
        chunk = 8192
        signal = np.empty((k, self.n_bins))
        background = np.empty((k, self.n_bins))
        with quiet_pyhf():
            workspace = pyhf.Workspace(dict(self.spec))
            model = workspace.model(batch_size=min(chunk, k))
        columns = list(self._index)
        for start in range(0, k, chunk):
            block = values[start : start + chunk]
            size = block.shape[0]
            if size != model.batch_size:
                with quiet_pyhf():
                    model = workspace.model(batch_size=size)
            pars = np.tile(self._init, (size, 1))
            pars[:, columns] = block
            pars[:, self._poi_index] = 0.0
            with np.errstate(all="ignore"):  # checked below, with a message naming the source
                b = np.asarray(model.main_model.expected_data(pars), dtype=np.float64)
                pars[:, self._poi_index] = 1.0
                s = np.asarray(model.main_model.expected_data(pars), dtype=np.float64) - b
            signal[start : start + size] = s.reshape(size, -1)
            background[start : start + size] = b.reshape(size, -1)
        largest = max(np.abs(signal).max(initial=0.0), np.abs(background).max(initial=0.0))
        if not largest <= _MAX_RATE:  # also NaN
            expected = "finite expected counts wherever the nuisance priors reach (a modifier or prior too wide)"
            raise InputError(self.source, "(model)", expected)
        return signal, background

    def orders(self, settings: Settings) -> tuple[int, ...]:
        """Gauss order per prior: from the effect of +-1 prior width on each bin's Poisson term."""
        count = len(self.priors)
        centre = np.array([p.mean for p in self.priors], dtype=np.float64)
        points = np.tile(centre, (2 * count + 1, 1))
        for j, prior in enumerate(self.priors):
            points[1 + 2 * j, j] += prior.width
            points[2 + 2 * j, j] -= prior.width
            if prior.kind == "normal" and points[2 + 2 * j, j] < prior.lower:
                points[2 + 2 * j, j] = prior.lower
        signal, background = self.rates(points)
        s0, b0, n = signal[0], background[0], self.observed
        # yields near the float range's ends (1e-308) overflow here: t is then not finite
        with np.errstate(all="ignore"):
            n_ref = np.maximum(n, np.ceil(b0 + 6 * np.sqrt(b0) + 6))
            ell_b = _scale(b0, n_ref)
            excess = np.maximum(n - b0, 0).sum() + 4 * math.sqrt(n.sum() + 1) + 4
            sigma_ref = excess / s0.sum() if s0.sum() > 0 else 0.0
            ell_mu = _scale(b0 + s0 * sigma_ref, n)
        result = []
        for j in range(count):
            ds = np.abs(signal[1 + 2 * j] - signal[2 + 2 * j]) / 2
            db = np.abs(background[1 + 2 * j] - background[2 + 2 * j]) / 2
            with np.errstate(all="ignore"):
                rel = np.where(
                    s0 > 0, 2 * ds / np.where(s0 > 0, s0, 1), np.where(ds > 0, np.inf, 0)
                )
                t = float((ds * sigma_ref / ell_mu + db / ell_b + rel).sum())
            if not math.isfinite(t):  # a template on a zero yield: as fine a rule as allowed
                result.append(settings.max_quadrature_order)
                continue
            order = priors.order_for(
                t, settings.quadrature_tolerance, settings.max_quadrature_order
            )
            result.append(int(order))
        return tuple(result)

    def nodes(self, settings: Settings) -> GenericNodes:
        """Prior nodes: tensor-product quadrature, or Monte Carlo for large models."""
        count = len(self.priors)
        orders = self.orders(settings) if count else ()
        size = math.prod(orders) if count else 1
        if size <= settings.max_quadrature_points:
            rules = [p.rule(o) for p, o in zip(self.priors, orders, strict=True)]
            if rules:
                grids = np.meshgrid(*[r[0] for r in rules], indexing="ij")
                values = np.stack([g.ravel() for g in grids], axis=1)
                wgrids = np.meshgrid(*[r[1] for r in rules], indexing="ij")
                weight = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)
            else:
                values = np.zeros((1, 0))
                weight = np.ones(1)
            signal, background = self.rates(values)
            weight = _truncate(signal, background, weight, self.source)
            batch = np.zeros(weight.size, dtype=np.int64)
            return GenericNodes(signal, background, weight, batch, "quadrature", orders)
        per = max(settings.mc_samples // _MC_BATCHES, 1)
        columns = []
        for j, prior in enumerate(self.priors):
            draws = [
                prior.sample(task_rng(settings.mc_seed, b, j), per) for b in range(_MC_BATCHES)
            ]
            columns.append(np.concatenate(draws))
        values = np.stack(columns, axis=1)
        batch = np.repeat(np.arange(_MC_BATCHES), per)
        signal, background = self.rates(values)
        weight = np.ones(values.shape[0])
        weight = _truncate(signal, background, weight, self.source)
        return GenericNodes(signal, background, weight, batch, "monte-carlo", ())


def _prior(pset: Any, i: int, label: str, modifier: str | None, source: str) -> priors.Prior:
    """The prior of component ``i`` of a constrained pyhf parameter set."""
    kind = type(pset).__name__
    if kind == "constrained_by_normal":
        mean = float(pset.auxdata[i])
        sigmas = getattr(pset, "sigmas", None)
        width = float(sigmas[i]) if sigmas is not None else 1.0
        lower = 0.0 if modifier in _MULTIPLICATIVE else -math.inf
        prior = priors.Prior(label, "normal", mean, width, lower=lower)
    elif kind == "constrained_by_poisson":
        tau = float(pset.factors[i])
        with np.errstate(all="ignore"):
            prior = priors.Prior(
                label, "gamma", (tau + 1) / tau, math.sqrt(tau + 1) / tau, 0.0, tau
            )
    else:
        raise InputError(
            source,
            f"parameter {label}",
            "a constrained nuisance parameter (free parameters other than the POI "
            "have no prior; fix them in the measurement config)",
        )
    if not (abs(prior.mean) <= MAX_COUNT and 0 < prior.width <= MAX_COUNT):
        expected = f"a prior of mean and positive width at most {MAX_COUNT:.0e} in size"
        raise InputError(source, f"parameter {label}", expected, got=(prior.mean, prior.width))
    return prior


def _poi_upper_bound(bounds: Any, poi: str, source: str) -> float:
    """The POI's upper bound: the POI prior is flat on [0, upper], so the bounds must hold 0."""
    lower, upper = (float(x) for x in bounds)
    # a denormal upper bound (5e-324) is positive but its reciprocal overflows
    if not (
        math.isfinite(lower) and math.isfinite(upper) and lower <= 0.0 < sys.float_info.min <= upper
    ):
        raise InputError(
            source,
            f"bounds of the POI {poi}",
            "[lower, upper] with lower <= 0 < upper, upper a normal float (the POI prior is flat "
            "on [0, upper])",
            got=[lower, upper],
        )
    return upper


def _truncate(
    signal: NDArray[np.float64],
    background: NDArray[np.float64],
    weight: NDArray[np.float64],
    source: str,
) -> NDArray[np.float64]:
    scale = np.abs(signal).max() + np.abs(background).max()
    eps = 1e-13 * scale
    allowed = (signal >= -eps).all(axis=1) & (background >= -eps).all(axis=1)
    w = np.where(allowed, weight, 0.0)
    total = w.sum()
    if total <= 0:
        raise InputError(source, "(priors)", "nuisance priors with a non-empty allowed region")
    np.maximum(signal, 0.0, out=signal)
    np.maximum(background, 0.0, out=background)
    normalised: NDArray[np.float64] = w / total
    return normalised
