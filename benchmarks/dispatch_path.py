"""Where a cached launch's time goes, step by step, for a backend whose native arrays are NumPy's
(numba, numpy): the one-work-item ``tiny`` kernel launched five ways, interleaved in one process.

    python -m benchmarks.dispatch_path [--backend numba] [--rounds 5] [--launches 20000]

- ``subscript``: ``kernel.on(b)[1](x)``, the whole user-facing call, subscript included;
- ``kept``: ``launch(x)`` with ``launch = kernel.on(b)[1]`` made once;
- ``run``: ``portakern.runtime.launch.run(...)``, the runtime without the launch object;
- ``plan``: the kernel's recorded fast-path plan (guards, counters, result) and the launcher;
- ``launcher``: the backend's compiled launcher alone.

No sync is needed: these backends return when the kernel has run. Run as a script it uses one Numba
thread (``NUMBA_NUM_THREADS=1`` unless set, before Numba starts), so the OpenMP wake-up is not in the
figures; imported, it leaves the process's settings alone. Best of ``--rounds``, microseconds per
launch. docs/benchmarks.md (Dispatch) quotes it.
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any


def steps(backend: str) -> tuple[Any, dict[str, Callable[[], object]]]:
    """The array ``tiny`` adds one to, and the five ways of launching it on ``backend``."""
    import numpy as np

    from portakern.runtime import launch

    from .kernels import tiny

    x = np.zeros(1, np.float32)
    bound = tiny.on(backend)
    kept = bound[1]
    kept(x)
    plan = tiny._plans[kept.plan_key]
    natives = [x]
    return x, {
        "subscript": lambda: tiny.on(backend)[1](x),
        "kept": lambda: kept(x),
        "run": lambda: launch.run(tiny, (1,), None, False, (x,), backend, None),
        "plan": lambda: plan.run((x,), launch.results_of),
        "launcher": lambda: plan.c.launcher(plan.grid, natives),
    }


def measure(backend: str, rounds: int, launches: int) -> dict[str, float]:
    """Best-of-``rounds`` microseconds per launch of each step, the steps interleaved."""
    fns = steps(backend)[1]
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(launches):
                f()
            best[k] = min(best[k], (time.perf_counter() - t0) / launches * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dispatch_path")
    p.add_argument("--backend", default="numba", choices=["numba", "numpy"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--launches", type=int, default=20000)
    args = p.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")    # (a script: Numba has not started yet)
    for k, v in measure(args.backend, args.rounds, args.launches).items():
        print(f"{k:10s} {v:6.2f} us")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
