"""Malformed launches never leak an internal exception: any argument list and any grid either runs or
raises a PortakernError (docs/language.md section 5)."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portakern as pk


@pk.kernel
def axpy(a: pk.float32, x: pk.Array[pk.float32, 1], out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i]


class _BrokenInterface:
    @property
    def __array_interface__(self):
        raise RuntimeError("broken")


class _BrokenDlpack:
    def __dlpack__(self, **kwargs):
        raise RuntimeError("broken")

    def __dlpack_device__(self):
        return (1, 0)


_DTYPES = ["float32", "float64", "int32", "int64", "uint8", "bool", "complex64", "float16", ">f4", "O"]

arrays = st.builds(
    lambda dt, shape, ro: _array(dt, shape, ro),
    st.sampled_from(_DTYPES), st.lists(st.integers(0, 3), min_size=0, max_size=3), st.booleans())
scalars = st.one_of(st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True), st.booleans(),
                    st.sampled_from([np.float32(1), np.int8(-3), np.uint64(2 ** 64 - 1), np.complex64(1),
                                     np.float16(1), np.bool_(True)]))
others = st.sampled_from([None, "text", [1.0, 2.0], (1, 2), object(), _BrokenInterface(), _BrokenDlpack(),
                          b"bytes", np.array(1.0)])
argument = st.one_of(arrays, scalars, others)
grids = st.one_of(st.integers(-2, 6), st.tuples(st.integers(0, 6), st.integers(-1, 4)),
                  st.sampled_from([(3,), ((2, 2), None), (2.0,), "4", None, ((4,), (2,))]))


def _array(dtype: str, shape: list[int], readonly: bool) -> np.ndarray:
    a = np.zeros(tuple(shape), dtype=dtype)
    if readonly:
        a.setflags(write=False)
    return a


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])   # the fake backend is stateless
@given(grid=grids, args=st.lists(argument, min_size=0, max_size=4))
def test_any_launch_runs_or_raises_a_portakern_error(fake_backend, grid, args):
    fake_backend.impls["axpy"] = lambda g, a, x, out: None
    try:
        axpy.on("fake")[grid](*args)
    except pk.PortakernError:
        pass


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grid=grids, a=argument, x=st.one_of(arrays, argument), out=st.one_of(arrays, argument))
def test_any_three_arguments_run_or_raise_a_portakern_error(fake_gpu_backend, grid, a, x, out):
    fake_gpu_backend.impls["axpy"] = lambda g, a, x, out: None
    try:
        axpy.on("fakegpu")[grid](a, x, out)
    except pk.PortakernError:
        pass
