"""What every benchmark prints first: the machine and how busy it was."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """Usable cores, CPU model, Python version and load average (timings depend on all four)."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    cores = f"{len(os.sched_getaffinity(0))} usable cores of {os.cpu_count()}"
    return f"{cores}, {model}, Python {platform.python_version()}, load average {load}"
