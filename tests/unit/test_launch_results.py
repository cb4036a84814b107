"""What a launch returns and how NumPy arguments are updated: in place, the very objects, strided views
copied back, device arrays left on the device, jax-like backends returning new arrays, scalars typed."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.testing import FakeDeviceArray, make_fake_backend


@pk.kernel
def two_outputs(x, out1, y, out2):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out1[i] = x[i]
        out2[i] = y[i]


@pk.kernel
def reads_only(x, y):
    i = pk.global_id(0)
    t = x[i] + y[i]
    if t > 1e30:
        return


@pk.kernel
def write_one(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] * 2


def _two(grid, x, out1, y, out2):
    out1[:] = x
    out2[:] = y


def _double(grid, x, out):
    out[:] = x * 2


@pytest.fixture(params=["host", "device", "new-arrays"])
def any_backend(request):
    """A host backend, a GPU-like one (copies), and a jax-like one (returns new arrays)."""
    cls = make_fake_backend("fake-r", device_arrays=request.param == "device",
                            in_place=request.param != "new-arrays", strided=request.param == "host")
    cls.impls.update(two_outputs=_two, write_one=_double, reads_only=lambda g, x, y: None)
    registry.register_backend("fake-r", cls)
    with pk.use("fake-r"):
        yield cls
    registry.unregister_backend("fake-r")


def test_written_arrays_are_returned_in_parameter_order_as_the_same_objects(any_backend):
    x, y = np.arange(4.0), np.arange(4.0) + 10
    out1, out2 = np.zeros(4), np.zeros(4)
    res = two_outputs[4](x, out1, y, out2)
    assert isinstance(res, tuple) and res[0] is out1 and res[1] is out2
    np.testing.assert_array_equal(out1, x)
    np.testing.assert_array_equal(out2, y)


def test_one_written_array_is_returned_alone(any_backend):
    x, out = np.arange(4.0), np.zeros(4)
    assert write_one[4](x, out) is out
    np.testing.assert_array_equal(out, 2 * x)


def test_a_kernel_that_writes_nothing_returns_none(any_backend):
    assert reads_only[4](np.zeros(4), np.zeros(4)) is None


@pytest.mark.parametrize("view", [
    lambda a: a[::2], lambda a: a[::-1], lambda a: a[1::3], lambda a: a.reshape(4, 6)[:, 1],
])
def test_strided_views_are_updated_in_place_and_nothing_else_changes(any_backend, view):
    base_x = np.arange(24.0)
    base_out = np.full(24, -1.0)
    x, out = view(base_x), view(base_out)
    expected_base = base_out.copy()
    view(expected_base)[:] = 2 * x
    res = write_one[out.shape[0]](x, out)
    assert res is out
    np.testing.assert_array_equal(base_out, expected_base)


def test_2d_transposed_view_is_updated_in_place(any_backend):
    @pk.kernel
    def double2(x, out):
        i, j = pk.global_id(0), pk.global_id(1)
        out[i, j] = x[i, j] * 2

    any_backend.impls["double2"] = _double
    base = np.zeros((3, 5))
    out = base.T
    x = np.arange(15.0).reshape(5, 3)
    double2[(5, 3), None](x, out)
    np.testing.assert_array_equal(base.T, 2 * x)


def test_an_empty_ndrange_runs_nothing_and_returns_the_arrays(any_backend):
    x, out = np.arange(4.0), np.full(4, 5.0)
    assert write_one[0](x, out) is out
    assert (out == 5).all()
    assert not any(c[0] == "launch" for c in any_backend.calls)


def test_device_arrays_stay_on_the_device():
    cls = make_fake_backend("fake-d", device_arrays=True)
    cls.impls["write_one"] = _double
    registry.register_backend("fake-d", cls)
    try:
        x = FakeDeviceArray(np.arange(4.0), "fake-d")
        out = FakeDeviceArray(np.zeros(4), "fake-d")
        assert write_one[4](x, out) is out
        np.testing.assert_array_equal(out.data, 2 * np.arange(4.0))
    finally:
        registry.unregister_backend("fake-d")


def test_a_backend_that_cannot_update_in_place_returns_new_device_arrays():
    cls = make_fake_backend("fake-j", device_arrays=True, in_place=False)
    cls.impls["write_one"] = _double
    registry.register_backend("fake-j", cls)
    try:
        x = FakeDeviceArray(np.arange(4.0), "fake-j")
        out = FakeDeviceArray(np.zeros(4), "fake-j")
        res = write_one[4](x, out)
        assert res is not out and isinstance(res, FakeDeviceArray)
        np.testing.assert_array_equal(res.data, 2 * np.arange(4.0))
        assert not out.data.any()
    finally:
        registry.unregister_backend("fake-j")


@pytest.mark.parametrize("value, dtype", [
    (np.float32(1.5), np.float32), (np.int16(3), np.int16), (np.uint64(7), np.uint64),
    (3, np.int64), (1.5, np.float64), (True, np.bool_),
])
def test_scalars_reach_the_backend_with_the_documented_dtype(fake_backend, value, dtype):
    seen = []

    @pk.kernel
    def take(a, out):
        out[0] = a

    fake_backend.impls["take"] = lambda g, a, out: seen.append(a)
    take.on("fake")[1](value, np.zeros(1))
    assert type(seen[0]) is np.dtype(dtype).type and seen[0] == value


@pytest.mark.parametrize("value, expected", [(3, np.float32(3)), (2.5, np.float32(2.5)),
                                             (np.float64(0.1), np.float32(0.1))])
def test_annotated_scalars_are_converted_to_the_annotation(fake_backend, value, expected):
    seen = []

    @pk.kernel
    def take32(a: pk.float32, out):
        out[0] = a

    fake_backend.impls["take32"] = lambda g, a, out: seen.append(a)
    take32.on("fake")[1](value, np.zeros(1, np.float32))
    assert type(seen[0]) is np.float32 and seen[0] == expected


def test_objects_with_array_interface_are_used_zero_copy_and_returned(fake_backend):
    class Buffer:
        def __init__(self, a):
            self.a = a
            self.__array_interface__ = a.__array_interface__

    fake_backend.impls["write_one"] = _double
    storage = np.zeros(4)
    out = Buffer(storage)
    assert write_one.on("fake")[4](np.arange(4.0), out) is out
    np.testing.assert_array_equal(storage, 2 * np.arange(4.0))


def test_cpu_dlpack_objects_are_used_zero_copy(fake_backend):
    class Tensor:
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kwargs):
            return self.a.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    fake_backend.impls["write_one"] = _double
    storage = np.zeros(4)
    out = Tensor(storage)
    assert write_one.on("fake")[4](Tensor(np.arange(4.0)), out) is out
    np.testing.assert_array_equal(storage, 2 * np.arange(4.0))


def test_gpu_objects_are_adopted_by_the_backend_or_rejected():
    class CudaThing:
        __cuda_array_interface__ = {"shape": (4,), "typestr": "<f8", "data": (0, False), "version": 3}

    cls = make_fake_backend("fake-g")
    cls.impls["write_one"] = _double
    registry.register_backend("fake-g", cls)
    try:
        with pytest.raises(pk.LaunchError, match="parameter 'x'.*cannot use"):
            write_one.on("fake-g")[4](CudaThing(), np.zeros(4))
    finally:
        registry.unregister_backend("fake-g")


def test_one_array_passed_twice_reaches_the_backend_as_one_array(fake_gpu_backend):
    seen = []

    def impl(grid, x, out):
        seen.append(x is out)
        out[:] = x * 2

    fake_gpu_backend.impls["write_one"] = impl
    a = np.arange(4.0)
    write_one.on("fakegpu")[4](np.arange(4.0), np.zeros(4))
    write_one.on("fakegpu")[4](np.arange(4.0), np.zeros(4))
    write_one.on("fakegpu")[4](a, a)
    assert seen == [False, False, True]
    np.testing.assert_array_equal(a, 2 * np.arange(4.0))
