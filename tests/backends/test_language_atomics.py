"""Atomics on global and local arrays: add, sub, min, max, each returning the old value."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

ATOMIC_DTYPES = ["int32", "uint32", "int64", "uint64", "float32", "float64"]


@pk.kernel
def hand_out_slots(counter, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        slot = pk.atomic_add(counter, 0, 1)
        out[slot] = i


@pk.kernel
def all_four_atomics(vals, acc, olds):
    i = pk.global_id(0)
    if i < vals.shape[0]:
        olds[0, i] = pk.atomic_add(acc, 0, vals[i])
        olds[1, i] = pk.atomic_sub(acc, 1, vals[i])
        olds[2, i] = pk.atomic_min(acc, 2, vals[i])
        olds[3, i] = pk.atomic_max(acc, 3, vals[i])


@pk.kernel
def local_histogram(x, hist):
    lid = pk.local_id(0)
    t = pk.local_array(4, pk.int32)
    if lid < 4:
        t[lid] = 0
    pk.barrier()
    pk.atomic_add(t, x[pk.global_id(0)] % 4, 1)
    pk.barrier()
    if lid < 4:
        pk.atomic_add(hist, lid, t[lid])


@pk.kernel
def histogram_2d(a, b, h):
    i = pk.global_id(0)
    if i < a.shape[0]:
        pk.atomic_add(h, (a[i], b[i]), 1)


@pk.kernel
def float_atomic_min_max(vals, acc):
    i = pk.global_id(0)
    if i < vals.shape[0]:
        pk.atomic_min(acc, 0, vals[i])
        pk.atomic_max(acc, 1, vals[i])
        pk.atomic_min(acc, 2, -vals[i])


def _skip_without(caps, dtype):
    if np.dtype(dtype) == np.float64 and not caps.fp64:
        pytest.skip("device has no fp64")
    if np.dtype(dtype).itemsize == 8 and np.dtype(dtype).kind in "iu" and not caps.int64_atomics:
        pytest.skip("device has no 64-bit integer atomics")


def _check_chain(olds, vals, start, final, step):
    """The old values returned by an add (step=+1) or sub (step=-1) form one chain start -> final."""
    olds_l, vals_l = olds.tolist(), vals.tolist()
    cur, final = start.item(), final.item()
    for k in sorted(range(len(olds_l)), key=lambda k: step * olds_l[k]):
        assert olds_l[k] == cur, f"old values {sorted(olds_l)} do not chain from {start}"
        cur = cur + step * vals_l[k]
    assert cur == final


@pytest.mark.parametrize("dtype", ["int32", "uint32", "int64", "uint64"])
def test_atomic_add_hands_out_unique_slots(backend, run, caps, dtype):
    _skip_without(caps, dtype)
    n = 50
    counter = np.zeros(1, dtype=dtype)
    out = np.full(n, -1, dtype=np.int64)
    res = run(hand_out_slots, backend, n, None, counter, out)
    assert res[0] is counter and res[1] is out            # atomically updated arrays are written arrays
    assert int(counter[0]) == n
    assert sorted(out.tolist()) == list(range(n))


@pytest.mark.parametrize("dtype", ATOMIC_DTYPES)
def test_add_sub_min_max_return_old_values_and_combine_all_updates(backend, run, caps, dtype):
    _skip_without(caps, dtype)
    n = 40
    vals = ((np.arange(n) * 7) % 23 + 1).astype(dtype)          # distinct-ish small positive values
    start = np.array([5, 1000, 500, 3], dtype=dtype)
    acc = start.copy()
    olds = np.zeros((4, n), dtype=dtype)
    run(all_four_atomics, backend, n, None, vals, acc, olds)
    total = vals.astype(np.float64).sum()
    assert acc[0] == start[0] + total
    assert acc[1] == start[1] - total
    assert acc[2] == min(start[2], vals.min())
    assert acc[3] == max(start[3], vals.max())
    _check_chain(olds[0], vals, start[0], acc[0], +1)
    _check_chain(olds[1], vals, start[1], acc[1], -1)
    # min/max: every old value is the start or one of the values, the start is seen exactly once
    for q, s in ((2, start[2]), (3, start[3])):
        assert set(olds[q].tolist()) <= set(vals.tolist()) | {s.item()}
        assert s in olds[q]
    assert (olds[2] >= acc[2]).all() and (olds[3] <= acc[3]).all()


def test_atomics_on_local_memory_build_a_histogram(backend, run):
    x = (np.arange(64) * 5 % 11).astype(np.int32)
    hist = np.zeros(4, dtype=np.int32)
    run(local_histogram, backend, 64, 16, x, hist)
    np.testing.assert_array_equal(hist, np.bincount(x % 4, minlength=4))


def test_atomic_index_may_be_a_tuple_for_2d_arrays(backend, run):
    a = np.array([0, 1, 2, 0, 1, 2, 2, 2], dtype=np.int64)
    b = np.array([0, 1, 0, 0, 2, 2, 2, 1], dtype=np.int64)
    h = np.zeros((3, 3), dtype=np.int32)
    run(histogram_2d, backend, 8, None, a, b, h)
    expected = np.zeros((3, 3), dtype=np.int32)
    np.add.at(expected, (a, b), 1)
    np.testing.assert_array_equal(h, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_atomic_min_max_propagate_nan_and_order_signed_zeros(backend, run, need_fp64, dtype):
    # min and max are order-independent, so atomics give the contract's min/max exactly
    # (docs/semantics.md: NaN-propagating like np.minimum, -0.0 < +0.0)
    need_fp64(dtype)
    acc = np.array([0.0, -0.0, 5.0], dtype)
    run(float_atomic_min_max, backend, 3, None, np.array([-0.0, 0.0, -0.0], dtype), acc)
    np.testing.assert_array_equal(np.signbit(acc), [True, False, True])     # -0.0, +0.0, -0.0
    acc = np.array([1.0, 1.0, 1.0], dtype)
    run(float_atomic_min_max, backend, 4, None, np.array([2.0, np.nan, -3.0, 0.5], dtype), acc)
    assert np.isnan(acc).all(), acc
