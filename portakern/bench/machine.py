"""What machine a benchmark ran on: CPU, cores, memory, versions (and the measured bandwidth)."""
from __future__ import annotations

import os
import platform
import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("portakern", "numpy", "numba", "numba-cuda", "pyopencl", "jax", "jaxlib", "cupy-cuda13x", "cupy-cuda12x"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def describe() -> dict[str, Any]:
    """The ``machine`` section of the JSON report (without the bandwidth, added by the runner)."""
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count() or 1,
        "memory_gib": round(_memory_gib() or 0.0, 1),
        "os": f"{platform.system()} {platform.release()}",
        "hostname": platform.node(),
        "python": sys.version.split()[0],
        "versions": _versions(),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none): a run's figures are only as
    quiet as the machine was."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None
