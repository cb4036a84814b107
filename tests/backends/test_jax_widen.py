"""The jax lowering's widened loops (widen.py, reduce.py): row-loop reductions folded in the
reference's order, widened bodies (locals, conditionals, masks, local arrays), composition with
grad and vmap. Every result is compared bit for bit with numpy's (NaNs in payload only)."""
from __future__ import annotations

import numpy as np
import pytest

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
def row_prod(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = x[r, 0] * 0 + 1
    for c in range(lid, x.shape[1], WG):
        acc = x[r, c] * acc
    out[r, lid] = acc


@pytest.mark.parametrize("trip", [1, 16, 64, 65, 200])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_row_sum_folds_in_iteration_order(trip, dtype):
    x = magnitudes((3, trip * WG), dtype)
    run(row_sum, _grid(3), x, np.zeros((3, WG), dtype), dtype(-0.0), WG)


@pytest.mark.parametrize("trip", [16, 65])
def test_widened_float_row_sum_has_no_per_iteration_loop_up_to_64_and_is_bounded_beyond(trip):
    x = magnitudes((2, trip * WG))
    p = prims(row_sum, _grid(2), x, np.zeros((2, WG), np.float32), np.float32(0), WG)
    assert not p & {"gather", "scatter", "scatter-add"}
    if trip <= 64:
        assert not p & LOOPS, p
    else:
        assert "while" not in p or "scan" not in p


@pytest.mark.parametrize("extra", [1, 3])
def test_row_whose_length_is_not_a_multiple_of_the_work_group_still_matches(extra):
    # the lanes' trip counts differ: the loop must step (not widen) and give the same bits
    x = magnitudes((3, 5 * WG + extra))
    run(row_sum, _grid(3), x, np.zeros((3, WG), np.float32), np.float32(0), WG)


@pytest.mark.parametrize("trip", [1, 16, 65])
def test_float_row_product_folds_in_iteration_order(trip):
    # rounding-sensitive factors; no subnormal can arise (XLA on the CPU flushes them, docs/semantics.md)
    x = kit.RNG.choice(np.array([3.0, 1 / 3, 1.1, 0.9, -1.5, 0.7, 1 / 7], np.float32), (2, trip * WG))
    run(row_prod, _grid(2), x, np.zeros((2, WG), np.float32), WG)


@pytest.mark.parametrize("trip", [1, 16, 65])
@pytest.mark.parametrize("init", [0.0, -0.0, np.inf, -np.inf, np.nan])
def test_min_max_of_signed_zeros_give_the_reference_zero(trip, init):
    x = kit.RNG.choice(ZEROS, (6, trip * WG))
    x[0] = 0.0
    x[1] = -0.0
    lo, hi = run(row_minmax, _grid(6), x, np.zeros((6, WG), np.float32), np.zeros((6, WG), np.float32),
                 np.full(6, init, np.float32), WG)
    if init == np.inf:                        # sanity: the reference is what docs/semantics.md says
        assert np.signbit(lo[1]).all() and not np.signbit(hi[0]).any()


def test_min_max_with_a_nan_in_one_iteration_and_all_minus_infinity():
    x = kit.RNG.uniform(-5, 5, (4, 16 * WG)).astype(np.float32)
    x[0, 7] = np.nan
    x[1, :] = -np.inf
    x[2, 2 * WG + 1] = np.nan
    x[2, 5 * WG + 1] = -0.0
    x[3, :] = np.where(x[3] > 0, 0.0, -0.0)
    lo, hi = run(row_minmax, _grid(4), x, np.zeros((4, WG), np.float32), np.zeros((4, WG), np.float32),
                 np.full(4, -np.inf, np.float32), WG)
    assert np.isnan(lo[0, 3]) and np.isnan(hi[2, 1]) and (hi[1] == -np.inf).all()


def test_min_max_of_arrays_large_enough_for_xla_library_kernels_keep_nan_and_zero_order():
    # XLA:CPU hands a plain float max/min reduction of 4096 elements or more to YNNPACK, which
    # drops NaNs: the folds must stay exact at sizes the small tests never reach.
    x = kit.RNG.uniform(-5, 5, (64, 256 * WG)).astype(np.float32)
    x[5, 77] = np.nan
    x[6, 3::WG] = np.nan
    x[9] = -0.0
    x[9, 13] = 0.0
    x[10] = 0.0
    x[10, 2] = -0.0
    lo, hi = run(row_minmax, _grid(64), x, np.zeros((64, WG), np.float32), np.zeros((64, WG), np.float32),
                 np.full(64, -np.inf, np.float32), WG)
    assert np.isnan(hi[5, 77 % WG]) and np.isnan(hi[6, 3])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("trip", [1, 16, 65])
def test_integer_reductions_wrap_and_match(dtype, trip):
    ii = np.iinfo(dtype)
    x = kit.RNG.integers(ii.min, ii.max, (3, trip * WG), dtype=dtype, endpoint=True)
    x[0, :] = ii.max                           # a sum that wraps many times
    run(row_bits, _grid(3), x, np.zeros((3, WG, 6), dtype), WG)


def test_unsigned_and_reduction_in_a_widened_loop_starts_from_all_ones():
    x = kit.RNG.integers(0, 2**32, (3, 4 * WG), dtype=np.uint32)
    run(row_bits, _grid(3), x, np.zeros((3, WG, 6), np.uint32), WG)


@pk.kernel
def positive_sum(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        if x[r, c] > 0:
            acc += x[r, c]
    out[r, lid] = acc


@pk.kernel
def scale_offset(out, k: pk.float32, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid + 3, out.shape[1], WG):
        out[r, c] = out[r, c] * k


@pk.kernel
def grid_stride(x, out):
    i = pk.global_id(0)
    for j in range(i, x.shape[0], pk.global_size(0)):
        out[j] = x[j] * 3.0 + 1.0


@pk.kernel
def local_scale(x, w, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(WG, pk.float32)
    red[lid] = w[lid]
    pk.barrier()
    for c in range(lid, x.shape[1], WG):
        out[r, c] = x[r, c] * red[lid] + red[0]


@pk.kernel
def nested_sum(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for k in range(3):
        for c in range(lid, x.shape[1], WG):
            acc += x[r, c] * k
    out[r, lid] = acc


@pk.kernel
def carried_dependency(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        acc = acc * 0.5 + x[r, c]
    out[r, lid] = acc


@pytest.mark.parametrize("trip", [1, 16])
def test_sum_from_a_constant_plus_zero_stays_plus_zero_when_every_contribution_is_minus_zero(trip):
    # the stepped loop computes (+0.0) + (-0.0) + ... = +0.0; x > 0 never holds, so every
    # iteration contributes the add identity -0.0 as well
    x = np.full((2, trip * WG), -0.0, np.float32)
    out = run(positive_sum, _grid(2), x, np.zeros((2, WG), np.float32), WG)[0]
    assert not np.signbit(out).any()


def test_conditional_contribution_matches_and_widens():
    x = magnitudes((3, 16 * WG))
    args = (x, np.zeros((3, WG), np.float32), WG)
    run(positive_sum, _grid(3), *args)
    assert not prims(positive_sum, _grid(3), *args) & LOOPS


@pytest.mark.parametrize("cols", [WG, 16 * WG, 65 * WG, 5 * WG + 2])
def test_locals_read_after_the_loop_hold_the_last_iteration_value(cols):
    x = kit.RNG.uniform(-3, 3, (2, cols)).astype(np.float32)
    _, lastc, laste = run(last_values, _grid(2), x, np.zeros_like(x), np.zeros((2, WG), np.int64),
                          np.zeros((2, WG), np.float32), WG)
    lid = np.arange(WG)
    want_c = lid + ((cols - 1 - lid) // WG) * WG
    assert (lastc == want_c).all()


@pytest.mark.parametrize("cols", [3 + WG, 3 + 16 * WG, 3 + 65 * WG, 3 + 5 * WG + 1])
def test_load_then_store_of_one_element_with_an_offset_start(cols):
    x = kit.RNG.uniform(-3, 3, (3, cols)).astype(np.float32)
    (out,) = run(scale_offset, _grid(3), x, np.float32(1.5), WG)
    assert (out[:, :3] == x[:, :3]).all()


def test_offset_start_row_loop_widens_without_gather_scatter_or_loop():
    x = np.ones((3, 3 + 16 * WG), np.float32)
    p = prims(scale_offset, _grid(3), x, np.float32(1.5), WG)
    assert not p & (LOOPS | {"gather", "scatter"}), p


@pytest.mark.parametrize("trip", [1, 16, 65, 200])
def test_grid_stride_loop_matches_and_widens(trip):
    x = kit.RNG.uniform(-3, 3, 8 * trip).astype(np.float32)
    run(grid_stride, 8, x, np.zeros_like(x))
    assert not prims(grid_stride, 8, x, np.zeros_like(x)) & (LOOPS | {"gather", "scatter"})


@pytest.mark.parametrize("k", [0, 5, 17, 64])
def test_masked_loads_inside_a_widened_body(k):
    x = magnitudes((3, 16 * WG))
    run(masked_sum, _grid(3), x, np.zeros((3, WG), np.float32), np.int64(k), WG)


def test_loads_from_a_local_array_inside_a_widened_body():
    x = kit.RNG.uniform(-3, 3, (3, 16 * WG)).astype(np.float32)
    w = np.array([0.5, -2.0, 3.25, 1e-3], np.float32)
    args = (x, w, np.zeros_like(x), WG)
    run(local_scale, _grid(3), *args)
    assert not prims(local_scale, _grid(3), *args) & LOOPS


def test_widened_loop_nested_in_a_uniform_loop():
    x = magnitudes((3, 16 * WG))
    run(nested_sum, _grid(3), x, np.zeros((3, WG), np.float32), WG)


def test_loop_with_a_carried_dependency_still_lowers_to_a_loop():
    x = kit.RNG.uniform(-3, 3, (2, 16 * WG)).astype(np.float32)
    args = (x, np.zeros((2, WG), np.float32), WG)
    run(carried_dependency, _grid(2), *args)
    assert prims(carried_dependency, _grid(2), *args) & LOOPS


@pk.kernel
def row_total(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        acc += x[r, c] * x[r, c]
    out[r, lid] = acc


@pytest.mark.parametrize("trip", [4, 65])
def test_grad_through_a_widened_row_sum_matches_finite_differences(trip):
    x0 = kit.RNG.uniform(-1, 1, (2, trip * WG)).astype(np.float32)
    wts = np.arange(1, 2 * WG + 1, dtype=np.float32).reshape(2, WG)

    def loss(x):
        out = row_total.on("jax")[_grid(2)](x, jnp.zeros((2, WG), x.dtype), WG)
        return jnp.sum(out * wts)

    g = np.asarray(jax.grad(loss)(jnp.asarray(x0)))
    loss = jax.jit(loss)                     # one trace for the finite differences
    lane = np.arange(trip * WG) % WG
    np.testing.assert_allclose(g, 2 * x0 * wts[:, lane], rtol=1e-6)
    eps = 1e-2
    picks = [np.unravel_index(i, x0.shape) for i in kit.RNG.choice(x0.size, 8, replace=False)]
    for idx in picks:
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fd = (float(loss(jnp.asarray(xp))) - float(loss(jnp.asarray(xm)))) / (2 * eps)
        np.testing.assert_allclose(g[idx], fd, rtol=2e-2, atol=2e-2 * max(1.0, trip / 16))


def test_vmap_over_a_batch_matches_per_example_numpy():
    xs = magnitudes((3, 2, 16 * WG))

    def one(x):
        return row_sum.on("jax")[_grid(2)](x, jnp.zeros((2, WG), x.dtype), np.float32(0), WG)

    res = np.asarray(jax.vmap(one)(jnp.asarray(xs)))
    for b in range(3):
        same_bits(row_sum.on("numpy")[_grid(2)](xs[b].copy(), np.zeros((2, WG), np.float32), np.float32(0), WG),
                  res[b])


@pk.kernel
def row_max(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    m = pk.float32(-3.0e38)
    for c in range(lid, x.shape[1], WG):
        m = max(m, x[r, c])
    out[r, lid] = m


@pk.kernel
def tree_max(x, out, WG: pk.constexpr, K: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(WG, pk.float32)
    red[lid] = x[r, lid]
    pk.barrier()
    for step in range(K):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = max(red[lid], red[lid + s])
        pk.barrier()
    out[r, lid] = red[0]


def test_grad_through_widened_and_tree_max_reaches_the_maximum():
    # the order-free max folds go through integer keys: their gradient must not silently vanish
    x = kit.RNG.permutation(np.arange(3 * 16, dtype=np.float32)).reshape(3, 16)   # distinct values
    g = jax.grad(lambda v: jnp.sum(row_max.on("jax")[_grid(3)](v, jnp.zeros((3, WG), jnp.float32), WG)))(
        jnp.asarray(x))
    want = np.zeros_like(x)
    for r in range(3):
        for lane in range(WG):
            cols = np.arange(lane, 16, WG)
            want[r, cols[np.argmax(x[r, cols])]] = 1.0
    np.testing.assert_array_equal(np.asarray(g), want)
    x8 = x[:, :8].copy()
    g2 = jax.grad(lambda v: jnp.sum(tree_max.on("jax")[(3, 8), (1, 8)](v, jnp.zeros((3, 8), jnp.float32), 8, 3)))(
        jnp.asarray(x8))
    want2 = np.zeros_like(x8)
    want2[np.arange(3), np.argmax(x8, axis=1)] = 8.0      # every lane's out is red[0]
    np.testing.assert_array_equal(np.asarray(g2), want2)
