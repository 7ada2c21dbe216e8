"""The e e mu mu phase space: equivalent-photon sampling table with the analytic pre-cuts.

Photon energy fractions ``x1, x2`` are tabulated in ``u = ln x1 x2`` and the gamma gamma rapidity
``y = ln(x1/x2)/2`` with the density ``f(x1) f(x2) sigma_BW(W)``, ``f = (1 + (1 - x)^2)/x
ln(Q2max/Q2min)``. With the generator cuts enabled, the cells are restricted to the rapidities,
photon virtualities and muon decay angles that can pass them (:func:`eemumu_table`); the table's
``fraction`` is what the generated cross section keeps.

Example:
    >>> from dhstat.config import load
    >>> from dhstat.simulation.settings import GeneratorSettings
    >>> table = eemumu_table(GeneratorSettings.from_config(load()))
    >>> 0.0 < table.fraction < 0.2
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from dhstat.simulation.breit_wheeler import breit_wheeler_fraction, breit_wheeler_total
from dhstat.simulation.settings import GeneratorSettings

__all__ = ["PhotonTable", "eemumu_table", "tagged_probability"]

Array = NDArray[np.float64]

#: Size of the guide table of the e e mu mu cell sampling.
_GUIDE = 1 << 17


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class PhotonTable:
    """Piecewise-constant sampling table of (u = ln x1 x2, y = ln(x1/x2)/2) for eemumu."""

    u_edges: Array
    y_edges: Array
    cdf: Array  # flattened cumulative over cells inside the pre-cut
    fraction: float  # integral inside the pre-cut / integral over the whole process
    q2_pt: float  # virtuality pre-cut: at least one side with pT_e above this [GeV]
    c_max: Array  # (nu, ny): largest |cos theta*| of the muons that can pass the cuts
    cells: NDArray[np.intp]  # the cells with positive probability ...
    cells_cdf: Array  # ... and the cdf at them
    guide: NDArray[np.intp]  # first position in cells_cdf above k / GUIDE, k = 0 .. GUIDE

    def sample_cells(self, u: Array) -> NDArray[np.intp]:
        """Cells for uniform numbers ``u``: as ``searchsorted(cdf, u, "right")``, by guide table."""
        cdf, last = self.cells_cdf, self.cells_cdf.size - 1
        index = self.guide[(u * (self.guide.size - 1)).astype(np.intp)]
        todo = np.flatnonzero(cdf[np.minimum(index, last)] <= u)
        while todo.size:  # a few steps: guide intervals hold few cells
            index[todo] += 1
            todo = todo[cdf[np.minimum(index[todo], last)] <= u[todo]]
        return np.asarray(self.cells[np.minimum(index, last)], dtype=np.intp)


def _photon_flux_weight(x: Array, s: float, me: float, q2_max: float) -> tuple[Array, Array, Array]:
    """EPA weight (1 + (1-x)^2)/2 ln(Q2max/Q2min) (the 1/x is in the measure); Q2 limits."""
    energy = math.sqrt(s) / 2
    q2_min = me * me * x * x / np.clip(1 - x, 1e-300, None)
    q2_hi = np.minimum(q2_max, 4 * energy * energy * (1 - x))
    log = np.log(np.maximum(q2_hi, 1e-300) / np.maximum(q2_min, 1e-300))
    weight = np.where(log > 0, (1 + (1 - x) ** 2) / 2 * log, 0.0)
    return np.asarray(weight), q2_min, q2_hi


def tagged_probability(x: Array, q2_min: Array, q2_hi: Array, pt: float) -> Array:
    """P(pT of the scattered electron > pt) under dQ^2/Q^2, with pT^2 ~ Q^2 (1 - x)."""
    q2_cut = pt * pt / np.clip(1 - x, 1e-12, None)
    lo = np.clip(q2_cut, q2_min, q2_hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.log(q2_hi / lo) / np.log(q2_hi / q2_min)
    return np.asarray(np.nan_to_num(np.clip(p, 0.0, 1.0)), dtype=np.float64)


def _decay_limit(
    u_lo: Array, u_hi: Array, y: Array, half: float, s: float, mmu: float, cuts: tuple[float, ...]
) -> Array:
    """Largest |cos theta*| (w.r.t. the beam axis) allowing both muons to pass the cuts.

    For a gamma gamma system of mass sqrt(e^u s) and c.m. rapidity y can pass the lab cuts ``(theta_lo, theta_hi, p_min,
    y_boost)``; evaluated as a union over the cell (u edges, y +- half) with the system pT
    neglected (the margins of the cuts cover it). 0 where nothing passes.
    """
    theta_lo, theta_hi, p_min, y_boost = cuts
    c = np.linspace(0.0, 1.0, 51)
    best = np.zeros(np.broadcast_shapes(u_lo.shape, y.shape))
    for u in (u_lo, u_hi):
        w = np.sqrt(np.exp(u) * s)
        e_star = w / 2
        p_star = np.sqrt(np.clip(e_star**2 - mmu * mmu, 0.0, None))
        for dy in (-half, 0.0, half):
            ylab = (y + dy + y_boost)[..., None]
            ok = np.ones((*best.shape, c.size), bool)
            for sign in (1.0, -1.0):
                pz_rest = sign * p_star[..., None] * c
                pt = p_star[..., None] * np.sqrt(1 - c * c)
                yr = np.arctanh(np.clip(pz_rest / e_star[..., None], -1 + 1e-15, 1 - 1e-15))
                mt = np.sqrt(pt * pt + mmu * mmu)
                pz = mt * np.sinh(ylab + yr)
                theta = np.degrees(np.arctan2(pt, pz))
                ok &= (theta >= theta_lo) & (theta <= theta_hi) & (np.hypot(pt, pz) >= p_min)
            allowed = np.where(ok, c, -1.0).max(axis=-1)
            best = np.maximum(best, np.where(allowed >= 0, np.minimum(allowed + 0.03, 1.0), 0.0))
    return best


@lru_cache(maxsize=8)
def _photon_table(
    s: float,
    me: float,
    mmu: float,
    alpha: float,
    w_min: float,
    q2_max: float,
    y_lo: float,
    y_hi: float,
    q2_pt: float,
    decay_cuts: tuple[float, ...] | None,
    bins: int = 200,
) -> PhotonTable:
    u_min = math.log(w_min * w_min / s)
    u_edges = np.linspace(u_min, 0.0, bins + 1)
    y_max = -u_min / 2
    y_edges = np.linspace(-y_max, y_max, 2 * bins + 1)
    uc = 0.5 * (u_edges[1:] + u_edges[:-1])
    yc = 0.5 * (y_edges[1:] + y_edges[:-1])
    uu, yy = np.meshgrid(uc, yc, indexing="ij")
    x1, x2 = np.exp(uu / 2 + yy), np.exp(uu / 2 - yy)
    inside = (x1 < 1) & (x2 < 1)
    f1, q1lo, q1hi = _photon_flux_weight(np.minimum(x1, 1 - 1e-12), s, me, q2_max)
    f2, q2lo, q2hi = _photon_flux_weight(np.minimum(x2, 1 - 1e-12), s, me, q2_max)
    w = np.sqrt(np.exp(uu) * s)
    density = np.where(inside, f1 * f2 * breit_wheeler_total(w, mmu, alpha), 0.0)
    total = float(density.sum())
    keep = (yy >= y_lo) & (yy <= y_hi)
    if q2_pt > 0:
        p1 = tagged_probability(x1, q1lo, q1hi, q2_pt)
        p2 = tagged_probability(x2, q2lo, q2hi, q2_pt)
        tagged = 1 - (1 - p1) * (1 - p2)
    else:
        tagged = np.ones_like(density)
    if decay_cuts is not None:
        margin = decay_cuts[4]
        half = 0.5 * (y_edges[1] - y_edges[0]) + margin
        c_max = _decay_limit(
            u_edges[:-1][:, None], u_edges[1:][:, None], yc[None, :], half, s, mmu, decay_cuts[:4]
        )
        beta = np.sqrt(np.clip(1 - 4 * mmu * mmu / (w * w), 1e-12, None))
        accepted = breit_wheeler_fraction(c_max, beta)
    else:
        c_max = np.ones_like(density)
        accepted = np.ones_like(density)
    cut_density = np.where(keep, density * tagged * accepted, 0.0)
    cdf = np.cumsum(cut_density.ravel())
    fraction = float(cdf[-1]) / total
    cdf /= cdf[-1]
    cells = np.flatnonzero(np.diff(cdf, prepend=0.0) > 0)
    guide = np.searchsorted(cdf[cells], np.arange(_GUIDE + 1) / _GUIDE, side="right")
    return PhotonTable(u_edges, y_edges, cdf, fraction, q2_pt, c_max, cells, cdf[cells], guide)


def eemumu_table(settings: GeneratorSettings) -> PhotonTable:
    """The sampling table of the e e mu mu generator (cached per set of numbers)."""
    cuts = settings.cuts
    s0 = settings.beams.s
    if cuts.enabled:
        y_boost = float(np.arctanh(settings.beams.cm_velocity()[2]))
        eta_hi = -math.log(math.tan(math.radians(cuts.theta_min) / 2))
        eta_lo = -math.log(math.tan(math.radians(cuts.theta_max) / 2))
        margin = cuts.eemumu_rapidity_margin
        y_lo, y_hi = eta_lo - y_boost - margin, eta_hi - y_boost + margin
        q2_pt = cuts.eemumu_pt_min / 2
        decay: tuple[float, ...] | None = (
            cuts.theta_min - 5.0,
            cuts.theta_max + 5.0,
            cuts.p_min - 0.15,
            y_boost,
            margin,
        )
    else:
        y_lo, y_hi, q2_pt, decay = -1e9, 1e9, 0.0, None
    return _photon_table(
        s0,
        settings.electron_mass,
        settings.muon_mass,
        settings.alpha,
        settings.eemumu.min_mass,
        settings.eemumu.q2_max,
        y_lo,
        y_hi,
        q2_pt,
        decay,
    )
