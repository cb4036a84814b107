"""Lane-innermost phases on numba (portakern.codegen.lane_loops) give the numpy backend's bits.

Row-strided loops and uniform loops of a barrier-free phase run with the work-group's lanes
innermost; each lane keeps its own order of operations, so every result must be bit-identical to the
numpy backend's, whatever the shape: rows shorter than the work-group, lengths that are not a
multiple of it, 2-D work-groups, early returns, carried scalars, loop variables read after the loop.
"""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from benchmarks import kernels as suite

pytest.importorskip("numba")
WG = 8


def _both(kern, ndrange, wg, *args):  # type: ignore[no-untyped-def]
    """Run ``kern`` on numpy and on numba with copies of ``args``; the arrays after each."""
    out = []
    for be in ("numpy", "numba"):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        kern.on(be)[ndrange, wg](*copies)
        out.append([c for c in copies if isinstance(c, np.ndarray)])
    return out


def _assert_same_bits(kern, ndrange, wg, *args):  # type: ignore[no-untyped-def]
    ref, got = _both(kern, ndrange, wg, *args)
    for r, g in zip(ref, got):
        assert r.dtype == g.dtype and r.tobytes() == g.tobytes()


@pk.kernel
def row_stats(x, mx, sq, W: pk.constexpr, LOG_W: pk.constexpr):
    # one work-group per row: a max and a sum of squares, each a strided loop then a tree
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(W, pk.float32)
    m = pk.float32(-3.0e38)
    for c in range(lid, x.shape[1], W):
        m = max(m, x[r, c])
    red[lid] = m
    pk.barrier()
    for step in range(LOG_W):
        s = W >> (step + 1)
        if lid < s:
            red[lid] = max(red[lid], red[lid + s])
        pk.barrier()
    if lid == 0:
        mx[r] = red[0]
    pk.barrier()
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], W):
        d = x[r, c] - red[0]
        acc += d * d
    pk.barrier()
    red[lid] = acc
    pk.barrier()
    for step in range(LOG_W):
        s = W >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    if lid == 0:
        sq[r] = red[0]


@pytest.mark.parametrize("cols", [1, 3, WG - 1, WG, WG + 1, 5 * WG + 3, 64])
def test_row_strided_reductions_match_numpy_bit_for_bit(cols):
    rng = np.random.default_rng(cols)
    x = rng.standard_normal((5, cols)).astype(np.float32)
    _assert_same_bits(row_stats, (5, WG), (1, WG), x, np.zeros(5, np.float32), np.zeros(5, np.float32), WG, 3)


def test_row_strided_loop_renders_lanes_innermost():
    x = np.zeros((2, 20), np.float32)
    src = row_stats.source("numba", x, np.zeros(2, np.float32), np.zeros(2, np.float32), WG, 3, ndrange=(2, WG))
    assert "_pk_nl = min(_pk_lw" in src            # a block of lanes per step of the row loop
    assert "if True" in src                         # ...whose bounds were checked once per block


@pytest.mark.parametrize("n", [1, 50, 8 * 4 * 3, 8 * 4 * 3 + 5])
def test_suite_reduce_sum_matches_numpy_bit_for_bit(n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    per, groups = 4, max(1, -(-n // (WG * 4)))
    _assert_same_bits(suite.reduce_sum, groups * WG, WG, x, np.zeros(groups, np.float32), WG, per, 3)


@pytest.mark.parametrize("cols", [5, 64, 67])
def test_suite_layernorm_matches_numpy_bit_for_bit(cols):
    rng = np.random.default_rng(cols)
    x = rng.standard_normal((3, cols)).astype(np.float32)
    g, b = rng.standard_normal(cols).astype(np.float32), rng.standard_normal(cols).astype(np.float32)
    _assert_same_bits(suite.layernorm, (3, WG), (1, WG), x, g, b, np.zeros_like(x), np.float32(1e-5), WG, 3)


def test_suite_matmul_with_two_dimensional_groups_matches_numpy_bit_for_bit():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((16, 16)).astype(np.float32)
    b = rng.standard_normal((16, 16)).astype(np.float32)
    _assert_same_bits(suite.matmul, (16, 16), (4, 4), a, b, np.zeros((16, 16), np.float32), 4)


@pk.kernel
def carried(x, out, last):
    # acc crosses a barrier; c, the loop variable, is read after its loop
    lid = pk.local_id(0)
    acc = pk.float64(0.0)
    c = -1
    for c in range(lid + 1, x.shape[0], 4):
        acc += x[c] * pk.float64(c)
    pk.barrier()
    for k in range(3):
        acc = acc * 0.5 + x[(lid + k) % x.shape[0]]
    out[pk.global_id(0)] = acc
    last[pk.global_id(0)] = c


@pytest.mark.parametrize("n", [2, 4, 13])
def test_carried_scalars_and_loop_variables_keep_each_lanes_values(n):
    x = np.random.default_rng(n).standard_normal(n)
    _assert_same_bits(carried, 8, 4, x, np.zeros(8), np.zeros(8, np.int64))


@pk.kernel
def early_exit(x, out):
    lid = pk.local_id(0)
    if pk.global_id(0) >= out.shape[0]:
        return
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[0], 4):
        acc += x[c]
    pk.barrier()
    out[pk.global_id(0)] = acc


def test_early_return_before_a_strided_loop_matches_numpy():
    x = np.arange(10, dtype=np.float32)
    _assert_same_bits(early_exit, 8, 4, x, np.zeros(6, np.float32))


@pk.kernel
def out_of_bounds_tail(x, out):
    # the last lanes read past x: the failing access must still be reported
    lid = pk.local_id(0)
    acc = pk.float32(0.0)
    for c in range(lid, 12, 4):
        acc += x[c]
    pk.barrier()
    out[lid] = acc


def test_a_block_that_fails_its_batched_check_still_reports_the_bad_index():
    with pytest.raises(pk.KernelIndexError, match="out of bounds"):
        out_of_bounds_tail.on("numba")[4, 4](np.zeros(10, np.float32), np.zeros(4, np.float32))


@pytest.mark.parametrize("special", [np.nan, -0.0, 0.0, np.inf, -np.inf])
def test_row_max_keeps_the_nan_and_signed_zero_rules_when_vectorised(special):
    x = np.full((3, 21), -0.0, np.float32)
    x[0, ::3] = special
    x[1, 5] = special
    x[2, :] = np.float32(special)
    ref, got = _both(row_stats, (3, WG), (1, WG), x, np.zeros(3, np.float32), np.zeros(3, np.float32), WG, 3)
    for want, have in zip(ref[1:], got[1:]):      # the row maxima and the sums of squares
        nan = np.isnan(want)
        assert (nan == np.isnan(have)).all()          # any NaN matches any NaN (docs/semantics.md)
        assert want[~nan].tobytes() == have[~nan].tobytes()


@pk.kernel
def tree_sum(x, out, W: pk.constexpr, LOG_W: pk.constexpr, EXTRA: pk.constexpr):
    # a tree reduction: each level is a phase with no loop, narrowed to the lanes below ``s``;
    # EXTRA > 0 makes the last level read past ``red`` (reported, never silently read)
    lid = pk.local_id(0)
    red = pk.local_array(W, pk.float32)
    red[lid] = x[pk.global_id(0)]
    pk.barrier()
    for step in range(LOG_W):
        s = W >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s + (EXTRA if step == LOG_W - 1 else 0)]
        pk.barrier()
    if lid == 0:
        out[pk.group_id(0)] = red[0]


def test_tree_levels_check_bounds_once_per_block_and_keep_the_bits():
    x = np.random.default_rng(3).standard_normal(64).astype(np.float32)
    _assert_same_bits(tree_sum, 64, 16, x, np.zeros(4, np.float32), 16, 4, 0)
    src = tree_sum.source("numba", x, np.zeros(4, np.float32), 16, 4, 0, ndrange=64)
    # the level's two loads and its store run unchecked when the block's first and last lanes pass
    assert "a_red[np.uint64((_pk_l0))] = ((a_red[np.uint64((_pk_l0))] if True else" in src


def test_a_tree_level_that_reads_past_its_local_array_is_reported():
    with pytest.raises(pk.KernelIndexError, match="out of bounds"):
        tree_sum.on("numba")[64, 16](np.zeros(64, np.float32), np.zeros(4, np.float32), 16, 4, 15)
