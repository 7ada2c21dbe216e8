"""Entry point for ``python -m dhstat``."""

from __future__ import annotations

from dhstat.cli import main

main()
