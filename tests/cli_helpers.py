"""Running the command line in-process in tests: exit code, standard output and standard error."""

from __future__ import annotations

import pytest

from dhstat.cli import main


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``dhstat ARGV`` in this process; its exit code (0 when it returns) and output."""
    capsys.readouterr()
    try:
        main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    else:
        code = 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err
