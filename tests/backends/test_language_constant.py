"""``pk.constant``: a read-only array parameter, placed in constant memory where the backend has it
(OpenCL ``__constant`` while the arrays fit, else ``__global const``; CUDA ``const __restrict__``).
Writing one is a CompileError; an output aliasing one is a LaunchError."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.errors import CompileError, LaunchError
from portakern.runtime import registry


@pk.kernel
def horner(coef: pk.constant, x, out):
    i = pk.global_id(0)
    acc = x[i] * 0
    for k in range(coef.shape[0]):
        acc = acc * x[i] + coef[k]
    out[i] = acc


@pk.kernel
def gather_two(table: pk.constant[pk.int32, 2], idx: pk.constant, out):
    i = pk.global_id(0)
    out[i] = table[idx[i], 0] + table[idx[i], 1]


@pk.kernel
def tail_poly(coef: pk.constant, x, out):
    i = pk.global_id(0)
    n = coef.shape[0]
    out[i] = (coef[n - 3] * x[i] + coef[n - 2]) * x[i] + coef[n - 1]


def _horner(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    acc = np.zeros_like(x)
    for c in coef:
        acc = acc * x + c                        # float32 throughout, as the kernel
    return acc


def test_a_constant_array_is_read_like_any_array(backend, run):
    x = np.linspace(-1, 1, 40, dtype=np.float32)
    coef = np.array([0.5, -2.0, 3.0, 1.25], np.float32)
    out = np.zeros_like(x)
    run(horner, backend, 40, None, coef, x, out)
    np.testing.assert_array_equal(out, _horner(coef, x))


def test_constant_arrays_beyond_constant_memory_still_run(backend, run, caps):
    # past max_constant_memory (or any size where the backend has none) the array goes to global memory;
    # the kernel reads its tail, so the test costs the size, not a loop over it (the CUDA simulator is slow)
    n = caps.max_constant_memory // 4 + 1 if caps.max_constant_memory else 5000
    coef = np.zeros(n, np.float32)
    coef[-3:] = [1.0, 2.0, 3.0]
    x = np.arange(8, dtype=np.float32)
    out = np.zeros_like(x)
    run(tail_poly, backend, 8, None, coef, x, out)
    np.testing.assert_array_equal(out, x * x + 2 * x + 3)


def test_two_constant_arrays_with_annotated_dtype_and_dimensions(backend, run):
    table = np.arange(20, dtype=np.int32).reshape(10, 2)
    idx = np.array([9, 0, 4, 4, 7], np.int64)
    out = np.zeros(5, np.int32)
    run(gather_two, backend, 5, None, table, idx, out)
    np.testing.assert_array_equal(out, table[idx].sum(axis=1))
    with pytest.raises(LaunchError, match=r"annotated pk.constant\[int32, 2\].*expected dtype int32"):
        run(gather_two, backend, 5, None, table.astype(np.int64), idx, out)


def test_an_output_aliasing_a_constant_argument_is_a_launch_error(backend, run):
    coef = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    x = np.ones(4, np.float32)
    with pytest.raises(LaunchError, match="'out' is written, but its array is .* pk.constant argument 'coef'"):
        run(horner, backend, 4, None, coef, x, coef)
    run(horner, backend, 2, None, coef, x, np.zeros(2, np.float32))   # (a cached launch plan of this shape)
    with pytest.raises(LaunchError, match="'out' is written"):
        run(horner, backend, 2, None, coef, x, coef[2:])        # a view that overlaps
    np.testing.assert_array_equal(coef, [1.0, 2.0, 3.0, 4.0])   # nothing ran


@pk.func
def _bump(a, i):
    a[i] = a[i] + 1


@pk.kernel
def store_into(c: pk.constant, out):
    c[0] = 1.0


@pk.kernel
def update_into(c: pk.constant, out):
    c[0] += 1.0


@pk.kernel
def atomic_into(c: pk.constant, out):
    pk.atomic_add(c, 0, 1)


@pk.kernel
def vstore_into(c: pk.constant, out):
    pk.vstore(c, 0, pk.vload(out, 0, 4))


@pk.kernel
def helper_writes(c: pk.constant, out):
    _bump(c, 0)


@pytest.mark.parametrize("kernel,how", [(store_into, "a store"), (update_into, "an update"),
                                        (atomic_into, r"pk.atomic_add\(\)"), (vstore_into, r"pk.vstore\(\)"),
                                        (helper_writes, "a store")])
def test_writing_a_constant_array_is_a_compile_error(kernel, how):
    c = np.zeros(4, np.float32)
    with pytest.raises(CompileError, match=rf"{how} writes 'c', a pk.constant parameter"):
        kernel.on("numpy")[1](c, np.zeros(4, np.float32))


def test_opencl_places_constant_arrays_in_constant_memory_while_they_fit():
    be = registry.get_backend("opencl")
    if not be.is_available():
        pytest.skip(f"opencl unavailable: {be.unavailable_reason()}")
    caps = be.capabilities(be.device())
    assert caps.max_constant_memory > 0 and caps.max_constant_args > 0
    x = np.zeros(4, np.float32)
    small = horner.source("opencl", np.zeros(4, np.float32), x, x.copy(), ndrange=4)
    assert "__constant float* u_coef" in small
    big = horner.source("opencl", np.zeros(caps.max_constant_memory // 4 + 1, np.float32), x, x.copy(), ndrange=4)
    assert "__global const float* u_coef" in big and "__constant" not in big


def test_cuda_passes_constant_arrays_as_const_restrict_pointers():
    x = np.zeros(4, np.float32)
    text = horner.source("cuda", np.zeros(4, np.float32), x, x.copy(), ndrange=4)
    assert "const float* __restrict__ u_coef" in text and "float* u_out" in text
    assert "__restrict__ u_out" not in text and "__restrict__ u_x" not in text
