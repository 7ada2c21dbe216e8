#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Developer tasks: the same checks CI runs (``bash .ci/run``), one session each.

``nox -s lint`` (ruff, format, mypy), ``nox -s tests`` (the default test run), ``nox -s slow``
(the paper-scale tests and notebooks), ``nox -s build`` (sdist and wheel).
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"


@nox.session(default=True)
def lint(session: nox.Session) -> None:
    """Ruff, ruff format and mypy (strict), as in CI."""
    session.install("-e", ".[test]")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session(default=True)
def tests(session: nox.Session) -> None:
    """The README's test command: the default (fast) test run."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def slow(session: nox.Session) -> None:
    """The slow tests: paper-scale regeneration, notebooks, the small analysis end to end."""
    session.install("-e", ".[test]")
    session.run("pytest", "--runslow", "-m", "slow", *session.posargs)


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel into dist/."""
    session.install("build")
    session.run("python", "-m", "build")


if __name__ == "__main__":
    nox.main()
