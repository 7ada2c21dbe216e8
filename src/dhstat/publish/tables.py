"""The data tables of the HEPData submission, built with hepdata_lib from a run's tables.

Every table carries the run's conditions as qualifiers of its dependent variables (sqrt(s), the
integrated luminosity) and every limit its method (credibility or confidence level, the prior or
CLs). Missing values (a window without sensitivity has no limit) are written as ``"-"``, the
HEPData convention. Expected limits are the median with the +-1 sigma and +-2 sigma bands as
asymmetric uncertainties labelled ``"1 sigma"`` and ``"2 sigma"``.

Example:
    >>> import numpy as np
    >>> variable("Limit", np.array([1.5, np.nan]), units="fb").values
    [1.5, '-']
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from dhstat.report import ReportSettings, RunTables
from dhstat.report.limit_figures import limit_maps
from dhstat.report.tables import cut_label, cutflow_yields

__all__ = [
    "coupling_table",
    "cutflow_table",
    "flags",
    "geometry_table",
    "interpolated_table",
    "limit_table",
    "quiet_deprecations",
    "submission_tables",
    "variable",
    "window_table",
]

_LOCATION = "Data from the dhstat run"
_REACTION = "E+ E- --> A' h'"
_CLS = "asymptotic CLs, qtilde test statistic (as pyhf)"


def __dir__() -> list[str]:
    return __all__


@contextlib.contextmanager
def quiet_deprecations() -> Iterator[None]:
    """hepdata_lib / hepdata_validator use jsonschema's deprecated RefResolver: not our warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def variable(
    name: str,
    values: Any,
    *,
    units: str = "",
    independent: bool = False,
    qualifiers: Sequence[tuple[str, Any, str]] = (),
) -> Any:
    """A hepdata_lib unbinned Variable; non-finite numbers become ``"-"`` (no value)."""
    with quiet_deprecations():
        from hepdata_lib import Variable

    result = Variable(
        name,
        is_independent=independent,
        is_binned=False,
        units=units,
        zero_uncertainties_warning=False,
    )
    result.values = [
        v if isinstance(v, str) else (float(v) if np.isfinite(v) else "-") for v in values
    ]
    for qualifier, value, unit in qualifiers:
        result.add_qualifier(qualifier, value, unit)
    return result


def _table(name: str, description: str, location: str, tables: RunTables) -> Any:
    with quiet_deprecations():
        from hepdata_lib import Table

    table = Table(name)
    table.description = description
    table.location = location
    table.keywords["reactions"] = [_REACTION]
    if tables.sqrt_s_gev is not None:
        table.keywords["cmenergies"] = [round(tables.sqrt_s_gev, 4)]
    return table


def _conditions(tables: RunTables) -> list[tuple[str, Any, str]]:
    """sqrt(s) and the luminosity, as qualifiers."""
    found = []
    if tables.sqrt_s_gev is not None:
        found.append(("SQRT(S)", round(tables.sqrt_s_gev, 4), "GeV"))
    if tables.luminosity_fb is not None:
        found.append(("LUMINOSITY", tables.luminosity_fb, "fb$^{-1}$"))
    return found


def _prior(tables: RunTables) -> str:
    """The prior of the Bayesian limits, in words."""
    sigma_max = tables.columns.get("sigma_max")
    edges: Any = np.unique(sigma_max[np.isfinite(sigma_max)]) if sigma_max is not None else []
    if len(edges) == 1:
        return f"flat in sigma on [0, {edges[0]:g} fb]"
    return "flat in sigma on [0, sigma_max] (sigma_max of each window: see the table)"


def _limit_qualifiers(tables: RunTables, method: str) -> list[tuple[str, Any, str]]:
    level = f"{100 * tables.cl:g}%"
    if method == "bayes":
        return [*_conditions(tables), ("CL", level, ""), ("PRIOR", _prior(tables), "")]
    return [*_conditions(tables), ("CL", level, ""), ("METHOD", _CLS, "")]


def _masses(tables: RunTables) -> list[Any]:
    cols = tables.columns
    return [
        variable("$M_{A'}$", cols["ma"], units="GeV", independent=True),
        variable("$M_{h'}$", cols["mh"], units="GeV", independent=True),
    ]


def _band(name: str, band: Any, *, units: str, qualifiers: Sequence[tuple[str, Any, str]]) -> Any:
    """The median of ``band`` (shape (n, 5)) with its +-1 and +-2 sigma bands as uncertainties."""
    with quiet_deprecations():
        from hepdata_lib import Uncertainty

    median = band[:, 2]
    result = variable(name, median, units=units, qualifiers=qualifiers)
    for label, (lo, hi) in (("1 sigma", (1, 3)), ("2 sigma", (0, 4))):
        uncertainty = Uncertainty(label, is_symmetric=False)
        # a row without a band (no value, "-") gets (0, 0): hepdata_lib then writes no errors
        uncertainty.values = [
            (float(row[lo] - row[2]), float(row[hi] - row[2]))
            if np.all(np.isfinite(row))
            else (0.0, 0.0)
            for row in band
        ]
        result.add_uncertainty(uncertainty)
    return result


def flags(tables: RunTables) -> list[str]:
    """Per window: "no sensitivity", "prior-dominated" or "-"."""
    cols = tables.columns
    n = len(cols["ma"])
    sensitive = cols.get("sensitive", np.ones(n))
    prior = cols.get("prior_dominated", np.zeros(n))
    return [
        "no sensitivity" if s < 0.5 else ("prior-dominated" if p > 0.5 else "-")
        for s, p in zip(sensitive, prior, strict=True)
    ]


def window_table(tables: RunTables) -> Any:
    """Per window: observed events, background, efficiency, local and expected Z, Bayes factor."""
    with quiet_deprecations():
        from hepdata_lib import Uncertainty

    cols = tables.columns
    table = _table(
        "Search windows",
        "Per search window (centre M_A', M_h'): observed events N, expected background B with its "
        "MC statistical uncertainty, signal efficiency (selection, ellipse and C_eta cut), local "
        "significance Z (one-sided: 0 for a deficit), the median expected Z for the signal cross "
        "section of the scan's settings, and the Bayes factor B10. The geometry of each window is "
        "in the table 'Window geometry', its limits in 'Cross-section limits', its likelihood in "
        "the pyhf workspaces of the additional resources.",
        f"{_LOCATION} (analogue of Fig. 1)",
        tables,
    )
    table.keywords["observables"] = ["N", "SIG"]
    for item in _masses(tables):
        table.add_variable(item)
    conditions = _conditions(tables)
    optional = (
        ("n_observed", "Observed events", ""),
        ("background", "Expected background", ""),
        ("efficiency", "Signal efficiency", ""),
        ("z", "Local significance Z", ""),
        ("z_expected", "Median expected local significance Z", ""),
        ("bayes_factor", "Bayes factor B10", ""),
    )
    for key, name, units in optional:
        if key not in cols:
            continue
        qualifiers = list(conditions)
        if key == "z_expected":
            sigma = tables.documents.get("scan", {}).get("settings", {}).get("sensitivity_sigma_fb")
            if sigma is not None:
                qualifiers.append(("SIGNAL CROSS SECTION", float(sigma), "fb"))
        item = variable(name, cols[key], units=units, qualifiers=qualifiers)
        if key == "background":
            errors = [cols[c] for c in cols if c.startswith("background_") and c.endswith("_error")]
            if errors:
                uncertainty = Uncertainty("MC stat.", is_symmetric=True)
                uncertainty.values = [float(v) for v in np.sqrt(np.sum(np.square(errors), axis=0))]
                item.add_uncertainty(uncertainty)
        table.add_variable(item)
    return table


def geometry_table(tables: RunTables) -> Any | None:
    """Each window's ellipse (centre, semi-axes, angle) and C_eta cut (None without windows)."""
    search = tables.documents.get("windows")
    if search is None:
        return None
    table = _table(
        "Window geometry",
        "The search windows: an event with squared recoil mass x = M_recoil^2 and squared dimuon "
        "mass y = M_mumu^2 [GeV^2] is in a window if it lies inside its ellipse, "
        "(u/a)^2 + (v/b)^2 <= 1 with u = (x - x0) cos(theta) + (y - y0) sin(theta) and "
        "v = -(x - x0) sin(theta) + (y - y0) cos(theta), and its C_eta is below the window's cut. "
        "(x0, y0): centre; a, b: semi-major and semi-minor axes; theta: angle of the major axis "
        "to the x axis.",
        f"{_LOCATION} (search windows)",
        tables,
    )
    table.keywords["observables"] = ["M"]
    for item in _masses(tables):
        table.add_variable(item)
    columns = (
        ("Ellipse centre $M_{\\rm recoil}^2$", search.center[:, 0], "GeV$^2$"),
        ("Ellipse centre $M_{\\mu\\mu}^2$", search.center[:, 1], "GeV$^2$"),
        ("Semi-major axis", search.axes[:, 0], "GeV$^2$"),
        ("Semi-minor axis", search.axes[:, 1], "GeV$^2$"),
        ("Angle of the major axis", search.angle, "rad"),
        ("$C_\\eta$ cut (upper)", search.ceta_cut, ""),
    )
    for name, values, units in columns:
        table.add_variable(variable(name, values, units=units))
    return table


def limit_table(tables: RunTables) -> Any | None:
    """Per window: observed and expected upper limits on sigma, Bayesian and CLs, and the flags."""
    cols = tables.columns
    if "sigma_ul" not in cols:
        return None
    table = _table(
        "Cross-section limits",
        "Upper limits on sigma(e+e- -> A'h', A' -> mu+mu-, h' invisible) per search window: "
        "the Bayesian limit (the paper's method; flat prior, see the qualifiers) observed and "
        "expected under the background-only hypothesis (median, with the 1 sigma and 2 sigma "
        "bands as uncertainties), and the asymptotic CLs limit, observed and expected. Flags: "
        "'no sensitivity' (signal efficiency below the scan's threshold: no limit), "
        "'prior-dominated' (the limit depends on the prior's upper edge sigma_max).",
        f"{_LOCATION} (analogue of Fig. 2)",
        tables,
    )
    table.keywords["observables"] = ["SIG"]
    for item in _masses(tables):
        table.add_variable(item)
    bayes, cls = _limit_qualifiers(tables, "bayes"), _limit_qualifiers(tables, "cls")
    table.add_variable(
        variable("Observed UL on $\\sigma$ (Bayesian)", cols["sigma_ul"], units="fb",
                 qualifiers=bayes)
    )  # fmt: skip
    if "sigma_ul_expected" in cols:
        table.add_variable(
            _band("Expected UL on $\\sigma$ (Bayesian)", cols["sigma_ul_expected"], units="fb",
                  qualifiers=bayes)
        )  # fmt: skip
    if "cls_ul" in cols:
        table.add_variable(
            variable("Observed UL on $\\sigma$ (CLs)", cols["cls_ul"], units="fb", qualifiers=cls)
        )
    if "cls_ul_expected" in cols:
        table.add_variable(
            _band("Expected UL on $\\sigma$ (CLs)", cols["cls_ul_expected"], units="fb",
                  qualifiers=cls)
        )  # fmt: skip
    if "sigma_max" in cols and len(np.unique(cols["sigma_max"])) > 1:
        table.add_variable(
            variable("$\\sigma_{\\max}$ of the prior", cols["sigma_max"], units="fb")
        )
    table.add_variable(variable("Flags", flags(tables)))
    return table


def coupling_table(tables: RunTables) -> Any | None:
    """Per window: observed and expected upper limits on eps^2 alpha_D (None without them)."""
    cols = tables.columns
    if "coupling_ul" not in cols:
        return None
    table = _table(
        "Coupling limits",
        "Upper limit on eps^2 x alpha_D per search window centre (analogue of Fig. 3), from the "
        "cross-section limit, the Born cross section and B(A' -> mu mu); expected: the median "
        "expected cross-section limit converted with the same factor (the 1 sigma and 2 sigma "
        "bands as uncertainties; without the small B(A' -> mu mu) uncertainty of the observed "
        "limit).",
        f"{_LOCATION} (analogue of Fig. 3)",
        tables,
    )
    table.keywords["observables"] = ["SIG"]
    for item in _masses(tables):
        table.add_variable(item)
    bayes = _limit_qualifiers(tables, "bayes")
    name = "UL on $\\epsilon^2\\alpha_D$"
    table.add_variable(variable(f"Observed {name}", cols["coupling_ul"], qualifiers=bayes))
    if "sigma_ul_expected" in cols and "coupling_per_fb" in cols:
        band = cols["coupling_per_fb"][:, None] * cols["sigma_ul_expected"]
        table.add_variable(_band(f"Expected {name}", band, units="", qualifiers=bayes))
    table.add_variable(variable("Flags", flags(tables)))
    return table


def interpolated_table(tables: RunTables, points: int) -> Any | None:
    """The limits interpolated on a regular (M_A', M_h') grid (points with a limit only)."""
    cols = tables.columns
    if not tables.has("ma", "mh", "sigma_ul") or not np.any(np.isfinite(cols["sigma_ul"])):
        return None
    maps = limit_maps(tables, points)
    ma, mh = np.meshgrid(maps.ma_axis, maps.mh_axis, indexing="ij")
    keep = np.isfinite(maps.observed)
    table = _table(
        "Interpolated limits",
        f"Upper limits on sigma interpolated over the (M_A', M_h') plane on a {points} x {points} "
        "grid spanning the window centres: piecewise linear in log10 of the limit on the Delaunay "
        "triangulation of the centres of the windows with sensitivity (as the Fig. 2 analogue). "
        "Grid points outside the searched region, or whose nearest window has no sensitivity, "
        "are left out. 'Prior-dominated': the nearest window's limit depends on sigma_max.",
        f"{_LOCATION} (analogue of Fig. 2, interpolated)",
        tables,
    )
    table.keywords["observables"] = ["SIG"]
    table.add_variable(variable("$M_{A'}$", ma[keep], units="GeV", independent=True))
    table.add_variable(variable("$M_{h'}$", mh[keep], units="GeV", independent=True))
    bayes, cls = _limit_qualifiers(tables, "bayes"), _limit_qualifiers(tables, "cls")
    columns: list[tuple[str, Any, Sequence[tuple[str, Any, str]]]] = [
        ("Observed UL on $\\sigma$ (Bayesian)", maps.observed, bayes)
    ]
    if maps.expected is not None:
        columns.append(("Median expected UL on $\\sigma$ (Bayesian)", maps.expected[2], bayes))
    if maps.cls_observed is not None:
        columns.append(("Observed UL on $\\sigma$ (CLs)", maps.cls_observed, cls))
    if maps.cls_expected is not None:
        columns.append(("Median expected UL on $\\sigma$ (CLs)", maps.cls_expected, cls))
    for name, grid, qualifiers in columns:
        table.add_variable(variable(name, grid[keep], units="fb", qualifiers=qualifiers))
    prior = np.where(maps.prior_dominated[keep], "prior-dominated", "-")
    table.add_variable(variable("Flags", list(prior)))
    return table


def cutflow_table(flow: Mapping[str, Any], tables: RunTables) -> Any:
    """Events after each cut of the search selection, per process."""
    table = _table(
        "Cutflow",
        "Events after each cut of the search selection: data (raw counts) and simulated "
        "processes (weighted to the data luminosity).",
        _LOCATION,
        tables,
    )
    table.keywords["observables"] = ["N"]
    cuts, yields = cutflow_yields(flow)
    table.add_variable(variable("Cut", [cut_label(c) for c in cuts], independent=True))
    for process, values in yields.items():
        table.add_variable(variable(f"Events ({process})", values, qualifiers=_conditions(tables)))
    return table


def submission_tables(tables: RunTables, settings: ReportSettings) -> list[Any]:
    """Every table the run allows, in the order of the submission."""
    built = [window_table(tables), geometry_table(tables), limit_table(tables)]
    built += [coupling_table(tables), interpolated_table(tables, settings.hepdata_map_points)]
    if "cutflow" in tables.documents:
        built.append(cutflow_table(tables.documents["cutflow"], tables))
    return [table for table in built if table is not None]
