"""The numba.cuda names kernels use, as :class:`~portakern.frontend.intrinsics.Intrinsic` objects.

Each lowers to the kernel language's own constructs (index queries, barrier, local/private arrays,
atomics, math), so a numba.cuda kernel compiles through the ordinary front end.

Axis order: CUDA's ``x`` varies fastest between neighbouring threads; portakern's LAST ndrange
dimension does (docs/language.md). The launch (``cuda.py``) reverses the launch configuration, so
here CUDA axis ``a`` (x=0, y=1, z=2) is portakern dimension ``grid_ndim - 1 - a``; an axis the launch
does not have reads as id 0 / size 1, as in CUDA.
"""
from __future__ import annotations

import ast
import contextvars
from collections.abc import Callable
from typing import Any

from .. import lang
from .. import types as T
from ..errors import PortakernError
from ..frontend import ops
from ..frontend.intrinsics import Intrinsic
from ..frontend.subgroup import lower_subgroup_call
from ..frontend.values import ArrayValue, TExpr, TupleValue, TypeValue, const_value
from ..ir import nodes as ir
from ..ir.nodes import Op

#: The dynamic shared memory size (bytes, the 4th launch-configuration item) of the launch being
#: compiled. Set only by ``cuda.py`` around a launch; each size has its own portakern kernel (the
#: size is one of its options, hence in its cache keys), so reading it while lowering is safe.
DYNAMIC_SHARED_BYTES: contextvars.ContextVar[int] = contextvars.ContextVar("pk_cuda_dynamic_shared", default=0)

WARP_SIZE = 32
_AXES = {"x": 0, "y": 1, "z": 2}
_DYNAMIC_KEY = "__pk_cuda_dynamic_shared"


class _KernelOnly(Intrinsic):
    """An intrinsic that has no meaning on the host."""

    def __init__(self, kernel_name: str) -> None:
        self.kernel_name = kernel_name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise PortakernError(f"{self.kernel_name} can only be used inside a @cuda.jit kernel or device function")

    def __repr__(self) -> str:
        return f"<portakern.compat {self.kernel_name}>"


def _dim(lw: Any, axis: int) -> int:
    """The portakern dimension of CUDA axis ``axis`` (negative: the launch has no such axis)."""
    return int(lw.grid_ndim) - 1 - axis


class Dim3(_KernelOnly):
    """``cuda.threadIdx`` / ``blockIdx`` / ``blockDim`` / ``gridDim``: ``.x``, ``.y``, ``.z``."""

    def __init__(self, kernel_name: str, query: str) -> None:
        super().__init__(kernel_name)
        self.query = query

    def lower_attribute(self, lw: Any, node: ast.Attribute) -> Any:
        axis = _AXES.get(node.attr)
        if axis is None:
            raise lw.err(node, f"{self.kernel_name} has no attribute '{node.attr}'", hint="use .x, .y or .z")
        return lw.index_query(self.query, _dim(lw, axis))


class Call(_KernelOnly):
    """A function-like intrinsic lowered by ``rule(lw, node)``."""

    def __init__(self, kernel_name: str, rule: Callable[[Any, ast.Call], Any]) -> None:
        super().__init__(kernel_name)
        self.rule = rule

    def lower_call(self, lw: Any, node: ast.Call, want_value: bool) -> Any:
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise lw.err(node, f"'*' unpacking in a call to {self.kernel_name} is not supported in kernels")
        return self.rule(lw, node)


class Value(_KernelOnly):
    """A value-like intrinsic (``cuda.laneid``, ``cuda.warpsize``) lowered by ``rule(lw, node)``."""

    def __init__(self, kernel_name: str, rule: Callable[[Any, ast.AST], Any]) -> None:
        super().__init__(kernel_name)
        self.rule = rule

    def lower_value(self, lw: Any, node: ast.AST) -> Any:
        return self.rule(lw, node)


class Refused(_KernelOnly):
    """A numba.cuda construct portakern cannot express: a CompileError naming it and the line."""

    def __init__(self, kernel_name: str, why: str, hint: str = "") -> None:
        super().__init__(kernel_name)
        self.why, self.hint = why, hint

    def lower_value(self, lw: Any, node: ast.AST) -> Any:
        raise lw.err(node, f"{self.kernel_name} is not supported by portakern.compat.cuda: {self.why}",
                     hint=self.hint)


class Namespace(_KernelOnly):
    """``cuda.shared``, ``cuda.local``, ``cuda.const``, ``cuda.atomic``, ``cuda.cg``: a table of members."""

    def __init__(self, kernel_name: str, members: dict[str, Intrinsic]) -> None:
        super().__init__(kernel_name)
        self.members = members
        for name, member in members.items():
            setattr(self, name, member)

    def lower_attribute(self, lw: Any, node: ast.Attribute) -> Any:
        member = self.members.get(node.attr)
        if member is None:
            raise lw.err(node, f"{self.kernel_name}.{node.attr} is not a numba.cuda construct portakern knows",
                         hint=f"available: {', '.join(sorted(self.members))}")
        return member.lower_value(lw, node)


# ------------------------------------------------------------------------------------------- rules
def _args(lw: Any, node: ast.Call, name: str, params: tuple[str, ...], required: int) -> list[ast.expr]:
    """The call's arguments in parameter order (positional or by keyword), checked."""
    kw = {k.arg: k.value for k in node.keywords}
    if None in kw or set(kw) - set(params):
        raise lw.err(node, f"{name}() takes ({', '.join(params)})")
    args = list(node.args) + [kw[p] for p in params[len(node.args):] if p in kw]
    if not required <= len(args) <= len(params) or any(p in kw for p in params[:len(node.args)]):
        raise lw.err(node, f"{name}() takes ({', '.join(params)}), got {len(node.args)} positional and "
                     f"{len(node.keywords)} keyword arguments")
    return args


def _grid_rule(query: str, name: str) -> Callable[[Any, ast.Call], Any]:
    def rule(lw: Any, node: ast.Call) -> Any:
        (arg,) = _args(lw, node, name, ("ndim",), 1)
        n = lw.const_int(arg, f"the argument of {name}()")
        if n not in (1, 2, 3):
            raise lw.err(node, f"{name}({n}): the number of dimensions must be 1, 2 or 3")
        items = tuple(lw.index_query(query, _dim(lw, a)) for a in range(n))
        return items[0] if n == 1 else TupleValue(items)
    return rule


def _linear_local_id(lw: Any) -> TExpr:
    """threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z): CUDA's thread order."""
    lin = lw.index_query("local_id", _dim(lw, 2))
    for axis in (1, 0):
        lin = ops.binary(Op.ADD, ops.binary(Op.MUL, lin, lw.index_query("local_size", _dim(lw, axis))),
                         lw.index_query("local_id", _dim(lw, axis)))
    return lin


def _laneid(lw: Any, node: ast.AST) -> TExpr:
    return ops.binary(Op.MOD, _linear_local_id(lw), ops.python_const(WARP_SIZE))


def _builtin(pk_name: str, name: str) -> Call:
    """A numba.cuda function that is a kernel-language builtin under another name."""
    return Call(name, lambda lw, node: lw.builtin(pk_name, node))


def single_literal(fn: ast.AST, name: str) -> int | None:
    """The int a local variable of ``fn`` holds when its only assignment is ``name = <int literal>``
    (numba sizes arrays with such variables; the language wants compile-time values)."""
    stores = [n for n in ast.walk(fn) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For,
              ast.NamedExpr, ast.With, ast.comprehension)) and any(isinstance(t, ast.Name) and t.id == name
              and isinstance(t.ctx, ast.Store) for t in ast.walk(n))]
    if len(stores) == 1 and isinstance(stores[0], ast.Assign) and len(stores[0].targets) == 1 \
            and isinstance(stores[0].targets[0], ast.Name) and isinstance(stores[0].value, ast.Constant) \
            and type(stores[0].value.value) is int:
        return stores[0].value.value
    return None


def _literal_shape(lw: Any, shape: ast.expr) -> ast.expr:
    """``shape`` with local variables that hold one literal int replaced by that literal."""
    if isinstance(shape, ast.Tuple):
        return ast.copy_location(ast.Tuple([_literal_shape(lw, e) for e in shape.elts], ast.Load()), shape)
    if isinstance(shape, ast.Name) and shape.id in lw.scope.src.local_names:
        value = single_literal(lw.scope.src.tree, shape.id)
        if value is not None:
            return ast.copy_location(ast.Constant(value), shape)
    return shape


def _shared_array(lw: Any, node: ast.Call) -> ArrayValue:
    shape, dtype = _args(lw, node, "cuda.shared.array", ("shape", "dtype"), 2)
    shape = _literal_shape(lw, shape)
    if isinstance(shape, ast.Constant) and shape.value == 0 and type(shape.value) is int:
        # dynamic shared memory: sized by the launch's 4th item, compiled into this specialisation
        if lw.state.declared.setdefault(_DYNAMIC_KEY, id(node)) != id(node):
            raise lw.err(node, "a second dynamic cuda.shared.array(0, ...): CUDA makes them alias one buffer, "
                         "which portakern cannot express", hint="declare one dynamic shared array and index "
                         "into it at offsets")
        dtype_v = lw.value(dtype)
        itemsize = dtype_v.type.dtype.itemsize if isinstance(dtype_v, TypeValue) else 0
        nbytes = DYNAMIC_SHARED_BYTES.get()
        if itemsize <= 0 or nbytes < itemsize:
            raise lw.err(node, f"cuda.shared.array(0, ...) is dynamic shared memory, but the launch gives "
                         f"{nbytes} bytes", hint="launch with kernel[blocks, threads, stream, nbytes]")
        shape = ast.copy_location(ast.Constant(nbytes // itemsize), shape)
    call = ast.copy_location(ast.Call(node.func, [shape, dtype], []), node)
    return lw.declare_array("local_array", call)


def _local_array(lw: Any, node: ast.Call) -> ArrayValue:
    shape, dtype = _args(lw, node, "cuda.local.array", ("shape", "dtype"), 2)
    shape = _literal_shape(lw, shape)
    return lw.declare_array("private_array", ast.copy_location(ast.Call(node.func, [shape, dtype], []), node))


def _const_array_like(lw: Any, node: ast.Call) -> ArrayValue:
    (arg,) = _args(lw, node, "cuda.const.array_like", ("ndarray",), 1)
    v = lw.value(arg)
    if not isinstance(v, ArrayValue):   # a global NumPy array: the front end refuses it, naming it
        raise lw.err(arg, "cuda.const.array_like() takes an array argument of the kernel")
    return v


def _sync_reduce(kind: str) -> Callable[[Any, ast.Call], Any]:
    """syncthreads_count/and/or(pred): a barrier that also counts the block's true predicates, emulated
    with a one-element work-group counter, an atomic add and three barriers."""
    name = f"cuda.syncthreads_{kind}"

    def rule(lw: Any, node: ast.Call) -> TExpr:
        (arg,) = _args(lw, node, name, ("predicate",), 1)
        pred = ops.to_bool(lw.expr(arg))
        loc = lw.scope.loc(node)
        ref = ir.ArrayRef(f"__pk_a{lw.state.fresh('a')}", T.ArrayType(T.int32, 1, T.ArraySpace.LOCAL, True, (1,)))
        zero = ir.Const(0, T.int64)
        first = ops.binary(Op.EQ, _linear_local_id(lw), ops.python_const(0))
        lw.out.append(ir.DeclArray(ref, loc))
        lw.out.append(ir.If(first.expr, (ir.Store(ref, (zero,), ir.Const(0, T.int32), loc),), (), loc))
        lw.out.append(ir.Barrier(loc))
        add = ir.Atomic(Op.ATOMIC_ADD, ref, (zero,), ir.Const(1, T.int32), T.int32, loc)
        lw.out.append(ir.If(pred.expr, (ir.Evaluate(add, loc),), (), loc))
        lw.out.append(ir.Barrier(loc))
        count = lw.temp(TExpr(ir.Load(ref, (zero,), T.int32, loc)), node)
        lw.out.append(ir.Barrier(loc))   # every thread has read it before a later call resets it
        if kind == "count":
            return count
        if kind == "or":
            return ops.cast(ops.binary(Op.NE, count, ops.python_const(0)), T.int32)
        size = ops.python_const(1)
        for axis in range(3):
            size = ops.binary(Op.MUL, size, lw.index_query("local_size", _dim(lw, axis)))
        return ops.cast(ops.binary(Op.EQ, ops.cast(count, T.int64), size), T.int32)
    return rule


#: numba.cuda atomic -> the kernel-language builtin it lowers to (one table; a name the language does
#: not have yet is a CompileError naming both).
ATOMICS: dict[str, str] = {
    "add": "atomic_add", "sub": "atomic_sub", "max": "atomic_max", "min": "atomic_min",
    "cas": "atomic_cas", "exch": "atomic_xchg", "and_": "atomic_and", "or_": "atomic_or", "xor": "atomic_xor",
}


def _atomic(cuda_name: str, pk_name: str) -> Call:
    def rule(lw: Any, node: ast.Call) -> Any:
        if pk_name not in lang.BUILTINS:
            raise lw.err(node, f"cuda.atomic.{cuda_name} needs pk.{pk_name}, which this portakern does not "
                         "provide yet")
        return lw.builtin(pk_name, node)
    return Call(f"cuda.atomic.{cuda_name}", rule)


#: numba.cuda warp function -> the sub-group builtin it lowers to (the first argument, the mask, must be
#: the full 0xffffffff: portakern's sub-group operations are reached by the whole work-group)
WARP_OPS: dict[str, str] = {
    "shfl_sync": "subgroup_shuffle", "shfl_up_sync": "subgroup_shuffle_up",
    "shfl_down_sync": "subgroup_shuffle_down", "shfl_xor_sync": "subgroup_shuffle_xor",
    "any_sync": "subgroup_any", "all_sync": "subgroup_all",
}
FULL_MASK = 0xFFFFFFFF
_MASK_HINT = ("pass the full mask 0xffffffff and let every thread of the block reach the call; "
              "docs/language.md, \"Sub-groups\"")


def is_full_mask(value: object) -> bool:
    """``value`` is an int whose low 32 bits are all set (0xffffffff, or -1)."""
    return isinstance(value, int) and not isinstance(value, bool) and value & FULL_MASK == FULL_MASK


def _warp(cuda_name: str, pk_name: str) -> Call:
    """``cuda.shfl_down_sync(mask, value, delta)`` and friends: the sub-group builtin, full mask only."""
    params = ("mask", "value", "delta") if pk_name.startswith("subgroup_shuffle") else ("mask", "predicate")

    def rule(lw: Any, node: ast.Call) -> Any:
        args = _args(lw, node, f"cuda.{cuda_name}", params, len(params))
        mask = lw.expr(args[0])
        if not (mask.is_const and is_full_mask(const_value(mask))):
            raise lw.err(node, f"cuda.{cuda_name}: only the full mask 0xffffffff is supported", hint=_MASK_HINT)
        call = ast.copy_location(ast.Call(func=node.func, args=args[1:], keywords=[]), node)
        return lower_subgroup_call(lw, pk_name, call)
    return Call(f"cuda.{cuda_name}", rule)


_NO_WARPS = "portakern has no such warp operation (only shuffles, any and all, with the full mask)"
_WARP_HINT = "use cuda.shfl_*_sync/any_sync/all_sync with mask 0xffffffff, or a cuda.shared.array and cuda.syncthreads()"


def warp_names() -> dict[str, Intrinsic]:
    """Warp-level numba.cuda functions: the sub-group builtins, or a CompileError naming the function."""
    names = ("eq_sync", "ballot_sync", "match_any_sync", "match_all_sync", "activemask", "lanemask_lt",
             "syncwarp")
    refused: dict[str, Intrinsic] = {n: Refused(f"cuda.{n}", _NO_WARPS, _WARP_HINT) for n in names}
    return refused | {c: _warp(c, p) for c, p in WARP_OPS.items()}


def kernel_names() -> dict[str, Intrinsic]:
    """Every numba.cuda name the compat module exposes to kernels."""
    names: dict[str, Intrinsic] = {
        "threadIdx": Dim3("cuda.threadIdx", "local_id"), "blockIdx": Dim3("cuda.blockIdx", "group_id"),
        "blockDim": Dim3("cuda.blockDim", "local_size"), "gridDim": Dim3("cuda.gridDim", "num_groups"),
        "grid": Call("cuda.grid", _grid_rule("global_id", "cuda.grid")),
        "gridsize": Call("cuda.gridsize", _grid_rule("global_size", "cuda.gridsize")),
        "laneid": Value("cuda.laneid", _laneid),
        "warpsize": Value("cuda.warpsize", lambda lw, node: ops.python_const(WARP_SIZE)),
        "syncthreads": _builtin("barrier", "cuda.syncthreads"),
        "syncthreads_count": Call("cuda.syncthreads_count", _sync_reduce("count")),
        "syncthreads_and": Call("cuda.syncthreads_and", _sync_reduce("and")),
        "syncthreads_or": Call("cuda.syncthreads_or", _sync_reduce("or")),
        "fma": _builtin("fma", "cuda.fma"),
        "selp": _builtin("where", "cuda.selp"),
        "shared": Namespace("cuda.shared", {"array": Call("cuda.shared.array", _shared_array)}),
        "local": Namespace("cuda.local", {"array": Call("cuda.local.array", _local_array)}),
        "const": Namespace("cuda.const", {"array_like": Call("cuda.const.array_like", _const_array_like)}),
        "atomic": Namespace("cuda.atomic", {
            **{c: _atomic(c, p) for c, p in ATOMICS.items()},
            **{c: Refused(f"cuda.atomic.{c}", "its wrap-around/NaN semantics have no kernel-language builtin")
               for c in ("inc", "dec", "nanmax", "nanmin")}}),
        "cg": Namespace("cuda.cg", {"this_grid": Refused(
            "cuda.cg.this_grid", "a grid-wide synchronisation cannot be expressed on every backend",
            "split the kernel in two launches at the grid sync; the arrays stay on the device between "
            "launches (docs/language.md \"Multi-step algorithms\")")}),
        "threadfence": Refused("cuda.threadfence", "portakern has no device-wide memory fence",
                               "use atomics, or split the kernel in two launches"),
        "threadfence_block": Refused("cuda.threadfence_block", "portakern has no fence without a barrier",
                                     "use cuda.syncthreads()"),
        "threadfence_system": Refused("cuda.threadfence_system", "portakern has no system-wide fence"),
    }
    names.update(warp_names())
    return names
