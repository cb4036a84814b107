"""The shared vectorised semantics (portakern.codegen.vector_numerics) against the pure-Python
model of docs/semantics.md (tests/model), over boundary values of every integer type, on NumPy."""
from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from portakern.codegen import vector_numerics as vn
from tests.model import numerics as model

INTS = model.INT_TYPES


def _pairs(t: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    vals = model.boundary_ints(t)
    pairs = list(itertools.product(vals, vals))
    a = np.array([p[0] for p in pairs], dtype=t)
    b = np.array([p[1] for p in pairs], dtype=t)
    return a, b, pairs


def _check(got: np.ndarray, pairs: list, fn, t: str) -> None:
    expected = [fn(x, y, t) for x, y in pairs]
    bad = [(p, int(g), e) for p, g, e in zip(pairs, got.tolist(), expected) if int(g) != e]
    assert not bad, f"{t}: first mismatches (args, got, expected): {bad[:5]}"


@pytest.mark.parametrize("t", INTS)
def test_floor_division_by_zero_and_int_min_by_minus_one_follow_the_contract(t):
    a, b, pairs = _pairs(t)
    with np.errstate(all="ignore"):
        _check(vn.floordiv_int(np, a, b, t), pairs, model.floordiv, t)


@pytest.mark.parametrize("t", INTS)
def test_modulo_takes_the_divisor_sign_and_is_zero_for_zero_divisor(t):
    a, b, pairs = _pairs(t)
    with np.errstate(all="ignore"):
        _check(vn.mod_int(np, a, b, t), pairs, model.mod, t)


@pytest.mark.parametrize("t", INTS)
def test_shifts_by_out_of_range_counts_give_zero_or_sign_fill(t):
    a, b, pairs = _pairs(t)
    with np.errstate(all="ignore"):
        _check(vn.shl(np, a, b, t), pairs, model.shl, t)
        _check(vn.shr(np, a, b, t), pairs, model.shr, t)


@pytest.mark.parametrize("t", ["int8", "int32", "uint16", "int64", "uint64"])
def test_integer_power_wraps_and_negative_exponents_give_zero_unless_unit_base(t):
    vals = [v for v in model.boundary_ints(t)] + [2, 3, -2, -1] * model.signed(t)
    vals = [v for v in vals if model.int_min(t) <= v <= model.int_max(t)]
    exps = [0, 1, 2, 3, 7, 63, 64, -1, -2] if model.signed(t) else [0, 1, 2, 3, 7, 63, 64]
    pairs = list(itertools.product(vals, exps))
    a = np.array([p[0] for p in pairs], dtype=t)
    e = np.array([p[1] for p in pairs], dtype=t)
    with np.errstate(all="ignore"):
        _check(vn.pow_int(np, a, e, t), pairs, model.ipow, t)


SPECIAL = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e10, -1e10, 3e38, -3e38, float("inf"), float("-inf"),
           float("nan"), 2.0**31, -2.0**31, 2.0**31 - 128, 2.0**32, 2.0**63, -2.0**63, 2.0**64, 255.9, -128.5]


@pytest.mark.parametrize("src", ["float32", "float64"])
@pytest.mark.parametrize("dst", INTS)
def test_float_to_int_saturates_and_maps_nan_to_zero(src, dst):
    x = np.array(SPECIAL, dtype=src)
    with np.errstate(all="ignore"):
        got = vn.cast(np, x, src, dst)
    expected = [model.float_to_int(float(v), dst) for v in x]
    assert got.dtype == np.dtype(dst)
    assert got.tolist() == expected


def test_min_max_propagate_nan_and_order_signed_zeros():
    a = np.array([0.0, -0.0, np.nan, 1.0, -1.0, 0.0], dtype=np.float32)
    b = np.array([-0.0, 0.0, 1.0, np.nan, -1.0, 0.0], dtype=np.float32)
    lo, hi = vn.fmin(np, a, b), vn.fmax(np, a, b)
    for x, y, g, h in zip(a.tolist(), b.tolist(), lo.tolist(), hi.tolist()):
        for got, exp in ((g, model.fmin(x, y)), (h, model.fmax(x, y))):
            assert (np.isnan(got) and np.isnan(exp)) or (got == exp and np.signbit(got) == np.signbit(exp))


def _bits(x):
    return np.asarray(x, dtype=np.float64).view(np.int64)


def _rand_floats(rng: random.Random, n: int, t: str) -> list[float]:
    out = []
    for _ in range(n):
        if t == "float32":
            out.append(float(np.float32(rng.uniform(-1, 1) * 2.0 ** rng.randint(-30, 30))))
        else:
            out.append(rng.uniform(-1, 1) * 2.0 ** rng.randint(-200, 200))
    return out


@pytest.mark.parametrize("t", ["float32", "float64"])
def test_fma_rounds_once_like_exact_arithmetic(t):
    rng = random.Random(1234)
    a = _rand_floats(rng, 3000, t)
    b = _rand_floats(rng, 3000, t)
    # c near -a*b makes cancellation and the double-rounding cases that a naive a*b+c gets wrong
    c = [float(np.dtype(t).type(-x * y * (1 + rng.uniform(-1e-6, 1e-6)))) if i % 2 else z
         for i, (x, y, z) in enumerate(zip(a, b, _rand_floats(rng, 3000, t)))]
    A, B, C = (np.array(v, dtype=t) for v in (a, b, c))
    with np.errstate(all="ignore"):
        if t == "float32":
            got = vn.fma32(np, A, B, C, _bits)
        else:
            got, unsafe = vn.fma64(np, A, B, C, _bits)
            assert not unsafe.any()
    expected = np.array([model.fma(x, y, z, t) for x, y, z in zip(a, b, c)], dtype=t)
    mism = np.flatnonzero(got.view(f"u{got.itemsize}") != expected.view(f"u{got.itemsize}"))
    assert mism.size == 0, [(a[i], b[i], c[i], got[i], expected[i]) for i in mism[:5]]


def test_fma32_halfway_case_is_not_double_rounded():
    # a*b + c lies exactly between two float32 values after float64 rounding would tie: pick
    # a*b = 1 + 2**-24 + 2**-60 style values: (1 + 2**-12)**2 = 1 + 2**-11 + 2**-24 exactly.
    a = np.float32(1 + 2.0**-12)
    c = np.float32(-(2.0**-11))
    got = vn.fma32(np, a, a, c, _bits)
    assert float(got) == model.fma(float(a), float(a), float(c), "float32")


def test_generic_float_floor_division_and_remainder_match_numpy_including_signed_zeros():
    vals = [7.5, -7.5, 1.0, -0.0, 0.0, 1e6, 3.0, -3.0, 0.375, -0.5, np.inf, -np.inf, np.nan, 1e-300]
    a = np.array([x for x in vals for _ in vals])
    b = np.array([y for _ in vals for y in vals])
    with np.errstate(all="ignore"):
        for got, exp in ((vn.floordiv_float(np, a, b), np.floor_divide(a, b)),
                         (vn.mod_float(np, a, b), np.remainder(a, b))):
            same = (got == exp) & (np.signbit(got) == np.signbit(exp)) | (np.isnan(got) & np.isnan(exp))
            assert same.all(), list(zip(a[~same], b[~same], got[~same], exp[~same]))[:5]
