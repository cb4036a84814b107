"""More widened loops: other grid layouts (first, middle and last dimensions of 2-D and 3-D
grids), transposed and broadcast accesses, masked stores, small and unsigned integer types,
constant starts, descending loops, the debug and lane-limit fallbacks, and a property test."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portakern as pk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("portakern_jax")

from tests.backends import jax_widen_kit as kit  # noqa: E402
from tests.backends.jax_widen_kit import (  # noqa: E402
    LOOPS,
    WG,
    ZEROS,
    _grid,
    _seeded_inputs,  # noqa: F401  (the per-test seed)
    last_values,
    magnitudes,
    masked_sum,
    prims,
    row_bits,
    row_minmax,
    row_sum,
    run,
    same_bits,
)


@pk.kernel
def fused_sum(x, y, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        acc += x[r, c] * y[r, c]
    out[r, lid] = acc


@pk.kernel
def column_loop(x, out):
    j = pk.global_id(1)
    acc = x[0, 0] * 0
    for r in range(pk.global_id(0), x.shape[0], pk.global_size(0)):
        acc += x[r, j]
        out[r, j] = x[r, j] * 2.0
    out[pk.global_id(0), j] = out[pk.global_id(0), j] + acc


@pk.kernel
def transposed(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[0], WG):
        acc += x[c, r]
        out[c, r] = x[c, r] + 1.0
    out[lid, r] = out[lid, r] + acc


@pk.kernel
def masked_store(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid, x.shape[1], WG):
        if x[r, c] > 0:
            out[r, c] = x[r, c] * 2.0


@pk.kernel
def loop_under_if(x, out, init, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = init
    if r % 2 == 0:
        for c in range(lid, x.shape[1], WG):
            acc += x[r, c]
    out[r, lid] = acc


@pk.kernel
def int_products(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    p = x[r, lid] - x[r, lid] + 1
    for c in range(lid, x.shape[1], WG):
        p *= x[r, c]
    out[r, lid] = p


@pk.kernel
def last_conditional(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    t = pk.float32(5.0)
    for c in range(lid, x.shape[1], WG):
        t = x[r, c]
        if t < 0:
            t = -t * 3.0
    out[r, lid] = t


@pytest.mark.parametrize("trip", [1, 16])
def test_accumulated_products_match(trip):
    x = kit.RNG.uniform(-2, 2, (3, trip * WG)).astype(np.float32)
    y = kit.RNG.uniform(-2, 2, (3, trip * WG)).astype(np.float32)
    run(fused_sum, _grid(3), x, y, np.zeros((3, WG), np.float32), WG)


@pytest.mark.parametrize("rows", [4, 16 * 4, 65 * 4])
def test_loop_along_the_first_grid_dimension_of_a_2d_grid(rows):
    x = magnitudes((rows, 3))
    run(column_loop, (4, 3), x, np.zeros_like(x))


def test_transposed_accesses_in_a_widened_body():
    x = magnitudes((16 * WG, 3))
    run(transposed, _grid(3), x, np.zeros_like(x), WG)


def test_masked_store_in_a_widened_body_keeps_the_other_elements():
    x = kit.RNG.uniform(-2, 2, (3, 16 * WG)).astype(np.float32)
    out = np.full_like(x, 7.0)
    run(masked_store, _grid(3), x, out, WG)


@pytest.mark.parametrize("init", [0.0, -0.0])
def test_row_loop_under_a_lane_varying_if(init):
    x = magnitudes((4, 16 * WG))
    run(loop_under_if, _grid(4), x, np.zeros((4, WG), np.float32), np.float32(init), WG)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64])
def test_integer_products_wrap(dtype):
    ii = np.iinfo(dtype)
    x = kit.RNG.integers(ii.min, ii.max, (3, 16 * WG), dtype=dtype, endpoint=True) | 1
    run(int_products, _grid(3), x, np.zeros((3, WG), dtype), WG)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint8, np.uint16, np.uint32, np.uint64])
def test_small_and_unsigned_integer_sums_min_max_or_xor(dtype):
    @pk.kernel
    def row_mix(x, out, WG: pk.constexpr):
        r = pk.global_id(0)
        lid = pk.local_id(1)
        o = x[r, lid] ^ x[r, lid]
        e = o
        s = o
        lo = x[r, lid]
        hi = x[r, lid]
        for c in range(lid, x.shape[1], WG):
            o |= x[r, c]
            e ^= x[r, c]
            s += x[r, c]
            lo = min(lo, x[r, c])
            hi = max(hi, x[r, c])
        out[r, lid, 0] = o
        out[r, lid, 1] = e
        out[r, lid, 2] = s
        out[r, lid, 3] = lo
        out[r, lid, 4] = hi

    ii = np.iinfo(dtype)
    x = kit.RNG.integers(ii.min, ii.max, (3, 16 * WG), dtype=dtype, endpoint=True)
    run(row_mix, _grid(3), x, np.zeros((3, WG, 5), dtype), WG)


def test_local_reassigned_under_an_if_keeps_the_last_iteration_value():
    x = kit.RNG.uniform(-2, 2, (3, 16 * WG)).astype(np.float32)
    run(last_conditional, _grid(3), x, np.zeros((3, WG), np.float32), WG)


@pk.kernel
def local_and_private_reads(x, w, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(WG, pk.float32)
    red[lid] = w[lid]
    p = pk.private_array(3, pk.float32)
    p[0] = w[lid] * 2.0
    p[1] = -w[lid]
    p[2] = 1.5
    pk.barrier()
    for c in range(lid, x.shape[1], WG):
        out[r, c] = x[r, c] * red[(c // WG) % WG] + p[c % 3]


def test_lane_varying_local_and_private_array_reads_inside_a_widened_body():
    x = kit.RNG.uniform(-3, 3, (3, 16 * WG)).astype(np.float32)
    w = np.array([0.5, -2.0, 3.25, 1e-3], np.float32)
    args = (x, w, np.zeros_like(x), WG)
    run(local_and_private_reads, _grid(3), *args)
    assert not prims(local_and_private_reads, _grid(3), *args) & LOOPS


@pytest.mark.parametrize("trip", [16, 65])
def test_widened_loops_run_without_a_per_iteration_loop(trip):
    x = kit.RNG.uniform(-3, 3, (3, trip * WG)).astype(np.float32)
    xi = kit.RNG.integers(-9, 9, (3, trip * WG)).astype(np.int32)
    cases = [
        (row_minmax, (x, np.zeros((3, WG), np.float32), np.zeros((3, WG), np.float32), np.zeros(3, np.float32), WG)),
        (row_bits, (xi, np.zeros((3, WG, 6), np.int32), WG)),
        (int_products, (xi, np.zeros((3, WG), np.int32), WG)),
        (last_values, (x, np.zeros_like(x), np.zeros((3, WG), np.int64), np.zeros((3, WG), np.float32), WG)),
        (masked_store, (x, np.zeros_like(x), WG)),
        (last_conditional, (x, np.zeros((3, WG), np.float32), WG)),
    ]
    if trip <= 64:       # float sums/products beyond 64 iterations fold in a bounded fori_loop
        cases += [(fused_sum, (x, x, np.zeros((3, WG), np.float32), WG)),
                  (masked_sum, (x, np.zeros((3, WG), np.float32), np.int64(5), WG))]
    for kern, args in cases:
        assert not prims(kern, _grid(3), *args) & LOOPS, kern.__name__


@settings(max_examples=25, deadline=None)
@given(trip=st.integers(1, 80), extra=st.sampled_from([0, 0, 0, 1, 3]),
       pool=st.lists(st.sampled_from([1e8, -1e8, 1.0, -1.0, 0.5, 3e-3, 0.0, -0.0, 6e7, np.inf, np.nan]),
                     min_size=2, max_size=6), seed=st.integers(0, 2**31))
def test_property_row_sum_and_min_max_match_the_reference_bit_for_bit(trip, extra, pool, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array(pool, np.float32), (2, trip * WG + extra))
    run(row_sum, _grid(2), x, np.zeros((2, WG), np.float32), np.float32(rng.choice([0.0, -0.0])), WG)
    run(row_minmax, _grid(2), x, np.zeros((2, WG), np.float32), np.zeros((2, WG), np.float32),
        np.array(rng.choice(pool, 2), np.float32), WG)


@pk.kernel
def constant_inits(x, lo, hi, sm, pr, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    a = pk.float32(0.0)
    b = pk.float32(-0.0)
    s = pk.float32(0.0)
    p = pk.float32(-0.0)
    for c in range(lid, x.shape[1], WG):
        a = min(a, x[r, c])
        b = max(b, x[r, c])
        s += x[r, c]
        p *= x[r, c]
    lo[r, lid] = a
    hi[r, lid] = b
    sm[r, lid] = s
    pr[r, lid] = p


@pytest.mark.parametrize("cols", [WG, 16 * WG, 16 * WG + 1, 65 * WG, 200 * WG])
@pytest.mark.parametrize("fill", ["plus", "minus", "mixed"])
def test_reductions_from_constant_signed_zeros_keep_the_zero_sign(cols, fill):
    # constants let XLA simplify broadcast(+0.0) + c to c (wrong for c = -0.0); the widened fold
    # must start from the constant itself, and a uniform start must still fold past 64 iterations
    x = kit.RNG.choice(ZEROS, (2, cols)) if fill == "mixed" else np.full((2, cols), ZEROS[int(fill == "minus")])
    z = [np.zeros((2, WG), np.float32) for _ in range(4)]
    lo, hi, sm, pr = run(constant_inits, _grid(2), x, *z, WG)
    if fill == "minus":
        assert not np.signbit(sm).any() and np.signbit(hi).all() and np.signbit(lo).all()


@pk.kernel
def broadcast_loads(x, w, v, out, tot, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid + 1, x.shape[1], WG):
        e = x[r, c] * w[c] + v[r]
        out[r, c] = e
        acc += e * w[c - 1]
    tot[r, lid] = acc


@pk.kernel
def grid3_middle(x, out):
    b = pk.global_id(0)
    k = pk.global_id(2)
    acc = x[b, 0, k] * 0
    for c in range(pk.global_id(1), x.shape[1], pk.global_size(1)):
        acc += x[b, c, k]
        out[b, c, k] = x[b, c, k] - 1.0
    out[b, pk.global_id(1), k] = out[b, pk.global_id(1), k] + acc


@pk.kernel
def grid3_last(x, out, WG: pk.constexpr):
    b = pk.global_id(0)
    r = pk.global_id(1)
    lid = pk.local_id(2)
    m = x[b, r, lid]
    for c in range(lid, x.shape[2], WG):
        m = max(m, x[b, r, c])
        out[b, r, c] = x[b, r, c] * 0.5
    out[b, r, lid] = out[b, r, lid] + m


@pytest.mark.parametrize("trip", [1, 16, 65])
def test_one_dimensional_arrays_broadcast_inside_a_widened_row_loop(trip):
    x = magnitudes((3, 1 + trip * WG))
    w = kit.RNG.uniform(-2, 2, 1 + trip * WG).astype(np.float32)
    v = kit.RNG.uniform(-2, 2, 3).astype(np.float32)
    run(broadcast_loads, _grid(3), x, w, v, np.zeros_like(x), np.zeros((3, WG), np.float32), WG)


@pytest.mark.parametrize("n", [3, 3 * 16, 3 * 65, 3 * 5 + 1])
def test_loop_along_the_middle_dimension_of_a_3d_grid(n):
    x = magnitudes((2, n, 4))
    run(grid3_middle, (2, 3, 4), x, np.zeros_like(x))


@pytest.mark.parametrize("n", [4, 4 * 16, 4 * 65])
def test_loop_along_the_last_dimension_of_a_3d_grid(n):
    x = kit.RNG.choice(np.array([0.0, -0.0, 1.0, -np.inf, np.nan], np.float32), (2, 3, n))
    run(grid3_last, ((2, 3, 4), (1, 1, 4)), x, np.zeros_like(x), 4)


def test_debug_launch_steps_with_bounds_checks_and_gives_the_same_bits():
    kern = pk.kernel(debug=True)(row_sum.fn)
    x = magnitudes((3, 16 * WG))
    got = np.asarray(kern.on("jax")[_grid(3)](x, np.zeros((3, WG), np.float32), np.float32(0), WG))
    same_bits(row_sum.on("numpy")[_grid(3)](x, np.zeros((3, WG), np.float32), np.float32(0), WG), got)


def test_loop_over_the_widened_lane_limit_steps_and_gives_the_same_bits(monkeypatch):
    widen = pytest.importorskip("portakern_jax.widen")
    monkeypatch.setattr(widen, "MAX_WIDE_LANES", 8)
    x = magnitudes((3, 17 * WG))            # a shape no other test traces: a fresh trace
    args = (x, np.zeros((3, WG), np.float32), np.float32(0), WG)
    run(row_sum, _grid(3), *args)
    assert prims(row_sum, _grid(3), *args) & LOOPS


@pk.kernel
def compute_only(out, n: pk.int64, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.int64(0)
    for c in range(lid, n, WG):
        acc += c % 7
    out[r, lid] = acc


def test_a_loop_that_only_computes_is_not_widened_past_the_data_it_touches(monkeypatch):
    widen = pytest.importorskip("portakern_jax.widen")
    monkeypatch.setattr(widen, "SMALL_WIDE_LANES", 64)
    n = 512 * WG                                     # 8 lanes x 512 trips: far more than 2 x 8 elements
    got = run(compute_only, _grid(2), np.zeros((2, WG), np.int64), np.int64(n), WG)
    want = [sum(c % 7 for c in range(lid, n, WG)) for lid in range(WG)]
    np.testing.assert_array_equal(got[0], np.array([want, want], np.int64))
    assert prims(compute_only, _grid(2), np.zeros((2, WG), np.int64), np.int64(n), WG) & LOOPS   # stepped
    x = magnitudes((2, 64 * WG))                     # streaming through 512 elements: 8 x 64 lanes
    sargs = (x, np.zeros((2, WG), np.float32), np.float32(0), WG)
    run(row_sum, _grid(2), *sargs)
    assert not prims(row_sum, _grid(2), *sargs) & LOOPS            # widened: no loop at all


@pk.kernel
def int_constant_inits(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    s = pk.int32(7)
    o = pk.int32(0)
    a = pk.int32(-1)
    m = pk.int32(-5)
    n = pk.int32(5)
    p = pk.int32(1)
    for c in range(lid, x.shape[1], WG):
        s += x[r, c]
        o |= x[r, c]
        a &= x[r, c]
        m = max(m, x[r, c])
        n = min(x[r, c], n)
        p *= x[r, c]
    out[r, lid, 0] = s
    out[r, lid, 1] = o
    out[r, lid, 2] = a
    out[r, lid, 3] = m
    out[r, lid, 4] = n
    out[r, lid, 5] = p


@pk.kernel
def int64_literal_sum(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    s = 0
    for c in range(lid, x.shape[1], WG):
        s += x[r, c]
    out[r, lid] = s


@pytest.mark.parametrize("trip", [1, 16, 65])
def test_integer_reductions_from_constants(trip):
    x = kit.RNG.integers(-2**31, 2**31, (3, trip * WG), dtype=np.int32) | 1
    run(int_constant_inits, _grid(3), x, np.zeros((3, WG, 6), np.int32), WG)
    run(int64_literal_sum, _grid(3), x, np.zeros((3, WG), np.int64), WG)


@pk.kernel
def descending_sum(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(x.shape[1] - 1 - lid, -1, -WG):
        acc += x[r, c]
    out[r, lid] = acc


@pytest.mark.parametrize("trip", [1, 16, 65])
def test_descending_row_loop_folds_in_its_own_order(trip):
    x = magnitudes((3, trip * WG))
    run(descending_sum, _grid(3), x, np.zeros((3, WG), np.float32), WG)


@pk.kernel
def nested_offsets(x, out, tot, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for k in range(3):
        for c in range(lid + k, x.shape[1], WG):      # the start moves with the outer loop
            acc += x[r, c] * (k + 1)
            out[r, c] = out[r, c] + x[r, c]
        for c in range(lid, (k + 1) * WG, WG):        # the stop moves with the outer loop
            acc += x[r, c]
    tot[r, lid] = acc


@pytest.mark.parametrize("n", [12, 16, 17, 18, 66, 260, 261])
def test_inner_row_loops_whose_bounds_move_with_a_uniform_outer_loop(n):
    x = magnitudes((3, n))
    run(nested_offsets, _grid(3), x, np.zeros_like(x), np.zeros((3, WG), np.float32), WG)


@pk.kernel
def multiply_adds(x, y, out, tot, k, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = k * 0
    for c in range(lid, x.shape[1], WG):
        out[r, c] = x[r, c] * k + y[r, c]          # XLA would contract these into FMAs
        acc += x[r, c] * y[r, c] - x[r, c]
    tot[r, lid] = acc


@pytest.mark.parametrize("trip", [16, 65, 200])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multiply_adds_in_a_widened_body_are_not_contracted(trip, dtype):
    x = kit.RNG.uniform(-2, 2, (3, trip * WG)).astype(dtype)
    y = kit.RNG.uniform(-2, 2, (3, trip * WG)).astype(dtype)
    run(multiply_adds, _grid(3), x, y, np.zeros_like(x), np.zeros((3, WG), dtype), dtype(1.1), WG)
