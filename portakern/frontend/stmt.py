"""Lowering of statements: one ``visit_<Node>`` per supported Python statement."""
from __future__ import annotations

import ast
from typing import Any

from .. import types as T
from ..errors import CompileError
from ..ir import nodes as ir
from ..ir.nodes import Op
from . import ops, vectors
from .builtins import builtin_name
from .expr import BINOPS, ExprLowering, describe
from .ops import OpError
from .scope import unsupported
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

_UNSUPPORTED_STMT = {
    ast.Try: ("'try'", "kernels cannot catch exceptions"),
    ast.With: ("'with'", "kernels have no context managers"),
    ast.AsyncWith: ("'async with'", ""),
    ast.AsyncFor: ("'async for'", ""),
    ast.Raise: ("'raise'", "kernels cannot raise; use debug=True for bounds checks"),
    ast.Assert: ("'assert'", "kernels cannot raise; use @pk.kernel(debug=True) for bounds checks"),
    ast.Delete: ("'del'", "variables live until the end of the kernel"),
    ast.Import: ("'import' inside a kernel", "import at module level"),
    ast.ImportFrom: ("'import' inside a kernel", "import at module level"),
    ast.FunctionDef: ("a nested function definition", "define a module-level helper with @pk.func"),
    ast.AsyncFunctionDef: ("a nested function definition", "define a module-level helper with @pk.func"),
    ast.ClassDef: ("a class definition", ""),
}
if hasattr(ast, "TryStar"):
    _UNSUPPORTED_STMT[ast.TryStar] = ("'try'", "kernels cannot catch exceptions")
if hasattr(ast, "Match"):
    _UNSUPPORTED_STMT[ast.Match] = ("'match'", "use if/elif/else")


def may_return(stmt: ast.stmt) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(stmt))


class StmtLowering(ExprLowering):
    """Mixin of the lowering: statements and assignment."""

    array_name_hint: str | None = None

    # ----------------------------------------------------------------------------- blocks
    def block(self, stmts: list[ast.stmt]) -> tuple[ir.Stmt, ...]:
        """Lower a statement list into a new block."""
        saved, self.out = self.out, []
        try:
            self.body(stmts)
            return tuple(self.out)
        finally:
            self.out = saved

    def body(self, stmts: list[ast.stmt]) -> None:
        """Lower statements into the current block; inside an inlined helper, statements after one
        that may return are guarded by the helper's return flag."""
        fc = self.scope.func
        for i, s in enumerate(stmts):
            self.stmt(s)
            if isinstance(s, (ast.Return, ast.Break, ast.Continue)):
                return  # the rest is unreachable
            if fc is not None and fc.done is not None and i + 1 < len(stmts) and may_return(s):
                done = self.read_var(fc.done, s)
                if self.scope.loop_depth > 0:
                    self.out.append(ir.If(done.expr, (ir.Break(self.scope.loc(s)),), (), self.scope.loc(s)))
                else:
                    rest = self.block(stmts[i + 1:])
                    if rest:
                        self.out.append(ir.If(ops.unary(Op.NOT, done).expr, rest, (), self.scope.loc(s)))
                    return

    def stmt(self, node: ast.stmt) -> None:
        visitor = getattr(self, "visit_" + type(node).__name__, None)
        if visitor is None:
            what, hint = _UNSUPPORTED_STMT.get(type(node), (f"the statement '{type(node).__name__}'", ""))
            raise unsupported(self.scope, node, what, hint)
        try:
            visitor(node)
        except OpError as exc:
            if not self.state.lenient:
                raise self.err(node, exc.message, exc.hint) from None
        except CompileError:
            if not self.state.lenient:
                raise

    # ----------------------------------------------------------------------------- assignment
    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self.array_name_hint = node.targets[0].id
        try:
            value = self.value(node.value)
        finally:
            self.array_name_hint = None
        if isinstance(value, VecValue) and isinstance(node.targets[0], (ast.Tuple, ast.List)):
            value = TupleValue(value.items)   # x, y, z, w = v
        if len(node.targets) > 1 or (isinstance(node.targets[0], (ast.Tuple, ast.List))
                                     and isinstance(value, TupleValue)):
            # ``a, b = b, a``: every right-hand side first; ``a[i] = v = a[i] + 1``: the value once,
            # before the first target's store could change what a second evaluation reads (Python)
            value = self.spill(value, node)
        for target in node.targets:
            self.assign(target, value, node)

    def spill(self, value: Any, node: ast.AST) -> Any:
        if isinstance(value, TupleValue):
            return TupleValue(tuple(self.spill(v, node) for v in value.items))
        if isinstance(value, TExpr) and not value.is_const:
            return self.temp(value, node)
        if isinstance(value, VecValue):
            return VecValue(tuple(self.spill(v, node) for v in value.items))
        return value

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is None:
            return  # a bare declaration binds nothing
        ann = self.value(node.annotation)
        value = self.value(node.value)
        if isinstance(ann, TypeValue) and isinstance(value, VecValue):
            value = vectors.cast(self, value, ann.type, node)
        elif isinstance(ann, TypeValue):
            if not isinstance(value, TExpr):
                raise self.err(node, f"cannot convert {describe(value)} to {ann.type}")
            value = ops.cast(value, ann.type)
        self.assign(node.target, value, node)

    def assign(self, target: ast.AST, value: Any, node: ast.AST) -> None:
        """Bind ``value`` to an assignment target (a name, an array element, or a tuple of targets)."""
        if isinstance(target, ast.Name):
            self.bind(target.id, value, target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, ShapeValue):
                value = TupleValue(tuple(self.shape_dim(value.ref, d, target) for d in range(value.ref.type.ndim)))
            if isinstance(value, VecValue):
                value = TupleValue(value.items)
            if not isinstance(value, TupleValue):
                raise self.err(target, f"cannot unpack {describe(value)}")
            if len(value.items) != len(target.elts):
                raise self.err(target, f"cannot unpack {len(value.items)} values into {len(target.elts)} targets")
            for t, v in zip(target.elts, value.items):
                self.assign(t, v, node)
        elif isinstance(target, (ast.Subscript, ast.Attribute)) and vectors.assign_lane(self, target, value, node):
            pass   # v.x = s, v[k] = s
        elif isinstance(target, ast.Subscript):
            self.store(target, value)
        elif isinstance(target, ast.Attribute):
            raise self.err(target, "cannot assign to an attribute in a kernel",
                           hint="assign to a variable or an array element")
        else:
            raise unsupported(self.scope, target, "this assignment target")

    def visit_Global(self, node: ast.Global) -> None:
        pass  # the names are globals: reading them freezes them, assigning them is an error (bind)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        pass

    def bind(self, name: str, value: Any, node: ast.AST) -> None:
        scope = self.scope
        if name in scope.src.declared_global:
            raise self.err(node, f"assigning the global '{name}' is not supported in kernels (writes to "
                           "globals)", hint="write results into an array argument")
        irname = scope.var_name(name)
        bound = scope.bindings.get(name)
        if isinstance(value, (TExpr, VecValue)):
            what = "a number" if isinstance(value, TExpr) else describe(value)
            if bound is not None and not _is_param(bound):
                raise self.err(node, f"'{name}' is {describe(bound)}; it cannot be rebound to {what}",
                               hint="use a different variable name")
            lanes = vectors.lanes_of(self, irname)
            if isinstance(value, VecValue):
                vectors.assign(self, irname, value, node, name)
            elif lanes:
                raise self.err(node, f"'{name}' holds a vector of {lanes} lanes; it cannot be rebound to a number",
                               hint="assign one lane (v.x = s, v[k] = s), or use a different variable name")
            else:
                self.assign_var(irname, value, node, raw=True)
            return
        if isinstance(value, NoValue):
            raise self.err(node, "this call returns no value; there is nothing to assign")
        if irname in self.state.assigned or irname in self.state.env or _is_param(bound):
            raise self.err(node, f"'{name}' holds a number; it cannot be rebound to {describe(value)}",
                           hint="use a different variable name")
        if bound is not None and bound != value:
            raise self.err(node, f"'{name}' is {describe(bound)}; it cannot be rebound to {describe(value)}",
                           hint="arrays are bound to one name for the whole kernel; use a different name")
        if isinstance(value, PyObject) and builtin_name(value.obj) is None \
                and type(value.obj).__name__ not in ("module", "Func"):
            raise self.err(node, f"cannot assign {describe(value)} in a kernel")
        scope.bindings[name] = value

    def assign_value(self, irname: str, value: TExpr | VecValue, node: ast.AST) -> None:
        """The IR variable ``irname`` (a vector: one variable per lane) set to ``value``."""
        if isinstance(value, VecValue):
            vectors.assign(self, irname, value, node, irname)
        else:
            self.assign_var(irname, value, node, raw=True)

    def read_value(self, irname: str, node: ast.AST) -> TExpr | VecValue:
        """The value of the IR variable ``irname`` (a vector when lanes were assigned for it)."""
        lanes = vectors.lanes_of(self, irname)
        return vectors.read(self, irname, lanes, node) if lanes else self.read_var(irname, node)

    def assign_var(self, name: str, te: TExpr, node: ast.AST, raw: bool = False) -> None:
        """``name = te`` for a scalar variable (``raw``: ``name`` is already the IR name)."""
        irname = name if raw else self.scope.var_name(name)
        vt = VType(te.type, te.weak)
        self.note_assign(irname, vt)
        t = self.var_type(irname, vt).type
        self.out.append(ir.Assign(ir.Var(irname, t), ops.cast(te, t).expr, self.scope.loc(node)))

    def store(self, target: ast.Subscript, value: Any) -> None:
        base = self.value(target.value)
        if not isinstance(base, ArrayValue):
            raise self.err(target, f"cannot assign to an element of {describe(base)}",
                           hint="only array elements can be assigned")
        if isinstance(target.slice, ast.Slice) or (isinstance(target.slice, ast.Tuple)
                                                   and any(isinstance(e, ast.Slice) for e in target.slice.elts)):
            raise unsupported(self.scope, target, "slicing", "store one element at a time, e.g. x[i] = v")
        if isinstance(value, VecValue):
            raise self.err(target, f"cannot store {describe(value)} into one array element",
                           hint=f"store its lanes at consecutive positions with pk.vstore({base.ref.name}, index, v), "
                           "or store one lane (v.x)")
        if not isinstance(value, TExpr):
            raise self.err(target, f"cannot store {describe(value)} into an array element")
        self.writable(base.ref, target, "a store")
        indices = self.indices(base.ref, target.slice, target)
        self.check_half_store(base.ref, value, target)
        v = ops.store_value(value, base.ref.type.dtype)
        self.out.append(ir.Store(base.ref, indices, v, self.scope.loc(target)))

    def check_half_store(self, ref: ir.ArrayRef, value: TExpr, target: ast.AST) -> None:
        """A half array takes float32 values only (docs/language.md "Half precision")."""
        why = ops.half_store_error(value, ref.type.dtype) if ref.type.dtype.is_half else None
        if why is not None:
            raise self.err(target, f"kernel '{self.kernel_name}': {why} ('{ref.name}')",
                           hint=f"convert it first, e.g. pk.float32(value): a {ref.type.dtype} element is "
                           "rounded once from float32")

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise unsupported(self.scope, node, "the '@=' operator")
        target = node.target
        if isinstance(target, ast.Name):
            if target.id not in self.scope.bindings and target.id in self.scope.src.local_names \
                    and self.scope.var_name(target.id) not in self.state.assigned \
                    and self.scope.var_name(target.id) not in self.state.vectors:
                # 'acc += v' with no earlier 'acc = ...' (even in a loop): Python's UnboundLocalError
                raise self.err(target, f"variable '{target.id}' is updated before it is assigned",
                               hint=f"initialise it first, e.g. {target.id} = 0")
            cur = self.number_or_vector(target if isinstance(target.ctx, ast.Load) else ast.copy_location(
                ast.Name(target.id, ast.Load()), target))
            self.bind(target.id, self.binop(op, cur, self.number_or_vector(node.value), node), target)
            return
        lane = vectors.lane_target(self, target)
        if lane is not None:     # v.x += s, v[k] += s
            name, _, cur_lane = lane
            new = ops.binary(op, cur_lane, self.expr(node.value))
            self.assign_var(name, ops.materialize(new, VType(cur_lane.type, cur_lane.weak)), node, raw=True)
            return
        if isinstance(target, ast.Subscript):
            base = self.value(target.value)
            if not isinstance(base, ArrayValue):
                raise self.err(target, f"cannot assign to an element of {describe(base)}")
            if isinstance(target.slice, ast.Slice):
                raise unsupported(self.scope, target, "slicing", "update one element at a time")
            self.writable(base.ref, target, "an update")
            idx = self.value(target.slice)
            items = idx.items if isinstance(idx, TupleValue) else (idx,)
            items = tuple(self.spill(v, target) if isinstance(v, TExpr) and not isinstance(
                v.expr, (ir.Var, ir.Const, ir.IndexQuery)) else v for v in items)
            indices = self.index_values(base.ref, items, target)
            loc = self.scope.loc(target)
            cur = ops.load(base.ref, indices, loc)
            new = ops.binary(op, cur, self.expr(node.value))
            self.check_half_store(base.ref, new, target)
            self.out.append(ir.Store(base.ref, indices, ops.store_value(new, base.ref.type.dtype), loc))
            return
        raise self.err(target, "cannot assign to this target", hint="assign to a variable or an array element")

    # ----------------------------------------------------------------------------- control flow
    def visit_If(self, node: ast.If) -> None:
        cond = ops.to_bool(self.expr(node.test))
        if cond.is_const:   # constexpr and global flags: the dead branch disappears
            self.body(node.body if const_value(cond) else node.orelse)
            return
        then = self.block(node.body)
        orelse = self.block(node.orelse)
        self.out.append(ir.If(cond.expr, then, orelse, self.scope.loc(node)))

    def visit_For(self, node: ast.For) -> None:
        if node.orelse:
            raise unsupported(self.scope, node, "'for ... else'", "use a flag variable")
        it = node.iter
        if not (isinstance(it, ast.Call) and builtin_name(getattr(self.value(it.func), "obj", None)) == "range"):
            raise unsupported(self.scope, it, "iterating over anything but range(...)",
                              "write 'for i in range(n)' and index arrays explicitly")
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.err(it, f"range() takes 1 to 3 positional arguments, got {len(it.args)}")
        if not isinstance(node.target, ast.Name):
            raise self.err(node.target, "a for loop variable must be a plain name")
        bounds = [ops.int_index(self.expr(a)) for a in it.args]
        if len(bounds) == 1:
            bounds = [ops.python_const(0), bounds[0]]
        if len(bounds) == 2:
            bounds.append(ops.python_const(1))
        start, stop, step = (ops.cast(b, T.int64) for b in bounds)
        loop_var = f"__pk_i{self.state.fresh('i')}"
        self.note_assign(loop_var, VType(T.int64))
        var = ir.Var(loop_var, T.int64)
        loc = self.scope.loc(node)
        self.scope.loop_depth += 1
        if self.scope.func is not None:
            self.scope.func.loop_depth += 1
        try:
            saved, self.out = self.out, []
            self.bind(node.target.id, TExpr(var), node.target)
            self.body(node.body)
            body = tuple(self.out)
            self.out = saved
        finally:
            self.scope.loop_depth -= 1
            if self.scope.func is not None:
                self.scope.func.loop_depth -= 1
        self.out.append(ir.For(var, start.expr, stop.expr, step.expr, body, loc))

    def visit_While(self, node: ast.While) -> None:
        if node.orelse:
            raise unsupported(self.scope, node, "'while ... else'", "use a flag variable")
        cond, pending = self.capture(lambda: ops.to_bool(self.expr(node.test)))
        loc = self.scope.loc(node)
        if cond.is_const and not const_value(cond) and not pending:
            return
        self.scope.loop_depth += 1
        if self.scope.func is not None:
            self.scope.func.loop_depth += 1
        try:
            body = self.block(node.body)
        finally:
            self.scope.loop_depth -= 1
            if self.scope.func is not None:
                self.scope.func.loop_depth -= 1
        if pending:   # the condition needs statements: evaluate them at the top of every iteration
            exit_ = ir.If(ops.unary(Op.NOT, cond).expr, (ir.Break(loc),), (), loc)
            self.out.append(ir.While(ir.Const(True, T.bool_), tuple(pending) + (exit_,) + body, loc))
        else:
            self.out.append(ir.While(cond.expr, body, loc))

    def visit_Break(self, node: ast.Break) -> None:
        if self.scope.loop_depth == 0:
            raise self.err(node, "'break' outside a loop")
        self.out.append(ir.Break(self.scope.loc(node)))

    def visit_Continue(self, node: ast.Continue) -> None:
        if self.scope.loop_depth == 0:
            raise self.err(node, "'continue' outside a loop")
        self.out.append(ir.Continue(self.scope.loc(node)))

    def visit_Pass(self, node: ast.Pass) -> None:
        pass

    def visit_Return(self, node: ast.Return) -> None:
        fc = self.scope.func
        loc = self.scope.loc(node)
        if fc is None:
            if node.value is not None:
                raise self.err(node, "a kernel cannot return a value",
                               hint="write results into an array argument; 'return' alone ends the work-item")
            self.out.append(ir.Return(loc))
            return
        if (node.value is not None) != fc.has_value:
            raise self.err(node, f"helper '{fc.name}' mixes 'return' with and without a value",
                           hint="return a value on every path, or on none")
        if node.value is not None:
            v = self.value(node.value)
            items = v.items if isinstance(v, TupleValue) else (v,)
            if not items or not all(isinstance(x, (TExpr, VecValue)) for x in items):
                raise self.err(node.value, f"a helper can only return a number, a vector or a tuple of them, "
                               f"not {describe(v)}")
            arity = len(items) if isinstance(v, TupleValue) else 0
            lanes = tuple(len(x) if isinstance(x, VecValue) else 0 for x in items)
            if fc.arity not in (-1, arity) or fc.lanes not in ((), lanes):
                def what(k: int, ls: tuple[int, ...]) -> str:
                    one = [f"a vector of {n}" if n else "a number" for n in ls]
                    return one[0] if k == 0 else f"a tuple of {k} ({', '.join(one)})" if any(ls) else f"a tuple of {k}"
                raise self.err(node.value, f"helper '{fc.name}' returns {what(arity, lanes)} here but "
                               f"{what(fc.arity, fc.lanes)} elsewhere", hint="return the same shape on every path")
            fc.arity, fc.lanes = arity, lanes
            names = [fc.ret] if arity == 0 else [f"{fc.ret}_{k}" for k in range(arity)]
            for name, x in zip(names, items):
                self.assign_value(name, x, node)
        if fc.done is not None:
            self.assign_var(fc.done, ops.python_const(True), node, raw=True)
            if fc.loop_depth > 0:
                self.out.append(ir.Break(loc))

    def visit_Expr(self, node: ast.Expr) -> None:
        v = node.value
        if isinstance(v, ast.Constant) and isinstance(v.value, str):
            return  # a docstring or a comment-like string: no effect
        result = self.call(v, want_value=False) if isinstance(v, ast.Call) else self.value(v)
        if isinstance(result, TExpr) and any(isinstance(n, ir.Atomic) for n in _walk_expr(result.expr)):
            self.out.append(ir.Evaluate(result.expr, self.scope.loc(node)))
        # anything else has no effect (it was lowered to check it): dropped


def _is_param(bound: Any) -> bool:
    return isinstance(bound, TExpr) and isinstance(bound.expr, ir.Var)


def _walk_expr(e: ir.Expr) -> list[Any]:
    from ..ir.visit import walk

    return list(walk(e))
