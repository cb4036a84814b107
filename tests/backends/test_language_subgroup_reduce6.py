"""CUDA samples' ``reduce6`` (Samples/2_Concepts_and_Techniques/reduction/reduction_kernel.cu, the
warp-shuffle version) written line for line in portakern, on every backend, against NumPy.

The CUDA source, for comparison::

    template <class T> __device__ __forceinline__ T warpReduceSum(unsigned int mask, T mySum) {
      for (int offset = warpSize / 2; offset > 0; offset /= 2)
        mySum += __shfl_down_sync(mask, mySum, offset);
      return mySum;
    }
    template <class T, unsigned int blockSize, bool nIsPow2>
    __global__ void reduce6(T *g_idata, T *g_odata, unsigned int n) {
      T *sdata = SharedMemory<T>();
      unsigned int tid = threadIdx.x;
      unsigned int gridSize = blockSize * gridDim.x;
      ...
      T mySum = 0;
      if (nIsPow2) {
        unsigned int i = blockIdx.x * blockSize * 2 + threadIdx.x;
        gridSize = gridSize << 1;
        while (i < n) {
          mySum += g_idata[i];
          if ((i + blockSize) < n) mySum += g_idata[i + blockSize];
          i += gridSize;
        }
      } else {
        unsigned int i = blockIdx.x * blockSize + threadIdx.x;
        while (i < n) { mySum += g_idata[i]; i += gridSize; }
      }
      mySum = warpReduceSum<T>(mask, mySum);
      if ((tid % warpSize) == 0) sdata[tid / warpSize] = mySum;
      __syncthreads();
      const unsigned int shmem_extent = (blockSize / warpSize) > 0 ? (blockSize / warpSize) : 1;
      const unsigned int ballot_result = __ballot_sync(mask, tid < shmem_extent);
      if (tid < shmem_extent) {
        mySum = sdata[tid];
        mySum = warpReduceSum<T>(ballot_result, mySum);
      }
      if (tid == 0) g_odata[blockIdx.x] = mySum;
    }

The one change: the last step's partial mask (``ballot_result``, lanes ``tid < shmem_extent``) becomes
the whole sub-group with 0 in the other lanes, since portakern's sub-group operations are reached by
the whole work-group (docs/language.md, "Sub-groups"). The sum is the same; CUDA's own version reads
inactive lanes through ``__shfl_down_sync`` there.
"""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from tests.backends.conftest import SWEEP

WARP = 32


@pk.func
def warp_reduce_sum(my_sum):
    offset = pk.subgroup_size() // 2
    while offset > 0:
        my_sum += pk.subgroup_shuffle_down(my_sum, offset)
        offset //= 2
    return my_sum


@pk.kernel
def reduce6(g_idata, g_odata, n, block_size: pk.constexpr, n_is_pow2: pk.constexpr):
    T = g_idata.dtype                   # the template parameter
    sdata = pk.local_array(block_size // 32, T)
    tid = pk.local_id(0)
    grid_size = block_size * pk.num_groups(0)
    my_sum = T(0)
    if n_is_pow2:
        i = pk.group_id(0) * block_size * 2 + tid
        grid_size = grid_size << 1
        while i < n:
            my_sum += g_idata[i]
            if i + block_size < n:
                my_sum += g_idata[i + block_size]
            i += grid_size
    else:
        i = pk.group_id(0) * block_size + tid
        while i < n:
            my_sum += g_idata[i]
            i += grid_size
    my_sum = warp_reduce_sum(my_sum)
    if tid % pk.subgroup_size() == 0:
        sdata[tid // pk.subgroup_size()] = my_sum
    pk.barrier()
    shmem_extent = block_size // 32 if block_size // 32 > 0 else 1
    my_sum = sdata[tid] if tid < shmem_extent else T(0)
    my_sum = warp_reduce_sum(my_sum)
    if tid == 0:
        g_odata[pk.group_id(0)] = my_sum


def reduce6_in_numpy(x: np.ndarray, blocks: int, block_size: int, pow2: bool) -> np.ndarray:
    """What reduce6 computes, step by step in the CUDA order, with NumPy scalars of x's dtype."""
    t = x.dtype.type
    n = x.size
    out = np.zeros(blocks, x.dtype)
    with np.errstate(over="ignore"):
        for b in range(blocks):
            sums = np.zeros(block_size, x.dtype)
            for tid in range(block_size):
                acc = t(0)
                if pow2:
                    i, stride = b * block_size * 2 + tid, block_size * blocks * 2
                    while i < n:
                        acc = t(acc + x[i])
                        if i + block_size < n:
                            acc = t(acc + x[i + block_size])
                        i += stride
                else:
                    i = b * block_size + tid
                    while i < n:
                        acc = t(acc + x[i])
                        i += block_size * blocks
                sums[tid] = acc
            warp = _warp_sums(sums)
            last = np.zeros(WARP, x.dtype)
            last[:warp.size] = warp
            out[b] = _warp_sums(last)[0]
    return out


def _warp_sums(v: np.ndarray) -> np.ndarray:
    """Lane 0 of warpReduceSum for each warp of ``v``: the shfl_down loop, lanes past 31 keep their own."""
    w = v.reshape(-1, WARP).copy()
    off = WARP // 2
    while off:
        shifted = np.concatenate([w[:, off:], w[:, WARP - off:]], axis=1)   # lane + off, else own
        w = (w + shifted).astype(v.dtype)
        off //= 2
    return w[:, 0]


@pytest.mark.parametrize("dtype,n,blocks,block_size", [
    ("float32", 2048, 2, 128),       # nIsPow2
    ("float32", 1500, 2, 128),       # not a power of two
    SWEEP(("int32", 2048, 2, 64)),
    SWEEP(("float64", 1000, 2, 64)),
])
def test_reduce6_matches_numpy(backend, run, need_fp64, dtype, n, blocks, block_size):
    need_fp64(dtype)
    rng = np.random.default_rng(6)
    x = (rng.integers(-1000, 1000, n) if dtype == "int32" else rng.standard_normal(n) * 100).astype(dtype)
    pow2 = n & (n - 1) == 0
    partial = np.zeros(blocks, dtype)
    run(reduce6, backend, blocks * block_size, block_size, x, partial, np.int64(n), block_size, pow2)
    # the CUDA order, bit for bit (docs/semantics.md: sub-group exchanges are exact)
    np.testing.assert_array_equal(partial, reduce6_in_numpy(x, blocks, block_size, pow2))
    total = partial.sum(dtype=np.float64)
    if dtype == "int32":
        assert total == x.astype(np.int64).sum()
    else:
        assert total == pytest.approx(x.astype(np.float64).sum(), rel=1e-5, abs=1e-3)
