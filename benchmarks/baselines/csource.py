"""The hand-written OpenCL C and CUDA C baselines: one C source, two dialect preludes.

Dimension 0 is the fastest-varying one here (OpenCL/CUDA convention: x), so 2-D kernels read
``GID(0)`` as the column. ``TILE``, ``RED_WG``, ``RED_PER_ITEM``, ``ROW_WG`` and ``NBINS`` come from
:mod:`benchmarks.cases` through ``-D`` style defines in :func:`source`.
"""
from __future__ import annotations

from .. import cases as C

OPENCL_PRELUDE = r"""
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define KERNEL __kernel
#define GLOBAL __global
#define SHARED __local
#define BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#define GID(d) ((int)get_global_id(d))
#define LID(d) ((int)get_local_id(d))
#define GRP(d) ((int)get_group_id(d))
#define ATOMIC_INC(p) atomic_inc(p)
#define EXPF exp
#define LOGF log
#define SQRTF sqrt
#define RSQRTF rsqrt
#define FMAXF fmax
"""

CUDA_PRELUDE = r"""
#define KERNEL extern "C" __global__
#define GLOBAL
#define SHARED __shared__
#define BARRIER() __syncthreads()
#define GID(d) ((int)((d) == 0 ? blockIdx.x * blockDim.x + threadIdx.x : \
                      (d) == 1 ? blockIdx.y * blockDim.y + threadIdx.y : blockIdx.z * blockDim.z + threadIdx.z))
#define LID(d) ((int)((d) == 0 ? threadIdx.x : (d) == 1 ? threadIdx.y : threadIdx.z))
#define GRP(d) ((int)((d) == 0 ? blockIdx.x : (d) == 1 ? blockIdx.y : blockIdx.z))
#define ATOMIC_INC(p) atomicAdd((p), 1)
#define EXPF expf
#define LOGF logf
#define SQRTF sqrtf
#define RSQRTF rsqrtf
#define FMAXF fmaxf
"""

KERNELS = r"""
KERNEL void tiny(GLOBAL float* x, int n) {
    int i = GID(0);
    if (i < n) x[i] += 1.0f;
}

KERNEL void saxpy(float a, GLOBAL const float* x, GLOBAL const float* y, GLOBAL float* out, int n) {
    int i = GID(0);
    if (i < n) out[i] = a * x[i] + y[i];
}

KERNEL void triad(GLOBAL double* a, GLOBAL const double* b, GLOBAL const double* c, double s, int n) {
    int i = GID(0);
    if (i < n) a[i] = b[i] + s * c[i];
}

KERNEL void reduce_sum(GLOBAL const float* x, GLOBAL float* partial, int n) {
    SHARED float red[RED_WG];
    int lid = LID(0), grp = GRP(0);
    int base = grp * (RED_WG * RED_PER_ITEM) + lid;
    float acc = 0.0f;
    for (int k = 0; k < RED_PER_ITEM; ++k) {
        int j = base + k * RED_WG;
        if (j < n) acc += x[j];
    }
    red[lid] = acc;
    BARRIER();
    for (int s = RED_WG / 2; s > 0; s >>= 1) {
        if (lid < s) red[lid] += red[lid + s];
        BARRIER();
    }
    if (lid == 0) partial[grp] = red[0];
}

KERNEL void softmax(GLOBAL const float* x, GLOBAL float* out, int cols) {
    SHARED float red[ROW_WG];
    int r = GID(1), lid = LID(0);
    GLOBAL const float* row = x + (long)r * cols;
    float m = -3.0e38f;
    for (int c = lid; c < cols; c += ROW_WG) m = FMAXF(m, row[c]);
    red[lid] = m;
    BARRIER();
    for (int s = ROW_WG / 2; s > 0; s >>= 1) { if (lid < s) red[lid] = FMAXF(red[lid], red[lid + s]); BARRIER(); }
    m = red[0];
    BARRIER();
    float acc = 0.0f;
    for (int c = lid; c < cols; c += ROW_WG) acc += EXPF(row[c] - m);
    red[lid] = acc;
    BARRIER();
    for (int s = ROW_WG / 2; s > 0; s >>= 1) { if (lid < s) red[lid] += red[lid + s]; BARRIER(); }
    float inv = 1.0f / red[0];
    for (int c = lid; c < cols; c += ROW_WG) out[(long)r * cols + c] = EXPF(row[c] - m) * inv;
}

KERNEL void layernorm(GLOBAL const float* x, GLOBAL const float* g, GLOBAL const float* b,
                      GLOBAL float* out, float eps, int cols) {
    SHARED float red[ROW_WG];
    int r = GID(1), lid = LID(0);
    GLOBAL const float* row = x + (long)r * cols;
    float acc = 0.0f;
    for (int c = lid; c < cols; c += ROW_WG) acc += row[c];
    red[lid] = acc;
    BARRIER();
    for (int s = ROW_WG / 2; s > 0; s >>= 1) { if (lid < s) red[lid] += red[lid + s]; BARRIER(); }
    float mean = red[0] / (float)cols;
    BARRIER();
    acc = 0.0f;
    for (int c = lid; c < cols; c += ROW_WG) { float d = row[c] - mean; acc += d * d; }
    red[lid] = acc;
    BARRIER();
    for (int s = ROW_WG / 2; s > 0; s >>= 1) { if (lid < s) red[lid] += red[lid + s]; BARRIER(); }
    float rstd = RSQRTF(red[0] / (float)cols + eps);
    for (int c = lid; c < cols; c += ROW_WG) out[(long)r * cols + c] = (row[c] - mean) * rstd * g[c] + b[c];
}

KERNEL void jacobi2d(GLOBAL const float* u, GLOBAL float* out, int n, int m) {
    int j = GID(0), i = GID(1);
    if (i >= n || j >= m) return;
    long k = (long)i * m + j;
    if (i > 0 && i < n - 1 && j > 0 && j < m - 1)
        out[k] = 0.25f * (u[k - m] + u[k + m] + u[k - 1] + u[k + 1]);
    else
        out[k] = u[k];
}

KERNEL void histogram(GLOBAL const float* x, GLOBAL int* hist, int n) {
    int i = GID(0);
    if (i < n) {
        int b = (int)(x[i] * (float)NBINS);
        b = b < 0 ? 0 : (b > NBINS - 1 ? NBINS - 1 : b);
        ATOMIC_INC(&hist[b]);
    }
}

KERNEL void transpose(GLOBAL const float* a, GLOBAL float* out, int n, int m) {
    SHARED float tile[TILE][TILE + 1];
    int lx = LID(0), ly = LID(1);
    int bx = GRP(0) * TILE, by = GRP(1) * TILE;
    tile[ly][lx] = a[(long)(by + ly) * m + bx + lx];
    BARRIER();
    out[(long)(bx + ly) * n + by + lx] = tile[lx][ly];
}

KERNEL void matmul(GLOBAL const float* a, GLOBAL const float* b, GLOBAL float* c, int n) {
    SHARED float ta[TILE][TILE];
    SHARED float tb[TILE][TILE];
    int j = GID(0), i = GID(1), lj = LID(0), li = LID(1);
    float acc = 0.0f;
    for (int t0 = 0; t0 < n; t0 += TILE) {
        ta[li][lj] = a[(long)i * n + t0 + lj];
        tb[li][lj] = b[(long)(t0 + li) * n + j];
        BARRIER();
        for (int k = 0; k < TILE; ++k) acc += ta[li][k] * tb[k][lj];
        BARRIER();
    }
    c[(long)i * n + j] = acc;
}

float cnd(float d) {
    float k = 1.0f / (1.0f + 0.2316419f * fabs(d));
    float c = 0.3989422804014327f * EXPF(-0.5f * d * d) *
        (k * (0.31938153f + k * (-0.356563782f + k * (1.781477937f + k * (-1.821255978f + k * 1.330274429f)))));
    return d > 0 ? 1.0f - c : c;
}

KERNEL void black_scholes(GLOBAL const float* S, GLOBAL const float* X, GLOBAL const float* T,
                          GLOBAL float* call, GLOBAL float* put, float r, float v, int n) {
    int i = GID(0);
    if (i >= n) return;
    float s = S[i], x = X[i], t = T[i];
    float sq = SQRTF(t);
    float d1 = (LOGF(s / x) + (r + 0.5f * v * v) * t) / (v * sq);
    float d2 = d1 - v * sq;
    float c1 = cnd(d1), c2 = cnd(d2);
    float e = EXPF(-r * t);
    call[i] = s * c1 - x * e * c2;
    put[i] = x * e * (1.0f - c2) - s * (1.0f - c1);
}

KERNEL void mandelbrot(GLOBAL int* out, float x0, float y0, float dx, float dy, int n, int m, int maxit) {
    int j = GID(0), i = GID(1);
    if (i >= n || j >= m) return;
    float cr = x0 + (float)j * dx, ci = y0 + (float)i * dy;
    float zr = 0.0f, zi = 0.0f;
    int it = 0;
    while (it < maxit && zr * zr + zi * zi <= 4.0f) {
        float t = zr * zr - zi * zi + cr;
        zi = 2.0f * zr * zi + ci;
        zr = t;
        ++it;
    }
    out[(long)i * m + j] = it;
}
"""


def source(dialect: str) -> str:
    """The full baseline source for ``dialect`` ("opencl" or "cuda")."""
    defines = "".join(f"#define {k} {v}\n" for k, v in (
        ("TILE", C.TILE), ("RED_WG", C.RED_WG), ("RED_PER_ITEM", C.RED_PER_ITEM), ("ROW_WG", C.ROW_WG),
        ("NBINS", C.NBINS)))
    prelude = OPENCL_PRELUDE if dialect == "opencl" else CUDA_PRELUDE
    body = KERNELS if dialect == "opencl" else KERNELS.replace("float cnd(", "__device__ float cnd(")
    return prelude + defines + body


def launch_plan(name: str, d: dict, n: int) -> tuple[str, list, tuple[int, ...], tuple[int, ...] | None, dict]:
    """(kernel name, argument keys or literal scalars, global size, local size, outputs) for one case.

    Sizes are in the C convention (dimension 0 fastest). Scalars are NumPy-typed for the framework.
    """
    import numpy as np

    i32 = np.int32
    if name == "tiny":
        return "tiny", ["x", i32(1)], (1,), None, {"x": "x"}
    if name == "saxpy":
        return "saxpy", ["a", "x", "y", "out", i32(n)], (n,), None, {"out": "out"}
    if name == "triad":
        return "triad", ["a", "b", "c", "s", i32(n)], (n,), None, {"a": "a"}
    if name == "reduce_sum":
        groups = d["partial"].shape[0]
        return "reduce_sum", ["x", "partial", i32(n)], (groups * C.RED_WG,), (C.RED_WG,), {"partial": "partial"}
    if name in ("softmax", "layernorm"):
        args = ["x", "out", i32(C.ROW_COLS)] if name == "softmax" else \
            ["x", "gamma", "beta", "out", "eps", i32(C.ROW_COLS)]
        return name, args, (C.ROW_WG, n), (C.ROW_WG, 1), {"out": "out"}
    if name == "jacobi2d":
        return "jacobi2d", ["u", "out", i32(n), i32(n)], (n, n), None, {"out": "out"}
    if name == "histogram":
        return "histogram", ["x", "hist", i32(n)], (n,), None, {"hist": "hist"}
    if name == "transpose":
        return "transpose", ["a", "out", i32(n), i32(n)], (n, n), (C.TILE, C.TILE), {"out": "out"}
    if name == "matmul":
        return "matmul", ["a", "b", "c", i32(n)], (n, n), (C.TILE, C.TILE), {"c": "c"}
    if name == "black_scholes":
        return ("black_scholes", ["S", "X", "T", "call", "put", "r", "v", i32(n)], (n,), None,
                {"call": "call", "put": "put"})
    if name == "mandelbrot":
        return ("mandelbrot", ["out", "x0", "y0", "dx", "dy", i32(n), i32(n), i32(C.MAXIT)], (n, n), None,
                {"out": "out"})
    raise KeyError(name)
