"""Work-group memory with barriers, and per-work-item private arrays."""
from __future__ import annotations

import numpy as np

import portakern as pk

WG = 16


@pk.kernel
def group_sum(x, out):
    lid = pk.local_id(0)
    t = pk.local_array(WG, pk.float32)
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    s = WG // 2
    while s > 0:
        if lid < s:
            t[lid] += t[lid + s]
        pk.barrier()
        s //= 2
    if lid == 0:
        out[pk.group_id(0)] = t[0]


@pk.kernel
def reverse_within_group(x, out):
    lid = pk.local_id(0)
    n = pk.local_size(0)
    t = pk.local_array(WG, pk.int32)
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    out[pk.global_id(0)] = t[n - 1 - lid]


@pk.kernel
def transpose_tiles(x, out):
    li = pk.local_id(0)
    lj = pk.local_id(1)
    tile = pk.local_array((4, 4), np.int32)
    tile[li, lj] = x[pk.global_id(0), pk.global_id(1)]
    pk.barrier()
    out[pk.global_id(0), pk.global_id(1)] = tile[lj, li]


@pk.kernel
def private_prefix(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        p = pk.private_array(4, pk.int32)
        for k in range(4):
            p[k] = x[i] * (k + 1)
        acc = 0
        for k in range(4):
            acc += p[k]
        out[i] = acc


@pk.kernel
def sized_by_constexpr(x, out, n: pk.constexpr):
    lid = pk.local_id(0)
    t = pk.local_array(n, pk.int64)
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    s = 0
    for k in range(n):
        s += t[k]
    out[pk.global_id(0)] = s


@pk.kernel
def tiled_dot(x, w, out):
    # a private accumulator and a private value live across barriers inside a loop (what a CPU
    # backend has to keep per work-item when it splits the kernel at barriers)
    lid = pk.local_id(0)
    gid = pk.global_id(0)
    t = pk.local_array(8, pk.float64)
    mine = w[gid] * 2.0
    acc = 0.0
    for tile in range(x.shape[0] // 8):
        t[lid] = x[tile * 8 + lid]
        pk.barrier()
        for k in range(8):
            acc += t[k] * mine
        pk.barrier()
    out[gid] = acc + mine


@pk.kernel
def neighbour_exchange(x, out):
    lid = pk.local_id(0)
    n = pk.local_size(0)
    t = pk.local_array(8, pk.int32)
    v = x[pk.global_id(0)]
    t[lid] = v
    pk.barrier()
    left = t[(lid + n - 1) % n]
    pk.barrier()
    t[lid] = left + v
    pk.barrier()
    out[pk.global_id(0)] = t[(lid + 1) % n] * 10 + left


def test_private_values_live_across_barriers_in_a_loop(backend, run, need_fp64):
    need_fp64("float64")
    x = np.arange(24, dtype=np.float64)
    w = np.linspace(0.5, 2.0, 16)
    out = np.zeros(16, dtype=np.float64)
    run(tiled_dot, backend, 16, 8, x, w, out)
    np.testing.assert_allclose(out, x.sum() * w * 2.0 + w * 2.0, rtol=1e-14)


def test_local_memory_rewritten_between_barriers(backend, run):
    x = (np.arange(16, dtype=np.int32) * 7) % 5
    out = np.zeros(16, dtype=np.int32)
    run(neighbour_exchange, backend, 16, 8, x, out)
    g = x.reshape(2, 8)
    left = np.roll(g, 1, axis=1)
    second = left + g
    expected = np.roll(second, -1, axis=1) * 10 + left
    np.testing.assert_array_equal(out, expected.ravel())


def test_work_group_tree_reduction_with_local_memory_and_barriers(backend, run):
    x = np.arange(64, dtype=np.float32)
    out = np.zeros(4, dtype=np.float32)
    run(group_sum, backend, 64, WG, x, out)
    np.testing.assert_array_equal(out, x.reshape(4, WG).sum(axis=1))


def test_reversal_within_each_work_group(backend, run):
    x = np.arange(32, dtype=np.int32) * 3
    out = np.zeros_like(x)
    run(reverse_within_group, backend, 32, 8, x, out)
    np.testing.assert_array_equal(out, x.reshape(4, 8)[:, ::-1].ravel())


def test_2d_local_array_transposes_each_tile(backend, run):
    x = np.arange(64, dtype=np.int32).reshape(8, 8)
    out = np.zeros_like(x)
    run(transpose_tiles, backend, (8, 8), (4, 4), x, out)
    expected = x.reshape(2, 4, 2, 4).transpose(0, 3, 2, 1).reshape(8, 8)
    np.testing.assert_array_equal(out, expected)


def test_private_arrays_are_per_work_item(backend, run):
    x = np.arange(20, dtype=np.int32) - 5
    out = np.zeros(20, dtype=np.int64)
    run(private_prefix, backend, 20, None, x, out)
    np.testing.assert_array_equal(out, x.astype(np.int64) * 10)


def test_constexpr_sizes_a_local_array_and_a_loop(backend, run):
    x = np.arange(24, dtype=np.int64)
    out = np.zeros_like(x)
    run(sized_by_constexpr, backend, 24, 8, x, out, 8)
    np.testing.assert_array_equal(out, np.repeat(x.reshape(3, 8).sum(axis=1), 8))
    out4 = np.zeros_like(x)
    run(sized_by_constexpr, backend, 24, 4, x, out4, 4)
    np.testing.assert_array_equal(out4, np.repeat(x.reshape(6, 4).sum(axis=1), 4))
