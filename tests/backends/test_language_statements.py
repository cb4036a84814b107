"""Statements: assignment (tuple unpacking), augmented assignment, if/elif/else, for range with 1 to 3
arguments (negative step too), while, break, continue, return, pass."""
from __future__ import annotations

import numpy
import numpy as np

import portakern as pk


@pk.kernel
def tuple_unpacking(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        x, y = a[i], b[i]
        x, y = y, x                     # a swap: the right side is evaluated first
        out[0, i] = x
        out[1, i] = y


@pk.kernel
def augmented_assignment(a, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        x = a[i]
        x += 5
        out[0, i] = x
        x -= 2
        out[1, i] = x
        x *= 3
        out[2, i] = x
        x //= 4
        out[3, i] = x
        x %= 7
        out[4, i] = x
        x <<= 3
        out[5, i] = x
        x >>= 1
        out[6, i] = x
        x &= 12
        out[7, i] = x
        x |= 1
        out[8, i] = x
        x ^= 5
        out[9, i] = x
        x **= 2
        out[10, i] = x


@pk.kernel
def if_elif_else(a, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        if a[i] < 0:
            out[i] = -1
        elif a[i] == 0:
            out[i] = 0
        elif a[i] < 10:
            out[i] = 1
        else:
            out[i] = 2


@pk.kernel
def for_ranges(n, out):
    i = pk.global_id(0)
    if i < out.shape[1]:
        s1 = 0
        for k in range(n[i]):
            s1 += k
        out[0, i] = s1
        s2 = 0
        for k in range(2, n[i]):
            s2 += k
        out[1, i] = s2
        s3 = 0
        for k in range(1, n[i], 3):
            s3 += k
        out[2, i] = s3
        s4 = 0
        for k in range(n[i], -3, -2):
            s4 = s4 * 10 + k
        out[3, i] = s4


@pk.kernel
def runtime_step_range(start, stop, step, out):
    i = pk.global_id(0)
    if i < start.shape[0]:
        s = 0
        count = 0
        for k in range(start[i], stop[i], step[i]):
            s = s * 3 + k
            count += 1
        out[0, i] = s
        out[1, i] = count


@pk.kernel
def python_for_semantics(out):
    i = pk.global_id(0)
    if i < out.shape[1]:
        for k in range(3):  # noqa: B007 - the loop variable is the point
            pass
        out[0, i] = k                 # the loop variable keeps its last value
        s = 0
        for k in range(5):
            k = k * 2                 # rebinding the loop variable does not change the iteration
            s = s * 10 + k
        out[1, i] = s
        n = 5
        c = 0
        for k in range(n):  # noqa: B007
            n = 2                     # range() is evaluated once
            c += 1
        out[2, i] = c
        st = 1
        c = 0
        for k in range(0, 6, st):  # noqa: B007
            st = 3
            c += 1
        out[3, i] = c


@pk.kernel
def bounded_range_count(start, stop, step, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        c = 0
        for k in range(start[i], stop[i], step[i]):  # noqa: B007
            c += 1
            if c > 10:                # a guard so that a wrapping loop ends instead of hanging
                break
        out[i] = c


@pk.kernel
def while_break_continue(n, out):
    i = pk.global_id(0)
    if i < n.shape[0]:
        k = 0
        s = 0
        while True:
            k += 1
            if k > n[i]:
                break
            if k % 2 == 0:
                continue
            s += k
        out[0, i] = s
        first = -1
        for j in range(100):
            if j * j > n[i]:
                first = j
                break
        out[1, i] = first


@pk.kernel
def early_return_and_pass(x, out):
    i = pk.global_id(0)
    if i >= x.shape[0]:
        return
    if x[i] < 0:
        pass
    else:
        out[i] = x[i]
        return
    out[i] = 100


@pk.kernel
def target_language_names(double, kernel, local, char, np, jnp, lax, register):
    # parameter and variable names that are keywords, builtins or imports in the generated C, CUDA,
    # OpenCL, Numba or JAX code must not clash with them
    i = pk.global_id(0)
    if i < double.shape[0]:
        cuda = double[i] + kernel[i]
        prange = cuda * 2
        numba = prange + 1
        restrict = numba
        signed = restrict
        void = signed
        float4 = void
        threadIdx = float4
        get_global_id = threadIdx
        jax = get_global_id
        local[i] = jax + register
        char[i] = np + jnp + lax


def test_names_that_are_keywords_in_generated_code(backend, run):
    a = numpy.arange(4.0)
    c = numpy.ones(4)
    loc = numpy.zeros(4)
    ch = numpy.zeros(4, numpy.int64)
    run(target_language_names, backend, 4, None, a, c, loc, ch, 1, 2, 3, 0.5)
    numpy.testing.assert_array_equal(loc, (a + c) * 2 + 1 + 0.5)
    numpy.testing.assert_array_equal(ch, 6)


def test_tuple_unpacking_swaps(backend, run):
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = np.array([-1.0, -2.0, -3.0], dtype=np.float32)
    out = np.zeros((2, 3), dtype=np.float32)
    run(tuple_unpacking, backend, 3, None, a, b, out)
    np.testing.assert_array_equal(out, [b, a])


def test_every_augmented_assignment(backend, run):
    a = np.array([1, -13, 40, 7], dtype=np.int64)
    out = np.zeros((11, 4), dtype=np.int64)
    run(augmented_assignment, backend, 4, None, a, out)
    steps = [("+", 5), ("-", 2), ("*", 3), ("//", 4), ("%", 7), ("<<", 3), (">>", 1), ("&", 12), ("|", 1),
             ("^", 5), ("**", 2)]
    apply = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__, "//": int.__floordiv__, "%": int.__mod__,
             "<<": int.__lshift__, ">>": int.__rshift__, "&": int.__and__, "|": int.__or__, "^": int.__xor__,
             "**": int.__pow__}
    for col, v in enumerate(a.tolist()):
        exp = []
        for op, k in steps:
            v = apply[op](v, k)
            exp.append(v)
        np.testing.assert_array_equal(out[:, col], exp, err_msg=f"input {a[col]}")


def test_if_elif_else_picks_one_branch(backend, run):
    a = np.array([-5, 0, 3, 10, 99], dtype=np.int32)
    out = np.full(5, 9, dtype=np.int32)
    run(if_elif_else, backend, 5, None, a, out)
    np.testing.assert_array_equal(out, [-1, 0, 1, 2, 2])


def test_for_range_with_one_two_and_three_arguments_and_negative_step(backend, run):
    n = np.array([0, 1, 5, 8], dtype=np.int64)
    out = np.zeros((4, 4), dtype=np.int64)
    run(for_ranges, backend, 4, None, n, out)
    for col, v in enumerate(n.tolist()):
        s4 = 0
        for k in range(v, -3, -2):
            s4 = s4 * 10 + k
        assert out[:, col].tolist() == [sum(range(v)), sum(range(2, v)), sum(range(1, v, 3)), s4]


def test_for_range_with_a_step_known_only_at_run_time(backend, run):
    start = np.array([0, 10, 5, 3, -4], dtype=np.int64)
    stop = np.array([7, 0, 5, -9, 4], dtype=np.int64)
    step = np.array([2, -3, 1, -4, 3], dtype=np.int64)
    out = np.zeros((2, 5), dtype=np.int64)
    run(runtime_step_range, backend, 5, None, start, stop, step, out)
    for col in range(5):
        ks = list(range(int(start[col]), int(stop[col]), int(step[col])))
        s = 0
        for k in ks:
            s = s * 3 + k
        assert out[:, col].tolist() == [s, len(ks)], f"range({start[col]}, {stop[col]}, {step[col]})"


def test_for_loops_follow_python_semantics(backend, run):
    out = np.zeros((4, 3), dtype=np.int64)
    run(python_for_semantics, backend, 3, None, out)
    np.testing.assert_array_equal(out, np.repeat(np.array([[2], [2468], [5], [6]]), 3, axis=1))


def test_range_near_the_int64_limits_stops_like_python(backend, run):
    # range(start, stop, step) yields only values in [start, stop): the loop must not step past
    # INT64_MAX/MIN by wrapping (k + step overflowing) and keep going
    top = 2**63 - 1
    start = np.array([top - 2, -top, top - 5, 0], np.int64)
    stop = np.array([top, -top - 1, top, 5], np.int64)
    step = np.array([3, -3, 2, 2], np.int64)
    out = np.zeros(4, np.int64)
    run(bounded_range_count, backend, 4, None, start, stop, step, out)
    expected = [min(len(range(a, b, c)), 11) for a, b, c in zip(start.tolist(), stop.tolist(), step.tolist())]
    np.testing.assert_array_equal(out, expected)


def test_while_with_break_and_continue(backend, run):
    n = np.array([0, 1, 6, 11], dtype=np.int32)
    out = np.zeros((2, 4), dtype=np.int32)
    run(while_break_continue, backend, 4, None, n, out)
    np.testing.assert_array_equal(out[0], [sum(k for k in range(1, v + 1) if k % 2) for v in n.tolist()])
    np.testing.assert_array_equal(out[1], [next(j for j in range(100) if j * j > v) for v in n.tolist()])


def test_return_ends_the_work_item_and_pass_does_nothing(backend, run):
    x = np.array([3, -1, 0, -7], dtype=np.int32)
    out = np.full(6, -9, dtype=np.int32)
    run(early_return_and_pass, backend, 6, None, x, out)
    np.testing.assert_array_equal(out, [3, 100, 0, 100, -9, -9])


@pk.kernel
def chained_assignment(a, out):
    i = pk.global_id(0)
    a[i] = v = a[i] + 1                 # Python: the value once, then the targets left to right
    out[i] = v


@pk.kernel(debug=True)
def chained_assignment_checked(a, b, out):
    i = pk.global_id(0)
    v = out[i]
    if i + 1 < b.shape[0]:
        a[i] = v = v + b[i + 1]         # a bounds-checked load in the value of two targets
    out[i] = v


def test_chained_assignment_evaluates_its_value_once(backend, run):
    a0 = np.array([10, 20, 30, 40], np.int32)
    a, out = a0.copy(), np.zeros(4, np.int32)
    run(chained_assignment, backend, 4, None, a, out)
    np.testing.assert_array_equal(a, a0 + 1)
    np.testing.assert_array_equal(out, a0 + 1)      # not a0 + 2: a[i] is not read again after the store


def test_chained_assignment_with_bounds_checks_builds_and_runs(backend, run):
    b = np.array([1, 2, 4, 8], np.int64)
    a, out = np.zeros(4, np.int64), np.array([100, 200, 300, 400], np.int64)
    run(chained_assignment_checked, backend, 4, 4, a, b, out)
    np.testing.assert_array_equal(out, [102, 204, 308, 400])
    np.testing.assert_array_equal(a, [102, 204, 308, 0])
