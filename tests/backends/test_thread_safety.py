"""Launches from several Python threads at once, on every backend: each thread passes its own scalar and
arrays and must get exactly its own result back, and an index error must reach the thread whose launch
caused it and no other. ``sys.setswitchinterval(1e-6)`` makes the interpreter switch threads every few
bytecodes, so state shared between the steps of a launch (a kernel object's arguments, an error
record) is caught in the act.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry

THREADS = 8
#: launches per thread (numba-cuda runs in Numba's CUDA simulator at ~1 ms a launch)
LAUNCHES = {"numba-cuda": 25}
DEFAULT_LAUNCHES = 500
N = 16


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _runnable(backend: str) -> None:
    b = registry.get_backend(backend)
    if not b.is_available():
        pytest.skip(f"backend {backend!r} cannot run here: {b.unavailable_reason()}")


def _in_threads(work: Callable[[int], list[str]]) -> list[str]:
    """Run ``work(t)`` in THREADS threads started together; every failure message, exceptions included."""
    failures: list[str] = []
    start = threading.Barrier(THREADS)

    def body(t: int) -> None:
        try:
            start.wait()
            failures.extend(work(t))
        except BaseException as exc:  # noqa: BLE001 - reported as a failure of this thread
            failures.append(f"thread {t}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return failures


def _affine() -> Any:
    @pk.kernel(debug=True)
    def affine(a, x, y):
        i = pk.global_id(0)
        y[i] = x[i] * a + 7
    return affine


def test_threads_get_their_own_results_and_errors(backend: str, fast_switching: None) -> None:
    _runnable(backend)
    k = _affine().on(backend)
    k[N](np.int64(1), np.zeros(N, np.int64), np.zeros(N, np.int64))      # compiled once, up front
    launches = LAUNCHES.get(backend, DEFAULT_LAUNCHES)
    done: dict[int, tuple[int, int]] = {}                     # thread -> (good launches, index errors)

    def work(t: int) -> list[str]:
        a = np.int64(t + 2)                                   # every thread its own scalar and arrays
        x = np.arange(N, dtype=np.int64) * (t + 1) + 1000 * t
        expected = x * (t + 2) + 7
        y = np.full(N, -1, np.int64)
        bad: list[str] = []
        good = errors = 0
        for r in range(launches):
            if t % 2 and r % 10 == 3:                         # odd threads: an out-of-bounds launch
                try:
                    k[N + 1](a, x, y)
                    bad.append(f"thread {t} launch {r}: no KernelIndexError for ndrange {N + 1}")
                except pk.KernelIndexError as exc:
                    errors += 1
                    if f"index ({N},)" not in str(exc):
                        bad.append(f"thread {t} launch {r}: {exc}")
                continue
            y[:] = -1
            out = k[N](a, x, y)
            good += 1
            if out is not y or not np.array_equal(y, expected):
                bad.append(f"thread {t} launch {r}: got {y[:4]}..., expected {expected[:4]}...")
        done[t] = (good, errors)
        return bad

    failures = _in_threads(work)
    good, errors = (sum(v[i] for v in done.values()) for i in (0, 1))
    print(f"{backend}: {good} launches, {errors} index errors, {len(failures)} failures")
    assert failures == []
    oob = (THREADS // 2) * len(range(3, launches, 10))
    assert (good, errors) == (THREADS * launches - oob, oob)


def test_threads_launching_a_new_kernel_at_once_compile_it_once(backend: str, fast_switching: None) -> None:
    _runnable(backend)
    k = _affine()
    bound = k.on(backend)

    def work(t: int) -> list[str]:
        x = np.arange(N, dtype=np.int64) + t
        y = np.zeros(N, np.int64)
        bound[N](np.int64(t), x, y)
        return [] if np.array_equal(y, x * t + 7) else [f"thread {t}: got {y[:4]}..."]

    assert _in_threads(work) == []
    info = k.cache_info()
    assert info["entries"] == 1
    assert info["builds"] + info["disk_hits"] == 1             # one thread compiled, seven waited for it


def test_jax_threads_missing_at_once_compile_one_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    _runnable("jax")
    import portakern_jax.launch as jax_launch

    compiles: list[int] = []
    real = jax_launch._compile
    monkeypatch.setattr(jax_launch, "_compile", lambda *a: compiles.append(1) or real(*a))

    @pk.kernel                            # (no debug: debug launches are not compiled ahead)
    def affine(a, x, y):
        i = pk.global_id(0)
        y[i] = x[i] * a + 7
    bound = affine.on("jax")

    def work(t: int) -> list[str]:
        x = np.arange(N, dtype=np.int64) - t
        y = np.zeros(N, np.int64)
        bound[N](np.int64(t), x, y)
        return [] if np.array_equal(y, x * t + 7) else [f"thread {t}: got {y[:4]}..."]

    assert _in_threads(work) == []
    assert len(compiles) == 1


class _FakeArray:
    """What the opencl launcher reads of a pyopencl array."""

    offset = 0
    shape = (N,)

    def __init__(self, tag: int) -> None:
        self.base_data = tag


def test_opencl_threads_never_mix_their_kernel_arguments(monkeypatch: pytest.MonkeyPatch,
                                                         fast_switching: None) -> None:
    """PyOpenCL's ``kernel(queue, ...)`` sets the arguments on the cl.Kernel, then enqueues it. A fake
    cl.Kernel that yields to other threads between the two steps shows whether a launch can enqueue
    another thread's arguments (runs without an OpenCL compiler)."""
    cl = pytest.importorskip("pyopencl")
    import time

    import portakern_opencl.launch as cl_launch

    from portakern.runtime.backend import Device, LaunchGrid

    class FakeProgram:
        def __init__(self, *args: Any) -> None:
            pass

        def build(self, options: Any = None) -> FakeProgram:
            return self

    class FakeKernel:
        def __init__(self, program: Any, entry: str) -> None:
            self.args: tuple[Any, ...] = ()

        def set_scalar_arg_dtypes(self, dtypes: Any) -> None:
            pass

        def __call__(self, queue: Any, g: Any, local: Any, *args: Any) -> None:
            self.args = args                  # clSetKernelArg ...
            time.sleep(0)                     # ... another thread may run here ...
            enqueued.append((threading.get_ident(), self.args))     # ... clEnqueueNDRangeKernel

    class FakeHandle:
        context = queue = None

        class device:                         # noqa: N801 - stands in for a cl.Device
            max_work_group_size = 256
            single_fp_config = 0

    monkeypatch.setattr(cl, "Program", FakeProgram)
    monkeypatch.setattr(cl, "Kernel", FakeKernel)
    enqueued: list[tuple[int, tuple[Any, ...]]] = []

    @pk.kernel(boundscheck=False)            # no error-record buffer: the fake has no OpenCL context
    def affine(a, x, y):
        i = pk.global_id(0)
        y[i] = x[i] * a + 7

    args = (np.int64(1), np.zeros(N, np.int64), np.zeros(N, np.int64))
    kir = affine._specialize("numpy", args, None, None)[3]
    device = Device("opencl", "fake", "fake", FakeHandle())
    launcher = cl_launch.load(kir, cl_launch._MAGIC + bytes(8), device, "affine")
    grid = LaunchGrid((N,), None)
    owner: dict[int, int] = {}

    def work(t: int) -> list[str]:
        owner[threading.get_ident()] = t
        for _ in range(200):
            launcher(grid, [np.int64(t), _FakeArray(100 + t), _FakeArray(200 + t)])
        return []

    assert _in_threads(work) == []
    mixed = [(owner[ident], a[:3]) for ident, a in enqueued
             if (a[0], a[1], a[2]) != (owner[ident], 100 + owner[ident], 200 + owner[ident])]
    assert len(enqueued) == THREADS * 200
    assert mixed == [], f"{len(mixed)} launches enqueued another thread's arguments, e.g. {mixed[:2]}"
