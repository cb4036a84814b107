"""A kernel launched with fewer dimensions than it queries is a CompileError naming the kernel, the
query, its line and the ndrange's dimensions (it used to run with the missing ids folded to 0 and
leave most of the output unwritten); ``ndim=`` names the number of dimensions of kernel.ir/source."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def fill2d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    out[i, j] = i * 10 + j


@pk.kernel
def width(out):
    out[pk.global_id(0)] = pk.global_size(1)


def test_a_2d_kernel_on_a_1d_ndrange_is_a_compile_error_naming_kernel_query_line_and_dims(backend):
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("launching on cuda needs a GPU")
    out = np.full((4, 4), -1, np.int64)
    with pytest.raises(pk.CompileError) as info:
        fill2d.on(backend)[(4,)](out)
    msg = str(info.value)
    assert "kernel 'fill2d': pk.global_id(1) queries dimension 1" in msg
    assert "ndrange has 1 dimension(s)" in msg and "j = pk.global_id(1)" in msg
    assert info.value.loc.file == __file__
    np.testing.assert_array_equal(out, -1)          # nothing ran


def test_a_size_query_of_a_missing_dimension_is_a_compile_error_too():
    with pytest.raises(pk.CompileError, match=r"pk.global_size\(1\) queries dimension 1"):
        width.on("numpy")[4](np.zeros(4, np.int64))


def test_the_same_kernel_on_a_2d_ndrange_writes_everything():
    out = fill2d.on("numpy")[(4, 4), None](np.full((4, 4), -1, np.int64))
    np.testing.assert_array_equal(out, np.arange(4)[:, None] * 10 + np.arange(4))


def test_ir_takes_ndim_for_the_number_of_dimensions_and_ndrange_as_in_a_launch():
    out = np.zeros((4, 4), np.int64)
    assert "global_id(1)" in fill2d.ir(out, ndim=2)
    assert fill2d.ir(out, ndim=2) == fill2d.ir(out, ndrange=(2, 2)) == fill2d.ir(out)
    with pytest.raises(pk.CompileError, match="ndrange has 1 dimension"):
        fill2d.ir(out, ndrange=2)                      # the 1-D ndrange (2,), as fill2d[2]
    with pytest.raises(pk.CompileError, match="ndrange has 1 dimension"):
        fill2d.ir(out, ndim=1)
    with pytest.raises(pk.LaunchError, match="ndim must be 1, 2 or 3"):
        fill2d.ir(out, ndim=4)
    with pytest.raises(pk.LaunchError, match="ndim=2 but ndrange"):
        fill2d.ir(out, ndim=2, ndrange=8)
    assert fill2d.source("numpy", out, ndim=2) == fill2d.source("numpy", out, ndrange=(4, 4))
    with pytest.raises(pk.CompileError, match="ndrange has 1 dimension"):
        fill2d.source("numpy", out, ndim=1)
