"""The numpy backend (the reference semantics): masks, loops, exits, memory spaces, atomics, bounds.

Expected values are computed here by plain Python/NumPy, never by the backend under test.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import portakern as pk
from tests.model import numerics as M

np_backend = pytest.importorskip("portakern_numpy")


def run(kern, nd, wg, *args, backend="numpy"):
    return kern.on(backend)[nd, wg](*args)


@pk.kernel
def guarded_saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


def test_saxpy_with_ndrange_larger_than_arrays_guards_the_tail():
    x = np.arange(10, dtype=np.float32)
    y = np.ones_like(x)
    out = np.zeros_like(x)
    res = run(guarded_saxpy, 16, None, np.float32(3), x, y, out)
    assert res is out
    np.testing.assert_array_equal(out, 3 * np.arange(10, dtype=np.float32) + 1)


@pk.kernel
def short_circuit(x, out):
    i = pk.global_id(0)
    n = x.shape[0]
    if i < n and x[i] > 0:
        out[i] = 1
    out[i] = out[i] + (x[i] if i < n else 100)


def test_and_and_select_do_not_evaluate_out_of_bounds_loads():
    x = np.array([1, -1, 2], dtype=np.int32)
    out = np.zeros(5, dtype=np.int32)
    run(short_circuit, 5, None, x, out)
    assert out.tolist() == [2, -1, 3, 100, 100]


@pk.kernel
def loops_with_exits(n, out):
    i = pk.global_id(0)
    acc = 0
    for k in range(i):           # per-lane trip count
        if k == 3:
            continue
        if k > 5:
            break
        acc += k
    j = 0
    while True:
        j += 1
        if j >= i:
            break
    if i == 2:
        out[i] = -1
        return
    out[i] = acc * 100 + j


def test_divergent_loops_with_break_continue_and_return():
    out = np.zeros(9, dtype=np.int64)
    run(loops_with_exits, 9, None, np.int64(0), out)
    expected = []
    for i in range(9):
        acc = sum(k for k in range(min(i, 6)) if k != 3)
        j = max(1, i)
        expected.append(-1 if i == 2 else acc * 100 + j)
    assert out.tolist() == expected


@pk.kernel
def reverse_in_group(x, out):
    t = pk.local_array(4, pk.float32)
    lid = pk.local_id(0)
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    out[pk.global_id(0)] = t[3 - lid]


def test_local_array_and_barrier_reverse_each_work_group():
    x = np.arange(12, dtype=np.float32)
    out = np.zeros_like(x)
    run(reverse_in_group, 12, 4, x, out)
    assert out.tolist() == [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8]


@pk.kernel
def private_prefix(out):
    i = pk.global_id(0)
    p = pk.private_array(3, pk.int32)
    for k in range(3):
        p[k] = i * 10 + k
    out[i] = p[0] + p[1] + p[2]


def test_private_arrays_are_per_work_item():
    out = np.zeros(5, dtype=np.int32)
    run(private_prefix, 5, None, out)
    assert out.tolist() == [30 * i + 3 for i in range(5)]


@pk.kernel
def histogram_old(bins, keys, old):
    i = pk.global_id(0)
    old[i] = pk.atomic_add(bins, keys[i], 1)


@pytest.mark.parametrize("dtype", [np.int32, np.float64])
def test_atomic_add_returns_old_values_in_increasing_work_item_order(dtype):
    keys = np.array([2, 0, 2, 2, 1, 0, 2], dtype=np.int64)
    bins = np.zeros(3, dtype=dtype)
    old = np.full(keys.size, -9, dtype=dtype)
    run(histogram_old, keys.size, None, bins, keys, old)
    seen = {0: 0, 1: 0, 2: 0}
    expected = []
    for k in keys.tolist():
        expected.append(seen[k])
        seen[k] += 1
    assert old.tolist() == expected
    assert bins.tolist() == [2, 1, 4]


@pk.kernel
def atomic_min_conflicts(target, vals):
    i = pk.global_id(0)
    pk.atomic_min(target, i % 2, vals[i])


def test_atomic_min_with_many_conflicts_keeps_the_minimum():
    vals = np.array([5.0, 3.0, -0.0, 7.0, 0.0, 1.0] * 30, dtype=np.float32)
    target = np.array([10.0, 10.0], dtype=np.float32)
    run(atomic_min_conflicts, vals.size, None, target, vals)
    assert target[1] == 1.0
    assert target[0] == 0.0 and np.signbit(target[0])


@pk.kernel
def write_then_read_oob(x, out):
    i = pk.global_id(0)
    out[i] = 1.0
    out[i] = x[i + 2]


def test_out_of_bounds_without_debug_raises_kernel_index_error_and_keeps_arrays():
    x = np.arange(4, dtype=np.float32)
    out = np.full(4, -5.0, dtype=np.float32)
    with pytest.raises(pk.KernelIndexError) as info:
        run(write_then_read_oob, 4, None, x, out)
    assert "x" in str(info.value) and "(4,)" in str(info.value)
    assert out.tolist() == [-5.0] * 4


@pk.kernel
def negative_index(x, out):
    i = pk.global_id(0)
    out[i] = x[i - 1]


def test_negative_indices_are_not_wrapped():
    x = np.arange(4, dtype=np.float32)
    out = np.zeros_like(x)
    with pytest.raises(pk.KernelIndexError):
        run(negative_index, 4, None, x, out)


@pk.kernel
def copy2d(x, out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    out[i, j] = x[i, j] + 1


def test_strided_and_negative_stride_views_are_indexed_natively():
    base = np.arange(48, dtype=np.float64).reshape(6, 8)
    x = base[::2, ::-3]
    out_base = np.zeros((6, 8))
    out = out_base[::-2, 1::3]
    run(copy2d, (3, 3), None, x, out)
    np.testing.assert_array_equal(out, x + 1)
    assert out_base[::-2, 1::3].tolist() == (x + 1).tolist()


def test_rendered_source_is_python_that_imports_no_framework():
    x = np.zeros(4, dtype=np.float32)
    src = guarded_saxpy.source("numpy", np.float32(1), x, x, x)
    compile(src, "<test>", "exec")
    assert "import" not in src


@pk.kernel
def fused(a, b, c, out):
    i = pk.global_id(0)
    out[i] = pk.fma(a[i], b[i], c[i])


def test_fma_overflowing_product_gives_the_signed_infinity_or_the_exact_finite_value():
    big = np.finfo(np.float64).max
    a = np.array([big, big, -big, 2.0**600], dtype=np.float64)
    b = np.array([2.0, 1.5, 2.0, 2.0**500], dtype=np.float64)
    c = np.array([0.0, -big, 0.0, -(2.0**1023)], dtype=np.float64)
    out = np.zeros(4)
    run(fused, 4, None, a, b, c, out)
    assert out[0] == np.inf and out[2] == -np.inf
    assert out[1] == 0.5 * big            # 1.5*max - max = 0.5*max exactly: no overflow in between
    assert out[3] == np.inf


def _ieee_fma(a, b, c, t):
    """IEEE fma from exact rationals (tests/model) plus the special-value rules."""
    if any(math.isnan(v) for v in (a, b, c)):
        return math.nan
    if math.isinf(a) or math.isinf(b):
        if a == 0 or b == 0:
            return math.nan                                  # inf * 0
        p = math.copysign(math.inf, math.copysign(1, a) * math.copysign(1, b))
        return math.nan if (math.isinf(c) and c != p) else p  # inf + -inf
    if math.isinf(c):
        return c
    if a * b == 0 and c == 0 and (a == 0 or b == 0):           # exact zero + zero: IEEE's sign rule
        neg = math.copysign(1, a) * math.copysign(1, b) < 0 and math.copysign(1, c) < 0
        return -0.0 if neg else 0.0
    return M.fma(a, b, c, t)


def _fma_special_cases(dt):
    big = float(np.finfo(dt).max)
    vals = [0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, math.nan, big, -big, 3.0]
    cases = [(x, y, z) for x in vals for y in vals for z in vals]
    return cases + [(1.0, -0.0, -0.0), (big, 2.0, -big), (big, 1.5, -big), (3.0, 1 / 3, -1.0),
                    (1e308, 10.0, -1e308), (1e308, 10.0, -math.inf), (0.1, 10.0, -1.0),
                    (2.0**-500, 2.0**600, -(2.0**100)), (2.0**-1000, 2.0**900, 1.0)]


def _same(got, want):
    return (math.isnan(want) and math.isnan(got)) or (
        got == want and math.copysign(1, got) == math.copysign(1, want))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fma_special_values_signed_zeros_and_overflow_match_the_exact_ieee_model(dt):
    cases = _fma_special_cases(dt)
    tiny = float(np.finfo(dt).tiny)      # subnormal results: numpy does not flush
    cases += [(tiny, 0.5, 0.0), (-tiny, 0.25, -0.0), (tiny, -0.75, tiny / 8)]
    with np.errstate(all="ignore"):
        a, b, c = (np.array([t[k] for t in cases], dtype=dt) for k in range(3))
    res = np.asarray(fused.on("numpy")[len(cases)](a, b, c, np.zeros(len(cases), dt)))
    t = np.dtype(dt).name
    bad = [(float(x), float(y), float(z), float(g), _ieee_fma(float(x), float(y), float(z), t))
           for x, y, z, g in zip(a, b, c, res) if not _same(float(g), _ieee_fma(float(x), float(y), float(z), t))]
    assert bad == [], bad[:8]
