"""Warm start: a new process launching a kernel another process compiled (the disk cache is filled).

    python -m benchmarks.warmstart [--backends numba,jax] [--kernels saxpy] [--repeats 3] [--profile]

One child process fills a fresh ``PORTAKERN_CACHE_DIR`` (cold: compile + launch), then ``--repeats``
new children launch the same kernels from it (warm). Each child reports what costs what, in order:
importing NumPy, portakern, the suite's kernels (decorating them: no compile), the backend's
framework (numba / jax, imported by portakern on first use, timed here on its own), the first launch
of a tiny dispatch kernel (the backend's device and first-call setup), then each kernel's first launch
(analysis, disk-cache load, the launch itself), and the disk hits and builds that prove where it came
from. ``--profile`` prints the top functions of the warm first launch (cProfile, cumulative).
Figures from this script are quoted in docs/benchmarks.md (Warm start).
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

_FRAMEWORK = {"numba": "numba", "jax": "jax", "opencl": "pyopencl", "numpy": "numpy"}


def _native(backend: str, kernels: list[str], t: dict[str, Any], suite: Any, cases: Any, np: Any) -> dict[str, Any]:
    """The same first call written directly in the framework: Numba's ``@njit(cache=True)`` (loaded from
    Numba's own cache) or ``jax.jit`` (which compiles: JAX's persistent cache is off by default)."""
    fw = suite.submodule("frameworks").make(backend)
    t0 = time.perf_counter()
    builders = suite.submodule(f"baselines.{backend}_").BUILDERS
    t["import_baselines_s"] = time.perf_counter() - t0
    for name in kernels:
        case = cases.BY_NAME[name]
        n = case.sizes["tiny"]
        dev = {k: fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in case.make(n, np.random.default_rng(0)).items()}
        run = builders[name](dev, n, fw)
        t0 = time.perf_counter()
        fw.sync(list(run().values()))
        t[f"first_launch_{name}_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        fw.sync(list(run().values()))
        t[f"second_launch_{name}_s"] = time.perf_counter() - t0
    return t


def _child(backend: str, kernels: list[str], profile: bool, native: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {}
    t0 = time.perf_counter()
    import numpy as np
    t["import_numpy_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    import portakern  # noqa: F401
    from portakern.bench import suite
    t["import_portakern_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    kmod = suite.submodule("kernels")
    cases = suite.submodule("cases")
    t["import_suite_kernels_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    __import__(_FRAMEWORK[backend])
    t["import_framework_s"] = time.perf_counter() - t0
    if backend == "numba":
        # Numba's first-call setup, paid by any first compile or cache load in a process (its own
        # cache=True functions too): loading every typing/lowering registry (numba.np.arraymath
        # imports scipy.linalg for BLAS). Timed on its own so the first launch shows the rest.
        from numba.core.registry import cpu_target
        t0 = time.perf_counter()
        cpu_target.target_context.refresh()
        t["numba_first_call_setup_s"] = time.perf_counter() - t0
    if native:
        return _native(backend, kernels, t, suite, cases, np)
    from portakern.runtime import registry
    be = registry.get_backend(backend)
    dev = be.device()
    for name in kernels:
        case = cases.BY_NAME[name]
        n = case.sizes["tiny"]
        inputs = case.make(n, np.random.default_rng(0))
        consts = case.constexprs(n)
        kern = getattr(kmod, name)
        import inspect
        order = list(inspect.signature(kern.fn).parameters)
        args = tuple((be.from_host(inputs[p].copy(), dev) if isinstance(inputs.get(p), np.ndarray) else inputs[p])
                     if p in inputs else consts[p] for p in order)
        nd, wg = case.grid(n)
        launch = kern.on(backend)[nd, wg]
        prof = None
        if profile:
            import cProfile
            prof = cProfile.Profile()
            prof.enable()
        t0 = time.perf_counter()
        res = launch(*args)
        for r in (res if isinstance(res, tuple) else (res,)):
            if hasattr(r, "block_until_ready"):
                r.block_until_ready()
        t[f"first_launch_{name}_s"] = time.perf_counter() - t0
        if prof is not None:
            import io
            import pstats
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
            t[f"profile_{name}"] = buf.getvalue()
        t[f"cache_{name}"] = dict(kern.cache_info())
        t0 = time.perf_counter()
        launch(*args)
        t[f"second_launch_{name}_s"] = time.perf_counter() - t0
    return t


def _spawn(backend: str, kernels: list[str], cache_dir: str, profile: bool = False, native: bool = False
           ) -> dict[str, Any]:
    # Python's own bytecode cache as a user has it (this VM sets PYTHONDONTWRITEBYTECODE=1), in the
    # run's folder: the cold process writes it, the warm ones read it.
    env = dict(os.environ, PORTAKERN_CACHE_DIR=cache_dir, PYTHONPYCACHEPREFIX=os.path.join(cache_dir, "pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NUMBA_CACHE_DIR"] = os.path.join(cache_dir, "numba")      # Numba's own cache, for the native side
    cmd = [sys.executable, "-m", "benchmarks.warmstart", "--child", "--backends", backend,
           "--kernels", ",".join(kernels)] + (["--profile"] if profile else []) + (["--native"] if native else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=600)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{backend} child failed: {(proc.stderr or proc.stdout)[-800:]}")
    out = json.loads(lines[-1])
    out["process_wall_s"] = wall
    return out


def _fmt(v: Any) -> str:
    return f"{v * 1e3:8.1f} ms" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.warmstart")
    p.add_argument("--backends", default="numba,jax")
    p.add_argument("--kernels", default="saxpy")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--native", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    kernels = [k for k in a.kernels.split(",") if k]
    if a.child:
        print(json.dumps(_child(a.backends, kernels, a.profile, a.native)))
        return 0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    report: dict[str, Any] = {"python_startup_s": time.perf_counter() - t0, "load_average": os.getloadavg(),
                              "backends": {}}
    print(f"python startup (python -c pass): {_fmt(report['python_startup_s'])}")
    for b in [s for s in a.backends.split(",") if s]:
        with tempfile.TemporaryDirectory(prefix="portakern-warmstart-") as cache:
            cold = _spawn(b, kernels, cache)
            warm = [_spawn(b, kernels, cache, a.profile and i == 0) for i in range(a.repeats)]
            native = [_spawn(b, kernels, cache, native=True) for _ in range(a.repeats + 1)][1:]   # the first fills
        report["backends"][b] = {"cold": cold, "warm": warm, "native": native}
        print(f"\n{b}: cold (compiles) then {a.repeats} warm processes; medians of the warm ones")
        keys = [k for k in cold if k.endswith("_s")]
        for k in keys:
            vals = sorted(w[k] for w in warm)
            print(f"  {k:32s} cold {_fmt(cold[k])}   warm {_fmt(vals[len(vals) // 2])}")
        for k in [k for k in native[0] if k.endswith("_s")]:
            vals = sorted(w[k] for w in native)
            print(f"  native {k:25s} warm {_fmt(vals[len(vals) // 2])}")
        for name in kernels:
            print(f"  cache {name}: cold {cold[f'cache_{name}']}  warm {warm[0][f'cache_{name}']}")
            if a.profile:
                print(warm[0][f"profile_{name}"])
    la = report["load_average"]
    print(f"\nload average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
