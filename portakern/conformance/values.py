"""Input values of the conformance suite: the special-value table, boundary neighbours, full-range bit
patterns, and Hypothesis strategies for whole input arrays (docs/semantics.md, "What the conformance suite generates").

Every strategy shrinks towards small, ordinary values (bit pattern 0, index 0 of the tables), so a
shrunk reproducer shows the one special value that matters.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from hypothesis import strategies as st

__all__ = ["special_values", "element_strategy", "array_strategy", "INT_DTYPES", "FLOAT_DTYPES", "NUM_DTYPES",
           "HALF_DTYPES", "is_float", "widen"]

INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float32", "float64")
NUM_DTYPES = INT_DTYPES + FLOAT_DTYPES
try:    # registers np.dtype("bfloat16"); the conformance extra runs without it (float16 only)
    import ml_dtypes  # noqa: F401
    HALF_DTYPES: tuple[str, ...] = ("float16", "bfloat16")
except ImportError:  # pragma: no cover - ml_dtypes comes with portakern[all]
    HALF_DTYPES = ("float16",)


def is_float(dt: np.dtype) -> bool:
    """A float dtype, bfloat16 (whose NumPy kind is 'V') included."""
    return dt.kind == "f" or dt.name == "bfloat16"


def widen(a: np.ndarray) -> np.ndarray:
    """A half array as float32 (exact: every half value is a float32); any other array as it is."""
    return a.astype(np.float32) if a.dtype.name in HALF_DTYPES else a


@lru_cache(maxsize=None)
def _half_specials(dtype: str) -> tuple:
    """The float32 table rounded to the half format, plus the format's own edges by bit pattern:
    the smallest and largest denormal, the smallest normal, the largest finite, inf and a NaN."""
    dt = np.dtype(dtype)
    mant = 10 if dtype == "float16" else 7
    top = (1 << (15 - mant)) - 1
    edges = [1, (1 << mant) - 1, 1 << mant, (top << mant) - 1, top << mant, (top << mant) | (1 << (mant - 1))]
    bits = np.array(edges + [b | 0x8000 for b in edges], np.uint16)
    with np.errstate(all="ignore"):
        rounded = np.array(special_values("float32"), np.float32).astype(dt)
    return tuple(bits.view(dt)) + tuple(rounded)


@lru_cache(maxsize=None)
def special_values(dtype: str) -> tuple:
    """The special-value table of ``dtype`` plus the nextafter neighbours of its finite entries."""
    dt = np.dtype(dtype)
    if dtype in HALF_DTYPES:
        return _half_specials(dtype)
    if dt.kind == "b":
        return (np.False_, np.True_)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        width = dt.itemsize * 8
        raw = [0, 1, 2, 3, -1, -2, width - 1, width, width + 1, 2 * width, 7, -7,
               info.min, info.min + 1, info.max, info.max - 1, info.max // 2, info.max // 2 + 1]
        out = []
        for v in raw:
            if info.min <= v <= info.max and v not in out:
                out.append(v)
        return tuple(dt.type(v) for v in out)
    fi = np.finfo(dt)
    t = dt.type
    base = [t(0.0), t(-0.0), t(1.0), t(-1.0), t(0.5), t(2.0), t(-2.0), t(3.0), t(np.inf), t(-np.inf),
            t(np.nan), fi.max, -fi.max, fi.smallest_normal, -fi.smallest_normal, fi.smallest_subnormal,
            -fi.smallest_subnormal, t(10.0), t(-0.75), t(100.0), t(2.0 ** 31), t(-(2.0 ** 31)), t(2.0 ** 63),
            t(2.0 ** 64), t(255.5), t(-128.5), t(0.1), t(np.pi), t(1e-3), t(65504.0)]
    out = list(base)
    with np.errstate(all="ignore"):
        for v in base:
            if np.isfinite(v):
                out.append(np.nextafter(v, t(np.inf)))
                out.append(np.nextafter(v, t(-np.inf)))
    return tuple(out)


def _bits_to(dtype: np.dtype, bits: int):
    raw = np.array([bits], dtype=f"u{dtype.itemsize}")
    return raw.view(dtype)[0]


def element_strategy(dtype: str) -> st.SearchStrategy:
    """One value of ``dtype``: a special value, a full-range random bit pattern, or (floats) an
    ordinary value of moderate size, where the transcendental functions are interesting."""
    dt = np.dtype(dtype)
    specials = st.sampled_from(special_values(dtype))
    if dt.kind == "b":
        return specials
    nbits: Any = dt.itemsize * 8
    pattern = st.integers(0, 2 ** nbits - 1).map(lambda b: _bits_to(dt, b))
    if dt.kind in "iu":
        info = np.iinfo(dt)
        small = st.integers(max(info.min, -40), min(info.max, 40)).map(dt.type)
        return st.one_of(small, specials, pattern)
    if dtype in HALF_DTYPES:      # ordinary values (float32s rounded once to the format) and denormals
        moderate = st.floats(-30.0, 30.0, width=32).map(lambda v: np.float32(v).astype(dt))
        mant = 10 if dtype == "float16" else 7
        denormal = st.integers(1, (1 << mant) - 1).flatmap(
            lambda m: st.sampled_from([m, m | 0x8000])).map(lambda b: _bits_to(dt, b))
        return st.one_of(moderate, specials, pattern, denormal)
    moderate = st.floats(-30.0, 30.0, width=nbits).map(dt.type)
    unit = st.floats(-1.0, 1.0, width=nbits).map(dt.type)
    core = st.sampled_from([dt.type(v) for v in (0.0, np.nan, -0.0, np.inf, -np.inf)])
    return st.one_of(moderate, specials, pattern, unit, core)


def array_strategy(dtype: str, n: int) -> st.SearchStrategy:
    """A 1-D NumPy array of ``n`` elements of ``dtype`` drawn element by element."""
    return st.lists(element_strategy(dtype), min_size=n, max_size=n).map(
        lambda xs: np.array(xs, dtype=np.dtype(dtype)))
