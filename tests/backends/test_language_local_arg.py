"""Local arrays sized at launch: ``pk.local_array(n, dtype)`` with ``n`` computed from the kernel's int
parameters. One compiled kernel serves every size; each launch checks its sizes against the device."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.errors import LaunchError


@pk.kernel
def reverse_groups(x, out, n):
    # n is the work-group size, passed at launch: one compile serves every work-group size
    tile = pk.local_array(n, pk.float32)
    lid = pk.local_id(0)
    g = pk.global_id(0)
    tile[lid] = x[g]
    pk.barrier()
    out[g] = tile[tile.shape[0] - 1 - lid]


@pk.kernel
def three_tiles(out, n):
    # arrays of three element sizes sized by one argument: a neighbour's entries show any overlap
    a = pk.local_array(n, pk.int8)
    b = pk.local_array(n * 2 + 1, pk.float64)
    c = pk.local_array(pk.max(n, 3) * 3, pk.int32)
    lid = pk.local_id(0)
    a[lid] = pk.int8(lid + 1)
    b[2 * lid] = pk.float64(lid) + 0.5
    b[2 * lid + 1] = -pk.float64(lid)
    c[3 * lid] = lid * 10
    c[3 * lid + 1] = lid * 10 + 1
    c[3 * lid + 2] = lid * 10 + 2
    if lid == 0:
        b[2 * n] = 1000.0
    pk.barrier()
    k = (lid + 1) % n
    g = pk.global_id(0)
    out[g] = pk.float64(a[k]) + b[2 * k] + b[2 * k + 1] + pk.float64(c[3 * k] + c[3 * k + 1] + c[3 * k + 2]) \
        + b[2 * n] + pk.float64(len(b) + len(c))


@pk.kernel
def sized_from_two(out, rows, cols):
    tile = pk.local_array(pk.min(rows * cols, 64) + 1, pk.int64)
    if pk.local_id(0) == 0:
        out[pk.group_id(0)] = tile.shape[0]


@pk.kernel
def staged_half(x, out):
    # sized by an array argument's shape: a group stages half of x, then every item reads it back
    half = pk.local_array(x.shape[0] // 2, pk.int32)
    lid = pk.local_id(0)
    for k in range(lid, len(half), pk.local_size(0)):
        half[k] = x[2 * k] + x[2 * k + 1]
    pk.barrier()
    out[pk.global_id(0)] = half[lid % len(half)]


@pk.kernel
def measure(out, n):
    tile = pk.local_array(n, pk.float32)
    out[pk.global_id(0)] = len(tile)


@pk.kernel(debug=True)
def write_at(out, n, at):
    tile = pk.local_array(n, pk.int32)
    tile[at] = 1
    out[pk.global_id(0)] = n


def test_a_launch_argument_sizes_the_local_array_and_one_compile_serves_every_size(backend, run):
    x = np.arange(32, dtype=np.float32)
    reverse_groups.clear_cache()
    for wg in (4, 8, 16):
        out = np.zeros_like(x)
        run(reverse_groups, backend, 32, wg, x, out, np.int32(wg))
        np.testing.assert_array_equal(out, x.reshape(-1, wg)[:, ::-1].ravel())
    assert reverse_groups.cache_info()["entries"] == 1


def test_arrays_of_several_dtypes_sized_at_launch_do_not_overlap(backend, run, need_fp64):
    need_fp64(np.float64)
    for n in (4, 5):
        out = np.zeros(2 * n, dtype=np.float64)
        run(three_tiles, backend, 2 * n, n, out, np.int64(n))
        k = (np.arange(n) + 1) % n
        per_item = (k + 1) + (k + 0.5) - k + (30 * k + 3) + 1000.0 + (2 * n + 1) + max(n, 3) * 3
        np.testing.assert_array_equal(out, np.tile(per_item, 2))


def test_shape_and_len_of_a_launch_sized_array_are_its_size(backend, run):
    out = np.zeros(3, dtype=np.int64)
    run(sized_from_two, backend, 12, 4, out, np.int32(3), np.int32(5))
    np.testing.assert_array_equal(out, [16, 16, 16])
    run(sized_from_two, backend, 12, 4, out, np.int32(30), np.int32(5))
    np.testing.assert_array_equal(out, [65, 65, 65])


def test_an_array_arguments_shape_may_size_a_local_array(backend, run):
    for n in (10, 14):
        x = np.arange(n, dtype=np.int32)
        out = np.zeros(8, dtype=np.int32)
        run(staged_half, backend, 8, 4, x, out)
        sums = x[0::2] + x[1::2]
        np.testing.assert_array_equal(out, sums[np.arange(8) % 4 % (n // 2)])


def test_a_zero_size_is_allowed(backend, run):
    out = np.full(4, 7, dtype=np.int64)
    run(measure, backend, 4, 2, out, np.int32(0))
    np.testing.assert_array_equal(out, [0, 0, 0, 0])


def test_an_index_past_the_launch_size_is_reported(backend, run):
    out = np.zeros(4, dtype=np.int32)
    run(write_at, backend, 4, 4, out, np.int32(3), np.int64(2))
    np.testing.assert_array_equal(out, [3, 3, 3, 3])
    with pytest.raises(pk.KernelIndexError, match=r"index \(3,\) is out of bounds for array 'tile' of shape \(3,\)"):
        run(write_at, backend, 4, 4, out, np.int32(3), np.int64(3))


def test_a_negative_size_is_a_launch_error_naming_the_array(backend, run):
    out = np.zeros(4, dtype=np.int32)
    run(measure, backend, 4, 4, out, np.int32(2))      # the same launch shape again: the cached fast path
    with pytest.raises(LaunchError, match=r"local array 'tile' at .*-1 elements.*must not be negative"):
        run(measure, backend, 4, 4, out, np.int32(-1))
    with pytest.raises(LaunchError, match=r"local array 'tile' at .*-2 elements.*must not be negative"):
        run(write_at, backend, 4, 4, out, np.int32(-2), np.int64(0))


def test_a_size_beyond_the_device_local_memory_is_a_launch_error(backend, run, caps):
    out = np.zeros(4, dtype=np.int32)
    n = caps.max_local_memory // 4 + 1
    with pytest.raises(LaunchError, match=rf"need {4 * n} bytes per work-group.*allows {caps.max_local_memory}"):
        run(write_at, backend, 4, 4, out, np.int32(n), np.int64(0))


def test_under_jax_jit_a_traced_size_is_a_launch_error_and_a_static_one_runs():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    x = jnp.arange(16, dtype=jnp.float32)
    out = jnp.zeros(16, jnp.float32)

    def launch(x, out, n):
        return reverse_groups.on("jax")[16, 4](x, out, n)

    with pytest.raises(LaunchError, match="'tile' at .* depends on 'n', which has no value at this launch"):
        jax.jit(launch)(x, out, np.int32(4))
    got = jax.jit(launch, static_argnums=2)(x, out, 4)
    np.testing.assert_array_equal(np.asarray(got), np.arange(16, dtype=np.float32).reshape(4, 4)[:, ::-1].ravel())
