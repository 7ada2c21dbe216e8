"""Dark photon decay: partial widths, B(A' -> mu mu) from the PDG R data, resonance flags.

A dark photon of mass M that couples to the electromagnetic current with strength eps*e decays to
lepton pairs and, through the same current, to hadrons (analysis.md section 4):

    Gamma(A' -> l l) = eps^2 alpha M / 3 * G_l,   G_l = (1 + 2x) sqrt(1 - 4x),  x = m_l^2 / M^2
    Gamma(A' -> hadrons) = eps^2 alpha M / 3 * R(M^2)
    B(A' -> mu mu) = G_mu / (G_e + G_mu + G_tau + R)

R(s) = sigma(e+e- -> hadrons) / sigma_pt(e+e- -> mu mu) is the PDG 2020 world compilation shipped
as package data (``dhstat/data/pdg2020_r_ratio.dat``, 1.5-12 GeV), interpolated linearly in
sqrt(s). Outside that range R is unknown and every quantity that needs it is NaN. The compilation
does not contain the narrow J/psi, psi(2S) and Upsilon(1S, 2S, 3S): near them the true hadronic
width of a dark photon is dominated by the resonance, so B(A' -> mu mu) from the continuum R is
wrong there. :func:`near_resonance` flags such masses.

Decays into dark-sector particles are not included: as in analysis.md section 4, the A' decays to
Standard-Model particles through its mixing only.

Example:
    >>> round(float(branching_ratio_mumu(5.0)), 3)
    0.159
    >>> near_resonance([3.0969, 5.0])
    ('J/psi', '')
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.errors import InputError
from dhstat.physics.constants import ALPHA, ELECTRON_MASS, MUON_MASS, TAU_MASS

__all__ = [
    "DEFAULT_RESONANCES",
    "RRatio",
    "Resonance",
    "branching_ratio_mumu",
    "lepton_factor",
    "load_r_ratio",
    "near_resonance",
    "resonances_from_config",
    "width_hadrons",
    "width_lepton",
    "width_total",
]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class RRatio:
    """The hadronic R ratio as a table, interpolated linearly in sqrt(s).

    Attributes:
        sqrt_s: Centre-of-mass energies [GeV], strictly increasing.
        r: R at those energies.
        source: Where the table came from (file path or ``"<package>"``).
    """

    sqrt_s: NDArray[np.float64]
    r: NDArray[np.float64]
    source: str

    @property
    def range(self) -> tuple[float, float]:
        """The lowest and highest tabulated sqrt(s) [GeV]."""
        return float(self.sqrt_s[0]), float(self.sqrt_s[-1])

    def __call__(self, mass: ArrayLike) -> NDArray[np.float64]:
        """R at sqrt(s) = ``mass`` [GeV]; NaN outside the tabulated range."""
        m = np.asarray(mass, dtype=np.float64)
        low, high = self.range
        values = np.interp(m, self.sqrt_s, self.r)
        return np.where((m >= low) & (m <= high), values, np.nan)


def _parse_r_table(text: str, source: str) -> RRatio:
    rows: list[tuple[float, float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        parts = content.split()
        try:
            if len(parts) != 2:
                raise ValueError
            energy, r = float(parts[0]), float(parts[1])
        except ValueError:
            raise InputError(
                source, f"line {number}", "two numbers 'sqrt(s) R'", got=line.strip()
            ) from None
        if not (math.isfinite(energy) and math.isfinite(r) and energy > 0 and r >= 0):
            raise InputError(source, f"line {number}", "sqrt(s) > 0 and R >= 0", got=line.strip())
        if rows and energy <= rows[-1][0]:
            raise InputError(source, f"line {number}", "strictly increasing sqrt(s)", got=energy)
        rows.append((energy, r))
    if len(rows) < 2:
        raise InputError(source, "(file)", "at least two rows of 'sqrt(s) R'", got=len(rows))
    table = np.array(rows, dtype=np.float64)
    return RRatio(sqrt_s=table[:, 0].copy(), r=table[:, 1].copy(), source=source)


@functools.cache
def _packaged_r_ratio() -> RRatio:
    text = (resources.files("dhstat") / "data" / "pdg2020_r_ratio.dat").read_text(encoding="utf-8")
    return _parse_r_table(text, "<package>/pdg2020_r_ratio.dat")


def load_r_ratio(path: str | os.PathLike[str] | None = None) -> RRatio:
    """The R table: the shipped PDG 2020 compilation, or a user file with the same format.

    The format is plain text, two columns ``sqrt(s) [GeV]  R``, ``#`` starts a comment.

    Raises:
        InputError: the file is missing or a row is not two finite numbers in increasing order.

    Example:
        >>> table = load_r_ratio()
        >>> table.range
        (1.5, 12.0)
        >>> bool(np.isnan(table(1.0)))
        True
    """
    if path is None:
        return _packaged_r_ratio()
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError:
        raise InputError(source, "(file)", "an existing, readable R-ratio table") from None
    return _parse_r_table(text, str(source))


def lepton_factor(mass: ArrayLike, lepton_mass: float) -> NDArray[np.float64]:
    """G_l = (1 + 2x) sqrt(1 - 4x), x = m_l^2 / M^2; zero below threshold.

    Example:
        >>> float(lepton_factor(10.0, 0.0))
        1.0
        >>> float(lepton_factor(3.0, 1.77686))
        0.0
    """
    m = np.asarray(mass, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = lepton_mass**2 / m**2
        value = (1 + 2 * x) * np.sqrt(np.clip(1 - 4 * x, 0.0, None))
    return np.where(m > 2 * lepton_mass, value, 0.0)


def width_lepton(
    mass: ArrayLike, lepton_mass: float, *, eps2: float = 1.0, alpha: float = ALPHA
) -> NDArray[np.float64]:
    """Gamma(A' -> l+ l-) [GeV] = eps^2 alpha M / 3 G_l.

    Example:
        >>> round(float(width_lepton(3.0, 0.0, alpha=0.01)), 12)
        0.01
    """
    m = np.asarray(mass, dtype=np.float64)
    return eps2 * alpha * m / 3 * lepton_factor(m, lepton_mass)


def width_hadrons(
    mass: ArrayLike,
    *,
    eps2: float = 1.0,
    alpha: float = ALPHA,
    r_ratio: RRatio | None = None,
) -> NDArray[np.float64]:
    """Gamma(A' -> hadrons) [GeV] = eps^2 alpha M / 3 R(M^2); NaN outside the R table.

    Example:
        >>> table = load_r_ratio()
        >>> w = width_hadrons(5.0, alpha=1.0)
        >>> bool(np.isclose(w, 5.0 / 3 * table(5.0)))
        True
    """
    m = np.asarray(mass, dtype=np.float64)
    table = r_ratio if r_ratio is not None else load_r_ratio()
    return eps2 * alpha * m / 3 * table(m)


def width_total(
    mass: ArrayLike,
    *,
    eps2: float = 1.0,
    alpha: float = ALPHA,
    r_ratio: RRatio | None = None,
    electron_mass: float = ELECTRON_MASS,
    muon_mass: float = MUON_MASS,
    tau_mass: float = TAU_MASS,
) -> NDArray[np.float64]:
    """Total visible width [GeV]: e e + mu mu + tau tau + hadrons.

    Example:
        >>> g = width_total(5.0, eps2=1e-6)
        >>> bool(np.isclose(width_lepton(5.0, MUON_MASS, eps2=1e-6) / g, branching_ratio_mumu(5.0)))
        True
    """
    m = np.asarray(mass, dtype=np.float64)
    leptons = sum(
        width_lepton(m, ml, eps2=eps2, alpha=alpha) for ml in (electron_mass, muon_mass, tau_mass)
    )
    return np.asarray(leptons + width_hadrons(m, eps2=eps2, alpha=alpha, r_ratio=r_ratio))


def branching_ratio_mumu(
    mass: ArrayLike,
    *,
    r_ratio: RRatio | None = None,
    electron_mass: float = ELECTRON_MASS,
    muon_mass: float = MUON_MASS,
    tau_mass: float = TAU_MASS,
) -> NDArray[np.float64]:
    """B(A' -> mu+ mu-) = G_mu / (G_e + G_mu + G_tau + R); NaN where R is not tabulated.

    Independent of eps and alpha. Near the narrow resonances the continuum R is not the right input
    (see :func:`near_resonance`).

    Example:
        >>> b = branching_ratio_mumu([4.5, 10.5])
        >>> bool(np.all((b > 0.14) & (b < 0.17)))
        True
    """
    m = np.asarray(mass, dtype=np.float64)
    table = r_ratio if r_ratio is not None else load_r_ratio()
    g_mu = lepton_factor(m, muon_mass)
    denominator = lepton_factor(m, electron_mass) + g_mu + lepton_factor(m, tau_mass) + table(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(g_mu / denominator, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Resonance:
    """A narrow vector resonance that the R compilation leaves out.

    Attributes:
        name: Display name (e.g. ``"J/psi"``).
        mass: Mass [GeV].
        width: Total width [GeV].
    """

    name: str
    mass: float
    width: float


#: PDG 2020 masses and total widths [GeV] of the narrow vector resonances not in the R data.
DEFAULT_RESONANCES: tuple[Resonance, ...] = (
    Resonance("J/psi", 3.096900, 92.9e-6),
    Resonance("psi(2S)", 3.686097, 294e-6),
    Resonance("Upsilon(1S)", 9.46030, 54.02e-6),
    Resonance("Upsilon(2S)", 10.02326, 31.98e-6),
    Resonance("Upsilon(3S)", 10.3552, 20.32e-6),
)


def resonances_from_config(table: Mapping[str, Any]) -> tuple[Resonance, ...]:
    """The resonance list of an ``[interpretation]`` configuration table.

    Example:
        >>> resonances_from_config(
        ...     {"resonances": [{"name": "X", "mass_gev": 3.0, "width_gev": 1e-4}]}
        ... )
        (Resonance(name='X', mass=3.0, width=0.0001),)
    """
    return tuple(
        Resonance(str(item["name"]), float(item["mass_gev"]), float(item["width_gev"]))
        for item in table["resonances"]
    )


def near_resonance(
    mass: ArrayLike,
    resonances: Iterable[Resonance] = DEFAULT_RESONANCES,
    *,
    n_widths: float = 3.0,
    min_halfwidth: float = 0.02,
) -> tuple[str, ...]:
    """Name of the narrow resonance each mass is close to, ``""`` if none.

    A mass M is flagged when ``|M - M_res| < max(n_widths * Gamma_res, min_halfwidth)``. The
    width criterion is where the resonance dominates the A' hadronic width; ``min_halfwidth``
    [GeV] widens the flag to the mass resolution so that the grid points next to a resonance are
    flagged too (the resonances are far narrower than the grid spacing). If several resonances
    match, the nearest one is named.

    Example:
        >>> near_resonance([3.09, 3.2, 9.4603], n_widths=3, min_halfwidth=0.0)
        ('', '', 'Upsilon(1S)')
    """
    m = np.atleast_1d(np.asarray(mass, dtype=np.float64))
    listed: Sequence[Resonance] = tuple(resonances)
    names = np.full(m.shape, "", dtype=object)
    best = np.full(m.shape, np.inf)
    for resonance in listed:
        distance = np.abs(m - resonance.mass)
        window = max(n_widths * resonance.width, min_halfwidth)
        hit = (distance < window) & (distance < best)
        names[hit] = resonance.name
        best[hit] = distance[hit]
    return tuple(str(name) for name in names.ravel())
