"""Index queries in 1, 2 and 3 dimensions (docs/language.md section 4), NumPy dimension order."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def write_global_id_1d(out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = i


@pk.kernel
def write_global_ids_2d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    if i < out.shape[0] and j < out.shape[1]:
        out[i, j] = i * 100 + j


@pk.kernel
def write_global_ids_3d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    k = pk.global_id(2)
    if i < out.shape[0] and j < out.shape[1] and k < out.shape[2]:
        out[i, j, k] = i * 10000 + j * 100 + k


@pk.kernel
def index_queries_2d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    out[0, i, j] = pk.global_id(0)
    out[1, i, j] = pk.global_id(1)
    out[2, i, j] = pk.local_id(0)
    out[3, i, j] = pk.local_id(1)
    out[4, i, j] = pk.group_id(0)
    out[5, i, j] = pk.group_id(1)
    out[6, i, j] = pk.global_size(0)
    out[7, i, j] = pk.global_size(1)
    out[8, i, j] = pk.local_size(0)
    out[9, i, j] = pk.local_size(1)
    out[10, i, j] = pk.num_groups(0)
    out[11, i, j] = pk.num_groups(1)


@pk.kernel
def index_queries_3d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    k = pk.global_id(2)
    out[0, i, j, k] = pk.local_id(0) * 100 + pk.local_id(1) * 10 + pk.local_id(2)
    out[1, i, j, k] = pk.group_id(0) * 100 + pk.group_id(1) * 10 + pk.group_id(2)
    out[2, i, j, k] = pk.local_size(0) * 100 + pk.local_size(1) * 10 + pk.local_size(2)
    out[3, i, j, k] = pk.num_groups(0) * 100 + pk.num_groups(1) * 10 + pk.num_groups(2)
    out[4, i, j, k] = pk.global_size(0) * 100 + pk.global_size(1) * 10 + pk.global_size(2)


@pk.kernel
def global_id_is_int64(out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = (pk.global_id(0) + 1) * 3000000000


@pytest.mark.parametrize("n", [1, 37, 100])
def test_global_id_1d_covers_exactly_ndrange_of_any_size(backend, run, n):
    out = np.full(n + 3, -1, dtype=np.int64)
    run(write_global_id_1d, backend, n, None, out)
    np.testing.assert_array_equal(out[:n], np.arange(n))
    np.testing.assert_array_equal(out[n:], -1)          # no work-item beyond ndrange


def test_global_ids_2d_follow_numpy_dimension_order(backend, run):
    out = np.full((5, 7), -1, dtype=np.int32)
    run(write_global_ids_2d, backend, (5, 7), None, out)
    i, j = np.indices((5, 7))
    np.testing.assert_array_equal(out, i * 100 + j)


def test_global_ids_3d_follow_numpy_dimension_order(backend, run):
    out = np.full((2, 3, 5), -1, dtype=np.int64)
    run(write_global_ids_3d, backend, (2, 3, 5), None, out)
    i, j, k = np.indices((2, 3, 5))
    np.testing.assert_array_equal(out, i * 10000 + j * 100 + k)


def test_index_queries_2d_with_explicit_workgroup(backend, run):
    shape, wg = (4, 6), (2, 3)
    out = np.full((12,) + shape, -1, dtype=np.int64)
    run(index_queries_2d, backend, shape, wg, out)
    i, j = np.indices(shape)
    expected = [i, j, i % 2, j % 3, i // 2, j // 3,
                np.full(shape, 4), np.full(shape, 6), np.full(shape, 2), np.full(shape, 3),
                np.full(shape, 2), np.full(shape, 2)]
    for q, e in enumerate(expected):
        np.testing.assert_array_equal(out[q], e, err_msg=f"query {q}")


def test_index_queries_are_consistent_when_backend_picks_workgroup(backend, run):
    shape = (3, 5)
    out = np.full((12,) + shape, -1, dtype=np.int64)
    run(index_queries_2d, backend, shape, None, out)
    i, j = np.indices(shape)
    np.testing.assert_array_equal(out[0], i)
    np.testing.assert_array_equal(out[1], j)
    np.testing.assert_array_equal(out[6], 3)
    np.testing.assert_array_equal(out[7], 5)
    for d in range(2):
        gid, lid, grp, lsz, ngr = out[d], out[2 + d], out[4 + d], out[8 + d], out[10 + d]
        np.testing.assert_array_equal(grp * lsz + lid, gid)
        assert (lid >= 0).all() and (lid < lsz).all()
        assert (ngr * lsz >= shape[d]).all()


def test_index_queries_3d_with_explicit_workgroup(backend, run):
    shape, wg = (2, 2, 4), (1, 2, 2)
    out = np.full((5,) + shape, -1, dtype=np.int64)
    run(index_queries_3d, backend, shape, wg, out)
    i, j, k = np.indices(shape)
    np.testing.assert_array_equal(out[0], (i % 1) * 100 + (j % 2) * 10 + k % 2)
    np.testing.assert_array_equal(out[1], (i // 1) * 100 + (j // 2) * 10 + k // 2)
    np.testing.assert_array_equal(out[2], 100 + 20 + 2)
    np.testing.assert_array_equal(out[3], 200 + 10 + 2)
    np.testing.assert_array_equal(out[4], 200 + 20 + 4)


def test_index_queries_return_int64(backend, run):
    out = np.zeros(4, dtype=np.int64)
    run(global_id_is_int64, backend, 4, None, out)
    np.testing.assert_array_equal(out, (np.arange(4, dtype=np.int64) + 1) * 3000000000)
