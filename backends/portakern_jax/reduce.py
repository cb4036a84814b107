"""Exact reductions for the ``jax`` lowering (shared by widen.py and tree.py).

Only orders that give the bits of the kernel as written: float sums and products fold in the
written order (:func:`in_order`); max/min (exactly associative and commutative under NaN
propagation with -0.0 < +0.0) and the wrapping integer ops may use XLA's reductions
(:func:`any_order`), with the signed-zero case spelled out.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from portakern.codegen.loopplan import reduction_identity

__all__ = ["any_order", "combiner", "in_order", "is_ordered"]

#: float reductions longer than this fold in blocks of ``_BLOCK`` inside a ``fori_loop``
_CHAIN = 64
_BLOCK = 16


def is_ordered(op: str, tname: str) -> bool:
    """Whether the result of reducing with ``op`` depends on the order (float add and mul)."""
    return tname.startswith("float") and op in ("add", "mul")


def combiner(ops: Any, op: str, tname: str) -> Callable[[Any, Any], Any]:
    """``op`` on two lane values with the kernel's semantics (``ops``: the JaxOps of the launch)."""
    is_float = tname.startswith("float")
    return {"add": ops.fadd if is_float else lax.add, "mul": ops.fmul if is_float else lax.mul,
            "min": lambda a, b: ops.min(a, b, tname), "max": lambda a, b: ops.max(a, b, tname),
            "and": lax.bitwise_and, "or": lax.bitwise_or, "xor": lax.bitwise_xor}[op]


def any_order(c: Any, axis: int, op: str, tname: str) -> Any:
    """``c`` reduced along ``axis`` with an order-free ``op`` (not float add/mul)."""
    dt = np.dtype(tname)
    if dt.kind != "f":        # integers wrap: every order gives the same bits
        monoid = {"min": lax.min, "max": lax.max, "add": lax.add, "mul": lax.mul, "and": lax.bitwise_and,
                  "or": lax.bitwise_or, "xor": lax.bitwise_xor}[op]
        return lax.reduce(c, dt.type(reduction_identity(op, tname)), monoid, (axis,))
    # XLA's max/min reductions propagate NaN; which zero they return for +-0 is theirs, so where
    # the result is a zero it is recomputed (max: +0.0 if any +0.0; min: -0.0 if any -0.0), in a
    # branch that costs nothing when no result is a zero
    r = jnp.max(c, axis=axis) if op == "max" else jnp.min(c, axis=axis)

    def signed_zeros(r: Any) -> Any:
        winner = (c == 0) & (~jnp.signbit(c) if op == "max" else jnp.signbit(c))
        first, other = (dt.type(0.0), dt.type(-0.0)) if op == "max" else (dt.type(-0.0), dt.type(0.0))
        return jnp.where(r == 0, jnp.where(jnp.any(winner, axis=axis), first, other), r)

    return lax.cond(jnp.any(r == 0), signed_zeros, lambda r: r, r)


def in_order(combine: Callable, acc: Any, c: Any, axis: int) -> Any:
    """``combine(...combine(acc, c[0])..., c[T-1])`` along ``axis``, in order. Up to ``_CHAIN``
    steps are written out (XLA fuses them into one pass); longer ones fold ``_BLOCK`` steps per
    ``fori_loop`` iteration, so the traced size stays bounded."""
    T = c.shape[axis]
    if T <= _CHAIN:
        for j in range(T):
            acc = combine(acc, lax.index_in_dim(c, j, axis, keepdims=False))
        return acc

    def block(i: Any, a: Any) -> Any:
        b = lax.dynamic_slice_in_dim(c, i * _BLOCK, _BLOCK, axis=axis)
        for j in range(_BLOCK):
            a = combine(a, lax.index_in_dim(b, j, axis, keepdims=False))
        return a

    full = T // _BLOCK
    acc = lax.fori_loop(0, full, block, acc)
    for j in range(full * _BLOCK, T):
        acc = combine(acc, lax.index_in_dim(c, j, axis, keepdims=False))
    return acc
