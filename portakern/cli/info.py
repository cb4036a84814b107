"""``portakern info [--json]``: backends, versions, devices and capabilities (and why one is missing)."""
from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

import numpy as np

from .. import __version__
from ..runtime import config, registry


def add_parser(subparsers: Any) -> None:
    """Register ``info``."""
    p = subparsers.add_parser("info", help="backends, versions, devices and capabilities",
                              description="List every backend: available or not (and why), version, "
                                          "devices and capabilities.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def collect() -> dict[str, Any]:
    """Everything ``info`` reports, as plain data."""
    return {
        "portakern": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "default_cpu_preference": list(registry.CPU_PREFERENCE),
        "cache_dir": str(config.cache_dir()),
        "disk_cache": config.disk_cache_enabled(),
        "backends": registry.backend_info(),
    }


def run(args: argparse.Namespace) -> int:
    """Print the report."""
    data = collect()
    if args.json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    out = [f"portakern {data['portakern']} (Python {data['python']}, NumPy {data['numpy']}, {data['platform']})",
           f"default CPU backend preference: {', '.join(data['default_cpu_preference'])}",
           f"kernel cache: {data['cache_dir']}" + ("" if data["disk_cache"] else " (disk cache off)"), ""]
    for name, entry in data["backends"].items():
        status = "available" if entry["available"] else "unavailable"
        out.append(f"{name:<12} {status:<12} {entry['version'] or '-'}")
        if not entry["available"]:
            out.append(f"    why: {' '.join(str(entry['reason']).split())}")   # one line, even for tracebacks
            out.append(f"    fix: {entry['install']}")
        for dev in entry["devices"]:
            out.append(f"    device {dev['key']}: {dev['name']}")
            caps = dev["capabilities"]
            flags = [k for k, v in caps.items() if v is True]
            other = [f"{k}={v}" for k, v in caps.items() if not isinstance(v, bool)]
            out.append("      " + " ".join(flags + other))
    print("\n".join(out))
    return 0
