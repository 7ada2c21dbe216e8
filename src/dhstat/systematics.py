"""The systematic uncertainties of the paper as data: names, meanings, and per-window values.

Every window workspace carries the same set of nuisance parameters (pyhf modifiers). Their names
are part of dhstat's published format; the statistics engine and reinterpretation users rely on them:

=========================  =========  ====================  ===========================================
name                       pyhf type  on samples            meaning
=========================  =========  ====================  ===========================================
``sigma``                  normfactor signal                POI: the cross section in fb (signal = eps L)
``syst_detector``          histosys   signal + backgrounds  detector, trigger, luminosity, tracking, muon
                                                            ID, cross sections and selection, from the
                                                            macroregion data/simulation studies; ONE
                                                            parameter, so signal and background move
                                                            together (correlated) [paper]
``syst_ceta``              histosys   backgrounds           the C_eta selection (1 %) [paper]
``syst_mass_resolution``   histosys   signal                data/simulation difference of the dimuon
                                                            and recoil mass resolutions (1-5 %) [paper]
``syst_window_offset``     histosys   signal                masses not at the window centre (<= 5 %)
                                                            [paper]
``mcstat_signal``          histosys   signal                MC statistics of the signal efficiency
``mcstat_background``      staterror  backgrounds           MC statistics of the background estimate
                                                            (one parameter per window, pyhf combines the
                                                            samples' errors in quadrature)
=========================  =========  ====================  ===========================================

Values [paper, PRL 130, 071804]: ``syst_detector`` is 2 % on background and signal for
M_A' < 9 GeV; above, 9.1 % (+) 9.3 % = 13.0 % on the background (normalisation and mass shape, in
quadrature) and 9.1 % on the signal, still one parameter. The luminosity uncertainty
(0.08/8.34 = 1.0 %) is *inside* ``syst_detector``: the paper evaluates trigger, luminosity,
tracking, muon ID, cross sections and selection "collectively" through the macroregions, so a
separate luminosity parameter would double count it. The mass-resolution and window-offset values
are piecewise-linear rules in M_A' (the paper gives only range and mean; see the ``[systematics]``
configuration table). B(A' -> mu mu) (4 %) enters only the coupling interpretation, not the
workspaces.

Interpolation: every systematic is a *symmetric* ``histosys`` (hi = nominal (1 + r),
lo = nominal (1 - r)), which pyhf interpolates linearly (histosys code 0): the yield is
nominal (1 + r theta) with a unit Gaussian constraint on theta, i.e. a Gaussian smearing of the
yield with width r, which is what the paper did ("systematic uncertainties are taken into account
as correlated Gaussian smearings of background expectations and signal efficiencies, with widths
equal to the estimated uncertainties"). ``normsys`` was not chosen: pyhf interpolates it with
code 4 (polynomial inside |theta| < 1, exponential outside), a log-normal-like smearing that the
paper did not use and that differs from the Gaussian one in the tails (r = 13 % above 9 GeV).
Linear interpolation can make a yield negative for theta < -1/r; the statistics engine truncates
those points (statistics.md section 1).

Example:
    >>> from dhstat import config
    >>> rules = rules_from_config(config.load())
    >>> low = evaluate(rules, ma=5.0)
    >>> low.background["syst_detector"], low.signal["syst_detector"]
    (0.02, 0.02)
    >>> high = evaluate(rules, ma=9.5)
    >>> round(high.background["syst_detector"], 4), high.signal["syst_detector"]
    (0.1301, 0.091)
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dhstat import schemas
from dhstat.errors import InputError
from dhstat.jsonio import read_json, sha256_file

__all__ = [
    "CATALOGUE",
    "CETA",
    "DETECTOR",
    "MASS_RESOLUTION",
    "MCSTAT_BACKGROUND",
    "MCSTAT_SIGNAL",
    "POI",
    "WINDOW_OFFSET",
    "Curve",
    "MeasuredDetector",
    "Modifier",
    "Rules",
    "WindowSystematics",
    "evaluate",
    "load_measured",
    "rules_from_config",
]

log = logging.getLogger(__name__)

POI = "sigma"
DETECTOR = "syst_detector"
CETA = "syst_ceta"
MASS_RESOLUTION = "syst_mass_resolution"
WINDOW_OFFSET = "syst_window_offset"
MCSTAT_SIGNAL = "mcstat_signal"
MCSTAT_BACKGROUND = "mcstat_background"


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class Modifier:
    """One named parameter of the window workspaces.

    Attributes:
        name: The pyhf modifier (and parameter) name.
        kind: The pyhf modifier type.
        samples: ``"signal"``, ``"background"`` (every background sample) or ``"both"``.
        meaning: What the parameter stands for (written into the workspace index).
    """

    name: str
    kind: Literal["normfactor", "histosys", "staterror"]
    samples: Literal["signal", "background", "both"]
    meaning: str


#: Every parameter a window workspace can have, in the order they appear on the samples.
CATALOGUE: tuple[Modifier, ...] = (
    Modifier(POI, "normfactor", "signal", "POI: signal cross section [fb]; signal yield = eps L"),
    Modifier(
        DETECTOR,
        "histosys",
        "both",
        "detector/trigger/luminosity/tracking/muon-ID/cross-section/selection uncertainty from "
        "the macroregion data/simulation studies; one parameter for signal and backgrounds",
    ),
    Modifier(CETA, "histosys", "background", "C_eta selection uncertainty"),
    Modifier(
        MASS_RESOLUTION,
        "histosys",
        "signal",
        "signal efficiency: data/simulation difference of the mass resolutions",
    ),
    Modifier(
        WINDOW_OFFSET,
        "histosys",
        "signal",
        "signal efficiency: masses not at the window centre",
    ),
    Modifier(MCSTAT_SIGNAL, "histosys", "signal", "MC statistics of the signal efficiency"),
    Modifier(
        MCSTAT_BACKGROUND,
        "staterror",
        "background",
        "MC statistics of the background estimate (samples combined in quadrature); a window "
        "without any simulated background event has a background of w +- w (histosys), w the "
        "weight of one MC event",
    ),
)


@dataclass(frozen=True, slots=True)
class Curve:
    """A piecewise-linear function of M_A' (constant beyond the end nodes).

    Attributes:
        ma: Nodes in M_A' [GeV], strictly increasing.
        values: Relative uncertainty at the nodes.
    """

    ma: tuple[float, ...]
    values: tuple[float, ...]

    def __call__(self, ma: float) -> float:
        """The value at ``ma`` [GeV]."""
        return float(np.interp(ma, self.ma, self.values))


@dataclass(frozen=True, slots=True)
class MeasuredDetector:
    """Measured detector uncertainties: one relative value per macroregion.

    A window takes the value of the macroregion that contains its centre (M_A', M_h'); windows
    outside every macroregion fall back to the paper's rule.

    Attributes:
        source: The macroregion file.
        regions: Per macroregion: ``(ma_min, ma_max, mh_min, mh_max, background, signal)``,
            masses in GeV, relative uncertainties.
    """

    source: str
    regions: tuple[tuple[float, float, float, float, float, float], ...]

    def lookup(self, ma: float, mh: float) -> tuple[float, float] | None:
        """``(background, signal)`` of the macroregion containing (ma, mh), or ``None``."""
        for ma_lo, ma_hi, mh_lo, mh_hi, background, signal in self.regions:
            if ma_lo <= ma < ma_hi and mh_lo <= mh < mh_hi:
                return background, signal
        return None


@dataclass(frozen=True, slots=True)
class Rules:
    """The systematics rules of one analysis configuration.

    Attributes:
        ma_threshold: M_A' [GeV] at and above which the high-mass detector values apply.
        detector_background: Background ``syst_detector`` (below, above the threshold).
        detector_signal: Signal ``syst_detector`` (below, above the threshold).
        ceta_background: Background ``syst_ceta``.
        mass_resolution: Signal ``syst_mass_resolution`` vs M_A'.
        window_offset: Signal ``syst_window_offset`` vs M_A'.
        mc_statistics: Whether the MC statistical uncertainties are carried.
        measured: Measured macroregion values overriding ``syst_detector``, if any.
        table: The configuration table the rules came from (recorded in the index).
    """

    ma_threshold: float
    detector_background: tuple[float, float]
    detector_signal: tuple[float, float]
    ceta_background: float
    mass_resolution: Curve
    window_offset: Curve
    mc_statistics: bool = True
    measured: MeasuredDetector | None = None
    table: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_config(
        cls,
        cfg: Mapping[str, Any],
        *,
        measured: str | os.PathLike[str] | None = None,
    ) -> Rules:
        """The rules of a configuration's ``[systematics]`` table.

        Args:
            cfg: An analysis configuration (:func:`dhstat.config.load`).
            measured: A macroregion file overriding the configured source (``"measured"``);
                ``None`` uses the table's ``source`` and ``measured_file``.

        Raises:
            InputError: inconsistent curves, or a measured source without a readable file.

        Example:
            >>> from dhstat import config
            >>> Rules.from_config(config.load()).detector_signal
            (0.02, 0.091)
        """
        table = cfg["systematics"]
        source = str(getattr(cfg, "source", "<config>"))
        detector = table["detector"]
        path: str | os.PathLike[str] | None = measured
        if path is None and table["source"] == "measured":
            if not table["measured_file"]:
                raise InputError(
                    source,
                    "systematics.measured_file",
                    "a macroregion file when source = 'measured'",
                )
            path = table["measured_file"]
        shape = math.hypot(
            detector["background_above_normalisation"], detector["background_above_shape"]
        )
        return cls(
            ma_threshold=float(detector["ma_threshold_gev"]),
            detector_background=(float(detector["background_below"]), shape),
            detector_signal=(float(detector["signal_below"]), float(detector["signal_above"])),
            ceta_background=float(table["ceta"]["background"]),
            mass_resolution=_curve(table, "mass_resolution", source),
            window_offset=_curve(table, "window_offset", source),
            mc_statistics=bool(table["mc_statistics"]),
            measured=load_measured(path) if path is not None else None,
            table={**table, **_measured_record(path)},
        )


@dataclass(frozen=True, slots=True)
class WindowSystematics:
    """Relative uncertainties of one window, by parameter name.

    Attributes:
        signal: Relative uncertainties on the signal yield (histosys parameters).
        background: Relative uncertainties on every background sample (histosys parameters).
    """

    signal: Mapping[str, float]
    background: Mapping[str, float]


def _curve(table: Mapping[str, Any], key: str, source: str) -> Curve:
    nodes = tuple(float(x) for x in table[key]["ma_gev"])
    values = tuple(float(x) for x in table[key]["signal"])
    if len(nodes) != len(values):
        raise InputError(
            source,
            f"systematics.{key}.signal",
            f"as many values as systematics.{key}.ma_gev ({len(nodes)})",
            got=len(values),
        )
    if any(b <= a for a, b in itertools.pairwise(nodes)):
        raise InputError(source, f"systematics.{key}.ma_gev", "strictly increasing masses")
    return Curve(nodes, values)


def rules_from_config(
    cfg: Mapping[str, Any],
    *,
    measured: str | os.PathLike[str] | None = None,
) -> Rules:
    """The rules of a configuration's ``[systematics]`` table: :meth:`Rules.from_config`.

    Kept for one release: use :meth:`Rules.from_config` (the same arguments).
    """
    return Rules.from_config(cfg, measured=measured)


def _measured_record(path: str | os.PathLike[str] | None) -> dict[str, str]:
    """How the source is recorded in the index: file name and digest, not the local path."""
    if path is None:
        return {"source": "paper", "measured_file": ""}
    return {
        "source": "measured",
        "measured_file": Path(path).name,
        "measured_sha256": sha256_file(path),
    }


def evaluate(rules: Rules, ma: float, mh: float = 0.0) -> WindowSystematics:
    """The relative uncertainties of the window centred at (``ma``, ``mh``) [GeV].

    The MC statistical uncertainties are not included: they depend on the window's counts and are
    added by :func:`dhstat.workspace.build`.

    Example:
        >>> from dhstat import config
        >>> s = evaluate(rules_from_config(config.load()), ma=1.65)
        >>> sorted(s.signal), sorted(s.background)
        (['syst_detector', 'syst_mass_resolution', 'syst_window_offset'], ['syst_ceta', 'syst_detector'])
        >>> s.signal["syst_mass_resolution"], s.signal["syst_window_offset"]
        (0.01, 0.05)
    """
    above = int(ma >= rules.ma_threshold)
    background = rules.detector_background[above]
    signal = rules.detector_signal[above]
    if rules.measured is not None:
        found = rules.measured.lookup(ma, mh)
        if found is not None:
            background, signal = found
    return WindowSystematics(
        signal={
            DETECTOR: signal,
            MASS_RESOLUTION: rules.mass_resolution(ma),
            WINDOW_OFFSET: rules.window_offset(ma),
        },
        background={DETECTOR: background, CETA: rules.ceta_background},
    )


def _number(value: Any, source: Path, where: str, *, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(source, where, "a finite number", got=value)
    number = float(value)
    if number < 0 or (upper is not None and number >= upper):
        bound = f"[0, {upper})" if upper is not None else ">= 0"
        raise InputError(source, where, f"a number in {bound}", got=value)
    return number


def load_measured(path: str | os.PathLike[str]) -> MeasuredDetector:
    """Read the measured macroregion uncertainties written by ``dhstat select``.

    Each macroregion gives its mass ranges and the relative data/simulation discrepancy used as the
    ``syst_detector`` uncertainty on the background (``relative_uncertainty``) and, if present, on
    the signal (``signal_relative_uncertainty``; default: the background value, the paper's
    assumption).

    Raises:
        InputError: missing or malformed file (naming the region and the field).
    """
    source = Path(path)
    document = read_json(
        source, schema="macroregions" if "macroregions" in schemas.names() else None
    )
    regions = document.get("regions") if isinstance(document, dict) else None
    if not isinstance(regions, Sequence) or not regions:
        raise InputError(source, "regions", "a non-empty list of macroregions")
    parsed = []
    for index, region in enumerate(regions):
        where = f"regions[{index}]"
        if not isinstance(region, Mapping):
            raise InputError(source, where, "an object")
        try:
            ma_lo, ma_hi = region["ma_range"]
            mh_lo, mh_hi = region["mh_range"]
            background = region["relative_uncertainty"]
        except (KeyError, TypeError, ValueError):
            raise InputError(
                source, where, "ma_range [lo, hi], mh_range [lo, hi] and relative_uncertainty"
            ) from None
        background = _number(background, source, f"{where}.relative_uncertainty", upper=1.0)
        signal = _number(
            region.get("signal_relative_uncertainty", background),
            source,
            f"{where}.signal_relative_uncertainty",
            upper=1.0,
        )
        bounds = [
            _number(v, source, f"{where}.{k}")
            for k, v in (("ma_range", ma_lo), ("ma_range", ma_hi))
        ] + [
            _number(v, source, f"{where}.{k}")
            for k, v in (("mh_range", mh_lo), ("mh_range", mh_hi))
        ]
        parsed.append((*bounds, background, signal))
    return MeasuredDetector(str(source), tuple(parsed))  # type: ignore[arg-type]
