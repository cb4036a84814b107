"""Every math function of docs/language.md section 4, through pk.X, math.X and the builtins.

Tolerances here are loose (tier-1 ULP bounds are the conformance suite's job); the tier-0 functions
(floor ceil trunc rint abs copysign min max fma sqrt isnan isinf isfinite where) are checked exactly.
Expected values come from Python's math module / NumPy on the host in float64.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import portakern as pk
from tests.model import numerics as M

UNARY = ["sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
         "asin", "acos", "atan", "sinh", "cosh", "tanh", "erf", "erfc"]


@pk.kernel
def unary_math(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        v = x[i]
        out[0, i] = pk.sqrt(v)
        out[1, i] = pk.rsqrt(v)
        out[2, i] = pk.exp(v)
        out[3, i] = pk.exp2(v)
        out[4, i] = pk.expm1(v)
        out[5, i] = pk.log(v)
        out[6, i] = pk.log2(v)
        out[7, i] = pk.log10(v)
        out[8, i] = pk.log1p(v)
        out[9, i] = pk.sin(v)
        out[10, i] = pk.cos(v)
        out[11, i] = pk.tan(v)
        out[12, i] = pk.asin(v)
        out[13, i] = pk.acos(v)
        out[14, i] = pk.atan(v)
        out[15, i] = pk.sinh(v)
        out[16, i] = pk.cosh(v)
        out[17, i] = pk.tanh(v)
        out[18, i] = pk.erf(v)
        out[19, i] = pk.erfc(v)


@pk.kernel
def math_module_and_builtins(x, y, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = math.sqrt(x[i])
        out[1, i] = math.exp(x[i])
        out[2, i] = math.floor(y[i])
        out[3, i] = math.atan2(y[i], x[i])
        out[4, i] = abs(y[i])
        out[5, i] = min(x[i], y[i])
        out[6, i] = max(x[i], y[i])
        out[7, i] = math.copysign(x[i], y[i])


@pk.kernel
def binary_math(x, y, z, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = pk.atan2(y[i], x[i])
        out[1, i] = pk.pow(x[i], y[i])
        out[2, i] = pk.hypot(x[i], y[i])
        out[3, i] = pk.copysign(x[i], y[i])
        out[4, i] = pk.fma(x[i], y[i], z[i])
        out[5, i] = pk.min(x[i], y[i])
        out[6, i] = pk.max(x[i], y[i])
        out[7, i] = pk.where(x[i] > y[i], x[i], z[i])
        out[8, i] = x[i] ** y[i]


@pk.kernel
def rounding(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = pk.floor(x[i])
        out[1, i] = pk.ceil(x[i])
        out[2, i] = pk.trunc(x[i])
        out[3, i] = pk.rint(x[i])
        out[4, i] = pk.abs(x[i])


@pk.kernel
def classify(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = pk.isnan(x[i])
        out[1, i] = pk.isinf(x[i])
        out[2, i] = pk.isfinite(x[i])


@pk.kernel
def int_abs_min_max(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out[0, i] = abs(a[i])
        out[1, i] = min(a[i], b[i])
        out[2, i] = max(a[i], b[i])
        out[3, i] = pk.abs(a[i])


def _rtol(dtype):
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-12


def _ref_unary(name, v):
    if name == "rsqrt":
        return 1.0 / math.sqrt(v)
    if name == "exp2":
        return 2.0 ** v
    return getattr(math, name)(v)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_math_functions_match_the_host(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    x = np.linspace(0.05, 0.95, 19).astype(dtype)
    out = np.zeros((len(UNARY), x.size), dtype=dtype)
    run(unary_math, backend, x.size, None, x, out)
    for q, name in enumerate(UNARY):
        expected = np.array([_ref_unary(name, float(v)) for v in x])
        np.testing.assert_allclose(out[q], expected, rtol=_rtol(dtype), atol=1e-30, err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_math_functions_and_where(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    x = np.linspace(0.25, 3.0, 12).astype(dtype)
    y = np.linspace(-2.0, 2.0, 12).astype(dtype)
    z = np.linspace(1.0, -1.0, 12).astype(dtype)
    out = np.zeros((9, 12), dtype=dtype)
    run(binary_math, backend, 12, None, x, y, z, out)
    xd, yd = x.astype(float), y.astype(float)
    rt = _rtol(dtype)
    np.testing.assert_allclose(out[0], np.arctan2(yd, xd), rtol=rt, atol=1e-6, err_msg="atan2")
    np.testing.assert_allclose(out[1], xd ** yd, rtol=rt * 4, err_msg="pow")
    np.testing.assert_allclose(out[2], np.hypot(xd, yd), rtol=rt, err_msg="hypot")
    np.testing.assert_array_equal(out[3], np.copysign(x, y))
    fma = np.array([M.fma(float(a), float(b), float(c), dtype) for a, b, c in zip(x, y, z)], dtype=dtype)
    np.testing.assert_array_equal(out[4], fma)                        # one rounding
    np.testing.assert_array_equal(out[5], np.minimum(x, y))
    np.testing.assert_array_equal(out[6], np.maximum(x, y))
    np.testing.assert_array_equal(out[7], np.where(x > y, x, z))
    np.testing.assert_allclose(out[8], xd ** yd, rtol=rt * 4, err_msg="**")


def test_math_module_and_builtin_spellings(backend, run):
    x = np.array([0.5, 1.0, 4.0, 9.0, 2.25], dtype=np.float32)
    y = np.array([-1.5, 2.5, -0.0, 3.0, -7.25], dtype=np.float32)
    out = np.zeros((8, 5), dtype=np.float32)
    run(math_module_and_builtins, backend, 5, None, x, y, out)
    np.testing.assert_array_equal(out[0], np.sqrt(x))
    np.testing.assert_allclose(out[1], np.exp(x.astype(float)), rtol=2e-5)
    np.testing.assert_array_equal(out[2], np.floor(y))
    np.testing.assert_allclose(out[3], np.arctan2(y.astype(float), x.astype(float)), rtol=2e-5, atol=1e-6)
    np.testing.assert_array_equal(out[4], np.abs(y))
    np.testing.assert_array_equal(out[5], np.minimum(x, y))
    np.testing.assert_array_equal(out[6], np.maximum(x, y))
    np.testing.assert_array_equal(np.signbit(out[7]), np.signbit(y))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floor_ceil_trunc_rint_abs_are_exact(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.7, -2.7, -0.0, 3.0, 1e10 + 0.5, -7.49], dtype=dtype)
    out = np.zeros((5, x.size), dtype=dtype)
    run(rounding, backend, x.size, None, x, out)
    for q, ref in enumerate([np.floor, np.ceil, np.trunc, np.rint, np.abs]):
        np.testing.assert_array_equal(out[q], ref(x), err_msg=ref.__name__)
        np.testing.assert_array_equal(np.signbit(out[q]), np.signbit(ref(x)), err_msg=ref.__name__ + " sign")


def test_isnan_isinf_isfinite(backend, run):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -1.5, 3e38], dtype=np.float32)
    out = np.zeros((3, x.size), dtype=np.bool_)
    run(classify, backend, x.size, None, x, out)
    np.testing.assert_array_equal(out[0], [True, False, False, False, False, False])
    np.testing.assert_array_equal(out[1], [False, True, True, False, False, False])
    np.testing.assert_array_equal(out[2], [False, False, False, True, True, True])


def test_abs_min_max_on_integers(backend, run):
    a = np.array([-5, 3, -(2**31), 2**31 - 1, 0], dtype=np.int32)
    b = np.array([2, -9, 0, -1, 0], dtype=np.int32)
    out = np.zeros((4, 5), dtype=np.int32)
    run(int_abs_min_max, backend, 5, None, a, b, out)
    np.testing.assert_array_equal(out[0], [5, 3, -(2**31), 2**31 - 1, 0])   # abs(INT_MIN) wraps
    np.testing.assert_array_equal(out[1], np.minimum(a, b))
    np.testing.assert_array_equal(out[2], np.maximum(a, b))
    np.testing.assert_array_equal(out[3], out[0])


@pk.kernel
def copysign_of_nans(x, y, z, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = pk.copysign(x[i], y[i])
        out[1, i] = math.copysign(x[i], x[i] % z[i])     # an invalid operation's NaN: -NaN on x86


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_copysign_never_reads_a_nans_sign(backend, run, need_fp64, dtype):
    """docs/semantics.md "Special values": copysign(x, NaN) == |x| whatever the NaN's sign bit."""
    need_fp64(dtype)
    x = np.array([3.0, -3.0, 0.0, -0.0, 1.5, -2.5, -np.inf, 7.0], dtype=dtype)
    y = np.array([np.nan, -np.nan, -np.nan, np.nan, -np.nan, np.nan, -np.nan, -1.0], dtype=dtype)
    z = np.zeros(8, dtype=dtype)
    out = np.full((2, 8), 9.0, dtype=dtype)
    run(copysign_of_nans, backend, 8, None, x, y, z, out)
    expected = np.array([3.0, 3.0, 0.0, 0.0, 1.5, 2.5, np.inf, -7.0], dtype=dtype)
    assert np.signbit(y[1])                    # the input really is a negative NaN
    np.testing.assert_array_equal(out[0], expected)
    assert not np.signbit(out[0][:7]).any()
    np.testing.assert_array_equal(out[1], np.abs(x))
    assert not np.signbit(out[1]).any()


@pk.kernel
def cube_roots(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = pk.cbrt(x[i])
        out[1, i] = math.cbrt(x[i])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cbrt_is_real_for_negative_arguments_and_keeps_special_values(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    x = np.array([27.0, -8.0, 2.0, -1e-3, 1e30, -7e-30, 0.0, -0.0, np.inf, -np.inf, np.nan], dtype=dtype)
    out = np.full((2, x.size), 9.0, dtype=dtype)
    run(cube_roots, backend, x.size, None, x, out)
    finite = slice(0, 6)
    expected = np.array([3.0, -2.0, 2.0 ** (1 / 3), -0.1, 1e10, -math.pow(7e-30, 1 / 3)])
    for row in out:
        np.testing.assert_allclose(row[finite], expected, rtol=_rtol(dtype), atol=0)
        np.testing.assert_array_equal(row[6:10], x[6:10])                 # +-0 and +-inf are their own roots
        assert np.signbit(row[7]) and not np.signbit(row[6]) and np.isnan(row[10])
