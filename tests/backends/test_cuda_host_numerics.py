"""The CUDA C the cuda backend renders computes the same numbers as the OpenCL C it renders.

With no GPU here, the CUDA source is compiled for the host with g++ behind a small shim
(cuda_host_shim.h: thread ids, bit casts, sequential atomics) and run one thread at a time; its
results must equal PoCL's bit for bit on tier-0 operations and agree closely on tier-1 math.
The OpenCL results themselves are pinned against Python/NumPy in test_opencl_numerics.py.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from portakern.ir import nodes as ir
from portakern.runtime import registry
from portakern.runtime.backend import LaunchGrid
from portakern.types import SCALAR_TYPES

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_cfamily_kernels import every_op_kernel  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to run CUDA C on the host")
N = 64

SHIM = r"""/* Lets the CUDA C the cuda backend renders compile and run on the host with g++, one thread at a
   time, so its numbers can be checked against the OpenCL device with no GPU. Only what the
   renderer emits is shimmed; atomics are sequential (one thread runs at a time). */
#include <cmath>
#include <cstring>
using std::isnan; using std::isinf; using std::isfinite; using std::signbit;
#define __device__
#define __forceinline__ inline
#define __global__
#define __shared__ static
struct pk_dim3 { unsigned x, y, z; };
static pk_dim3 threadIdx, blockIdx, blockDim, gridDim;
extern "C" void pk_set_thread(unsigned t, unsigned b, unsigned bd, unsigned gd) {
    threadIdx = {t, 0, 0}; blockIdx = {b, 0, 0}; blockDim = {bd, 1, 1}; gridDim = {gd, 1, 1};
}
#define __syncthreads()
template <class To, class From> static inline To pk_bits(From f) { To t; std::memcpy(&t, &f, sizeof t); return t; }
static inline float __int_as_float(int i) { return pk_bits<float>(i); }
static inline unsigned int __float_as_uint(float f) { return pk_bits<unsigned int>(f); }
static inline float __uint_as_float(unsigned int u) { return pk_bits<float>(u); }
static inline double __longlong_as_double(long long i) { return pk_bits<double>(i); }
static inline long long __double_as_longlong(double d) { return pk_bits<long long>(d); }
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
template <class T> static inline T atomicAdd(T* p, T v) { T o = *p; *p = o + v; return o; }
template <class T> static inline T atomicSub(T* p, T v) { T o = *p; *p = o - v; return o; }
template <class T> static inline T atomicMin(T* p, T v) { T o = *p; *p = v < o ? v : o; return o; }
template <class T> static inline T atomicMax(T* p, T v) { T o = *p; *p = v > o ? v : o; return o; }
template <class T> static inline T atomicCAS(T* p, T cmp, T val) { T o = *p; if (o == cmp) *p = val; return o; }
template <class T> static inline T atomicAnd(T* p, T v) { T o = *p; *p = o & v; return o; }
template <class T> static inline T atomicOr(T* p, T v) { T o = *p; *p = o | v; return o; }
template <class T> static inline T atomicXor(T* p, T v) { T o = *p; *p = o ^ v; return o; }
template <class T> static inline T atomicExch(T* p, T v) { T o = *p; *p = v; return o; }
#define __threadfence()
"""


def _inputs(t) -> tuple[np.ndarray, np.ndarray]:
    dt = t.dtype
    rng = np.random.default_rng(7)
    if t.is_bool:
        return rng.integers(0, 2, N).astype(bool), rng.integers(0, 2, N).astype(bool)
    if t.is_int:
        info = np.iinfo(dt)
        special = [0, 1, -1, 2, info.max, info.min, info.bits - 1, info.bits, 3, -7]
        special = [v for v in special if info.min <= v <= info.max]
        a = np.concatenate([np.array(special * 4, dtype=dt)[:N // 2],
                            rng.integers(info.min, info.max, N // 2, dtype=dt, endpoint=True)])
        b = np.concatenate([np.array(special[::-1] * 4, dtype=dt)[:N // 2],
                            rng.integers(-9 if info.min < 0 else 0, 70, N // 2).astype(dt)])
        return a, b
    fi = np.finfo(dt)
    special = [0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, fi.max, fi.tiny, fi.smallest_subnormal,
               2.0 ** 31, -(2.0 ** 63), 0.5, 3.0, -2.5, 255.9]
    a = np.concatenate([np.array(special * 2, dtype=dt)[:N // 2], rng.normal(0, 50, N // 2).astype(dt)])
    b = np.concatenate([np.array(special[::-1] * 2, dtype=dt)[:N // 2], rng.normal(0, 5, N // 2).astype(dt)])
    return a, b


def _run_host(tmp_path: Path, kernel, a, b, out, flags, acc) -> None:
    src = registry.get_backend("cuda").render(kernel)
    cu = tmp_path / f"{kernel.name}.cpp"
    cu.write_text(SHIM + "\n" + src)
    lib = tmp_path / f"{kernel.name}.so"
    subprocess.run(["g++", "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC",
                    "-w", "-o", str(lib), str(cu)], check=True, capture_output=True, text=True)
    dll = ctypes.CDLL(str(lib))
    fn = getattr(dll, registry.get_backend("cuda").renderer.entry_name(kernel))
    arrays = [(a, 1), (b, 1), (out, 2), (flags, 2), (acc, 1)]
    args: list[object] = []
    for arr, nd in arrays:
        args.append(arr.ctypes.data_as(ctypes.c_void_p))
        args += [ctypes.c_longlong(n) for n in arr.shape[:nd]]
    args.append(ctypes.c_longlong(N))
    for tid in range(N):
        dll.pk_set_thread(tid % 32, tid // 32, 32, N // 32)
        fn(*args)


def _opencl_backend():
    be = registry.get_backend("opencl")
    if not be.is_available():
        pytest.skip("needs the opencl backend as the reference")
    return be


@pytest.mark.parametrize("t", SCALAR_TYPES, ids=str)
def test_cuda_source_matches_opencl_source_on_every_op(t, tmp_path):
    be = _opencl_backend()
    kernel, rows, flag_rows = every_op_kernel(t, with_local=False)
    a, b = _inputs(t)
    shapes = ((len(rows), N), (len(flag_rows), N), (len(ir.ATOMICS),))

    dev = be.device()
    launcher = be.load(kernel, be.build(kernel, be.render(kernel), dev), dev)
    cl_args = [be.from_host(a, dev), be.from_host(b, dev), be.from_host(np.zeros(shapes[0], t.dtype), dev),
               be.from_host(np.zeros(shapes[1], bool), dev), be.from_host(np.zeros(shapes[2], t.dtype), dev)]
    res = launcher(LaunchGrid((N,), None), cl_args)
    cl_out, cl_flags, cl_acc = (be.to_host(res[n]) for n in ("out", "flags", "acc"))

    out, flags, acc = np.zeros(shapes[0], t.dtype), np.zeros(shapes[1], bool), np.zeros(shapes[2], t.dtype)
    _run_host(tmp_path, kernel, a, b, out, flags, acc)

    for k, label in enumerate(flag_rows):
        np.testing.assert_array_equal(flags[k], cl_flags[k], err_msg=label)
    for k, label in enumerate(rows):
        got, want = out[k], cl_out[k]
        if t.is_float and label.startswith("~"):    # tier 1: both libms within a few ulp (PoCL's
            # log1p flushes subnormal results, hence an absolute slack of the smallest normal)
            np.testing.assert_allclose(got, want, rtol=3e-6 if t.bits == 32 else 1e-14,
                                       atol=float(np.finfo(t.dtype).tiny), err_msg=label)
        elif t.is_float:
            same = (np.isnan(got) & np.isnan(want)) | ((got == want) & (np.signbit(got) == np.signbit(want)))
            assert same.all(), (label, a[~same], b[~same], got[~same], want[~same])
        else:
            np.testing.assert_array_equal(got, want, err_msg=label)
    if t.is_int:                                            # integer atomics are order-independent
        np.testing.assert_array_equal(acc, cl_acc)
