"""Spin locks built on atomic_cas/atomic_xchg, run as a script in a subprocess (a broken lock hangs:
test_language_locks.py kills it after a timeout): ``python lock_kernels.py BACKEND [CASE...]``.

``layer_norm_bwd_dx_fused`` is Triton's tutorial 05-layer-norm.py kernel of the same name written in
portakern: one work-group per row (Triton's program), the work-items its columns; work-item 0 takes
the row's group lock (``while atomic_cas(Lock, 0, 1) == 1: pass``), the group adds its partial dw/db
into the shared buffer, work-item 0 releases it with ``atomic_xchg``. The data are small integers and
halves, so every sum is exact in float32 whatever order the locks are taken in: the results must
equal the float64 NumPy reference exactly.
"""
from __future__ import annotations

import sys

import numpy as np

import portakern as pk


@pk.kernel
def layer_norm_bwd_dx_fused(DX, DY, DW, DB, X, W, Mean, Rstd, Lock, GROUP_SIZE_M: pk.constexpr, N: pk.constexpr):
    row = pk.group_id(0)
    col = pk.local_id(0)
    lock_id = row % GROUP_SIZE_M
    x = X[row, col]
    dy = DY[row, col]
    w = W[col]
    xhat = (x - Mean[row]) * Rstd[row]
    wdy = w * dy
    s = pk.local_array((2, N), pk.float32)
    s[0, col] = xhat * wdy
    s[1, col] = wdy
    pk.barrier()
    c1 = pk.float32(0.0)
    c2 = pk.float32(0.0)
    for k in range(N):
        c1 += s[0, k]
        c2 += s[1, k]
    c1 = c1 / pk.float32(N)
    c2 = c2 / pk.float32(N)
    DX[row, col] = (wdy - (xhat * c1 + c2)) * Rstd[row]
    partial_dw = dy * xhat
    partial_db = dy
    if col == 0:                                   # Triton: while tl.atomic_cas(Lock, 0, 1) == 1: pass
        while pk.atomic_cas(Lock, lock_id, 0, 1) == 1:
            pass
    pk.barrier()
    count = Lock[GROUP_SIZE_M + lock_id]           # Count: 0 until the first row of the group wrote
    if count != 0:
        partial_dw += DW[lock_id, col]
        partial_db += DB[lock_id, col]
    DW[lock_id, col] = partial_dw
    DB[lock_id, col] = partial_db
    pk.barrier()
    if col == 0:
        if count == 0:
            pk.atomic_xchg(Lock, GROUP_SIZE_M + lock_id, 1)
        pk.atomic_xchg(Lock, lock_id, 0)           # release


@pk.kernel
def locked_sum(x, total, lock):
    # a lock per work-item (no work-group structure): a plain read-modify-write under it
    i = pk.global_id(0)
    while pk.atomic_cas(lock, 0, 0, 1) == 1:
        pass
    total[0] = total[0] + x[i]
    total[1] = total[1] + 1.0
    pk.atomic_xchg(lock, 0, 0)


@pk.kernel
def locked_sum_in_loop(x, total, lock):
    # the form that also works where lanes run in lockstep: the critical section inside the loop,
    # here with a test-and-set lock (atomic_xchg) in a work-group kernel
    i = pk.global_id(0)
    pk.barrier()
    done = False
    while not done:
        if pk.atomic_xchg(lock, 0, 1) == 0:
            total[0] = total[0] + x[i]
            total[1] = total[1] + 1.0
            pk.atomic_xchg(lock, 0, 0)
            done = True


def layer_norm_case(backend: str) -> None:
    M, N, G = 6, 16, 2            # three rows share each lock; few rows: jax traces one step per row
    rng = np.random.default_rng(5)
    X = rng.integers(-4, 5, (M, N)).astype(np.float32)
    DY = rng.integers(-3, 4, (M, N)).astype(np.float32)
    W = rng.integers(-3, 4, N).astype(np.float32)
    Mean = rng.integers(-1, 2, M).astype(np.float32)
    Rstd = np.full(M, 0.5, np.float32)
    DX = np.zeros((M, N), np.float32)
    DW = np.zeros((G, N), np.float32)
    DB = np.zeros((G, N), np.float32)
    Lock = np.zeros(2 * G, np.int32)
    layer_norm_bwd_dx_fused.on(backend)[M * N, N](DX, DY, DW, DB, X, W, Mean, Rstd, Lock, G, N)
    x, dy, w = X.astype(np.float64), DY.astype(np.float64), W.astype(np.float64)
    xhat = (x - Mean[:, None]) * Rstd[:, None]
    wdy = w * dy
    c1 = (xhat * wdy).sum(1, keepdims=True) / N
    c2 = wdy.sum(1, keepdims=True) / N
    np.testing.assert_array_equal(DX, (wdy - (xhat * c1 + c2)) * Rstd[:, None])
    groups = np.arange(M) % G
    np.testing.assert_array_equal(DW, np.stack([(dy * xhat)[groups == g].sum(0) for g in range(G)]))
    np.testing.assert_array_equal(DB, np.stack([dy[groups == g].sum(0) for g in range(G)]))
    np.testing.assert_array_equal(Lock, np.r_[np.zeros(G), np.ones(G)].astype(np.int32))


def sum_case(backend: str, kernel, workgroup) -> None:
    n = 32
    x = (np.arange(n) * 7 % 13).astype(np.float64)
    total = np.zeros(2)
    lock = np.zeros(1, np.int32)
    bound = kernel.on(backend)
    (bound[n, workgroup] if workgroup else bound[n])(x, total, lock)
    np.testing.assert_array_equal(total, [x.sum(), n])
    assert lock[0] == 0


CASES = {
    "layer_norm": layer_norm_case,
    "locked_sum": lambda be: sum_case(be, locked_sum, None),
    "locked_sum_in_loop": lambda be: sum_case(be, locked_sum_in_loop, 16),
}

if __name__ == "__main__":
    for case in sys.argv[2:] or CASES:
        CASES[case](sys.argv[1])
        print("LOCK OK", case, flush=True)
