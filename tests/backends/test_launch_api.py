"""The launch API: ndrange alone or with a workgroup, .on(), pk.use(), PORTAKERN_BACKEND, routing by
array type, and return values (NumPy arrays updated in place and returned on every backend)."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def fill_index(out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = i


@pk.kernel
def two_outputs(x, a, b):
    i = pk.global_id(0)
    if i < x.shape[0]:
        a[i] = x[i] + 1
        b[i] = x[i] * 2


@pk.kernel
def writes_nothing(x, y):
    i = pk.global_id(0)
    if i < x.shape[0]:
        z = x[i] + y[i]  # noqa: F841 - computes, writes nothing


@pk.kernel
def ordered_outputs(b, x, a):
    i = pk.global_id(0)
    if i < x.shape[0]:
        a[i] = x[i]
        b[i] = -x[i]


@pytest.mark.parametrize("n", [1, 2, 3, 17, 129, 250])
def test_ndrange_only_accepts_any_size(backend, run, n):
    out = np.full(n, -1, dtype=np.int32)
    run(fill_index, backend, n, None, out)
    np.testing.assert_array_equal(out, np.arange(n))


@pytest.mark.parametrize("n,wg", [(64, 16), (30, 5), (8, 8), (12, 1)])
def test_ndrange_with_workgroup(backend, run, n, wg):
    out = np.full(n, -1, dtype=np.int32)
    run(fill_index, backend, n, wg, out)
    np.testing.assert_array_equal(out, np.arange(n))


@pk.kernel
def fill_2d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    if i < out.shape[0] and j < out.shape[1]:
        out[i, j] = i * 10 + j


def test_tuple_ndrange_alone_launches_a_2d_kernel(backend):
    # docs/language.md: kernel[ndrange] with ndrange a tuple. Python passes kernel[(5, 7)] exactly as
    # kernel[5, 7]; for a kernel that indexes 2 dimensions the only meaningful reading is the 2-D
    # ndrange (what a Triton user writing kernel[(M, N)] expects).
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("running on cuda needs a GPU")
    out = np.full((5, 7), -1, np.int32)
    fill_2d.on(backend)[(5, 7)](out)
    np.testing.assert_array_equal(out, np.add.outer(np.arange(5) * 10, np.arange(7)))


def test_explicit_none_workgroup_launches_a_2d_kernel(backend, run):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        run(fill_2d, backend, (5, 7), None, np.zeros((5, 7), np.int32))
    out = np.full((5, 7), -1, np.int32)
    fill_2d.on(backend)[(5, 7), None](out)
    np.testing.assert_array_equal(out, np.add.outer(np.arange(5) * 10, np.arange(7)))


def test_empty_ndrange_does_no_work(backend, run):
    out = np.full(3, -1, dtype=np.int32)
    run(fill_index, backend, 0, None, out)
    np.testing.assert_array_equal(out, -1)


def test_one_written_array_is_returned_and_is_the_callers_object(backend, run):
    out = np.zeros(5, dtype=np.int64)
    res = run(fill_index, backend, 5, None, out)
    assert res is out
    np.testing.assert_array_equal(out, np.arange(5))


def test_several_written_arrays_come_back_as_a_tuple_in_parameter_order(backend, run):
    x = np.arange(4, dtype=np.float32)
    a, b = np.zeros(4, np.float32), np.zeros(4, np.float32)
    res = run(two_outputs, backend, 4, None, x, a, b)
    assert isinstance(res, tuple) and len(res) == 2
    assert res[0] is a and res[1] is b
    np.testing.assert_array_equal(a, x + 1)
    np.testing.assert_array_equal(b, x * 2)
    b2, a2 = np.zeros(4, np.float32), np.zeros(4, np.float32)
    res = run(ordered_outputs, backend, 4, None, b2, x, a2)
    assert res[0] is b2 and res[1] is a2                  # parameter order, not order of the writes


@pk.kernel
def increment_into(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i] + 1


def test_the_same_array_passed_twice_updates_in_place(backend, run):
    x = np.arange(5, dtype=np.int64)
    res = run(increment_into, backend, 5, None, x, x)
    assert res is x
    np.testing.assert_array_equal(x, np.arange(5) + 1)


def test_views_of_one_base_array_are_updated_independently(backend, run):
    z = np.arange(8, dtype=np.int64) * 10
    run(increment_into, backend, 4, None, z[::2], z[1::2])
    np.testing.assert_array_equal(z, [0, 1, 20, 21, 40, 41, 60, 61])
    y = np.arange(6, dtype=np.float32)
    run(two_outputs, backend, 3, None, y[3:].copy(), y[:3], y[3:])
    np.testing.assert_array_equal(y, [4, 5, 6, 6, 8, 10])


def test_source_returns_the_generated_code_without_launching(backend):
    out = np.full(4, -1, np.int32)
    src = fill_index.source(backend, out)
    assert isinstance(src, str) and "fill_index" in src
    np.testing.assert_array_equal(out, -1)


def test_kernel_writing_nothing_returns_none(backend, run):
    x = np.ones(3, np.float32)
    assert run(writes_nothing, backend, 3, None, x, x.copy()) is None


def test_use_selects_the_backend_for_a_block(backend):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("running on cuda needs a GPU")
    out = np.zeros(4, np.int32)
    with pk.use(backend):
        res = fill_index[4](out)
    assert res is out
    np.testing.assert_array_equal(out, np.arange(4))


def test_environment_variable_selects_the_backend(backend, monkeypatch):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("running on cuda needs a GPU")
    monkeypatch.setenv("PORTAKERN_BACKEND", backend)
    out = np.zeros(4, np.int32)
    fill_index[4](out)
    np.testing.assert_array_equal(out, np.arange(4))


def test_use_and_environment_route_to_the_named_backend(monkeypatch):
    # observable with a backend that cannot exist: routing must reach it and fail naming it
    with pytest.raises(pk.BackendUnavailable, match="not-a-backend"):
        with pk.use("not-a-backend"):
            fill_index[4](np.zeros(4, np.int32))
    monkeypatch.setenv("PORTAKERN_BACKEND", "also-not-a-backend")
    with pytest.raises(pk.BackendUnavailable, match="also-not-a-backend"):
        fill_index[4](np.zeros(4, np.int32))


def test_numpy_arrays_run_on_the_default_cpu_backend(monkeypatch):
    monkeypatch.delenv("PORTAKERN_BACKEND", raising=False)
    out = np.zeros(6, np.int32)
    assert fill_index[6](out) is out
    np.testing.assert_array_equal(out, np.arange(6))


def test_jax_arrays_route_to_jax_and_come_back_as_new_jax_arrays(monkeypatch):
    if "jax" not in pk.available_backends():
        pytest.skip("jax unavailable")
    import jax
    import jax.numpy as jnp

    monkeypatch.delenv("PORTAKERN_BACKEND", raising=False)
    x = jnp.arange(4, dtype=jnp.float32)
    a, b = jnp.zeros(4, jnp.float32), jnp.full(4, 7.0, jnp.float32)
    ra, rb = two_outputs[4](x, a, b)
    assert isinstance(ra, jax.Array) and isinstance(rb, jax.Array)
    np.testing.assert_array_equal(np.asarray(ra), [1, 2, 3, 4])
    np.testing.assert_array_equal(np.asarray(rb), [0, 2, 4, 6])
    np.testing.assert_array_equal(np.asarray(a), 0)         # jax arrays are immutable: inputs unchanged


def test_jax_keeps_unwritten_elements_of_written_arrays():
    if "jax" not in pk.available_backends():
        pytest.skip("jax unavailable")
    import jax.numpy as jnp

    out = jnp.full(6, -1, jnp.int32)
    res = fill_index.on("jax")[4](out)
    np.testing.assert_array_equal(np.asarray(res), [0, 1, 2, 3, -1, -1])


def test_pyopencl_arrays_route_to_opencl_and_stay_on_the_device(monkeypatch):
    if "opencl" not in pk.available_backends():
        pytest.skip("opencl unavailable")
    import pyopencl as cl
    import pyopencl.array as cla

    monkeypatch.delenv("PORTAKERN_BACKEND", raising=False)
    queue = cl.CommandQueue(cl.create_some_context(interactive=False))
    out = cla.zeros(queue, 5, np.int32)
    res = fill_index[5](out)
    assert isinstance(res, cla.Array)
    np.testing.assert_array_equal(res.get(), np.arange(5))
    np.testing.assert_array_equal(out.get(), np.arange(5))


def test_numba_device_arrays_route_to_numba_cuda_and_stay_on_the_device(monkeypatch):
    if "numba-cuda" not in pk.available_backends():
        pytest.skip("numba-cuda unavailable")
    from numba import cuda

    monkeypatch.delenv("PORTAKERN_BACKEND", raising=False)
    d = cuda.to_device(np.zeros(5, np.int32))
    res = fill_index[5](d)
    assert res is d                                          # device arrays stay on the device
    np.testing.assert_array_equal(d.copy_to_host(), np.arange(5))


def test_objects_with_array_interface_are_accepted(backend, run):
    class Wrapped:
        def __init__(self, a):
            self.a = a
            self.__array_interface__ = a.__array_interface__

    base = np.zeros(4, np.int64)
    run(fill_index, backend, 4, None, Wrapped(base))
    np.testing.assert_array_equal(base, np.arange(4))


def test_python_scalars_default_to_int64_and_float64(backend, run, need_fp64):
    need_fp64("float64")
    out = np.zeros(2, np.float64)
    run(scalar_kinds, backend, 1, None, 2**40, 0.1, out)
    assert out[0] == 2.0**41                                 # int64, not int32
    assert out[1] == 0.1 * 3                                 # float64 arithmetic


@pk.kernel
def scalar_kinds(n, f, out):
    if pk.global_id(0) == 0:
        out[0] = n * 2
        out[1] = f * 3
