"""Numba CUDA baselines: ``@cuda.jit`` kernels as a Numba CUDA user writes them (shared-memory
reductions and tiles, ``cuda.atomic.add``). Same algorithms as the C baselines in :mod:`csource`."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from numba import cuda, float32

from .. import cases as C

Run = Callable[[], dict[str, Any]]
TILE, RED_WG, RED_PER_ITEM, ROW_WG, NBINS, MAXIT = C.TILE, C.RED_WG, C.RED_PER_ITEM, C.ROW_WG, C.NBINS, C.MAXIT


@cuda.jit
def _tiny(x):  # noqa: ANN001 - CUDA kernels are untyped Python
    i = cuda.grid(1)
    if i < x.shape[0]:
        x[i] += float32(1.0)


@cuda.jit
def _saxpy(a, x, y, out):  # noqa: ANN001
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@cuda.jit
def _triad(a, b, c, s):  # noqa: ANN001
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i] = b[i] + s * c[i]


@cuda.jit
def _reduce(x, partial):  # noqa: ANN001
    red = cuda.shared.array(RED_WG, float32)
    lid = cuda.threadIdx.x
    grp = cuda.blockIdx.x
    base = grp * (RED_WG * RED_PER_ITEM) + lid
    acc = float32(0.0)
    for k in range(RED_PER_ITEM):
        j = base + k * RED_WG
        if j < x.shape[0]:
            acc += x[j]
    red[lid] = acc
    cuda.syncthreads()
    s = RED_WG // 2
    while s > 0:
        if lid < s:
            red[lid] += red[lid + s]
        cuda.syncthreads()
        s //= 2
    if lid == 0:
        partial[grp] = red[0]


@cuda.jit
def _softmax(x, out):  # noqa: ANN001
    red = cuda.shared.array(ROW_WG, float32)
    r = cuda.blockIdx.y
    lid = cuda.threadIdx.x
    cols = x.shape[1]
    m = float32(-3.0e38)
    for c in range(lid, cols, ROW_WG):
        m = max(m, x[r, c])
    red[lid] = m
    cuda.syncthreads()
    s = ROW_WG // 2
    while s > 0:
        if lid < s:
            red[lid] = max(red[lid], red[lid + s])
        cuda.syncthreads()
        s //= 2
    m = red[0]
    cuda.syncthreads()
    acc = float32(0.0)
    for c in range(lid, cols, ROW_WG):
        acc += math.exp(x[r, c] - m)
    red[lid] = acc
    cuda.syncthreads()
    s = ROW_WG // 2
    while s > 0:
        if lid < s:
            red[lid] += red[lid + s]
        cuda.syncthreads()
        s //= 2
    inv = float32(1.0) / red[0]
    for c in range(lid, cols, ROW_WG):
        out[r, c] = math.exp(x[r, c] - m) * inv


@cuda.jit
def _layernorm(x, g, b, out, eps):  # noqa: ANN001
    red = cuda.shared.array(ROW_WG, float32)
    r = cuda.blockIdx.y
    lid = cuda.threadIdx.x
    cols = x.shape[1]
    acc = float32(0.0)
    for c in range(lid, cols, ROW_WG):
        acc += x[r, c]
    red[lid] = acc
    cuda.syncthreads()
    s = ROW_WG // 2
    while s > 0:
        if lid < s:
            red[lid] += red[lid + s]
        cuda.syncthreads()
        s //= 2
    mean = red[0] / float32(cols)
    cuda.syncthreads()
    acc = float32(0.0)
    for c in range(lid, cols, ROW_WG):
        d = x[r, c] - mean
        acc += d * d
    red[lid] = acc
    cuda.syncthreads()
    s = ROW_WG // 2
    while s > 0:
        if lid < s:
            red[lid] += red[lid + s]
        cuda.syncthreads()
        s //= 2
    rstd = float32(1.0) / math.sqrt(red[0] / float32(cols) + eps)
    for c in range(lid, cols, ROW_WG):
        out[r, c] = (x[r, c] - mean) * rstd * g[c] + b[c]


@cuda.jit
def _jacobi(u, out):  # noqa: ANN001
    j, i = cuda.grid(2)
    n, m = u.shape
    if i < n and j < m:
        if 0 < i < n - 1 and 0 < j < m - 1:
            out[i, j] = float32(0.25) * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        else:
            out[i, j] = u[i, j]


@cuda.jit
def _histogram(x, hist):  # noqa: ANN001
    i = cuda.grid(1)
    if i < x.shape[0]:
        b = min(max(int(x[i] * float32(NBINS)), 0), NBINS - 1)
        cuda.atomic.add(hist, b, 1)


@cuda.jit
def _transpose(a, out):  # noqa: ANN001
    tile = cuda.shared.array((TILE, TILE + 1), float32)
    lx, ly = cuda.threadIdx.x, cuda.threadIdx.y
    bx, by = cuda.blockIdx.x * TILE, cuda.blockIdx.y * TILE
    tile[ly, lx] = a[by + ly, bx + lx]
    cuda.syncthreads()
    out[bx + ly, by + lx] = tile[lx, ly]


@cuda.jit
def _matmul(a, b, c):  # noqa: ANN001
    ta = cuda.shared.array((TILE, TILE), float32)
    tb = cuda.shared.array((TILE, TILE), float32)
    j, i = cuda.grid(2)
    lj, li = cuda.threadIdx.x, cuda.threadIdx.y
    n = a.shape[1]
    acc = float32(0.0)
    for t0 in range(0, n, TILE):
        ta[li, lj] = a[i, t0 + lj]
        tb[li, lj] = b[t0 + li, j]
        cuda.syncthreads()
        for k in range(TILE):
            acc += ta[li, k] * tb[k, lj]
        cuda.syncthreads()
    c[i, j] = acc


@cuda.jit(device=True)
def _cnd(d):  # noqa: ANN001
    k = float32(1.0) / (float32(1.0) + float32(0.2316419) * abs(d))
    c = float32(0.3989422804014327) * math.exp(float32(-0.5) * d * d) * (
        k * (float32(0.31938153) + k * (float32(-0.356563782) + k * (float32(1.781477937)
             + k * (float32(-1.821255978) + k * float32(1.330274429))))))
    return float32(1.0) - c if d > 0 else c


@cuda.jit
def _bs(s, x, t, call, put, r, v):  # noqa: ANN001
    i = cuda.grid(1)
    if i < s.shape[0]:
        sq = math.sqrt(t[i])
        d1 = (math.log(s[i] / x[i]) + (r + float32(0.5) * v * v) * t[i]) / (v * sq)
        d2 = d1 - v * sq
        c1 = _cnd(d1)
        c2 = _cnd(d2)
        e = math.exp(-r * t[i])
        call[i] = s[i] * c1 - x[i] * e * c2
        put[i] = x[i] * e * (float32(1.0) - c2) - s[i] * (float32(1.0) - c1)


@cuda.jit
def _mandel(out, x0, y0, dx, dy):  # noqa: ANN001
    j, i = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        cr = x0 + float32(j) * dx
        ci = y0 + float32(i) * dy
        zr = float32(0.0)
        zi = float32(0.0)
        it = 0
        while it < MAXIT and zr * zr + zi * zi <= float32(4.0):
            t = zr * zr - zi * zi + cr
            zi = float32(2.0) * zr * zi + ci
            zr = t
            it += 1
        out[i, j] = it


def _1d(kernel: Any, n: int, argv: tuple, outs: dict[str, Any], threads: int = 256) -> Run:
    launch = kernel[-(-n // threads), threads]

    def run() -> dict[str, Any]:
        launch(*argv)
        return outs
    return run


def _2d(kernel: Any, rows: int, cols: int, argv: tuple, outs: dict[str, Any], block: tuple[int, int] = (32, 8)) -> Run:
    launch = kernel[(-(-cols // block[0]), -(-rows // block[1])), block]

    def run() -> dict[str, Any]:
        launch(*argv)
        return outs
    return run


def _rows(kernel: Any, rows: int, argv: tuple, outs: dict[str, Any]) -> Run:
    launch = kernel[(1, rows), (ROW_WG, 1)]

    def run() -> dict[str, Any]:
        launch(*argv)
        return outs
    return run


BUILDERS: dict[str, Callable[[dict, int, Any], Run]] = {
    "tiny": lambda d, n, fw: _1d(_tiny, 1, (d["x"],), {"x": d["x"]}, threads=1),
    "saxpy": lambda d, n, fw: _1d(_saxpy, n, (d["a"], d["x"], d["y"], d["out"]), {"out": d["out"]}),
    "triad": lambda d, n, fw: _1d(_triad, n, (d["a"], d["b"], d["c"], d["s"]), {"a": d["a"]}),
    "reduce_sum": lambda d, n, fw: _1d(_reduce, d["partial"].shape[0] * RED_WG, (d["x"], d["partial"]),
                                       {"partial": d["partial"]}, threads=RED_WG),
    "softmax": lambda d, n, fw: _rows(_softmax, n, (d["x"], d["out"]), {"out": d["out"]}),
    "layernorm": lambda d, n, fw: _rows(_layernorm, n, (d["x"], d["gamma"], d["beta"], d["out"], d["eps"]),
                                        {"out": d["out"]}),
    "jacobi2d": lambda d, n, fw: _2d(_jacobi, n, n, (d["u"], d["out"]), {"out": d["out"]}),
    "histogram": lambda d, n, fw: _1d(_histogram, n, (d["x"], d["hist"]), {"hist": d["hist"]}),
    "transpose": lambda d, n, fw: _2d(_transpose, n, n, (d["a"], d["out"]), {"out": d["out"]}, (TILE, TILE)),
    "matmul": lambda d, n, fw: _2d(_matmul, n, n, (d["a"], d["b"], d["c"]), {"c": d["c"]}, (TILE, TILE)),
    "black_scholes": lambda d, n, fw: _1d(_bs, n, (d["S"], d["X"], d["T"], d["call"], d["put"], d["r"], d["v"]),
                                          {"call": d["call"], "put": d["put"]}),
    "mandelbrot": lambda d, n, fw: _2d(_mandel, n, n, (d["out"], d["x0"], d["y0"], d["dx"], d["dy"]),
                                       {"out": d["out"]}),
}

