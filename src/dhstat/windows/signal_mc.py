"""Windows from the analyst's own signal Monte Carlo: one :class:`SignalPoint` per mass point.

With signal points given, the windows stage does not simulate signal: the grid is the set of
points given (sorted by M_A', then M_h'; window ids 0, 1, ... in that order), and nothing is
interpolated between them. Each point carries the selected events of its search sample, with the
columns the selection writes (``mrecoil2``, ``mmumu2`` [GeV^2], ``ceta``, ``weight``; see
:data:`SIGNAL_COLUMNS`), and the number of generated events.

* **Ellipse.** The paper fits signal simulated *without* initial-state radiation; an analyst's
  MC has ISR, which cannot be removed. An ISR photon lost along the beam only moves an event
  to larger recoil mass, ``M_recoil^2 = (p_h' + p_gamma)^2 >= M_h'^2``, and leaves ``M_mumu^2``
  as it is, so the tail lies on the high side of x = M_recoil^2. The same two-Gaussian fit as
  today (:func:`~dhstat.windows.fit.fit_ellipse`) is therefore made to the *core*: the events with
  ``x <= median(x) + CORE_WIDTH * (median(x) - q_15.87(x))``, with the likelihood normalised to
  that half-plane (a truncated fit, whose parameters describe the whole distribution). At most
  ``[windows] fit_max_events`` core events enter (the first ones), and the fit is unweighted.
  Against today's no-ISR windows (tests/windows/test_windows_signal_mc.py, 10 000 generated
  events per point at M_A' = 4-9.5 GeV): centres 0.15-0.21 standard deviations apart, major
  axes -1 % to +13 %, minor axes +13 % to +26 % wider, efficiencies up to 8 % higher. The
  soft ISR photons that stay in the core widen it; fitting all events instead would make the
  windows up to 20 times longer.
* **Efficiency.** ``sum of the weights of the events inside the window with C_eta < cut /
  generated_events``: the weights are per-event MC weights (1 for unweighted MC), so
  ``generated_events`` is the summed weight of all generated events. Its binomial uncertainty
  takes the squared weights of all generated events as ``generated_events * sum(w^2) / sum(w)``
  of the selected ones (exact for unit weights).
* **C_eta cut.** Punzi's optimisation over the candidate cuts with the given background, as
  today (:func:`~dhstat.windows.punzi.punzi_cuts`).

Bad input (too few core events to fit, non-finite or negative values, a missing column,
``generated_events`` not positive or below the summed weight, two points at the same masses)
raises :class:`~dhstat.errors.InputError` naming the point.

Example:
    >>> rng = np.random.default_rng(3)
    >>> n = 400
    >>> events = {"mrecoil2": rng.normal(4.0, 0.3, n), "mmumu2": rng.normal(36.0, 0.3, n),
    ...           "ceta": rng.random(n), "weight": np.ones(n)}
    >>> point = SignalPoint.from_tuple((6.0, 2.0, events, 1000.0))
    >>> point.label
    'signal point (ma=6, mh=2)'
    >>> SignalPoint.from_tuple((6.0, 2.0, events, 1000.0), source="selected.root").label
    'selected.root, signal point (ma=6, mh=2)'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat import parallel
from dhstat.errors import InputError
from dhstat.windows.fit import fit_ellipse
from dhstat.windows.points import PointResult, summed_point
from dhstat.windows.settings import WindowSettings

__all__ = ["CORE_WIDTH", "SIGNAL_COLUMNS", "SignalPoint", "core_cut", "fit_signal_points"]

FloatArray = NDArray[np.float64]

#: The columns of a signal point's selected events that the windows stage uses.
SIGNAL_COLUMNS = ("mrecoil2", "mmumu2", "ceta", "weight")

#: The core of the recoil-mass distribution ends this many low-side standard deviations
#: (``median - q_15.87``) above the median (see :func:`core_cut`).
CORE_WIDTH = 0.5

#: One standard deviation below the mean of a Gaussian: its 15.87 % quantile.
_LOW_QUANTILE = 0.5 * math.erfc(1.0 / math.sqrt(2.0))


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class SignalPoint:
    """The selected signal MC of one mass point, as the windows stage takes it.

    Attributes:
        ma: A' mass [GeV].
        mh: h' mass [GeV].
        events: Selected events of the search sample: at least the columns of
            :data:`SIGNAL_COLUMNS` (float64 arrays of one length; ``weight`` per event, 1 for
            unweighted MC).
        generated_events: Summed weight of all generated events of the point (the number of
            generated events for unweighted MC): the efficiency's denominator.
        source: Where the events came from (a file), named in error messages; may be empty.
    """

    ma: float
    mh: float
    events: Mapping[str, FloatArray]
    generated_events: float
    source: str = ""

    @classmethod
    def from_tuple(
        cls, item: tuple[float, float, Mapping[str, ArrayLike], float], *, source: str = ""
    ) -> SignalPoint:
        """From ``(ma, mh, columns, generated_events)``, as ``read_signal_points`` gives it.

        Columns of :data:`SIGNAL_COLUMNS` become float64 arrays; the others are dropped.
        ``source`` (e.g. the selected-events file) is named in error messages.

        Example:
            >>> cols = {"mrecoil2": [1.0], "mmumu2": [4.0], "ceta": [0.5], "weight": [1],
            ...         "p_recoil": [3.0]}
            >>> p = SignalPoint.from_tuple((2.0, 1.0, cols, 10))
            >>> sorted(p.events), p.events["weight"].dtype.name, p.generated_events
            (['ceta', 'mmumu2', 'mrecoil2', 'weight'], 'float64', 10.0)
        """
        ma, mh, columns, generated = item
        label = _label(float(ma), float(mh), source)
        events: dict[str, FloatArray] = {}
        for name in SIGNAL_COLUMNS:
            if name not in columns:
                raise InputError(label, name, "a column of the selected events", got="missing")
            events[name] = np.asarray(columns[name], dtype=np.float64).reshape(-1)
        return cls(float(ma), float(mh), events, float(generated), source)

    @property
    def label(self) -> str:
        """How error messages name the point (with its source, if known)."""
        return _label(self.ma, self.mh, self.source)

    def check(self, min_events: int) -> None:
        """Raise :class:`InputError` naming the point if it cannot make a window.

        Args:
            min_events: Fewest core events an ellipse fit needs (``[windows] fit_min_events``).

        Example:
            >>> cols = {k: np.ones(5) for k in SIGNAL_COLUMNS}
            >>> SignalPoint.from_tuple((2.0, 1.0, cols, -5.0)).check(1)
            Traceback (most recent call last):
            ...
            dhstat.errors.InputError: signal point (ma=2, mh=1): generated_events: expected a \
positive number, got -5.0
        """
        if not (math.isfinite(self.ma) and math.isfinite(self.mh) and self.ma > 0 < self.mh):
            raise InputError(self.label, "ma, mh", "positive masses in GeV")
        if not (math.isfinite(self.generated_events) and self.generated_events > 0):
            expected = "a positive number"
            raise InputError(self.label, "generated_events", expected, got=self.generated_events)
        lengths = {name: self.events[name].size for name in SIGNAL_COLUMNS}
        if len(set(lengths.values())) != 1:
            raise InputError(self.label, "(columns)", "columns of one length", got=lengths)
        for name in SIGNAL_COLUMNS:
            bad = int(np.count_nonzero(~np.isfinite(self.events[name])))
            if bad:
                raise InputError(self.label, name, "finite values", got=f"{bad} NaN or inf")
        negative = int(np.count_nonzero(self.events["weight"] < 0))
        if negative:
            raise InputError(self.label, "weight", "weights >= 0", got=f"{negative} negative")
        total = float(self.events["weight"].sum())
        if total > self.generated_events * (1 + 1e-9):
            expected = f"generated_events >= the summed weight of the selected events ({total:g})"
            raise InputError(self.label, "generated_events", expected, got=self.generated_events)
        n_core = int(np.count_nonzero(self.events["mrecoil2"] <= core_cut(self.events["mrecoil2"])))
        if n_core < max(min_events, 10):
            expected = f"at least {max(min_events, 10)} selected events in the core to fit"
            raise InputError(self.label, "mrecoil2", expected, got=n_core)


def _label(ma: float, mh: float, source: str) -> str:
    point = f"signal point (ma={ma:g}, mh={mh:g})"
    return f"{source}, {point}" if source else point


def core_cut(x: ArrayLike) -> float:
    """The upper end of the core of the recoil-mass distribution (the ISR tail lies above it).

    ``median(x) + CORE_WIDTH * (median(x) - q_15.87(x))``: for a Gaussian the median plus half a
    standard deviation; the low side is free of ISR, so its width measures the resolution.

    Example:
        >>> x = np.random.default_rng(1).normal(0.0, 2.0, 200_000)
        >>> round(core_cut(x), 1)
        1.0
    """
    xs = np.asarray(x, dtype=np.float64)
    if xs.size == 0:
        return math.nan
    median = float(np.median(xs))
    return median + CORE_WIDTH * (median - float(np.quantile(xs, _LOW_QUANTILE)))


def _fit_point(pid: int, point: SignalPoint, settings: WindowSettings) -> PointResult:
    """The window and efficiency sums of one signal point."""
    x, y = point.events["mrecoil2"], point.events["mmumu2"]
    cut = core_cut(x)
    core = np.flatnonzero(x <= cut)[: settings.fit_max_events]
    fit, _ = fit_ellipse(
        x[core], y[core], n_sigma=settings.n_sigma, contour=settings.contour, truncate_x=cut
    )
    weight = point.events["weight"]
    sumw = float(weight.sum())
    mean_w2 = float(np.sum(weight * weight)) / sumw if sumw > 0 else 1.0
    total2 = point.generated_events * mean_w2
    return summed_point(
        pid, point.ma, point.mh, fit, int(core.size), point.events, settings,
        point.generated_events, total2,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Batch:
    points: tuple[tuple[int, SignalPoint], ...]
    settings: WindowSettings


def _run_batch(batch: _Batch) -> list[PointResult]:
    return [_fit_point(pid, point, batch.settings) for pid, point in batch.points]


def fit_signal_points(
    points: Sequence[SignalPoint],
    settings: WindowSettings,
    *,
    executor: parallel.Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[PointResult]:
    """Check, sort and fit the signal points (batches of ``[windows] batch_size`` per task).

    Args:
        points: The signal points (any order).
        settings: The windows settings.
        executor: Where the batches run (default: in this process).
        progress: Called with the number of newly finished points.

    Returns:
        One :class:`~dhstat.windows.points.PointResult` per point, sorted by (ma, mh), ids 0, 1, ...

    Raises:
        InputError: A point cannot make a window, or two points have the same masses.
    """
    ordered = sorted(points, key=lambda p: (p.ma, p.mh))
    for k, point in enumerate(ordered):
        point.check(settings.fit_min_events)
        if k and (ordered[k - 1].ma, ordered[k - 1].mh) == (point.ma, point.mh):
            raise InputError(point.label, "ma, mh", "one signal sample per mass point", got=2)
    size = settings.batch_size
    numbered = list(enumerate(ordered))
    batches = [
        _Batch(tuple(numbered[k : k + size]), settings) for k in range(0, len(numbered), size)
    ]
    results: Iterator[list[PointResult]] = (
        executor.imap(_run_batch, batches) if executor is not None else map(_run_batch, batches)
    )
    done: list[PointResult] = []
    for batch in results:
        done.extend(batch)
        if progress is not None:
            progress(len(batch))
    return done
