"""The jax lowering of accesses whose indices are affine in the ids (codegen/affine.py, views.py):
the suite kernels and adversarial shapes give numpy's bits, and the accesses the analysis covers
compile to slices, reshapes and transposes, not gathers or scatters."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

jax = pytest.importorskip("jax")
pytest.importorskip("portakern_jax")

from benchmarks import cases as C  # noqa: E402
from benchmarks import kernels as K  # noqa: E402
from tests.backends.jax_widen_kit import prims, run  # noqa: E402

SUITE = ["saxpy", "triad", "reduce_sum", "softmax", "layernorm", "jacobi2d", "histogram", "transpose",
         "matmul", "black_scholes", "mandelbrot"]
SIZES = {"saxpy": 1000, "triad": 1000, "reduce_sum": 5000, "softmax": 24, "layernorm": 24, "jacobi2d": 37,
         "histogram": 1000, "transpose": 48, "matmul": 48, "black_scholes": 1000, "mandelbrot": 40}


def _suite_args(name: str, n: int) -> tuple[tuple, tuple]:
    case = C.BY_NAME[name]
    d = case.make(n, np.random.default_rng(7))
    grid, wg = case.grid(n)
    args = [d[p] for p in case.params] + list(case.constexprs(n).values())
    return (grid if wg is None else (grid, wg)), tuple(args)


#: kernels calling tier-1 math (exp, log, rsqrt): a few ulps apart, amplified by black-scholes'
#: cancellations (the suite's tolerance), not the same bits
TIER1 = {"softmax", "layernorm", "black_scholes"}


@pytest.mark.parametrize("name", sorted(set(SUITE) - TIER1))
def test_suite_kernel_matches_numpy_bit_for_bit(name):
    grid, args = _suite_args(name, SIZES[name])
    run(getattr(K, name), grid, *args)


@pytest.mark.parametrize("name", sorted(TIER1))
def test_tier1_suite_kernel_matches_numpy_within_ulps(name):
    grid, args = _suite_args(name, SIZES[name])
    outs = []
    for backend in ("numpy", "jax"):
        res = getattr(K, name).on(backend)[grid](*[x.copy() if isinstance(x, np.ndarray) else x for x in args])
        outs.append([np.asarray(r) for r in (res if isinstance(res, tuple) else (res,))])
    for want, got in zip(*outs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_reduce_sum_partial_sums_are_strided_views():
    # x[grp * WG * PER + lid + k * WG]: one strided slice per k, not a gather; the partial store
    # under ``lid == 0`` is one lane per group, not a scatter over every lane
    grid, args = _suite_args("reduce_sum", 3 * C.RED_WG * C.RED_PER_ITEM)
    run(K.reduce_sum, grid, *args)
    p = prims(K.reduce_sum, grid, *args)
    assert "gather" not in p and "scatter" not in p and "scatter-add" not in p


@pytest.mark.parametrize("n", [16, 48])
def test_transpose_is_a_permutation_not_a_gather(n):
    grid, args = _suite_args("transpose", n)
    out = run(K.transpose, grid, *args)[0]
    np.testing.assert_array_equal(out, args[0].T)
    p = prims(K.transpose, grid, *args)
    assert "gather" not in p and "scatter" not in p


def test_matmul_tiles_are_views():
    grid, args = _suite_args("matmul", 32)
    run(K.matmul, grid, *args)
    p = prims(K.matmul, grid, *args)
    assert "gather" not in p and "scatter" not in p


@pk.kernel
def strided(x, out, S: pk.constexpr, OFF: pk.constexpr):
    # a store every S elements from OFF; a masked load reaching one element before the array
    i = pk.global_id(0)
    v = x[i]
    if i > 0:
        v += x[i - 1]
    out[i * S + OFF] = v


@pytest.mark.parametrize("S, OFF", [(1, 0), (2, 1), (3, 2)])
def test_strided_store_and_halo_load_match(S, OFF):
    n = 20
    x = np.arange(1, n + 1, dtype=np.float32)
    out = np.full(n * S + OFF, -1.0, np.float32)
    got = run(strided, (n,), x, out, S, OFF)[0]
    want = np.full_like(out, -1.0)
    want[OFF::S][:n] = np.concatenate([[0.0], x[:-1]]) + x
    np.testing.assert_array_equal(got, want)


@pk.kernel
def last_lane(x, out, WG: pk.constexpr):
    # every lane of a group stores to the group's element: the last active lane's value stays
    g = pk.group_id(0)
    lid = pk.local_id(0)
    if lid % 3 != 2:
        out[g] = x[g * WG + lid]


def test_racing_stores_keep_the_last_active_lane():
    x = np.arange(64, dtype=np.float32)
    out = np.zeros(8, np.float32)
    got = run(last_lane, ((64,), (8,)), x, out, 8)[0]
    np.testing.assert_array_equal(got, x.reshape(8, 8)[:, 7 if 7 % 3 != 2 else 6])


@pk.kernel
def loop_window(x, out, T: pk.constexpr):
    # the loop variable is a uniform offset: an unrolled loop of static slices
    i = pk.global_id(0)
    acc = pk.float32(0.0)
    for k in range(T):
        acc += x[i + k]
    out[i] = acc


@pytest.mark.parametrize("T", [3, 40])          # unrolled; a fori_loop past the unroll limit
def test_uniform_loop_offsets_match(T):
    x = np.random.default_rng(1).standard_normal(100).astype(np.float32)
    run(loop_window, (60,), x, np.zeros(60, np.float32), T)


@pk.kernel
def fresh_in_while(x, out, keep):
    # t is fresh in every iteration and dead after the loop (not carried); u is read after it
    i = pk.global_id(0)
    z = x[i]
    n = 0
    u = pk.float32(0.0)
    while n < 6 and z < 50.0:
        t = z * z + 1.0
        if t > 30.0:
            u = t
            break
        z = t - z
        n += 1
    out[i] = z
    keep[i] = u + pk.float32(n)


def test_iteration_local_while_variables_match_and_are_not_carried():
    x = np.linspace(-4, 4, 64).astype(np.float32)
    run(fresh_in_while, (64,), x, np.zeros(64, np.float32), np.zeros(64, np.float32))
    src = fresh_in_while.on("jax").source(x, np.zeros(64, np.float32), np.zeros(64, np.float32), ndrange=64)
    carried = [line for line in src.splitlines() if "= _st" in line]
    assert carried and all("v_t" not in line and "v_u" in line for line in carried)


@pk.kernel
def reversed_tile(x, out, T: pk.constexpr):
    # a tile read back reversed: forwarded only where the work-group is the whole tile
    g = pk.group_id(0)
    lid = pk.local_id(0)
    tile = pk.local_array(T, pk.float32)
    tile[lid] = x[g * T + lid] * 2.0
    pk.barrier()
    out[g * T + lid] = tile[T - 1 - lid]


@pytest.mark.parametrize("W", [8, 4])        # 4: the read reaches elements no work-item stored
def test_tile_reads_match_with_and_without_forwarding(W):
    x = np.arange(32, dtype=np.float32)
    run(reversed_tile, ((4 * W,), (W,)), x, np.zeros(32, np.float32), 8)     # four work-groups


@pk.kernel
def reverse_rows(x, out):
    # negative coefficients: a row read backwards, a column written backwards
    i = pk.global_id(0)
    j = pk.global_id(1)
    out[x.shape[0] - 1 - i, j] = x[i, x.shape[1] - 1 - j] + x[i, j]


def test_reversed_accesses_are_reversed_views():
    x = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)
    out = run(reverse_rows, (6, 8), x, np.zeros((6, 8), np.float32))[0]
    np.testing.assert_array_equal(out, (x[:, ::-1] + x)[::-1])
    p = prims(reverse_rows, (6, 8), x, np.zeros((6, 8), np.float32))
    assert "gather" not in p and "scatter" not in p and "rev" in p
