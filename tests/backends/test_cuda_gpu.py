"""cuda on a real NVIDIA GPU (marker ``gpu``; run by scripts/gpu_check.sh, skipped without a GPU):
CuPy arrays and __cuda_array_interface__ objects zero-copy, the index mapping, debug bounds errors,
atomics, and every op of every type bit-identical to the opencl backend on tier 0."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.backend import LaunchGrid
from portakern.types import SCALAR_TYPES

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_cfamily_kernels import every_op_kernel  # noqa: E402
from test_cuda_host_numerics import N, _inputs  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda():
    be = registry.get_backend("cuda")
    if not be.is_available():
        pytest.skip(f"no GPU: {be.unavailable_reason()}")
    import cupy

    return be, cupy


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


class Interface:
    """A foreign GPU array: only ``__cuda_array_interface__`` (as PyTorch CUDA tensors have)."""

    def __init__(self, arr):
        self.arr = arr
        self.__cuda_array_interface__ = arr.__cuda_array_interface__


def test_cupy_arrays_and_cuda_array_interface_objects_are_used_in_place(cuda):
    _, cupy = cuda
    x = cupy.arange(1000, dtype=cupy.float32)
    y = cupy.ones(1000, cupy.float32)
    out = cupy.zeros(1000, cupy.float32)
    res = saxpy[1000](np.float32(2), x, y, out)
    assert res is out
    cupy.testing.assert_array_equal(out, 2 * x + 1)
    foreign = Interface(cupy.zeros(1000, cupy.float32))
    saxpy.on("cuda")[1000](np.float32(3), x, y, foreign)
    cupy.testing.assert_array_equal(foreign.arr, 3 * x + 1)


def test_numpy_arrays_round_trip_through_the_gpu(cuda):
    x = np.arange(300, dtype=np.float64)
    out = np.zeros_like(x)
    res = saxpy.on("cuda")[300](2.0, x, x, out)
    assert res is out
    np.testing.assert_array_equal(out, 3 * x)


@pk.kernel
def ids3(out):
    out[pk.global_id(0), pk.global_id(1), pk.global_id(2)] = (
        pk.global_id(0) * 10000 + pk.global_id(1) * 100 + pk.global_id(2))


def test_last_dimension_is_fastest_in_3d_launches(cuda):
    out = np.zeros((3, 5, 70), np.int64)
    ids3.on("cuda")[(3, 5, 70)](out)
    i, j, k = np.indices(out.shape)
    np.testing.assert_array_equal(out, i * 10000 + j * 100 + k)


@pk.kernel(debug=True)
def oob(x, out):
    i = pk.global_id(0)
    out[i] = x[i + 1]


def test_debug_bounds_error_on_the_gpu(cuda):
    with pytest.raises(pk.KernelIndexError) as info:
        oob.on("cuda")[4](np.zeros(4, np.float32), np.zeros(4, np.float32))
    assert "(4,)" in str(info.value) and "'x'" in str(info.value)


@pk.kernel
def atomics(vals, acc):
    i = pk.global_id(0)
    if i < vals.shape[0]:
        pk.atomic_add(acc, 0, vals[i])
        pk.atomic_sub(acc, 1, vals[i])
        pk.atomic_min(acc, 2, vals[i])
        pk.atomic_max(acc, 3, vals[i])


@pytest.mark.parametrize("dt", ["int32", "uint32", "int64", "uint64", "float32", "float64"])
def test_atomics_of_every_supported_type(cuda, dt):
    vals = (np.arange(1, 513) % 97).astype(dt)
    acc = np.array([0, 100000, 1000, 0], dt)
    atomics.on("cuda")[vals.size](vals, acc)
    assert acc[0] == vals.sum(dtype=dt) and acc[2] == vals.min() and acc[3] == vals.max()
    assert acc[1] == np.array(100000, dt) - vals.sum(dtype=dt)


@pytest.mark.parametrize("t", SCALAR_TYPES, ids=str)
def test_every_op_matches_opencl_bit_for_bit_on_tier_0(cuda, t):
    be, cupy = cuda
    cl = registry.get_backend("opencl")
    if not cl.is_available():
        pytest.skip("opencl is the reference here")
    kernel, rows, flag_rows = every_op_kernel(t, with_local=False)
    a, b = _inputs(t)
    shapes = ((len(rows), N), (len(flag_rows), N), (4,))
    results = []
    for backend in (cl, be):
        dev = backend.device()
        launcher = backend.load(kernel, backend.build(kernel, backend.render(kernel), dev), dev)
        args = [backend.from_host(v, dev) for v in (a, b, np.zeros(shapes[0], t.dtype),
                                                    np.zeros(shapes[1], bool), np.zeros(shapes[2], t.dtype))]
        res = launcher(LaunchGrid((N,), None), args)
        results.append([backend.to_host(res[n]) for n in ("out", "flags")])
    (cl_out, cl_flags), (cu_out, cu_flags) = results
    np.testing.assert_array_equal(cu_flags, cl_flags)
    for k, label in enumerate(rows):
        got, want = cu_out[k], cl_out[k]
        if t.is_float and label.startswith("~"):
            np.testing.assert_allclose(got, want, rtol=1e-5 if t.bits == 32 else 1e-13,
                                       atol=float(np.finfo(t.dtype).tiny), err_msg=label)
        elif t.is_float:
            same = (np.isnan(got) & np.isnan(want)) | ((got == want) & (np.signbit(got) == np.signbit(want)))
            assert same.all(), (label, a[~same], b[~same], got[~same], want[~same])
        else:
            np.testing.assert_array_equal(got, want, err_msg=label)
