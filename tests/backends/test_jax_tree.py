"""The jax lowering of work-group tree reductions (tree.py) and the softmax kernel's speed
paths: bit-for-bit results against numpy, fallbacks that keep the reference's semantics, no
loop, gather or scatter where the plan applies, a trace size independent of the trip count."""
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
    TREES,
    WG,
    _float_tree_input,
    _grid,
    _seeded_inputs,  # noqa: F401  (the per-test seed)
    _tree,
    magnitudes,
    n_equations,
    prims,
    row_sum,
    run,
    same_bits,
    softmax_exact,
)
from tests.unit.frontend_kit import make  # noqa: E402  (kernels from source text)


@pytest.mark.parametrize("W, K", [(8, 3), (16, 4), (64, 6)])
@pytest.mark.parametrize("name", list(TREES))
def test_float_tree_reduction_matches_bit_for_bit(name, W, K):
    x = _float_tree_input(3 * W, name)
    run(_tree(TREES[name]), (3 * W, W), x, np.zeros_like(x), W, K)


@pytest.mark.parametrize("name", ["max", "min-swapped"])
def test_float_tree_over_enough_groups_for_xla_library_kernels_matches(name):
    # 4096 lanes and more: XLA:CPU would hand a plain float max/min reduction to YNNPACK, which
    # drops NaNs; the tree's reduction must keep the reference's NaNs and zero signs
    x = _float_tree_input(200 * 64, name)
    x[64 * np.arange(0, 200, 7) + 5] = np.nan
    run(_tree(TREES[name]), (200 * 64, 64), x, np.zeros_like(x), 64, 6)


@pytest.mark.parametrize("W, K", [(8, 3), (16, 4), (64, 6)])
@pytest.mark.parametrize("update", ["red[lid] = red[lid] + red[lid + s]", "red[lid] = red[lid + s] ^ red[lid]",
                                    "red[lid] = max(red[lid], red[lid + s])"])
def test_integer_tree_reduction_matches(update, W, K):
    x = kit.RNG.integers(-2**31, 2**31, 2 * W, dtype=np.int32)
    x[:W] = 2**31 - 1
    run(_tree(update, "int32"), (2 * W, W), x, np.zeros_like(x), W, K)


@pytest.mark.parametrize("name", ["add", "max-swapped"])
def test_full_tree_lowers_without_a_loop_or_gather(name):
    x = _float_tree_input(2 * 16, name)
    p = prims(_tree(TREES[name]), (32, 16), x, np.zeros_like(x), 16, 4)
    assert not p & (LOOPS | {"gather", "scatter"}), p


@pytest.mark.parametrize("name", ["add", "max"])
def test_tree_with_a_non_halving_s_sequence(name):
    # s = 3 then 1 on W = 8: lanes 0..2 fold in 3..5, then lane 0 folds in lane 1
    x = _float_tree_input(16, name)
    run(_tree(TREES[name], s="3 - 2 * step"), (16, 8), x, np.zeros_like(x), 8, 2)


def _stepped_tree(x: np.ndarray, W: int, ss: list[int], op) -> np.ndarray:
    """The tree loop run step by step with NumPy, a read past the local array giving 0 (the jax
    backend's out-of-bounds read without ``debug``)."""
    red = x.reshape(-1, W).copy()
    for s in ss:
        pad = np.concatenate([red, np.zeros_like(red)], axis=1)
        red[:, :s] = op(red[:, :s], pad[:, s:2 * s])
    return red.reshape(-1)


def _max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """docs/semantics.md's max: NaN-propagating, -0.0 < +0.0 (np.maximum leaves the zero's sign open)."""
    both_zero = (a == 0) & (b == 0)
    return np.where(both_zero, np.where(np.signbit(a) & np.signbit(b), a, np.zeros_like(a)), np.maximum(a, b))


@pytest.mark.parametrize("name, op", [("add", np.add), ("max", _max)])
def test_tree_whose_shift_reads_past_the_local_array_falls_back_to_the_stepped_loop(name, op):
    # s = 6 then 1 on W = 8: lanes 2..5 read red[8..11], past the array, which reads 0 on jax
    x = _float_tree_input(16, name)
    kern = _tree(TREES[name], s="6 - 5 * step")
    got = np.asarray(kern.on("jax")[16, 8](x.copy(), np.zeros_like(x), 8, 2))
    same_bits(_stepped_tree(x, 8, [6, 1], op), got)
    with pytest.raises(IndexError):               # the reference backend's own bounds
        kern.on("numpy")[16, 8](x.copy(), np.zeros_like(x), 8, 2)


def test_tree_reading_past_the_local_array_raises_with_debug_on_jax_as_on_numpy():
    text = """
    def tree_debug(x, out, WG: pk.constexpr, K: pk.constexpr):
        lid = pk.local_id(0)
        red = pk.local_array(WG, pk.float32)
        red[lid] = x[pk.global_id(0)]
        pk.barrier()
        for step in range(K):
            s = 6 - 5 * step
            if lid < s:
                red[lid] = red[lid] + red[lid + s]
            pk.barrier()
        out[pk.global_id(0)] = red[lid]
    """
    kern = pk.kernel(debug=True)(make(text))
    x = _float_tree_input(16, "add")
    for backend in ("numpy", "jax"):
        with pytest.raises(pk.KernelIndexError):
            kern.on(backend)[16, 8](x.copy(), np.zeros_like(x), 8, 2)


def test_softmax_shaped_kernel_with_exact_ops_matches_bit_for_bit():
    x = magnitudes((6, 64))
    x[1] = kit.RNG.uniform(-4, 4, 64).astype(np.float32)
    x[2, 5] = np.nan
    run(softmax_exact, ((6, 8), (1, 8)), x, np.zeros_like(x), 8, 3)


def test_softmax_matches_the_reference_and_has_no_loop_gather_or_scatter():
    from benchmarks.kernels import softmax

    x = kit.RNG.uniform(-4, 4, (6, 64)).astype(np.float32)
    x[2, 5] = 30.0
    args = (x, np.zeros_like(x), 8, 3)
    ref = softmax.on("numpy")[(6, 8), (1, 8)](*args)
    got = np.asarray(softmax.on("jax")[(6, 8), (1, 8)](*args))
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=0)     # exp: a few ulp (docs/semantics.md)
    p = prims(softmax, ((6, 8), (1, 8)), *args)
    assert not p & (LOOPS | {"gather", "scatter", "scatter-add"}), p


def test_softmax_compiles_without_an_array_sized_temporary():
    # exp(x - m) is stored in `out`, then scaled in place: XLA must be able to compute the scaling
    # pass in the buffer of the stored values. A reshaped view of them (the old 3-D widened
    # layout, a bitcast feeding the in-order sum) made it allocate a second array-sized buffer,
    # which costs a page fault per 4 KiB on every launch.
    from benchmarks.kernels import softmax

    x = jnp.zeros((64, 1024), jnp.float32)
    launch = softmax.on("jax")[(64, 64), (1, 64)]
    with jax.enable_x64(True):
        compiled = jax.jit(lambda x, o: launch(x, o, 64, 6)).lower(x, x).compile()
    assert compiled.memory_analysis().temp_size_in_bytes < x.nbytes // 4


def test_layernorm_variance_loop_is_not_written_to_memory():
    # `d = x[r, c] - mean; acc2 += d * d` only reduces: traced per iteration (widen._chunks), so
    # XLA fuses the squared deviations into the in-order sum instead of writing all of them out
    # and rereading them (one more array-sized pass: 6.5 instead of 4.5 array sizes of traffic)
    from benchmarks.kernels import layernorm

    x = jnp.zeros((64, 1024), jnp.float32)
    g = jnp.ones(1024, jnp.float32)
    launch = layernorm.on("jax")[(64, 64), (1, 64)]
    with jax.enable_x64(True):
        compiled = jax.jit(lambda x, g, b, o: launch(x, g, b, o, np.float32(1e-5), 64, 6)).lower(x, g, g, x).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    assert cost["bytes accessed"] < 5.5 * x.nbytes      # x read three times, out written once


def test_trace_size_of_a_widened_row_loop_does_not_grow_with_the_trip_count():
    def size(trip: int) -> int:
        x = np.zeros((2, trip * WG), np.float32)
        return n_equations(row_sum, _grid(2), x, np.zeros((2, WG), np.float32), np.float32(0), WG)

    assert size(200) == size(1000)


@pytest.mark.parametrize("dtype", ["float64"])
@pytest.mark.parametrize("name", ["add", "max-swapped", "min"])
def test_float64_tree_reduction_matches(name, dtype):
    x = _float_tree_input(32, name).astype(np.float64)
    run(_tree(TREES[name], dtype), (32, 16), x, np.zeros_like(x), 16, 4)


@pytest.mark.parametrize("name", ["add", "max"])
def test_tree_whose_loop_starts_at_one_and_whose_s_comes_from_a_runtime_value(name):
    text = f"""
    def tree_rt(x, out, half, WG: pk.constexpr, K: pk.constexpr):
        lid = pk.local_id(0)
        red = pk.local_array(WG, pk.float32)
        red[lid] = x[pk.global_id(0)]
        pk.barrier()
        for step in range(1, K + 1):
            s = (half * 2) >> step
            if lid < s:
                {TREES[name]}
            pk.barrier()
        out[pk.global_id(0)] = red[lid]
    """
    x = _float_tree_input(32, name)
    run(pk.kernel(make(text)), (32, 16), x, np.zeros_like(x), np.int64(8), 16, 4)


@pytest.mark.parametrize("name", ["max", "add", "min-swapped"])
def test_halving_tree_on_a_work_group_that_is_not_a_power_of_two_is_not_a_full_reduction(name):
    # W = 12: s = 6, 3, 1 never folds red[2] into red[0]; a whole-row reduction would
    x = _float_tree_input(24, name)
    x[[2, 14]] = 1e30 if not name.startswith("min") else -1e30
    out = run(_tree(TREES[name]), (24, 12), x, np.zeros_like(x), 12, 3)[0]
    assert abs(out[0]) < 1e29


def test_tree_prefix_values_after_the_loop_are_the_last_iterations():
    text = """
    def tree_s(x, out, WG: pk.constexpr, K: pk.constexpr):
        lid = pk.local_id(0)
        red = pk.local_array(WG, pk.float32)
        red[lid] = x[pk.global_id(0)]
        pk.barrier()
        s = 100
        t = 0
        for step in range(K):
            t = step * 10
            s = WG >> (step + 1)
            if lid < s:
                red[lid] = red[lid] + red[lid + s]
            pk.barrier()
        out[pk.global_id(0)] = red[lid] + s + t
    """
    x = _float_tree_input(32, "add")
    out = run(pk.kernel(make(text)), (32, 16), x, np.zeros_like(x), 16, 4)[0]
    assert out[15] == np.float32(x[15] + 1 + 30)


@pytest.mark.parametrize("name", ["add", "max", "min-swapped"])
def test_tree_with_a_descending_range_of_shifts(name):
    text = f"""
    def tree_desc(x, out, WG: pk.constexpr):
        lid = pk.local_id(0)
        red = pk.local_array(WG, pk.float32)
        red[lid] = x[pk.global_id(0)]
        pk.barrier()
        for s in range(WG // 2, 0, -1):
            if lid < s:
                {TREES[name]}
            pk.barrier()
        out[pk.global_id(0)] = red[lid]
    """
    x = _float_tree_input(32, name)
    kern = pk.kernel(make(text))
    run(kern, (32, 16), x, np.zeros_like(x), 16)
    assert not prims(kern, (32, 16), x, np.zeros_like(x), 16) & LOOPS


def test_grad_through_a_tree_sum_is_one_for_every_input():
    kern = _tree(TREES["add"])

    def loss(x):
        out = kern.on("jax")[32, 16](x, jnp.zeros_like(x), 16, 4)
        return out[0] * 2.0 + out[16] * 3.0           # red[0] of each group: the group sums

    g = np.asarray(jax.grad(loss)(jnp.asarray(kit.RNG.uniform(-1, 1, 32).astype(np.float32))))
    np.testing.assert_array_equal(g, np.repeat(np.array([2.0, 3.0], np.float32), 16))


def test_vmap_over_a_tree_and_widened_kernel_matches_per_example_numpy():
    xs = magnitudes((3, 4, 32))
    launch = softmax_exact.on("jax")[(4, 8), (1, 8)]
    res = np.asarray(jax.vmap(lambda x: launch(x, jnp.zeros_like(x), 8, 3))(jnp.asarray(xs)))
    for b in range(3):
        same_bits(softmax_exact.on("numpy")[(4, 8), (1, 8)](xs[b].copy(), np.zeros_like(xs[b]), 8, 3), res[b])


@pytest.mark.parametrize("dtype", ["uint32", "int64", "uint8"])
@pytest.mark.parametrize("update", ["red[lid] = red[lid] & red[lid + s]", "red[lid] = red[lid + s] | red[lid]",
                                    "red[lid] = min(red[lid], red[lid + s])", "red[lid] = red[lid] * red[lid + s]"])
def test_full_halving_integer_trees_of_every_order_free_op(update, dtype):
    ii = np.iinfo(dtype)
    x = kit.RNG.integers(ii.min, ii.max, 32, dtype=dtype, endpoint=True)
    x[:16] |= np.array(ii.max ^ 1, dtype) if ii.min == 0 else x[:16]
    kern = _tree(update, dtype)
    run(kern, (32, 16), x, np.zeros_like(x), 16, 4)
    assert not prims(kern, (32, 16), x, np.zeros_like(x), 16, 4) & LOOPS


def _fold_tree(fold: str, tree: str, dtype: str, after: str):
    text = f"""
    def fold_tree(x, out, init, WG: pk.constexpr, K: pk.constexpr):
        r = pk.global_id(0)
        lid = pk.local_id(1)
        red = pk.local_array(WG, pk.{dtype})
        a = init[0]
        for c in range(lid, x.shape[1], WG):
            {fold}
        red[lid] = a
        pk.barrier()
        for step in range(K):
            s = WG >> (step + 1)
            if lid < s:
                {tree}
            pk.barrier()
        {after}
    """
    return pk.kernel(kit.make(text))


_FOLD_TREES = {
    "max": ("a = max(a, x[r, c])", "red[lid] = max(red[lid], red[lid + s])"),
    "min-swapped": ("a = min(x[r, c], a)", "red[lid] = min(red[lid + s], red[lid])"),
}
_AFTER = {
    "only-red0": "out[r, lid] = red[0]",               # the per-lane fold is dead after the tree
    "every-column": "out[r, lid] = red[lid]",          # the tree's levels are read too
    "red0-and-lane": "out[r, lid] = red[0] + a * 0.5",  # and the lane's own fold
}


@pytest.mark.parametrize("after", list(_AFTER))
@pytest.mark.parametrize("name", list(_FOLD_TREES))
@pytest.mark.parametrize("init", [-np.inf, np.inf, np.nan, 0.0, -0.0, 1.5])
def test_widened_fold_feeding_a_full_tree_matches_bit_for_bit(name, after, init):
    # widened fold + full halving tree of the same order-free op: red[0] is computed as one
    # reduction of the loop's contributions (tree.py's _whole_groups), the rest as before
    fold, tree = _FOLD_TREES[name]
    kern = _fold_tree(fold, tree, "float32", _AFTER[after])
    x = kit.RNG.choice(np.array([0.0, -0.0, 1.0, -1.0, -np.inf, np.inf], np.float32), (6, 4 * 16))
    x[0] = kit.RNG.uniform(-3, 3, 64)
    x[1] = -0.0
    x[2] = 0.0
    x[3, 17] = np.nan
    run(kern, ((6, 16), (1, 16)), x, np.zeros((6, 16), np.float32), np.full(1, init, np.float32), 16, 4)


@pytest.mark.parametrize("dtype", ["int32", "uint32"])
@pytest.mark.parametrize("op", ["+", "|", "&", "max"])
def test_widened_integer_fold_feeding_a_full_tree_matches(dtype, op):
    # | & max: red[0] from one reduction of the contributions; +: init is in every lane's value
    # (counted once per lane), so the tree keeps reducing the per-lane folds
    f, t = ("a = max(a, x[r, c])", "red[lid] = max(red[lid], red[lid + s])") if op == "max" else \
        (f"a = a {op} x[r, c]", f"red[lid] = red[lid] {op} red[lid + s]")
    kern = _fold_tree(f, t, dtype, "out[r, lid] = red[0]")
    info = np.iinfo(dtype)
    x = kit.RNG.integers(info.min, info.max, (5, 8 * 16), dtype=dtype, endpoint=True)
    init = info.max if op == "&" else (info.min if op == "max" else 12345)
    run(kern, ((5, 16), (1, 16)), x, np.zeros((5, 16), dtype), np.full(1, init, dtype), 16, 4)


def test_softmax_row_max_is_one_reduction_over_each_row():
    from benchmarks.kernels import softmax

    x = np.zeros((8, 1024), np.float32)
    jaxpr = kit.jaxpr_of(softmax, ((8, 64), (1, 64)), x, np.zeros_like(x), 64, 6)
    axes = [e.params["dimensions"] for e in kit._walk(jaxpr) if e.primitive.name == "reduce"]
    assert (1, 3) in axes, axes     # (rows, iterations, groups per row, lanes): over both


@pk.kernel
def two_groups_per_row(x, out, init, N: pk.constexpr, K: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(16, pk.float32)
    a = init[0]
    for c in range(pk.global_id(1), x.shape[1], N):
        a = max(x[r, c], a)
    red[lid] = a
    pk.barrier()
    for step in range(K):
        s = 16 >> (step + 1)
        if lid < s:
            red[lid] = max(red[lid], red[lid + s])
        pk.barrier()
    out[r, pk.global_id(1)] = red[0]


def test_widened_fold_feeding_trees_of_several_work_groups_per_row_matches():
    x = kit.RNG.choice(np.array([0.0, -0.0, 2.0, -np.inf], np.float32), (4, 32 * 5))
    x[1, 40] = np.nan
    x[2, :] = -0.0
    x[2, 17] = 0.0                   # +0.0 in the second work-group of row 2 only
    run(two_groups_per_row, ((4, 32), (1, 16)), x, np.zeros((4, 32), np.float32), np.full(1, -np.inf, np.float32), 32, 4)
    jaxpr = kit.jaxpr_of(two_groups_per_row, ((4, 32), (1, 16)), x, np.zeros((4, 32), np.float32),
                         np.full(1, -np.inf, np.float32), 32, 4)
    assert (1, 3) in [e.params["dimensions"] for e in kit._walk(jaxpr) if e.primitive.name == "reduce"]
