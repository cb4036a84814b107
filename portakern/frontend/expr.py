"""Lowering of expressions: one ``visit_<Node>`` per supported Python expression."""
from __future__ import annotations

import ast
import types as pytypes
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import types as T
from ..errors import CompileError
from ..ir import nodes as ir
from ..ir.nodes import Op
from . import ops, vectors
from .builtins import as_type, builtin_name
from .intrinsics import Intrinsic
from .ops import OpError
from .scope import PassState, Scope, unsupported
from .values import (
    ArrayValue,
    NoValue,
    PyObject,
    ShapeValue,
    TExpr,
    TupleValue,
    TypeValue,
    VecValue,
    VType,
    const_value,
)

BINOPS: dict[type, Op] = {
    ast.Add: Op.ADD, ast.Sub: Op.SUB, ast.Mult: Op.MUL, ast.Div: Op.DIV, ast.FloorDiv: Op.FLOORDIV,
    ast.Mod: Op.MOD, ast.Pow: Op.POW, ast.BitAnd: Op.AND, ast.BitOr: Op.OR, ast.BitXor: Op.XOR,
    ast.LShift: Op.SHL, ast.RShift: Op.SHR,
}
CMPOPS: dict[type, Op] = {
    ast.Lt: Op.LT, ast.LtE: Op.LE, ast.Gt: Op.GT, ast.GtE: Op.GE, ast.Eq: Op.EQ, ast.NotEq: Op.NE,
}
_UNSUPPORTED_EXPR = {
    ast.List: ("a list", "kernels have no lists; use a pk.private_array or pass an array argument"),
    ast.Dict: ("a dict", "kernels work on scalars and arrays only"),
    ast.Set: ("a set", "kernels work on scalars and arrays only"),
    ast.ListComp: ("a list comprehension", "write a for loop over range(...)"),
    ast.SetComp: ("a set comprehension", "write a for loop over range(...)"),
    ast.DictComp: ("a dict comprehension", "write a for loop over range(...)"),
    ast.GeneratorExp: ("a generator expression", "write a for loop over range(...)"),
    ast.Lambda: ("a lambda", "define a helper with @pk.func"),
    ast.JoinedStr: ("an f-string", "kernels cannot build strings"),
    ast.FormattedValue: ("an f-string", "kernels cannot build strings"),
    ast.NamedExpr: ("':=' (an assignment expression)", "assign in a separate statement"),
    ast.Starred: ("'*' unpacking", "pass each value explicitly"),
    ast.Slice: ("slicing", "index one element per dimension, e.g. x[i, j]"),
    ast.Await: ("'await'", ""),
    ast.Yield: ("'yield'", "kernels return nothing; write results into an array argument"),
    ast.YieldFrom: ("'yield from'", "kernels return nothing; write results into an array argument"),
}


#: what a user writing a grid-wide barrier (``pk.grid_sync()`` and the like) is told: no backend can
#: wait for every work-group of a launch (they need not all be resident at once)
NO_GRID_SYNC = ("portakern has no grid-wide barrier (pk.barrier() synchronises one work-group): end the "
                "kernel here and launch the next step as a second kernel; the arrays stay on the device "
                "between launches (docs/language.md \"Multi-step algorithms\")")
_GRID_SYNC_NAMES = frozenset({"gridsync", "syncgrid", "gridbarrier", "barriergrid", "globalbarrier",
                              "devicebarrier", "thisgrid", "syncdevice", "devicesync"})


class ExprLowering:
    """Mixin of the lowering: expressions. The host class provides the state below."""

    scope: Scope
    state: PassState
    out: list[ir.Stmt]
    grid_ndim: int
    kernel_name: str

    # provided by the host class
    def call(self, node: ast.Call, want_value: bool) -> Any: ...  # pragma: no cover
    def assign_var(self, name: str, te: TExpr, node: ast.AST) -> None: ...  # pragma: no cover

    # ----------------------------------------------------------------------------- entry points
    def err(self, node: ast.AST, message: str, hint: str = "") -> CompileError:
        return CompileError(message, loc=self.scope.loc(node), hint=hint)

    def value(self, node: ast.AST) -> Any:
        """Lower an expression to a value (a TExpr for scalars; arrays, types, tuples... otherwise)."""
        visitor = getattr(self, "visit_" + type(node).__name__, None)
        if visitor is None or not isinstance(node, ast.expr):
            what, hint = _UNSUPPORTED_EXPR.get(type(node), (f"the expression '{type(node).__name__}'", ""))
            raise unsupported(self.scope, node, what, hint)
        try:
            return visitor(node)
        except OpError as exc:
            raise self.err(node, exc.message, exc.hint) from None

    def expr(self, node: ast.AST) -> TExpr:
        """Lower an expression that must be a scalar."""
        return self.scalar(self.value(node), node)

    def scalar(self, v: Any, node: ast.AST) -> TExpr:
        """``v`` (the value of ``node``), which must be a scalar."""
        if isinstance(v, TExpr):
            return v
        raise self.err(node, f"expected a number here, got {describe(v)}", hint=_hint_for(v))

    def number_or_vector(self, node: ast.AST) -> TExpr | VecValue:
        """Lower an expression that must be a scalar or a short vector."""
        v = self.value(node)
        return v if isinstance(v, VecValue) else self.scalar(v, node)

    def capture(self, fn: Callable[[], Any]) -> tuple[Any, list[ir.Stmt]]:
        """Run ``fn`` collecting the statements it emits (helper bodies, temporaries) separately."""
        saved, self.out = self.out, []
        try:
            result = fn()
            return result, self.out
        finally:
            self.out = saved

    def temp(self, te: TExpr, node: ast.AST) -> TExpr:
        """``te`` stored in a fresh temporary variable (evaluated once, here)."""
        name = f"__pk_t{self.state.fresh('t')}"
        self.assign_var(name, te, node, raw=True)  # type: ignore[call-arg]
        return self.read_var(name, node)

    def read_var(self, irname: str, node: ast.AST, user_name: str | None = None) -> TExpr:
        """Read a scalar variable with its type from the previous pass (or this one's so far)."""
        if irname not in self.state.assigned and self.scope.loop_depth == 0:
            # nothing assigned it yet in program order, and no loop can carry a value around to here
            raise self.err(node, f"variable '{user_name or irname}' is used before it is assigned",
                           hint="assign it on every path before reading it")
        vt = self.state.env.get(irname) or self.state.assigned.get(irname)
        if vt is None:
            self.state.unknown_reads.append((user_name or irname, self.scope.loc(node)))
            vt = VType(T.bool_, "b")   # bottom of the type lattice until the variable is assigned
        return TExpr(ir.Var(irname, vt.type), vt.weak)

    # ----------------------------------------------------------------------------- leaves
    def visit_Constant(self, node: ast.Constant) -> Any:
        v = node.value
        if isinstance(v, (bool, int, float)):
            return ops.python_const(v)
        if v is None:
            raise self.err(node, "None is not a value in kernels", hint="kernels compute numbers and arrays")
        if isinstance(v, (str, bytes)):
            raise unsupported(self.scope, node, "a string", "kernels cannot use text; remove the string")
        raise unsupported(self.scope, node, f"the constant {v!r}")

    def visit_Name(self, node: ast.Name) -> Any:
        name = node.id
        scope = self.scope
        if name in scope.bindings:
            return scope.bindings[name]
        if name in scope.src.local_names:
            irname = scope.var_name(name)
            lanes = vectors.lanes_of(self, irname)
            if lanes:
                return vectors.read(self, irname, lanes, node, name)
            return self.read_var(irname, node, name)
        found, obj = scope.src.lookup(name)
        if not found:
            raise self.err(node, f"name '{name}' is not defined", hint="define it, or pass it as an argument")
        return self.from_python(obj, node, name)

    def from_python(self, obj: Any, node: ast.AST, name: str) -> Any:
        """The value of a Python object a name refers to (a frozen global, a builtin, a module...)."""
        from ..lang import Func

        if isinstance(obj, (bool, int, float)) and not isinstance(obj, np.generic):
            return ops.python_const(obj)
        if isinstance(obj, np.generic) and not isinstance(obj, np.ndarray):
            try:
                t = T.as_scalar_type(obj.dtype)
            except TypeError:
                raise self.err(node, f"'{name}' is a NumPy scalar of unsupported type {obj.dtype}") from None
            return ops.cast(TExpr(ir.Const(obj.item(), t)), t)
        if isinstance(obj, Intrinsic):
            return obj.lower_value(self, node)
        as_t = as_type(obj)
        if as_t is not None:
            return TypeValue(as_t)
        if builtin_name(obj) is not None or isinstance(obj, (Func, pytypes.ModuleType)):
            return PyObject(obj)
        if isinstance(obj, tuple):
            return TupleValue(tuple(self.from_python(x, node, name) for x in obj))
        if isinstance(obj, (np.ndarray, list, dict, set)) or not isinstance(obj, type) and (
                hasattr(obj, "__array_interface__") or hasattr(obj, "__cuda_array_interface__")
                or hasattr(obj, "__dlpack__")):
            raise self.err(node, f"'{name}' is a global {type(obj).__name__}; kernels cannot read global "
                           "arrays or containers", hint=f"pass '{name}' to the kernel as an argument")
        if callable(obj):
            return PyObject(obj)   # an error if called (not a builtin or a @pk.func); named then
        raise self.err(node, f"'{name}' is a {type(obj).__name__}, which kernels cannot use",
                       hint="kernels can read global ints, floats and bools; pass anything else as an argument")

    # ----------------------------------------------------------------------------- attributes, subscripts
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        base = self.value(node.value)
        attr = node.attr
        if isinstance(base, PyObject) and isinstance(base.obj, pytypes.ModuleType):
            if not hasattr(base.obj, attr):
                hint = NO_GRID_SYNC if attr.lower().replace("_", "") in _GRID_SYNC_NAMES else ""
                raise self.err(node, f"module '{base.obj.__name__}' has no attribute '{attr}'", hint=hint)
            return self.from_python(getattr(base.obj, attr), node, f"{base.obj.__name__}.{attr}")
        if isinstance(base, PyObject) and isinstance(base.obj, Intrinsic):
            return base.obj.lower_attribute(self, node)
        if isinstance(base, VecValue):
            return vectors.attribute(self, base, node)
        if isinstance(base, ArrayValue):
            ref = base.ref
            if attr == "shape":
                return ShapeValue(ref)
            if attr == "ndim":
                return ops.python_const(ref.type.ndim)
            if attr == "dtype":
                return TypeValue(ref.type.dtype)
            if attr == "size":
                size: TExpr = ops.python_const(1)
                for d in range(ref.type.ndim):
                    size = ops.binary(Op.MUL, size, self.shape_dim(ref, d, node))
                return size
            raise self.err(node, f"arrays have no attribute '{attr}' in kernels",
                           hint="available: x.shape[d], x.ndim, x.size, x.dtype")
        raise self.err(node, f"{describe(base)} has no attribute '{attr}' in kernels")

    def shape_dim(self, ref: ir.ArrayRef, d: int, node: ast.AST) -> TExpr:
        """``ref.shape[d]``: a runtime Shape for global arrays, a constant for local/private ones.
        Shapes are Python ints in NumPy, hence weak."""
        nd = ref.type.ndim
        if d < 0:
            d += nd
        if not 0 <= d < nd:
            raise self.err(node, f"dimension {d} is out of range for the {nd}-d array '{ref.name}'")
        if ref.type.shape is not None:
            return ops.python_const(ref.type.shape[d])
        if ref.name in self.state.launch_sizes:      # a local array sized at launch
            return TExpr(self.state.launch_sizes[ref.name].expr, "i")
        return TExpr(ir.Shape(ref, d, T.int64), "i")

    def const_int(self, node: ast.AST, what: str) -> int:
        """A compile-time integer (literal, constexpr, frozen global, or arithmetic on them)."""
        v = self.value(node)
        if isinstance(v, TExpr) and v.is_const and (v.type.is_int or v.type.is_bool):
            return int(const_value(v))
        raise self.err(node, f"{what} must be a compile-time integer",
                       hint="use a literal, a pk.constexpr parameter or a global int")

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        base = self.value(node.value)
        if isinstance(node.slice, ast.Slice) or (isinstance(node.slice, ast.Tuple)
                                                 and any(isinstance(e, ast.Slice) for e in node.slice.elts)):
            raise unsupported(self.scope, node, "slicing", "index one element per dimension, e.g. x[i, j]")
        if isinstance(base, ShapeValue):
            return self.shape_dim(base.ref, self.const_int(node.slice, "the dimension in x.shape[d]"), node)
        if isinstance(base, VecValue):
            return vectors.subscript(self, base, node)
        if isinstance(base, TupleValue):
            i = self.const_int(node.slice, "a tuple index")
            if not -len(base.items) <= i < len(base.items):
                raise self.err(node, f"tuple index {i} is out of range")
            return base.items[i]
        if isinstance(base, ArrayValue):
            indices = self.indices(base.ref, node.slice, node)
            return ops.load(base.ref, indices, self.scope.loc(node))
        raise self.err(node, f"{describe(base)} cannot be indexed")

    def writable(self, ref: ir.ArrayRef, node: ast.AST, how: str) -> None:
        """Refuse a write (``how``: "a store", "pk.atomic_add"...) to a ``pk.constant`` parameter."""
        if ref.type.readonly:
            raise self.err(node, f"{how} writes '{ref.name}', a pk.constant parameter: constant arrays are "
                           "read-only in kernels", hint=f"annotate '{ref.name}' pk.Array to write it, or write "
                           "into another array")

    def indices(self, ref: ir.ArrayRef, index_node: ast.AST, node: ast.AST) -> tuple[ir.Expr, ...]:
        """One int64 index per dimension of ``ref``."""
        v = self.value(index_node)
        items = v.items if isinstance(v, TupleValue) else (v,)
        return self.index_values(ref, items, node)

    def index_values(self, ref: ir.ArrayRef, items: tuple[Any, ...], node: ast.AST) -> tuple[ir.Expr, ...]:
        nd = ref.type.ndim
        if len(items) != nd:
            raise self.err(node, f"'{ref.name}' has {nd} dimension{'s' if nd > 1 else ''} but is indexed "
                           f"with {len(items)} index{'es' if len(items) != 1 else ''}",
                           hint="give exactly one integer index per dimension")
        out = []
        for it in items:
            if not isinstance(it, TExpr):
                raise self.err(node, f"an array index must be an integer, got {describe(it)}")
            out.append(ops.int_index(it).expr)
        return tuple(out)

    # ----------------------------------------------------------------------------- operators
    def visit_BinOp(self, node: ast.BinOp) -> TExpr | VecValue:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise unsupported(self.scope, node, "the '@' operator", "write the loops explicitly")
        return self.binop(op, self.number_or_vector(node.left), self.number_or_vector(node.right), node)

    def binop(self, op: Op, a: TExpr | VecValue, b: TExpr | VecValue, node: ast.AST) -> TExpr | VecValue:
        """``a op b`` on scalars, or lane by lane when either is a vector."""
        if isinstance(a, VecValue) or isinstance(b, VecValue):
            return vectors.binary(self, op, a, b, node)
        return ops.binary(op, a, b)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> TExpr | VecValue:
        a = self.number_or_vector(node.operand)
        if isinstance(a, VecValue):
            op_ = None if isinstance(node.op, ast.UAdd) else \
                {ast.USub: Op.NEG, ast.Invert: Op.INVERT, ast.Not: Op.NOT}[type(node.op)]
            return vectors.unary(self, op_, a, node)
        if isinstance(node.op, ast.UAdd):
            if a.type.is_bool and not a.weak:
                raise self.err(node, "unary '+' on a bool is not supported", hint="cast to an integer first")
            return a
        op = {ast.USub: Op.NEG, ast.Invert: Op.INVERT, ast.Not: Op.NOT}[type(node.op)]
        return ops.unary(op, a)

    def visit_BoolOp(self, node: ast.BoolOp) -> TExpr:
        op = Op.LAND if isinstance(node.op, ast.And) else Op.LOR
        acc = ops.to_bool(self.expr(node.values[0]))
        for rhs_node in node.values[1:]:
            rhs, pending = self.capture(lambda n=rhs_node: ops.to_bool(self.expr(n)))  # type: ignore[misc]
            acc = self.short_circuit(op, acc, rhs, pending, rhs_node)
        return acc

    def short_circuit(self, op: Op, lhs: TExpr, rhs: TExpr, pending: list[ir.Stmt], node: ast.AST) -> TExpr:
        """``lhs and rhs`` where evaluating ``rhs`` needs statements: only run them when needed."""
        if lhs.is_const:
            if (op is Op.LAND) == bool(const_value(lhs)):
                self.out.extend(pending)
                return rhs
            return lhs
        if not pending:
            return ops.logical(op, lhs, rhs)
        flag = self.temp(lhs, node)
        cond = flag if op is Op.LAND else ops.unary(Op.NOT, flag)
        name = flag.expr.name  # type: ignore[union-attr]
        body = list(pending) + [ir.Assign(ir.Var(name, T.bool_), rhs.expr, self.scope.loc(node))]
        self.out.append(ir.If(cond.expr, tuple(body), (), self.scope.loc(node)))
        return flag

    def visit_Compare(self, node: ast.Compare) -> TExpr | VecValue:
        for op_node in node.ops:
            if type(op_node) not in CMPOPS:
                what = {ast.In: "'in'", ast.NotIn: "'not in'", ast.Is: "'is'", ast.IsNot: "'is not'"}
                raise unsupported(self.scope, node, what.get(type(op_node), "this comparison"),
                                  "compare numbers with < <= > >= == !=")
        n = len(node.ops)
        if n == 1:   # one comparison: lane by lane when a vector is compared
            a = self.number_or_vector(node.left)
            b = self.number_or_vector(node.comparators[0])
            op = CMPOPS[type(node.ops[0])]
            if isinstance(a, VecValue) or isinstance(b, VecValue):
                return vectors.compare(self, op, a, b, node)
            return ops.compare(op, a, b)
        left = self.expr(node.left)
        result: TExpr | None = None
        for i, (op_node, right_node) in enumerate(zip(node.ops, node.comparators)):
            op = CMPOPS[type(op_node)]

            def rhs_fn(right_node: ast.AST = right_node, last: bool = i == n - 1) -> TExpr:
                r = self.expr(right_node)
                if not last and not isinstance(r.expr, (ir.Var, ir.Const)):
                    r = self.temp(r, right_node)   # evaluated once for both comparisons
                return r

            if result is None:
                right = rhs_fn()
                result = ops.compare(op, left, right)
            else:
                (right, cmp), pending = self.capture(
                    lambda f=rhs_fn, op=op, lhs=left: _cmp_with(f, op, lhs))  # type: ignore[misc]
                result = self.short_circuit(Op.LAND, result, cmp, pending, node)
            left = right
        assert result is not None
        return result

    def visit_IfExp(self, node: ast.IfExp) -> TExpr | VecValue:
        return self.conditional(node, node.test, node.body, node.orelse, vector_test=False)

    def conditional(self, node: ast.AST, test: ast.AST, body: ast.AST, orelse: ast.AST,
                    vector_test: bool = True) -> TExpr | VecValue:
        """``body if test else orelse`` (also ``pk.where``): only the chosen arm runs, including any
        statements an arm needs (an inlined helper). With a vector anywhere, lane by lane (both arms
        run unless the condition is a constant); only ``pk.where`` (``vector_test``) takes a vector
        condition: a vector has no truth value for ``a if c else b``."""
        cv = self.number_or_vector(test) if vector_test else self.expr(test)
        a, pa = self.capture(lambda: self.number_or_vector(body))
        b, pb = self.capture(lambda: self.number_or_vector(orelse))
        if isinstance(cv, TExpr) and ops.to_bool(cv).is_const:
            (chosen, pend), other = ((a, pa), b) if const_value(ops.to_bool(cv)) else ((b, pb), a)
            self.out.extend(pend)
            if isinstance(other, VecValue) and isinstance(chosen, TExpr):   # a vector either way
                return vectors.broadcast(self, chosen, len(other), node)
            return chosen
        if isinstance(cv, VecValue) or isinstance(a, VecValue) or isinstance(b, VecValue):
            return vectors.select(self, cv, a, b, pa + pb, node)
        c = ops.to_bool(cv)
        assert isinstance(a, TExpr) and isinstance(b, TExpr)
        if not pa and not pb:
            return ops.select(c, a, b)
        r = ops.select(ops.python_const(True), a, b)  # the unified type
        vt = VType(r.type, r.weak)
        name = f"__pk_t{self.state.fresh('t')}"
        loc = self.scope.loc(node)
        self.note_assign(name, vt)
        target = ir.Var(name, self.var_type(name, vt).type)
        then = list(pa) + [ir.Assign(target, ops.cast(a, target.type).expr, loc)]
        other = list(pb) + [ir.Assign(target, ops.cast(b, target.type).expr, loc)]
        self.out.append(ir.If(c.expr, tuple(then), tuple(other), loc))
        return self.read_var(name, node)

    def visit_Tuple(self, node: ast.Tuple) -> TupleValue:
        return TupleValue(tuple(self.value(e) for e in node.elts))

    def visit_Call(self, node: ast.Call) -> Any:
        v = self.call(node, want_value=True)
        if isinstance(v, NoValue):
            raise self.err(node, "this call returns no value", hint="call it as a statement on its own")
        return v

    # ----------------------------------------------------------------------------- variable types
    def note_assign(self, irname: str, vt: VType) -> None:
        """Record that ``irname`` is assigned a value of type ``vt`` in this pass."""
        from .values import join

        old = self.state.assigned.get(irname)
        self.state.assigned[irname] = vt if old is None else join(old, vt)

    def var_type(self, irname: str, fallback: VType) -> VType:
        """The type a variable has in this pass (previous pass's result, else what is known now)."""
        return self.state.env.get(irname) or self.state.assigned.get(irname) or fallback


def _cmp_with(rhs_fn: Callable[[], TExpr], op: Op, left: TExpr) -> tuple[TExpr, TExpr]:
    right = rhs_fn()
    return right, ops.compare(op, left, right)


def describe(v: Any) -> str:
    """A user-facing name for a lowered value."""
    if isinstance(v, TExpr):
        return f"a {v.type} number"
    if isinstance(v, ArrayValue):
        return f"the array '{v.ref.name}'"
    if isinstance(v, ShapeValue):
        return f"the shape of '{v.ref.name}'"
    if isinstance(v, TypeValue):
        return f"the type {v.type}"
    if isinstance(v, TupleValue):
        return "a tuple"
    if isinstance(v, VecValue):
        return vectors.describe(v)
    if isinstance(v, NoValue):
        return "nothing (None)"
    if isinstance(v, PyObject):
        name = getattr(v.obj, "__name__", None) or type(v.obj).__name__
        return f"the Python object '{name}'"
    return type(v).__name__


def _hint_for(v: Any) -> str:
    if isinstance(v, ArrayValue):
        return "index the array, e.g. x[i]"
    if isinstance(v, ShapeValue):
        return "use x.shape[d]"
    if isinstance(v, TypeValue):
        return f"call the type to convert a value, e.g. {v.type}(x)"
    if isinstance(v, VecValue):
        return vectors.BOOL_HINT if v.type.is_bool else vectors.LANE_HINT
    return ""
