"""Building window workspaces: one window's pyhf workspace, and a validated set with its index.

The structure of a window workspace (samples, modifiers, the zero-background rule) is described in
the :mod:`dhstat.workspace` package docstring; the systematics in :mod:`dhstat.systematics`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dhstat import systematics
from dhstat.errors import InputError
from dhstat.provenance import provenance
from dhstat.schemas import SCHEMA_VERSION
from dhstat.workspace.layout import CHANNEL, MEASUREMENT, SIGNAL, file_name, to_text
from dhstat.workspace.records import WindowInput, WorkspaceSet
from dhstat.workspace.validation import validate

__all__ = ["build", "build_set", "empty_background_error"]


def __dir__() -> list[str]:
    return __all__


def _histosys(name: str, nominal: float, relative: float) -> dict[str, Any]:
    return {
        "name": name,
        "type": "histosys",
        "data": {"hi_data": [nominal * (1.0 + relative)], "lo_data": [nominal * (1.0 - relative)]},
    }


def build(
    window: WindowInput,
    uncertainties: systematics.WindowSystematics,
    *,
    luminosity_fb: float,
    sigma_max: float,
    mc_statistics: bool = True,
    empty_background_error: float = 0.0,
) -> dict[str, Any]:
    """The pyhf workspace of one window (a plain dict, see :mod:`dhstat.workspace`).

    Args:
        window: The window's counts and geometry.
        uncertainties: Its relative systematic uncertainties (:func:`dhstat.systematics.evaluate`).
        luminosity_fb: Integrated luminosity L [fb^-1]: the signal nominal is efficiency * L.
        sigma_max: Upper bound of the POI ``sigma`` [fb].
        mc_statistics: Add ``mcstat_signal`` and ``mcstat_background``.
        empty_background_error: The weight w [events] of one MC event: a window without any
            simulated background event gets a background of w +- w (see
            :mod:`dhstat.workspace`); 0 leaves such a window with a zero background.

    Example:
        >>> w = WindowInput(1, 5.0, 2.0, (4.0, 25.0), (0.5, 0.05), 0.0, 0.9, 0,
        ...                 {"mumu": (1.0, 0.1)}, 0.1, 0.0)
        >>> s = systematics.WindowSystematics({"syst_detector": 0.02}, {"syst_detector": 0.02})
        >>> spec = build(w, s, luminosity_fb=10.0, sigma_max=50.0)
        >>> spec["channels"][0]["samples"][1]["modifiers"][0]["data"]
        {'hi_data': [1.02], 'lo_data': [0.98]}
        >>> spec["measurements"][0]["config"]["parameters"]
        [{'name': 'sigma', 'bounds': [[0.0, 50.0]], 'inits': [1.0]}]
    """
    signal_nominal = window.efficiency * luminosity_fb
    signal_modifiers: list[dict[str, Any]] = [
        {"name": systematics.POI, "type": "normfactor", "data": None}
    ]
    signal_modifiers += [
        _histosys(name, signal_nominal, relative) for name, relative in uncertainties.signal.items()
    ]
    if mc_statistics:
        relative = window.efficiency_error / window.efficiency if window.efficiency > 0 else 0.0
        signal_modifiers.append(_histosys(systematics.MCSTAT_SIGNAL, signal_nominal, relative))
    samples = [{"name": SIGNAL, "data": [signal_nominal], "modifiers": signal_modifiers}]
    processes = list(window.background)  # the run's process order (read_inputs)
    total = sum(window.background[name][0] for name in processes)
    total_error = sum(window.background[name][1] for name in processes)
    staterror = mc_statistics and total > 0 and total_error > 0
    empty = mc_statistics and total == 0 and empty_background_error > 0 and bool(processes)
    for name in processes:
        value, error = window.background[name]
        floor = empty and name == processes[0]
        if floor:
            value = empty_background_error
        modifiers = [
            _histosys(parameter, value, relative)
            for parameter, relative in uncertainties.background.items()
        ]
        if staterror:
            modifiers.append(
                {"name": systematics.MCSTAT_BACKGROUND, "type": "staterror", "data": [error]}
            )
        elif floor:
            modifiers.append(_histosys(systematics.MCSTAT_BACKGROUND, value, 1.0))
        samples.append({"name": name, "data": [value], "modifiers": modifiers})
    init = 1.0 if sigma_max > 2.0 else sigma_max / 2.0
    parameter = {"name": systematics.POI, "bounds": [[0.0, float(sigma_max)]], "inits": [init]}
    return {
        "channels": [{"name": CHANNEL, "samples": samples}],
        "observations": [{"name": CHANNEL, "data": [window.n_observed]}],
        "measurements": [
            {"name": MEASUREMENT, "config": {"poi": systematics.POI, "parameters": [parameter]}}
        ],
        "version": "1.0.0",
    }


def _parameters(rules: systematics.Rules) -> list[dict[str, str]]:
    skip = (
        set() if rules.mc_statistics else {systematics.MCSTAT_SIGNAL, systematics.MCSTAT_BACKGROUND}
    )
    return [
        {"name": m.name, "type": m.kind, "samples": m.samples, "meaning": m.meaning}
        for m in systematics.CATALOGUE
        if m.name not in skip
    ]


def empty_background_error(windows: Sequence[WindowInput]) -> float:
    """The MC-statistics uncertainty [events] given to windows without simulated background.

    It is the largest mean MC event weight of the background processes, sum w^2 / sum w over
    all windows (the yield of one MC event), 0 if no window has any background.

    Example:
        >>> w = WindowInput(1, 5.0, 2.0, (4.0, 25.0), (0.5, 0.05), 0.0, 0.9, 0,
        ...                 {"mumu": (2.0, 0.2 ** 0.5), "tautau": (0.0, 0.0)}, 0.1, 0.0)
        >>> round(empty_background_error([w]), 12)
        0.1
    """
    yields: dict[str, float] = {}
    squares: dict[str, float] = {}
    for window in windows:
        for name, (value, error) in window.background.items():
            yields[name] = yields.get(name, 0.0) + value
            squares[name] = squares.get(name, 0.0) + error**2
    weights = [squares[name] / yields[name] for name in yields if yields[name] > 0]
    return max(weights, default=0.0)


def build_set(
    windows: Sequence[WindowInput],
    rules: systematics.Rules,
    *,
    luminosity_fb: float,
    sigma_max: float,
    provenance: Mapping[str, Any],
    progress: Callable[[int], None] | None = None,
) -> WorkspaceSet:
    """Build and validate the workspaces of all windows and their index.

    Args:
        windows: The windows (see :func:`dhstat.workspace.read_inputs`), ids unique.
        rules: The systematics rules (:meth:`dhstat.systematics.Rules.from_config`).
        luminosity_fb: Integrated luminosity [fb^-1].
        sigma_max: Upper bound of the POI [fb].
        provenance: ``config_digest``, ``seed`` and the SHA-256 of the inputs (``counts_sha256``,
            ``windows_sha256``, may be ``None``); the dhstat and pyhf versions are added.
        progress: Called with the number of newly built windows.

    Raises:
        InputError: a duplicate window id or a workspace that fails validation. (The index is
            validated against its schema when it is written.)
    """
    entries = []
    workspaces = []
    texts = []
    seen: set[int] = set()
    empty_error = empty_background_error(windows)
    for count, window in enumerate(windows, start=1):
        if window.id in seen:
            where = "<windows>"
            raise InputError(where, f"window {window.id}", "unique window ids (duplicate)")
        seen.add(window.id)
        spec = build(
            window,
            systematics.evaluate(rules, window.ma, window.mh),
            luminosity_fb=luminosity_fb,
            sigma_max=sigma_max,
            mc_statistics=rules.mc_statistics,
            empty_background_error=empty_error,
        )
        validate(spec, source=f"<workspace of window {window.id}>")
        text = to_text(spec)
        workspaces.append(spec)
        texts.append(text)
        entries.append(_index_entry(window, text))
        if progress is not None and count % 256 == 0:
            progress(256)
    if progress is not None and len(windows) % 256:
        progress(len(windows) % 256)
    index = _index(
        entries, rules, luminosity_fb=luminosity_fb, sigma_max=sigma_max, recorded=provenance
    )
    return WorkspaceSet(index=index, workspaces=tuple(workspaces), texts=tuple(texts))


def _index_entry(window: WindowInput, text: str) -> dict[str, Any]:
    """The index entry of one window: its geometry, file name and the SHA-256 of ``text``."""
    return {
        "id": window.id,
        "ma": window.ma,
        "mh": window.mh,
        "center": list(window.center),
        "axes": list(window.axes),
        "angle": window.angle,
        "ceta_cut": window.ceta_cut,
        "file": file_name(window.id),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }


def _index(
    entries: list[dict[str, Any]],
    rules: systematics.Rules,
    *,
    luminosity_fb: float,
    sigma_max: float,
    recorded: Mapping[str, Any],
) -> dict[str, Any]:
    """The index document (schema ``workspace-index``) of a set with these window entries.

    ``recorded`` is :func:`build_set`'s ``provenance``; the dhstat and pyhf versions are added.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "channel": CHANNEL,
        "measurement": MEASUREMENT,
        "poi": systematics.POI,
        "poi_bounds_fb": [0.0, float(sigma_max)],
        "luminosity_fb": float(luminosity_fb),
        "parameters": _parameters(rules),
        "systematics": _jsonable(rules.table),
        "provenance": provenance(
            pyhf=True,
            config_digest=recorded.get("config_digest"),
            seed=recorded.get("seed"),
            counts_sha256=recorded.get("counts_sha256"),
            windows_sha256=recorded.get("windows_sha256"),
        ),
        "windows": entries,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
