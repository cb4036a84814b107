"""KernelIndexError (also an IndexError) with debug=True: out-of-bounds reads, writes and atomics are
caught on every backend, naming kernel, array, index, shape and source line."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel(debug=True)
def read_past_the_end(x, out):
    i = pk.global_id(0)
    out[i] = x[i + 1]  # reads x[n]


@pk.kernel(debug=True)
def write_past_the_end(x, out):
    i = pk.global_id(0)
    out[i + 2] = x[i]  # writes past out


@pk.kernel(debug=True)
def negative_index(x, out):
    i = pk.global_id(0)
    out[i] = x[i - 1]  # x[-1] is not wrapped


@pk.kernel(debug=True)
def out_of_bounds_2d(img, out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    out[i, j] = img[i, j + 1]  # column past the end


@pk.kernel(debug=True)
def atomic_out_of_bounds(counts, idx):
    i = pk.global_id(0)
    pk.atomic_add(counts, idx[i], 1)  # idx holds a bad slot


@pk.kernel(debug=True)
def private_out_of_bounds(x, out):
    i = pk.global_id(0)
    p = pk.private_array(4, pk.int32)
    for k in range(5):
        p[k] = x[i]  # p[4] is past the end
    out[i] = p[0]


@pk.kernel(debug=True)
def local_out_of_bounds(x, out):
    t = pk.local_array(4, pk.int32)
    t[pk.local_id(0) + 1] = x[pk.global_id(0)]  # local item 3 writes t[4]
    pk.barrier()
    out[pk.global_id(0)] = t[0]


@pk.kernel(debug=True)
def in_bounds(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i]


def _launch(backend, kern, grid, *args):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        kern.compile("cuda", *args, target="sm_90")
        pytest.skip("compiled for sm_90 with NVRTC; running needs a GPU")
    return kern.on(backend)[(grid,) if isinstance(grid, tuple) else grid](*args)


def _check(backend, kern, grid, args, array, index_words, shape_words, line_words):
    before = [a.copy() for a in args]
    with pytest.raises(pk.KernelIndexError) as info:
        _launch(backend, kern, grid, *args)
    assert isinstance(info.value, IndexError)
    msg = str(info.value)
    for w in (kern.__name__, array, *index_words, *shape_words, line_words):
        assert w in msg, f"{w!r} missing from: {msg}"
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)            # a failed launch leaves the arrays untouched


def test_out_of_bounds_read(backend):
    x = np.arange(6, dtype=np.float32)
    _check(backend, read_past_the_end, 6, [x, np.zeros(6, np.float32)], "x", ["6"], ["(6,)"], "x[i + 1]")


def test_out_of_bounds_write(backend):
    x = np.arange(5, dtype=np.int32)
    _check(backend, write_past_the_end, 5, [x, np.zeros(5, np.int32)], "out", ["5"], ["(5,)"], "out[i + 2]")


def test_negative_index_is_out_of_bounds_not_wrapped(backend):
    x = np.arange(4, dtype=np.int64)
    _check(backend, negative_index, 4, [x, np.zeros(4, np.int64)], "x", ["-1"], ["(4,)"], "x[i - 1]")


def test_out_of_bounds_2d_index(backend):
    img = np.zeros((2, 3), np.float32)
    _check(backend, out_of_bounds_2d, (2, 3), [img, np.zeros((2, 3), np.float32)], "img", ["3"], ["(2, 3)"],
           "img[i, j + 1]")


def test_out_of_bounds_atomic(backend):
    counts = np.zeros(4, np.int32)
    idx = np.array([0, 1, 9, 2], dtype=np.int64)
    _check(backend, atomic_out_of_bounds, 4, [counts, idx], "counts", ["9"], ["(4,)"], "atomic_add")


def test_out_of_bounds_private_array(backend):
    x = np.arange(4, dtype=np.int32)
    _check(backend, private_out_of_bounds, 4, [x, np.zeros(4, np.int32)], "p", ["4"], ["(4,)"], "p[k]")


def test_out_of_bounds_local_array(backend):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("running on cuda needs a GPU")
    x = np.arange(8, dtype=np.int32)
    out = np.zeros(8, np.int32)
    with pytest.raises(pk.KernelIndexError) as info:
        local_out_of_bounds.on(backend)[8, 4](x, out)
    msg = str(info.value)
    for w in ("local_out_of_bounds", "t", "4", "t[pk.local_id(0) + 1]"):
        assert w in msg, f"{w!r} missing from: {msg}"
    np.testing.assert_array_equal(out, 0)


def test_debug_kernel_in_bounds_runs_normally(backend, run):
    x = np.arange(5, dtype=np.float64)
    out = np.zeros(7, np.float64)
    run(in_bounds, backend, 7, None, x, out)
    np.testing.assert_array_equal(out[:5], x)
    np.testing.assert_array_equal(out[5:], 0)


@pk.kernel
def checked_copy(x, idx, out):
    i = pk.global_id(0)
    out[i] = x[idx[i]]


checked_copy_debug = pk.kernel(checked_copy.fn, debug=True)   # jax checks bounds only with debug


def test_failed_check_does_not_leak_into_later_launches(backend, run):
    # launchers may keep one error record and reset it only after a failure: a failed launch, a
    # second failed launch, then good launches (cached, on the same thread) must each report their own
    kern = checked_copy_debug if backend == "jax" else checked_copy
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, np.float32)
    for bad in (7, 9):
        with pytest.raises(pk.KernelIndexError) as info:
            run(kern, backend, 4, None, x, np.array([0, 1, bad, 3], np.int32), out)
        assert str(bad) in str(info.value)
    for _ in range(2):
        got = run(kern, backend, 4, None, x, np.array([3, 2, 1, 0], np.int32), out)
        np.testing.assert_array_equal(np.asarray(got), [3, 2, 1, 0])
