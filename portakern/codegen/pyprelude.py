"""Scalar helpers of the numbers contract, written once in plain Python for the Numba targets.

The functions here are plain Python over NumPy scalars: ``portakern_numba.prelude`` compiles them with
``numba.njit`` and ``portakern_numba_cuda.prelude`` with ``numba.cuda.jit(device=True)`` (the CUDA
simulator runs them as they are). Each one is type-stable: every branch returns the same Numba type,
so the generated code can cast the result back to the IR type without surprises. Signed wrapping
goes through ``uint64`` because Numba marks signed ``+ - *`` as ``nsw`` (overflow would be undefined in
LLVM); unsigned arithmetic carries no such flag.

Names follow ``<op>_<suffix>``: ``i64`` (int64 arguments: every signed type is widened to int64 and
the result truncated back, which wraps correctly), ``u64`` (every unsigned type), ``f32``/``f64``.
Nothing here imports Numba.
"""
from __future__ import annotations

import math

import numpy as np

#: float remainder with C's fmod semantics; a backend's prelude rebinds it for its target
#: (Numba's CPU target has ``np.fmod`` but no ``math.fmod``; CUDA has ``math.fmod``).
fmod = math.fmod

# ------------------------------------------------------------------ integer division and power
def floordiv_i64(a, b):
    """Floor division; x // 0 == 0; INT64_MIN // -1 wraps to INT64_MIN (x86 would trap)."""
    if b == 0:
        return np.int64(0)
    if b == -1:
        return np.int64(np.uint64(0) - np.uint64(a))
    return np.int64(a // b)


def mod_i64(a, b):
    """Remainder with the divisor's sign; x % 0 == 0; x % -1 == 0."""
    if b == 0 or b == -1:
        return np.int64(0)
    return np.int64(a % b)


def floordiv_u64(a, b):
    """Unsigned division; x // 0 == 0."""
    if b == 0:
        return np.uint64(0)
    return np.uint64(a // b)


def mod_u64(a, b):
    """Unsigned remainder; x % 0 == 0."""
    if b == 0:
        return np.uint64(0)
    return np.uint64(a % b)


def pow_i64(a, b):
    """Wrapping integer power; a negative exponent gives 0 unless |a| == 1."""
    if b < 0:
        if a == 1:
            return np.int64(1)
        if a == -1:
            return np.int64(1) if (b & 1) == 0 else np.int64(-1)
        return np.int64(0)
    r = np.uint64(1)
    base = np.uint64(a)
    e = np.int64(b)
    while e > 0:
        if e & 1:
            r = np.uint64(r * base)
        base = np.uint64(base * base)
        e = np.int64(e >> 1)
    return np.int64(r)


def pow_u64(a, b):
    """Wrapping unsigned power."""
    r = np.uint64(1)
    base = np.uint64(a)
    e = np.uint64(b)
    while e > 0:
        if e & np.uint64(1):
            r = np.uint64(r * base)
        base = np.uint64(base * base)
        e = np.uint64(e >> np.uint64(1))
    return r


# ------------------------------------------------------------------ float -> int (saturating)
def f2i_i64(x, lo_edge, hi_excl, lo, hi):
    """Saturating conversion of a float64 ``x`` to a signed (or narrow unsigned) int: NaN -> 0,
    x >= hi_excl -> hi, x <= lo_edge -> lo, else truncation toward zero. Returns int64."""
    if x != x:
        return np.int64(0)
    if x >= hi_excl:
        return np.int64(hi)
    if x <= lo_edge:
        return np.int64(lo)
    return np.int64(x)


def clamp_f2i(x, lo, hi, nan, check_nan):
    """``min(max(int(x), lo), hi)`` for a float ``x`` and integral bounds ``lo <= hi`` held exactly
    in ``x``'s type: truncation toward zero commutes with a clamp to integers, so ``x`` is clamped as
    a float and converted once, in range (no saturation guards); NaN gives ``nan`` (``min(max(0,
    lo), hi)``), tested only when ``check_nan`` (NaN already gives ``lo`` otherwise). Returns int64."""
    c = x if x > lo else lo
    c = c if c < hi else hi
    r = np.int64(c)
    return np.int64(nan) if check_nan and x != x else r


def f2u_u64(x):
    """Saturating float64 -> uint64: NaN -> 0, negatives -> 0, >= 2**64 -> 2**64-1."""
    if x != x or x < 1.0:
        return np.uint64(0)
    if x >= 18446744073709551616.0:
        return np.uint64(18446744073709551615)
    return np.uint64(x)


# ------------------------------------------------------------------ float division (NumPy's npy_divmod)
def floordiv_f64(a, b):
    """``np.floor_divide`` on float64 (b == 0 gives a / b: inf or NaN)."""
    if b == 0.0:
        return np.float64(a / b)
    if a != a or b != b or math.isinf(a):
        return np.float64(np.nan)
    mod = fmod(a, b)
    div = (a - mod) / b
    if mod != 0.0:
        if (b < 0.0) != (mod < 0.0):
            div = div - 1.0
    if div != 0.0:
        if math.isinf(div) or abs(div) >= 4503599627370496.0:
            return np.float64(div)
        fl = np.float64(math.floor(div))
        if div - fl > 0.5:
            fl = fl + 1.0
        return np.float64(fl)
    return np.float64(math.copysign(0.0, a / b))


def floordiv_f32(a, b):
    """``np.floor_divide`` on float32, computed in float32 as NumPy does."""
    if b == np.float32(0.0):
        return np.float32(a / b)
    if a != a or b != b or math.isinf(a):
        return np.float32(np.nan)
    mod = np.float32(fmod(a, b))
    div = np.float32(np.float32(a - mod) / b)
    if mod != np.float32(0.0):
        if (b < np.float32(0.0)) != (mod < np.float32(0.0)):
            div = np.float32(div - np.float32(1.0))
    if div != np.float32(0.0):
        if math.isinf(div) or abs(div) >= np.float32(8388608.0):
            return div
        fl = np.float32(math.floor(div))
        if np.float32(div - fl) > np.float32(0.5):
            fl = np.float32(fl + np.float32(1.0))
        return fl
    return np.float32(math.copysign(0.0, a / b))


def mod_f64(a, b):
    """``np.remainder`` on float64: the result takes the divisor's sign; b == 0 gives NaN."""
    if b == 0.0 or a != a or b != b or math.isinf(a):
        return np.float64(np.nan)
    mod = fmod(a, b)
    if mod != 0.0:
        if (b < 0.0) != (mod < 0.0):
            mod = mod + b
    else:
        mod = math.copysign(0.0, b)
    return np.float64(mod)


def mod_f32(a, b):
    """``np.remainder`` on float32."""
    if b == np.float32(0.0) or a != a or b != b or math.isinf(a):
        return np.float32(np.nan)
    mod = np.float32(fmod(a, b))
    if mod != np.float32(0.0):
        if (b < np.float32(0.0)) != (mod < np.float32(0.0)):
            mod = np.float32(mod + b)
    else:
        mod = np.float32(math.copysign(0.0, b))
    return mod


# ------------------------------------------------------------------ min / max (NaN-propagating, -0 < +0)
def fmin(a, b):
    """``np.minimum`` on two floats of one type: NaN wins; -0.0 < +0.0. Written as a chain of
    selects, lowest priority first, so LLVM can vectorise a loop calling it (no branches)."""
    t = a if math.copysign(1.0, a) < 0.0 else b      # equal: -0.0 wins
    t = b if b < a else t
    t = a if a < b else t
    t = b if b != b else t
    return a if a != a else t


def fcopysign(a, b):
    """``copysign`` whose sign source is never a NaN's sign bit: ``copysign(x, NaN) == |x|``."""
    if b != b:
        return math.fabs(a)
    return math.copysign(a, b)


def fmax(a, b):
    """``np.maximum`` on two floats of one type: NaN wins; +0.0 > -0.0 (selects, as ``fmin``)."""
    t = b if math.copysign(1.0, a) < 0.0 else a      # equal: +0.0 wins
    t = b if b > a else t
    t = a if a > b else t
    t = b if b != b else t
    return a if a != a else t


# ------------------------------------------------------------------ rounding without libm surprises
def round_even_f64(x):
    """Round half to even, keeping the sign of zero; NaN and inf pass through."""
    if x != x or math.isinf(x) or abs(x) >= 4503599627370496.0:
        return np.float64(x)
    r = np.float64(round(x))
    return np.float64(math.copysign(r, x)) if r == 0.0 else r


# ------------------------------------------------------------------ half precision storage
# On a value's bits as integers (the arrays are uint16 views), by exact float64 arithmetic: no bit
# casts, which Numba's CUDA target cannot compile without a GPU; ldexp and frexp are exact.
def f32_from_half_bits(h, mant):
    """float16 (``mant`` 10) or bfloat16 (7) bits -> float32, exactly (denormals, infinities; a NaN
    stays a NaN)."""
    b = np.int64(h)
    top = (1 << (15 - mant)) - 1                         # the exponent field of inf and NaN
    e = (b >> mant) & top
    m = b & ((1 << mant) - 1)
    if e == top:
        v = math.inf if m == 0 else math.nan
    elif e == 0:
        v = math.ldexp(np.float64(m), int(1 - (top >> 1) - mant))
    else:
        v = math.ldexp(np.float64(m + (1 << mant)), int(e - (top >> 1) - mant))
    return np.float32(-v if (b >> 15) & 1 else v)


def f32_from_f16(h):
    """float16 bits -> float32, exactly."""
    return f32_from_half_bits(h, 10)


def f32_from_bf16(h):
    """bfloat16 bits -> float32, exactly."""
    return f32_from_half_bits(h, 7)


def half_bits_from_f32(x, mant, emin, emax_bits, inf_above, qnan):
    """float32 ``x`` -> the bits of a binary format with ``mant`` stored mantissa bits, smallest
    normal exponent ``emin``, infinity bits ``emax_bits``; values ``>= inf_above`` (the first tie
    above the largest finite) overflow. Rounds to nearest even once."""
    a = abs(np.float64(x))
    s = np.int64(0x8000) if math.copysign(1.0, x) < 0.0 else np.int64(0)
    if a != a:
        return np.uint16(s | qnan)
    if a >= inf_above:
        return np.uint16(s | emax_bits)
    if a < math.ldexp(1.0, int(emin)):              # denormal: units of the smallest denormal
        q = np.int64(round_even_f64(math.ldexp(a, int(mant - emin))))
        return np.uint16(s | q)
    f, e = math.frexp(a)                                 # a = f * 2**e, 0.5 <= f < 1
    q = np.int64(round_even_f64(math.ldexp(f, int(mant + 1))))   # 2**mant .. 2**(mant+1)
    return np.uint16(s + ((np.int64(e) - emin - 1) << mant) + q)       # q's top bit (a carry) bumps e


def f16_from_f32(x):
    """float32 -> float16 bits, round to nearest even; >= 65520 overflows to inf."""
    return half_bits_from_f32(x, 10, -14, 0x7C00, 65520.0, 0x7E00)


def bf16_from_f32(x):
    """float32 -> bfloat16 bits, round to nearest even; overflow gives inf."""
    return half_bits_from_f32(x, 7, -126, 0x7F80, 3.39617752923046e+38, 0x7FC0)


def floor_f64(x):
    """floor, keeping -0.0 and passing NaN/inf through (math.floor returns an int)."""
    if x != x or math.isinf(x) or abs(x) >= 4503599627370496.0:
        return np.float64(x)
    r = np.float64(math.floor(x))
    return np.float64(math.copysign(r, x)) if r == 0.0 else r


def ceil_f64(x):
    """ceil, keeping the sign of zero (ceil(-0.5) == -0.0)."""
    if x != x or math.isinf(x) or abs(x) >= 4503599627370496.0:
        return np.float64(x)
    r = np.float64(math.ceil(x))
    return np.float64(math.copysign(r, x)) if r == 0.0 else r


def trunc_f64(x):
    """trunc, keeping the sign of zero."""
    if x != x or math.isinf(x) or abs(x) >= 4503599627370496.0:
        return np.float64(x)
    r = np.float64(math.trunc(x))
    return np.float64(math.copysign(r, x)) if r == 0.0 else r




def prod_err(a, b, p):
    """``a * b - p`` exactly, for ``p = RN(a * b)`` (Dekker's product: no FMA, no overflow for
    |a|, |b| < 2**400). Operators only, so the jax backend applies it to arrays too."""
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def cbrt_f64(x):
    """Cube root within 0.5 ulp and a hair: ``pow(|x|, 1/3)`` (a few dozen ulp) and one Newton step
    whose residual ``y**3 - |x|`` is computed exactly (libm's and LLVM's cbrt measure 2.6 ulp).
    |x| is scaled by 2**+-300 into [2**-600, 2**600] first, so no product over- or underflows."""
    if x == 0.0 or x != x or math.isinf(x):
        return np.float64(x)
    a = math.fabs(x)
    k = 1.0
    if a < 2.0 ** -600:
        a, k = a * 2.0 ** 300, 2.0 ** -100
    elif a > 2.0 ** 600:
        a, k = a * 2.0 ** -300, 2.0 ** 100
    y = math.pow(a, 1.0 / 3.0)
    p = y * y
    q = p * y
    r = (q - a) + (prod_err(p, y, q) + prod_err(y, y, p) * y)   # y**3 - a; q - a is exact
    y = (y - r / (3.0 * p)) * k
    return np.float64(math.copysign(y, x))


# ------------------------------------------------------------------ small integer helpers
def abs_i64(a):
    """Wrapping abs: abs(INT64_MIN) == INT64_MIN."""
    if a < 0:
        return np.int64(np.uint64(0) - np.uint64(a))
    return np.int64(a)


def imin(a, b):
    """min of two ints of one type."""
    return a if a < b else b


def imax(a, b):
    """max of two ints of one type."""
    return a if a > b else b


def shl_u64(a, s, width):
    """``a << s`` on the bit pattern ``a``; counts < 0 or >= width give 0."""
    if s < 0 or s >= width:
        return np.uint64(0)
    return np.uint64(a << np.uint64(s))


def shr_i64(a, s, width):
    """Arithmetic ``a >> s`` of a sign-extended value; counts out of range give 0 or -1."""
    if s < 0 or s >= width:
        return np.int64(-1) if a < 0 else np.int64(0)
    return np.int64(a >> s)


def shr_u64(a, s, width):
    """Logical ``a >> s`` of a zero-extended value; counts out of range give 0."""
    if s < 0 or s >= width:
        return np.uint64(0)
    return np.uint64(a >> np.uint64(s))


def pk_check(err, site, idx, shape):
    """Bounds check (``boundscheck``/``debug``): True when ``idx`` is inside ``shape``; otherwise False
    and the failure recorded (``pk_record``). Negative indices are out of bounds (never wrapped)."""
    for d in range(len(idx)):
        if np.uint64(idx[d]) >= np.uint64(shape[d]):   # one compare: a negative index is huge
            pk_record(err, site, idx, shape)
            return False
    return True


def pk_record(err, site, idx, shape):
    """Record a failed access in ``err`` unless one is recorded already, laid out as
    portakern/runtime/errrecord.py says (flag, site, indices, extents)."""
    if err[0] == 0:
        n = len(idx)
        err[0] = 1
        err[1] = site
        for k in range(n):
            err[2 + k] = idx[k]
            err[2 + n + k] = shape[k]


#: every helper, by name, for the backends' preludes to compile.
HELPERS = {name: obj for name, obj in dict(globals()).items()
           if callable(obj) and not name.startswith("_") and getattr(obj, "__module__", "") == __name__
           and name != "fmod"}


def compile_helpers(decorate, fmod_impl) -> dict:
    """Compile every helper with ``decorate`` (``numba.njit(...)``, ``cuda.jit(device=True)``) in a
    namespace where ``fmod`` is ``fmod_impl`` and helpers see each other's compiled versions."""
    import types as _types

    # __name__: the helpers' environments name this (importable) module, so a kernel calling them
    # can be stored and rebuilt in another process
    ns: dict = {"__name__": __name__, "np": np, "math": math, "fmod": fmod_impl}
    out = {}
    for name, fn in HELPERS.items():
        clone = _types.FunctionType(fn.__code__, ns, name, fn.__defaults__, fn.__closure__)
        clone.__doc__ = fn.__doc__
        clone.__module__ = fn.__module__
        clone.__qualname__ = fn.__qualname__
        out[name] = ns[name] = decorate(clone)
    return out
