"""Single-bin window workspaces (pyhf JSON): write one (:func:`window_spec`), read one into numbers.

:func:`parse_window_spec` checks that a workspace is of the window form that the vectorised path
supports (one channel with one bin; modifiers: the POI ``normfactor``, symmetric ``histosys`` and
one ``staterror`` on background samples) and returns the numbers of the window model of
:class:`dhstat.stats.model.WindowSet`: observed count, nominal signal s0, staterror background g0,
other background h0, histosys shifts of (S, G, H), staterror width delta and the POI bound.

Example:
    >>> numbers = parse_window_spec(
    ...     window_spec(n=3, signal=1.5, backgrounds={"mumu": 2.0}, stat_errors={"mumu": 0.2}),
    ...     "example", None)
    >>> numbers["n"], numbers["s0"], numbers["g0"], numbers["h0"], round(numbers["delta"], 12)
    (3, 1.5, 2.0, 0.0, 0.1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.errors import InputError
from dhstat.stats.parameters import MAX_COUNT

__all__ = ["parse_window_spec", "window_spec"]


def __dir__() -> list[str]:
    return __all__


_SYM_TOL = 1e-9


def _number(value: Any, source: str, where: str, *, minimum: float | None = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):  # JSON numbers only
        raise InputError(source, where, "a number", got=value)
    try:
        number = float(value)
    except OverflowError:
        raise InputError(source, where, "a finite number", got=value) from None
    if not math.isfinite(number):
        raise InputError(source, where, "a finite number", got=value)
    if minimum is not None and number < minimum:
        raise InputError(source, where, f"a number >= {minimum}", got=value)
    return number


def _one(values: Any, source: str, where: str) -> float:
    if not isinstance(values, list) or len(values) != 1:
        raise InputError(source, where, "a list with one bin", got=values)
    return _number(values[0], source, f"{where}[0]", minimum=None)


@dataclass(slots=True)
class _Sums:
    """What the samples of one window add up to, filled sample by sample."""

    s0: float = 0.0
    g0: float = 0.0
    h0: float = 0.0
    shifts: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    stat_sq: float = 0.0
    stat_names: set[str] = field(default_factory=set)
    has_poi: bool = False


def parse_window_spec(
    spec: Mapping[str, Any], source: str, default_max: float | None
) -> dict[str, Any]:
    """One window spec -> the numbers of the WindowSet model.

    Args:
        spec: A pyhf workspace document with one channel of one bin.
        source: Name for error messages.
        default_max: POI upper bound when the spec sets none (None: error).

    Returns:
        ``{"n", "s0", "g0", "h0", "shifts", "delta", "sigma_max", "poi"}`` (``shifts``: the +1 sd
        shift of (S, G, H) per histosys parameter).

    Raises:
        InputError: the spec is not a single-bin window workspace of the supported form.
    """
    if not isinstance(spec, Mapping):
        raise InputError(source, "(top level)", "a pyhf workspace object")
    try:
        parsed = _parse(spec, source, default_max)
    except InputError:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
        expected = "a single-bin window workspace of the form dhstat writes"
        raise InputError(
            source, "(structure)", f"{expected} ({type(error).__name__}: {error})"
        ) from None
    if parsed["n"] > MAX_COUNT:
        raise InputError(
            source, "observations[0].data[0]", f"a count <= {MAX_COUNT:g}", got=parsed["n"]
        )
    return parsed


def _parse(spec: Mapping[str, Any], source: str, default_max: float | None) -> dict[str, Any]:
    channel, count = _observed(spec, source)
    poi, upper = _poi_bound(spec, source, default_max)
    sums = _Sums()
    for k, sample in enumerate(channel.get("samples", [])):
        _add_sample(sums, sample, f"channels[0].samples[{k}]", poi, source)
    if not sums.has_poi:
        raise InputError(source, "channels[0].samples", f"a sample with the normfactor {poi!r}")
    if len(sums.stat_names) > 1:
        raise InputError(
            source, "staterror", "one staterror parameter", got=sorted(sums.stat_names)
        )
    delta = math.sqrt(sums.stat_sq) / sums.g0 if sums.g0 > 0 else 0.0
    return {
        "n": int(count),
        "s0": sums.s0,
        "g0": sums.g0,
        "h0": sums.h0,
        "shifts": sums.shifts,
        "delta": delta,
        "sigma_max": upper,
        "poi": poi,
    }


def _observed(spec: Mapping[str, Any], source: str) -> tuple[Any, float]:
    """The one channel and its observed count."""
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
    return channel, count


def _poi_bound(
    spec: Mapping[str, Any], source: str, default_max: float | None
) -> tuple[str, float]:
    """The POI name and its upper bound (no fixed parameters allowed)."""
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
    return poi, upper


def _add_sample(sums: _Sums, sample: Any, where: str, poi: str, source: str) -> None:
    """Add one sample's nominal yield to s0, g0 or h0, and its modifiers."""
    nominal = _one(sample.get("data"), source, f"{where}.data")
    if nominal < 0:
        raise InputError(source, f"{where}.data[0]", "a non-negative yield", got=nominal)
    modifiers = sample.get("modifiers", [])
    types = {m.get("type") for m in modifiers}
    is_signal = any(m.get("type") == "normfactor" and m.get("name") == poi for m in modifiers)
    sums.has_poi = sums.has_poi or is_signal
    group = 0 if is_signal else (1 if "staterror" in types else 2)
    if group == 0:
        sums.s0 += nominal
    elif group == 1:
        sums.g0 += nominal
    else:
        sums.h0 += nominal
    for j, modifier in enumerate(modifiers):
        _add_modifier(sums, modifier, f"{where}.modifiers[{j}]", group, nominal, poi, source)


def _add_modifier(
    sums: _Sums, modifier: Any, mwhere: str, group: int, nominal: float, poi: str, source: str
) -> None:
    """Add one modifier of a sample of group ``group`` (0: S, 1: G, 2: H); reject others."""
    kind, name = modifier.get("type"), modifier.get("name")
    if kind == "normfactor" and name == poi:
        return
    if kind == "histosys":
        hi = _one(modifier["data"].get("hi_data"), source, f"{mwhere}.data.hi_data")
        lo = _one(modifier["data"].get("lo_data"), source, f"{mwhere}.data.lo_data")
        up, down = hi - nominal, nominal - lo
        if abs(up - down) > _SYM_TOL * max(abs(nominal), abs(up), 1e-300):
            raise InputError(source, mwhere, "a symmetric histosys (hi - nominal = nominal - lo)")
        vector = sums.shifts.setdefault(str(name), np.zeros(3))
        vector[group] += up
    elif kind == "staterror" and group != 0:
        error = _number(modifier.get("data", [None])[0], source, f"{mwhere}.data[0]")
        sums.stat_sq += error * error
        sums.stat_names.add(str(name))
    else:
        raise InputError(
            source,
            mwhere,
            "a window modifier (POI normfactor, symmetric histosys, background staterror);"
            " use the generic path for other models",
            got=f"{kind} {name}",
        )


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
