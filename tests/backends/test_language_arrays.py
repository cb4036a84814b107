"""Arrays inside kernels: indexing, shape/ndim/size, strided views, converting stores, +=."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def copy_1d(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i]


@pk.kernel
def scale_2d(x, out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    if i < x.shape[0] and j < x.shape[1]:
        out[i, j] = x[i, j] * 2 + 1


@pk.kernel
def array_metadata(x, out):
    if pk.global_id(0) == 0:
        out[0] = x.shape[0]
        out[1] = x.shape[1]
        out[2] = x.shape[2]
        out[3] = x.ndim
        out[4] = x.size


@pk.kernel
def add_in_place(x, v):
    i = pk.global_id(0)
    if i < x.shape[0]:
        x[i] += v[i]


@pk.kernel
def write_even_slots(out):
    i = pk.global_id(0)
    if i < out.shape[0] and i % 2 == 0:
        out[i] = 7


def test_2d_indexing_reads_and_writes_elements(backend, run):
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    out = np.zeros_like(x)
    run(scale_2d, backend, x.shape, None, x, out)
    np.testing.assert_array_equal(out, x * 2 + 1)


def test_shape_ndim_and_size_inside_a_kernel(backend, run):
    x = np.zeros((2, 3, 4), dtype=np.int8)
    out = np.zeros(5, dtype=np.int64)
    run(array_metadata, backend, 1, None, x, out)
    np.testing.assert_array_equal(out, [2, 3, 4, 3, 24])


@pytest.mark.parametrize("view", ["step2", "negative", "column"])
def test_strided_and_negative_stride_views_are_read_correctly(backend, run, view):
    base = np.arange(40, dtype=np.float64).reshape(4, 10) * 1.5
    x = {"step2": base.ravel()[1::2], "negative": base.ravel()[::-1], "column": base[:, 3]}[view]
    out = np.zeros(x.shape[0], dtype=np.float64)
    run(copy_1d, backend, x.shape[0], None, x, out)
    np.testing.assert_array_equal(out, x)


def test_writes_into_a_strided_view_update_only_the_view(backend, run):
    base = np.full(30, -1.0, dtype=np.float32)
    view = base[1::3]
    src = np.arange(10, dtype=np.float32)
    run(copy_1d, backend, 10, None, src, view)
    expected = np.full(30, -1.0, dtype=np.float32)
    expected[1::3] = src
    np.testing.assert_array_equal(base, expected)


def test_transposed_fortran_order_views_are_read_and_written(backend, run):
    x = np.arange(12, dtype=np.int64).reshape(3, 4)
    out = np.zeros((4, 3), dtype=np.int64, order="F")
    run(scale_2d, backend, (4, 3), None, x.T, out)
    np.testing.assert_array_equal(out, x.T * 2 + 1)


def test_writes_into_a_negative_stride_2d_view(backend, run):
    base = np.zeros((3, 8), dtype=np.int32)
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    view = base[::-1, ::2]
    run(scale_2d, backend, (3, 4), None, x, view)
    expected = np.zeros((3, 8), dtype=np.int32)
    expected[::-1, ::2] = x * 2 + 1
    np.testing.assert_array_equal(base, expected)


@pytest.mark.parametrize("src,dst", [("float64", "int32"), ("float32", "uint8"), ("float64", "float32"),
                                     ("int64", "float32"), ("int32", "int8"), ("float32", "bool")])
def test_stores_convert_values_to_the_array_dtype(backend, run, need_fp64, src, dst):
    need_fp64(src)
    if np.dtype(src).kind == "f":
        x = np.array([2.7, -2.7, 0.5, 1e20, -1e20, np.nan, 300.0, 0.0], dtype=src)
    else:
        x = np.array([1, -1, 127, 128, 2**31 - 1, -(2**31), 16777217, 0], dtype=src)
    out = np.zeros(x.size, dtype=dst)
    run(copy_1d, backend, x.size, None, x, out)
    if np.dtype(dst).kind in "iu" and np.dtype(src).kind == "f":
        info = np.iinfo(dst)
        t = np.trunc(np.nan_to_num(x.astype(np.float64), nan=0.0))
        expected = np.clip(t, info.min, info.max).astype(dst)       # saturating, NaN -> 0
    elif dst == "bool":
        expected = x != 0
        expected[np.isnan(x)] = True
    else:
        expected = x.astype(dst)                                    # wrap / round to nearest even
    np.testing.assert_array_equal(out, expected)


def test_plus_equals_reads_modifies_and_writes(backend, run):
    x = np.arange(9, dtype=np.int32)
    v = np.full(9, 10, dtype=np.int32)
    run(add_in_place, backend, 9, None, x, v)
    np.testing.assert_array_equal(x, np.arange(9) + 10)


def test_elements_no_work_item_writes_keep_their_values(backend, run):
    out = np.arange(11, dtype=np.int64) * -1
    res = run(write_even_slots, backend, 11, None, out)
    expected = np.arange(11) * -1
    expected[::2] = 7
    np.testing.assert_array_equal(out, expected)
    assert res is out
