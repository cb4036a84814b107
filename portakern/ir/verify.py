"""The IR verifier: checks the typing rules written in :mod:`portakern.ir.nodes`.

A failure is a compiler bug (the front end or a pass produced malformed IR), so it raises
:class:`VerifyError`, not a user-facing ``PortakernError``.
"""
from __future__ import annotations

from typing import NoReturn

from .. import types as T
from . import nodes as ir
from .launch_local import size_problem
from .nodes import Op

__all__ = ["VerifyError", "verify"]

_INT64 = T.int64
_BOOL = T.bool_


class VerifyError(Exception):
    """Malformed IR (a compiler bug); the message names the offending node."""


class _Verifier:
    def __init__(self, kernel: ir.Kernel) -> None:
        self.kernel = kernel
        self.scalars: dict[str, T.ScalarType] = {}
        self.arrays: dict[str, T.ArrayType] = {}
        for p in kernel.params:
            if isinstance(p.type, T.ScalarType):
                if p.type.is_half:
                    self.fail(p, "half types are array storage only, not scalar parameters")
                self.scalars[p.name] = p.type
            elif isinstance(p.type, T.ArrayType):
                if p.type.space != T.ArraySpace.GLOBAL:
                    self.fail(p, "a parameter array must be global")
                self.arrays[p.name] = p.type
            else:
                self.fail(p, f"parameter type {p.type!r} is neither a ScalarType nor an ArrayType")
        self.locals: dict[str, T.ScalarType] = {}
        for v in kernel.locals:
            if v.name in self.scalars:
                self.fail(v, "a local variable has the name of a scalar parameter")
            if v.name in self.locals and self.locals[v.name] != v.type:
                self.fail(v, "a local variable is listed twice with different types")
            self.locals[v.name] = v.type

    def fail(self, node: object, why: str) -> NoReturn:
        loc = getattr(node, "loc", None)
        where = f" at {loc}" if isinstance(loc, ir.Loc) and loc.line else ""
        raise VerifyError(f"kernel '{self.kernel.name}': {why}{where}: {_short(node)}")

    # ------------------------------------------------------------------------------ statements
    def body(self, stmts: tuple[ir.Stmt, ...], loops: int) -> None:
        if not isinstance(stmts, tuple):
            self.fail(stmts, "a statement list must be a tuple")
        for s in stmts:
            self.stmt(s, loops)

    def stmt(self, s: ir.Stmt, loops: int) -> None:
        if isinstance(s, ir.Assign):
            t = self.var(s.target)
            if s.target.name not in self.locals:
                self.fail(s, f"assigned variable '{s.target.name}' is not in kernel.locals")
            if self.expr(s.value) != t:
                self.fail(s, f"assigns a {s.value.type} value to the {t} variable '{s.target.name}'")  # type: ignore[union-attr]
        elif isinstance(s, ir.Store):
            dtype = self.access(s, s.array, s.indices)
            if dtype.is_half:
                v = s.value
                if not (isinstance(v, ir.Cast) and v.type == dtype and self.expr(v.value) == T.float32):
                    self.fail(s, f"a {dtype} element stores Cast(float32 value, {dtype})")
            elif self.expr(s.value) != dtype:
                self.fail(s, f"stores a {s.value.type} value into a {dtype} array")  # type: ignore[union-attr]
            if s.array.type.readonly:
                self.fail(s, f"stores into the read-only array '{s.array.name}'")
        elif isinstance(s, ir.Evaluate):
            self.expr(s.value)
        elif isinstance(s, ir.DeclArray):
            at = s.array.type
            if s.size is not None:
                if at.space != T.ArraySpace.LOCAL or at.shape is not None or at.ndim != 1:
                    self.fail(s, "an array sized at launch must be a 1-D local array without a compile-time shape")
                if self.expr(s.size) != T.int64:
                    self.fail(s, "the size of an array sized at launch must be int64")
                problem = size_problem(s.size, set(self.scalars))
                if problem is not None:
                    self.fail(s, f"the launch size of '{s.array.name}' is not computable at launch: {problem}")
            elif at.space not in (T.ArraySpace.LOCAL, T.ArraySpace.PRIVATE) or at.shape is None \
                    or len(at.shape) != at.ndim or any(not isinstance(d, int) or d <= 0 for d in at.shape):
                self.fail(s, "a declared array must be local or private with a positive compile-time shape")
            if at.dtype.is_half:
                self.fail(s, "half types are global array storage only")
            if s.array.name in self.arrays and self.arrays[s.array.name] != at:
                self.fail(s, f"array '{s.array.name}' is declared twice with different types")
            self.arrays[s.array.name] = at
        elif isinstance(s, ir.If):
            self.cond(s.cond, s)
            self.body(s.then, loops)
            self.body(s.orelse, loops)
        elif isinstance(s, ir.For):
            if s.var.type != _INT64 or s.var.name not in self.locals:
                self.fail(s, "a loop variable must be an int64 listed in kernel.locals")
            for e in (s.start, s.stop, s.step):
                if self.expr(e) != _INT64:
                    self.fail(s, "loop bounds must be int64")
            self.body(s.body, loops + 1)
        elif isinstance(s, ir.While):
            self.cond(s.cond, s)
            self.body(s.body, loops + 1)
        elif isinstance(s, (ir.Break, ir.Continue)):
            if loops == 0:
                self.fail(s, f"{type(s).__name__} outside a loop")
        elif isinstance(s, (ir.Return, ir.Barrier)):
            pass
        elif isinstance(s, ir.Subgroup):
            self.subgroup(s)
        else:
            self.fail(s, f"unknown statement {type(s).__name__}")

    def subgroup(self, s: ir.Subgroup) -> None:
        if s.op not in ir.SUBGROUP_OPS:
            self.fail(s, "not a sub-group op")
        if not self.kernel.uses_subgroup:
            self.fail(s, "a Subgroup statement in a kernel whose uses_subgroup is False")
        if s.target.name not in self.locals:
            self.fail(s, f"assigned variable '{s.target.name}' is not in kernel.locals")
        t = self.var(s.target)
        if self.expr(s.value) != t:
            self.fail(s, f"a Subgroup gives its value's type ({s.value.type}), not {t}")  # type: ignore[union-attr]
        if self.expr(s.llid) != _INT64:
            self.fail(s, "a Subgroup's local linear id is int64")
        if (s.arg is not None) != (s.op in ir.SUBGROUP_SHUFFLES):
            self.fail(s, "a Subgroup has a lane argument exactly when it is a shuffle")
        if s.arg is not None and self.expr(s.arg) != _INT64:
            self.fail(s, "a shuffle's lane argument is int64")
        if s.op in (Op.SUBGROUP_ANY, Op.SUBGROUP_ALL) and t != _BOOL:
            self.fail(s, f"{s.op.value} takes and gives bool_")
        if s.op in (Op.SUBGROUP_REDUCE_ADD, Op.SUBGROUP_REDUCE_MIN, Op.SUBGROUP_REDUCE_MAX) and t.is_bool:
            self.fail(s, f"{s.op.value} does not apply to bool_")

    def cond(self, e: ir.Expr, owner: object) -> None:
        if self.expr(e) != _BOOL:
            self.fail(owner, "a condition must be bool_")

    # ------------------------------------------------------------------------------ expressions
    def var(self, v: ir.Var) -> T.ScalarType:
        if not isinstance(v, ir.Var):
            self.fail(v, "expected a Var")
        t = self.locals.get(v.name) or self.scalars.get(v.name)
        if t is None:
            self.fail(v, f"variable '{v.name}' is neither in kernel.locals nor a scalar parameter")
        if t != v.type:
            self.fail(v, f"variable '{v.name}' is used as {v.type} but declared {t}")
        return v.type

    def access(self, node: object, arr: ir.ArrayRef, indices: tuple[ir.Expr, ...]) -> T.ScalarType:
        known = self.arrays.get(arr.name)
        if known is None:
            self.fail(node, f"array '{arr.name}' is neither a parameter nor declared before use")
        elif known != arr.type:
            self.fail(node, f"array '{arr.name}' is used with type {arr.type} but has {known}")
        if len(indices) != arr.type.ndim:
            self.fail(node, f"{len(indices)} indices for the {arr.type.ndim}-d array '{arr.name}'")
        for i in indices:
            if self.expr(i) != _INT64:
                self.fail(node, "array indices must be int64")
        return arr.type.dtype

    def expr(self, e: ir.Expr) -> T.ScalarType:
        t = getattr(e, "type", None)
        if isinstance(e, ir.ArrayRef) or not isinstance(t, T.ScalarType):
            self.fail(e, "an expression must have a scalar type")
        assert isinstance(t, T.ScalarType)
        if t.is_half:
            self.fail(e, f"a {t} value outside a half array's Store (half types are storage only)")
        if isinstance(e, ir.Const):
            self.const(e)
        elif isinstance(e, ir.Var):
            self.var(e)
        elif isinstance(e, ir.Binary):
            self.binary(e)
        elif isinstance(e, ir.Unary):
            self.unary(e)
        elif isinstance(e, ir.Call):
            self.call(e)
        elif isinstance(e, ir.Cast):
            src = e.value
            if isinstance(src, ir.Load) and src.type.is_half:   # a half element widening to float32
                if t != T.float32 or self.access(src, src.array, src.indices) != src.type:
                    self.fail(e, "a half element loads as Cast(Load, float32)")
            else:
                self.expr(src)
        elif isinstance(e, ir.Select):
            self.cond(e.cond, e)
            if self.expr(e.then) != t or self.expr(e.orelse) != t:
                self.fail(e, "both arms of a Select must have its type")
        elif isinstance(e, ir.IndexQuery):
            if e.op not in ir.INDEX_QUERIES or t != _INT64:
                self.fail(e, "an index query must be an index op of type int64")
            if not 0 <= e.dim < self.kernel.grid_ndim:
                self.fail(e, f"index query dimension {e.dim} is not below grid_ndim {self.kernel.grid_ndim}")
        elif isinstance(e, ir.Shape):
            if t != _INT64 or not 0 <= e.dim < e.array.type.ndim:
                self.fail(e, "Shape must be int64 with dim < ndim")
            if e.array.type.space != T.ArraySpace.GLOBAL or self.arrays.get(e.array.name) != e.array.type:
                self.fail(e, "Shape applies to global array parameters only")
        elif isinstance(e, ir.Load):
            if self.access(e, e.array, e.indices) != t:
                self.fail(e, "a Load has its array's element type")
        elif isinstance(e, ir.Atomic):
            if e.op not in ir.ATOMICS:
                self.fail(e, "not an atomic op")
            if e.array.type.space == T.ArraySpace.PRIVATE:
                self.fail(e, "atomics apply to global or local arrays")
            if self.access(e, e.array, e.indices) != t or self.expr(e.value) != t:
                self.fail(e, "an Atomic's value and result have the array's element type")
            if t not in (T.int32, T.uint32, T.int64, T.uint64, T.float32, T.float64):
                self.fail(e, f"atomics do not support {t}")
            if e.op in ir.INT_ATOMICS and not t.is_int:
                self.fail(e, f"{e.op.value} applies to integer arrays only")
            if (e.compare is not None) != (e.op is ir.Op.ATOMIC_CAS):
                self.fail(e, "an Atomic has a compare value exactly when it is a compare-and-swap")
            if e.compare is not None and self.expr(e.compare) != t:
                self.fail(e, "a compare-and-swap's expected value has the array's element type")
        else:
            self.fail(e, f"unknown expression {type(e).__name__}")
        return t

    def const(self, e: ir.Const) -> None:
        t, v = e.type, e.value
        ok = (isinstance(v, bool) if t.is_bool else
              isinstance(v, int) and not isinstance(v, bool) and t.min <= v <= t.max if t.is_int else
              isinstance(v, float))
        if not ok:
            self.fail(e, f"constant {v!r} is not a valid {t} value")

    def binary(self, e: ir.Binary) -> None:
        lt, rt = self.expr(e.lhs), self.expr(e.rhs)
        if lt != rt:
            self.fail(e, f"operands of '{e.op.value}' have different types ({lt}, {rt})")
        if e.op in ir.COMPARISONS or e.op in ir.LOGICAL:
            if e.type != _BOOL:
                self.fail(e, f"'{e.op.value}' gives bool_")
            if e.op in ir.LOGICAL and lt != _BOOL:
                self.fail(e, f"'{e.op.value}' takes bool_ operands")
            return
        if e.op not in ir.ARITHMETIC and e.op not in ir.BITWISE:
            self.fail(e, f"'{e.op.value}' is not a binary op")
        if e.type != lt:
            self.fail(e, f"'{e.op.value}' result type differs from its operands'")
        if e.op is Op.DIV and not lt.is_float:
            self.fail(e, "'/' applies to floats only (integers are cast to float64 first)")
        if e.op in ir.BITWISE and lt.is_float:
            self.fail(e, f"'{e.op.value}' applies to integers and bools only")
        if e.op in ir.ARITHMETIC and lt.is_bool:
            self.fail(e, f"'{e.op.value}' does not apply to bool_")

    def unary(self, e: ir.Unary) -> None:
        t = self.expr(e.operand)
        if e.op not in ir.UNARY or e.type != t:
            self.fail(e, "a Unary keeps its operand's type")
        if e.op is Op.NOT and t != _BOOL:
            self.fail(e, "'not' takes bool_")
        if e.op is Op.INVERT and t.is_float:
            self.fail(e, "'~' applies to integers and bools")
        if e.op is Op.NEG and t.is_bool:
            self.fail(e, "'-' does not apply to bool_")

    def call(self, e: ir.Call) -> None:
        if e.op not in ir.MATH:
            self.fail(e, f"'{e.op.value}' is not a math op")
        if len(e.args) != ir.ARITY[e.op]:
            self.fail(e, f"{e.op.value}() takes {ir.ARITY[e.op]} arguments, got {len(e.args)}")
        types = {self.expr(a) for a in e.args}
        if len(types) != 1:
            self.fail(e, f"arguments of {e.op.value}() have different types")
        (at,) = types
        if e.op in ir.CLASSIFY:
            if e.type != _BOOL or not at.is_float:
                self.fail(e, f"{e.op.value}() takes a float and gives bool_")
        elif e.op in ir.FLOAT_MATH:
            if not at.is_float or e.type != at:
                self.fail(e, f"{e.op.value}() takes and gives one float type")
        elif e.type != at or at.is_bool:
            self.fail(e, f"{e.op.value}() takes and gives one numeric type")


def _short(node: object, limit: int = 200) -> str:
    text = repr(node)
    return text if len(text) <= limit else text[:limit] + "..."


def verify(kernel: ir.Kernel) -> ir.Kernel:
    """Check ``kernel`` against the IR's typing rules; raise :class:`VerifyError` naming the first
    offending node. Returns the kernel, so it can wrap an expression."""
    if not isinstance(kernel, ir.Kernel):
        raise VerifyError(f"expected an ir.Kernel, got {type(kernel).__name__}")
    if not 1 <= kernel.grid_ndim <= 3:
        raise VerifyError(f"kernel '{kernel.name}': grid_ndim {kernel.grid_ndim} is not 1, 2 or 3")
    v = _Verifier(kernel)
    v.body(kernel.body, 0)
    params = {p.name: p.type.ndim for p in kernel.params if isinstance(p.type, T.ArrayType)}
    for name in kernel.written:
        if name not in params:
            raise VerifyError(f"kernel '{kernel.name}': written names '{name}', which is not an array parameter")
    for rel in kernel.shape_ge:
        for name, dim in (rel[:2], rel[2:]):
            if name not in params or not 0 <= dim < params[name]:
                raise VerifyError(f"kernel '{kernel.name}': shape relation {rel} names '{name}' dimension {dim}, "
                                  "which is not a dimension of an array parameter")
    return kernel
