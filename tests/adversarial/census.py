"""Census of the adversarial inputs: every generator at a larger budget, counted by category.

Run from the repository (it uses the test helpers, not pytest)::

    python tests/adversarial/census.py                  # the budget of the issue (> 300 inputs)
    python tests/adversarial/census.py --scale 0.3      # a quick look
    python tests/adversarial/census.py --keep /tmp/adv  # keep each failing case's inputs

It prints, per category: generated inputs, command lines run, valid results, clean errors,
tracebacks, wrong results, malformed errors and hangs; then every failing case with its command
line (runnable from its kept folder with ``--keep``). The goal of issue 17 is 0 tracebacks and 0
wrong results (and 0 of the other failures) over at least 300 inputs. Exit code 1 if any case
failed.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, _HERE.parent / "data"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from adversarial_explore import CATEGORIES, explore, make_shared
from adversarial_harness import Outcome

#: Inputs drawn per mutation kind, by category, at ``--scale 1``.
EXAMPLES = {"config": 6, "workspace": 3, "ntuple": 4, "option": 14, "patchset": 3}

#: Kinds drawn more often than the rest of their category (cheap, and checked the most closely).
MORE = {("workspace", "closed form"): 30}

COLUMNS = ("valid", "clean_error", "traceback", "wrong_result", "bad_error", "hang")
HEAD = ("inputs", "cases", "valid", "clean err", "traceback", "wrong", "bad error", "hang")


def _row(name: str, inputs: int, outcomes: list[Outcome]) -> str:
    counts = collections.Counter(o.verdict for o in outcomes)
    cells = [inputs, len(outcomes), *(counts[c] for c in COLUMNS)]
    return f"{name:<10}" + "".join(f"{c:>11}" for c in cells)


def main(argv: list[str] | None = None) -> int:
    """Run the census; returns 1 if any case broke the promise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every budget")
    parser.add_argument("--keep", type=Path, default=None, help="keep failing cases here")
    parser.add_argument("--category", action="append", choices=sorted(CATEGORIES))
    parser.add_argument("--quiet", action="store_true", help="counts only, no failure details")
    args = parser.parse_args(argv)
    chosen = args.category or list(CATEGORIES)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adv-census-") as scratch:
        # failing cases kept for reproduction may read the shared inputs: keep those too
        shared = make_shared((args.keep or Path(scratch)) / "shared")
        results: dict[str, list[Outcome]] = {}
        inputs: dict[str, int] = {}
        for name in chosen:
            module = CATEGORIES[name]
            results[name], inputs[name] = [], 0
            for kind in module.KINDS:
                count = max(1, round(MORE.get((name, kind), EXAMPLES[name]) * args.scale))
                found = explore(module, kind, shared, examples=count, keep=args.keep)
                results[name] += found
                inputs[name] += len({o.input_id for o in found})
            print(f"{name}: done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    everything = [o for found in results.values() for o in found]
    print("inputs: generated inputs; cases: command lines run on them")
    print(f"{'category':<10}" + "".join(f"{h:>11}" for h in HEAD))
    for name in chosen:
        print(_row(name, inputs[name], results[name]))
    print(_row("total", sum(inputs.values()), everything))
    closed = sum(o.verdict == "valid" and "n" in o.case.reference for o in everything)
    print(f"valid results also checked against closed forms (p, B10, limits): {closed}")
    print(f"({time.perf_counter() - start:.0f} s)")
    slowest = sorted(everything, key=lambda o: o.run.seconds, reverse=True)[:8]
    print("slowest cases:")
    for outcome in slowest:
        case = outcome.case
        print(
            f"  {outcome.run.seconds:6.1f} s  {outcome.verdict:<12} [{case.category}] {case.label}"
        )
    failures = [o for o in everything if not o.good]
    if failures and not args.quiet:
        by_kind = collections.Counter((o.case.category, o.verdict, _kind(o)) for o in failures)
        print("\nfailures by kind:")
        for (category, verdict, kind), count in sorted(by_kind.items()):
            print(f"  {count:>4}  {category:<10} {verdict:<13} {kind}")
        print("\nevery failing case:")
        for outcome in failures:
            print(outcome.describe(chars=400))
    return 1 if failures else 0


def _kind(outcome: Outcome) -> str:
    label = outcome.case.label
    for separator in (" (", " = ", " -> ", " ["):
        label = label.split(separator)[0]
    return label


if __name__ == "__main__":
    sys.exit(main())
