"""float32 ``exp`` and ``log`` that LLVM can vectorise, for the generated ``numba`` kernels.

Numba lowers ``math.exp``/``math.log`` to libm calls, and a loop holding a call stays scalar (this
llvmlite has no SVML). These are written from tier-0 operations instead, so a kernel's item loop
vectorises (black_scholes: three ``exp`` and one ``log`` per item). Both compute in float64 and round
once to float32, so they are correctly rounded but for double-rounding cases (measured 0.50 ulp by
``portakern conformance --ulp-table``, within the tier-1 ceiling of 3):

- ``expf_v``: ``x = n ln2 + r`` with ``|r| <= ln2 / 2``, ``e**r`` by its degree-10 Taylor polynomial
  (truncation below 1e-11 relative), times ``2**n`` built from its bits; ``x`` is clamped to
  [-110, 100] first, where float32 has already underflowed to 0 or overflowed to inf;
- ``logf_v``: ``x = 2**e m`` with ``m`` in [sqrt(2)/2, sqrt(2)), ``log(m) = 2 atanh(s)`` with
  ``s = (m - 1) / (m + 1)`` and ``|s| <= 0.172``, the odd series to ``s**15`` (below 1e-13 relative).
  Every float32, denormals included, is a normal float64, so the exponent is read from the bits.

Neither converts between int64 and float64: AVX2 has no vector instruction for it (AVX-512DQ has),
so LLVM converted each lane with scalar instructions. ``n`` is ``np.floor``'s float64 (Numba's
``math.floor`` returns an int64, which the next line converted back), it becomes an int64 as the low
bits of ``n + 1.5 * 2**52``, and the exponent a float64 as ``2**52 + e`` read back from its bits: all
exact, the same bits for every one of the 2**32 inputs as the conversions gave (checked exhaustively
once; ``tests/backends/test_numba_vmath.py`` has a slow test of every input). Measured on AMD EPYC
(AVX2), the generated kernels interleaved in one process, one core / two: softmax 8192 x 1024
37.3 -> 23.9 / 18.7 -> 12.0 ms, black_scholes 2**22 65.6 -> 49.3 / 32.7 -> 25.0 ms.

Special values follow C: ``exp(nan) = nan``, ``exp(-inf) = 0``, ``log(0) = -inf``, ``log(x < 0) = nan``,
``log(inf) = inf``. Each is a select, not a branch, so the loop stays straight-line code.

Both are inlined by Numba itself (``inline="always"``): left to LLVM, a kernel's large parallel gufunc
called them as functions (the inliner's cost threshold), which kept the loop scalar and made softmax's
``exp`` cost 4x libm's (98 ms against 20 ms single-threaded at 8192 x 1024).
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir as llir
from numba import types
from numba.extending import intrinsic

__all__ = ["expf_v", "logf_v"]

_jit = numba.njit(cache=True, error_model="numpy", inline="always")


@intrinsic
def f64_bits(typingctx, x):  # type: ignore[no-untyped-def]
    """The bits of a float64 as an int64 (an LLVM bitcast)."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], llir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def bits_f64(typingctx, i):  # type: ignore[no-untyped-def]
    """The float64 whose bits an int64 holds (an LLVM bitcast)."""
    if i != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], llir.DoubleType())

    return types.float64(i), codegen


@_jit
def expf_v(x):  # pragma: no cover - compiled
    """``e**x`` of a float32, vectorisable (see the module docstring)."""
    c = min(max(np.float64(x), -110.0), 100.0)
    n = np.floor(c * 1.4426950408889634 + 0.5)      # a float64 (math.floor would give an int64)
    r = c - n * 0.6931471805599453
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800))))))))))
    # n is an integer below 2**51 in magnitude: n + 1.5 * 2**52 is exact and holds n in its low
    # bits, so 2**n is built without a float -> int64 conversion (AVX2 has none for vectors)
    nb = f64_bits(n + 6755399441055744.0) - np.int64(0x4338000000000000)
    res = np.float32(p * bits_f64((nb + np.int64(1023)) << np.int64(52)))
    return x if x != x else res


@_jit
def logf_v(x):  # pragma: no cover - compiled
    """Natural logarithm of a float32, vectorisable (see the module docstring)."""
    b = f64_bits(np.float64(x))
    # the biased exponent (0..2047) in the low bits of 2**52: exact, and no int64 -> float conversion
    e = bits_f64(((b >> np.int64(52)) & np.int64(0x7FF)) | np.int64(0x4330000000000000)) - 4503599627371519.0
    m = bits_f64((b & np.int64(0xFFFFFFFFFFFFF)) | np.int64(0x3FF0000000000000))
    big = m > 1.4142135623730951
    m = m * 0.5 if big else m
    e = e + 1.0 if big else e
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    t = 1.0 + z * (1.0 / 3 + z * (1.0 / 5 + z * (1.0 / 7 + z * (1.0 / 9 + z * (1.0 / 11 + z * (
        1.0 / 13 + z * (1.0 / 15)))))))
    res = np.float32(e * 0.6931471805599453 + 2.0 * s * t)
    res = np.float32(-np.inf) if x == np.float32(0.0) else res
    res = np.float32(np.nan) if x < np.float32(0.0) else res
    res = x if x == np.float32(np.inf) else res
    return x if x != x else res
