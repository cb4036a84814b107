"""Sub-group operations on every backend: queries, shuffles (CUDA's out-of-range rules), the fixed
tree order of reductions, any/all, multi-dimensional work-groups, and the launch rules.

Expected values are written here with plain NumPy from docs/semantics.md, "Sub-groups"."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.errors import CompileError, LaunchError
from tests.backends.conftest import SWEEP

SG = 32
N, WG = 128, 64


def _lane_ids(n: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n)
    return i % SG, i - i % SG        # lane, the first work-item of its sub-group (1-D launches)


def tree_reduce(values: np.ndarray, op) -> np.ndarray:
    """docs/semantics.md's order: r[i] = op(r[i], r[i + h]) for h = 16, 8, 4, 2, 1, per sub-group."""
    r = values.reshape(-1, SG).copy()
    h = SG // 2
    while h:
        r = op(r[:, :h], r[:, h:2 * h])
        h //= 2
    return np.repeat(r[:, 0], SG)


@pk.kernel
def queries(out):
    i = pk.global_id(0)
    out[0, i] = pk.subgroup_size()
    out[1, i] = pk.subgroup_local_id()
    out[2, i] = pk.subgroup_id()
    out[3, i] = pk.num_subgroups()


def test_queries_split_the_work_group_in_local_id_order(backend, run):
    out = np.zeros((4, N), np.int64)
    run(queries, backend, N, WG, out)
    got = out
    i = np.arange(N)
    np.testing.assert_array_equal(got, [np.full(N, SG), i % SG, (i % WG) // SG, np.full(N, WG // SG)])


@pk.kernel
def shuffles(x, src, out):
    i = pk.global_id(0)
    v = x[i]
    s = src[i]
    out[0, i] = pk.subgroup_shuffle(v, s)
    out[1, i] = pk.subgroup_shuffle_up(v, s)
    out[2, i] = pk.subgroup_shuffle_down(v, s)
    out[3, i] = pk.subgroup_shuffle_xor(v, s)


@pytest.mark.parametrize("dtype", ["int8", "float64", *map(SWEEP, ["int32", "uint64", "float32"])])
def test_shuffles_follow_cuda_lane_rules(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    rng = np.random.default_rng(1)
    x = rng.integers(-100, 100, N).astype(dtype)
    # lane arguments in and out of 0..31, negative ones too: only the low 5 bits count
    src = rng.integers(-40, 70, N).astype(np.int64)
    src[:8] = [0, 1, 31, 32, 33, -1, 16, 5]
    out = np.zeros((4, N), dtype)
    run(shuffles, backend, N, WG, x, src, out)
    got = out
    lane, base = _lane_ids(N)
    d = src & 31
    up, down = lane - d, lane + d
    want = [x[base + d], np.where(up >= 0, x[base + np.maximum(up, 0)], x),
            np.where(down < SG, x[base + np.minimum(down, SG - 1)], x), x[base + (lane ^ d)]]
    np.testing.assert_array_equal(got, np.array(want, dtype))


@pk.kernel
def reductions(x, out):
    i = pk.global_id(0)
    v = x[i]
    out[0, i] = pk.subgroup_reduce_add(v)
    out[1, i] = pk.subgroup_reduce_min(v)
    out[2, i] = pk.subgroup_reduce_max(v)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_reductions_use_the_fixed_tree_order(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    rng = np.random.default_rng(2)
    # mixed magnitudes: a sum in another order gives other bits
    x = (rng.standard_normal(N) * 10.0 ** rng.integers(-4, 9, N)).astype(dtype)
    x[5] = -0.0
    out = np.zeros((3, N), dtype)
    run(reductions, backend, N, WG, x, out)
    got = out
    want = tree_reduce(x, np.add)
    np.testing.assert_array_equal(got[0].view(f"u{x.itemsize}"), want.view(f"u{x.itemsize}"))
    np.testing.assert_array_equal(got[1], tree_reduce(x, np.minimum))
    np.testing.assert_array_equal(got[2], tree_reduce(x, np.maximum))


def test_the_tree_order_differs_from_a_left_to_right_sum():
    # the data of the test above tells the documented order from the naive one
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(N) * 10.0 ** rng.integers(-4, 9, N)).astype(np.float32)
    left = []
    for g in x.reshape(-1, SG):
        acc = np.float32(0)
        for v in g:
            acc = np.float32(acc + v)
        left.append(acc)
    naive = np.repeat(np.array(left, np.float32), SG)
    assert not np.array_equal(naive, tree_reduce(x, np.add))


@pytest.mark.parametrize("dtype", ["int8", "uint32", *map(SWEEP, ["int32", "int64"])])
def test_integer_reductions_wrap(backend, run, dtype):
    info = np.iinfo(dtype)
    x = np.random.default_rng(3).integers(info.min, info.max, N, dtype=dtype, endpoint=True)
    x[:4] = [info.max, info.max, info.min, info.min]
    out = np.zeros((3, N), dtype)
    run(reductions, backend, N, WG, x, out)
    got = out
    sums = x.reshape(-1, SG).astype(object).sum(axis=1)
    wrapped = np.array([(s - info.min) % (1 << (8 * x.itemsize)) + info.min for s in sums]).astype(dtype)
    np.testing.assert_array_equal(got[0], np.repeat(wrapped, SG))
    np.testing.assert_array_equal(got[1], np.repeat(x.reshape(-1, SG).min(axis=1), SG))
    np.testing.assert_array_equal(got[2], np.repeat(x.reshape(-1, SG).max(axis=1), SG))


@pk.kernel
def votes(x, out):
    i = pk.global_id(0)
    out[0, i] = pk.subgroup_any(x[i] > 0)
    out[1, i] = pk.subgroup_all(x[i] > 0)
    out[2, i] = pk.subgroup_shuffle_xor(x[i] > 0, 1)


def test_any_and_all(backend, run):
    x = np.ones(N, np.int32)
    x[:SG] = 0                  # sub-group 0: none
    x[SG + 3] = 0               # sub-group 1: some
    out = np.zeros((3, N), np.bool_)
    run(votes, backend, N, WG, x, out)
    got = out
    np.testing.assert_array_equal(got[0], np.repeat([False, True, True, True], SG))
    np.testing.assert_array_equal(got[1], np.repeat([False, False, True, True], SG))
    lane, base = _lane_ids(N)
    np.testing.assert_array_equal(got[2], (x > 0)[base + (lane ^ 1)])


@pk.kernel
def rotate_2d(x, out):
    r = pk.global_id(0)
    c = pk.global_id(1)
    out[r, c] = pk.subgroup_shuffle(x[r, c], pk.subgroup_local_id() + 1) + pk.subgroup_reduce_max(x[r, c])


def test_two_dimensional_work_groups_split_in_local_linear_order(backend, run):
    # workgroup (4, 16): a sub-group is two rows of 16 of one work-group
    x = np.arange(8 * 32, dtype=np.int32).reshape(8, 32)
    x = (x * 7919) % 1000
    out = np.zeros_like(x)
    run(rotate_2d, backend, (8, 32), (4, 16), x, out)
    got = out
    want = np.zeros_like(x)
    for g0 in range(2):
        for g1 in range(2):
            block = x[4 * g0:4 * g0 + 4, 16 * g1:16 * g1 + 16].reshape(-1)    # local linear order
            sgs = block.reshape(-1, SG)
            res_block = np.roll(sgs, -1, axis=1) + sgs.max(axis=1, keepdims=True)
            want[4 * g0:4 * g0 + 4, 16 * g1:16 * g1 + 16] = res_block.reshape(4, 16)
    np.testing.assert_array_equal(got, want)


@pk.kernel
def in_loop(x, out):
    i = pk.global_id(0)
    v = x[i]
    offset = 16
    while offset > 0:
        v += pk.subgroup_shuffle_down(v, offset)
        offset //= 2
    if pk.group_id(0) == 1:            # uniform across the work-group
        v = pk.subgroup_reduce_min(v)
    out[i] = v


def test_shuffle_down_sum_in_a_loop_and_in_a_uniform_branch(backend, run):
    x = np.arange(N, dtype=np.int64) * 3 - 50
    out = np.zeros(N, np.int64)
    run(in_loop, backend, N, WG, x, out)
    got = out
    lane, base = _lane_ids(N)
    v = x.copy()
    for off in (16, 8, 4, 2, 1):
        s = lane + off
        v = v + np.where(s < SG, v[base + np.minimum(s, SG - 1)], v)
    group1 = (np.arange(N) // WG) == 1
    v[group1] = np.repeat(v[group1].reshape(-1, SG).min(axis=1), SG)
    np.testing.assert_array_equal(got, v)


def test_workgroup_must_be_a_multiple_of_the_subgroup_size(backend, run):
    x = np.zeros(N, np.float32)
    out = np.zeros((3, N), np.float32)
    if backend in ("cuda", "numba-cuda"):
        from tests.backends.conftest import availability
        if not availability(backend)[0]:
            pytest.skip("launch rules are checked before a device is needed, but cuda has none here")
    with pytest.raises(LaunchError, match=r"kernel 'reductions'.*multiple of the sub-group size 32"):
        run(reductions, backend, 96, 48, x, out)
    with pytest.raises(LaunchError, match=r"kernel 'reductions' uses sub-group operations, so it needs an "
                                          r"explicit workgroup"):
        run(reductions, backend, N, None, x, out)


@pk.kernel
def reduce_bool(x, out):
    out[0] = pk.subgroup_reduce_add(x[pk.global_id(0)] > 0)


def test_reducing_a_bool_is_a_compile_error():
    with pytest.raises(CompileError, match=r"(?s)subgroup_reduce_add\(\) of a bool.*subgroup_any"):
        reduce_bool.ir(np.zeros(N, np.int32), np.zeros(1, np.int32), ndrange=(N,))


@pk.kernel
def divergent(x, out):
    i = pk.global_id(0)
    if i < 40:
        out[i] = pk.subgroup_reduce_add(x[i])


def test_the_reference_reports_a_subgroup_op_reached_by_part_of_a_work_group():
    with pytest.raises(LaunchError, match=r"kernel 'divergent'.*reached by only some work-items"):
        divergent.on("numpy")[N, WG](np.ones(N, np.int32), np.zeros(N, np.int32))


@pk.kernel(debug=True)
def out_of_bounds_after_exchange(x, out):
    i = pk.global_id(0)
    s = pk.subgroup_reduce_add(x[i])
    out[i + 1] = s


def test_a_failed_bounds_check_after_an_exchange_names_the_users_access(backend, run):
    # the emulating backends add scratch accesses; the reported site is still the kernel's own
    with pytest.raises(pk.KernelIndexError, match=r"index \(128,\) is out of bounds for array 'out'.*out\[i \+ 1\]"):
        run(out_of_bounds_after_exchange, backend, N, WG, np.ones(N, np.int32), np.zeros(N, np.int32))
