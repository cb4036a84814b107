"""Typed construction of IR expressions: casts, operators, math calls and constant folding.

Every function here takes typed scalars (:class:`TExpr`), applies NumPy 2 promotion with weak Python
literals (NEP 50), inserts the explicit ``Cast`` nodes the IR requires and folds constants where the
result is exact and independent of the backend. A typing error raises :class:`OpError`, which the
lowering turns into a ``CompileError`` located at the offending construct.
"""
from __future__ import annotations

import math

from .. import types as T
from ..ir import nodes as ir
from ..ir.nodes import Op
from ..types import ScalarType
from .values import TExpr, VType, common, const_value, kind_of, py_value, weak_type

_INT64 = T.int64


class OpError(Exception):
    """A typing error in an operation; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# ------------------------------------------------------------------------------------------ casts
def _wrap(v: int, t: ScalarType) -> int:
    span = 1 << t.bits
    v &= span - 1
    if t.is_signed and v >= span >> 1:
        v -= span
    return v


def fold_cast(value: bool | int | float, src: ScalarType, t: ScalarType) -> bool | int | float:
    """The value of ``Cast(Const(value, src), t)`` by docs/semantics.md (wrap, saturate, NaN -> 0)."""
    if t.is_bool:
        return value != 0 or (isinstance(value, float) and math.isnan(value))
    if t.is_float:
        return py_value(value, t)
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        if math.isinf(value):
            return int(t.min) if value < 0 else int(t.max)
        return int(min(max(int(value), int(t.min)), int(t.max)))
    return _wrap(int(value), t)


def cast(te: TExpr, t: ScalarType) -> TExpr:
    """``te`` converted to ``t`` (strong): no node when the type already matches, folded for constants."""
    if te.type == t:
        return TExpr(te.expr, None) if te.weak else te
    if te.is_const:
        return TExpr(ir.Const(fold_cast(const_value(te), te.type, t), t))
    return TExpr(ir.Cast(te.expr, t))


def load(ref: ir.ArrayRef, indices: tuple[ir.Expr, ...], loc: ir.Loc) -> TExpr:
    """``ref[indices]`` as a value: an element of a half array widens to float32, exactly."""
    dtype = ref.type.dtype
    e = ir.Load(ref, indices, dtype, loc)
    return TExpr(ir.Cast(e, T.float32)) if dtype.is_half else TExpr(e)


def half_store_error(te: TExpr, dtype: ScalarType) -> str | None:
    """Why ``te`` cannot be stored into a ``dtype`` (half) array without an explicit conversion, or None:
    a half element is rounded once from a float32 (or a Python int/float literal, made a float32 first)."""
    if te.type == T.float32 or (te.is_const and te.weak in ("i", "f")):
        return None
    return f"storing {te.type} values into a {dtype} array needs an explicit conversion"


def store_value(te: TExpr, dtype: ScalarType) -> ir.Expr:
    """The IR value stored into an array of ``dtype``; a half element is ``Cast(float32 -> half)``
    (round to nearest even, once). The caller has checked :func:`half_store_error`."""
    if not dtype.is_half:
        return cast(te, dtype).expr
    return ir.Cast(cast(te, T.float32).expr, dtype)


def to_bool(te: TExpr) -> TExpr:
    """A condition: ``te != 0`` as bool_ (NaN is true)."""
    return cast(te, T.bool_)


def materialize(te: TExpr, vt: VType) -> TExpr:
    """``te`` cast to a unified type ``vt``, keeping weakness when ``vt`` is weak."""
    out = cast(te, vt.type)
    return TExpr(out.expr, vt.weak)


def _check_weak_fits(a: TExpr, b: TExpr, t: ScalarType) -> None:
    """NEP 50: a Python int that does not fit the typed operand's integer type is an error."""
    for x in (a, b):
        if x.weak == "i" and x.is_const and t.is_int and not (t.min <= const_value(x) <= t.max):
            raise OpError(f"the Python integer {const_value(x)} does not fit in {t}",
                          hint="cast the other operand to a wider type first, e.g. pk.int64(...)")


# ------------------------------------------------------------------------------------------ binary
def _both_weak_ints(a: TExpr, b: TExpr) -> bool:
    return a.weak in ("i", "b") and b.weak in ("i", "b")


def _fold_int(op: Op, x: int, y: int, t: ScalarType, weak: bool) -> int | None:
    """Integer op folded with the contract's semantics (or Python's for weak literals)."""
    if op is Op.ADD:
        r = x + y
    elif op is Op.SUB:
        r = x - y
    elif op is Op.MUL:
        r = x * y
    elif op is Op.FLOORDIV:
        r = 0 if y == 0 else x // y
    elif op is Op.MOD:
        r = 0 if y == 0 else x % y
    elif op is Op.POW:
        if y < 0 or y > 64 or abs(x) > 1 << 32:
            return None
        r = x ** y
    elif op is Op.AND:
        r = x & y
    elif op is Op.OR:
        r = x | y
    elif op is Op.XOR:
        r = x ^ y
    elif op in (Op.SHL, Op.SHR):
        if y < 0 or y >= t.bits:
            return None  # the contract's out-of-range shifts are left to the backends' tested code
        r = x << y if op is Op.SHL else x >> y
    else:
        return None
    if weak:
        if not (-(1 << 63) <= r < (1 << 64)):
            raise OpError(f"the integer constant {r} is too large for 64 bits")
        return r
    return _wrap(r, t)


def _compare_values(op: Op, x: float | int, y: float | int) -> bool:
    return {Op.LT: x < y, Op.LE: x <= y, Op.GT: x > y, Op.GE: x >= y, Op.EQ: x == y, Op.NE: x != y}[op]


def binary(op: Op, a: TExpr, b: TExpr) -> TExpr:
    """``a op b`` for arithmetic, bitwise and comparison ops, typed as NumPy 2 types it."""
    if op in ir.COMPARISONS:
        return compare(op, a, b)
    if a.weak == "b" and b.weak == "b" and op not in ir.BITWISE:
        a, b = cast(a, _INT64), cast(b, _INT64)   # Python: True + True == 2
        a, b = TExpr(a.expr, "i"), TExpr(b.expr, "i")
    r = common(a, b)
    t = r.type
    if op is Op.DIV and not t.is_float:   # true division of ints (and bools) is float64, as NumPy
        _check_weak_fits(a, b, t)
        t = T.float64
        r = VType(t, "f" if r.weak else None)
    if t.is_bool and op not in (Op.AND, Op.OR, Op.XOR):
        raise OpError(f"'{op.value}' on bool values is not supported (NumPy gives no integer result)",
                      hint="cast to an integer first, e.g. pk.int32(flag), or use & | ^")
    if op in ir.BITWISE:
        if t.is_float:
            what = f"{a.type if not a.weak else 'a Python number'} and {b.type if not b.weak else 'a Python number'}"
            hint = "cast both operands to one integer type, e.g. pk.int64(x)"
            if a.type.is_float or b.type.is_float:
                raise OpError(f"'{op.value}' needs integers, got {what}", hint=hint)
            raise OpError(f"'{op.value}' has no NumPy loop for {a.type} and {b.type} (they promote to {t})",
                          hint=hint)
    _check_weak_fits(a, b, t)
    if op is Op.POW and t.is_float:
        return math_call(Op.POWF, [a, b])
    ca, cb = cast(a, t), cast(b, t)
    if ca.is_const and cb.is_const:
        folded = _fold(op, const_value(ca), const_value(cb), t, r.weak is not None)
        if folded is not None:
            if r.weak == "i" and not (t.min <= folded <= t.max):
                return TExpr(ir.Const(folded, T.uint64 if folded > 0 else t), "i") \
                    if 0 <= folded <= T.uint64.max else _overflow(int(folded))
            return TExpr(ir.Const(folded, t), r.weak)
    return TExpr(ir.Binary(op, ca.expr, cb.expr, t), r.weak)


def _overflow(v: int) -> TExpr:
    raise OpError(f"the integer constant {v} does not fit in 64 bits")


def _fold(op: Op, x: bool | int | float, y: bool | int | float, t: ScalarType, weak: bool) -> bool | int | float | None:
    if t.is_float:
        if not weak or op not in (Op.ADD, Op.SUB, Op.MUL):
            return None  # exactness of float ops is the backends' to prove; weak float64 + - * is exact IEEE
        r = {Op.ADD: x + y, Op.SUB: x - y, Op.MUL: x * y}[op]  # type: ignore[operator]
        return float(r)
    if t.is_bool:
        r2 = {Op.AND: x and y, Op.OR: x or y, Op.XOR: x != y}.get(op)
        return None if r2 is None else bool(r2)
    return _fold_int(op, int(x), int(y), t, weak)


def compare(op: Op, a: TExpr, b: TExpr) -> TExpr:
    """A comparison: operands promoted to one type, result bool_. A Python int that does not fit the
    other operand's type compares by value (as NumPy 2 does)."""
    r = common(a, b)
    t = r.type
    for x in (a, b):
        if x.weak == "i" and x.is_const and t.is_int and not (t.min <= const_value(x) <= t.max):
            t = T.float64 if t == T.uint64 or const_value(x) > T.int64.max else T.int64
    ca, cb = cast(a, t), cast(b, t)
    if ca.is_const and cb.is_const:
        return TExpr(ir.Const(_compare_values(op, const_value(ca), const_value(cb)), T.bool_))
    return TExpr(ir.Binary(op, ca.expr, cb.expr, T.bool_))


def logical(op: Op, a: TExpr, b: TExpr) -> TExpr:
    """``a and b`` / ``a or b`` on conditions (bool_), short-circuit; folded when ``a`` is constant."""
    ca, cb = to_bool(a), to_bool(b)
    if ca.is_const:
        if (op is Op.LAND) == bool(const_value(ca)):
            return cb
        return ca
    return TExpr(ir.Binary(op, ca.expr, cb.expr, T.bool_))


# ------------------------------------------------------------------------------------------ unary
def unary(op: Op, a: TExpr) -> TExpr:
    """``-a``, ``~a``, ``not a`` (``+a`` is ``a``)."""
    if op is Op.NOT:
        c = to_bool(a)
        if c.is_const:
            return TExpr(ir.Const(not const_value(c), T.bool_))
        return TExpr(ir.Unary(Op.NOT, c.expr, T.bool_))
    if a.weak == "b":
        a = TExpr(cast(a, _INT64).expr, "i")   # Python: -True == -1, ~True == -2
    t = a.type
    if op is Op.NEG:
        if t.is_bool:
            raise OpError("unary '-' on a bool is not supported", hint="use 'not x' or cast to an integer first")
        if a.is_const:
            v = const_value(a)
            if t.is_float:
                return TExpr(ir.Const(-v, t), a.weak)
            if a.weak:
                return TExpr(ir.Const(-v, _INT64), "i") if -v >= T.int64.min else _overflow(-v)
            return TExpr(ir.Const(_wrap(-v, t), t))
        return TExpr(ir.Unary(Op.NEG, a.expr, t), a.weak)
    if op is Op.INVERT:
        if t.is_float:
            raise OpError("'~' needs an integer or a bool, got a float", hint="cast to an integer first")
        if a.is_const:
            v = const_value(a)
            return TExpr(ir.Const(not v if t.is_bool else _wrap(~v, t), t), a.weak)
        return TExpr(ir.Unary(Op.INVERT, a.expr, t), a.weak)
    raise OpError(f"unsupported unary operator {op.value}")


# ------------------------------------------------------------------------------------------ select, math
def select(c: TExpr, a: TExpr, b: TExpr) -> TExpr:
    """``a if c else b`` with the arms unified; folded when ``c`` is constant."""
    r = common(a, b)
    cc = to_bool(c)
    ca, cb = cast(a, r.type), cast(b, r.type)
    if cc.is_const:
        return TExpr((ca if const_value(cc) else cb).expr, r.weak)
    return TExpr(ir.Select(cc.expr, ca.expr, cb.expr, r.type), r.weak)


def _floatify(a: TExpr) -> TExpr:
    """Float math on an integer or bool: convert to float64 first (weak stays weak, as Python's math)."""
    if a.type.is_float:
        return a
    f = cast(a, T.float64)
    return TExpr(f.expr, "f" if a.weak else None)


def math_call(op: Op, args: list[TExpr]) -> TExpr:
    """A math builtin with NumPy typing: float math on floats (ints -> float64), abs/min/max on any
    numeric type, classification -> bool_."""
    if op in (Op.MIN, Op.MAX):
        if len(args) < 2:
            raise OpError(f"{op.value}() needs at least 2 arguments")
        acc = args[0]
        for nxt in args[1:]:
            acc = _min_max(op, acc, nxt)
        return acc
    arity = ir.ARITY[op]
    if len(args) != arity:
        raise OpError(f"{op.value}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}")
    if op is Op.ABS:
        a = args[0]
        if a.type.is_bool:
            return a
        if a.is_const and a.weak:
            return python_const(abs(const_value(a)))
        return TExpr(ir.Call(Op.ABS, (a.expr,), a.type), a.weak)
    if op in ir.CLASSIFY:
        a = args[0]
        if not a.type.is_float:
            return TExpr(ir.Const(op is Op.ISFINITE, T.bool_))
        return TExpr(ir.Call(op, (a.expr,), T.bool_))
    fargs = [_floatify(a) for a in args]
    r = VType(fargs[0].type, fargs[0].weak)
    for a in fargs[1:]:
        r = common(TExpr(ir.Const(0, r.type), r.weak), a)
    cargs = tuple(cast(a, r.type).expr for a in fargs)
    return TExpr(ir.Call(op, cargs, r.type), r.weak)


def _min_max(op: Op, a: TExpr, b: TExpr) -> TExpr:
    r = common(a, b)
    ca, cb = cast(a, r.type), cast(b, r.type)
    if r.type.is_bool:
        return binary(Op.AND if op is Op.MIN else Op.OR, ca, cb)
    if ca.is_const and cb.is_const and not r.type.is_float:
        x, y = const_value(ca), const_value(cb)
        return TExpr(ir.Const(min(x, y) if op is Op.MIN else max(x, y), r.type), r.weak)
    return TExpr(ir.Call(op, (ca.expr, cb.expr), r.type), r.weak)


def int_index(te: TExpr) -> TExpr:
    """An array index or a loop bound: an integer (or bool) converted to int64."""
    if te.type.is_float:
        raise OpError(f"an index or loop bound must be an integer, got {te.type}",
                      hint="convert explicitly with int(...)")
    return cast(te, _INT64)


def weak_kind_of(value: object) -> str:
    """The NEP 50 weak kind of a Python number."""
    return "b" if isinstance(value, bool) else "i" if isinstance(value, int) else "f"


def python_const(value: bool | int | float) -> TExpr:
    """A weak constant for a Python number (ints up to uint64's range)."""
    k = weak_kind_of(value)
    if k == "i":
        if T.int64.min <= value <= T.int64.max:
            return TExpr(ir.Const(int(value), T.int64), "i")
        if 0 <= value <= T.uint64.max:
            return TExpr(ir.Const(int(value), T.uint64), "i")
        raise OpError(f"the integer {value} does not fit in 64 bits")
    return TExpr(ir.Const(bool(value) if k == "b" else float(value), weak_type(k)), k)


__all__ = ["OpError", "cast", "to_bool", "materialize", "binary", "compare", "logical", "unary", "select",
           "math_call", "int_index", "python_const", "fold_cast", "kind_of"]
