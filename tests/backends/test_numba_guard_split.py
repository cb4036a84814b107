"""Guard splitting on numba (portakern/codegen/guard_split.py): the middle of each row runs with its
guards on the last id made True, the ends as written. Every work-item must do exactly what it did:
the results are compared bit for bit with the numpy backend's, for rows shorter than the border,
rows cut into chunks (few rows), launches larger than the arrays, and bounds at the int64 extremes."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from benchmarks.kernels import jacobi2d as jacobi

pytest.importorskip("numba")
I64 = np.iinfo(np.int64)


@pk.kernel
def banded(x, out, lo: pk.int64, hi: pk.int64):
    i = pk.global_id(0)
    j = pk.global_id(1)
    if i < x.shape[0] and j < x.shape[1]:
        if j >= lo and hi >= j and j > 0 and j <= x.shape[1] - 2:
            out[i, j] = x[i, j - 1] + x[i, j + 1]
        else:
            out[i, j] = -x[i, j]


def _same(kern, ndrange, *args):  # type: ignore[no-untyped-def]
    outs = []
    for be in ("numpy", "numba"):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        kern.on(be)[ndrange](*copies)
        outs.append(copies[1])
    assert outs[0].tobytes() == outs[1].tobytes()


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (3, 3), (4, 37), (300, 9), (2, 1000)])
def test_a_stencil_matches_numpy_bit_for_bit(shape):
    u = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    _same(jacobi, shape, u, np.full(shape, 7.0, np.float32))
    _same(jacobi, (shape[0] + 2, shape[1] + 5), u, np.full(shape, 7.0, np.float32))   # a larger launch


@pytest.mark.parametrize(("lo", "hi"), [(0, 100), (5, 20), (20, 5), (-3, 3), (40, 50), (I64.min, I64.max),
                                        (I64.max, I64.min), (I64.max, I64.max), (I64.min, I64.min)])
def test_bounds_from_parameters_and_at_the_int64_extremes(lo, hi):
    x = np.random.default_rng(2).standard_normal((5, 33)).astype(np.float32)
    _same(banded, (5, 33), x, np.zeros_like(x), np.int64(lo), np.int64(hi))


def test_the_middle_of_the_row_runs_without_the_tests_on_its_id():
    src = jacobi.source("numba", np.zeros((8, 8), np.float32), np.zeros((8, 8), np.float32))
    middle = src[src.index("for _pk_g1 in range(_pk_lo, _pk_hi)"):]
    assert "if (v_i < v_n):" in middle and "v_j < " not in middle and "v_j > " not in middle


# -- clipped loops (clip_guards): the loop stops at the bound, one copy of the body -------------------
@pk.kernel
def scaled(x, out, lim: pk.int64):
    i = pk.global_id(0)
    k = i * 2
    if i < out.shape[0] and i <= lim:
        out[i] = x[i] * 3.0 + pk.float32(k)


@pk.kernel
def early(x, out, lim: pk.int64):
    i = pk.global_id(0)
    if i >= x.shape[0] or i > lim:
        return
    out[i] = x[i] - 1.0


@pk.kernel
def rows(x, out, lim: pk.int64):
    i = pk.global_id(0)
    j = pk.global_id(1)
    if i < x.shape[0] and j < x.shape[1] and j <= lim:
        out[i, j] = x[i, j] * 2.0


@pytest.mark.parametrize("lim", [0, 5, 99, 1000, -1, -7, I64.min, I64.max, I64.max - 1])
@pytest.mark.parametrize("kern", [scaled, early])
def test_a_clipped_1d_loop_matches_numpy_bit_for_bit(kern, lim):
    x = np.random.default_rng(3).standard_normal(100).astype(np.float32)
    _same(kern, 137, x, np.full_like(x, 7.0), np.int64(lim))      # a launch larger than the arrays
    _same(kern, 60, x, np.full_like(x, 7.0), np.int64(lim))       # and a smaller one


@pytest.mark.parametrize("lim", [0, 3, 39, -1, I64.min, I64.max])
@pytest.mark.parametrize("shape", [(1, 1), (3, 40), (300, 9)])
def test_a_clipped_row_matches_numpy_bit_for_bit(shape, lim):
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    _same(rows, (shape[0] + 1, shape[1] + 3), x, np.full(shape, 7.0, np.float32), np.int64(lim))


def test_a_clipped_loop_has_no_test_on_its_id_and_still_checks_other_bounds():
    x = np.zeros(16, np.float32)
    src = scaled.source("numba", x, x, np.int64(3))
    loop = src[src.index("numba.prange("):]
    assert "prange(max(_pk_hi" in src and "v_i <" not in loop
    assert rows.source("numba", np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32), np.int64(3)).count(
        "range(_pk_s, _pk_hi)") == 1
    # bounds not implied by the clipped guard are still checked: out is shorter than x here
    @pk.kernel
    def shifted(x, out):
        i = pk.global_id(0)
        if i < x.shape[0]:
            out[i + 1] = x[i]
    with pytest.raises(pk.PortakernError, match="out"):
        shifted.on("numba")[8](np.zeros(8, np.float32), np.zeros(8, np.float32))


@pk.kernel
def cube(x, out, lim: pk.int64):
    i = pk.global_id(0)
    j = pk.global_id(1)
    k = pk.global_id(2)
    if k >= x.shape[2] or k > lim or i >= x.shape[0] or j >= x.shape[1]:
        return
    out[i, j, k] = x[i, j, k] + 1.0


@pytest.mark.parametrize("lim", [0, 4, I64.min, I64.max])
def test_a_clipped_3d_launch_matches_numpy_bit_for_bit(lim):
    x = np.random.default_rng(5).standard_normal((3, 4, 9)).astype(np.float32)
    assert "range(_pk_s, _pk_hi)" in cube.source("numba", x, x, np.int64(lim))
    _same(cube, (4, 5, 11), x, np.full_like(x, 7.0), np.int64(lim))


@pk.kernel
def early_then_more_returns(x, out):
    i = pk.global_id(0)
    if i >= x.shape[0]:
        return
    if x[i] < 0.0:
        return
    out[i] = x[i] * 2.0
    if i > 3:
        return
    out[i] = out[i] + 1.0


def test_returns_after_the_clipped_one_still_end_their_work_items():
    x = np.array([1, -1, 2, -3, 4, 5, -6, 7], np.float32)
    assert "prange(max(_pk_hi" in early_then_more_returns.source("numba", x, x)
    _same(early_then_more_returns, 11, x, np.full(8, 9.0, np.float32))
