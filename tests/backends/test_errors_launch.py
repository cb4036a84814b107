"""LaunchError (also a ValueError) for every row of docs/language.md section 5, naming the parameter, what
was given and what was expected; a failed launch leaves the caller's arrays untouched."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def copy(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i]


@pk.kernel
def annotated_copy(x: pk.Array[pk.float32, 1], out: pk.Array[pk.float32], n: pk.int8):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i] + n


@pk.kernel
def with_barrier(x, out):
    t = pk.local_array(4, pk.float32)
    t[pk.local_id(0)] = x[pk.global_id(0)]
    pk.barrier()
    out[pk.global_id(0)] = t[0]


@pk.kernel
def with_local_only(x, out):
    t = pk.local_array(4, pk.float32)
    t[pk.local_id(0)] = x[pk.global_id(0)]
    out[pk.global_id(0)] = t[pk.local_id(0)]


def _launch(backend, kern, grid, *args):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("launching on cuda needs a GPU (BackendUnavailable is tested in test_errors_backend)")
    return kern.on(backend)[grid](*args)


def _raises(backend, kern, grid, *args, words=()):
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    before = [a.copy() for a in arrays]
    with pytest.raises(pk.LaunchError) as info:
        _launch(backend, kern, grid, *args)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} missing from: {msg}"
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)          # the caller's arrays are untouched
    return msg


def test_too_few_and_too_many_arguments(backend):
    x = np.ones(4, np.float32)
    _raises(backend, copy, 4, x, words=("out",))
    _raises(backend, copy, 4, x, x.copy(), x.copy(), words=("2", "3"))


def test_array_dtype_against_annotation_is_never_cast(backend):
    x = np.ones(4, np.float64)
    out = np.zeros(4, np.float32)
    _raises(backend, annotated_copy, 4, x, out, 1, words=("x", "float64", "float32"))


def test_array_ndim_against_annotation(backend):
    x = np.ones((2, 2), np.float32)
    out = np.zeros(4, np.float32)
    _raises(backend, annotated_copy, 4, x, out, 1, words=("x", "2", "1"))


def test_annotated_int_that_does_not_fit_is_rejected(backend):
    x = np.ones(4, np.float32)
    out = np.zeros(4, np.float32)
    _raises(backend, annotated_copy, 4, x, out, 300, words=("n", "300", "int8"))


def test_read_only_array_that_the_kernel_writes(backend):
    x = np.ones(4, np.float32)
    out = np.zeros(4, np.float32)
    out.setflags(write=False)
    _raises(backend, copy, 4, x, out, words=("out",))


def test_read_only_array_that_is_only_read_is_fine(backend, run):
    x = np.arange(4, dtype=np.float32)
    x.setflags(write=False)
    out = np.zeros(4, np.float32)
    run(copy, backend, 4, None, x, out)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("value", ["text", [1, 2], None, 1 + 2j, np.zeros(3, np.complex64)],
                         ids=["str", "list", "None", "complex", "complex-array"])
def test_argument_of_unsupported_kind(backend, value):
    out = np.zeros(4, np.float32)
    msg = _raises(backend, copy, 4, value, out)
    assert "x" in msg


@pytest.mark.parametrize("grid", [(), (1, 2, 3, 4), -1, 2.5, "8", ((4, 4), (2,)), (4, 0), ((2, 2, 2, 2),)],
                         ids=["empty", "4d", "negative", "float", "str", "dims-mismatch", "zero-wg", "4d-nested"])
def test_invalid_ndrange_or_workgroup(backend, grid):
    x = np.ones(4, np.float32)
    out = np.zeros(4, np.float32)
    with pytest.raises(pk.LaunchError):
        copy.on(backend)[grid](x, out)
    np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("kern", [with_barrier, with_local_only], ids=["barrier", "local_array"])
def test_barrier_or_local_kernel_needs_a_workgroup(backend, kern):
    x = np.ones(8, np.float32)
    out = np.zeros(8, np.float32)
    _raises(backend, kern, 8, x, out, words=("workgroup",))


def test_barrier_kernel_ndrange_must_be_a_multiple_of_the_workgroup(backend):
    x = np.ones(10, np.float32)
    out = np.zeros(10, np.float32)
    _raises(backend, with_barrier, (10, 4), x, out, words=("10", "4"))


def test_arrays_of_two_backends_in_one_call():
    avail = pk.available_backends()
    if not ("jax" in avail and "opencl" in avail):
        pytest.skip("needs jax and opencl")
    import jax.numpy as jnp
    import pyopencl as cl
    import pyopencl.array as cla

    queue = cl.CommandQueue(cl.create_some_context(interactive=False))
    x = jnp.ones(4, jnp.float32)
    out = cla.zeros(queue, 4, np.float32)
    with pytest.raises(pk.LaunchError) as info:
        copy[4](x, out)
    assert "jax" in str(info.value) and "opencl" in str(info.value)


MALFORMED = {
    "0-d array": lambda b, x, out: copy.on(b)[4](np.array(3.0, np.float32), out),
    "object array": lambda b, x, out: copy.on(b)[4](np.array([1, None, 2, 3], dtype=object), out),
    "complex64 array": lambda b, x, out: copy.on(b)[4](x.astype(np.complex64), out),
    "structured array": lambda b, x, out: copy.on(b)[4](np.zeros(4, dtype=[("a", "f4")]), out),
    "int beyond int64": lambda b, x, out: copy.on(b)[4](2**70, out),
    "bytes": lambda b, x, out: copy.on(b)[4](b"abcd", out),
    "nested list": lambda b, x, out: copy.on(b)[4]([[1.0] * 4], out),
    "ndrange beyond int64": lambda b, x, out: copy.on(b)[2**64](x, out),
    # spec silent on keywords; a user may try them: a LaunchError (or working) is fine, a TypeError from
    # portakern's internals is not ("no internal exception escapes on any input")
    "keyword arguments": lambda b, x, out: copy.on(b)[4](x=x, out=out),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_launches_raise_only_portakern_errors(backend, case):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("launching on cuda needs a GPU")
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, np.float32)
    try:
        MALFORMED[case](backend, x, out)
    except pk.PortakernError:
        np.testing.assert_array_equal(out, 0)
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{case}: {type(exc).__name__} escaped: {exc}")
    else:
        assert case == "keyword arguments", f"{case} was accepted"
        np.testing.assert_array_equal(out, x)


def test_numpy_integers_are_accepted_as_ndrange_and_workgroup(backend, run):
    out = np.full(8, -1, np.int32)
    run(copy, backend, np.int64(8), np.int32(4), np.arange(8, dtype=np.int32), out)
    np.testing.assert_array_equal(out, np.arange(8))


def test_calling_a_kernel_without_an_index_space_is_a_launch_error():
    with pytest.raises(pk.LaunchError):
        copy(np.ones(4, np.float32), np.zeros(4, np.float32))
