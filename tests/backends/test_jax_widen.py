"""The jax lowering's widened loops (widen.py, reduce.py) and work-group tree reductions (tree.py)
give the numpy reference's bits exactly, on inputs where a wrong fold order or a wrong zero sign
would show, and keep their speed paths: no per-iteration loop, no gather or scatter, a traced size
that does not grow with the trip count. NaNs may differ only in payload (NUMERICS.md)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portakern as pk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("portakern_jax")

from tests.unit.frontend_kit import make  # noqa: E402  (kernels from source text)

RNG = np.random.default_rng(20261129)
LOOPS = {"while", "scan"}


# -- helpers ---------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _seeded_inputs(request):
    """Each test draws its inputs from its own seed, whatever else runs (reproducible with -k)."""
    global RNG
    RNG = np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def same_bits(ref, got) -> None:
    """Bit-for-bit equality, any NaN matching any NaN."""
    ref, got = np.asarray(ref), np.asarray(got)
    assert ref.dtype == got.dtype and ref.shape == got.shape, (ref.dtype, got.dtype, ref.shape, got.shape)
    if ref.dtype.kind == "f":
        nr, ng = np.isnan(ref), np.isnan(got)
        assert np.array_equal(nr, ng), (ref, got)
        iv = np.dtype(f"i{ref.dtype.itemsize}")
        ref, got = np.where(nr, 0, ref).astype(ref.dtype).view(iv), np.where(ng, 0, got).astype(got.dtype).view(iv)
    assert np.array_equal(ref, got), (ref, got)


def run(kern, grid, *args):
    """The kernel's results on numpy and on jax (fresh copies of the inputs), compared bit for bit;
    returns numpy's."""
    outs = []
    for backend in ("numpy", "jax"):
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        res = kern.on(backend)[grid](*a)
        outs.append(res if isinstance(res, tuple) else (res,))
    for r, g in zip(*outs, strict=True):
        same_bits(r, g)
    return outs[0]


def _walk(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for v in eqn.params.values():
            for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                inner = getattr(sub, "jaxpr", None)
                if inner is not None and hasattr(inner, "eqns"):
                    yield from _walk(inner)
                elif hasattr(sub, "eqns"):
                    yield from _walk(sub)


def jaxpr_of(kern, grid, *args):
    """The jaxpr of one jax launch, array arguments traced, the others fixed."""
    launch = kern.on("jax")[grid]
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]

    def f(*arrays):
        a = list(args)
        for i, v in zip(pos, arrays, strict=True):
            a[i] = v
        return launch(*a)

    with jax.enable_x64(True):
        return jax.make_jaxpr(f)(*[jnp.asarray(args[i]) for i in pos]).jaxpr


def prims(kern, grid, *args) -> set[str]:
    """The primitive names of a launch's jaxpr, nested bodies included."""
    return {e.primitive.name for e in _walk(jaxpr_of(kern, grid, *args))}


def n_equations(kern, grid, *args) -> int:
    return sum(1 for _ in _walk(jaxpr_of(kern, grid, *args)))


def magnitudes(shape, dtype=np.float32) -> np.ndarray:
    """Values whose float sum depends on the order: 1e8, -1e8, small ones and +-0."""
    pool = np.array([1e8, -1e8, 1.0, -1.0, 3.5, 1e-3, 0.0, -0.0, 7e7, -3e7], dtype)
    return RNG.choice(pool, shape).astype(dtype)


# -- row-loop reductions: per-lane partial results, so the fold order of every lane shows --------

@pk.kernel
def row_sum(x, out, init, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = init
    for c in range(lid, x.shape[1], WG):
        acc += x[r, c]
    out[r, lid] = acc


@pk.kernel
def row_prod(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = x[r, 0] * 0 + 1
    for c in range(lid, x.shape[1], WG):
        acc = x[r, c] * acc
    out[r, lid] = acc


@pk.kernel
def row_minmax(x, lo, hi, init, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    a = init[r]
    b = init[r]
    for c in range(lid, x.shape[1], WG):
        a = min(a, x[r, c])
        b = max(x[r, c], b)
    lo[r, lid] = a
    hi[r, lid] = b


@pk.kernel
def row_bits(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    a = ~(x[r, 0] ^ x[r, 0])
    o = x[r, 0] ^ x[r, 0]
    e = o
    lo = x[r, 0]
    hi = x[r, 0]
    s = o
    for c in range(lid, x.shape[1], WG):
        a &= x[r, c]
        o = x[r, c] | o
        e ^= x[r, c]
        lo = min(lo, x[r, c])
        hi = max(hi, x[r, c])
        s += x[r, c]
    out[r, lid, 0] = a
    out[r, lid, 1] = o
    out[r, lid, 2] = e
    out[r, lid, 3] = lo
    out[r, lid, 4] = hi
    out[r, lid, 5] = s


WG = 4


def _grid(rows: int):
    return (rows, WG), (1, WG)


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
    # rounding-sensitive factors; no subnormal can arise (XLA on the CPU flushes them, NUMERICS.md)
    x = RNG.choice(np.array([3.0, 1 / 3, 1.1, 0.9, -1.5, 0.7, 1 / 7], np.float32), (2, trip * WG))
    run(row_prod, _grid(2), x, np.zeros((2, WG), np.float32), WG)


ZEROS = np.array([0.0, -0.0], np.float32)


@pytest.mark.parametrize("trip", [1, 16, 65])
@pytest.mark.parametrize("init", [0.0, -0.0, np.inf, -np.inf, np.nan])
def test_min_max_of_signed_zeros_give_the_reference_zero(trip, init):
    x = RNG.choice(ZEROS, (6, trip * WG))
    x[0] = 0.0
    x[1] = -0.0
    lo, hi = run(row_minmax, _grid(6), x, np.zeros((6, WG), np.float32), np.zeros((6, WG), np.float32),
                 np.full(6, init, np.float32), WG)
    if init == np.inf:                        # sanity: the reference is what NUMERICS.md says
        assert np.signbit(lo[1]).all() and not np.signbit(hi[0]).any()


def test_min_max_with_a_nan_in_one_iteration_and_all_minus_infinity():
    x = RNG.uniform(-5, 5, (4, 16 * WG)).astype(np.float32)
    x[0, 7] = np.nan
    x[1, :] = -np.inf
    x[2, 2 * WG + 1] = np.nan
    x[2, 5 * WG + 1] = -0.0
    x[3, :] = np.where(x[3] > 0, 0.0, -0.0)
    lo, hi = run(row_minmax, _grid(4), x, np.zeros((4, WG), np.float32), np.zeros((4, WG), np.float32),
                 np.full(4, -np.inf, np.float32), WG)
    assert np.isnan(lo[0, 3]) and np.isnan(hi[2, 1]) and (hi[1] == -np.inf).all()


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("trip", [1, 16, 65])
def test_integer_reductions_wrap_and_match(dtype, trip):
    ii = np.iinfo(dtype)
    x = RNG.integers(ii.min, ii.max, (3, trip * WG), dtype=dtype, endpoint=True)
    x[0, :] = ii.max                           # a sum that wraps many times
    run(row_bits, _grid(3), x, np.zeros((3, WG, 6), dtype), WG)


def test_unsigned_and_reduction_in_a_widened_loop_starts_from_all_ones():
    x = RNG.integers(0, 2**32, (3, 4 * WG), dtype=np.uint32)
    run(row_bits, _grid(3), x, np.zeros((3, WG, 6), np.uint32), WG)


# -- widened bodies: locals, conditionals, stores, masks, local arrays --------------------------

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
def last_values(x, out, lastc, laste, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    e = pk.float32(-1.0)
    c = lid - 100
    for c in range(lid, x.shape[1], WG):
        e = x[r, c] * 2.0
        out[r, c] = e
    lastc[r, lid] = c
    laste[r, lid] = e


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
def masked_sum(x, out, k: pk.int64, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        if c < k:
            acc += x[r, c]
    out[r, lid] = acc


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
    x = RNG.uniform(-3, 3, (2, cols)).astype(np.float32)
    _, lastc, laste = run(last_values, _grid(2), x, np.zeros_like(x), np.zeros((2, WG), np.int64),
                          np.zeros((2, WG), np.float32), WG)
    lid = np.arange(WG)
    want_c = lid + ((cols - 1 - lid) // WG) * WG
    assert (lastc == want_c).all()


@pytest.mark.parametrize("cols", [3 + WG, 3 + 16 * WG, 3 + 65 * WG, 3 + 5 * WG + 1])
def test_load_then_store_of_one_element_with_an_offset_start(cols):
    x = RNG.uniform(-3, 3, (3, cols)).astype(np.float32)
    (out,) = run(scale_offset, _grid(3), x, np.float32(1.5), WG)
    assert (out[:, :3] == x[:, :3]).all()


def test_offset_start_row_loop_widens_without_gather_scatter_or_loop():
    x = np.ones((3, 3 + 16 * WG), np.float32)
    p = prims(scale_offset, _grid(3), x, np.float32(1.5), WG)
    assert not p & (LOOPS | {"gather", "scatter"}), p


@pytest.mark.parametrize("trip", [1, 16, 65, 200])
def test_grid_stride_loop_matches_and_widens(trip):
    x = RNG.uniform(-3, 3, 8 * trip).astype(np.float32)
    run(grid_stride, 8, x, np.zeros_like(x))
    assert not prims(grid_stride, 8, x, np.zeros_like(x)) & (LOOPS | {"gather", "scatter"})


@pytest.mark.parametrize("k", [0, 5, 17, 64])
def test_masked_loads_inside_a_widened_body(k):
    x = magnitudes((3, 16 * WG))
    run(masked_sum, _grid(3), x, np.zeros((3, WG), np.float32), np.int64(k), WG)


def test_loads_from_a_local_array_inside_a_widened_body():
    x = RNG.uniform(-3, 3, (3, 16 * WG)).astype(np.float32)
    w = np.array([0.5, -2.0, 3.25, 1e-3], np.float32)
    args = (x, w, np.zeros_like(x), WG)
    run(local_scale, _grid(3), *args)
    assert not prims(local_scale, _grid(3), *args) & LOOPS


def test_widened_loop_nested_in_a_uniform_loop():
    x = magnitudes((3, 16 * WG))
    run(nested_sum, _grid(3), x, np.zeros((3, WG), np.float32), WG)


def test_loop_with_a_carried_dependency_still_lowers_to_a_loop():
    x = RNG.uniform(-3, 3, (2, 16 * WG)).astype(np.float32)
    args = (x, np.zeros((2, WG), np.float32), WG)
    run(carried_dependency, _grid(2), *args)
    assert prims(carried_dependency, _grid(2), *args) & LOOPS


# -- work-group tree reductions ---------------------------------------------------------------------

def tree_kernel(update: str, dtype: str = "float32", s: str = "WG >> (step + 1)"):
    text = f"""
    def tree(x, out, WG: pk.constexpr, K: pk.constexpr):
        lid = pk.local_id(0)
        red = pk.local_array(WG, pk.{dtype})
        red[lid] = x[pk.global_id(0)]
        pk.barrier()
        for step in range(K):
            s = {s}
            if lid < s:
                {update}
            pk.barrier()
        out[pk.global_id(0)] = red[lid]
    """
    return pk.kernel(make(text))


TREES = {
    "max": "red[lid] = max(red[lid], red[lid + s])",
    "max-swapped": "red[lid] = max(red[lid + s], red[lid])",
    "min": "red[lid] = min(red[lid], red[lid + s])",
    "min-swapped": "red[lid] = min(red[lid + s], red[lid])",
    "add": "red[lid] = red[lid] + red[lid + s]",
    "add-swapped": "red[lid] = red[lid + s] + red[lid]",
    "mul": "red[lid] = red[lid] * red[lid + s]",
    "mul-swapped": "red[lid] = red[lid + s] * red[lid]",
}
_KERNELS: dict = {}


def _tree(update: str, dtype: str = "float32", s: str = "WG >> (step + 1)"):
    key = (update, dtype, s)
    if key not in _KERNELS:
        _KERNELS[key] = tree_kernel(update, dtype, s)
    return _KERNELS[key]


def _float_tree_input(n: int, name: str) -> np.ndarray:
    if name.startswith(("max", "min")):
        x = RNG.choice(np.array([0.0, -0.0, -np.inf, 1.0, -1.0], np.float32), n)
        x[: n // 2] = RNG.choice(ZEROS, n // 2)         # some groups of zeros only
        x[-3] = np.nan
        return x
    if name.startswith("mul"):
        return RNG.choice(np.array([3.0, 1 / 3, 1e20, 1.1, -1.0, 0.7, -0.0], np.float32), n)   # no subnormals
    x = magnitudes(n)
    x[5] = np.nan
    return x


@pytest.mark.parametrize("W, K", [(8, 3), (16, 4), (64, 6)])
@pytest.mark.parametrize("name", list(TREES))
def test_float_tree_reduction_matches_bit_for_bit(name, W, K):
    x = _float_tree_input(3 * W, name)
    run(_tree(TREES[name]), (3 * W, W), x, np.zeros_like(x), W, K)


@pytest.mark.parametrize("W, K", [(8, 3), (16, 4), (64, 6)])
@pytest.mark.parametrize("update", ["red[lid] = red[lid] + red[lid + s]", "red[lid] = red[lid + s] ^ red[lid]",
                                    "red[lid] = max(red[lid], red[lid + s])"])
def test_integer_tree_reduction_matches(update, W, K):
    x = RNG.integers(-2**31, 2**31, 2 * W, dtype=np.int32)
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
    """NUMERICS.md's max: NaN-propagating, -0.0 < +0.0 (np.maximum leaves the zero's sign open)."""
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


# -- the softmax kernel: the speed paths ----------------------------------------------------------

@pk.kernel
def softmax_exact(x, out, WG: pk.constexpr, LOG_WG: pk.constexpr):
    # benchmarks.kernels.softmax with exp (a few ulp apart between libms) replaced by an exact
    # subtraction and a square: every other step (widened max, tree max, widened sum with locals
    # and a store, tree sum, division, load-then-store) must give the reference's bits
    r = pk.global_id(0)
    lid = pk.local_id(1)
    cols = x.shape[1]
    red = pk.local_array(WG, pk.float32)
    m = pk.float32(-3.0e38)
    for c in range(lid, cols, WG):
        m = max(m, x[r, c])
    red[lid] = m
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = max(red[lid], red[lid + s])
        pk.barrier()
    m = red[0]
    pk.barrier()
    acc = pk.float32(0.0)
    for c in range(lid, cols, WG):
        e = (x[r, c] - m) * (x[r, c] - m)
        out[r, c] = e
        acc += e
    red[lid] = acc
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    inv = 1.0 / red[0]
    for c in range(lid, cols, WG):
        out[r, c] = out[r, c] * inv


def test_softmax_shaped_kernel_with_exact_ops_matches_bit_for_bit():
    x = magnitudes((6, 64))
    x[1] = RNG.uniform(-4, 4, 64).astype(np.float32)
    x[2, 5] = np.nan
    run(softmax_exact, ((6, 8), (1, 8)), x, np.zeros_like(x), 8, 3)


def test_softmax_matches_the_reference_and_has_no_loop_gather_or_scatter():
    from benchmarks.kernels import softmax

    x = RNG.uniform(-4, 4, (6, 64)).astype(np.float32)
    x[2, 5] = 30.0
    args = (x, np.zeros_like(x), 8, 3)
    ref = softmax.on("numpy")[(6, 8), (1, 8)](*args)
    got = np.asarray(softmax.on("jax")[(6, 8), (1, 8)](*args))
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=0)     # exp: a few ulp (NUMERICS.md)
    p = prims(softmax, ((6, 8), (1, 8)), *args)
    assert not p & (LOOPS | {"gather", "scatter", "scatter-add"}), p


def test_trace_size_of_a_widened_row_loop_does_not_grow_with_the_trip_count():
    def size(trip: int) -> int:
        x = np.zeros((2, trip * WG), np.float32)
        return n_equations(row_sum, _grid(2), x, np.zeros((2, WG), np.float32), np.float32(0), WG)

    assert size(200) == size(1000)


# -- composition -----------------------------------------------------------------------------------

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
    x0 = RNG.uniform(-1, 1, (2, trip * WG)).astype(np.float32)
    wts = np.arange(1, 2 * WG + 1, dtype=np.float32).reshape(2, WG)

    def loss(x):
        out = row_total.on("jax")[_grid(2)](x, jnp.zeros((2, WG), x.dtype), WG)
        return jnp.sum(out * wts)

    g = np.asarray(jax.grad(loss)(jnp.asarray(x0)))
    loss = jax.jit(loss)                     # one trace for the finite differences
    lane = np.arange(trip * WG) % WG
    np.testing.assert_allclose(g, 2 * x0 * wts[:, lane], rtol=1e-6)
    eps = 1e-2
    picks = [np.unravel_index(i, x0.shape) for i in RNG.choice(x0.size, 8, replace=False)]
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


# -- more widened bodies: other layouts, masks, types ---------------------------------------------

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
    x = RNG.uniform(-2, 2, (3, trip * WG)).astype(np.float32)
    y = RNG.uniform(-2, 2, (3, trip * WG)).astype(np.float32)
    run(fused_sum, _grid(3), x, y, np.zeros((3, WG), np.float32), WG)


@pytest.mark.parametrize("rows", [4, 16 * 4, 65 * 4])
def test_loop_along_the_first_grid_dimension_of_a_2d_grid(rows):
    x = magnitudes((rows, 3))
    run(column_loop, (4, 3), x, np.zeros_like(x))


def test_transposed_accesses_in_a_widened_body():
    x = magnitudes((16 * WG, 3))
    run(transposed, _grid(3), x, np.zeros_like(x), WG)


def test_masked_store_in_a_widened_body_keeps_the_other_elements():
    x = RNG.uniform(-2, 2, (3, 16 * WG)).astype(np.float32)
    out = np.full_like(x, 7.0)
    run(masked_store, _grid(3), x, out, WG)


@pytest.mark.parametrize("init", [0.0, -0.0])
def test_row_loop_under_a_lane_varying_if(init):
    x = magnitudes((4, 16 * WG))
    run(loop_under_if, _grid(4), x, np.zeros((4, WG), np.float32), np.float32(init), WG)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64])
def test_integer_products_wrap(dtype):
    ii = np.iinfo(dtype)
    x = RNG.integers(ii.min, ii.max, (3, 16 * WG), dtype=dtype, endpoint=True) | 1
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
    x = RNG.integers(ii.min, ii.max, (3, 16 * WG), dtype=dtype, endpoint=True)
    run(row_mix, _grid(3), x, np.zeros((3, WG, 5), dtype), WG)


def test_local_reassigned_under_an_if_keeps_the_last_iteration_value():
    x = RNG.uniform(-2, 2, (3, 16 * WG)).astype(np.float32)
    run(last_conditional, _grid(3), x, np.zeros((3, WG), np.float32), WG)


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
    x = RNG.uniform(-3, 3, (3, 16 * WG)).astype(np.float32)
    w = np.array([0.5, -2.0, 3.25, 1e-3], np.float32)
    args = (x, w, np.zeros_like(x), WG)
    run(local_and_private_reads, _grid(3), *args)
    assert not prims(local_and_private_reads, _grid(3), *args) & LOOPS


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


@pytest.mark.parametrize("trip", [16, 65])
def test_widened_loops_run_without_a_per_iteration_loop(trip):
    x = RNG.uniform(-3, 3, (3, trip * WG)).astype(np.float32)
    xi = RNG.integers(-9, 9, (3, trip * WG)).astype(np.int32)
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
    x = RNG.choice(ZEROS, (2, cols)) if fill == "mixed" else np.full((2, cols), ZEROS[int(fill == "minus")])
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
    w = RNG.uniform(-2, 2, 1 + trip * WG).astype(np.float32)
    v = RNG.uniform(-2, 2, 3).astype(np.float32)
    run(broadcast_loads, _grid(3), x, w, v, np.zeros_like(x), np.zeros((3, WG), np.float32), WG)


@pytest.mark.parametrize("n", [3, 3 * 16, 3 * 65, 3 * 5 + 1])
def test_loop_along_the_middle_dimension_of_a_3d_grid(n):
    x = magnitudes((2, n, 4))
    run(grid3_middle, (2, 3, 4), x, np.zeros_like(x))


@pytest.mark.parametrize("n", [4, 4 * 16, 4 * 65])
def test_loop_along_the_last_dimension_of_a_3d_grid(n):
    x = RNG.choice(np.array([0.0, -0.0, 1.0, -np.inf, np.nan], np.float32), (2, 3, n))
    run(grid3_last, ((2, 3, 4), (1, 1, 4)), x, np.zeros_like(x), 4)


def test_debug_launch_steps_with_bounds_checks_and_gives_the_same_bits():
    kern = pk.kernel(debug=True)(make('''
    def row_sum_debug(x, out, init, WG: pk.constexpr):
        r = pk.global_id(0)
        lid = pk.local_id(1)
        acc = init
        for c in range(lid, x.shape[1], WG):
            acc += x[r, c]
        out[r, lid] = acc
    '''))
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

    g = np.asarray(jax.grad(loss)(jnp.asarray(RNG.uniform(-1, 1, 32).astype(np.float32))))
    np.testing.assert_array_equal(g, np.repeat(np.array([2.0, 3.0], np.float32), 16))


def test_vmap_over_a_tree_and_widened_kernel_matches_per_example_numpy():
    xs = magnitudes((3, 4, 32))
    launch = softmax_exact.on("jax")[(4, 8), (1, 8)]
    res = np.asarray(jax.vmap(lambda x: launch(x, jnp.zeros_like(x), 8, 3))(jnp.asarray(xs)))
    for b in range(3):
        same_bits(softmax_exact.on("numpy")[(4, 8), (1, 8)](xs[b].copy(), np.zeros_like(xs[b]), 8, 3), res[b])


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
    x = RNG.integers(-2**31, 2**31, (3, trip * WG), dtype=np.int32) | 1
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
    x = RNG.uniform(-2, 2, (3, trip * WG)).astype(dtype)
    y = RNG.uniform(-2, 2, (3, trip * WG)).astype(dtype)
    run(multiply_adds, _grid(3), x, y, np.zeros_like(x), np.zeros((3, WG), dtype), dtype(1.1), WG)


@pytest.mark.parametrize("dtype", ["uint32", "int64", "uint8"])
@pytest.mark.parametrize("update", ["red[lid] = red[lid] & red[lid + s]", "red[lid] = red[lid + s] | red[lid]",
                                    "red[lid] = min(red[lid], red[lid + s])", "red[lid] = red[lid] * red[lid + s]"])
def test_full_halving_integer_trees_of_every_order_free_op(update, dtype):
    ii = np.iinfo(dtype)
    x = RNG.integers(ii.min, ii.max, 32, dtype=dtype, endpoint=True)
    x[:16] |= np.array(ii.max ^ 1, dtype) if ii.min == 0 else x[:16]
    kern = _tree(update, dtype)
    run(kern, (32, 16), x, np.zeros_like(x), 16, 4)
    assert not prims(kern, (32, 16), x, np.zeros_like(x), 16, 4) & LOOPS
