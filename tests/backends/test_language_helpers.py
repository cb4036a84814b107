"""@pk.func helpers, module-level and closure constants, pk.constexpr, annotations."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

SCALE = 3
OFFSET = 0.5
ENABLED = True


@pk.func
def square(v):
    return v * v


@pk.func
def sum_of_squares(a, b):
    return square(a) + square(b)


@pk.func
def first_index_above(x, limit):
    for k in range(x.shape[0]):
        if x[k] > limit:
            return k
    return -1


@pk.func
def clamp(v, lo, hi):
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@pk.func
def put(a, i, v):
    a[i] = v


@pk.kernel
def writes_through_a_helper(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        put(out, i, x[i] + 1)


@pk.kernel
def use_helpers(x, y, out, idx):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = sum_of_squares(x[i], y[i])
        idx[i] = first_index_above(x, x[i])


@pk.kernel
def generic_helper(a, f, out_a, out_f):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out_a[i] = clamp(a[i], 0, 10)
        out_f[i] = clamp(f[i], 0.0, 1.0)


@pk.kernel
def module_constants(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        if ENABLED:
            out[i] = x[i] * SCALE + OFFSET
        else:
            out[i] = -1.0


def make_closure_kernel(k):
    factor = k

    @pk.kernel
    def closure_constant(x, out):
        i = pk.global_id(0)
        if i < x.shape[0]:
            out[i] = x[i] * factor

    return closure_constant


@pk.kernel
def unrolled_by_constexpr(x, out, n: pk.constexpr):
    i = pk.global_id(0)
    if i < x.shape[0]:
        s = 0
        for k in range(n):
            s += x[i] + k
        out[i] = s


@pk.kernel
def annotated(a: pk.float32, x: pk.Array[pk.float32, 1], out: pk.Array, n: pk.int32):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = a * x[i] + n


def test_funcs_return_values_and_call_each_other(backend, run):
    x = np.array([1.0, 4.0, 2.0, 3.0], dtype=np.float32)
    y = np.array([2.0, 0.5, -1.0, 0.0], dtype=np.float32)
    out = np.zeros(4, dtype=np.float32)
    idx = np.zeros(4, dtype=np.int64)
    run(use_helpers, backend, 4, None, x, y, out, idx)
    np.testing.assert_array_equal(out, x * x + y * y)
    expected_idx = [next((k for k, v in enumerate(x) if v > lim), -1) for lim in x]
    np.testing.assert_array_equal(idx, expected_idx)      # a return inside a loop


def test_a_func_may_write_an_array_argument(backend, run):
    x = np.arange(5, dtype=np.int64)
    out = np.zeros(5, dtype=np.int64)
    res = run(writes_through_a_helper, backend, 5, None, x, out)
    assert res is out
    np.testing.assert_array_equal(out, x + 1)


def test_funcs_are_generic_over_argument_types(backend, run):
    a = np.array([-3, 5, 20], dtype=np.int32)
    f = np.array([-0.5, 0.25, 2.0], dtype=np.float64)
    out_a = np.zeros(3, dtype=np.int32)
    out_f = np.zeros(3, dtype=np.float64)
    run(generic_helper, backend, 3, None, a, f, out_a, out_f)
    np.testing.assert_array_equal(out_a, [0, 5, 10])
    np.testing.assert_array_equal(out_f, [0.0, 0.25, 1.0])


def test_module_constants_are_frozen_and_a_change_recompiles(backend, run):
    global SCALE
    x = np.arange(4, dtype=np.float64)
    out = np.zeros(4, dtype=np.float64)
    run(module_constants, backend, 4, None, x, out)
    np.testing.assert_array_equal(out, x * 3 + 0.5)
    SCALE = 5
    try:
        run(module_constants, backend, 4, None, x, out)
        np.testing.assert_array_equal(out, x * 5 + 0.5)
    finally:
        SCALE = 3


def test_closure_constants_are_captured(backend, run):
    x = np.arange(5, dtype=np.int32)
    out2, out7 = np.zeros(5, dtype=np.int32), np.zeros(5, dtype=np.int32)
    run(make_closure_kernel(2), backend, 5, None, x, out2)
    run(make_closure_kernel(7), backend, 5, None, x, out7)
    np.testing.assert_array_equal(out2, x * 2)
    np.testing.assert_array_equal(out7, x * 7)


@pytest.mark.parametrize("n", [1, 4])
def test_constexpr_specialises_a_loop_bound(backend, run, n):
    x = np.arange(6, dtype=np.int64)
    out = np.zeros(6, dtype=np.int64)
    run(unrolled_by_constexpr, backend, 6, None, x, out, n)
    np.testing.assert_array_equal(out, x * n + n * (n - 1) // 2)


def test_annotated_scalars_are_converted(backend, run):
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, dtype=np.float32)
    run(annotated, backend, 4, None, 0.1, x, out, 2)        # Python float -> float32, int -> int32
    np.testing.assert_array_equal(out, ((np.float32(0.1) * x) + np.int32(2)).astype(np.float32))


@pk.func
def first_big(x, n):
    done = 0                            # the helper's own 'done' and 'ret' are not its return machinery
    ret = 100
    for k in range(n):
        if x[k] > 5:
            return k
        done = done + 1
    return done + ret


@pk.kernel
def helper_locals_named_like_its_return_flag(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = first_big(x, x.shape[0] - i)


def test_helper_locals_named_done_and_ret_do_not_touch_its_return(backend, run):
    x = np.array([1, 2, 9, 3], np.int64)
    out = np.zeros(4, np.int64)
    run(helper_locals_named_like_its_return_flag, backend, 4, None, x, out)
    np.testing.assert_array_equal(out, [2, 2, 102, 101])
