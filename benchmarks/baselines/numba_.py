"""Numba baselines: ``@njit(parallel=True)`` loops with ``prange``, the way a Numba user writes them."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from .. import cases as C

Run = Callable[[], dict[str, Any]]
# cache=True: baseline compile time is not measured, and a second bench run should not pay it again.
# Only under the name the bench imports the suite by: Numba's cache is keyed by the file, and an entry
# written while this module was imported as ``benchmarks.baselines.numba_`` names that package, so
# loading it in the bench failed with "No module named 'benchmarks'" (seen after an ad-hoc import).
_CACHE = __name__.startswith("portakern_benchmarks.")
_jit = njit(parallel=True, cache=_CACHE, fastmath=False)


@_jit
def _saxpy(a, x, y, out):  # noqa: ANN001 - numba kernels are untyped Python
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]


@_jit
def _triad(a, b, c, s):  # noqa: ANN001
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


@_jit
def _sum(x):  # noqa: ANN001
    acc = np.float32(0.0)
    for i in prange(x.shape[0]):
        acc += x[i]
    return acc


@_jit
def _softmax(x, out):  # noqa: ANN001
    for r in prange(x.shape[0]):
        m = x[r, 0]
        for c in range(x.shape[1]):
            m = max(m, x[r, c])
        s = np.float32(0.0)
        for c in range(x.shape[1]):
            e = math.exp(x[r, c] - m)
            out[r, c] = e
            s += e
        inv = np.float32(1.0) / s
        for c in range(x.shape[1]):
            out[r, c] *= inv


@_jit
def _layernorm(x, g, b, out, eps):  # noqa: ANN001
    cols = x.shape[1]
    for r in prange(x.shape[0]):
        s = np.float32(0.0)
        for c in range(cols):
            s += x[r, c]
        mu = s / np.float32(cols)
        v = np.float32(0.0)
        for c in range(cols):
            d = x[r, c] - mu
            v += d * d
        rstd = np.float32(1.0) / math.sqrt(v / np.float32(cols) + eps)
        for c in range(cols):
            out[r, c] = (x[r, c] - mu) * rstd * g[c] + b[c]


@_jit
def _jacobi(u, out):  # noqa: ANN001
    n, m = u.shape
    for i in prange(n):
        for j in range(m):
            if 0 < i < n - 1 and 0 < j < m - 1:
                out[i, j] = np.float32(0.25) * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
            else:
                out[i, j] = u[i, j]


@_jit
def _histogram(x, nbins, nchunks):  # noqa: ANN001
    # Private histograms per chunk, then a merge: the race-free prange idiom.
    n = x.shape[0]
    part = np.zeros((nchunks, nbins), np.int32)
    step = (n + nchunks - 1) // nchunks
    for k in prange(nchunks):
        for i in range(k * step, min(n, (k + 1) * step)):
            b = min(int(x[i] * np.float32(nbins)), nbins - 1)
            part[k, b] += 1
    return part.sum(axis=0).astype(np.int32)


@_jit
def _transpose(a, out, t):  # noqa: ANN001
    n, m = a.shape
    nb = (n + t - 1) // t
    for bi in prange(nb):
        for bj in range(0, m, t):
            for i in range(bi * t, min(n, bi * t + t)):
                for j in range(bj, min(m, bj + t)):
                    out[j, i] = a[i, j]


@_jit
def _matmul(a, b, c):  # noqa: ANN001
    # i-k-j order: the inner loop streams rows of b and c (vectorises), rows split over threads.
    n, kk = a.shape
    m = b.shape[1]
    for i in prange(n):
        for j in range(m):
            c[i, j] = 0.0
        for k in range(kk):
            aik = a[i, k]
            for j in range(m):
                c[i, j] += aik * b[k, j]


@njit(inline="always", cache=_CACHE)
def _cnd(d):  # noqa: ANN001
    k = np.float32(1.0) / (np.float32(1.0) + np.float32(0.2316419) * abs(d))
    c = np.float32(0.3989422804014327) * math.exp(np.float32(-0.5) * d * d) * (
        k * (np.float32(0.31938153) + k * (np.float32(-0.356563782) + k * (np.float32(1.781477937)
             + k * (np.float32(-1.821255978) + k * np.float32(1.330274429))))))
    return np.float32(1.0) - c if d > 0 else c


@_jit
def _bs(s, x, t, call, put, r, v):  # noqa: ANN001
    for i in prange(s.shape[0]):
        sq = math.sqrt(t[i])
        d1 = (math.log(s[i] / x[i]) + (r + np.float32(0.5) * v * v) * t[i]) / (v * sq)
        d2 = d1 - v * sq
        c1 = _cnd(d1)
        c2 = _cnd(d2)
        e = math.exp(-r * t[i])
        call[i] = s[i] * c1 - x[i] * e * c2
        put[i] = x[i] * e * (np.float32(1.0) - c2) - s[i] * (np.float32(1.0) - c1)


@_jit
def _mandel(out, x0, y0, dx, dy, maxit):  # noqa: ANN001
    n, m = out.shape
    for i in prange(n):
        ci = y0 + np.float32(i) * dy
        for j in range(m):
            cr = x0 + np.float32(j) * dx
            zr = np.float32(0.0)
            zi = np.float32(0.0)
            it = 0
            while it < maxit and zr * zr + zi * zi <= np.float32(4.0):
                t = zr * zr - zi * zi + cr
                zi = np.float32(2.0) * zr * zi + ci
                zr = t
                it += 1
            out[i, j] = it


@_jit
def _tiny(x):  # noqa: ANN001 - like for like: a parallel launch, as portakern's numba kernels are
    for i in prange(x.shape[0]):
        x[i] += np.float32(1.0)


def _chunks() -> int:
    return 4 * numba.get_num_threads()


BUILDERS: dict[str, Callable[[dict, int, Any], Run]] = {
    "tiny": lambda d, n, fw: lambda: (_tiny(d["x"]), {"x": d["x"]})[1],
    "saxpy": lambda d, n, fw: lambda: (_saxpy(d["a"], d["x"], d["y"], d["out"]), {"out": d["out"]})[1],
    "triad": lambda d, n, fw: lambda: (_triad(d["a"], d["b"], d["c"], d["s"]), {"a": d["a"]})[1],
    "reduce_sum": lambda d, n, fw: lambda: {"sum": np.array(_sum(d["x"]))},
    "softmax": lambda d, n, fw: lambda: (_softmax(d["x"], d["out"]), {"out": d["out"]})[1],
    "layernorm": lambda d, n, fw: lambda: (_layernorm(d["x"], d["gamma"], d["beta"], d["out"], d["eps"]),
                                           {"out": d["out"]})[1],
    "jacobi2d": lambda d, n, fw: lambda: (_jacobi(d["u"], d["out"]), {"out": d["out"]})[1],
    "histogram": lambda d, n, fw: lambda: {"hist": _histogram(d["x"], C.NBINS, _chunks())},
    "transpose": lambda d, n, fw: lambda: (_transpose(d["a"], d["out"], 32), {"out": d["out"]})[1],
    "matmul": lambda d, n, fw: lambda: (_matmul(d["a"], d["b"], d["c"]), {"c": d["c"]})[1],
    "black_scholes": lambda d, n, fw: lambda: (_bs(d["S"], d["X"], d["T"], d["call"], d["put"], d["r"], d["v"]),
                                               {"call": d["call"], "put": d["put"]})[1],
    "mandelbrot": lambda d, n, fw: lambda: (_mandel(d["out"], d["x0"], d["y0"], d["dx"], d["dy"], C.MAXIT),
                                            {"out": d["out"]})[1],
}
