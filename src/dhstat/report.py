"""The report of a run: a summary compared with the paper, the figures and a Markdown report.

:func:`collect` reads a run directory's stage files into one per-window table (:class:`RunTables`);
:func:`summarize` condenses it into the numbers the paper quotes (:class:`Summary`);
:func:`make_figures` draws every figure of :mod:`dhstat.plots` and :func:`write_report` writes
``report.md`` with the tables and links to the figures. Everything tolerates a partial run: what is
missing is left out (``None`` in the summary).

Example:
    >>> s = Summary(n_windows=9003)
    >>> "9003" in format_summary(s)
    True
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from dhstat.jsonio import atomic_path, read_json

if TYPE_CHECKING:
    from dhstat.config import Config
    from dhstat.pipeline import RunResult

__all__ = [
    "FILES",
    "PAPER",
    "RunTables",
    "Summary",
    "collect",
    "format_summary",
    "format_timings",
    "make_figures",
    "summarize",
    "write_report",
]

log = logging.getLogger(__name__)

#: Stage files of a run directory, relative to it.
FILES = {
    "ntuples": "ntuples",
    "selected": "selected.root",
    "cutflow": "cutflow.json",
    "windows": "windows.json",
    "counts": "counts.json",
    "workspaces": "workspaces",
    "scan": "results.json",
    "lee": "lee.json",
    "couplings": "couplings.json",
    "figures": "figures",
    "report": "report.md",
}

#: The paper's numbers (PRL 130, 071804), for the comparison in the summary.
PAPER: Mapping[str, Any] = {
    "n_selected": 28985,
    "fractions": {"mumu": 0.785, "tautau": 0.185, "eemumu": 0.03},
    "n_windows": 9003,
    "max_z": 3.7,
    "max_bayes_factor": 45.6,
    "max_z_mmumu": 5.44,
    "max_z_mrecoil": 3.18,
    "global_z": "< 1",
    "sigma_ul_fb": (1.7, 5.0),
    "coupling_ul": (1.7e-8, 2.0e-6),
    "ma_range": (4.0, 9.7),
}

Array = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class RunTables:
    """Per-window columns (aligned by window) and run-level documents of a run directory.

    Attributes:
        columns: Column name -> array over windows. Names (when present): ``id``, ``ma``, ``mh``
            [GeV], ``n_observed``, ``background``, ``background_error``, ``efficiency``, ``z``,
            ``p_value``, ``bayes_factor``, ``sigma_ul`` [fb], ``coupling_ul``; per-process
            backgrounds as ``background_<process>``.
        documents: The stage documents that were found, by stage name (``"windows"``, ...).
    """

    columns: Mapping[str, Array] = field(default_factory=dict)
    documents: Mapping[str, Any] = field(default_factory=dict)

    def has(self, *names: str) -> bool:
        """Whether all the named columns are present."""
        return all(name in self.columns for name in names)


@dataclass(frozen=True, slots=True)
class Summary:
    """The numbers of a run that the paper quotes (``None``: that stage has not run).

    Attributes:
        n_selected: Selected data events (all cuts before the windows).
        n_in_windows: Data events inside at least one window after its C_eta cut: what the paper
            calls "pass all the selection criteria" (28 985).
        window_counts: Sum of the window counts (an event counts in every window it falls in).
        expected: Expected background events per process (MC, scaled to the luminosity): inside
            the windows (after their C_eta cuts) when the counts exist, else after the selection.
        n_windows: Search windows.
        max_z: Largest local significance, with its ``bayes_factor``, ``ma`` and ``mh`` [GeV].
        max_bayes_factor: Bayes factor of the window with the largest Z.
        max_z_ma: M_A' (= M_mumu) of that window [GeV].
        max_z_mh: M_h' (= M_recoil) of that window [GeV].
        global_z: Global significance from the look-elsewhere toys.
        global_p: Global p-value.
        sigma_ul_range: (min, max) upper limit on sigma [fb] for M_A' in ``ma_range``.
        coupling_ul_range: (min, max) upper limit on eps^2 alpha_D for M_A' in ``ma_range``.
        ma_range: The M_A' interval of the limit ranges [GeV].
    """

    n_selected: int | None = None
    n_in_windows: int | None = None
    window_counts: int | None = None
    expected: Mapping[str, float] | None = None
    n_windows: int | None = None
    max_z: float | None = None
    max_bayes_factor: float | None = None
    max_z_ma: float | None = None
    max_z_mh: float | None = None
    global_z: float | None = None
    global_p: float | None = None
    sigma_ul_range: tuple[float, float] | None = None
    coupling_ul_range: tuple[float, float] | None = None
    ma_range: tuple[float, float] = (4.0, 9.7)


# --------------------------------------------------------------------------------------------
# reading a run directory


def _read(outdir: Path, stage: str, schema: str | None) -> Any:
    path = outdir / FILES[stage]
    if not path.is_file():
        return None
    return read_json(path, schema=schema)


def _columns(block: Any) -> dict[str, Any]:
    """A per-window block as columns, whether it is stored as columns or as a list of rows."""
    if isinstance(block, Mapping):
        return dict(block)
    keys = {key for row in block for key in row}
    return {key: [row.get(key) for row in block] for key in keys}


def _first(node: Any, *keys: str) -> Any:
    """The value at the first of the dotted ``keys`` present in ``node`` (None if none is)."""
    for key in keys:
        current: Any = node
        for part in key.split("."):
            if not isinstance(current, Mapping) or part not in current:
                break
            current = current[part]
        else:
            return current
    return None


def _aligned(ids: NDArray[np.int64], block: Mapping[str, Any], keys: Sequence[str]) -> Array | None:
    """Column ``keys[0]`` (or the first present) of ``block``, reordered to the window ``ids``."""
    values = _first(block, *keys)
    if values is None or "id" not in block:
        return None
    try:
        column = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    position = {str(i): k for k, i in enumerate(block["id"])}
    if column.ndim != 1 or any(str(int(i)) not in position for i in ids):
        return None
    return column[[position[str(int(i))] for i in ids]]


def collect(outdir: str | Path) -> RunTables:
    """Read the stage files of the run directory ``outdir`` into aligned per-window columns.

    Columns are aligned with the windows of ``windows.json`` (else of ``counts.json``, else of
    ``results.json``).
    """
    from dhstat import counting, windows

    root = Path(outdir)
    docs: dict[str, Any] = {}
    for stage, schema in (
        ("cutflow", "cutflow"),
        ("scan", "scan"),
        ("lee", "lee"),
        ("couplings", "couplings"),
    ):
        document = _read(root, stage, schema)
        if document is not None:
            docs[stage] = document
    columns: dict[str, Array] = {}
    ids: NDArray[np.int64] | None = None
    if (root / FILES["windows"]).is_file():
        search = windows.load(root / FILES["windows"])
        docs["windows"] = search
        ids = search.ids
        columns |= {
            "ma": search.ma,
            "mh": search.mh,
            "efficiency": search.efficiency,
            "ceta_cut": search.ceta_cut,
        }
    if (root / FILES["counts"]).is_file():
        counts = counting.load(root / FILES["counts"])
        docs["counts"] = counts
        order = np.arange(len(counts))
        if ids is None:
            ids = counts.ids
        else:
            position = {int(i): k for k, i in enumerate(counts.ids)}
            order = np.asarray([position[int(i)] for i in ids], dtype=np.int64)
        columns["n_observed"] = counts.n_observed[order].astype(np.float64)
        columns["efficiency"] = counts.efficiency[order]
        columns["background"] = counts.background_total[order]
        for k, process in enumerate(counts.processes):
            columns[f"background_{process}"] = counts.background[order, k]
            columns[f"background_{process}_error"] = counts.stat_error[order, k]
    scan = _columns(docs["scan"]["windows"]) if "scan" in docs else None
    couplings = _columns(docs["couplings"]["windows"]) if "couplings" in docs else None
    if ids is None:
        for block in (scan, couplings):
            if block is not None and "id" in block:
                ids = np.asarray(block["id"], dtype=np.int64)
                break
    if ids is None:
        return RunTables({}, docs)
    columns["id"] = ids.astype(np.float64)
    wanted = {
        "ma": (scan, ("ma",)),
        "mh": (scan, ("mh",)),
        "z": (scan, ("z",)),
        "p_value": (scan, ("p_value",)),
        "bayes_factor": (scan, ("bayes_factor",)),
        "sigma_ul": (scan, ("upper_limit_flat",)),
        "sigma_ul_log": (scan, ("upper_limit_log",)),
        "coupling_ul": (couplings, ("eps2_alpha_d_ul",)),
    }
    for name, (block, keys) in wanted.items():
        if block is None or name in columns:
            continue
        column = _aligned(ids, block, keys)
        if column is not None:
            columns[name] = column
    if "z" in columns and "p_value" in columns:
        # the scan writes null for an infinite Z (p = 0) and an infinite Bayes factor
        missing = np.isnan(columns["z"])
        columns["z"] = np.where(missing & (columns["p_value"] <= 0), np.inf, columns["z"])
        columns["z"] = np.where(missing & (columns["p_value"] >= 1), -np.inf, columns["z"])
        if "bayes_factor" in columns:
            columns["bayes_factor"] = np.where(
                np.isnan(columns["bayes_factor"]) & (columns["p_value"] == 0),
                np.inf,
                columns["bayes_factor"],
            )
    if couplings is not None and "sigma_ul" not in columns:
        column = _aligned(ids, couplings, ("sigma_ul", "sigma_ul_fb"))
        if column is not None:
            columns["sigma_ul"] = column
    return RunTables(columns, docs)


def _selected_events(cutflow: Mapping[str, Any] | None) -> tuple[int | None, dict[str, float]]:
    if cutflow is None:
        return None, {}
    processes = cutflow.get("processes", {})
    expected: dict[str, float] = {}
    n_data: int | None = None
    for name in _ordered(processes):
        flow = processes[name]
        last = flow["samples"]["search"][-1]
        if name == "data":
            n_data = int(last["raw"])
        elif name != "signal":
            expected[name] = float(last["weighted"])
    return n_data, expected


def summarize(outdir: str | Path, cfg: Config) -> Summary:
    """The paper's headline numbers for the run in ``outdir`` (``None`` where a stage is missing)."""
    tables = collect(outdir)
    cols = tables.columns
    ma_range = tuple(float(v) for v in cfg["report"]["summary_ma_range"])
    n_selected, expected = _selected_events(tables.documents.get("cutflow"))
    values: dict[str, Any] = {
        "n_selected": n_selected,
        "expected": expected or None,
        "ma_range": ma_range,
    }
    if "id" in cols:
        values["n_windows"] = len(cols["id"])
    counts = tables.documents.get("counts")
    if counts is not None:
        values["n_in_windows"] = int(np.sum(counts.cell_n_observed))
        values["window_counts"] = int(np.sum(counts.n_observed))
        # Like the paper's 28 486 +- 331: the expectation for the events inside the windows.
        in_windows = np.sum(counts.cell_background, axis=0)
        values["expected"] = {
            p: float(v) for p, v in zip(counts.processes, in_windows, strict=True)
        }
    if tables.has("z", "ma", "mh") and np.any(~np.isnan(cols["z"])):
        best = int(np.nanargmax(cols["z"]))
        values["max_z"] = float(cols["z"][best])
        values["max_z_ma"] = float(cols["ma"][best])
        values["max_z_mh"] = float(cols["mh"][best])
        if "bayes_factor" in cols:
            values["max_bayes_factor"] = float(cols["bayes_factor"][best])
    lee = tables.documents.get("lee")
    if lee is not None:
        values["global_z"] = _first(lee, "z_global")
        values["global_p"] = _first(lee, "p_global")
    if tables.has("ma", "mh"):
        inside = (cols["ma"] > ma_range[0]) & (cols["ma"] < ma_range[1]) & (cols["mh"] < cols["ma"])
        for name, key in (("sigma_ul", "sigma_ul_range"), ("coupling_ul", "coupling_ul_range")):
            if name in cols:
                sel = cols[name][inside]
                sel = sel[np.isfinite(sel)]
                if sel.size:
                    values[key] = (float(sel.min()), float(sel.max()))
    return Summary(**values)


# --------------------------------------------------------------------------------------------
# text output


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_summary(summary: Summary) -> str:
    """The summary as an aligned text table, each line with the paper's value for comparison."""
    rows: list[tuple[str, str, str]] = []
    rows.append(("selected data events (before windows)", _fmt(summary.n_selected, "d"), "-"))
    rows.append(("data events in windows (C_eta cut)", _fmt(summary.n_in_windows, "d"), "28985"))
    per_event = "-"
    if summary.window_counts is not None and summary.n_in_windows:
        per_event = f"{summary.window_counts} ({summary.window_counts / summary.n_in_windows:.2f})"
    rows.append(("window counts (per event)", per_event, "78740 (2.72)"))
    if summary.expected:
        total = sum(summary.expected.values())
        rows.append(("expected background (same events)", f"{total:.1f}", "28486 +- 331"))
        for process, value in summary.expected.items():
            share = value / total if total > 0 else 0.0
            paper = PAPER["fractions"].get(process)
            ref = f"{100 * paper:.1f} %" if paper is not None else "-"
            rows.append((f"  {process}", f"{value:.1f} ({100 * share:.1f} %)", ref))
    rows.append(("search windows", _fmt(summary.n_windows, "d"), "9003"))
    rows.append(("largest local Z [sigma]", _fmt(summary.max_z, ".2f"), "3.7"))
    rows.append(("  its Bayes factor", _fmt(summary.max_bayes_factor, ".1f"), "45.6"))
    rows.append(("  its M_mumu [GeV]", _fmt(summary.max_z_ma, ".3f"), "5.44"))
    rows.append(("  its M_recoil [GeV]", _fmt(summary.max_z_mh, ".3f"), "3.18"))
    glob = _fmt(summary.global_z, ".2f")
    if summary.global_p is not None:
        glob += f" (p = {summary.global_p:.3g})"
    rows.append(("global Z [sigma]", glob, "< 1"))
    lo, hi = summary.ma_range
    sigma = summary.sigma_ul_range
    coupling = summary.coupling_ul_range
    rows.append(
        (
            f"sigma UL [fb], {lo:g} < M_A' < {hi:g}",
            f"{sigma[0]:.2f} - {sigma[1]:.2f}" if sigma else "-",
            "1.7 - 5.0",
        )
    )
    rows.append(
        (
            "eps^2 alpha_D UL, same range",
            f"{coupling[0]:.2g} - {coupling[1]:.2g}" if coupling else "-",
            "1.7e-08 - 2.0e-06",
        )
    )
    width = max(len(r[0]) for r in rows) + 2
    value_width = max(12, *(len(r[1]) for r in rows)) + 2
    lines = ["", f"{'Summary':<{width}}{'this run':>{value_width}}   paper (PRL 130, 071804)"]
    lines += [f"{a:<{width}}{b:>{value_width}}   {c}" for a, b, c in rows]
    return "\n".join(lines)


def format_timings(result: RunResult) -> str:
    """Per-stage wall time, CPU time and peak memory of a run, as a text table."""
    lines = [
        "",
        f"{'stage':<12}{'status':>9}{'wall [s]':>10}{'cpu [s]':>10}{'peak [MB]':>11}",
    ]
    lines.extend(
        f"{stage.name:<12}{stage.status:>9}{stage.wall_s:10.1f}{stage.cpu_s:10.1f}"
        f"{stage.peak_rss_mb:11.0f}"
        for stage in result.stages
    )
    lines.append(f"{'total':<12}{'':>9}{result.wall_s:10.1f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# figures and the Markdown report


def make_figures(outdir: str | Path, cfg: Config) -> list[Path]:
    """Draw every figure the run's files allow into ``outdir/figures``; return the files written."""
    from dhstat import plots

    root = Path(outdir)
    target = root / FILES["figures"]
    style = plots.Style.from_config(cfg["report"])
    tables = collect(root)
    cols = tables.columns
    written: list[Path] = []

    def emit(fig: Any, name: str) -> None:
        written.extend(plots.save(fig, target / name, style))

    if tables.has("ma", "mh", "n_observed"):
        emit(
            plots.observed_counts(cols["ma"], cols["mh"], cols["n_observed"], style=style),
            "fig1_counts",
        )
    if tables.has("ma", "mh", "z"):
        emit(
            plots.local_significance_map(cols["ma"], cols["mh"], cols["z"], style=style), "local_z"
        )
    if tables.has("ma", "mh", "efficiency"):
        emit(
            plots.efficiency_map(cols["ma"], cols["mh"], cols["efficiency"], style=style),
            "efficiency",
        )
    windows = tables.documents.get("windows")
    if windows is not None:
        centers, axes, angles = windows.center, windows.axes, windows.angle
        sig_mumu, sig_recoil = _resolutions(centers, axes, angles)
        emit(
            plots.resolution_map(cols["ma"], cols["mh"], sig_mumu, sig_recoil, style=style),
            "resolution",
        )
        events = _selected_masses(root)
        if events is not None:
            emit(
                plots.windows_over_events(
                    events[0], events[1], centers, axes, angles,
                    limit=int(cfg["report"]["ellipses_drawn"]), style=style,
                ),
                "windows",
            )  # fmt: skip
    lee = tables.documents.get("lee")
    if lee is not None:
        emit(
            plots.max_z_distribution(
                np.asarray(lee["max_z"], dtype=float),
                float(lee["z_local"]),
                global_z=lee["z_global"],
                style=style,
            ),
            "max_z",
        )
    flow = tables.documents.get("cutflow")
    if flow is not None:
        cuts, yields = _cutflow_yields(flow)
        emit(plots.cutflow(yields, cuts, style=style), "cutflow")
    written.extend(_interpretation_figures(root, cfg, tables, style))
    return written


def _resolutions(centers: Array, axes: Array, angles: Array) -> tuple[Array, Array]:
    """Mass resolutions from the window ellipses (2-sigma contours in squared masses).

    The ellipse half-extent along y = M_mumu^2 is 2 sigma(M^2) = 2 * 2 M sigma(M), hence
    sigma(M) = extent / (4 M); likewise for the recoil mass (x).
    """
    a, b = axes[:, 0], axes[:, 1]
    c, s = np.cos(angles), np.sin(angles)
    extent_x = np.sqrt((a * c) ** 2 + (b * s) ** 2)
    extent_y = np.sqrt((a * s) ** 2 + (b * c) ** 2)
    mass_x = np.sqrt(np.clip(centers[:, 0], 1e-6, None))
    mass_y = np.sqrt(np.clip(centers[:, 1], 1e-6, None))
    return extent_y / (4 * mass_y), extent_x / (4 * mass_x)


def _selected_masses(root: Path) -> tuple[Array, Array] | None:
    """M_recoil^2 and M_mumu^2 of the selected data events (None without a selected file)."""
    from dhstat import selection

    path = root / FILES["selected"]
    if not path.is_file():
        return None
    sample = selection.read_selected([path])
    data = sample["process"] == list(selection.PROCESSES).index("data")
    return np.asarray(sample["mrecoil2"])[data], np.asarray(sample["mmumu2"])[data]


_ORDER = ("data", "mumu", "tautau", "eemumu", "signal")


def _ordered(names: Any) -> list[str]:
    """Process names in the paper's order (data, mumu, tautau, eemumu), others after."""
    return sorted(names, key=lambda p: (_ORDER.index(p) if p in _ORDER else len(_ORDER), p))


def _cutflow_yields(flow: Mapping[str, Any]) -> tuple[list[str], dict[str, list[float]]]:
    cuts: list[str] = []
    yields: dict[str, list[float]] = {}
    processes = flow.get("processes", {})
    for name in _ordered(processes):
        process = processes[name]
        rows = process["samples"]["search"]
        cuts = ["input", *[row["cut"] for row in rows]]
        key = "raw" if name == "data" else "weighted"
        yields[name] = [float(process["input"][key]), *[float(row[key]) for row in rows]]
    return cuts, yields


def _interpretation_figures(root: Path, cfg: Config, tables: RunTables, style: Any) -> list[Path]:
    """Fig. 2 and Fig. 3 analogues, with the interpolation of :mod:`dhstat.interpretation`."""
    from dhstat import plots

    cols = tables.columns
    if not tables.has("ma", "mh", "sigma_ul"):
        return []
    from dhstat import interpretation

    written: list[Path] = []
    report = cfg["report"]
    couplings = tables.documents.get("couplings")
    settings = (couplings or {}).get("interpolation", {})
    options = {
        "method": settings.get("method", "linear"),
        "log": settings.get("log", True),
        "mh_scale": settings.get("mh_scale", 1.0),
        "sqrt_s": (couplings or {}).get("sqrt_s"),
    }
    n = int(report["map_points"])
    ma_axis = np.linspace(float(cols["ma"].min()), float(cols["ma"].max()), n)
    mh_axis = np.linspace(float(cols["mh"].min()), float(cols["mh"].max()), n)
    grid = interpretation.interpolate_limits(
        cols["ma"], cols["mh"], cols["sigma_ul"], ma_axis, mh_axis, **options
    )
    fig = plots.sigma_limit_map(
        ma_axis, mh_axis, grid, centres=(cols["ma"], cols["mh"]), style=style
    )
    written.extend(plots.save(fig, root / FILES["figures"] / "fig2_sigma_limit", style))
    if couplings is not None:
        versus_ma, versus_mh = interpretation.coupling_curves(
            couplings, mh_values=report["fig3_mh"], ma_values=report["fig3_ma"]
        )
        fig = plots.coupling_limits(versus_ma, versus_mh, style=style)
        written.extend(plots.save(fig, root / FILES["figures"] / "fig3_coupling_limits", style))
    return written


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def write_report(outdir: str | Path, cfg: Config, *, figures: Sequence[Path] = ()) -> Path:
    """Write ``outdir/report.md``: summary versus the paper, top windows, figures, provenance."""
    root = Path(outdir)
    summary = summarize(root, cfg)
    tables = collect(root)
    cols = tables.columns
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    parts = [
        "# dhstat run report",
        "",
        (
            f"Run directory `{root}`, configuration `{cfg.source}` "
            f"(digest `{cfg.digest()[:16]}`), written {now}."
        ),
        "",
        "## Summary compared with the paper",
        "",
        "```",
        format_summary(summary).strip(),
        "```",
    ]
    if tables.has("z", "ma", "mh"):
        order = np.argsort(-np.nan_to_num(cols["z"], nan=-np.inf))[:10]
        header = [
            "window",
            "M_A' [GeV]",
            "M_h' [GeV]",
            "N",
            "B",
            "eff",
            "Z",
            "B10",
            "sigma UL [fb]",
        ]
        rows = []
        for i in order:

            def get(name: str, spec: str, index: int = int(i)) -> str:
                return format(cols[name][index], spec) if name in cols else "-"

            rows.append(
                [get("id", ".0f"), get("ma", ".3f"), get("mh", ".3f"), get("n_observed", ".0f"),
                 get("background", ".2f"), get("efficiency", ".3f"), get("z", ".2f"),
                 get("bayes_factor", ".1f"), get("sigma_ul", ".2f")]
            )  # fmt: skip
        parts += [
            "",
            "## The ten windows with the largest local significance",
            "",
            _table(header, rows),
        ]
    flow = tables.documents.get("cutflow")
    if flow is not None:
        cuts, yields = _cutflow_yields(flow)
        names = list(yields)
        rows = [[cut, *[f"{yields[p][k]:.4g}" for p in names]] for k, cut in enumerate(cuts)]
        parts += [
            "",
            "## Cutflow (search sample; MC weighted to the luminosity)",
            "",
            _table(["cut", *names], rows),
        ]
    run_record = root / "run.json"
    if run_record.is_file():
        record = read_json(run_record, schema="run")
        rows = [
            [
                s["name"],
                s["status"],
                f"{s['wall_s']:.1f}",
                f"{s['cpu_s']:.1f}",
                f"{s['peak_rss_mb']:.0f}",
            ]
            for s in record["stages"]
        ]
        parts += [
            "",
            "## Stages",
            "",
            _table(["stage", "status", "wall [s]", "cpu [s]", "peak [MB]"], rows),
        ]
    pngs = [p for p in figures if p.suffix == ".png"]
    if pngs:
        parts += ["", "## Figures", ""]
        for path in pngs:
            rel = path.relative_to(root) if path.is_relative_to(root) else path
            parts += [f"### {path.stem}", "", f"![{path.stem}]({rel})", ""]
    target = root / FILES["report"]
    with atomic_path(target) as temporary:
        temporary.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return target
