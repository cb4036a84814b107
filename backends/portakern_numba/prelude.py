"""Runtime helpers imported by the generated ``numba`` kernels (``from portakern_numba.prelude import *``).

The semantic helpers of the numbers contract come from ``portakern.codegen.pyprelude`` compiled with
``numba.njit``; this module adds what only LLVM can give on the CPU:

- ``fma``: ``llvm.fma`` (one rounding; Numba has no fma of its own);
- ``rmw_add/rmw_sub/rmw_min/rmw_max``: real atomics (``atomicrmw add/sub/min/max/umin/umax/fadd/fsub``,
  sequentially consistent) on an element of any array, returning the old value — work-groups run in
  parallel threads, so these must be true atomics, never a serial fallback;
- ``rmw_and/rmw_or/rmw_xor``, ``xchg_bits`` and ``cas_old`` (``atomicrmw and/or/xor/xchg``, ``cmpxchg``
  returning the old value; floats exchange and compare by bit pattern);
- ``cas_ok``: ``cmpxchg`` on the element's bits, used by the float ``atomic_fmin/atomic_fmax`` loops
  (LLVM's ``atomicrmw fmin`` has the wrong NaN and -0.0 rules for the contract);
- ``expf_v``/``logf_v`` (``vmath.py``): float32 ``exp``/``log`` that LLVM can vectorise.
"""
from __future__ import annotations

import math  # noqa: F401 - generated code reads math through this module's star import

import numba
import numpy as np
from llvmlite import ir as llir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from portakern.codegen import pyprelude as _generic

from .vmath import expf_v, logf_v  # noqa: F401 - exported to the generated kernels

__all__ = ["np", "math", "numba", "fma", "rmw_add", "rmw_sub", "rmw_min", "rmw_max", "rmw_and", "rmw_or",
           "rmw_xor", "xchg_bits", "cas_old", "cas_ok",
           "atomic_fmin", "atomic_fmax", "priv_add", "priv_sub", "expf_v", "logf_v", *sorted(_generic.HELPERS)]

_jit = numba.njit(cache=True, error_model="numpy")

globals().update(_generic.compile_helpers(_jit, np.fmod))


@intrinsic
def fma(typingctx, a, b, c):  # type: ignore[no-untyped-def]
    """a * b + c with one rounding, through ``llvm.fma``."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], llir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return a(a, b, c), codegen


def _element_pointer(context, builder, aryty, ary_val, idxty, idx_val):
    ary = context.make_array(aryty)(context, builder, ary_val)
    indices = cgutils.unpack_tuple(builder, idx_val, count=len(idxty))
    return cgutils.get_item_pointer(context, builder, aryty, ary, indices, wraparound=False)


def _rmw(kind: str):
    @intrinsic
    def rmw(typingctx, arr, idx, val):  # type: ignore[no-untyped-def]
        if not isinstance(arr, types.Array) or not isinstance(idx, types.BaseTuple):
            return None
        dt = arr.dtype
        if isinstance(dt, types.Float):
            if kind not in ("add", "sub"):
                return None
            op = "f" + kind
        elif kind == "xchg":
            return None                    # integers and floats alike: ``xchg_bits``
        elif isinstance(dt, types.Integer):
            op = "u" + kind if kind in ("min", "max") and not dt.signed else kind
        else:
            return None

        def codegen(context, builder, sig, args):
            ptr = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
            value = context.cast(builder, args[2], sig.args[2], dt)
            return builder.atomic_rmw(op, ptr, value, "seq_cst")

        return dt(arr, idx, val), codegen

    return rmw


rmw_add = _rmw("add")
rmw_sub = _rmw("sub")
rmw_min = _rmw("min")
rmw_max = _rmw("max")
rmw_and = _rmw("and")
rmw_or = _rmw("or")
rmw_xor = _rmw("xor")


def _bits_type(dt):  # type: ignore[no-untyped-def]
    return llir.IntType(dt.bitwidth)


@intrinsic
def xchg_bits(typingctx, arr, idx, val):  # type: ignore[no-untyped-def]
    """Atomic exchange of ``arr[idx]`` (``atomicrmw xchg`` on its bits); returns the old value."""
    if not isinstance(arr, types.Array) or not isinstance(arr.dtype, (types.Integer, types.Float)):
        return None
    dt = arr.dtype

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        value = context.cast(builder, args[2], sig.args[2], dt)
        ity = _bits_type(dt)
        old = builder.atomic_rmw("xchg", builder.bitcast(ptr, ity.as_pointer()), builder.bitcast(value, ity),
                                 "seq_cst")
        return builder.bitcast(old, value.type)

    return dt(arr, idx, val), codegen


@intrinsic
def cas_old(typingctx, arr, idx, expected, new):  # type: ignore[no-untyped-def]
    """Compare-and-swap on the bits of ``arr[idx]`` (sequentially consistent); returns the old value."""
    if not isinstance(arr, types.Array) or not isinstance(arr.dtype, (types.Integer, types.Float)):
        return None
    dt = arr.dtype

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        exp = context.cast(builder, args[2], sig.args[2], dt)
        new_v = context.cast(builder, args[3], sig.args[3], dt)
        ity = _bits_type(dt)
        res = builder.cmpxchg(builder.bitcast(ptr, ity.as_pointer()), builder.bitcast(exp, ity),
                              builder.bitcast(new_v, ity), "seq_cst", "seq_cst")
        return builder.bitcast(builder.extract_value(res, 0), exp.type)

    return dt(arr, idx, expected, new), codegen


@intrinsic
def cas_ok(typingctx, arr, idx, expected, new):  # type: ignore[no-untyped-def]
    """Compare-and-swap on the bits of ``arr[idx]``: True when it held ``expected`` and now holds ``new``."""
    if not isinstance(arr, types.Array):
        return None
    dt = arr.dtype

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        exp = context.cast(builder, args[2], sig.args[2], dt)
        new_v = context.cast(builder, args[3], sig.args[3], dt)
        if isinstance(dt, types.Float):
            ity = llir.IntType(dt.bitwidth)
            ptr = builder.bitcast(ptr, ity.as_pointer())
            exp = builder.bitcast(exp, ity)
            new_v = builder.bitcast(new_v, ity)
        res = builder.cmpxchg(ptr, exp, new_v, "seq_cst", "seq_cst")
        return builder.extract_value(res, 1)

    return types.boolean(arr, idx, dt, dt), codegen


@numba.njit(cache=True)
def atomic_fmin(arr, idx, v):  # pragma: no cover - compiled
    """Atomic NaN-propagating min on a float element; returns the old value."""
    old = arr[idx]
    while not cas_ok(arr, idx, old, fmin(old, v)):  # noqa: F821 - compiled helper above
        old = arr[idx]
    return old


@numba.njit(cache=True)
def atomic_fmax(arr, idx, v):  # pragma: no cover - compiled
    """Atomic NaN-propagating max on a float element; returns the old value."""
    old = arr[idx]
    while not cas_ok(arr, idx, old, fmax(old, v)):  # noqa: F821 - compiled helper above
        old = arr[idx]
    return old


@numba.njit(cache=True)
def priv_add(arr, i, v):  # pragma: no cover - compiled
    """Integer ``+=`` on a thread's private copy of an atomically updated array (wraps: the sum is
    done on uint64 and truncated by the store); returns the old value."""
    old = arr[i]
    arr[i] = np.uint64(old) + np.uint64(v)
    return old


@numba.njit(cache=True)
def priv_sub(arr, i, v):  # pragma: no cover - compiled
    """Integer ``-=`` on a private copy (wrapping, as ``priv_add``); returns the old value."""
    old = arr[i]
    arr[i] = np.uint64(old) - np.uint64(v)
    return old
