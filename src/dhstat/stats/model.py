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

The window workspaces are read by :func:`dhstat.stats.specs.parse_window_spec` (and written, for
tests and examples, by :func:`window_spec`); the quadrature nodes of the nuisance prior
(:meth:`WindowSet.nodes`) are planned by :func:`dhstat.stats.nodes.window_nodes`, whose module
describes the rules.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats.nodes import NodeSet, Purpose, window_nodes
from dhstat.stats.priors import QUADRATURE_TOLERANCE
from dhstat.stats.specs import parse_window_spec, window_spec

# NodeSet, window_nodes and window_spec live in their own modules and are re-exported here (the
# public names of this module before the split)
__all__ = ["NodeSet", "WindowSet", "window_nodes", "window_spec"]


def __dir__() -> list[str]:
    return __all__


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
    tolerance: float = QUADRATURE_TOLERANCE
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
            tolerance=float(data.get("quadrature_tolerance", QUADRATURE_TOLERANCE)),
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
            parse_window_spec(
                spec, sources[i] if sources is not None else f"window {names[i]}", sigma_max
            )
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
