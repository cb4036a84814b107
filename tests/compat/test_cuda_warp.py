"""portakern.compat.cuda: numba.cuda's warp shuffles and votes run unchanged (full mask) as sub-group
operations, on every CPU backend and in Numba's CUDA simulator."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.compat import cuda

BACKENDS = ["numpy", "numba", "opencl", "jax", "numba-cuda"]


@cuda.jit
def warp_sums(x, sums, flags):
    i = cuda.grid(1)
    v = x[i]
    offset = cuda.warpsize // 2
    while offset > 0:
        v += cuda.shfl_down_sync(0xFFFFFFFF, v, offset)
        offset //= 2
    first = cuda.shfl_sync(-1, x[i], 0)
    if cuda.laneid == 0:
        sums[i // 32] = v
    flags[i] = (cuda.any_sync(0xFFFFFFFF, x[i] > 60) + 2 * cuda.all_sync(0xFFFFFFFF, x[i] > 0)
                + 4 * (cuda.shfl_xor_sync(0xFFFFFFFF, x[i], 1) == x[i ^ 1]) + 8 * (first == x[i - i % 32])
                + 16 * (cuda.shfl_up_sync(0xFFFFFFFF, x[i], 1) == x[i - 1 if i % 32 else i]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_warp_shuffles_and_votes_run_unchanged(backend: str) -> None:
    x = np.arange(1, 129, dtype=np.int32)
    x[64:96] -= 200                       # warp 2: not all positive
    sums = np.zeros(4, np.int32)
    flags = np.zeros(128, np.int64)
    try:
        with pk.use(backend):
            warp_sums[2, 64](x, sums, flags)
    except pk.BackendUnavailable as exc:
        pytest.skip(str(exc))
    np.testing.assert_array_equal(sums, x.reshape(4, 32).sum(axis=1))
    any_big = np.repeat([False, True, False, True], 32)
    all_pos = np.repeat([True, True, False, True], 32)
    np.testing.assert_array_equal(flags, any_big + 2 * all_pos + 4 + 8 + 16)
