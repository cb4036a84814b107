"""There is no grid-wide barrier: writing one is a CompileError pointing to the documented pattern,
one launch per step with the arrays kept on the device (docs/language.md "Multi-step algorithms"),
which this file runs on every backend with its own device arrays."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from tests.backends.conftest import COMPILE_ONLY, availability

CHUNK = 7


@pk.kernel
def chunk_sums(x, partial, chunk: pk.constexpr):
    p = pk.global_id(0)
    s = x[0] * 0
    for i in range(p * chunk, min(p * chunk + chunk, x.shape[0])):
        s += x[i]
    partial[p] = s


@pk.kernel
def total(partial, out):
    s = partial[0] * 0
    for p in range(partial.shape[0]):
        s += partial[p]
    out[0] = s


@pk.kernel
def with_grid_sync(x):
    i = pk.global_id(0)
    x[i] = 1
    pk.grid_sync()
    x[i] = x[(i + 1) % x.shape[0]]


@pk.kernel
def with_grid_barrier(x):
    pk.grid_barrier()


@pytest.mark.parametrize("kern", [with_grid_sync, with_grid_barrier])
def test_a_grid_wide_barrier_is_a_compile_error_pointing_to_one_launch_per_step(kern):
    with pytest.raises(pk.CompileError) as info:
        kern.on("numpy")[4](np.zeros(4, np.int64))
    msg = str(info.value)
    assert "no grid-wide barrier" in msg and 'docs/language.md "Multi-step algorithms"' in msg
    assert info.value.loc.file == __file__ and "grid_" in info.value.loc.text


def test_the_compat_grid_sync_points_to_the_same_pattern():
    from portakern.compat import cuda

    @cuda.jit
    def grid_sync(out):
        out[cuda.grid(1)] = 1
        cuda.cg.this_grid().sync()

    with pytest.raises(pk.CompileError, match='Multi-step algorithms'):
        grid_sync[1, 4](np.zeros(4, np.int32))


def test_a_two_launch_reduction_keeps_its_arrays_on_the_device(backend):
    if backend in COMPILE_ONLY and not availability(backend)[0]:
        pytest.skip(f"{backend}: running needs a GPU")
    be = pk.get_backend(backend)
    dev = be.device()
    data = np.arange(1000, dtype=np.int64) * 3 - 700
    n_chunks = -(-data.size // CHUNK)
    x = be.from_host(data, dev)
    partial = chunk_sums.on(backend)[n_chunks](x, be.from_host(np.zeros(n_chunks, np.int64), dev), CHUNK)
    out = total.on(backend)[1](partial, be.from_host(np.zeros(1, np.int64), dev))
    if backend not in ("numpy", "numba"):              # device arrays stayed device arrays
        assert not isinstance(partial, np.ndarray) and not isinstance(out, np.ndarray)
    np.testing.assert_array_equal(be.to_host(partial), [data[k:k + CHUNK].sum() for k in range(0, 1000, CHUNK)])
    assert be.to_host(out)[0] == data.sum()
