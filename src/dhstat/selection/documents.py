"""The selection's JSON documents: the cutflow and the data/MC comparison in macroregions.

``cutflow`` lists every process's cutflow (:meth:`~dhstat.selection.Cutflow.to_dict`).
``macroregions`` compares data with simulation in the paper's macroregions of
(M_mumu, signed M_recoil), per selected sample, and gives each region the relative background
uncertainty the workspaces use (:class:`MacroregionSettings`, from ``[selection.macroregions]``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhstat.processes import backgrounds_of
from dhstat.provenance import provenance, relative_path
from dhstat.selection.cutflow import SAMPLES
from dhstat.selection.files import SelectionOutput

__all__ = ["Macroregion", "MacroregionSettings", "cutflow_document", "macroregions_document"]

Float = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def cutflow_document(
    output: SelectionOutput, *, home: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The ``cutflow`` JSON document of a selection (validated when written).

    With ``home`` (the folder the document is written to) the input files are recorded relative to
    it, so that a run gives the same bytes in any directory; without, as given.

    Example:
        >>> from dhstat.selection.cutflow import Cutflow
        >>> doc = cutflow_document(SelectionOutput({}, {"mumu": Cutflow.empty()},
        ...     {"mumu": ("a.root",)}, "0" * 64, 8.34))
        >>> doc["processes"]["mumu"]["samples"]["search"][-1]["cut"]
        'pt_cm'
    """
    processes = {}
    for process, flow in output.cutflows.items():
        entry = flow.to_dict()
        entry["is_data"] = process == "data"
        files = output.files.get(process, ())
        entry["files"] = (
            [relative_path(f, home) for f in files] if home is not None else list(files)
        )
        processes[process] = entry
    return {
        "schema_version": "1.0.0",
        **provenance(),
        "config_digest": output.config_digest,
        "processes": processes,
    }


@dataclass(frozen=True, slots=True)
class Macroregion:
    """A rectangle of (M_mumu, signed M_recoil) [GeV], lower edges included.

    Attributes:
        name: Its name in the document.
        dominant: The background that dominates it.
        mmumu: ``(low, high)`` of M_mumu.
        mrecoil: ``(low, high)`` of the signed recoil mass ``sign(M^2) sqrt(|M^2|)``.
    """

    name: str
    dominant: str
    mmumu: tuple[float, float]
    mrecoil: tuple[float, float]


@dataclass(frozen=True, slots=True)
class MacroregionSettings:
    """The macroregions and how their uncertainty is chosen (``[selection.macroregions]``).

    Attributes:
        regions: The regions; an event belongs to the first one containing it.
        systematics_source: ``"paper"`` or ``"measured"``: the uncertainty the workspaces use.
        paper_boundary_mmumu: Regions starting at or above this M_mumu take the paper's "high"
            uncertainties.
        paper_uncertainty_low: The paper's background uncertainty below the boundary (also
            the signal's).
        paper_uncertainty_high: The paper's background uncertainty above it.
        paper_signal_uncertainty_high: The paper's signal uncertainty above it.
        measured_min_events: Data events a sample needs to enter the measured uncertainty.
    """

    regions: tuple[Macroregion, ...]
    systematics_source: str
    paper_boundary_mmumu: float
    paper_uncertainty_low: float
    paper_uncertainty_high: float
    paper_signal_uncertainty_high: float
    measured_min_events: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> MacroregionSettings:
        """The settings of a configuration's ``[selection.macroregions]`` table.

        Example:
            >>> from dhstat.config import load
            >>> MacroregionSettings.from_config(load()).regions[0].name
            'high_mmumu'
        """
        table = cfg["selection"]["macroregions"]
        regions = tuple(
            Macroregion(
                name=str(region["name"]),
                dominant=str(region["dominant"]),
                mmumu=(float(region["mmumu"][0]), float(region["mmumu"][1])),
                mrecoil=(float(region["mrecoil"][0]), float(region["mrecoil"][1])),
            )
            for region in table["regions"]
        )
        return cls(
            regions=regions,
            systematics_source=str(table["systematics_source"]),
            paper_boundary_mmumu=float(table["paper_boundary_mmumu"]),
            paper_uncertainty_low=float(table["paper_uncertainty_low"]),
            paper_uncertainty_high=float(table["paper_uncertainty_high"]),
            paper_signal_uncertainty_high=float(table["paper_signal_uncertainty_high"]),
            measured_min_events=int(table["measured_min_events"]),
        )


def _signed_mass(m2: Float) -> Float:
    return np.asarray(np.sign(m2) * np.sqrt(np.abs(m2)), dtype=np.float64)


def _owners(
    samples: Mapping[str, Mapping[str, NDArray[Any]]], regions: tuple[Macroregion, ...]
) -> dict[str, NDArray[np.int64]]:
    """Per sample and event, the index of the first region containing it (-1: none)."""
    owner: dict[str, NDArray[np.int64]] = {}
    for s in SAMPLES:
        columns = samples[s]
        mm = _signed_mass(np.asarray(columns["mmumu2"], dtype=np.float64))
        mr = _signed_mass(np.asarray(columns["mrecoil2"], dtype=np.float64))
        which = np.full(len(mm), -1, dtype=np.int64)
        for k, region in enumerate(regions):
            lo_a, hi_a = region.mmumu
            lo_h, hi_h = region.mrecoil
            inside = (which < 0) & (mm >= lo_a) & (mm < hi_a) & (mr >= lo_h) & (mr < hi_h)
            which[inside] = k
        owner[s] = which
    return owner


def _sample_entry(
    columns: Mapping[str, NDArray[Any]],
    inside: NDArray[np.bool_],
    cutflows: Mapping[str, Any],
    processes: Sequence[str],
) -> dict[str, Any]:
    """Data count, simulated yields with MC statistical errors and data/MC in one region."""
    process = np.asarray(columns["process"])
    weight = np.asarray(columns["weight"], dtype=np.float64)
    n_data = int(np.count_nonzero(inside & (process == processes.index("data"))))
    mc: dict[str, dict[str, float]] = {}
    for name in backgrounds_of(processes):
        mask = inside & (process == processes.index(name))
        if np.any(mask) or name in cutflows:
            mc[name] = {
                "yield": math.fsum(weight[mask]),
                "stat_error": math.sqrt(math.fsum(weight[mask] ** 2)),
            }
    total = math.fsum(v["yield"] for v in mc.values())
    error = math.sqrt(math.fsum(v["stat_error"] ** 2 for v in mc.values()))
    ratio = ratio_error = None
    if n_data > 0 and total > 0:
        ratio = n_data / total
        ratio_error = ratio * math.sqrt(1.0 / n_data + (error / total) ** 2)
    return {
        "data": n_data,
        "mc": mc,
        "mc_total": total,
        "mc_stat_error": error,
        "ratio": ratio,
        "ratio_error": ratio_error,
    }


def _region_entry(
    region: Macroregion, samples: dict[str, Any], settings: MacroregionSettings
) -> dict[str, Any]:
    """One region of the document: its samples and its uncertainty, measured or the paper's."""
    deviations = [
        abs(entry["ratio"] - 1.0)
        for entry in samples.values()
        if entry["ratio"] is not None and entry["data"] >= settings.measured_min_events
    ]
    high = region.mmumu[0] >= settings.paper_boundary_mmumu
    paper_b = settings.paper_uncertainty_high if high else settings.paper_uncertainty_low
    paper_s = settings.paper_signal_uncertainty_high if high else settings.paper_uncertainty_low
    measured = max(deviations) if deviations else None
    use_measured = settings.systematics_source == "measured" and measured is not None
    return {
        "name": region.name,
        "dominant": region.dominant,
        "ma_range": list(region.mmumu),
        "mh_range": list(region.mrecoil),
        "samples": samples,
        "measured_uncertainty": measured,
        "paper_uncertainty": paper_b,
        "relative_uncertainty": measured if use_measured else paper_b,
        "signal_relative_uncertainty": measured if use_measured else paper_s,
        "uncertainty_source": "measured" if use_measured else "paper",
    }


def macroregions_document(
    output: SelectionOutput, cfg: MacroregionSettings | Mapping[str, Any]
) -> dict[str, Any]:
    """Data/MC yields per macroregion and sample, and the uncertainty per region (``macroregions``).

    Each event belongs to the first configured region containing (M_mumu, signed M_recoil).
    Per region: data count, simulated yield per process with MC statistical error, the ratio
    data/MC with its error, ``measured_uncertainty`` = largest ``|ratio - 1|`` over the samples
    with at least ``measured_min_events`` data events, the paper's value, and the value the
    workspaces use (``systematics_source``; "measured" falls back to the paper's value in a
    region without enough data).

    Args:
        output: The selection.
        cfg: The macroregion settings, or the analysis configuration to read them from.

    Example:
        >>> from dhstat import config
        >>> from dhstat.selection.variables import VARIABLES
        >>> empty = {s: {v: np.zeros(0) for v in VARIABLES} | {"process": np.zeros(0, np.int32)}
        ...          for s in SAMPLES}
        >>> doc = macroregions_document(SelectionOutput(empty, {}, {}, "0" * 64, 8.34),
        ...                             config.load())
        >>> [r["relative_uncertainty"] for r in doc["regions"]][:2]
        [0.13, 0.02]
    """
    settings = cfg if isinstance(cfg, MacroregionSettings) else MacroregionSettings.from_config(cfg)
    owner = _owners(output.samples, settings.regions)
    regions = []
    for k, region in enumerate(settings.regions):
        samples = {
            s: _sample_entry(output.samples[s], owner[s] == k, output.cutflows, output.processes)
            for s in SAMPLES
        }
        regions.append(_region_entry(region, samples, settings))
    return {
        "schema_version": "1.0.0",
        **provenance(),
        "config_digest": output.config_digest,
        "systematics_source": settings.systematics_source,
        "luminosity_fb": output.luminosity_fb,
        "regions": regions,
    }
