"""Exact reductions for the ``jax`` lowering (shared by widen.py and tree.py).

Only orders that give the bits of the kernel as written: float sums and products fold in the
written order (:func:`in_order`); max/min (exactly associative and commutative under NaN
propagation with -0.0 < +0.0) and the wrapping integer ops may use XLA's reductions
(:func:`any_order`), floats as one variadic reduction that settles the sign of a zero result.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
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


def any_order(c: Any, axis: int | tuple[int, ...], op: str, tname: str) -> Any:
    """``c`` reduced along ``axis`` (one or several) with an order-free ``op`` (not float
    add/mul)."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    dt = np.dtype(tname)
    if dt.kind != "f":        # integers wrap: every order gives the same bits
        monoid = {"min": lax.min, "max": lax.max, "add": lax.add, "mul": lax.mul, "and": lax.bitwise_and,
                  "or": lax.bitwise_or, "xor": lax.bitwise_xor}[op]
        return lax.reduce(c, dt.type(reduction_identity(op, tname)), monoid, axes)
    return _float_extreme(c, axes, op)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _float_extreme(c: Any, axes: tuple[int, ...], op: str) -> Any:
    """Float max/min along ``axes`` as docs/semantics.md orders floats (NaN wins, -0.0 < +0.0).

    One variadic XLA reduction: XLA's ``max``/``min`` (NaN-propagating) together with whether
    the winning zero is present (+0.0 for max, -0.0 for min), which decides the sign when the
    result is a zero, the one case where ``max``/``min`` may return either operand. Not a plain
    ``jnp.max``: XLA:CPU lowers that to its YNN kernels, which drop NaNs (measured: jnp.max of a
    large array with NaNs returns a number) and which match single-output max/min reductions
    only. Measured 1.4x (row folds) to 2.8x (work-group trees) faster than the order-preserving
    integer keys used before. Differentiable (below)."""
    it = jnp.int32 if c.dtype.itemsize == 4 else jnp.int64
    win = np.array(0.0 if op == "max" else -0.0, c.dtype)        # the zero that wins a tie
    has_winner = lax.bitcast_convert_type(c, it) == lax.bitcast_convert_type(win, it)
    pick = lax.max if op == "max" else lax.min
    v, z = lax.reduce((c, has_winner), (np.array(-np.inf if op == "max" else np.inf, c.dtype), np.bool_(False)),
                      lambda a, b: (pick(a[0], b[0]), a[1] | b[1]), axes)
    zero = jnp.where(z, win, -win)
    return jnp.where(v == 0, zero, v)


@_float_extreme.defjvp
def _float_extreme_jvp(axes: tuple[int, ...], op: str, primals: tuple, tangents: tuple) -> tuple:
    """The tangent of the element(s) the result equals, averaged over ties (as jnp.max)."""
    (c,), (t,) = primals, tangents
    r = _float_extreme(c, axes, op)
    rb = jnp.expand_dims(r, axes)
    at = (c == rb) | (jnp.isnan(c) & jnp.isnan(rb))
    n = jnp.maximum(jnp.sum(at, axis=axes), 1).astype(c.dtype)
    return r, jnp.sum(jnp.where(at, t, jnp.zeros((), t.dtype)), axis=axes) / n


def in_order(combine: Callable, acc: Any, c: Any, axis: int, width: int = 1) -> Any:
    """``combine(...combine(acc, c_0)..., c_{T-1})`` in order, where ``c_j`` is the ``j``-th block
    of ``width`` along ``axis`` (``width`` 1: that axis is dropped). Up to ``_CHAIN`` steps are
    written out (XLA fuses them into one pass); longer ones fold ``_BLOCK`` steps per
    ``fori_loop`` iteration, so the traced size stays bounded. A uniform ``acc`` (a constant) is
    combined with ``c_0`` first, as a uniform, so its zero sign is the kernel's.

    The blocks are slices of ``c`` itself, not of a reshaped view: a standalone bitcast of a
    large intermediate stops XLA from computing a later elementwise pass in place of it (one more
    fresh output buffer, measured 2x slower at 32 MiB here, all page faults)."""
    T = c.shape[axis] // width

    def part(x: Any, j: Any) -> Any:
        if width == 1:
            return lax.index_in_dim(x, j, axis, keepdims=False)
        return lax.slice_in_dim(x, j * width, (j + 1) * width, axis=axis)

    first = 0
    if jnp.ndim(acc) == 0:
        acc, first = combine(acc, part(c, 0)), 1
    if T - first <= _CHAIN:
        for j in range(first, T):
            acc = combine(acc, part(c, j))
        return acc

    def block(i: Any, a: Any) -> Any:
        b = lax.dynamic_slice_in_dim(c, (first + i * _BLOCK) * width, _BLOCK * width, axis=axis)
        for j in range(_BLOCK):
            a = combine(a, part(b, j))
        return a

    full = (T - first) // _BLOCK
    acc = lax.fori_loop(0, full, block, acc)
    for j in range(first + full * _BLOCK, T):
        acc = combine(acc, part(c, j))
    return acc
