"""docs/semantics.md's total semantics written once over an array namespace ``xp`` (numpy or jax.numpy).

Every function takes lane values (arrays or scalars of the IR type, already equal types) and
returns the contract's result: no undefined behaviour, no exceptions, NaN and signed zeros as the
contract says. The backends' lane-operation objects call these; nothing here imports jax.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..types import bfloat16

__all__ = ["floordiv_int", "mod_int", "pow_int", "shl", "shr", "cast", "fmin", "fmax", "fma32",
           "fma64", "fma64_scaled", "round_to_odd_sum"]

Array = Any


def _info(tname: str) -> tuple[np.dtype, int, int, int, bool]:
    dt = np.dtype(tname)
    ii = np.iinfo(dt)
    return dt, int(ii.min), int(ii.max), dt.itemsize * 8, ii.min < 0


def floordiv_int(xp: Any, a: Array, b: Array, tname: str) -> Array:
    """Floor division with ``x // 0 == 0`` and ``INT_MIN // -1 == INT_MIN`` (wrapping)."""
    dt, lo, _, _, signed = _info(tname)
    zero = b == 0
    bad = (zero | ((b == dt.type(-1)) & (a == dt.type(lo)))) if signed else zero
    q = xp.floor_divide(a, xp.where(bad, dt.type(1), b))   # a // 1 == a: INT_MIN for the overflow case
    return xp.where(zero, dt.type(0), q)


def mod_int(xp: Any, a: Array, b: Array, tname: str) -> Array:
    """Remainder with the divisor's sign; ``x % 0 == 0`` and ``INT_MIN % -1 == 0``."""
    dt, _, _, _, signed = _info(tname)
    bad = ((b == 0) | (b == dt.type(-1))) if signed else (b == 0)
    return xp.remainder(a, xp.where(bad, dt.type(1), b))   # a % 1 == 0 == a % -1


def pow_int(xp: Any, a: Array, e: Array, tname: str) -> Array:
    """Wrapping integer power; a negative exponent gives 0 unless ``|a| == 1``."""
    dt, _, _, bits, signed = _info(tname)
    one = dt.type(1)
    r = one
    base = a
    ex = xp.where(e < 0, dt.type(0), e) if signed else e
    for _ in range(bits):            # square-and-multiply over every exponent bit, wrapping
        r = xp.where((ex & one) != 0, r * base, r)
        base = base * base
        ex = ex >> one
    if not signed:
        return r
    neg = xp.where(a == one, one, xp.where(a == dt.type(-1), xp.where((e & one) != 0, dt.type(-1), one),
                                           dt.type(0)))
    return xp.where(e < 0, neg, r)


def shl(xp: Any, a: Array, c: Array, tname: str) -> Array:
    """``a << c``; counts below 0 or at least the width give 0."""
    dt, _, _, bits, signed = _info(tname)
    bad = ((c < 0) | (c >= bits)) if signed else (c >= bits)
    return xp.where(bad, dt.type(0), xp.left_shift(a, xp.where(bad, dt.type(0), c)))


def shr(xp: Any, a: Array, c: Array, tname: str) -> Array:
    """``a >> c`` (arithmetic for signed); out-of-range counts give the sign fill (0 or -1)."""
    dt, _, _, bits, signed = _info(tname)
    bad = ((c < 0) | (c >= bits)) if signed else (c >= bits)
    fill = xp.where(a < 0, dt.type(-1), dt.type(0)) if signed else dt.type(0)
    return xp.where(bad, fill, xp.right_shift(a, xp.where(bad, dt.type(0), c)))


def _dtype(name: str) -> np.dtype:
    """The NumPy dtype of a scalar type name (bfloat16 is ml_dtypes')."""
    return bfloat16.dtype if name == "bfloat16" else np.dtype("bool" if name == "bool_" else name)


def cast(xp: Any, x: Array, src: str, dst: str) -> Array:
    """Conversion by docs/semantics.md: float->int saturates with NaN -> 0; to bool is ``!= 0``;
    everything else is the namespace's own conversion (round to nearest even, int wrap)."""
    sdt = _dtype(src)
    ddt = _dtype(dst)
    x = xp.asarray(x)
    if ddt == np.bool_:
        return x != sdt.type(0)
    if sdt.kind == "f" and ddt.kind in "iu":
        ii = np.iinfo(ddt)
        hi = float(ii.max) + 1.0          # 2**(bits-1) or 2**bits: exact in every float type
        lo = float(ii.min)
        over = x >= sdt.type(hi)
        under = x < sdt.type(lo)
        bad = over | under | xp.isnan(x)
        r = xp.where(bad, sdt.type(0), x).astype(ddt)
        return xp.where(over, ddt.type(ii.max), xp.where(under, ddt.type(ii.min), r))
    return x.astype(ddt)


def mod_float(xp: Any, a: Array, b: Array) -> Array:
    """Python/NumPy float remainder (sign of the divisor; a zero result takes the divisor's sign)."""
    m = xp.fmod(a, b)
    fix = (m != 0) & ((b < 0) != (m < 0))
    m = xp.where(fix, m + b, m)
    return xp.where(m == 0, xp.copysign(xp.zeros_like(m), b), m)


def floordiv_float(xp: Any, a: Array, b: Array) -> Array:
    """Python/NumPy float floor division (NumPy's ``npy_divmod``): exact-quotient correction and a
    zero quotient carrying the sign of ``a / b``; division by zero gives ``a / b``."""
    m = xp.fmod(a, b)
    div = (a - m) / b
    fix = (m != 0) & ((b < 0) != (m < 0))
    div = xp.where(fix, div - 1, div)
    fl = xp.floor(div)
    fl = xp.where(div - fl > 0.5, fl + 1, fl)
    q = xp.where(div != 0, fl, xp.copysign(xp.zeros_like(div), a / b))
    return xp.where(b == 0, a / b, q)


def range_next_ok(xp: Any, k: Array, stop: Array, step: Array) -> Array:
    """Whether ``range(..., stop, step)`` continues after the value ``k``: ``k + step`` lies before
    ``stop`` in exact arithmetic (distances in uint64, so stepping never wraps past INT64_MAX)."""
    u = np.dtype(np.uint64)
    ku, su, tu = (xp.asarray(v).astype(u) for v in (k, stop, step))
    up = (k < stop) & ((su - ku) > tu)
    down = (k > stop) & ((ku - su) > (np.uint64(0) - tu))
    return xp.where(step > 0, up, xp.where(step < 0, down, False))


def fmin(xp: Any, a: Array, b: Array) -> Array:
    """NaN-propagating minimum with ``-0.0 < +0.0``."""
    r = xp.where(a < b, a, b)
    r = xp.where((a == b) & xp.signbit(a), a, r)
    return xp.where(xp.isnan(a) | xp.isnan(b), a + b, r)


def fmax(xp: Any, a: Array, b: Array) -> Array:
    """NaN-propagating maximum with ``-0.0 < +0.0``."""
    r = xp.where(a > b, a, b)
    r = xp.where((a == b) & ~xp.signbit(a), a, r)
    return xp.where(xp.isnan(a) | xp.isnan(b), a + b, r)


def _two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def round_to_odd_sum(xp: Any, a: Array, b: Array, bits_of: Callable[[Array], Array]) -> Array:
    """``a + b`` rounded to odd (float64): exact sums stay; inexact ones take the neighbour whose
    last significand bit is 1. ``bits_of`` views float64 lanes as int64."""
    s, err = _two_sum(a, b)
    even = (bits_of(s) & np.int64(1)) == 0
    adjust = (err != 0) & even & xp.isfinite(s)
    toward = xp.where(err > 0, np.float64(np.inf), np.float64(-np.inf))
    return xp.where(adjust, xp.nextafter(s, toward), s)


def _zero_factor(xp: Any, a: Array, b: Array, c: Array) -> Array:
    """fma(a, b, c) where a or b is zero and both are finite: ``c``, or IEEE's signed zero when c
    is zero too (-0.0 only for -0.0 + -0.0). Decided by sign bits, never by adding a zero: XLA
    folds ``x + 0.0`` to ``x``, which is wrong for ``x = -0.0``."""
    neg = (xp.signbit(a) ^ xp.signbit(b)) & xp.signbit(c)
    zero = xp.where(neg, np.float64(-0.0), np.float64(0.0)).astype(xp.asarray(c).dtype)
    return xp.where(c == 0, zero, c)


def fma32(xp: Any, a: Array, b: Array, c: Array, bits_of: Callable[[Array], Array]) -> Array:
    """float32 fused multiply-add with one rounding: the product is exact in float64, the sum is
    rounded to odd in float64 (no double-rounding error), then rounded once to float32."""
    f64 = np.dtype(np.float64)
    a64, b64, c64 = (xp.asarray(v).astype(f64) for v in (a, b, c))
    p = a64 * b64
    s = round_to_odd_sum(xp, p, c64, bits_of)
    s = xp.where(s == 0, np.float64(0.0), s)       # an exact cancellation is +0.0
    fin = xp.isfinite(a64) & xp.isfinite(b64)
    s = xp.where(fin & ((a64 == 0) | (b64 == 0)), _zero_factor(xp, a64, b64, c64), s)
    return xp.where(xp.isfinite(s), s, p + c64).astype(np.float32)


_SPLIT = np.float64(134217729.0)   # 2**27 + 1 (Veltkamp)


def _two_prod(a: Array, b: Array, mul: Callable[[Array, Array], Array]) -> tuple[Array, Array]:
    p = mul(a, b)
    t = mul(_SPLIT, a)
    ah = t - (t - a)
    al = a - ah
    t = mul(_SPLIT, b)
    bh = t - (t - b)
    bl = b - bh
    return p, ((mul(ah, bh) - p) + mul(ah, bl) + mul(al, bh)) + mul(al, bl)


def fma64(xp: Any, a: Array, b: Array, c: Array, bits_of: Callable[[Array], Array],
          mul: Callable[[Array, Array], Array] = lambda x, y: x * y) -> tuple[Array, Array]:
    """float64 fused multiply-add (Boldo–Melquiond: exact product, exact sum, round-to-odd of the
    tails, one final rounding). Returns (result, unsafe): ``unsafe`` marks lanes where the error-free
    transforms could overflow or underflow (a split half or a product tail below the normal
    range, which a flush-to-zero machine loses), which a backend recomputes exactly if it can. ``mul``
    is the backend's uncontracted product (an FMA-contracting compiler would break the split)."""
    uh, ul = _two_prod(a, b, mul)
    th, tl = _two_sum(c, uh)
    v = round_to_odd_sum(xp, tl, ul, bits_of)
    r = th + v
    mag = xp.abs(uh)
    finite = xp.isfinite(a) & xp.isfinite(b) & xp.isfinite(c)
    unsafe = finite & (a != 0) & (b != 0) & (
        (mag < np.float64(2.0 ** -960)) | (mag > np.float64(2.0 ** 1000))
        | (xp.abs(a) > np.float64(2.0 ** 995)) | (xp.abs(b) > np.float64(2.0 ** 995))
        | (xp.abs(a) < np.float64(2.0 ** -960)) | (xp.abs(b) < np.float64(2.0 ** -960))
        | (xp.abs(c) > np.float64(2.0 ** 1020)))
    plain = a * b + c
    # a zero factor: the fma is c, or a signed zero (the split of a huge other factor would give
    # NaN); the error terms' +0.0 would turn -0.0 + -0.0 into +0.0; an infinite c with finite
    # factors is the result.
    zero_ab = (a == 0) | (b == 0)
    r = xp.where(r == 0, np.float64(0.0), r)      # an exact cancellation is +0.0
    r = xp.where(zero_ab, _zero_factor(xp, a, b, c), r)
    plain = xp.where(xp.isinf(c) & xp.isfinite(a) & xp.isfinite(b), c, plain)
    return xp.where(finite, r, plain), unsafe


def _pow2(xp: Any, e: Array) -> Array:
    """2.0**e as float64 for integer lanes ``e`` in [-1022, 1023] (built from the exponent bits)."""
    bits = (xp.asarray(e).astype(np.int64) + np.int64(1023)) << np.int64(52)
    return bits


def fma64_scaled(xp: Any, a: Array, b: Array, c: Array, bits_of: Callable[[Array], Array],
                 from_bits: Callable[[Array], Array],
                 mul: Callable[[Array, Array], Array] = lambda x, y: x * y) -> Array:
    """float64 fma for the lanes :func:`fma64` marks unsafe, without exact rationals: the factors
    are normalised to [0.5, 1) (``frexp``), ``c`` is scaled by the same power of two (a ``c`` far
    below the product keeps only its sign, as a sticky 2**-900; one far above it is the result),
    the safe fma runs on the scaled values, and the result is scaled back in three exact power-of-two
    steps (overflow gives the signed infinity; only subnormal results can round twice)."""
    ma, ea = xp.frexp(a)
    mb, eb = xp.frexp(b)
    mc, ec = xp.frexp(c)
    e = ea.astype(np.int64) + eb.astype(np.int64)
    d = ec.astype(np.int64) - e
    c_far_above = (c != 0) & (d >= 56)
    tiny = (c != 0) & (d < -900)
    dd = xp.clip(d, -900, 56)
    cs = mc * from_bits(_pow2(xp, dd))
    cs = xp.where(tiny, xp.where(c > 0, np.float64(2.0 ** -900), np.float64(-(2.0 ** -900))), cs)
    cs = xp.where(c == 0, c, cs)
    rs, _ = fma64(xp, ma, mb, cs, bits_of, mul)
    e1 = e // 3
    e2 = (e - e1) // 2
    e3 = e - e1 - e2
    r = rs * from_bits(_pow2(xp, e1)) * from_bits(_pow2(xp, e2)) * from_bits(_pow2(xp, e3))
    return xp.where(c_far_above, c, r)
