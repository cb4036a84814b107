"""The oracle's comparisons: bit-exact tier 0 and ULP-bounded tier 1, aware of each backend's declared
capabilities (docs/semantics.md).

- Tier 0: bits compared after mapping every NaN to one NaN; -0.0 differs from +0.0. On a backend that
  flushes denormals, work-items that touched a subnormal are not compared (the OpenCL conformance
  rule). On one that contracts ``a*b+c``, a value may differ by the bound the model computed.
- Tier 1: the error in ulp of the exact result, ``|got - exact| / ulp(exact)``, against a correctly
  rounded reference: float64 for float32 inputs (on the exact input), mpmath for float64. Results
  that are exactly zero, infinite or NaN (C99 Annex F cases such as ``exp(-inf) = +0``) must match
  exactly, sign of zero included.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ir import optable
from .model import Outcome
from .values import widen

__all__ = ["ExactResult", "compare_exact", "tier1_reference", "ulp_errors", "CEILINGS", "atomic_float_ok"]

#: docs/semantics.md ceilings in ulp (float32 and float64 alike), from the op table.
CEILINGS: dict[str, float] = {s.name: float(s.ulp or 0) for s in optable.TIER1}


@dataclass
class ExactResult:
    """Outcome of a tier-0 comparison of one array."""

    compared: int
    exact: int
    bad: np.ndarray            # indices of elements outside the contract


def _float_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    uint = np.dtype(f"u{a.dtype.itemsize}")
    return (a.view(uint) == b.view(uint)) | (np.isnan(a) & np.isnan(b))


def compare_exact(expected: np.ndarray, got: np.ndarray, facts: Outcome | None, *, flushes: bool = False,
                  contracts: bool = False) -> ExactResult:
    """Compare ``got`` with ``expected`` by the tier-0 rules and the backend's capabilities (half
    arrays as their exact float32 values)."""
    expected = np.ascontiguousarray(expected)
    got = np.ascontiguousarray(np.asarray(got))
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return ExactResult(expected.size, 0, np.arange(expected.size))
    expected, got = widen(expected), widen(got)
    if expected.dtype.kind == "f":
        eq = _float_equal(expected, got)
    else:
        eq = expected == got
    check = np.ones(expected.shape, bool)
    if facts is not None and flushes:
        tiny = np.finfo(expected.dtype).smallest_normal if expected.dtype.kind == "f" else 0
        sub = facts.sub
        if expected.dtype.kind == "f":
            sub = sub | ((expected != 0) & (np.abs(expected) < tiny))
        check &= ~sub
    ok = eq.copy()
    if facts is not None and contracts:
        inf = ~np.isfinite(facts.err)
        check &= ~inf
        loose = (facts.err > 0) & ~inf
        if expected.dtype.kind == "f" and loose.any():
            with np.errstate(all="ignore"):
                diff = np.abs(expected.astype(np.float64) - got.astype(np.float64))
            ok |= loose & (diff <= facts.err)
    bad = np.nonzero(check & ~ok)[0]
    return ExactResult(int(check.sum()), int((check & eq).sum()), bad)


# ------------------------------------------------------------------------------------------ tier 1
_F64: dict[str, Callable[..., np.ndarray]] = {s.name: s.reference() for s in optable.TIER1}


def _mp_funcs() -> dict[str, Callable]:
    import mpmath as mp

    return {s.name: s.mpmath(mp) for s in optable.TIER1}


def tier1_reference(op: str, args: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """(reference as float64, exact-minus-reference correction or None).

    For float32 arguments the float64 result is the reference (its own error is ~2^-29 ulp of
    float32). For float64 arguments mpmath evaluates at 120 bits where the float64 result is finite and
    nonzero; the correction (exact - float64 reference, as float64) keeps the sub-ulp part.
    """
    with np.errstate(all="ignore"):        # (a signalling NaN argument warns as it widens)
        a64 = [np.asarray(a).astype(np.float64) for a in args]
        ref = np.asarray(_F64[op](*a64), dtype=np.float64)
    if args[0].dtype != np.float64:
        return ref, None
    import mpmath as mp

    fn = _mp_funcs()[op]
    corr = np.zeros(ref.shape)
    ok = np.isfinite(ref) & (ref != 0)
    for a in a64:
        ok &= np.isfinite(a) & (a != 0)       # mpmath has no -0.0: NumPy's C99 result is exact there
    with mp.workprec(120):
        for k in np.nonzero(ok)[0]:
            try:
                exact = fn(*[mp.mpf(float(a[k])) for a in a64])
            except (ValueError, ZeroDivisionError):
                continue
            if isinstance(exact, mp.mpc):
                continue
            if exact == 0:
                ref[k], corr[k] = 0.0, 0.0
                continue
            try:
                r = float(exact)
            except OverflowError:
                r = math.copysign(math.inf, float(mp.sign(exact)))
            ref[k] = r
            if math.isfinite(r):
                corr[k] = float(exact - mp.mpf(r))
    return ref, corr


def ulp_errors(op: str, args: list[np.ndarray], got: np.ndarray, *, flushes: bool = False) -> np.ndarray:
    """The error of ``got`` in ulp of the exact result, per element (NaN where not compared)."""
    dtype = np.dtype(got.dtype)
    if dtype.kind != "f":
        return np.full(got.shape, np.inf)
    p, emin, emax = (24, -126, 128) if dtype == np.float32 else (53, -1022, 1024)
    ref, corr = tier1_reference(op, args)
    g = got.astype(np.float64)
    with np.errstate(all="ignore"):
        target = ref.astype(dtype)                       # the reference rounded to the target type
        _, e = np.frexp(np.where(np.isfinite(ref) & (ref != 0), ref, 1.0))
        ulp = np.ldexp(1.0, np.clip(e - 1, emin, emax - 1) - (p - 1))
        diff = g - ref
        if corr is not None:
            diff = diff - corr
        err = np.abs(diff) / ulp
        same = (np.isnan(ref) & np.isnan(g)) | ((g == ref) & (np.signbit(g) == np.signbit(ref)))
        special = ~np.isfinite(ref) | (ref == 0) | ~np.isfinite(g) | np.isnan(g)
        err = np.where(special, np.where(same, 0.0, np.inf), err)
        # a finite exact result that rounds to infinity in the target type: infinity is correct
        over = np.isfinite(ref) & np.isinf(target) & (g == target)
        err = np.where(over, 0.0, err)
        if flushes:
            tiny = np.finfo(dtype).smallest_normal
            skip = (np.abs(ref) < tiny) & (ref != 0)
            for a in args:
                skip |= (np.abs(a) < tiny) & (a != 0)
            err = np.where(skip, np.nan, err)
    return err


def atomic_float_ok(expected: np.ndarray, got: np.ndarray, contributions: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Float atomics have no order: each bucket must be within n * eps * sum|x_i| of the reference."""
    eps = np.finfo(expected.dtype).eps
    mag = np.abs(expected.astype(np.float64)).copy()
    cnt = np.zeros(expected.shape)
    np.add.at(mag, idx, np.abs(contributions.astype(np.float64)))
    np.add.at(cnt, idx, 1.0)
    with np.errstate(all="ignore"):
        diff = np.abs(expected.astype(np.float64) - got.astype(np.float64))
        ok = (diff <= (cnt + 1) * eps * mag) | _float_equal(expected, got)
    return ok
