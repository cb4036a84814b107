"""@pk.func helpers that return several values (``return a, b``, unpacked or indexed by the caller)
and helpers that update a private or local array argument in place."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.errors import CompileError


@pk.func
def div_mod(a, b):
    return a // b, a % b


@pk.func
def ordered(a, b):
    if a < b:
        return a, b
    return b, a


@pk.func
def first_at_least(x, limit):
    # a tuple returned from inside a loop, and a different one after it
    for k in range(x.shape[0]):
        if x[k] >= limit:
            return k, x[k]
    return -1, 0.0


@pk.func
def through(a, b):
    return ordered(a, b)                      # a helper's tuple passed on


@pk.func
def fill_ramp(p, n, start):
    for k in range(n):
        p[k] = start + k


@pk.func
def add_into(t, k, v):
    t[k] += v


@pk.kernel
def use_tuples(x, q, r, lo, hi, idx, val, s):
    i = pk.global_id(0)
    a, b = div_mod(x[i], 4)
    q[i] = a
    r[i] = b
    lo[i], hi[i] = through(x[i], 10)
    k, v = first_at_least(x, x[i] * 2)
    idx[i] = k
    val[i] = v
    pair = div_mod(x[i] + 1, 3)
    s[i] = pair[0] * 10 + pair[1]


@pk.kernel
def update_arrays_in_place(out):
    i = pk.global_id(0)
    lid = pk.local_id(0)
    p = pk.private_array(4, pk.int32)
    fill_ramp(p, 4, i)
    t = pk.local_array(8, pk.int32)
    t[lid] = 0
    pk.barrier()
    add_into(t, lid, 5)
    add_into(p, 3, 100)
    pk.barrier()
    out[i] = p[0] + p[3] + t[lid]


def test_helpers_return_tuples_unpacked_or_indexed(backend, run):
    n = 12
    x = np.array([3, 9, 14, 0, 7, 22, 5, 11, 2, 30, 8, 1], dtype=np.int64)
    q, r, lo, hi, idx, s = (np.zeros(n, np.int64) for _ in range(6))
    val = np.zeros(n, np.float64)
    run(use_tuples, backend, n, None, x, q, r, lo, hi, idx, val, s)
    np.testing.assert_array_equal(q, x // 4)
    np.testing.assert_array_equal(r, x % 4)
    np.testing.assert_array_equal(lo, np.minimum(x, 10))
    np.testing.assert_array_equal(hi, np.maximum(x, 10))
    want = [next((k for k in range(n) if x[k] >= 2 * xi), -1) for xi in x]
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(val, [x[k] if k >= 0 else 0.0 for k in want])
    np.testing.assert_array_equal(s, (x + 1) // 3 * 10 + (x + 1) % 3)


def test_helpers_update_private_and_local_array_arguments_in_place(backend, run):
    out = np.zeros(16, np.int32)
    run(update_arrays_in_place, backend, 16, 8, out)
    i = np.arange(16)
    np.testing.assert_array_equal(out, i + (i + 3 + 100) + 5)


def test_a_helper_returning_a_number_and_a_tuple_is_a_compile_error():
    @pk.func
    def mixed(a):
        if a > 0:
            return a, a
        return a

    @pk.kernel
    def k(x):
        i = pk.global_id(0)
        u, v = mixed(x[i])
        x[i] = u + v

    with pytest.raises(CompileError, match=r"helper 'mixed' returns a number here but a tuple of 2 elsewhere"):
        k.on("numpy")[2](np.zeros(2))


def test_a_helper_returning_an_array_is_a_compile_error():
    @pk.func
    def arr(a):
        return a, 1

    @pk.kernel
    def k(x):
        u, v = arr(x)
        x[0] = v

    with pytest.raises(CompileError, match="a helper can only return a number, a vector or a tuple of them"):
        k.on("numpy")[1](np.zeros(2))
