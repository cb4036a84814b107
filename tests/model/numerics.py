"""A tiny pure-Python model of docs/semantics.md (integer, shift, division, conversion, min/max semantics).

Written from the spec, not from any backend: Python ints are unbounded, so every result is computed
exactly and then wrapped or rounded explicitly. Floats are modelled as Python floats (binary64);
binary32 values are Python floats that are exactly representable in binary32, produced by
:func:`round_float` with exact integer arithmetic (no reliance on the C cast or ``struct``).

Types are named by NumPy dtype names: "int8" ... "uint64", "float32", "float64", "bool".
"""
from __future__ import annotations

import math
import struct
from fractions import Fraction

INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_TYPES = ("float32", "float64")

# (significand bits incl. the implicit one, minimum normal exponent, maximum exponent)
_FLOAT_FORMATS = {"float32": (24, -126, 127), "float64": (53, -1022, 1023)}


# ---------------------------------------------------------------------------------------------
# integer types
_BITS = {t: int(t.removeprefix("u").removeprefix("int")) for t in INT_TYPES}


def bits(t: str) -> int:
    """The width in bits of integer type ``t``."""
    return _BITS[t]


def signed(t: str) -> bool:
    """True for a signed integer type."""
    return t[0] != "u"


def int_min(t: str) -> int:
    """The smallest value of integer type ``t``."""
    return -(1 << (bits(t) - 1)) if signed(t) else 0


def int_max(t: str) -> int:
    """The largest value of integer type ``t``."""
    return (1 << (bits(t) - 1)) - 1 if signed(t) else (1 << bits(t)) - 1


def wrap(v: int, t: str) -> int:
    """Two's complement wrap of the exact integer ``v`` into type ``t``."""
    w = _BITS[t]
    v &= (1 << w) - 1
    if signed(t) and v >= 1 << (w - 1):
        v -= 1 << w
    return v


def add(a: int, b: int, t: str) -> int:
    """``a + b`` in ``t``: wraps."""
    return wrap(a + b, t)


def sub(a: int, b: int, t: str) -> int:
    """``a - b`` in ``t``: wraps."""
    return wrap(a - b, t)


def mul(a: int, b: int, t: str) -> int:
    """``a * b`` in ``t``: wraps."""
    return wrap(a * b, t)


def neg(a: int, t: str) -> int:
    """``-a`` in ``t``: wraps (``-INT_MIN == INT_MIN``)."""
    return wrap(-a, t)


def floordiv(a: int, b: int, t: str) -> int:
    """Floor division; ``x // 0 == 0``; ``INT_MIN // -1 == INT_MIN`` (the exact quotient wrapped)."""
    if b == 0:
        return 0
    return wrap(a // b, t)          # Python's // is floor division on exact integers


def mod(a: int, b: int, t: str) -> int:
    """Remainder with the divisor's sign; ``x % 0 == 0``; ``INT_MIN % -1 == 0``."""
    if b == 0:
        return 0
    return wrap(a % b, t)           # Python's % takes the divisor's sign


def shl(a: int, n: int, t: str) -> int:
    """``a << n``: 0 when the count is negative or at least the width."""
    if n < 0 or n >= bits(t):
        return 0
    return wrap(a << n, t)


def shr(a: int, n: int, t: str) -> int:
    """``a >> n`` (arithmetic for signed types): an out-of-range count gives the sign fill."""
    if n < 0 or n >= bits(t):
        return -1 if a < 0 else 0
    return a >> n                   # exact: Python's >> on ints is an arithmetic shift


def bitand(a: int, b: int, t: str) -> int:
    """``a & b``."""
    return wrap(a & b, t)


def bitor(a: int, b: int, t: str) -> int:
    """``a | b``."""
    return wrap(a | b, t)


def bitxor(a: int, b: int, t: str) -> int:
    """``a ^ b``."""
    return wrap(a ^ b, t)


def invert(a: int, t: str) -> int:
    """``~a`` in ``t``."""
    return wrap(~a, t)


def ipow(a: int, n: int, t: str) -> int:
    """Integer ``a ** n``: wrapping repeated multiplication; a negative exponent gives 0 unless |a| == 1."""
    if n < 0:
        if a == 1:
            return 1
        if a == -1:
            return -1 if n % 2 else 1
        return 0
    return wrap(pow(a, n, 1 << bits(t)), t)


def iabs(a: int, t: str) -> int:
    """``abs(a)``: wraps (``abs(INT_MIN) == INT_MIN``)."""
    return wrap(abs(a), t)


def imin(a: int, b: int) -> int:
    """Integer minimum."""
    return a if a <= b else b


def imax(a: int, b: int) -> int:
    """Integer maximum."""
    return a if a >= b else b


# ---------------------------------------------------------------------------------------------
# floating point
def round_float(x: float | int | Fraction, t: str) -> float:
    """Round the exact value ``x`` (a Python float, int or Fraction) to binary32/binary64 with round to nearest
    even, with subnormals and overflow to infinity. NaN and infinities pass through."""
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return x
    if x == 0:
        return math.copysign(0.0, x) if isinstance(x, float) else 0.0
    p, emin, emax = _FLOAT_FORMATS[t]
    num, den = x.as_integer_ratio()
    sign = -1.0 if num < 0 else 1.0
    num = abs(num)
    # exponent e with 2**e <= |x| < 2**(e+1)
    e = num.bit_length() - den.bit_length()
    if (num << max(0, -e)) < (den << max(0, e)):
        e -= 1
    q_exp = max(e, emin) - (p - 1)        # the value of one unit in the last place
    # significand = |x| / 2**q_exp, rounded half to even
    if q_exp >= 0:
        n, d = num, den << q_exp
    else:
        n, d = num << -q_exp, den
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and q & 1):
        q += 1
    if q >= 1 << p:                        # rounding carried into the next binade
        q >>= 1
        q_exp += 1
    if q_exp + p - 1 > emax:
        return sign * math.inf
    return sign * math.ldexp(float(q), q_exp)


def fma(a: float, b: float, c: float, t: str) -> float:
    """``a * b + c`` computed exactly and rounded once to ``t`` (finite inputs).

    An exact zero takes its sign from IEEE 754: the sum of two zeros of the same sign keeps that
    sign (``fma(0.0, -0.0, -0.0) == -0.0``); any other exact zero is +0.0 in round-to-nearest."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:
        product_negative = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
        product_is_zero = a == 0 or b == 0
        if product_is_zero and c == 0 and product_negative and math.copysign(1.0, c) < 0:
            return -0.0
        return 0.0
    return round_float(exact, t)


def f32(x: float | int) -> float:
    """The binary32 value nearest to ``x`` (round to nearest even)."""
    return round_float(x, "float32")


def int_to_float(a: int, t: str) -> float:
    """int -> float conversion: round to nearest even."""
    return round_float(int(a), t)


def float_to_float(x: float, t: str) -> float:
    """float -> float conversion: round to nearest even (exact when widening)."""
    return round_float(x, t)


def float_to_int(x: float, t: str) -> int:
    """float -> int conversion: truncate toward zero, saturate to the type's range, NaN -> 0."""
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return int_max(t) if x > 0 else int_min(t)
    v = math.trunc(x)                      # exact: the integer part of a float is an exact int
    return min(max(v, int_min(t)), int_max(t))


def to_bool(x: float | int) -> bool:
    """Any -> bool: nonzero is True (NaN is True, as in C and NumPy)."""
    return x != 0 or (isinstance(x, float) and math.isnan(x))


def convert(x: float | int | bool, src: str, dst: str) -> float | int | bool:
    """The numbers contract's conversion of value ``x`` of type ``src`` to ``dst``."""
    if dst == "bool":
        return to_bool(x)
    if src == "bool":
        x = int(bool(x))
        src = "int8"
    if dst in FLOAT_TYPES:
        return round_float(float(x) if src in FLOAT_TYPES else int(x), dst)
    if src in FLOAT_TYPES:
        return float_to_int(float(x), dst)
    return wrap(int(x), dst)


def fmin(a: float, b: float) -> float:
    """NaN-propagating minimum with -0.0 < +0.0 (np.minimum, not C's fmin)."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b == 0.0:
        return a if math.copysign(1.0, a) < 0 else b
    return a if a < b else b


def fmax(a: float, b: float) -> float:
    """NaN-propagating maximum with -0.0 < +0.0 (np.maximum, not C's fmax)."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b == 0.0:
        return a if math.copysign(1.0, a) > 0 else b
    return a if a > b else b


def float_bits(x: float, t: str) -> int:
    """The bit pattern of ``x`` in format ``t``, every NaN mapped to one canonical NaN."""
    if math.isnan(x):
        return 0x7FC00000 if t == "float32" else 0x7FF8000000000000
    if t == "float32":
        return struct.unpack("<I", struct.pack("<f", x))[0]
    return struct.unpack("<Q", struct.pack("<d", x))[0]


# ---------------------------------------------------------------------------------------------
# NumPy 2 promotion of two strongly typed integer/float types (NEP 50), as the contract cites it
def promote(a: str, b: str) -> str:
    """The result type of a binary op on two strongly typed operands (NumPy 2 rules)."""
    if a == b:
        return a
    if "bool" in (a, b):
        return b if a == "bool" else a
    fa, fb = a in FLOAT_TYPES, b in FLOAT_TYPES
    if fa or fb:
        if fa and fb:
            return "float64" if "float64" in (a, b) else "float32"
        f, i = (a, b) if fa else (b, a)
        if f == "float64":
            return "float64"
        return "float32" if bits(i) <= 16 else "float64"
    sa, sb = signed(a), signed(b)
    if sa == sb:
        return a if bits(a) >= bits(b) else b
    s, u = (a, b) if sa else (b, a)
    if bits(s) > bits(u):
        return s
    if bits(u) == 64:
        return "float64"
    return f"int{2 * bits(u)}"


# the values every integer test includes (boundaries and shift counts)
def boundary_ints(t: str) -> list[int]:
    """INT_MIN/MAX, their neighbours, -1, 0, 1, 2 and the shift counts width-1, width, width+1."""
    w = bits(t)
    cands = [int_min(t), int_min(t) + 1, int_max(t), int_max(t) - 1, -1, 0, 1, 2, -2, 3,
             w - 1, w, w + 1, -(w - 1), -w, 7, -7]
    return sorted({c for c in cands if int_min(t) <= c <= int_max(t)})
