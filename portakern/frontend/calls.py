"""Lowering of calls: casts, index queries, barrier, arrays, atomics, math, and ``@pk.func`` inlining."""
from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import types as T
from ..ir import nodes as ir
from ..ir.launch_local import size_problem
from ..ir.nodes import Op
from . import ops, vectors
from .builtins import ATOMIC_OPS, INDEX_OPS, MATH_OPS, as_type, builtin_name
from .expr import describe
from .intrinsics import Intrinsic
from .scope import FuncContext, Scope
from .source import func_source
from .stmt import StmtLowering, may_return
from .subgroup import SUBGROUP_CALLS, SUBGROUP_QUERIES, lower_subgroup_call, subgroup_query
from .values import NONE, ArrayValue, PyObject, TExpr, TupleValue, TypeValue, VecValue, const_value

#: Hints for Python functions people reach for in kernels.
_PYTHON_HINTS = {
    "print": "kernels cannot print; write values into an array argument",
    "round": "use pk.rint(x) (round half to even), or pk.floor(x + 0.5)",
    "sum": "accumulate in a for loop over range(...)",
    "divmod": "use // and %",
    "isinstance": "kernels are typed at compile time; specialise with a pk.constexpr parameter",
    "fmod": "use % (Python/NumPy remainder) or write the truncating version with pk.trunc",
    "sign": "use pk.where(x > 0, 1, pk.where(x < 0, -1, 0))",
}
_ATOMIC_DTYPES = (T.int32, T.uint32, T.int64, T.uint64, T.float32, T.float64)
_MAX_INLINE_DEPTH = 32


class CallLowering(StmtLowering):
    """Mixin of the lowering: every call."""

    uses_barrier: bool = False

    def call(self, node: ast.Call, want_value: bool) -> Any:
        callee = self.value(node.func)
        if isinstance(callee, TypeValue):
            self._no_keywords(node, str(callee.type))
            if len(node.args) != 1:
                raise self.err(node, f"{callee.type}() takes exactly 1 argument, got {len(node.args)}")
            if callee.type.is_half:
                raise self.err(node, f"kernel '{self.kernel_name}': {callee.type} values do not exist in kernels "
                               f"({callee.type} is an array storage type)",
                               hint=f"store a float32 into a {callee.type} array: it is rounded once there")
            arg = self.number_or_vector(node.args[0])
            if isinstance(arg, VecValue):
                return vectors.cast(self, arg, callee.type, node)
            return ops.cast(arg, callee.type)
        if isinstance(callee, PyObject):
            from ..lang import Func

            if isinstance(callee.obj, Func):
                return self.inline(callee.obj, node, want_value)
            if isinstance(callee.obj, Intrinsic):
                return callee.obj.lower_call(self, node, want_value)
            name = builtin_name(callee.obj)
            if name is not None:
                return self.builtin(name, node)
            t = as_type(callee.obj)
            if t is not None:
                return self.call(node, want_value)  # pragma: no cover - types resolve to TypeValue
            for a in list(node.args) + [k.value for k in node.keywords]:
                self.value(a)   # an unsupported argument is the more precise error
            what = getattr(callee.obj, "__name__", None) or type(callee.obj).__name__
            if isinstance(callee.obj, type) and issubclass(callee.obj, np.generic):
                raise self.err(node, f"the type {what} is not supported in kernels",
                               hint="use one of bool_, int8..int64, uint8..uint64, float32, float64")
            hint = _PYTHON_HINTS.get(what, "decorate it with @pk.func to call it from kernels")
            raise self.err(node, f"calling the Python function '{what}' is not supported in kernels", hint=hint)
        raise self.err(node, f"{describe(callee)} is not callable")

    def _no_keywords(self, node: ast.Call, name: str) -> None:
        if node.keywords:
            raise self.err(node, f"{name}() takes no keyword arguments in kernels",
                           hint="pass the arguments by position")

    def _arity(self, node: ast.Call, name: str, n: int) -> None:
        if len(node.args) != n:
            raise self.err(node, f"{name}() takes {n} argument{'s' if n != 1 else ''}, got {len(node.args)}")

    # ----------------------------------------------------------------------------- builtins
    def builtin(self, name: str, node: ast.Call) -> Any:
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.err(node, "'*' unpacking in calls is not supported in kernels")
        if name in ("local_array", "private_array"):
            return self.declare_array(name, node)
        if name in vectors.BUILTINS:
            return vectors.builtin(self, name, node)
        self._no_keywords(node, name)
        if name in INDEX_OPS:
            self._arity(node, name, 1)
            d = self.const_int(node.args[0], f"the dimension of {name}()")
            if not 0 <= d <= 2:
                raise self.err(node, f"{name}({d}): the dimension must be 0, 1 or 2")
            if d >= self.grid_ndim:     # folding it to 0 (or 1) would leave most of the output unwritten
                dims = ", ".join(f"n{k}" for k in range(d + 1))
                raise self.err(node, f"kernel '{self.kernel_name}': pk.{name}({d}) queries dimension {d}, but "
                               f"the launch's ndrange has {self.grid_ndim} dimension(s)",
                               hint=f"launch with a {d + 1}-D ndrange, e.g. kernel[({dims})], or query a "
                               f"dimension below {self.grid_ndim}")
            return self.index_query(name, d)
        if name == "barrier":
            self._arity(node, name, 0)
            self.out.append(ir.Barrier(self.scope.loc(node)))
            return NONE
        if name in ATOMIC_OPS:
            return self.atomic(name, node)
        if name in SUBGROUP_QUERIES:
            self._arity(node, name, 0)
            return subgroup_query(name, self.grid_ndim)
        if name in SUBGROUP_CALLS:
            return lower_subgroup_call(self, name, node)
        if name == "range":
            raise self.err(node, "range() can only be used as the iterable of a for loop",
                           hint="for i in range(n): ...")
        if name == "len":   # len(x) of an array is x.shape[0], as in NumPy and numba
            self._arity(node, name, 1)
            arr = self.value(node.args[0])
            if isinstance(arr, VecValue):
                return ops.python_const(len(arr))
            if not isinstance(arr, ArrayValue):
                raise self.err(node, f"len() takes an array, got {describe(arr)}")
            return self.shape_dim(arr.ref, 0, node)
        if name == "where":
            self._arity(node, name, 3)
            return self.conditional(node, node.args[0], node.args[1], node.args[2])
        vals = [self.number_or_vector(a) for a in node.args]
        if any(isinstance(v, VecValue) for v in vals):
            return vectors.math(self, name, MATH_OPS.get(name, Op.POW), vals, node)
        args = [self.scalar(v, a) for v, a in zip(vals, node.args)]
        if name == "pow":
            self._arity(node, name, 2)
            return ops.binary(Op.POW, args[0], args[1])
        if name == "rsqrt":
            self._arity(node, name, 1)
        return ops.math_call(MATH_OPS[name], args)

    def index_query(self, name: str, d: int) -> TExpr:
        """``name(d)`` for an index query name of INDEX_OPS and a dimension 0..2. A dimension the launch
        lacks folds to 0 (ids) or 1 (sizes), as CUDA's threadIdx.y in a 1-D block: the compat layer's
        intrinsics rely on it; ``pk.`` queries of such a dimension are refused before (``builtin``)."""
        if not 0 <= d < self.grid_ndim:
            return TExpr(ir.Const(1 if "size" in name or name == "num_groups" else 0, T.int64))
        return TExpr(ir.IndexQuery(INDEX_OPS[name], d, T.int64))

    def declare_array(self, name: str, node: ast.Call) -> ArrayValue:
        kw = {k.arg: k.value for k in node.keywords}
        if None in kw or set(kw) - {"shape", "dtype"}:
            raise self.err(node, f"{name}() takes (shape, dtype)")
        args = list(node.args) + [kw[k] for k in ("shape", "dtype") if k in kw]
        if len(args) != 2:
            raise self.err(node, f"{name}() takes 2 arguments (shape, dtype), got {len(args)}")
        shape_v = self.value(args[0])
        items = shape_v.items if isinstance(shape_v, TupleValue) else (shape_v,)
        size = None
        if name == "local_array" and any(isinstance(it, TExpr) and not it.is_const for it in items):
            size = self.launch_size(items, args[0])
            items = (TExpr(ir.Const(1, T.int64)),)
        shape = []
        for it in items:
            if not (isinstance(it, TExpr) and it.is_const and (it.type.is_int or it.type.is_bool)):
                raise self.err(args[0], f"the shape of {name}() must be an int or a tuple of compile-time ints",
                               hint="use literals, pk.constexpr parameters or global ints")
            shape.append(int(const_value(it)))
        if not 1 <= len(shape) <= 3 or any(s <= 0 for s in shape):
            raise self.err(args[0], f"{name}() shape {tuple(shape)} must have 1 to 3 positive sizes")
        dtype_v = self.value(args[1])
        if not isinstance(dtype_v, TypeValue):
            raise self.err(args[1], f"the dtype of {name}() must be a type such as pk.float32, "
                           f"got {describe(dtype_v)}")
        if dtype_v.type.is_half:
            raise self.err(args[1], f"kernel '{self.kernel_name}': {name}() of {dtype_v.type} is not supported "
                           "(half types are for global arrays only)",
                           hint="declare it float32: half elements load as float32 anyway")
        space = T.ArraySpace.LOCAL if name == "local_array" else T.ArraySpace.PRIVATE
        hint = self.array_name_hint
        self.array_name_hint = None
        if hint is not None:
            arr_name = self.scope.var_name(hint)
        else:
            arr_name = f"__pk_a{self.state.fresh('a')}"
        if self.state.declared.setdefault(arr_name, id(node)) != id(node):
            raise self.err(node, f"array '{hint or arr_name}' is declared twice",
                           hint="declare each local or private array once, under its own name")
        ref = ir.ArrayRef(arr_name, T.ArrayType(dtype_v.type, len(shape), space, True,
                                                None if size is not None else tuple(shape)))
        self.out.append(ir.DeclArray(ref, self.scope.loc(node), None if size is None else size.expr))
        if size is not None:
            self.state.launch_sizes[arr_name] = size
        return ArrayValue(ref)

    def launch_size(self, items: tuple[Any, ...], node: ast.AST) -> TExpr:
        """The element count of ``pk.local_array(n, dtype)`` sized at launch: ``n`` an int expression
        of the kernel's scalar parameters (docs/language.md, "Local memory sized at launch")."""
        if len(items) != 1:
            raise self.err(node, "a local_array sized at launch is 1-D: its shape is one int computed from "
                           "the kernel's parameters", hint="index it as a flat array (row * width + col)")
        it = items[0]
        if not (it.type.is_int or it.type.is_bool):
            raise self.err(node, f"the size of local_array() must be an int, got {it.type}")
        size = ops.int_index(it)
        problem = size_problem(size.expr, self.state.launch_args)
        if problem is not None:
            problem = re.sub(r"'__pk_(?:p|f\d+)_", "'", problem)   # a copy of a (helper's) parameter: its name
            raise self.err(node, f"the size of local_array() must be known at launch: {problem}",
                           hint="compute it from the kernel's int parameters and array shapes with + - * // % "
                           "min max (e.g. pk.local_array(n * 2, pk.float32)), or use compile-time ints "
                           "(literals, pk.constexpr parameters)")
        return size

    def atomic(self, name: str, node: ast.Call) -> TExpr:
        cas = name == "atomic_cas"
        self._arity(node, name, 4 if cas else 3)
        arr = self.value(node.args[0])
        if not isinstance(arr, ArrayValue):
            raise self.err(node.args[0], f"the first argument of {name}() must be an array, got {describe(arr)}")
        dtype = arr.ref.type.dtype
        self.writable(arr.ref, node, f"pk.{name}()")
        if arr.ref.type.space == T.ArraySpace.PRIVATE:
            raise self.err(node, f"{name}() on a private array: private memory belongs to one work-item",
                           hint="use a plain update (p[k] += v), or a pk.local_array shared by the work-group")
        if dtype.is_half:
            raise self.err(node, f"kernel '{self.kernel_name}': {name}() does not support {dtype} arrays",
                           hint="accumulate into a float32 array, then store it rounded into the half array")
        if dtype not in _ATOMIC_DTYPES:
            raise self.err(node, f"{name}() does not support {dtype} arrays",
                           hint="atomics work on int32, uint32, int64, uint64, float32 and float64")
        if ATOMIC_OPS[name] in ir.INT_ATOMICS and not dtype.is_int:
            raise self.err(node, f"{name}() does not support {dtype} arrays: it is a bitwise operation",
                           hint="atomic_and/or/xor work on int32, uint32, int64 and uint64")
        indices = self.indices(arr.ref, node.args[1], node)
        compare = ops.cast(self.expr(node.args[2]), dtype).expr if cas else None
        value = ops.cast(self.expr(node.args[-1]), dtype)
        return TExpr(ir.Atomic(ATOMIC_OPS[name], arr.ref, indices, value.expr, dtype, self.scope.loc(node),
                               compare))

    # ----------------------------------------------------------------------------- @pk.func inlining
    def inline(self, func: Any, node: ast.Call, want_value: bool) -> Any:
        """Inline a helper call: fresh variable names, arrays aliased, returns via a result variable."""
        if id(func) in self.state.call_stack:
            raise self.err(node, f"recursive call to '{func.fn.__name__}': helpers are inlined, so "
                           "recursion is not supported", hint="rewrite the recursion as a loop")
        if len(self.state.call_stack) >= _MAX_INLINE_DEPTH:
            raise self.err(node, "helpers are nested too deeply")
        src = func_source(func)
        fdef = src.tree
        n = self.state.fresh("f")
        prefix = f"__pk_f{n}_"
        args = self.bind_arguments(func, src, node)
        returns = [r for r in ast.walk(fdef) if isinstance(r, ast.Return)]
        has_value = any(r.value is not None for r in returns)
        if want_value and not has_value:
            raise self.err(node, f"helper '{src.name}' returns no value, so its call cannot be used as a value",
                           hint="add 'return <value>' to the helper, or call it as a statement")
        if has_value and not _always_returns(fdef.body):
            raise self.err(node, f"helper '{src.name}' can reach its end without returning a value",
                           hint="end the helper with a 'return <value>' (Python would return None)")
        simple = not returns or (len(returns) == 1 and fdef.body[-1] is returns[0])
        # not prefix + "ret": that is the helper's own variable "ret"
        fc = FuncContext(src.name, f"__pk_r{n}", None if simple else f"__pk_d{n}", has_value)
        scope = Scope(src, prefix, func=fc)
        assigned = {t.id for t in ast.walk(fdef) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
        # a vector parameter whose lanes the helper assigns (v.x = ...) is the helper's own copy
        lane_stored = {t.value.id for t in ast.walk(fdef) if isinstance(t, (ast.Attribute, ast.Subscript))
                       and isinstance(t.ctx, ast.Store) and isinstance(t.value, ast.Name)}
        caller = self.scope
        for pname, value in args.items():
            if isinstance(value, TExpr):
                if pname in assigned or not isinstance(value.expr, (ir.Var, ir.Const)):
                    self.assign_var(prefix + pname, value, node, raw=True)
                    continue
            if isinstance(value, VecValue):
                if pname in assigned or pname in lane_stored or \
                        not all(isinstance(x.expr, (ir.Var, ir.Const)) for x in value.items):
                    vectors.assign(self, prefix + pname, value, node, pname)
                    continue
            scope.bindings[pname] = value
        self.state.call_stack.append(id(func))
        self.scope = scope
        try:
            if fc.done is not None:
                self.assign_var(fc.done, TExpr(ir.Const(False, T.bool_)), node, raw=True)
            self.body(fdef.body)
        finally:
            self.scope = caller
            self.state.call_stack.pop()
        if not has_value:
            return NONE
        if fc.arity > 0:                    # ``return a, b``: the caller unpacks or indexes it
            return TupleValue(tuple(self.read_value(f"{fc.ret}_{k}", node) for k in range(fc.arity)))
        return self.read_value(fc.ret, node)

    def bind_arguments(self, func: Any, src: Any, node: ast.Call) -> dict[str, Any]:
        """Match a helper call's arguments to its parameters (positional, keyword, constant defaults)."""
        names = [p.name for p in src.params]
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise self.err(node, "'*' and '**' unpacking in calls is not supported in kernels")
        if len(node.args) > len(names):
            raise self.err(node, f"helper '{src.name}' takes {len(names)} argument"
                           f"{'s' if len(names) != 1 else ''}, got {len(node.args)}")
        out: dict[str, Any] = {}
        for pname, a in zip(names, node.args):
            out[pname] = self.value(a)
        for k in node.keywords:
            if k.arg is None or k.arg not in names:
                raise self.err(node, f"helper '{src.name}' has no parameter '{k.arg}'")
            if k.arg in out:
                raise self.err(node, f"helper '{src.name}' got two values for '{k.arg}'")
            out[k.arg] = self.value(k.value)
        sig_params: Mapping[str, inspect.Parameter]
        try:
            sig_params = inspect.signature(func.fn).parameters
        except (TypeError, ValueError):  # pragma: no cover - analyze already read it
            sig_params = {}
        for pname in names:
            if pname in out:
                continue
            default = sig_params[pname].default if pname in sig_params else inspect.Parameter.empty
            if default is inspect.Parameter.empty:
                raise self.err(node, f"helper '{src.name}' is missing the argument '{pname}'")
            out[pname] = self.from_python(default, node, pname)
        for pname, v in out.items():
            if not isinstance(v, (TExpr, VecValue, ArrayValue, TypeValue, TupleValue, PyObject)):
                raise self.err(node, f"cannot pass {describe(v)} as '{pname}' to helper '{src.name}'")
        return {p: out[p] for p in names}


def _always_returns(stmts: list[ast.stmt]) -> bool:
    """Whether every path through ``stmts`` ends in a ``return`` (syntactically: a final return, or
    an if/else whose branches both always return)."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    return False


__all__ = ["CallLowering", "may_return"]
