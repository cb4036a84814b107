"""Every operator: arithmetic, bitwise, comparisons (chained), and/or/not, the conditional expression."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def int_operators(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        x = a[i]
        y = b[i]
        out[0, i] = x + y
        out[1, i] = x - y
        out[2, i] = x * y
        out[3, i] = x // y
        out[4, i] = x % y
        out[5, i] = x ** 2
        out[6, i] = x & y
        out[7, i] = x | y
        out[8, i] = x ^ y
        out[9, i] = ~x
        out[10, i] = x << 2
        out[11, i] = x >> 1
        out[12, i] = -x
        out[13, i] = +x


@pk.kernel
def float_operators(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        x = a[i]
        y = b[i]
        out[0, i] = x + y
        out[1, i] = x - y
        out[2, i] = x * y
        out[3, i] = x / y
        out[4, i] = x // y
        out[5, i] = x % y
        out[6, i] = -x


@pk.kernel
def comparisons(a, b, c, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out[0, i] = a[i] < b[i]
        out[1, i] = a[i] <= b[i]
        out[2, i] = a[i] > b[i]
        out[3, i] = a[i] >= b[i]
        out[4, i] = a[i] == b[i]
        out[5, i] = a[i] != b[i]
        out[6, i] = a[i] < b[i] < c[i]
        out[7, i] = a[i] <= b[i] == c[i]


@pk.kernel
def logic(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        p = a[i] > 0
        q = b[i] > 0
        out[0, i] = p and q
        out[1, i] = p or q
        out[2, i] = not p
        out[3, i] = (p and not q) or (q and not p)


@pk.kernel
def bool_operators(p, q, out):
    i = pk.global_id(0)
    if i < p.shape[0]:
        out[0, i] = ~p[i]
        out[1, i] = p[i] & q[i]
        out[2, i] = p[i] | q[i]
        out[3, i] = p[i] ^ q[i]
        out[4, i] = p[i] == q[i]
        out[5, i] = not p[i]


@pk.kernel(debug=True)
def short_circuit_guards(x, out):
    i = pk.global_id(0)
    ok = i < x.shape[0] and x[i] > 0
    out[i] = 1 if ok else 0
    out[i] += x[i] if i < x.shape[0] else 100


@pk.kernel
def conditional_expression(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i] * 2 if x[i] > 2 else -x[i]


def test_integer_operators_match_numpy(backend, run):
    a = np.array([7, -7, 100, -100, 3, 0, 123456, -1], dtype=np.int32)
    b = np.array([2, 2, -3, -3, 5, 9, 1000, 7], dtype=np.int32)
    out = np.zeros((14, a.size), dtype=np.int32)
    run(int_operators, backend, a.size, None, a, b, out)
    expected = [a + b, a - b, a * b, a // b, a % b, a ** 2, a & b, a | b, a ^ b, ~a, a << 2, a >> 1, -a, +a]
    for q, e in enumerate(expected):
        np.testing.assert_array_equal(out[q], e, err_msg=f"operator {q}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_operators_match_numpy(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    a = np.array([7.5, -7.5, 1.0, -0.0, 1e6, 3.0], dtype=dtype)
    b = np.array([2.0, 2.0, 3.0, 1.0, 0.375, -0.5], dtype=dtype)
    out = np.zeros((7, a.size), dtype=dtype)
    run(float_operators, backend, a.size, None, a, b, out)
    with np.errstate(all="ignore"):
        expected = [a + b, a - b, a * b, a / b, a // b, a % b, -a]
    for q, e in enumerate(expected):
        np.testing.assert_array_equal(out[q], e, err_msg=f"operator {q}")
        np.testing.assert_array_equal(np.signbit(out[q]), np.signbit(e), err_msg=f"operator {q} sign")


def test_comparisons_including_chained(backend, run):
    a = np.array([1, 2, 3, 3, 5], dtype=np.int64)
    b = np.array([2, 2, 3, 1, 6], dtype=np.int64)
    c = np.array([3, 2, 3, 9, 6], dtype=np.int64)
    out = np.zeros((8, 5), dtype=np.bool_)
    run(comparisons, backend, 5, None, a, b, c, out)
    expected = [a < b, a <= b, a > b, a >= b, a == b, a != b, (a < b) & (b < c), (a <= b) & (b == c)]
    for q, e in enumerate(expected):
        np.testing.assert_array_equal(out[q], e, err_msg=f"comparison {q}")


def test_comparisons_with_nan_and_signed_zero(backend, run):
    a = np.array([np.nan, -0.0, 1.0, np.nan], dtype=np.float32)
    b = np.array([1.0, 0.0, np.nan, np.nan], dtype=np.float32)
    c = np.array([2.0, 0.0, 2.0, 0.0], dtype=np.float32)
    out = np.zeros((8, 4), dtype=np.bool_)
    run(comparisons, backend, 4, None, a, b, c, out)
    np.testing.assert_array_equal(out[4], [False, True, False, False])    # -0.0 == +0.0; NaN != NaN
    np.testing.assert_array_equal(out[5], [True, False, True, True])
    np.testing.assert_array_equal(out[0] | out[2] | out[4], [False, True, False, False])


def test_and_or_not(backend, run):
    a = np.array([1, 1, -1, -1], dtype=np.int32)
    b = np.array([1, -1, 1, -1], dtype=np.int32)
    out = np.zeros((4, 4), dtype=np.bool_)
    run(logic, backend, 4, None, a, b, out)
    p, q = a > 0, b > 0
    np.testing.assert_array_equal(out[0], p & q)
    np.testing.assert_array_equal(out[1], p | q)
    np.testing.assert_array_equal(out[2], ~p)
    np.testing.assert_array_equal(out[3], p ^ q)


def test_bitwise_operators_on_bools_are_logical(backend, run):
    p = np.array([True, True, False, False])
    q = np.array([True, False, True, False])
    out = np.zeros((6, 4), dtype=np.bool_)
    run(bool_operators, backend, 4, None, p, q, out)
    for k, e in enumerate([~p, p & q, p | q, p ^ q, p == q, ~p]):
        np.testing.assert_array_equal(out[k], e, err_msg=f"row {k}")


def test_and_and_conditional_expression_short_circuit(backend, run):
    # with debug=True an evaluated out-of-bounds x[i] would raise KernelIndexError
    x = np.array([5, -1, 3], dtype=np.int64)
    out = np.zeros(5, dtype=np.int64)
    run(short_circuit_guards, backend, 5, None, x, out)
    np.testing.assert_array_equal(out, [6, -1, 4, 100, 100])


def test_conditional_expression_selects_per_work_item(backend, run):
    x = np.arange(6, dtype=np.float32)
    out = np.zeros(6, dtype=np.float32)
    run(conditional_expression, backend, 6, None, x, out)
    np.testing.assert_array_equal(out, np.where(x > 2, x * 2, -x))
