"""The semantics model (tests/model/numerics.py) pinned against docs/semantics.md's stated cases and,
where NumPy defines the same behaviour, against NumPy on the host."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.model import numerics as M

INTS = M.INT_TYPES


@pytest.mark.parametrize("t", INTS)
def test_overflowing_add_sub_mul_wrap_twos_complement(t):
    assert M.add(M.int_max(t), 1, t) == M.int_min(t)
    assert M.sub(M.int_min(t), 1, t) == M.int_max(t)
    assert M.mul(M.int_max(t), 2, t) == M.wrap(M.int_max(t) * 2, t)
    assert M.neg(M.int_min(t), t) == M.int_min(t)


def test_floor_division_and_modulo_follow_python_signs():
    assert M.floordiv(-7, 2, "int32") == -4
    assert M.mod(-7, 2, "int32") == 1
    assert M.mod(7, -2, "int32") == -1
    assert M.floordiv(7, -2, "int32") == -4


@pytest.mark.parametrize("t", INTS)
def test_division_and_modulo_by_zero_give_zero(t):
    for x in M.boundary_ints(t):
        assert M.floordiv(x, 0, t) == 0
        assert M.mod(x, 0, t) == 0


@pytest.mark.parametrize("t", ["int8", "int16", "int32", "int64"])
def test_int_min_floordiv_minus_one_is_int_min_with_remainder_zero(t):
    assert M.floordiv(M.int_min(t), -1, t) == M.int_min(t)
    assert M.mod(M.int_min(t), -1, t) == 0


def test_shift_counts_out_of_range():
    assert M.shl(1, 32, "int32") == 0
    assert M.shl(1, -1, "int32") == 0
    assert M.shl(1, 31, "int32") == -(2**31)
    assert M.shr(-8, 40, "int32") == -1
    assert M.shr(8, 40, "int32") == 0
    assert M.shr(-8, -1, "int64") == -1
    assert M.shr(2**32 - 1, 32, "uint32") == 0
    assert M.shr(-8, 1, "int8") == -4


def test_float_to_int_saturates_and_maps_nan_to_zero():
    assert M.float_to_int(math.nan, "int32") == 0
    assert M.float_to_int(1e30, "int32") == 2**31 - 1
    assert M.float_to_int(-1e30, "int32") == -(2**31)
    assert M.float_to_int(-1.0, "uint8") == 0
    assert M.float_to_int(300.0, "uint8") == 255
    assert M.float_to_int(-2.9, "int8") == -2
    assert M.float_to_int(math.inf, "uint64") == 2**64 - 1
    assert M.float_to_int(2.0**63, "int64") == 2**63 - 1
    assert M.float_to_int(-(2.0**63), "int64") == -(2**63)


def test_int_to_float_rounds_to_nearest_even():
    assert M.int_to_float(2**24 + 1, "float32") == 2.0**24          # tie -> even
    assert M.int_to_float(2**24 + 3, "float32") == 2.0**24 + 4      # tie -> even (up)
    assert M.int_to_float(2**53 + 1, "float64") == 2.0**53
    assert M.int_to_float(2**64 - 1, "float32") == 2.0**64
    assert M.int_to_float(-(2**63), "float32") == -(2.0**63)


def test_float_to_float32_rounds_handles_subnormals_and_overflow():
    assert M.f32(1.0 + 2.0**-24) == 1.0
    assert M.f32(1.0 + 3 * 2.0**-24) == 1.0 + 2.0**-22
    assert M.f32(2.0**-149) == 2.0**-149
    assert M.f32(2.0**-151) == 0.0
    flt_max = 3.4028234663852886e38
    tie = flt_max + 2.0**103          # halfway to 2**128: ties to even, i.e. to infinity
    assert M.f32(tie) == math.inf
    assert M.f32(math.nextafter(tie, 0.0)) == flt_max
    assert M.f32(2.0**128) == math.inf
    assert math.copysign(1.0, M.f32(-0.0)) == -1.0


def test_min_max_propagate_nan_and_order_signed_zeros():
    assert math.isnan(M.fmin(math.nan, 1.0)) and math.isnan(M.fmin(1.0, math.nan))
    assert math.isnan(M.fmax(math.nan, 1.0)) and math.isnan(M.fmax(1.0, math.nan))
    for a, b in ((-0.0, 0.0), (0.0, -0.0)):
        assert math.copysign(1.0, M.fmin(a, b)) == -1.0
        assert math.copysign(1.0, M.fmax(a, b)) == 1.0
    assert M.fmin(-1.0, 2.0) == -1.0 and M.fmax(-1.0, 2.0) == 2.0


def test_integer_power_wraps_and_negative_exponent():
    assert M.ipow(2, 31, "int32") == -(2**31)
    assert M.ipow(3, -1, "int32") == 0
    assert M.ipow(-1, -3, "int32") == -1
    assert M.ipow(1, -3, "int32") == 1


# ---- the model agrees with NumPy wherever NumPy defines the same behaviour -------------------
def _np(op, a, b, t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return int(op(np.array([a], dtype=t), np.array([b], dtype=t))[0])


@pytest.mark.parametrize("t", INTS)
@given(data=st.data())
def test_model_integer_ops_match_numpy(t, data):
    v = st.integers(M.int_min(t), M.int_max(t)) | st.sampled_from(M.boundary_ints(t))
    a, b = data.draw(v), data.draw(v)
    assert M.add(a, b, t) == _np(np.add, a, b, t)
    assert M.sub(a, b, t) == _np(np.subtract, a, b, t)
    assert M.mul(a, b, t) == _np(np.multiply, a, b, t)
    assert M.floordiv(a, b, t) == _np(np.floor_divide, a, b, t)
    assert M.mod(a, b, t) == _np(np.remainder, a, b, t)
    assert M.shl(a, b, t) == _np(np.left_shift, a, b, t)
    assert M.shr(a, b, t) == _np(np.right_shift, a, b, t)
    assert M.bitxor(a, b, t) == _np(np.bitwise_xor, a, b, t)


@given(st.integers(-(2**63), 2**64 - 1))
def test_model_int_to_float_matches_numpy_casts(n):
    dt = np.int64 if n < 2**63 else np.uint64
    assert M.int_to_float(n, "float32") == float(np.array([n], dtype=dt).astype(np.float32)[0])
    assert M.int_to_float(n, "float64") == float(np.array([n], dtype=dt).astype(np.float64)[0])


@given(st.floats(allow_nan=False, allow_infinity=True))
def test_model_float64_to_float32_matches_numpy(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = float(np.float32(x))
    got = M.f32(x)
    assert got == expected and math.copysign(1.0, got) == math.copysign(1.0, expected)


@pytest.mark.parametrize("a", list(M.INT_TYPES) + list(M.FLOAT_TYPES) + ["bool"])
@pytest.mark.parametrize("b", list(M.INT_TYPES) + list(M.FLOAT_TYPES) + ["bool"])
def test_model_promotion_matches_numpy_2(a, b):
    assert M.promote(a, b) == np.result_type(np.dtype(a), np.dtype(b)).name


def test_fma_of_exact_zeros_takes_the_ieee_sign() -> None:
    # IEEE 754: (-0) + (-0) is -0; any other exact zero sum is +0 in round-to-nearest.
    assert math.copysign(1.0, M.fma(0.0, -0.0, -0.0, "float64")) == -1.0
    assert math.copysign(1.0, M.fma(1.0, -0.0, -0.0, "float32")) == -1.0
    assert math.copysign(1.0, M.fma(1.0, -0.0, 0.0, "float64")) == 1.0
    assert math.copysign(1.0, M.fma(1.0, -1.0, 1.0, "float64")) == 1.0
