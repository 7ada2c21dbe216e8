"""Checks of a pyhf workspace document beyond pyhf's schema, and reading one from a file.

:func:`check_spec` is what every generic entry point (limits, significances, toys) runs first,
so that bad input is one line naming the file and the field, before any model is built.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dhstat.errors import InputError
from dhstat.jsonio import read_text
from dhstat.stats.parameters import MAX_COUNT

__all__ = ["check_spec", "load_spec", "quiet_pyhf"]


def __dir__() -> list[str]:
    return __all__


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
        parameters = config.get("parameters") if isinstance(config, dict) else None
        for j, parameter in enumerate(_items(parameters)):
            # pyhf's schema does not bound the pairs' length
            bounds = parameter.get("bounds")
            for k, pair in enumerate(bounds if isinstance(bounds, list) else []):
                if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_float, pair))):
                    where = f"measurements[{i}].config.parameters[{j}].bounds[{k}]"
                    raise InputError(source, where, "a pair [lower, upper] of numbers", got=pair)


def _is_float(value: Any) -> bool:
    """A JSON number that is a finite float (a 400-digit integer is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


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
