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

Special values follow C: ``exp(nan) = nan``, ``exp(-inf) = 0``, ``log(0) = -inf``, ``log(x < 0) = nan``,
``log(inf) = inf``. Each is a select, not a branch, so the loop stays straight-line code.

Both are inlined by Numba itself (``inline="always"``): left to LLVM, a kernel's large parallel gufunc
called them as functions (the inliner's cost threshold), which kept the loop scalar and made softmax's
``exp`` cost 4x libm's (98 ms against 20 ms single-threaded at 8192 x 1024).
"""
from __future__ import annotations

import math

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
    n = math.floor(c * 1.4426950408889634 + 0.5)
    r = c - n * 0.6931471805599453
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800))))))))))
    res = np.float32(p * bits_f64((np.int64(n) + np.int64(1023)) << np.int64(52)))
    return x if x != x else res


@_jit
def logf_v(x):  # pragma: no cover - compiled
    """Natural logarithm of a float32, vectorisable (see the module docstring)."""
    b = f64_bits(np.float64(x))
    e = np.float64(((b >> np.int64(52)) & np.int64(0x7FF)) - np.int64(1023))
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
