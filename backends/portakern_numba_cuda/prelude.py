"""Runtime helpers imported by generated ``numba-cuda`` kernels (``from portakern_numba_cuda.prelude import *``).

The numbers-contract helpers of ``portakern.codegen.pyprelude`` compiled as CUDA device functions
(plain Python under the CUDA simulator), plus ``mul_f32``/``mul_f64``: float products NVVM never
contracts into an FMA (libdevice ``fmul_rn``/``dmul_rn``; ordinary ``*`` in the simulator).
``CACHE`` is False: generated modules run from memory and Numba's own disk cache loads pickles
unchecked (docs/safety.md), so numba-cuda kernels compile once per process.
"""
from __future__ import annotations

import math
import re

import numpy as np
from numba import config as _numba_config
from numba import cuda

from portakern.codegen import pyprelude as _generic
from portakern.ir import optable as _optable

SIMULATOR = bool(getattr(_numba_config, "ENABLE_CUDASIM", False))
CACHE = False

#: math functions the generated code calls as ``m_<name>``: libm through ``math`` on a device, NumPy
#: ufuncs in the simulator (Python's ``math`` raises on a domain error or overflow where CUDA returns
#: NaN or inf: ``math.acos(2.0)`` is a ValueError, ``np.arccos`` gives NaN). From the op table: every
#: call whose scalar-Python spelling is ``math.<name>(args)``; name -> (ufunc or None, arity).
MATH_NAMES: dict[str, tuple[str | None, int]] = {
    m.group(1): (s.ufunc, s.arity) for s in _optable.CALLS
    if s.py and (m := re.fullmatch(r"math\.(\w+)\((\{\d\}(, )?)+\)", s.py))}

__all__ = ["np", "math", "cuda", "CACHE", "fma", "mul_f32", "mul_f64",
           "atomic_fmin_f32", "atomic_fmax_f32", "atomic_fmin_f64", "atomic_fmax_f64",
           "atomic_fxchg_f32", "atomic_fxchg_f64", "atomic_fcas_f32", "atomic_fcas_f64", *sorted(_generic.HELPERS),
           "m_cbrt", *(f"m_{name}" for name in MATH_NAMES)]

# inline="always" inlines at Numba-IR level: besides saving calls, it is what lets compile_ptx work
# with no GPU (an out-of-line device function asks the driver for the current device's compute capability).
_device = cuda.jit(device=True, inline="always")
globals().update(_generic.compile_helpers(_device, math.fmod))

def _math_function(name: str, ufunc: str | None, arity: int):  # type: ignore[no-untyped-def]
    args = ", ".join("abc"[:arity])
    if SIMULATOR and ufunc is not None:
        # pow on one-element arrays, not scalars: NumPy computes a scalar ``x ** 0.5`` as sqrt(x), which
        # gives -0.0 for pow(-0.0, 0.5) and NaN for pow(-inf, 0.5) (C99 Annex F: +0.0 and +inf)
        wrap = (lambda v: f"np.array([{v}], np.float64)") if name == "pow" else (lambda v: f"np.float64({v})")
        body = (f"    with np.errstate(all='ignore'):\n"
                f"        return np.{ufunc}({', '.join(wrap(v) for v in args.split(', '))}){'[0]' if name == 'pow' else ''}\n")
    else:
        body = f"    return math.{name}({args})\n"
    ns: dict = {"np": np, "math": math}
    exec(f"def m_{name}({args}):\n{body}", ns)  # noqa: S102 - a fixed template over known names
    return _device(ns[f"m_{name}"])


for _name, (_ufunc, _arity) in MATH_NAMES.items():
    globals()[f"m_{_name}"] = _math_function(_name, _ufunc, _arity)
# cbrt: libdevice's on a device (cuda.cbrt); the simulator's cuda.cbrt is ``a ** (1/3)``, NaN for a < 0
m_cbrt = _device((lambda a: np.cbrt(np.float64(a))) if SIMULATOR else (lambda a: cuda.cbrt(a)))

if SIMULATOR:
    @cuda.jit(device=True)
    def mul_f32(a, b):
        """float32 product (the simulator computes in NumPy float32)."""
        return np.float32(a * b)

    @cuda.jit(device=True)
    def mul_f64(a, b):
        """float64 product."""
        return np.float64(a * b)

    def _fma_exact(a, b, c):
        """a * b + c rounded once (the simulator's ``cuda.fma`` rounds twice)."""
        from fractions import Fraction

        t = type(a)
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
            return t(a * b + c)
        exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        if exact == 0:
            return t(a * b + c)  # the sign of an exact zero follows IEEE addition
        r = t(float(exact))
        if t is np.float64 or not math.isfinite(r):
            return r
        best = r
        for cand in (np.nextafter(r, t(-np.inf)), np.nextafter(r, t(np.inf))):
            d_c, d_b = abs(Fraction(float(cand)) - exact), abs(Fraction(float(best)) - exact)
            if d_c < d_b or (d_c == d_b and int(cand.view(np.uint32)) % 2 == 0):
                best = cand
        return best

    fma = cuda.jit(device=True)(_fma_exact)
else:
    @cuda.jit(device=True, inline="always")
    def fma(a, b, c):
        """a * b + c with one rounding (``fma.rn``)."""
        return cuda.fma(a, b, c)


    from numba.cuda import libdevice as _libdevice

    mul_f32 = _libdevice.fmul_rn
    mul_f64 = _libdevice.dmul_rn


if SIMULATOR:
    def bits_view(a):  # type: ignore[no-untyped-def]
        """The signed-integer view of a float array (the same memory)."""
        return a.view(np.int32 if a.dtype.itemsize == 4 else np.int64)
else:
    # ``ndarray.view`` lowers through an out-of-line device function, which asks the driver for the
    # device's compute capability: compile_ptx with no GPU fails. The view is a pointer cast, so an
    # intrinsic does it (the same fields, the data pointer bitcast to the integer type).
    from numba.cuda import types as _types
    from numba.cuda.core.imputils import impl_ret_borrowed as _borrowed
    from numba.cuda.extending import intrinsic as _intrinsic

    @_intrinsic
    def bits_view(typingctx, a):  # type: ignore[no-untyped-def]
        """The signed-integer view of a float32/float64 array (the same memory)."""
        if not isinstance(a, _types.Array) or a.dtype not in (_types.float32, _types.float64):
            return None
        ret = a.copy(dtype=_types.int32 if a.dtype == _types.float32 else _types.int64)

        def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
            src = context.make_array(sig.args[0])(context, builder, args[0])
            dst = context.make_array(sig.return_type)(context, builder)
            for field in dst._datamodel._fields:
                value = getattr(src, field)
                setattr(dst, field, builder.bitcast(value, dst.data.type) if field == "data" else value)
            return _borrowed(context, builder, sig.return_type, dst._getvalue())

        return ret(a), codegen


def _float_atomic(name: str, combine, ftype):  # type: ignore[no-untyped-def]
    """An atomic ``a[idx] = combine(a[idx], v)`` on a float array, returning the old value.

    ``cuda.atomic.nanmin``/``nanmax`` skip NaN and treat -0.0 == +0.0; the contract's min/max (the
    prelude's ``fmin``/``fmax``) propagate NaN and order -0.0 < +0.0, so the update is a
    compare-and-swap loop on the bit pattern (an integer view of the array; a one-element local
    array reinterprets bits as a float and back). A value that leaves the bits unchanged is a read."""

    def atomic(a, idx, v):
        bits = bits_view(a)
        box = cuda.local.array(1, ftype)
        box_bits = bits_view(box)
        old_bits = bits[idx]
        while True:
            box_bits[0] = old_bits
            old = box[0]
            box[0] = combine(old, v)
            if box_bits[0] == old_bits:
                return old
            seen = cuda.atomic.cas(bits, idx, old_bits, box_bits[0])
            if seen == old_bits:
                return old
            old_bits = seen                      # another thread won: retry on its value

    atomic.__name__ = atomic.__qualname__ = name
    return _device(atomic)


# fmin/fmax: the compiled generic helpers (compile_helpers above)
def _float_bits_atomic(name: str, cas: bool, ftype):  # type: ignore[no-untyped-def]
    """Exchange (``cas=False``: ``f(a, idx, v)``) or compare-and-swap (``f(a, idx, cmp, v)``) of a
    float element done on its bit pattern, as on the C backends: a CAS compares bits (NaN matches
    the same NaN, -0.0 does not match +0.0). A one-element local array converts bits and floats."""

    def xchg(a, idx, v):
        box = cuda.local.array(1, ftype)
        box_bits = bits_view(box)
        box[0] = v
        box_bits[0] = cuda.atomic.exch(bits_view(a), idx, box_bits[0])
        return box[0]

    def compare_swap(a, idx, cmp, v):
        box = cuda.local.array(2, ftype)
        box_bits = bits_view(box)
        box[0] = cmp
        box[1] = v
        box_bits[0] = cuda.atomic.cas(bits_view(a), idx, box_bits[0], box_bits[1])
        return box[0]

    fn = compare_swap if cas else xchg
    fn.__name__ = fn.__qualname__ = name
    return _device(fn)


atomic_fxchg_f32 = _float_bits_atomic("atomic_fxchg_f32", False, np.float32)
atomic_fxchg_f64 = _float_bits_atomic("atomic_fxchg_f64", False, np.float64)
atomic_fcas_f32 = _float_bits_atomic("atomic_fcas_f32", True, np.float32)
atomic_fcas_f64 = _float_bits_atomic("atomic_fcas_f64", True, np.float64)
atomic_fmin_f32 = _float_atomic("atomic_fmin_f32", globals()["fmin"], np.float32)
atomic_fmax_f32 = _float_atomic("atomic_fmax_f32", globals()["fmax"], np.float32)
atomic_fmin_f64 = _float_atomic("atomic_fmin_f64", globals()["fmin"], np.float64)
atomic_fmax_f64 = _float_atomic("atomic_fmax_f64", globals()["fmax"], np.float64)
