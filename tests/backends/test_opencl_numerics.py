"""The C-family prelude keeps docs/semantics.md on the opencl backend (PoCL): every helper's edge cases.

Expected values come from Python's own integer/float semantics (or NumPy where NumPy is the
contract), written out here, never from portakern.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import portakern as pk

pytestmark = pytest.mark.filterwarnings("ignore")

INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def _opencl() -> None:
    if "opencl" not in pk.available_backends():
        pytest.skip("opencl backend unavailable")


@pk.kernel
def int_ops(a, b, fd, md, shl, shr, add, sub, mul, neg, ab, mn, mx):
    i = pk.global_id(0)
    if i < a.shape[0]:
        x = a[i]
        y = b[i]
        fd[i] = x // y
        md[i] = x % y
        shl[i] = x << y
        shr[i] = x >> y
        add[i] = x + y
        sub[i] = x - y
        mul[i] = x * y
        neg[i] = -x
        ab[i] = abs(x)
        mn[i] = min(x, y)
        mx[i] = max(x, y)


def _int_values(dt: type) -> list[int]:
    info = np.iinfo(dt)
    w = info.bits
    vals = {0, 1, 2, 3, 7, w - 1, w, w + 1, info.max, info.max - 1, info.min, info.min + 1}
    if info.min < 0:
        vals |= {-1, -2, -3, -7, -w}
    return sorted(v for v in vals if info.min <= v <= info.max)


def _wrap(v: int, dt: type) -> int:
    info = np.iinfo(dt)
    v &= (1 << info.bits) - 1
    return v - (1 << info.bits) if info.min < 0 and v > info.max else v


def _py_floordiv(x: int, y: int) -> int:
    return 0 if y == 0 else x // y


def _py_mod(x: int, y: int) -> int:
    return 0 if y == 0 else x % y


@pytest.mark.parametrize("dt", INT_TYPES, ids=lambda d: np.dtype(d).name)
def test_integer_ops_wrap_floor_and_guard_shifts_like_python(dt):
    _opencl()
    vals = _int_values(dt)
    pairs = list(itertools.product(vals, vals))
    a = np.array([p[0] for p in pairs], dtype=dt)
    b = np.array([p[1] for p in pairs], dtype=dt)
    outs = [np.zeros_like(a) for _ in range(11)]
    int_ops.on("opencl")[a.size](a, b, *outs)
    bits = np.iinfo(dt).bits
    signed = np.iinfo(dt).min < 0
    for k, (x, y) in enumerate(pairs):
        shl = 0 if not 0 <= y < bits else x << y
        shr = (-1 if x < 0 else 0) if not 0 <= y < bits else x >> y
        want = [_py_floordiv(x, y), _py_mod(x, y), shl, shr, x + y, x - y, x * y, -x,
                abs(x) if signed else x, min(x, y), max(x, y)]
        got = [int(o[k]) for o in outs]
        assert got == [_wrap(w, dt) for w in want], (x, y)


@pk.kernel
def float_ops(a, b, fd, md, mn, mx):
    i = pk.global_id(0)
    if i < a.shape[0]:
        fd[i] = a[i] // b[i]
        md[i] = a[i] % b[i]
        mn[i] = min(a[i], b[i])
        mx[i] = max(a[i], b[i])


def _same(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Bitwise equal, any NaN matching any NaN (docs/semantics.md), -0.0 distinct from +0.0."""
    return (np.isnan(got) & np.isnan(want)) | ((got == want) & (np.signbit(got) == np.signbit(want)))


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])
def test_float_floordiv_mod_min_max_match_numpy_on_special_values(dt):
    _opencl()
    specials = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 7.25, -7.25, 1e-30, np.inf, -np.inf, np.nan,
                np.finfo(dt).max, -np.finfo(dt).max, np.finfo(dt).tiny, np.finfo(dt).smallest_subnormal]
    pairs = list(itertools.product(specials, specials))
    rng = np.random.default_rng(1)
    a = np.array([p[0] for p in pairs] + list(rng.normal(0, 100, 200)), dtype=dt)
    b = np.array([p[1] for p in pairs] + list(rng.normal(0, 10, 200)), dtype=dt)
    fd, md, mn, mx = (np.zeros_like(a) for _ in range(4))
    float_ops.on("opencl")[a.size](a, b, fd, md, mn, mx)
    with np.errstate(all="ignore"):
        assert _same(fd, np.floor_divide(a, b)).all()
        assert _same(md, np.remainder(a, b)).all()
        # NaN-propagating like np.minimum, but the contract orders -0.0 < +0.0 (NumPy returns
        # its second argument on a tie), so zero pairs are decided by sign here.
        zeros = (a == 0) & (b == 0)
        want_mn = np.where(zeros, np.where(np.signbit(a) | np.signbit(b), dt(-0.0), dt(0.0)), np.minimum(a, b))
        want_mx = np.where(zeros, np.where(np.signbit(a) & np.signbit(b), dt(-0.0), dt(0.0)), np.maximum(a, b))
        assert _same(mn, want_mn).all()
        assert _same(mx, want_mx).all()


@pk.kernel
def to_ints(x, i8, i16, i32, i64, u8, u16, u32, u64, b):
    i = pk.global_id(0)
    if i < x.shape[0]:
        v = x[i]
        i8[i] = pk.int8(v)
        i16[i] = pk.int16(v)
        i32[i] = pk.int32(v)
        i64[i] = pk.int64(v)
        u8[i] = pk.uint8(v)
        u16[i] = pk.uint16(v)
        u32[i] = pk.uint32(v)
        u64[i] = pk.uint64(v)
        b[i] = pk.bool_(v)


def _saturate(v: float, dt: type) -> int:
    info = np.iinfo(dt)
    if math.isnan(v):
        return 0
    if v <= info.min:
        return int(info.min)
    if v >= info.max:
        return int(info.max)
    return int(v)               # truncation toward zero


@pytest.mark.parametrize("ft", [np.float32, np.float64], ids=["float32", "float64"])
def test_float_to_int_saturates_and_maps_nan_to_zero(ft):
    _opencl()
    vals = [0.0, -0.0, 0.7, -0.7, -1.0, 1.5, -1.5, 127.9, 128.0, -128.9, -129.0, 255.5, 256.0,
            32767.5, 32768.0, -32769.0, 65535.9, 65536.0, 2.0 ** 31, -(2.0 ** 31), 2.0 ** 31 - 1,
            2.0 ** 32, 2.0 ** 63, -(2.0 ** 63), 2.0 ** 64, 1e30, -1e30, np.inf, -np.inf, np.nan,
            float(np.nextafter(ft(2.0 ** 31), ft(0))), float(np.nextafter(ft(2.0 ** 63), ft(0)))]
    x = np.array(vals, dtype=ft)
    outs = [np.zeros(x.size, dt) for dt in INT_TYPES] + [np.zeros(x.size, np.bool_)]
    to_ints.on("opencl")[x.size](x, *outs)
    for dt, o in zip(INT_TYPES, outs):
        assert [int(v) for v in o] == [_saturate(float(v), dt) for v in x], np.dtype(dt).name
    assert list(outs[-1]) == [bool(v != 0) or bool(np.isnan(v)) for v in x]


@pk.kernel
def int_pow(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out[i] = a[i] ** b[i]


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.uint8], ids=["int32", "int64", "uint8"])
def test_integer_power_wraps_and_negative_exponents_give_zero_unless_unit_base(dt):
    _opencl()
    signed = np.iinfo(dt).min < 0
    bases = [0, 1, 2, 3, 7, 100] + ([-1, -2, -3] if signed else [])
    exps = [0, 1, 2, 5, 31, 64, 65] + ([-1, -2, -3] if signed else [])
    pairs = list(itertools.product(bases, exps))
    a = np.array([p[0] for p in pairs], dt)
    b = np.array([p[1] for p in pairs], dt)
    out = np.zeros_like(a)
    int_pow.on("opencl")[a.size](a, b, out)
    for k, (x, y) in enumerate(pairs):
        want = (1 if x == 1 else (-1) ** (-y) if x == -1 else 0) if y < 0 else _wrap(x ** y, dt)
        assert int(out[k]) == want, (x, y)


@pk.kernel
def fused_candidate(a, b, c, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out[i] = a[i] * b[i] + c[i]


def test_multiply_add_is_not_contracted_into_fma():
    _opencl()
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=4096).astype(np.float32) for _ in range(3))
    out = np.zeros_like(a)
    fused_candidate.on("opencl")[a.size](a, b, c, out)
    np.testing.assert_array_equal(out, a * b + c)     # NumPy rounds the product, then the sum


@pk.kernel
def divide_sqrt(a, b, q, s):
    i = pk.global_id(0)
    if i < a.shape[0]:
        q[i] = a[i] / b[i]
        s[i] = pk.sqrt(a[i])


def test_float32_division_and_sqrt_are_correctly_rounded():
    _opencl()
    rng = np.random.default_rng(2)
    a = np.abs(rng.normal(size=8192)).astype(np.float32) * np.float32(1e3)
    b = rng.normal(size=8192).astype(np.float32)
    q, s = np.zeros_like(a), np.zeros_like(a)
    divide_sqrt.on("opencl")[a.size](a, b, q, s)
    np.testing.assert_array_equal(q, a / b)
    np.testing.assert_array_equal(s, np.sqrt(a))
