"""Tier-0 comparison helpers shared by the behaviour and semantics tests."""
from __future__ import annotations

import numpy as np


def canonical_bits(a: np.ndarray) -> np.ndarray:
    """The array's bit patterns with every NaN mapped to one canonical NaN (tier-0 comparison)."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return a.copy()
    a = a.copy()
    a[np.isnan(a)] = np.nan
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def assert_bits_equal(got: np.ndarray, expected: np.ndarray, context: str = "") -> None:
    """Assert bit-for-bit equality (NaNs canonical, -0.0 != +0.0), showing the first mismatches."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, f"{context}: dtype {got.dtype} != {expected.dtype}"
    bad = np.nonzero(canonical_bits(got).ravel() != canonical_bits(expected).ravel())[0]
    if bad.size:
        rows = [f"  [{k}] got {got.ravel()[k]!r} expected {expected.ravel()[k]!r}" for k in bad[:8]]
        raise AssertionError(f"{context}: {bad.size} of {got.size} differ\n" + "\n".join(rows))
