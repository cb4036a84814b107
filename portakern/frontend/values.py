"""What a kernel expression can evaluate to while it is lowered, and the NEP 50 typing rules.

A scalar is a :class:`TExpr`: an IR expression plus its weakness. Python literals (and variables
that only ever hold them, and constexpr/global Python numbers) are *weak* (NEP 50): they take the
type of the typed value they meet (``x * 2.0`` keeps float32 ``x`` float32). Other values the
lowering handles are arrays, types (callable casts), builtins, helpers, modules and tuples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import types as T
from ..ir import nodes as ir
from ..types import ScalarType

#: Weak kinds: 'b' (Python bool), 'i' (Python int), 'f' (Python float); None is strong.
_KIND_ORDER = {"b": 0, "i": 1, "f": 2}
_WEAK_TYPE = {"b": T.bool_, "i": T.int64, "f": T.float64}


@dataclass(frozen=True, slots=True)
class TExpr:
    """A typed scalar expression; ``weak`` is the NEP 50 weak kind or None."""

    expr: ir.Expr
    weak: str | None = None

    @property
    def type(self) -> ScalarType:
        return self.expr.type  # type: ignore[union-attr,return-value]

    @property
    def is_const(self) -> bool:
        return isinstance(self.expr, ir.Const)


@dataclass(frozen=True, slots=True)
class VecValue:
    """A short vector (``pk.vec``, ``pk.vload``): one scalar per lane, every lane of one type and
    weakness. It lives only in the front end: each lane lowers to its own scalar IR (see
    :mod:`portakern.frontend.vectors`)."""

    items: tuple[TExpr, ...]

    @property
    def type(self) -> ScalarType:
        return self.items[0].type

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class VType:
    """A variable's type during inference: a scalar type and whether it is weak."""

    type: ScalarType
    weak: str | None = None


@dataclass(frozen=True, slots=True)
class ArrayValue:
    ref: ir.ArrayRef


@dataclass(frozen=True, slots=True)
class ShapeValue:
    """``x.shape`` (only subscripted, unpacked or measured)."""

    ref: ir.ArrayRef


@dataclass(frozen=True, slots=True)
class TypeValue:
    """A scalar type used as a value: callable as a cast, or a dtype argument."""

    type: ScalarType


@dataclass(frozen=True, slots=True)
class TupleValue:
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PyObject:
    """Any other Python object a name resolves to (a module, a builtin, a helper, ...)."""

    obj: Any


@dataclass(frozen=True, slots=True)
class NoValue:
    """The result of a call that returns nothing (barrier, a helper without ``return``)."""


NONE = NoValue()


def weak_type(kind: str) -> ScalarType:
    """The concrete type a weak value of ``kind`` materialises as (int64, float64, bool_)."""
    return _WEAK_TYPE[kind]


def kind_of(t: ScalarType) -> str:
    return "b" if t.is_bool else "f" if t.is_float else "i"


def join(a: VType, b: VType) -> VType:
    """Unify two variable types (NumPy promotion; weak values defer to strong ones)."""
    if a.weak and b.weak:
        k = a.weak if _KIND_ORDER[a.weak] >= _KIND_ORDER[b.weak] else b.weak
        return VType(weak_type(k), k)
    if a.weak:
        return VType(T.weak_promote(b.type, a.weak))
    if b.weak:
        return VType(T.weak_promote(a.type, b.weak))
    return VType(T.promote(a.type, b.type))


def common(a: TExpr, b: TExpr) -> VType:
    """The NEP 50 result type of combining two scalars."""
    return join(VType(a.type, a.weak), VType(b.type, b.weak))


def fits(value: int | float | bool, t: ScalarType) -> bool:
    """Whether a Python number is representable in ``t`` without overflow (ints) or is finite-or-inf."""
    if t.is_float or t.is_bool:
        return True
    return isinstance(value, (bool, int)) and t.min <= int(value) <= t.max  # type: ignore[operator]


def py_value(value: Any, t: ScalarType) -> bool | int | float:
    """Convert a Python/NumPy number to the Python value a ``Const`` of type ``t`` holds (NumPy rules)."""
    if t.is_bool:
        return bool(value)
    if t.is_int:
        return int(value)
    with np.errstate(all="ignore"):   # float64 -> float32 overflow is inf, as NumPy's cast
        return float(np.dtype(t.name).type(value))


def const(value: bool | int | float, t: ScalarType, weak: str | None = None) -> TExpr:
    """A constant of type ``t`` (the value converted like NumPy)."""
    return TExpr(ir.Const(py_value(value, t), t), weak)


def const_value(te: TExpr) -> Any:
    """The Python value of a constant expression (``te.is_const`` must hold)."""
    return te.expr.value  # type: ignore[union-attr]
