# Kernels copied from numba-cuda (https://github.com/NVIDIA/numba-cuda), BSD-2-Clause:
#   SPDX-FileCopyrightText: Copyright (c) 2025 NVIDIA CORPORATION & AFFILIATES. All rights reserved.
#   SPDX-License-Identifier: BSD-2-Clause
# Each kernel names its source file. The kernels are unchanged; only the import lines below differ
# from the originals ("from numba import cuda" -> "from portakern.compat import cuda", and
# "from numba.cuda import ..." -> "from portakern.compat.cuda import ..."). The host code around them
# (inputs, launch configurations) is sized down so that numba-cuda's simulator runs it quickly.
# tests/compat/test_numba_cuda_examples.py runs this module twice: as written on portakern's
# backends, and with the imports switched back under NUMBA_ENABLE_CUDASIM=1 as the reference.
import math

import numpy as np

from portakern.compat import cuda
from portakern.compat.cuda import float32, int32, uint32


# ------------------------------------------------- numba_cuda/numba/cuda/tests/doc_examples/test_vecadd.py
@cuda.jit
def f(a, b, c):
    # like threadIdx.x + (blockIdx.x * blockDim.x)
    tid = cuda.grid(1)
    size = len(c)
    if tid < size:
        c[tid] = a[tid] + b[tid]


# ------------------------------------------------- numba_cuda/numba/cuda/tests/doc_examples/test_matmul.py
@cuda.jit
def matmul(A, B, C):
    """Perform square matrix multiplication of C = A * B."""
    i, j = cuda.grid(2)
    if i < C.shape[0] and j < C.shape[1]:
        tmp = 0.0
        for k in range(A.shape[1]):
            tmp += A[i, k] * B[k, j]
        C[i, j] = tmp


TPB = 4


@cuda.jit
def fast_matmul(A, B, C):
    """
    Perform matrix multiplication of C = A * B using CUDA shared memory.
    Reference: https://stackoverflow.com/a/64198479/13697228 by @RobertCrovella
    """
    sA = cuda.shared.array(shape=(TPB, TPB), dtype=float32)
    sB = cuda.shared.array(shape=(TPB, TPB), dtype=float32)
    x, y = cuda.grid(2)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    bpg = cuda.gridDim.x  # blocks per grid
    tmp = float32(0.0)
    for i in range(bpg):
        sA[ty, tx] = 0
        sB[ty, tx] = 0
        if y < A.shape[0] and (tx + i * TPB) < A.shape[1]:
            sA[ty, tx] = A[y, tx + i * TPB]
        if x < B.shape[1] and (ty + i * TPB) < B.shape[0]:
            sB[ty, tx] = B[ty + i * TPB, x]
        cuda.syncthreads()
        for j in range(TPB):
            tmp += sA[ty, j] * sB[j, tx]
        cuda.syncthreads()
    if y < C.shape[0] and x < C.shape[1]:
        C[y, x] = tmp


# ------------------------------------------------- numba_cuda/numba/cuda/tests/doc_examples/test_reduction.py
nelem = 64


@cuda.jit
def array_sum(data):
    tid = cuda.threadIdx.x
    size = len(data)
    if tid < size:
        i = cuda.grid(1)
        shr = cuda.shared.array(nelem, int32)
        shr[tid] = data[i]
        cuda.syncthreads()
        s = 1
        while s < cuda.blockDim.x:
            if tid % (2 * s) == 0:
                shr[tid] += shr[tid + s]
            s *= 2
            cuda.syncthreads()
        if tid == 0:
            data[tid] = shr[tid]


# ------------------------------------------------- numba_cuda/numba/cuda/tests/cudapy/test_sync.py
@cuda.jit
def useless_syncthreads(ary):
    i = cuda.grid(1)
    cuda.syncthreads()
    ary[i] = i


@cuda.jit
def simple_smem(ary):
    N = 100
    sm = cuda.shared.array(N, int32)
    i = cuda.grid(1)
    if i == 0:
        for j in range(N):
            sm[j] = j
    cuda.syncthreads()
    ary[i] = sm[i]


@cuda.jit
def coop_smem2d(ary):
    i, j = cuda.grid(2)
    sm = cuda.shared.array((10, 20), float32)
    sm[i, j] = (i + 1) / (j + 1)
    cuda.syncthreads()
    ary[i, j] = sm[i, j]


@cuda.jit
def dyn_shared_memory(ary):
    i = cuda.grid(1)
    sm = cuda.shared.array(0, float32)
    sm[i] = i * 2
    cuda.syncthreads()
    ary[i] = sm[i]


@cuda.jit
def use_syncthreads_count(ary_in, ary_out):
    i = cuda.grid(1)
    ary_out[i] = cuda.syncthreads_count(ary_in[i])


@cuda.jit
def use_syncthreads_and(ary_in, ary_out):
    i = cuda.grid(1)
    ary_out[i] = cuda.syncthreads_and(ary_in[i])


@cuda.jit
def use_syncthreads_or(ary_in, ary_out):
    i = cuda.grid(1)
    ary_out[i] = cuda.syncthreads_or(ary_in[i])


# ------------------------------------------------- numba_cuda/numba/cuda/tests/cudapy/test_intrinsics.py
@cuda.jit
def fill_threadidx(ary):
    i = cuda.threadIdx.x
    ary[i] = i


@cuda.jit
def simple_grid2d(ary):
    i, j = cuda.grid(2)
    ary[i, j] = i + j


@cuda.jit
def simple_gridsize2d(ary):
    i, j = cuda.grid(2)
    x, y = cuda.gridsize(2)
    if i == 0 and j == 0:
        ary[0] = x
        ary[1] = y


@cuda.jit
def intrinsic_forloop_step(c):
    startX, startY = cuda.grid(2)
    gridX = cuda.gridDim.x * cuda.blockDim.x
    gridY = cuda.gridDim.y * cuda.blockDim.y
    height, width = c.shape

    for x in range(startX, width, gridX):
        for y in range(startY, height, gridY):
            c[y, x] = x + y


@cuda.jit
def branching_with_selps(a, b, c):
    i = cuda.grid(1)

    inner = cuda.selp(b % 2 == 0, c[i], 13)
    a[i] = cuda.selp(a[i] > 4, inner, 3)


@cuda.jit
def simple_laneid(ary):
    i = cuda.grid(1)
    ary[i] = cuda.laneid


@cuda.jit
def simple_fma(ary, a, b, c):
    ary[0] = cuda.fma(a, b, c)


# ------------------------------------------------- numba_cuda/numba/cuda/tests/cudapy/test_atomics.py
@cuda.jit
def atomic_add(ary):
    # atomic_binary_1dim_shared(ary, ary, 1, uint32, 32, cuda.atomic.add, atomic_cast_none, 0, False)
    # with the helper's body written in place (it takes a function and a dtype as arguments)
    tid = cuda.threadIdx.x
    sm = cuda.shared.array(32, uint32)
    sm[tid] = 0
    cuda.syncthreads()
    bin = ary[tid] % 32
    cuda.atomic.add(sm, bin, 1)
    cuda.syncthreads()
    ary[tid] = sm[tid]


# ------------------------------------------------- numba_cuda/numba/cuda/tests/cudapy/test_localmem.py
@cuda.jit
def culocal1tuple(A, B):
    C = cuda.local.array((5,), dtype=int32)
    for i in range(C.shape[0]):
        C[i] = A[i]
    for i in range(C.shape[0]):
        B[i] = C[i]


# ------------------------------------------------- host code: one case per kernel, returning its outputs
def case_vecadd():
    rng = np.random.RandomState(1)
    a = cuda.to_device(rng.random_sample(1000))
    b = cuda.to_device(rng.random_sample(1000))
    c = cuda.device_array_like(a)
    f.forall(len(a))(a, b, c)
    return {"c": c.copy_to_host()}


def case_matmul():
    x_d = cuda.to_device(np.arange(16).reshape([4, 4]))
    y_d = cuda.to_device(np.ones([4, 4]))
    z_d = cuda.to_device(np.zeros([4, 4]))
    threadsperblock = (2, 2)
    blockspergrid = (math.ceil(4 / threadsperblock[0]), math.ceil(4 / threadsperblock[1]))
    matmul[blockspergrid, threadsperblock](x_d, y_d, z_d)
    return {"z": z_d.copy_to_host()}


def case_fast_matmul():
    x_h = np.arange(48, dtype=np.float32).reshape([6, 8]) / 7
    y_h = np.arange(40, dtype=np.float32).reshape([8, 5]) / 3
    z_h = np.zeros([6, 5], dtype=np.float32)
    threadsperblock = (TPB, TPB)
    blockspergrid = (math.ceil(z_h.shape[1] / TPB) + 1, math.ceil(z_h.shape[0] / TPB) + 1)
    fast_matmul[blockspergrid, threadsperblock](x_h, y_h, z_h)   # host arrays: copied in and out
    return {"z": z_h}


def case_array_sum():
    a = cuda.to_device(np.arange(nelem))
    array_sum[1, nelem](a)
    return {"a": a.copy_to_host()}


def case_sync():
    out = {}
    ary = np.zeros(24, dtype=np.int32)
    useless_syncthreads[3, 8](ary)
    out["useless_syncthreads"] = ary
    ary = np.zeros(100, dtype=np.int32)
    simple_smem[1, 100](ary)
    out["simple_smem"] = ary
    ary = np.zeros((10, 20), dtype=np.float32)
    coop_smem2d[(1,), (10, 20)](ary)
    out["coop_smem2d"] = ary
    ary = np.zeros(20, dtype=np.float32)
    dyn_shared_memory[1, 20, 0, 20 * 4](ary)
    out["dyn_shared_memory"] = ary
    pred = (np.arange(64) % 3 == 0).astype(np.int32)
    pred[32:] = 1
    res = np.zeros(64, dtype=np.int32)
    use_syncthreads_count[2, 32](pred, res)
    out["syncthreads_count"] = res
    res = np.zeros(64, dtype=np.int32)
    use_syncthreads_and[2, 32](pred, res)
    out["syncthreads_and"] = res
    res = np.zeros(64, dtype=np.int32)
    use_syncthreads_or[2, 32](pred, res)
    out["syncthreads_or"] = res
    return out


def case_intrinsics():
    out = {}
    ary = np.zeros(16, dtype=np.int32)
    fill_threadidx[1, 16](ary)
    out["fill_threadidx"] = ary
    ary = np.zeros((6, 4), dtype=np.int64)
    simple_grid2d[(3, 2), (2, 2)](ary)
    out["simple_grid2d"] = ary
    ary = np.zeros(2, dtype=np.int64)
    simple_gridsize2d[(2, 3), (4, 2)](ary)
    out["simple_gridsize2d"] = ary
    c = np.zeros((13, 9), dtype=np.int64)
    intrinsic_forloop_step[(2, 2), (2, 3)](c)
    out["intrinsic_forloop_step"] = c
    a = np.arange(8, dtype=np.int64)
    c = np.arange(100, 108, dtype=np.int64)
    branching_with_selps[1, 8](a, 4, c)
    out["branching_with_selps"] = a
    ary = np.zeros(80, dtype=np.int32)
    simple_laneid[2, 40](ary)
    out["simple_laneid"] = ary
    ary = np.zeros(1, dtype=np.float32)
    simple_fma[1, 1](ary, np.float32(1.5), np.float32(2.25), np.float32(-0.125))
    out["simple_fma"] = ary
    return out


def case_atomics():
    ary = (np.arange(32, dtype=np.uint32) * 7) % 11
    atomic_add[1, 32](ary)
    return {"atomic_add": ary}


def case_localmem():
    a = np.arange(5, dtype=np.int32) * 3
    b = np.zeros(5, dtype=np.int32)
    culocal1tuple[1, 1](a, b)
    return {"culocal1tuple": b}


CASES = {n[5:]: v for n, v in sorted(globals().items()) if n.startswith("case_")}
