"""Names numba kernels use that the language accepts too: ``len(x)`` and numba's scalar types."""
from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import portakern as pk  # noqa: E402


@pk.kernel
def copy_len(x, out):
    i = pk.global_id(0)
    if i < len(x):
        out[i] = numba.float32(x[i]) / 3


@pk.kernel
def scratch(x, out):
    t = pk.private_array(4, numba.int16)
    t[0] = x[0]
    out[0] = t[0]


@pk.kernel
def len_of_scalar(x, out):
    out[0] = len(x[0])


def test_len_of_an_array_is_its_first_dimension() -> None:
    x = np.arange(5, dtype=np.float64)
    out = np.zeros(8, dtype=np.float64)
    copy_len.on("numpy")[8](x, out)
    want = np.zeros(8)
    want[:5] = np.arange(5, dtype=np.float32) / np.float32(3)   # the cast to numba.float32 is float32
    np.testing.assert_array_equal(out, want)


def test_numba_scalar_types_are_dtypes() -> None:
    out = np.zeros(1, dtype=np.int64)
    scratch.on("numpy")[1](np.array([70000], dtype=np.int64), out)
    assert out[0] == np.int64(70000).astype(np.int16)   # stored through int16: wraps


def test_len_of_a_number_is_a_compile_error() -> None:
    with pytest.raises(pk.CompileError, match=r"len\(\) takes an array"):
        len_of_scalar.on("numpy")[1](np.zeros(2), np.zeros(2))
