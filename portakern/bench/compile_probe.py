"""Cold compile and warm start, each in a new process.

Cold: a new process with an empty ``PORTAKERN_CACHE_DIR`` launches each kernel once (compile +
one launch at the tiny size). Warm: another new process with the cache the first one filled (load
from disk + one launch). Before timing, each child runs the dispatch probe kernel once so that
importing the framework and opening its device are not charged to the first benchmark kernel.

Run as ``python -m portakern.bench.compile_probe --backend B --kernels a,b --cache-dir DIR``;
prints one JSON object ``{kernel: seconds, "_init_s": seconds, "_cache": {...}}``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any


def _child(backend: str, kernels: list[str], cache_dir: str) -> dict[str, Any]:
    # Written before portakern is imported, so portakern.runtime.config reads it as usual.
    os.environ["PORTAKERN_CACHE_DIR"] = cache_dir
    import numpy as np

    from portakern.bench import suite
    from portakern.bench.runner import _PortakernSide

    cases = suite.submodule("cases")
    fw = suite.submodule("frameworks").make(backend)
    t0 = time.perf_counter()
    side = _PortakernSide(backend)
    tiny = cases.TINY
    outs = side.prepare(tiny, 1, tiny.make(1, np.random.default_rng(0)))()
    fw.sync(list(outs.values()))
    result: dict[str, Any] = {"_init_s": time.perf_counter() - t0}
    stats: dict[str, Any] = {}
    for name in kernels:
        case = cases.BY_NAME[name]
        n = case.sizes["tiny"]
        run = side.prepare(case, n, case.make(n, np.random.default_rng(0)))
        t0 = time.perf_counter()
        outs = run()
        fw.sync(list(outs.values()))
        result[name] = time.perf_counter() - t0
        kern = getattr(side.kernels, name)
        info = getattr(kern, "cache_info", None)
        if callable(info):
            try:
                stats[name] = dict(info())
                stats[name]["framework_builds"] = sum(
                    c.launcher.framework_builds() for c in kern._compiled.values())
            except Exception:  # noqa: BLE001 - statistics are informative only
                pass
    result["_cache"] = stats
    return result


def _spawn(backend: str, kernels: list[str], cache_dir: str, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "portakern.bench.compile_probe", "--backend", backend,
           "--kernels", ",".join(kernels), "--cache-dir", cache_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"compile probe for {backend} failed (exit {proc.returncode}): {tail[0][:300]}")
    return json.loads(lines[-1])


def measure(backend: str, kernels: list[str], timeout: float = 600.0) -> dict[str, Any]:
    """``{kernel: {"cold": s, "warm": s}}`` for ``kernels`` on ``backend`` (two new processes)."""
    with tempfile.TemporaryDirectory(prefix="portakern-bench-cache-") as cache_dir:
        cold = _spawn(backend, kernels, cache_dir, timeout)
        warm = _spawn(backend, kernels, cache_dir, timeout)
    out: dict[str, dict[str, Any]] = {
        k: {"cold": _round(cold.get(k)), "warm": _round(warm.get(k))} for k in kernels}
    out["_process"] = {"cold_init_s": _round(cold.get("_init_s")), "warm_init_s": _round(warm.get("_init_s")),
                       "cold_cache": cold.get("_cache"), "warm_cache": warm.get("_cache")}
    return out


def _round(v: Any) -> float | None:
    return None if v is None else round(float(v), 4)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process."""
    p = argparse.ArgumentParser(prog="python -m portakern.bench.compile_probe")
    p.add_argument("--backend", required=True)
    p.add_argument("--kernels", required=True)
    p.add_argument("--cache-dir", required=True)
    a = p.parse_args(argv)
    print(json.dumps(_child(a.backend, [k for k in a.kernels.split(",") if k], a.cache_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
