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
    # a tree reduction: each level is a phase with no loop, narrowed to the lanes below ``s``
    # (lane by lane, checked per access: a second, unchecked copy would double its compile time);
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


def test_tree_levels_keep_the_bits():
    x = np.random.default_rng(3).standard_normal(64).astype(np.float32)
    _assert_same_bits(tree_sum, 64, 16, x, np.zeros(4, np.float32), 16, 4, 0)


def test_a_tree_level_that_reads_past_its_local_array_is_reported():
    with pytest.raises(pk.KernelIndexError, match="out of bounds"):
        tree_sum.on("numba")[64, 16](np.zeros(64, np.float32), np.zeros(4, np.float32), 16, 4, 15)


@pk.kernel
def short_loop(x, out, T: pk.constexpr, EXTRA: pk.constexpr):
    # a short constant loop inside a barrier phase (a matmul tile step): it stays inside the lane
    # loop, checked at the ends of its variable; EXTRA = 1 reads past ``ta`` at the last step only
    li = pk.local_id(0)
    lj = pk.local_id(1)
    ta = pk.local_array((4, 8), pk.float32)
    tb = pk.local_array((8, 8), pk.float32)
    ta[li, lj] = x[pk.global_id(0), pk.global_id(1)]
    tb[li, lj] = x[pk.global_id(0), pk.global_id(1)] * pk.float32(0.5)
    tb[li + 4, lj] = pk.float32(1.0) - x[pk.global_id(0), pk.global_id(1)]
    pk.barrier()
    acc = pk.float32(0.0)
    for k in range(T):
        acc += ta[li, k + EXTRA] * tb[k, lj]
    out[pk.global_id(0), pk.global_id(1)] = acc


def test_short_constant_loops_stay_inside_the_lanes_checked_at_their_ends():
    x = np.random.default_rng(5).standard_normal((8, 16)).astype(np.float32)
    _assert_same_bits(short_loop, (8, 16), (4, 8), x, np.zeros((8, 16), np.float32), 8, 0)
    src = short_loop.source("numba", x, np.zeros((8, 16), np.float32), 8, 0, ndrange=(8, 16))
    # the loop's ends are checked once per block, then the loop runs unchecked inside each lane
    assert "= np.int64(7)\n" in src and src.count("for v_u_u_pku_i") >= 2
    body = src[src.index("if _pk_ok:"):]
    assert "a_ta[np.uint64((_pk_l0)), np.uint64(" in body and "a_tb[np.uint64(v_k), np.uint64((_pk_l1))] if True" in body


def test_a_short_loop_that_reads_past_its_tile_at_the_last_step_is_reported():
    with pytest.raises(pk.KernelIndexError, match="out of bounds"):
        short_loop.on("numba")[(8, 16), (4, 8)](np.zeros((8, 16), np.float32), np.zeros((8, 16), np.float32), 8, 1)


def test_only_short_constant_straight_line_loops_are_kept_inside():
    from portakern.codegen.lane_loops import UNROLL_MAX, unrolled
    from portakern.ir import nodes as ir
    from portakern.types import int64

    k = ir.Var("k", int64)

    def loop(start, stop, step, body=()):  # type: ignore[no-untyped-def]
        return ir.For(k, ir.Const(start, int64), ir.Const(stop, int64), ir.Const(step, int64), tuple(body))

    assert unrolled(loop(0, 16, 1)) == (0, 15)
    assert unrolled(loop(2, 11, 3)) == (2, 8)
    assert unrolled(loop(0, UNROLL_MAX + 1, 1)) is None          # too long: interchanged as before
    assert unrolled(loop(0, 0, 1)) is None and unrolled(loop(4, 0, -1)) is None
    assert unrolled(loop(0, 4, 1, [ir.Assign(k, ir.Const(1, int64))])) is None   # assigns its variable
    assert unrolled(loop(0, 4, 1, [loop(0, 2, 1)])) is None      # nested loops are not unrolled here


def test_a_guard_the_blocks_bounds_check_proves_is_not_tested_per_lane():
    # reduce_sum's `if j < n: acc += x[j]`: where the block's check found x[j] in bounds at its first
    # and last lane, j < n holds at every lane (a test per lane kept AVX2 from vectorising the loop)
    x = np.zeros(4096, np.float32)
    src = suite.reduce_sum.source("numba", x, np.zeros(4, np.float32), 256, 4, 8, ndrange=(1024,))
    fast = src[src.index("if _pk_ok:"):src.index("else:", src.index("if _pk_ok:"))]
    assert "if True:" in fast and "v_j <" not in fast
    assert "v_j <" in src                             # the block that failed its check still tests


@pk.kernel
def guard_after_reassignment(x, out, PER: pk.constexpr):
    lid = pk.local_id(0)
    acc = pk.float32(0.0)
    for k in range(PER):
        j = pk.group_id(0) * WG * PER + lid + k * WG
        acc += x[j]
        j = j + 1                       # the guard reads another value than the checked access
        if j < x.shape[0]:
            acc += 1.0
    red = pk.local_array(WG, pk.float32)          # a work-group kernel: its phases run lane loops
    red[lid] = acc
    pk.barrier()
    out[pk.global_id(0)] = red[(lid + 1) % WG]


def test_a_guard_on_a_reassigned_index_is_still_tested():
    x = np.arange(2 * WG * 3, dtype=np.float32)       # every x[j] in bounds; j + 1 is not, once
    _assert_same_bits(guard_after_reassignment, 2 * WG, WG, x, np.zeros(2 * WG, np.float32), 3)
    src = guard_after_reassignment.source("numba", x, np.zeros(2 * WG, np.float32), 3, ndrange=(2 * WG,))
    fast = src[src.index("if _pk_ok:"):src.index("else:", src.index("if _pk_ok:"))]
    assert "v_j <" in fast


@pk.kernel
def skip_and_stop(x, out, W: pk.constexpr):
    # per-lane sums over a strided row loop that skips (continue) and leaves early (break), then an
    # inner loop that accumulates: each work-item's scalars must survive every path into the next phase
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(W, pk.float32)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], W):
        v = x[r, c]
        if v < 0.25:
            continue
        if v > 0.97:
            break
        acc += v
    inner = pk.float32(0.0)
    for k in range(4):
        inner += x[r, (lid + k) % x.shape[1]] * pk.float32(k + 1)
    red[lid] = acc
    pk.barrier()
    out[r, lid] = red[(lid + 1) % W] + acc + inner


def test_per_lane_sums_with_continue_and_break_match_numpy_bit_for_bit():
    x = np.random.default_rng(11).random((5, 29)).astype(np.float32)
    _assert_same_bits(skip_and_stop, (5, WG), (1, WG), x, np.zeros((5, WG), np.float32), WG)
