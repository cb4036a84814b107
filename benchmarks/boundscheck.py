"""The cost of the default bounds checks: each kernel with ``boundscheck=True`` against the same
kernel with ``boundscheck=False``, on the same arrays, runs interleaved (``paired_ratio``).

    python -m benchmarks.boundscheck [--backends numba,opencl] [--kernels saxpy,jacobi2d] [--size small]

Prints one line per (backend, kernel): the median times and the median per-round ratio
checked / unchecked (1.05 = checks cost 5 %). The figures in docs/safety.md come from this script.
Only backends whose generated code changes with the setting are worth measuring (numba, opencl,
cuda, numba-cuda); numpy checks every access regardless, and jax only under ``debug``.
"""
from __future__ import annotations

import argparse
import inspect
from typing import Any

import numpy as np

import portakern as pk
from portakern.bench.timing import Plan, paired_ratio, side_by_side

from . import cases, kernels

CASES = {"saxpy": cases.SAXPY, "jacobi2d": cases.JACOBI, "matmul": cases.MATMUL, "softmax": cases.SOFTMAX}


def _sync(backend: str) -> Any:
    if backend == "jax":
        import jax

        return lambda out: jax.block_until_ready(out)
    if backend == "opencl":
        return lambda out: [o.queue.finish() for o in (out if isinstance(out, tuple) else (out,))]
    return lambda out: None


def measure(backend: str, name: str, size: str, plan: Plan) -> tuple[float, float, float]:
    """(checked median s, unchecked median s, paired ratio checked/unchecked) for one kernel."""
    case = CASES[name]
    n = case.sizes[size]
    be = pk.get_backend(backend)
    dev = be.device()
    inputs = case.make(n, np.random.default_rng(0))
    native = {k: be.from_host(v.copy(), dev) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    fn = getattr(kernels, name).fn
    order = list(inspect.signature(fn).parameters)
    consts = case.constexprs(n)
    args = tuple(native[p] if p in native else consts[p] for p in order)
    nd, wg = case.grid(n)
    sync = _sync(backend)
    runs = []
    for checked in (True, False):
        launch = pk.kernel(fn, boundscheck=checked).on(backend)[nd, wg]
        sync(launch(*args))                                         # compile outside the timing
        runs.append(((lambda launch=launch: launch(*args)), sync))
    on, off = side_by_side(runs, plan)
    return on.median_s, off.median_s, paired_ratio(on.times, off.times)


def main(argv: list[str] | None = None) -> None:
    """Print the checked/unchecked ratios."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", default="numba")
    p.add_argument("--kernels", default=",".join(CASES))
    p.add_argument("--size", default="small", choices=cases.SIZE_NAMES)
    p.add_argument("--budget", type=float, default=3.0, help="seconds per measurement")
    a = p.parse_args(argv)
    plan = Plan(warmup=2, min_repeats=7, max_repeats=60, budget_s=a.budget)
    print(f"{'backend':10} {'kernel':9} {'size':>8} {'checked ms':>11} {'unchecked ms':>13} {'ratio':>6}")
    for backend in a.backends.split(","):
        for name in a.kernels.split(","):
            on, off, ratio = measure(backend, name, a.size, plan)
            print(f"{backend:10} {name:9} {CASES[name].shape(CASES[name].sizes[a.size]):>8} "
                  f"{on * 1e3:11.3f} {off * 1e3:13.3f} {ratio:6.3f}", flush=True)


if __name__ == "__main__":
    main()
