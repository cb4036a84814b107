"""The suite's kernels, each written once in portakern.

Imported lazily by the harness (``benchmarks.kernels``), so the bandwidth probe and the hand-written
baselines work even where the portakern runtime is broken. Every kernel follows docs/language.md only: no
backend-specific trick. Kernels with local memory or barriers take their work-group size as a
``pk.constexpr`` so one source serves every tile size the harness picks.
"""
# No ``from __future__ import annotations``: kernel annotations must be objects, not strings.
import portakern as pk


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@pk.kernel
def triad(a, b, c, s):
    i = pk.global_id(0)
    if i < a.shape[0]:
        a[i] = b[i] + s * c[i]


@pk.kernel
def reduce_sum(x, partial, WG: pk.constexpr, PER_ITEM: pk.constexpr, LOG_WG: pk.constexpr):
    # Two-phase reduction: each work-item sums PER_ITEM strided elements, the work-group
    # reduces in local memory, one partial per group (the host adds the few partials).
    lid = pk.local_id(0)
    grp = pk.group_id(0)
    n = x.shape[0]
    acc = pk.float32(0.0)
    base = grp * (WG * PER_ITEM) + lid
    for k in range(PER_ITEM):
        j = base + k * WG
        if j < n:
            acc += x[j]
    red = pk.local_array(WG, pk.float32)
    red[lid] = acc
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    if lid == 0:
        partial[grp] = red[0]


@pk.kernel
def softmax(x, out, WG: pk.constexpr, LOG_WG: pk.constexpr):
    # One work-group per row (ndrange (rows, WG), workgroup (1, WG)).
    r = pk.global_id(0)
    lid = pk.local_id(1)
    cols = x.shape[1]
    red = pk.local_array(WG, pk.float32)
    m = pk.float32(-3.0e38)
    for c in range(lid, cols, WG):
        m = max(m, x[r, c])
    red[lid] = m
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = max(red[lid], red[lid + s])
        pk.barrier()
    m = red[0]
    pk.barrier()
    acc = pk.float32(0.0)
    for c in range(lid, cols, WG):
        # exp once per element: kept in out, scaled below (each lane rereads only its own columns).
        e = pk.exp(x[r, c] - m)
        out[r, c] = e
        acc += e
    red[lid] = acc
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    inv = 1.0 / red[0]
    for c in range(lid, cols, WG):
        out[r, c] = out[r, c] * inv


@pk.kernel
def layernorm(x, gamma, beta, out, eps: pk.float32, WG: pk.constexpr, LOG_WG: pk.constexpr):
    # One work-group per row; two-pass mean and variance (stable), then scale and shift.
    r = pk.global_id(0)
    lid = pk.local_id(1)
    cols = x.shape[1]
    red = pk.local_array(WG, pk.float32)
    acc = pk.float32(0.0)
    for c in range(lid, cols, WG):
        acc += x[r, c]
    red[lid] = acc
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    mean = red[0] / pk.float32(cols)
    pk.barrier()
    acc2 = pk.float32(0.0)
    for c in range(lid, cols, WG):
        d = x[r, c] - mean
        acc2 += d * d
    red[lid] = acc2
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    rstd = pk.rsqrt(red[0] / pk.float32(cols) + eps)
    for c in range(lid, cols, WG):
        out[r, c] = (x[r, c] - mean) * rstd * gamma[c] + beta[c]


@pk.kernel
def matmul(a, b, c, T: pk.constexpr):
    # Classic local-memory tiling; n must be a multiple of T (the harness picks sizes so).
    i = pk.global_id(0)
    j = pk.global_id(1)
    li = pk.local_id(0)
    lj = pk.local_id(1)
    n = a.shape[1]
    ta = pk.local_array((T, T), pk.float32)
    tb = pk.local_array((T, T), pk.float32)
    acc = pk.float32(0.0)
    for t0 in range(0, n, T):
        ta[li, lj] = a[i, t0 + lj]
        tb[li, lj] = b[t0 + li, j]
        pk.barrier()
        for k in range(T):
            acc += ta[li, k] * tb[k, lj]
        pk.barrier()
    c[i, j] = acc


@pk.kernel
def jacobi2d(u, out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    n = u.shape[0]
    m = u.shape[1]
    if i < n and j < m:
        if i > 0 and i < n - 1 and j > 0 and j < m - 1:
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        else:
            out[i, j] = u[i, j]


@pk.kernel
def histogram(x, hist, NB: pk.constexpr):
    i = pk.global_id(0)
    if i < x.shape[0]:
        b = pk.int64(x[i] * pk.float32(NB))
        b = min(max(b, 0), NB - 1)
        pk.atomic_add(hist, b, 1)


@pk.kernel
def transpose(a, out, T: pk.constexpr, TP: pk.constexpr):
    # TP == T + 1: the padded row avoids bank conflicts on GPUs (harmless on CPUs).
    gi = pk.group_id(0)
    gj = pk.group_id(1)
    li = pk.local_id(0)
    lj = pk.local_id(1)
    tile = pk.local_array((T, TP), pk.float32)
    tile[li, lj] = a[gi * T + li, gj * T + lj]
    pk.barrier()
    out[gj * T + li, gi * T + lj] = tile[lj, li]


@pk.func
def cnd(d):
    # Polynomial normal CDF of the CUDA SDK Black-Scholes sample (Abramowitz-Stegun 26.2.17).
    k = 1.0 / (1.0 + 0.2316419 * abs(d))
    c = 0.3989422804014327 * pk.exp(-0.5 * d * d) * (
        k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429)))))
    if d > 0:
        c = 1.0 - c
    return c


@pk.kernel
def black_scholes(S, X, T, call, put, r: pk.float32, v: pk.float32):
    i = pk.global_id(0)
    if i < S.shape[0]:
        s = S[i]
        x = X[i]
        t = T[i]
        sqrt_t = pk.sqrt(t)
        d1 = (pk.log(s / x) + (r + 0.5 * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        c1 = cnd(d1)
        c2 = cnd(d2)
        e = pk.exp(-r * t)
        call[i] = s * c1 - x * e * c2
        put[i] = x * e * (1.0 - c2) - s * (1.0 - c1)


@pk.kernel
def mandelbrot(out, x0: pk.float32, y0: pk.float32, dx: pk.float32, dy: pk.float32,
               MAXIT: pk.constexpr):
    i = pk.global_id(0)
    j = pk.global_id(1)
    if i < out.shape[0] and j < out.shape[1]:
        cr = x0 + pk.float32(j) * dx
        ci = y0 + pk.float32(i) * dy
        zr = pk.float32(0.0)
        zi = pk.float32(0.0)
        it = 0
        while it < MAXIT and zr * zr + zi * zi <= 4.0:
            t = zr * zr - zi * zi + cr
            zi = 2.0 * zr * zi + ci
            zr = t
            it += 1
        out[i, j] = it


@pk.kernel
def tiny(x):
    # The dispatch-overhead probe: one work-item, one store.
    i = pk.global_id(0)
    if i < x.shape[0]:
        x[i] = x[i] + 1.0
