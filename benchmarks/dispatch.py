"""Cached-launch overhead: portakern's launch of a one-work-item kernel against the same launch written
directly in each framework (Numba ``prange``, ``jax.jit``, PyOpenCL ``set_args`` + ``enqueue``), and the
backend's own launcher called without the runtime in front of it.

    python -m benchmarks.dispatch [--backends numba,jax,opencl] [--seconds 1.0] [--rounds 3]

Sides run interleaved (timing.launch_overheads), each launch followed by its sync. ``OMP_WAIT_POLICY``
is set to PASSIVE unless given: with the default (spinning) policy an idle OpenMP pool of one framework
steals the cores of the next, and numba's launch swings between 3 us and milliseconds on a loaded
machine. Figures from this script are quoted in docs/benchmarks.md (Dispatch).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

from portakern.bench import machine, runner, suite, timing
from portakern.runtime import config


def _launcher_only(side: Any, case: Any, inputs: dict[str, Any]) -> Any:
    """The backend's compiled launcher on ready native arrays: what the runtime adds is the rest."""
    run = side.prepare(case, 1, inputs)
    run()
    kern = getattr(side.kernels, case.name)
    plans = list(getattr(kern, "_plans", {}).values())
    if not plans:
        return None
    plan = plans[-1]
    natives = [side.be.from_host(a, side.dev) if isinstance(a, np.ndarray) else a for a in (inputs["x"],)]
    launcher, grid = plan.c.launcher, plan.grid
    return lambda: launcher(grid, natives) or {"x": natives[0]}


def measure(backend: str, seconds: float) -> dict[str, float]:
    """Median microseconds per launch+sync of each side on ``backend``."""
    cases = suite.submodule("cases")
    case = cases.TINY
    inputs = case.make(1, np.random.default_rng(0))
    fw = suite.submodule("frameworks").make(backend)
    builders = __import__(f"{suite.NAME}.baselines.{runner._BASELINE_MODULES[backend]}", fromlist=["BUILDERS"]).BUILDERS
    sync = runner._sync_for(fw)
    side = runner._PortakernSide(backend)
    dev = {k: fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    sides: dict[str, Any] = {"portakern": side.prepare(case, 1, inputs), "native": builders["tiny"](dev, 1, fw)}
    only = _launcher_only(side, case, inputs)
    if only is not None:
        sides["launcher"] = only
    us = timing.launch_overheads([(run, sync) for run in sides.values()], seconds, max_runs=200_000)
    return {k: round(v, 2) for k, v in zip(sides, us, strict=True)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dispatch")
    p.add_argument("--backends", default="numba,jax,opencl")
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    omp = config.bench_openmp_wait_policy()     # as portakern bench does, before any framework loads
    out: dict[str, Any] = {"load_average": os.getloadavg(), "omp_wait_policy": omp,
                           "cpu": machine.cpu_name(), "results": {}}
    for b in [s.strip() for s in args.backends.split(",") if s.strip()]:
        rounds = [measure(b, args.seconds) for _ in range(args.rounds)]
        best = {k: min(r[k] for r in rounds) for k in rounds[0]}
        out["results"][b] = {"rounds": rounds, "best": best, "added_us": round(best["portakern"] - best["native"], 2)}
        print(f"{b:8s} " + "  ".join(f"{k} {v:7.2f} us" for k, v in best.items())
              + f"  (portakern - native: {best['portakern'] - best['native']:+.2f} us)", flush=True)
    print(f"load average {out['load_average'][0]:.2f}, OMP_WAIT_POLICY={out['omp_wait_policy']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
