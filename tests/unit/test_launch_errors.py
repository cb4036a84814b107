"""Every LaunchError row of docs/language.md section 5, each naming the parameter, what was given and what
was expected; run on a fake backend so the runtime alone is under test."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def scale(a, x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i]


@pk.kernel
def scale_annotated(a: pk.float32, x: pk.Array[pk.float32, 1], out: pk.Array[pk.float32]):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i]


@pk.kernel
def small(n: pk.int8, out):
    out[0] = n


@pk.kernel
def with_barrier(x, out):
    i = pk.global_id(0)
    pk.barrier()
    out[i] = x[i]


@pk.kernel
def with_local(x, out):
    t = pk.local_array(4, pk.float32)
    i = pk.global_id(0)
    t[pk.local_id(0)] = x[i]
    out[i] = t[pk.local_id(0)]


def _impl_scale(grid, a, x, out):
    out[:] = a * x


@pytest.fixture
def fake(fake_backend):
    fake_backend.impls.update(scale=_impl_scale, scale_annotated=_impl_scale,
                              small=lambda g, n, out: out.__setitem__(0, n),
                              with_barrier=lambda g, x, out: out.__setitem__(slice(None), x),
                              with_local=lambda g, x, out: out.__setitem__(slice(None), x))
    with pk.use("fake"):
        yield fake_backend


def _arrays(n=8):
    return np.arange(n, dtype=np.float32), np.zeros(n, dtype=np.float32)


def test_wrong_argument_count_names_the_parameters(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match=r"takes 3 argument\(s\) \(a, x, out\), but 2 were given"):
        scale[8](x, out)


def test_launch_error_is_a_value_error(fake):
    x, out = _arrays()
    with pytest.raises(ValueError):
        scale[8](x, out)


@pytest.mark.parametrize("bad", [[1.0, 2.0], "abc", None, object()])
def test_an_argument_that_is_neither_array_nor_scalar_is_rejected(fake, bad):
    x, _ = _arrays()
    with pytest.raises(pk.LaunchError, match="parameter 'out'.*expected an array"):
        scale[8](np.float32(2), x, bad)


@pytest.mark.parametrize("dtype", [np.complex64, np.longdouble, object, "U3"])
def test_unsupported_array_dtype_names_the_parameter(fake, dtype):
    x, _ = _arrays()
    out = np.zeros(8, dtype=dtype)
    with pytest.raises(pk.LaunchError, match=f"parameter 'out'.*dtype {np.dtype(dtype)}"):
        scale[8](np.float32(2), x, out)


def test_unsupported_scalar_dtype_names_the_parameter(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match="parameter 'a'.*complex128"):
        scale[8](np.complex128(1), x, out)


def test_array_dtype_differing_from_annotation_is_an_error_not_a_cast(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match=r"parameter 'x' is annotated pk.Array\[float32, 1\].*float64"):
        scale_annotated[8](1.0, x.astype(np.float64), out)
    assert not out.any()


def test_array_ndim_differing_from_annotation_is_an_error(fake):
    _, out = _arrays()
    with pytest.raises(pk.LaunchError, match="parameter 'x'.*expected 1 dimension"):
        scale_annotated[8](1.0, np.zeros((2, 4), np.float32), out)


def test_scalar_given_for_an_annotated_array_is_an_error(fake):
    x, _ = _arrays()
    with pytest.raises(pk.LaunchError, match="parameter 'out'.*expected an array"):
        scale_annotated[8](1.0, x, 3.0)


def test_array_given_for_an_annotated_scalar_is_an_error(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match="parameter 'a'.*expected a scalar"):
        scale_annotated[8](x, x, out)


def test_annotated_int_that_does_not_fit_is_an_error(fake):
    out = np.zeros(1, np.int8)
    with pytest.raises(pk.LaunchError, match=r"parameter 'n'.*300 does not fit int8"):
        small[1](300, out)


def test_annotated_int_parameter_refuses_a_float(fake):
    out = np.zeros(1, np.int8)
    with pytest.raises(pk.LaunchError, match="parameter 'n'.*expected an int"):
        small[1](2.5, out)


def test_unannotated_int_beyond_int64_is_an_error(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match="parameter 'a'.*does not fit int64"):
        scale[8](2 ** 70, x, out)


def test_read_only_array_written_by_the_kernel_is_an_error(fake):
    x, out = _arrays()
    out.setflags(write=False)
    with pytest.raises(pk.LaunchError, match="parameter 'out'.*read-only"):
        scale[8](np.float32(2), x, out)


def test_read_only_array_that_is_only_read_is_fine(fake):
    x, out = _arrays()
    x.setflags(write=False)
    scale[8](np.float32(2), x, out)
    np.testing.assert_array_equal(out, 2 * x)


@pytest.mark.parametrize("grid, msg", [
    (-1, "non-negative"), ((8, (0,)), "positive"), ((4, 4, 4, 4), "1 to 3"), (2.5, "ints"), ("8", "ints"),
    ((True,), "ints"), (((8, 8), (4,)), "same number of dimensions"), ((), "1 to 3"),
    (((2 ** 40, 2 ** 40),), "int64"), (None, "ints"), ({}, "ints"), (((4, 4), "x"), "ints"),
])
def test_invalid_ndrange_or_workgroup_is_an_error(fake, grid, msg):
    with pytest.raises(pk.LaunchError, match=msg):
        scale[grid]


def test_zero_workgroup_of_a_1d_kernel_is_rejected_at_launch(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match="workgroup sizes must be positive"):
        scale[8, 0](np.float32(1), x, out)


@pk.kernel
def copy2d(x, out):
    out[pk.global_id(0), pk.global_id(1)] = x[pk.global_id(0), pk.global_id(1)]


def test_two_ints_are_a_2d_ndrange_for_a_kernel_that_indexes_two_dimensions(fake):
    grids = []
    fake.impls["copy2d"] = lambda g, x, out: grids.append(g)
    x = np.zeros((2, 3))
    copy2d[(2, 3)](x, x.copy())
    copy2d[(2, 0)](x, x.copy())                  # empty: nothing runs
    assert [(g.ndrange, g.workgroup) for g in grids] == [((2, 3), None)]


def test_two_ints_are_ndrange_and_workgroup_for_a_1d_kernel(fake):
    grids = []
    fake.impls["scale"] = lambda g, a, x, out: grids.append(g)
    x, out = _arrays()
    scale[8, 4](np.float32(1), x, out)
    assert (grids[0].ndrange, grids[0].workgroup) == ((8,), (4,))


def test_barrier_kernel_without_workgroup_names_the_ndrange(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match=r"barrier.*explicit workgroup.*ndrange \(8,\)"):
        with_barrier[8](x, out)


def test_local_array_kernel_with_non_multiple_ndrange_names_both_shapes(fake):
    x, out = _arrays(6)
    with pytest.raises(pk.LaunchError, match=r"ndrange \(6,\) must be a multiple of the workgroup \(4,\)"):
        with_local[6, 4](x, out)


def test_barrier_kernel_with_dividing_workgroup_runs(fake):
    x, out = _arrays()
    with_barrier[8, 4](x, out)
    np.testing.assert_array_equal(out, x)


def test_workgroup_larger_than_the_device_allows_is_an_error(fake):
    x, out = _arrays()
    with pytest.raises(pk.LaunchError, match="at most 1024"):
        scale[(2048,), (2048,)](np.float32(1), x, out)


def test_calling_a_kernel_without_an_ndrange_explains_the_launch_syntax():
    with pytest.raises(pk.LaunchError, match=r"scale\[ndrange\]"):
        scale(1, 2, 3)


def test_constexpr_parameter_refuses_an_array(fake):
    @pk.kernel
    def fill(n: pk.constexpr, out):
        out[0] = n

    with pytest.raises(pk.LaunchError, match="parameter 'n' is pk.constexpr.*expected a Python int"):
        fill[1](np.zeros(2), np.zeros(1))


def test_unknown_backend_is_backend_unavailable_naming_it():
    x, out = _arrays()
    with pytest.raises(pk.BackendUnavailable, match="unknown backend 'no-such-backend'"):
        scale.on("no-such-backend")[8](np.float32(2), x, out)


def test_backend_unavailable_is_a_runtime_error():
    with pytest.raises(RuntimeError):
        pk.get_backend("no-such-backend")


def test_failed_compile_leaves_the_inputs_untouched(fake):
    @pk.kernel
    def broken(x, out):
        out[0] = undefined_name  # noqa: F821

    x, out = _arrays()
    out[:] = 7
    with pytest.raises(pk.CompileError):
        broken[8](x, out)
    assert (out == 7).all()


def test_failed_launch_leaves_the_inputs_untouched_and_chains_the_cause(fake_gpu_backend):
    def explode(grid, a, x, out):
        out[:] = 99
        raise RuntimeError("device fault")

    fake_gpu_backend.impls["scale"] = explode
    x, out = _arrays()
    out[:] = 7
    with pytest.raises(pk.PortakernError, match="device fault") as info:
        scale.on("fakegpu")[8](np.float32(2), x, out)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert (out == 7).all()


def test_kernel_index_error_from_a_backend_is_not_masked(fake):
    def oob(grid, a, x, out):
        raise pk.KernelIndexError("kernel 'scale': index (9,) is out of bounds")

    fake.impls["scale"] = oob
    x, out = _arrays()
    with pytest.raises(pk.KernelIndexError, match="out of bounds"):
        scale[8](np.float32(2), x, out)


def test_a_bool_ndrange_is_rejected_even_after_an_equal_int_one(fake):
    scale[1]
    with pytest.raises(pk.LaunchError, match="ints"):
        scale[True]
    with pytest.raises(pk.LaunchError, match="ints"):
        scale[1.0]
