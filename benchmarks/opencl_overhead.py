"""opencl backend vs hand-written PyOpenCL: launch overhead, saxpy and a work-group reduction.

    python benchmarks/opencl_overhead.py [--quick]

Prints medians (interleaved runs, so machine noise hits both sides alike). Figures from this
script are quoted in docs/backends/opencl.md.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pyopencl as cl
import pyopencl.array as cla

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.backend import LaunchGrid

HAND = r"""
__kernel void saxpy(float a, __global const float* x, __global const float* y, __global float* out, long n)
{
    long i = get_global_id(0);
    if (i < n) out[i] = a * x[i] + y[i];
}
__kernel void tiny(__global float* out, long n)
{
    long i = get_global_id(0);
    if (i < n) out[i] = 1.0f;
}
__kernel void wg_sum(__global const float* x, __global float* partial, long n)
{
    __local float t[256];
    long lid = get_local_id(0);
    long i = get_global_id(0);
    t[lid] = i < n ? x[i] : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (long s = 128; s > 0; s >>= 1) {
        if (lid < s) t[lid] += t[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) partial[get_group_id(0)] = t[0];
}
"""


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@pk.kernel
def tiny(out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = 1.0


@pk.kernel
def wg_sum(x, partial):
    t = pk.local_array(256, pk.float32)
    lid = pk.local_id(0)
    i = pk.global_id(0)
    t[lid] = x[i] if i < x.shape[0] else pk.float32(0.0)
    pk.barrier()
    s = 128
    while s > 0:
        if lid < s:
            t[lid] += t[lid + s]
        pk.barrier()
        s //= 2
    if lid == 0:
        partial[pk.group_id(0)] = t[0]


def _median_us(fn, reps: int, inner: int, queue) -> float:
    times = []
    for _ in range(reps):
        queue.finish()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        queue.finish()
        times.append((time.perf_counter() - t0) / inner * 1e6)
    return statistics.median(times)


def _enqueue_us(fn, inner: int, queue) -> float:
    """Host-side cost of one launch: calls timed without waiting (the queue is drained untimed)."""
    queue.finish()
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    dt = time.perf_counter() - t0
    queue.finish()
    return dt / inner * 1e6


def _pair_enqueue(a, b, reps: int, inner: int, queue) -> tuple[float, float]:
    ta = [_enqueue_us(a, inner, queue) for _ in range(1)]
    tb = [_enqueue_us(b, inner, queue) for _ in range(1)]
    for _ in range(reps):
        ta.append(_enqueue_us(a, inner, queue))
        tb.append(_enqueue_us(b, inner, queue))
    return statistics.median(ta), statistics.median(tb)


def _pair(a, b, reps: int, inner: int, queue) -> tuple[float, float]:
    ta, tb = [], []
    for _ in range(reps):            # interleave so load on the shared machine hits both
        ta.append(_median_us(a, 1, inner, queue))
        tb.append(_median_us(b, 1, inner, queue))
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    opts = ap.parse_args()
    reps = 5 if opts.quick else 15
    be = registry.get_backend("opencl")
    dev = be.device()
    queue = dev.handle.queue
    prg = cl.Program(dev.handle.context, HAND).build(options=["-cl-std=CL1.2"])

    # --- launch overhead: one work-item, arguments already on the device ----------------------
    out1 = cla.zeros(queue, 1, np.float32)
    hk = cl.Kernel(prg, "tiny")

    def hand_launch():
        hk.set_args(out1.data, np.int64(1))
        cl.enqueue_nd_range_kernel(queue, hk, (1,), None)

    tiny.on("opencl")[1](out1)                    # compile and cache
    kir = tiny._specialize("opencl", (out1,), None, None)[3]
    launcher = be.load(kir, be.build(kir, be.render(kir), dev), dev)
    grid = LaunchGrid((1,), None)
    args = [out1]
    bound = tiny.on("opencl")[1]
    h, g = _pair(hand_launch, lambda: launcher(grid, args), reps, 2000, queue)
    _, api = _pair(hand_launch, lambda: bound(out1), reps, 2000, queue)
    print(f"launch round trip (1000s of launches, then finish): hand set_args+enqueue {h:.1f} us | "
          f"portakern launcher {g:.1f} us ({g - h:+.1f}) | full API kernel.on('opencl')[1](arr) {api:.1f} us "
          f"({api - h:+.1f})")
    h, g = _pair_enqueue(hand_launch, lambda: launcher(grid, args), reps, 200, queue)
    _, api = _pair_enqueue(hand_launch, lambda: bound(out1), reps, 200, queue)
    print(f"host cost per launch (enqueue only): hand {h:.1f} us | portakern launcher {g:.1f} us "
          f"({g - h:+.1f}) | full API {api:.1f} us ({api - h:+.1f})")

    # --- saxpy ---------------------------------------------------------------------------------
    n = 1 << (20 if opts.quick else 23)
    x = cla.to_device(queue, np.random.default_rng(0).random(n, dtype=np.float32))
    y = cla.to_device(queue, np.ones(n, np.float32))
    out = cla.zeros(queue, n, np.float32)
    hs = cl.Kernel(prg, "saxpy")
    hs.set_args(np.float32(2), x.data, y.data, out.data, np.int64(n))
    saxpy.on("opencl")[n](np.float32(2), x, y, out)
    bs = saxpy.on("opencl")[n]
    h, g = _pair(lambda: cl.enqueue_nd_range_kernel(queue, hs, (n,), (256,)),
                 lambda: bs(np.float32(2), x, y, out), reps, 10, queue)
    np.testing.assert_array_equal(out.get(), 2 * x.get() + 1)
    print(f"saxpy n={n}: hand {h:.0f} us | portakern {g:.0f} us | ratio {g / h:.3f} "
          f"({3 * 4 * n / g / 1e3:.1f} GB/s)")

    # --- work-group reduction ------------------------------------------------------------------
    groups = n // 256
    partial = cla.zeros(queue, groups, np.float32)
    hr = cl.Kernel(prg, "wg_sum")
    hr.set_args(x.data, partial.data, np.int64(n))
    wg_sum.on("opencl")[n, 256](x, partial)
    br = wg_sum.on("opencl")[n, 256]
    h, g = _pair(lambda: cl.enqueue_nd_range_kernel(queue, hr, (n,), (256,)),
                 lambda: br(x, partial), reps, 10, queue)
    np.testing.assert_allclose(partial.get(), x.get().reshape(-1, 256).sum(1), rtol=1e-5)
    print(f"work-group reduction n={n}: hand {h:.0f} us | portakern {g:.0f} us | ratio {g / h:.3f}")


if __name__ == "__main__":
    main()
