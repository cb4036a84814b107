"""Types, casts, NEP 50 typing of expressions, unification and generic kernels."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

ALL_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float32", "float64"]


@pk.kernel
def generic_copy(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i]


@pk.kernel
def copy_every_type(x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11):
    i = pk.global_id(0)
    if i < x1.shape[0]:
        o1[i] = x1[i]
        o2[i] = x2[i]
        o3[i] = x3[i]
        o4[i] = x4[i]
        o5[i] = x5[i]
        o6[i] = x6[i]
        o7[i] = x7[i]
        o8[i] = x8[i]
        o9[i] = x9[i]
        o10[i] = x10[i]
        o11[i] = x11[i]


@pk.kernel
def casts(f, n, out_i8, out_u8, out_i32, out_f32, out_b, out_u64):
    i = pk.global_id(0)
    if i < f.shape[0]:
        out_i8[i] = pk.int8(n[i])
        out_u8[i] = pk.uint8(f[i])
        out_i32[i] = pk.int32(f[i])
        out_f32[i] = pk.float32(f[i])
        out_b[i] = pk.bool_(f[i])
        out_u64[i] = pk.uint64(n[i])


@pk.kernel
def weak_literals(x, n, out_f, out_i):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out_f[i] = x[i] * 0.1          # float32 * weak float -> float32 product
        out_i[i] = n[i] + 1            # int32 + weak int -> int32, wraps


@pk.kernel
def true_division_of_ints(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out[i] = a[i] / b[i]


@pk.kernel
def mixed_sign_promotion(u, s, out):
    i = pk.global_id(0)
    if i < u.shape[0]:
        out[i] = u[i] + s[i]


@pk.kernel
def more_promotions(u8, i8, u64, i64, f32, out16, outf):
    i = pk.global_id(0)
    if i < u8.shape[0]:
        out16[i] = u8[i] + i8[i]        # uint8 + int8 -> int16: no wrap at 8 bits
        outf[0, i] = u64[i] + i64[i]    # uint64 + int64 -> float64
        outf[1, i] = f32[i] + i64[i]    # float32 + int64 -> float64
        outf[2, i] = f32[i] + u8[i]     # float32 + uint8 -> float32


@pk.kernel
def unified_variable(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        y = 0
        if x[i] > 0:
            y = 1.5
        out[i] = y


@pk.kernel
def float32_accumulator(x, out):
    if pk.global_id(0) == 0:
        acc = pk.float32(0)
        for k in range(x.shape[0]):
            acc += x[k]
        out[0] = acc


@pk.kernel
def generic_axpy(a, x, y, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = a * x[i] + y[i]


def _type_samples(dtype: str) -> np.ndarray:
    if dtype == "bool":
        return np.array([True, False, True, True, False])
    if np.dtype(dtype).kind == "f":
        return np.array([0.0, -1.5, 3.25, np.inf, -0.0], dtype=dtype)
    info = np.iinfo(dtype)
    return np.array([info.min, info.max, 0, 1, info.max // 3], dtype=dtype)


def test_every_type_round_trips_through_a_generic_kernel(backend, run, need_fp64):
    need_fp64("float64")
    xs = [_type_samples(d) for d in ALL_DTYPES]
    outs = [np.zeros_like(x) for x in xs]
    run(copy_every_type, backend, 5, None, *xs, *outs)
    for d, x, out in zip(ALL_DTYPES, xs, outs):
        assert out.dtype == x.dtype
        assert out.tobytes() == x.tobytes(), f"{d}: {out} != {x}"


def test_calling_a_type_casts_by_the_numbers_contract(backend, run, need_fp64):
    need_fp64("float64")
    f = np.array([2.9, -2.9, 300.0, -1.0, np.nan, 1e300, 0.1, 0.0], dtype=np.float64)
    n = np.array([127, 128, 255, -1, 256, -129, 2**40, 0], dtype=np.int64)
    outs = [np.zeros(8, dtype=d) for d in ("int8", "uint8", "int32", "float32", "bool", "uint64")]
    run(casts, backend, 8, None, f, n, *outs)
    np.testing.assert_array_equal(outs[0], n.astype(np.int8))                     # int -> int wraps
    np.testing.assert_array_equal(outs[1], [2, 0, 255, 0, 0, 255, 0, 0])          # saturates, NaN -> 0
    np.testing.assert_array_equal(outs[2], [2, -2, 300, -1, 0, 2**31 - 1, 0, 0])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(outs[3], f.astype(np.float32))              # round to nearest even
    np.testing.assert_array_equal(outs[4], [True, True, True, True, True, True, True, False])
    np.testing.assert_array_equal(outs[5], n.astype(np.uint64))


def test_python_literals_are_weak_nep50(backend, run):
    x = np.array([1.0, 3.0, 7.0, 1e-3], dtype=np.float32)
    n = np.array([2**31 - 1, 0, -5, 7], dtype=np.int32)
    out_f = np.zeros(4, dtype=np.float64)
    out_i = np.zeros(4, dtype=np.int64)
    run(weak_literals, backend, 4, None, x, n, out_f, out_i)
    np.testing.assert_array_equal(out_f, (x * np.float32(0.1)).astype(np.float64))   # float32 product
    np.testing.assert_array_equal(out_i, [-(2**31), 1, -4, 8])                          # wrapped in int32


def test_true_division_of_ints_gives_float64(backend, run, need_fp64):
    need_fp64("float64")
    a = np.array([1, 2, -7, 10], dtype=np.int32)
    b = np.array([3, 3, 2, 0], dtype=np.int32)
    out = np.zeros(4, dtype=np.float64)
    run(true_division_of_ints, backend, 4, None, a, b, out)
    np.testing.assert_array_equal(out, [1 / 3, 2 / 3, -3.5, np.inf])


def test_uint32_plus_int32_promotes_to_int64(backend, run):
    u = np.array([4_000_000_000, 0, 2**32 - 1], dtype=np.uint32)
    s = np.array([1, -1, 1], dtype=np.int32)
    out = np.zeros(3, dtype=np.int64)
    run(mixed_sign_promotion, backend, 3, None, u, s, out)
    np.testing.assert_array_equal(out, [4_000_000_001, -1, 2**32])


def test_mixed_kind_promotions_follow_numpy_2(backend, run, need_fp64):
    need_fp64("float64")
    u8 = np.array([200, 255, 0, 7], np.uint8)
    i8 = np.array([100, -128, -1, 7], np.int8)
    u64 = np.array([2**64 - 1, 2**63, 0, 12345], np.uint64)
    i64 = np.array([-1, -(2**63), 2**62 + 1, 3], np.int64)
    f32 = np.array([0.1, 1e30, -2.5, 16777216.0], np.float32)
    out16 = np.zeros(4, np.int16)
    outf = np.zeros((3, 4), np.float64)
    run(more_promotions, backend, 4, None, u8, i8, u64, i64, f32, out16, outf)
    np.testing.assert_array_equal(out16, u8.astype(np.int16) + i8.astype(np.int16))
    np.testing.assert_array_equal(outf[0], u64.astype(np.float64) + i64.astype(np.float64))
    np.testing.assert_array_equal(outf[1], f32.astype(np.float64) + i64.astype(np.float64))
    np.testing.assert_array_equal(outf[2], (f32 + u8).astype(np.float64))       # float32 arithmetic
    assert (f32 + u8).dtype == np.float32


def test_numpy_scalars_keep_their_dtype(backend, run):
    x = np.array([3, -2, 1], np.int8)
    y = np.ones(3, np.int8)
    out = np.zeros(3, np.int8)
    run(generic_axpy, backend, 3, None, np.int8(100), x, y, out)
    np.testing.assert_array_equal(out, (np.int8(100) * x + y).astype(np.int8))     # wraps in int8
    wide = np.zeros(3, np.int64)
    run(generic_axpy, backend, 3, None, np.int64(100), x, y, wide)
    np.testing.assert_array_equal(wide, 100 * x.astype(np.int64) + 1)             # int64 * int8 -> int64


@pk.kernel
def literal_out_of_range(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i] + 300


def test_a_python_int_that_does_not_fit_the_other_operand_is_a_compile_error(backend, run):
    # NEP 50: np.int8(1) + 300 raises OverflowError in NumPy 2; a kernel refuses it at compile time
    x = np.zeros(4, np.int8)
    with pytest.raises(pk.CompileError) as info:
        run(literal_out_of_range, backend, 4, None, x, np.zeros(4, np.int32))
    assert "300" in str(info.value) and "int8" in str(info.value)


def test_a_variable_unifies_the_types_of_its_assignments(backend, run):
    x = np.array([1.0, -1.0], dtype=np.float32)
    out = np.zeros(2, dtype=np.float64)
    run(unified_variable, backend, 2, None, x, out)
    np.testing.assert_array_equal(out, [1.5, 0.0])


def test_float32_accumulator_stays_float32(backend, run):
    x = np.array([1.0, 1e-8, 1e-8, 1e-8, 1e-8], dtype=np.float32)
    out = np.zeros(1, dtype=np.float64)
    run(float32_accumulator, backend, 1, None, x, out)
    acc = np.float32(0)
    for v in x:
        acc = np.float32(acc + v)
    assert out[0] == float(acc) and out[0] != float(x.astype(np.float64).sum())


@pytest.mark.parametrize("dtype", ["int32", "float32", "float64"])
def test_one_generic_kernel_serves_several_dtypes(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    x = np.arange(6).astype(dtype)
    y = np.ones(6, dtype=dtype)
    out = np.zeros(6, dtype=dtype)
    a = np.dtype(dtype).type(3)
    run(generic_axpy, backend, 6, None, a, x, y, out)
    np.testing.assert_array_equal(out, a * x + y)
    assert out.dtype == np.dtype(dtype)
