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
