"""What a successful result must satisfy: schemas, invariants, and independent closed forms.

The invariants of issue 17: p in [0, 1]; Z a finite number consistent with p (two-sided
``norm.isf(p)`` or the one-sided ``max(0, norm.isf(p))``); B10 finite and >= 0; limits finite,
> 0 and <= sigma_max; every number of a written file finite where its meaning requires it.

For a one-bin workspace without nuisance parameters the numbers have closed forms, computed here
with scipy independently of dhstat (statistics.md sections 2-4):

- hybrid p = P(X >= N | b) = ``poisson.sf(N - 1, b)``;
- B10 = [F(N; b) - F(N; b + S)] / (S Pois(N; b)), S = eps sigma_max, F the Poisson CDF;
- flat-prior limit: the L with  integral_0^L Pois(N; b + eps s) ds = CL x integral_0^sigma_max;
- log-prior limit: the same with the weight 1/s on [sigma_min, sigma_max].
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import integrate, optimize, special, stats

from dhstat import ntuples, schemas
from dhstat.errors import InputError
from dhstat.processes import PROCESSES
from dhstat.selection import SAMPLES, VARIABLES

if TYPE_CHECKING:
    from adversarial_harness import Case, Run

#: Relative tolerance against the closed forms (statistics.md: accuracy target 1e-3).
REL_TOL = 2e-3

#: Relative tolerance of quantities that are exact without nuisance parameters (p, B10).
EXACT_TOL = 1e-6

#: Extra relative tolerance of the text output (numbers printed with 6 significant digits).
TEXT_TOL = 2e-5


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _close(got: float, want: float, rel: float, absolute: float = 0.0) -> bool:
    return abs(got - want) <= rel * abs(want) + absolute


# ----------------------------------------------------------------------------- closed forms


def poisson_mass(n: int, low: float, high: float) -> float:
    """``integral_low^high Pois(n; mu) dmu`` = P(n+1, high) - P(n+1, low), the stabler way round.

    Example:
        >>> round(poisson_mass(0, 0.0, 1.0), 12) == round(1 - math.exp(-1), 12)
        True
    """
    lower = special.gammainc(n + 1, high) - special.gammainc(n + 1, low)
    upper = special.gammaincc(n + 1, low) - special.gammaincc(n + 1, high)
    return float(lower if special.gammainc(n + 1, high) < 0.5 else upper)


def reference_pvalue(n: int, b: float) -> float:
    """Hybrid p-value without nuisance parameters: ``P(X >= n | b)``."""
    return 1.0 if n <= 0 else float(stats.poisson.sf(n - 1, b))


def reference_bayes_factor(n: int, b: float, eps: float, sigma_max: float) -> float:
    """B10 with a flat prior on [0, sigma_max], no nuisance parameters (statistics.md sec. 3).

    Example:
        >>> round(reference_bayes_factor(0, 1.0, 1.0, 2.0), 6)  # (1 - e^-2) / 2
        0.432332
    """
    s = eps * sigma_max
    log_pois = float(stats.poisson.logpmf(n, b))
    return math.exp(math.log(poisson_mass(n, b, b + s)) - log_pois) / s


def reference_limit(
    n: int,
    b: float,
    eps: float,
    cl: float,
    sigma_max: float,
    *,
    prior: str = "flat",
    sigma_min: float | None = None,
) -> float:
    """Bayesian upper limit without nuisance parameters (flat or log prior).

    Example:
        >>> round(reference_limit(0, 0.0, 1.0, 0.9, 100.0), 4)  # PDG table: 2.30
        2.3026
    """
    if prior == "flat":
        total = poisson_mass(n, b, b + eps * sigma_max)

        def cdf(x: float) -> float:
            return poisson_mass(n, b, b + eps * x) / total - cl

        return float(optimize.brentq(cdf, 0.0, sigma_max, xtol=1e-12, rtol=1e-12))
    assert sigma_min is not None
    lo, hi = math.log(sigma_min), math.log(sigma_max)
    grid = np.linspace(lo, hi, 2001)
    peak = float(np.max(stats.poisson.logpmf(n, b + eps * np.exp(grid))))

    def density(u: float) -> float:
        return math.exp(float(stats.poisson.logpmf(n, b + eps * math.exp(u))) - peak)

    def mass(a: float, c: float) -> float:
        return float(integrate.quad(density, a, c, limit=400, epsabs=0, epsrel=1e-10)[0])

    total = mass(lo, hi)
    u = optimize.brentq(lambda x: mass(lo, x) / total - cl, lo, hi, xtol=1e-12)
    return math.exp(u)


def reference_asymptotic_z(n: int, b: float) -> float:
    """``sqrt(q0)`` of one Poisson bin with a free non-negative signal (Cowan et al.)."""
    if n <= b:
        return 0.0
    return math.sqrt(2.0 * (n * math.log(n / b) - (n - b)))


# ----------------------------------------------------------------------------- stats results


def _schema(name: str) -> str | None:
    """The schema of a printed document, if the project ships one (``limit``, ``significance``)."""
    return name if name in schemas.names() else None


def _z_problems(p: float, z: Any, rel: float, log_p: Any = None) -> list[str]:
    if not _finite(z):
        return [f"Z is not a finite number: {z!r} (p = {p!r})"]
    if _finite(log_p):  # ln p given (one bin): Z from it, also where p underflows
        want = max(0.0, float(-special.ndtri_exp(min(log_p, 0.0))))
        if not _close(z, want, rel, 1e-9):
            return [f"Z = {z!r} does not match ln p = {log_p!r} (Z = {want!r})"]
        if p != 0.0 and not _close(math.log(p), log_p, 1e-9, 1e-9):
            return [f"p = {p!r} does not match ln p = {log_p!r}"]
        return []
    if p == 0.0 and stats.norm.sf(z) == 0.0:  # p underflows: Z (> 38.5) carries its size
        return []
    two_sided = float(stats.norm.isf(p))
    candidates = [two_sided, max(0.0, two_sided)]
    if not any(math.isfinite(c) and _close(z, c, rel, 1e-9) for c in candidates):
        return [f"Z = {z!r} does not match p = {p!r} (norm.isf(p) = {two_sided!r})"]
    return []


def significance_problems(
    doc: Mapping[str, Any], reference: Mapping[str, Any], rel: float
) -> list[str]:
    """Invariants of a significance result (``dhstat significance --json``), and closed forms."""
    problems: list[str] = []
    p = doc.get("p_value")
    if not (_finite(p) and 0.0 <= p <= 1.0):
        return [f"p_value not in [0, 1]: {p!r}"]
    problems += _z_problems(p, doc.get("z"), max(rel, 1e-7), doc.get("log_p_value"))
    b10 = doc.get("bayes_factor")
    if not (_finite(b10) and b10 >= 0.0):
        problems.append(f"B10 not finite and >= 0: {b10!r}")
    smax = doc.get("sigma_max")
    if not (_finite(smax) and smax > 0):
        problems.append(f"sigma_max not finite and > 0: {smax!r}")
    for key in ("p_value_uncertainty", "bayes_factor_uncertainty"):
        if key in doc and not (_finite(doc[key]) and doc[key] >= 0):
            problems.append(f"{key} not finite and >= 0: {doc[key]!r}")
    if problems or "n" not in reference:
        return problems
    return _significance_reference(doc, reference, rel)


def _significance_reference(
    doc: Mapping[str, Any], reference: Mapping[str, Any], rel: float
) -> list[str]:
    problems = []
    n, b, eps = reference["n"], reference["b"], reference["eps"]
    want_smax = reference.get("sigma_max")
    if want_smax is not None and not _close(doc["sigma_max"], want_smax, max(rel, 1e-12)):
        problems.append(f"sigma_max {doc['sigma_max']!r}, expected {want_smax!r}")
    if doc.get("method", "hybrid") == "hybrid":
        want_p = reference_pvalue(n, b)
        if not _close(doc["p_value"], want_p, rel, 1e-300):
            problems.append(f"p = {doc['p_value']!r}, closed form {want_p!r}")
    elif 0 < (n - b) / eps < 0.9 * reference.get("bound", math.inf):
        want_z = reference_asymptotic_z(n, b)
        if not _close(doc["z"], want_z, 1e-3, 2e-3):
            problems.append(f"asymptotic Z = {doc['z']!r}, closed form {want_z!r}")
    want_b10 = reference_bayes_factor(n, b, eps, doc["sigma_max"])
    if math.isfinite(want_b10) and not _close(doc["bayes_factor"], want_b10, rel):
        problems.append(f"B10 = {doc['bayes_factor']!r}, closed form {want_b10!r}")
    return problems


def limit_problems(doc: Mapping[str, Any], reference: Mapping[str, Any], rel: float) -> list[str]:
    """Invariants of a limit result (``dhstat limit --json``), and the closed form."""
    problems: list[str] = []
    limit, smax, cl = doc.get("upper_limit"), doc.get("sigma_max"), doc.get("cl")
    if not (_finite(smax) and smax > 0):
        return [f"sigma_max not finite and > 0: {smax!r}"]
    if not (_finite(limit) and 0 < limit <= smax * (1 + 1e-9)):
        problems.append(f"upper limit not finite and in (0, sigma_max = {smax!r}]: {limit!r}")
    if not (_finite(cl) and 0 < cl < 1):
        problems.append(f"cl not in (0, 1): {cl!r}")
    smin = doc.get("sigma_min")
    if smin is not None and not (_finite(smin) and 0 < smin < smax):
        problems.append(f"sigma_min not finite and in (0, sigma_max): {smin!r}")
    problems += [
        f"{key} not finite and >= 0: {doc[key]!r}"
        for key in ("numerical_uncertainty", "limit_at_check")
        if key in doc and not (_finite(doc[key]) and doc[key] >= 0)
    ]
    if problems or "n" not in reference:
        return problems
    want_smax = reference.get("sigma_max")
    if want_smax is not None and not _close(smax, want_smax, max(rel, 1e-12)):
        return [f"sigma_max {smax!r}, expected {want_smax!r}"]
    if "cl" in reference and not _close(cl, reference["cl"], 1e-12):
        return [f"cl {cl!r}, asked for {reference['cl']!r}"]
    prior = doc.get("prior", "flat")
    want = reference_limit(
        reference["n"], reference["b"], reference["eps"], cl, smax, prior=prior, sigma_min=smin
    )
    if not _close(limit, want, rel):
        problems.append(f"{prior}-prior limit {limit!r}, closed form {want!r}")
    return problems


def check_significance_json(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat significance --json``: one JSON object on stdout, schema and invariants."""
    doc = json.loads(run.stdout)
    problems = _validate_printed(doc, "significance")
    return problems + significance_problems(doc, case.reference, EXACT_TOL)


def check_limit_json(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat limit --json``: one JSON object on stdout, schema and invariants."""
    doc = json.loads(run.stdout)
    return _validate_printed(doc, "limit") + limit_problems(doc, case.reference, REL_TOL)


def _validate_printed(doc: Any, name: str) -> list[str]:
    schema = _schema(name)
    if schema is None:
        return []
    try:
        schemas.validate(doc, schema, source="<stdout>")
    except InputError as error:
        return [f"stdout does not validate against schema {schema}: {error}"]
    return []


_NUMBER = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf|nan))"
# "p = P, Z = Z (method)", or with sampled tails "p = P (ln p = L), Z = Z +- E (hybrid, ...)"
_SIG_P = re.compile(
    rf"p = {_NUMBER}(?: \(ln p = {_NUMBER}\))?, Z = {_NUMBER}(?: \+- {_NUMBER})? \((\w+)[,)]"
)
_SIG_B = re.compile(rf"B10 = {_NUMBER} \(sigma_max = {_NUMBER}\)")
_LIMIT = re.compile(rf"upper limit on (\S+) \((\w+) prior\): {_NUMBER}")
_LIMIT_S = re.compile(rf"sigma_max = {_NUMBER}(?:, sigma_min = {_NUMBER})?")
_CL = re.compile(r"^(\d+(?:\.\d+)?)% CL")


def check_significance_text(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat significance``: the printed p, Z, B10 and sigma_max."""
    p_line, b_line = _SIG_P.search(run.stdout), _SIG_B.search(run.stdout)
    if p_line is None or b_line is None:
        return [f"unexpected text output: {run.stdout.strip()!r}"]
    doc = {
        "p_value": float(p_line[1]),
        "z": float(p_line[3]),
        "method": p_line[5],
        "bayes_factor": float(b_line[1]),
        "sigma_max": float(b_line[2]),
    }
    if p_line[2] is not None and doc["p_value"] == 0.0:  # p underflows: ln p carries it
        doc["log_p_value"] = float(p_line[2])
    return significance_problems(doc, case.reference, EXACT_TOL + TEXT_TOL)


def check_limit_text(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat limit``: the printed limit and sigma_max (the CL is printed in whole percent)."""
    line, s_line = _LIMIT.search(run.stdout), _LIMIT_S.search(run.stdout)
    if line is None or s_line is None:
        return [f"unexpected text output: {run.stdout.strip()!r}"]
    doc: dict[str, Any] = {
        "upper_limit": float(line[3]),
        "prior": line[2],
        "sigma_max": float(s_line[1]),
        "cl": case.reference.get("cl", 0.9),
    }
    if s_line[2] is not None:
        doc["sigma_min"] = float(s_line[2])
    return limit_problems(doc, case.reference, REL_TOL + TEXT_TOL)


def check_config_valid(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat config check``: one line ``PATH: valid (digest ...)``."""
    if not re.fullmatch(r".+: valid \(digest [0-9a-f]{16}\)", run.stdout.strip()):
        return [f"unexpected output: {run.stdout.strip()!r}"]
    return []


# ----------------------------------------------------------------------------- written files


def _json_file(folder: Path, name: str, schema: str) -> tuple[Any, list[str]]:
    path = folder / name
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        schemas.validate(doc, schema, source=str(path))
    except (InputError, ValueError) as error:
        return None, [f"{name} does not validate against schema {schema}: {error}"]
    return doc, []


def check_select(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat select``: selected.root finite, cutflow and macroregions valid and consistent."""
    problems: list[str] = []
    trees = {s: ntuples.read_tree(folder / "out" / "selected.root", s) for s in SAMPLES}
    for sample, arrays in trees.items():
        for name in (*VARIABLES, "process"):
            if name not in arrays:
                problems.append(f"selected.root: {sample}.{name} missing")
                continue
            values = np.asarray(arrays[name])
            if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
                problems.append(f"selected.root: {sample}.{name} has NaN/inf")
        process = np.asarray(arrays.get("process", []))
        if process.size and (process.min() < 0 or process.max() >= len(PROCESSES)):
            problems.append(f"selected.root: {sample}.process out of range")
    cutflow, bad = _json_file(folder, "out/cutflow.json", "cutflow")
    problems += bad
    if "out/macroregions.json" in case.outputs:
        problems += _json_file(folder, "out/macroregions.json", "macroregions")[1]
    if cutflow is not None:
        problems += _cutflow_problems(cutflow, {s: len(trees[s]["weight"]) for s in SAMPLES})
    return problems


def _cutflow_problems(doc: Mapping[str, Any], selected: Mapping[str, int]) -> list[str]:
    problems = []
    final = dict.fromkeys(SAMPLES, 0)
    for process, flow in doc["processes"].items():
        previous_raw = flow["input"]["raw"]
        if not _finite(flow["input"]["weighted"]):
            problems.append(f"cutflow {process} input weighted not finite")
        for sample, rows in flow["samples"].items():
            raw = previous_raw
            for row in rows:
                if row["raw"] > raw:
                    problems.append(f"cutflow {process}/{sample}/{row['cut']}: raw grows")
                if not _finite(row["weighted"]):
                    problems.append(f"cutflow {process}/{sample}/{row['cut']}: weighted not finite")
                raw = row["raw"]
            final[sample] += rows[-1]["raw"] if rows else 0
    problems += [
        f"{sample}: {selected[sample]} events in selected.root, cutflow says {final[sample]}"
        for sample in SAMPLES
        if final[sample] != selected[sample]
    ]
    return problems


def check_simulate(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat simulate ...``: a readable ntuple with the schema's branches and finite weights."""
    name = case.outputs[0]
    path = folder / name
    meta = ntuples.read_metadata(path)
    problems = []
    if meta.get("process") not in PROCESSES:
        problems.append(f"metadata process {meta.get('process')!r}")
    problems += [
        f"metadata {key} not finite and >= 0: {meta[key]!r}"
        for key in ("luminosity_fb", "cross_section_fb")
        if key in meta and not (_finite(meta[key]) and meta[key] >= 0)
    ]
    arrays = ntuples.read_tree(path, "events", ["weight"])
    weight = np.asarray(arrays["weight"])
    if not np.all(np.isfinite(weight)):
        problems.append("weights not finite")
    match = re.search(r": (\d+) events", run.stdout)
    if match is None or int(match[1]) != len(weight):
        problems.append(f"printed event count does not match the file ({len(weight)})")
    return problems


def check_scan(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat scan``: schema scan; every window's p, Z, B10 and limits within their ranges."""
    doc, problems = _json_file(folder, case.outputs[0], "scan")
    if doc is None:
        return problems
    for window in doc["windows"]:
        where = f"window {window['id']}"
        sig = significance_problems(window, {}, 1e-7)
        problems += [f"{where}: {p}" for p in sig]
        for key in ("upper_limit_flat", "upper_limit_log"):
            value = window.get(key)
            if value is not None:
                lim = {"upper_limit": value, "sigma_max": window["sigma_max"], "cl": 0.9}
                problems += [f"{where}: {key}: {p}" for p in limit_problems(lim, {}, 1e-7)]
        want = case.reference.get("sigma_max")
        if want is not None and not _close(window["sigma_max"], want, 1e-12):
            problems.append(f"{where}: sigma_max {window['sigma_max']!r}, asked for {want!r}")
    return problems


def check_lee(case: Case, run: Run, folder: Path) -> list[str]:
    """``dhstat lee``: schema lee (or lee-part with --shard); global p a probability."""
    name = case.outputs[0]
    schema = "lee-part" if case.reference.get("shard") else "lee"
    doc, problems = _json_file(folder, name, schema)
    if doc is None or schema == "lee-part":
        return problems
    p, error = doc["p_global"], doc["p_global_error"]
    if not (_finite(p) and 0 <= p <= 1):
        problems.append(f"p_global not in [0, 1]: {p!r}")
    if not (_finite(error) and error >= 0):
        problems.append(f"p_global_error not finite and >= 0: {error!r}")
    toys = case.reference.get("toys")
    if toys is not None and doc["n_toys"] != toys:
        problems.append(f"n_toys {doc['n_toys']}, asked for {toys}")
    seed = case.reference.get("seed")
    if seed is not None and doc["provenance"]["seed"] != seed:
        problems.append(f"seed {doc['provenance']['seed']}, asked for {seed}")
    return problems
