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

These prior nodes are exact where the posterior stays close to the prior (one bin, no free
parameter: the single-bin windows), and :mod:`dhstat.stats.generic_bayes` uses them only there,
and only where a rule of twice the orders (:func:`refined`) gives nearly the same integrals;
elsewhere it integrates over draws that follow the posterior (:mod:`dhstat.stats.marginal`). The
priors (:mod:`dhstat.stats.parameters`): constraint terms for constrained parameters, flat over the
workspace bounds for free ones (normfactors other than the POI, shapefactors); ``fix=`` and
``priors=`` of :meth:`GenericModel.from_spec` fix parameters and replace priors.

The zero-truncation (:data:`dhstat.stats.priors.TRUNCATION`) gives weight zero to nodes where any
bin's S or B is negative; multiplicative factors have priors truncated at zero.

Example:
    >>> from dhstat.stats.model import window_spec
    >>> model = GenericModel.from_spec(window_spec(n=2, signal=1.0, backgrounds={"b": 0.5}))
    >>> model.poi, model.n_bins, model.observed.tolist()
    ('sigma', 1, [2.0])
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.parallel import task_rng
from dhstat.stats import _core, parameters, priors
from dhstat.stats.checks import check_spec, load_spec, quiet_pyhf
from dhstat.stats.parameters import MAX_COUNT, PriorOverride

__all__ = [
    "MAX_COUNT",
    "GenericModel",
    "GenericNodes",
    "PriorOverride",
    "Settings",
    "check_spec",
    "load_spec",
    "quadrature_error",
    "quiet_pyhf",
    "refined",
]


def __dir__() -> list[str]:
    return __all__


_MC_BATCHES = 10


def refined(settings: Settings) -> Settings:
    """The check rule's settings: about twice the Gauss orders (the tolerance squared).

    Rules converge slowly where the integrand has a pole or a cut near the prior's bulk (1 / S
    at S = 0, the zero-truncation of a rate): doubling the orders then changes the result by
    about its error, where a rule only a little finer would agree with it.

    Example:
        >>> fine = refined(Settings(quadrature_tolerance=1e-7, max_quadrature_order=24))
        >>> f"{fine.quadrature_tolerance:.0e}", fine.max_quadrature_order
        ('1e-14', 48)
    """
    return dataclasses.replace(
        settings,
        quadrature_tolerance=settings.quadrature_tolerance**2,
        max_quadrature_order=2 * settings.max_quadrature_order,
    )


def quadrature_error(
    model: GenericModel, value: float, fine: float, settings: Settings, *, log: bool = False
) -> float:
    """Numerical uncertainty of a quadrature result from the :func:`refined` rule's ``fine``.

    Twice their difference (where rules converge slowly, near a pole or a cut, the refined rule
    keeps much of the coarse one's error) plus a tenth of the tolerance (relative; absolute for
    a logarithm); 0 for a model without nuisance parameters (one node: exact).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> model = GenericModel.from_spec(window_spec(n=1, signal=1.0, backgrounds={"b": 0.5}))
        >>> quadrature_error(model, 2.0, 2.0 + 1e-7, Settings())
        0.0
    """
    if not model.priors:
        return 0.0
    scale = 1.0 if log else abs(fine)
    return 2.0 * abs(fine - value) + 0.1 * settings.quadrature_tolerance * scale


#: Largest expected count at a prior node (far beyond any count of a valid input): squares of
#: larger ones overflow.
_MAX_RATE = 1e100


@dataclass(frozen=True, slots=True)
class Settings:
    """Numerical settings of the stats engine (the ``[stats]`` config table).

    ``is_samples`` (importance-sampling draws of the posterior-centred integration, doubled up to
    ``is_max_samples`` while the effective sample size is below 400, or the relative numerical
    error of the limit or of B10 above ``is_target_error``) are not config keys yet: the
    defaults apply. ``mc_seed`` seeds those draws.

    Example:
        >>> Settings().max_quadrature_order
        24
    """

    quadrature_tolerance: float = priors.QUADRATURE_TOLERANCE
    max_quadrature_order: int = 24
    max_quadrature_points: int = 2_000_000
    mc_samples: int = 50_000
    mc_seed: int = 20230224
    sigma_max_tolerance: float = 0.01
    sigma_max_check_factor: float = 10.0
    is_samples: int = 16_000
    is_max_samples: int = 128_000
    is_target_error: float = 0.005

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
        log_weight: ``ln weight`` where ``weight`` underflows (draws far in a prior's tail).
    """

    signal: NDArray[np.float64]
    background: NDArray[np.float64]
    weight: NDArray[np.float64]
    batch: NDArray[np.int64]
    method: str
    orders: tuple[int, ...]
    log_weight: NDArray[np.float64] | None = None

    def log_weights(self) -> NDArray[np.float64]:
        """``ln`` of the weights (``-inf`` for a zero weight), shape (k,)."""
        with np.errstate(divide="ignore"):  # a zero weight: -inf, a node that does not count
            out = np.log(self.weight) if self.log_weight is None else self.log_weight
        return np.asarray(out, dtype=np.float64)

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
        fixed: Parameters fixed by the user (``fix=``), name to value.
        overrides: Priors chosen by the user (``priors=``), name to :data:`PriorOverride`.
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
    fixed: Mapping[str, float] = field(default_factory=dict)
    overrides: Mapping[str, PriorOverride] = field(default_factory=dict)

    @property
    def parameter_index(self) -> tuple[int, ...]:
        """Position in pyhf's parameter vector of each prior (nuisance parameter component)."""
        return self._index

    @property
    def init(self) -> NDArray[np.float64]:
        """Pyhf's parameter vector with fixed parameters at their values (a copy)."""
        return self._init.copy()

    @property
    def poi_index(self) -> int:
        """Position of the POI in pyhf's parameter vector."""
        return self._poi_index

    def configure(
        self,
        *,
        fix: Mapping[str, float] | None = None,
        priors: Mapping[str, PriorOverride] | None = None,
    ) -> GenericModel:
        """This model with more parameters fixed and more priors chosen (see :meth:`from_spec`).

        Example:
            >>> from dhstat.stats.model import window_spec
            >>> spec = window_spec(n=2, signal=1.0, backgrounds={"b": 0.5},
            ...                    signal_shifts={"eff": 0.1}, background_shifts={"b": {"jes": 0.1}})
            >>> model = GenericModel.from_spec(spec)
            >>> [p.name for p in model.priors], [p.name for p in model.configure(fix={"jes": 0.5}).priors]
            (['jes', 'eff'], ['eff'])
        """
        if not fix and not priors:
            return self
        return GenericModel.from_spec(
            self.spec,
            source=self.source,
            fix={**self.fixed, **(fix or {})},
            priors={**self.overrides, **(priors or {})},
        )

    @classmethod
    def from_spec(
        cls,
        spec: Mapping[str, Any],
        *,
        source: str = "<workspace>",
        fix: Mapping[str, float] | None = None,
        priors: Mapping[str, PriorOverride] | None = None,
    ) -> GenericModel:
        """Prepare a workspace document (checked with :func:`check_spec`).

        Args:
            spec: The workspace document.
            source: Where it came from (for messages).
            fix: Parameters to fix, name to value (a vector parameter's name fixes every
                component; ``name[i]`` one of them), as pyhf's ``--fix``/``fixed_params``.
            priors: Priors to use instead of the constraint terms (or of the flat prior of a
                free parameter), name (or ``name[i]``) to ``("normal", mean, width)`` or
                ``("flat", lower, upper)``.
        """
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
        fixed = list(config.suggested_fixed())
        bounds = config.suggested_bounds()
        sigma_max = _poi_upper_bound(bounds[config.poi_index], poi, source)
        fix = dict(fix or {})
        overrides = dict(priors or {})
        prior_list, index = parameters.build_priors(
            config, fix, overrides, init, fixed, modifier_type, source
        )
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
            fixed=fix,
            overrides=overrides,
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

    def _unit_rates(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """S and B at the prior means (row 0) and +-1 prior width of each prior (rows 2j+1, 2j+2)."""
        count = len(self.priors)
        centre = np.array([p.mean for p in self.priors], dtype=np.float64)
        points = np.tile(centre, (2 * count + 1, 1))
        for j, prior in enumerate(self.priors):
            points[1 + 2 * j, j] += prior.width
            points[2 + 2 * j, j] -= prior.width
            if prior.kind == "normal" and points[2 + 2 * j, j] < prior.lower:
                points[2 + 2 * j, j] = prior.lower
        return self.rates(points)

    def orders(self, settings: Settings) -> tuple[int, ...]:
        """Gauss order per prior: from the effect of +-1 prior width on each bin's Poisson term."""
        count = len(self.priors)
        signal, background = self._unit_rates()
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
            # the larger one-sided effect: an even effect (up and down the same way) counts too
            ds = np.maximum(np.abs(signal[1 + 2 * j] - s0), np.abs(signal[2 + 2 * j] - s0))
            db = np.maximum(np.abs(background[1 + 2 * j] - b0), np.abs(background[2 + 2 * j] - b0))
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

    def quadrature_exact(self, settings: Settings) -> bool:
        """Whether prior-node quadrature (:meth:`nodes`) is exact here (then it is used).

        That is: no nuisance parameter; or one bin, no free parameter and a rule of every
        parameter below the largest order (the quadrature tolerance reached). Elsewhere the
        integrals follow the posterior (:mod:`dhstat.stats.marginal`).

        Example:
            >>> from dhstat.stats.model import window_spec
            >>> spec = window_spec(n=2, signal=1.0, backgrounds={"b": 0.5},
            ...                    background_shifts={"b": {"jes": 0.1}})
            >>> GenericModel.from_spec(spec).quadrature_exact(Settings())
            True
        """
        if not self.priors:
            return True
        if self.n_bins != 1 or any(p.kind == "flat" for p in self.priors):
            return False
        if any(o >= settings.max_quadrature_order for o in self.orders(settings)):
            return False
        fine = self.orders(refined(settings))
        return math.prod(fine) <= settings.max_quadrature_points and self._rules_agree(settings)

    def _rules_agree(self, settings: Settings) -> bool:
        """Whether the prior rule and the :func:`refined` one agree to ``is_target_error``.

        Compared: the flat-prior posterior mass ``int_0^x m`` for x from sigma_max down to 1e-3 of
        it (it falls like 1 / S at large x: truncated or wide signal priors), ``m(0)`` and the
        hybrid p-value. Where they differ by more (a truncation inside the rule's range, a pole of
        1 / S near it) the integrals follow the posterior instead; where less, the difference is
        the result's quoted uncertainty (:func:`quadrature_error`).
        """
        n = self.observed[:1].astype(np.float64)
        x = self.sigma_max * np.array([1.0, 1e-1, 1e-2, 1e-3])
        values = []
        for rule in (settings, refined(settings)):
            nodes = self.nodes(rule)
            s, b, w = nodes.signal[:, :1], nodes.background[:, :1], nodes.weight
            with np.errstate(all="ignore"):
                mass = w @ _core.flat_integral(n, s, b, x[None, :])
                density = w @ _core.pmf(n, b[:, 0])
            pvalue = _core.pvalue(n, b[:, 0], w)
            values.append(np.concatenate([mass, [density, float(pvalue)]]))
        coarse, fine = values
        with np.errstate(all="ignore"):
            close = np.abs(coarse - fine) <= settings.is_target_error * np.abs(fine)
        return bool(np.all(close | (coarse == fine)))

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
