"""Running one adversarial case through the command line and judging what came out.

A :class:`Case` is one command line plus the files it reads (written into a fresh case folder),
what the input deserves (``"succeed"``, ``"fail"`` or ``"either"``) and how to check a result.
:func:`run_case` writes the files, calls ``dhstat.cli.main(argv)`` in this process (or, with
``subprocess=True``, ``python -m dhstat`` in a child) and returns an :class:`Outcome` whose
``verdict`` is one of:

- ``valid``: exit 0 and every check of the result passed;
- ``clean_error``: exit 2 with exactly one stderr line ``error: ...`` that names the culprit (the
  file and field, or the option), nothing on stdout, and no file written;
- ``traceback``: an exception escaped ``main`` (or ``Traceback`` was printed);
- ``wrong_result``: exit 0 with a result that breaks its schema or invariants, or exit 0 for an
  input that must be rejected, or a clean error for an input that must be accepted;
- ``bad_error``: exit 2 but not one clean line, or files left behind, or another exit code;
- ``hang``: the case ran out of its CPU-time budget.

The rule of issue 17: every case is ``valid`` or ``clean_error``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dhstat.cli import main

Expect = Literal["succeed", "fail", "either"]

#: Verdicts that keep the promise of issue 17.
GOOD = frozenset({"valid", "clean_error"})

#: Every verdict, in the order the census prints them.
VERDICTS = ("valid", "clean_error", "traceback", "wrong_result", "bad_error", "hang")

#: CPU seconds one in-process case may take before it counts as a hang.
CPU_LIMIT_S = 60.0

#: Wall-clock seconds one in-process case may take before it counts as a hang.
WALL_LIMIT_S = 180.0

#: Address space of a child process (``subprocess=True``): a runaway allocation fails fast.
CHILD_MEMORY_BYTES = 4 * 2**30

#: The one line of a clean error: dhstat's ``error: SOURCE: FIELD: expected ...`` (InputError), or
#: a usage error on one line (``error: dhstat limit: Missing argument 'WORKSPACE'.``).
_ERROR_LINE = re.compile(r"error: \S.*")
_TEMPORARY = re.compile(r"\..+\.part(\.[^.]+)?")

#: A result checker: (case, run, case folder) -> list of problems (empty: the result is right).
Checker = Callable[["Case", "Run", Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One command line with its input files and what its outcome must be.

    Attributes:
        category: ``config``, ``workspace``, ``ntuple`` or ``option`` (the census rows).
        label: The mutation, e.g. ``"nan in stats.cl"`` (the census groups failures by it).
        argv: Arguments after ``dhstat``; paths are relative to the case folder.
        files: Files to write first (relative path -> bytes); ``None`` makes a folder.
        expect: ``"succeed"`` (a clean error is wrong), ``"fail"`` (exit 0 is wrong) or
            ``"either"`` (both are fine if the result is right).
        culprits: Names that must all appear in the error line (file names, option names,
            fields); ``a|b`` accepts either. Empty: any one file or option of ``argv``.
        outputs: Files the command writes on success (relative paths); on an error none of them
            may exist.
        check: Checks a successful result; ``None``: nothing beyond exit code and stderr.
        reference: Independent numbers the checker compares with (closed forms).
        subprocess: Run ``python -m dhstat`` in a child process instead of in-process.
    """

    category: str
    label: str
    argv: tuple[str, ...]
    files: Mapping[str, bytes | None] = field(default_factory=dict)
    expect: Expect = "either"
    culprits: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    check: Checker | None = None
    reference: Mapping[str, Any] = field(default_factory=dict)
    subprocess: bool = False

    def command(self) -> str:
        """The command line as a shell would run it from the case folder."""
        return shlex.join(["dhstat", *self.argv])


@dataclass
class Run:
    """What one command did."""

    code: int | None
    stdout: str
    stderr: str
    exception: str | None = None
    hang: bool = False
    seconds: float = 0.0


@dataclass
class Outcome:
    """A case, what it did, and the verdict."""

    case: Case
    run: Run
    verdict: str
    reasons: list[str]
    folder: Path | None = None
    input_id: int = 0  # the generated input the case belongs to (several cases may share one)

    @property
    def good(self) -> bool:
        """Whether the outcome keeps the promise (a valid result or a clean error)."""
        return self.verdict in GOOD

    def describe(self, *, chars: int = 600) -> str:
        """A few lines: the verdict, the command, the input files, and what happened."""
        case, run = self.case, self.run
        where = f"cd {self.folder} && " if self.folder is not None else ""
        lines = [
            f"[{case.category}] {case.label}: {self.verdict} ({'; '.join(self.reasons)})",
            f"  command: {where}{case.command()}" + ("  (subprocess)" if case.subprocess else ""),
            f"  expect: {case.expect}; exit code: {run.code}",
        ]
        for name, content in case.files.items():
            if content is None:
                lines.append(f"  {name}/ (folder)")
                continue
            shown = content[:chars]
            try:
                text = shown.decode("utf-8")
            except UnicodeDecodeError:
                text = repr(shown)
            more = " ..." if len(content) > chars else ""
            if name.endswith(".root"):
                text = f"<ROOT file, {len(content)} bytes>"
                more = ""
            lines.append(f"  {name}: {text!s}{more}".replace("\n", "\n    "))
        if run.stderr.strip():
            lines.append("  stderr: " + _tail(run.stderr, chars).replace("\n", "\n    "))
        if run.exception:
            lines.append("  exception: " + _tail(run.exception, chars).replace("\n", "\n    "))
        if self.verdict == "wrong_result" and run.stdout.strip():
            lines.append("  stdout: " + _tail(run.stdout, chars).replace("\n", "\n    "))
        return "\n".join(lines)


def _tail(text: str, chars: int) -> str:
    text = text.strip()
    return text if len(text) <= chars else "... " + text[-chars:]


class _Hang(BaseException):
    """Raised by the CPU-time alarm; a BaseException so ``except Exception`` does not eat it."""


class _CurrentStderr(logging.Handler):
    """Log records at WARNING and above to whatever ``sys.stderr`` is now, as the CLI prints them."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"{record.levelname} {record.name}: {record.getMessage()}\n")


_HANDLER = _CurrentStderr(level=logging.WARNING)


@contextlib.contextmanager
def _alarm(cpu: float, wall: float) -> Iterator[None]:
    """Raise :class:`_Hang` after ``cpu`` CPU seconds or ``wall`` seconds, whichever is first.

    Both deliver SIGPROF to the main thread (pytest-timeout owns SIGALRM): the CPU timer, and a
    watchdog thread for the wall clock.
    """

    def _raise(signum: int, frame: Any) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGPROF, _raise)
    signal.setitimer(signal.ITIMER_PROF, cpu)
    main_thread = threading.get_ident()
    watchdog = threading.Timer(wall, signal.pthread_kill, (main_thread, signal.SIGPROF))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
        signal.setitimer(signal.ITIMER_PROF, 0)
        # SIGPROF's default action ends the process: ignore a late one instead
        keep = previous if previous not in {signal.SIG_DFL, None} else signal.SIG_IGN
        signal.signal(signal.SIGPROF, keep)


@contextlib.contextmanager
def _chdir(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def invoke(argv: Sequence[str], folder: Path, *, cpu_limit: float = CPU_LIMIT_S) -> Run:
    """``dhstat.cli.main(argv)`` in this process, from ``folder``, with stdout/stderr captured.

    Warnings are shown as the installed command shows them (once per place, logged at WARNING,
    deprecations hidden), not turned into errors as the test run's filter would.
    """
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    exception = None
    hang = False
    start = time.perf_counter()
    with (
        _chdir(folder),
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ResourceWarning):
            warnings.filterwarnings("ignore", category=category)
        try:
            with _alarm(cpu_limit, WALL_LIMIT_S):
                main(list(argv))
            code = 0
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
        except _Hang:
            hang = True
        except BaseException:  # noqa: BLE001 - every escaped exception is a finding
            exception = traceback.format_exc()
    logging.captureWarnings(False)
    stderr = err.getvalue() + "".join(
        f"WARNING py.warnings: {w.category.__name__}: {w.message}\n" for w in caught
    )
    return Run(code, out.getvalue(), stderr, exception, hang, time.perf_counter() - start)


def _exit_code(code: object) -> int | None:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # sys.exit("message") prints the message and exits 1


def _limit_child() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))


def invoke_subprocess(argv: Sequence[str], folder: Path, *, timeout: float = 300.0) -> Run:
    """``python -m dhstat argv`` in a child process (memory-limited), from ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dhstat", *argv],
            cwd=folder,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
            preexec_fn=_limit_child,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        return Run(None, str(expired.stdout or ""), str(expired.stderr or ""), hang=True)
    seconds = time.perf_counter() - start
    exception = done.stderr if "Traceback (most recent call last)" in done.stderr else None
    return Run(done.returncode, done.stdout, done.stderr, exception, seconds=seconds)


def _files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _write_inputs(case: Case, folder: Path) -> None:
    for name, content in case.files.items():
        path = folder / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def run_case(case: Case, *, keep: Path | None = None) -> Outcome:
    """Write the case's files, run its command, and judge the outcome.

    Args:
        case: The case.
        keep: Folder under which to keep the inputs of a failing case, with its command line
            (for reproduction); the case itself runs in a temporary folder, removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="adv-") as scratch:
        folder = Path(scratch)
        _write_inputs(case, folder)
        before = _files_under(folder)
        run = (invoke_subprocess if case.subprocess else invoke)(case.argv, folder)
        verdict, reasons = judge(case, run, folder, before)
        kept = None
        if keep is not None and verdict not in GOOD:
            kept = _keep(case, keep)
        return Outcome(case, run, verdict, reasons, kept)


def _keep(case: Case, keep: Path) -> Path:
    """Copy the case's inputs (not what the command wrote) to a new folder under ``keep``."""
    keep.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f"{case.category}-", dir=keep))
    _write_inputs(case, target)
    (target / "command.sh").write_text(f"cd {shlex.quote(str(target))} && {case.command()}\n")
    return target


def judge(case: Case, run: Run, folder: Path, before: set[str]) -> tuple[str, list[str]]:
    """The verdict on a run and the reasons for it."""
    new = sorted(_files_under(folder) - before)
    if run.hang:
        return "hang", [f"no result within {CPU_LIMIT_S:g} CPU s or {WALL_LIMIT_S:g} s"]
    if run.exception is not None or "Traceback (most recent call last)" in run.stderr + run.stdout:
        last = (run.exception or run.stderr).strip().splitlines()
        return "traceback", [last[-1] if last else "exception"]
    if run.code == 0:
        return _judge_success(case, run, folder, new)
    if run.code == 2:
        return _judge_error(case, run, new)
    return "bad_error", [f"exit code {run.code}"]


def _judge_success(case: Case, run: Run, folder: Path, new: list[str]) -> tuple[str, list[str]]:
    problems = []
    if case.expect == "fail":
        problems.append("exit 0 for an input that must be rejected")
    temporaries = [name for name in new if _TEMPORARY.fullmatch(Path(name).name)]
    if temporaries:
        problems.append(f"temporary files left behind: {temporaries}")
    missing = [name for name in case.outputs if not (folder / name).is_file()]
    if missing:
        problems.append(f"output not written: {missing}")
    elif case.check is not None:
        try:
            problems += case.check(case, run, folder)
        except Exception as error:  # noqa: BLE001 - a result the checker cannot read is wrong
            problems.append(f"result unreadable: {type(error).__name__}: {error}")
    return ("wrong_result", problems) if problems else ("valid", [])


def _judge_error(case: Case, run: Run, new: list[str]) -> tuple[str, list[str]]:
    lines = run.stderr.strip().splitlines()
    problems = []
    if len(lines) != 1:
        problems.append(f"stderr has {len(lines)} lines, not 1")
    error_lines = [line for line in lines if line.startswith("error: ")]
    line = error_lines[-1] if error_lines else ""
    match = _ERROR_LINE.fullmatch(line)
    if match is None:
        problems.append("no line 'error: ...'")
    elif not _names_culprits(case, line):
        wanted = " and ".join(case.culprits) if case.culprits else "any input file or option"
        problems.append(f"the error does not name {wanted}")
    if new:
        problems.append(f"files written despite the error: {new}")
    if run.stdout.strip():
        problems.append("stdout not empty on an error")
    if problems:
        return "bad_error", problems
    if case.expect == "succeed":
        return "wrong_result", ["a valid input was rejected"]
    return "clean_error", []


def _names_culprits(case: Case, line: str) -> bool:
    if case.culprits:
        return all(any(a in line for a in c.split("|")) for c in case.culprits)
    return any(name in line for name in _argv_names(case))


def _argv_names(case: Case) -> set[str]:
    names = {Path(a).name for a in case.argv if not a.startswith("-") and "." in Path(a).name}
    names |= {a.split("=")[0] for a in case.argv if a.startswith("--")}
    return names


@dataclass
class Tally:
    """Outcomes of one category, counted by verdict."""

    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        """Record one outcome."""
        self.outcomes.append(outcome)

    def count(self, verdict: str) -> int:
        """How many outcomes have ``verdict``."""
        return sum(o.verdict == verdict for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        """The outcomes that break the promise."""
        return [o for o in self.outcomes if not o.good]

    def report(self, *, limit: int = 40) -> str:
        """Counts by verdict and the first ``limit`` failures, described."""
        counts = ", ".join(f"{v} {self.count(v)}" for v in VERDICTS if self.count(v))
        lines = [f"{len(self.outcomes)} cases: {counts}"]
        lines += [o.describe() for o in self.failures[:limit]]
        if len(self.failures) > limit:
            lines.append(f"... and {len(self.failures) - limit} more failures")
        return "\n".join(lines)


def assert_promise(outcomes: Sequence[Outcome]) -> None:
    """Fail with every broken case described, if any case broke the promise."""
    tally = Tally(list(outcomes))
    assert outcomes, "no case was generated"
    assert not tally.failures, tally.report()
