# Kernels copied from numba-examples (https://github.com/numba/numba-examples), BSD-2-Clause:
#   Copyright (c) 2017, Anaconda, Inc. and numba-examples contributors. All rights reserved.
#   SPDX-License-Identifier: BSD-2-Clause
# A public numba.cuda project besides numba-cuda itself. Each kernel names its source file; the kernels
# are unchanged, only the import line differs ("from numba import cuda" -> "from portakern.compat import
# cuda"). The host code is the projects' own, sized down for numba-cuda's simulator.
# tests/compat/test_numba_examples_project.py runs it as written and, under NUMBA_ENABLE_CUDASIM=1 with
# the import switched back, as the reference.
import math

import numpy as np

from portakern.compat import cuda


# ------------------------------------------------------ examples/density_estimation/histogram/gpu.py
@cuda.jit
def min_max(x, min_max_array):
    nelements = x.shape[0]

    start = cuda.grid(1)
    stride = cuda.gridsize(1)

    # Array already seeded with starting values appropriate for x's dtype
    # Not a problem if this array has already been updated
    local_min = min_max_array[0]
    local_max = min_max_array[1]

    for i in range(start, x.shape[0], stride):
        element = x[i]
        local_min = min(element, local_min)
        local_max = max(element, local_max)

    # Now combine each thread local min and max
    cuda.atomic.min(min_max_array, 0, local_min)
    cuda.atomic.max(min_max_array, 1, local_max)


# ------------------------------------------------------ examples/finance/blackscholes/blackscholes_cuda.py
@cuda.jit(device=True)
def cnd_cuda(d):
    A1 = 0.31938153
    A2 = -0.356563782
    A3 = 1.781477937
    A4 = -1.821255978
    A5 = 1.330274429
    RSQRT2PI = 0.39894228040143267793994605993438
    K = 1.0 / (1.0 + 0.2316419 * math.fabs(d))
    ret_val = (RSQRT2PI * math.exp(-0.5 * d * d) *
               (K * (A1 + K * (A2 + K * (A3 + K * (A4 + K * A5))))))
    if d > 0:
        ret_val = 1.0 - ret_val
    return ret_val


@cuda.jit
def black_scholes_cuda_kernel(callResult, putResult, S, X,
                       T, R, V):
    #    S = stockPrice
    #    X = optionStrike
    #    T = optionYears
    #    R = Riskfree
    #    V = Volatility
    i = cuda.threadIdx.x + cuda.blockIdx.x * cuda.blockDim.x
    if i >= S.shape[0]:
        return
    sqrtT = math.sqrt(T[i])
    d1 = (math.log(S[i] / X[i]) + (R + 0.5 * V * V) * T[i]) / (V * sqrtT)
    d2 = d1 - V * sqrtT
    cndd1 = cnd_cuda(d1)
    cndd2 = cnd_cuda(d2)

    expRT = math.exp((-1. * R) * T[i])
    callResult[i] = (S[i] * cndd1 - X[i] * expRT * cndd2)
    putResult[i] = (X[i] * expRT * (1.0 - cndd2) - S[i] * (1.0 - cndd1))


# ------------------------------------------------------ host code (the projects' own, sized down)
def case_min_max():
    a = np.random.RandomState(3).randint(-10**6, 10**6, 3000).astype(np.int64)
    a_gpu = cuda.to_device(a)
    info = np.iinfo(a.dtype)
    min_max_array_gpu = cuda.to_device(np.array([info.max, info.min], dtype=a.dtype))
    min_max[4, 32](a_gpu, min_max_array_gpu)
    return {"min_max": min_max_array_gpu.copy_to_host()}


def case_black_scholes():
    rng = np.random.RandomState(4)
    n = 200
    stockPrice = rng.uniform(5.0, 30.0, n)
    optionStrike = rng.uniform(1.0, 100.0, n)
    optionYears = rng.uniform(0.25, 10.0, n)
    blockdim = 64, 1
    griddim = int(math.ceil(float(len(stockPrice)) / blockdim[0])), 1
    stream = cuda.stream()
    d_callResult = cuda.device_array_like(stockPrice, stream)
    d_putResult = cuda.device_array_like(stockPrice, stream)
    d_stockPrice = cuda.to_device(stockPrice, stream)
    d_optionStrike = cuda.to_device(optionStrike, stream)
    d_optionYears = cuda.to_device(optionYears, stream)
    black_scholes_cuda_kernel[griddim, blockdim, stream](
            d_callResult, d_putResult, d_stockPrice, d_optionStrike,
            d_optionYears, 0.02, 0.30)
    callResult = d_callResult.copy_to_host(stream=stream)
    putResult = d_putResult.copy_to_host(stream=stream)
    stream.synchronize()
    return {"call": callResult, "put": putResult}


CASES = {n[5:]: v for n, v in sorted(globals().items()) if n.startswith("case_")}
