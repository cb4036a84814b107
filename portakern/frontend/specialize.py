"""``specialize``: type and lower a kernel body for one signature, producing a verified ``ir.Kernel``."""
from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from .. import types as T
from ..errors import CompileError, PortakernError
from ..ir import nodes as ir
from ..ir.visit import walk_body
from ..runtime import config
from . import ops
from .calls import CallLowering
from .scope import RESERVED_PREFIX, PassState, Scope
from .source import FunctionSource
from .values import ArrayValue, PyObject, TExpr, VType, join

_MAX_PASSES = 32


class Lowerer(CallLowering):
    """One pass of the lowering over a kernel (see :mod:`portakern.frontend.scope`)."""

    def __init__(self, src: FunctionSource, state: PassState, grid_ndim: int) -> None:
        self.state = state
        self.grid_ndim = grid_ndim
        self.kernel_name = src.name
        self.scope = Scope(src, "")
        self.out: list[ir.Stmt] = []
        self.array_name_hint = None


def _param_binding(lw: Lowerer, src: FunctionSource, arg_types: Mapping[str, Any],
                   constexprs: Mapping[str, Any]) -> tuple[list[ir.Param], list[ir.Stmt]]:
    """Bind the kernel's parameters in its scope; returns the IR params and the prologue (copies of
    scalar parameters the body assigns, so they unify like any variable)."""
    params: list[ir.Param] = []
    node = src.tree
    scope = lw.scope
    assigned = {t.id for t in ast.walk(node) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
    for p in src.params:
        if p.name in constexprs:
            try:
                value = lw.from_python(constexprs[p.name], node, p.name)
            except CompileError:
                value = PyObject(constexprs[p.name])   # an error only where the body uses it
            if p.name in assigned:
                if not isinstance(value, TExpr):
                    raise CompileError(f"constexpr parameter '{p.name}' is assigned in the body but is not a number",
                                       loc=src.loc(node))
                scope.renames[p.name] = f"__pk_p_{p.name}"
                lw.assign_var(p.name, value, node)
            else:
                scope.bindings[p.name] = value
            continue
        if p.name not in arg_types:
            raise CompileError(f"no argument type given for parameter '{p.name}' of '{src.name}'",
                               loc=src.loc(node), hint="pass a value for every parameter")
        t = arg_types[p.name]
        if isinstance(t, T.ArrayType):
            if t.space != T.ArraySpace.GLOBAL:
                raise CompileError(f"parameter '{p.name}' must be a global array, got {t}", loc=src.loc(node))
            if p.name in assigned:
                raise CompileError(f"array parameter '{p.name}' cannot be reassigned",
                                   loc=_first_store(src, node, p.name),
                                   hint="assign to its elements (x[i] = v) or use another name")
            scope.bindings[p.name] = ArrayValue(ir.ArrayRef(p.name, t))
        elif isinstance(t, T.ScalarType):
            if p.name in assigned:   # an ordinary variable initialised from the parameter
                scope.renames[p.name] = f"__pk_p_{p.name}"
                lw.assign_var(p.name, TExpr(ir.Var(p.name, t)), node)
            else:
                scope.bindings[p.name] = TExpr(ir.Var(p.name, t))
                lw.state.launch_args.add(p.name)
        else:
            raise CompileError(f"parameter '{p.name}' has type {t!r}, expected a ScalarType or ArrayType",
                               loc=src.loc(node))
        params.append(ir.Param(p.name, t))
    prologue = list(lw.out)
    lw.out = []
    return params, prologue


def _reject_reserved_names(src: FunctionSource) -> None:
    """The front end's own variables are named ``__pk_<kind><n>...``; a kernel's own name of that
    form could be one of them, so it is refused (helpers' names are prefixed, so they cannot)."""
    for n in ast.walk(src.tree):
        name = n.id if isinstance(n, ast.Name) else n.arg if isinstance(n, ast.arg) else None
        if name is not None and name.startswith(RESERVED_PREFIX):
            raise CompileError(f"the name '{name}' is reserved: names starting with '{RESERVED_PREFIX}' "
                               "are portakern's own", loc=src.loc(n), hint="rename the variable")


def _first_store(src: FunctionSource, fdef: ast.AST, name: str) -> ir.Loc:
    for n in ast.walk(fdef):
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store):
            return src.loc(n)
    return src.loc(fdef)


def _one_pass(src: FunctionSource, state: PassState, arg_types: Mapping[str, Any],
              constexprs: Mapping[str, Any], grid_ndim: int) -> tuple[list[ir.Param], tuple[ir.Stmt, ...]]:
    lw = Lowerer(src, state, grid_ndim)
    params, prologue = _param_binding(lw, src, arg_types, constexprs)
    lw.out = prologue
    lw.body(src.tree.body)
    return params, tuple(lw.out)


def _merge(env: dict[str, VType], assigned: dict[str, VType]) -> dict[str, VType]:
    out = dict(env)
    for name, vt in assigned.items():
        out[name] = vt if name not in out else join(out[name], vt)
    return out


def specialize(src: FunctionSource, arg_types: Mapping[str, Any], constexprs: Mapping[str, Any],
               grid_ndim: int, debug: bool, boundscheck: bool = False) -> ir.Kernel:
    """Type and lower ``src`` for one signature (see docs/architecture.md). Raises CompileError for
    anything outside the language; never any other exception."""
    try:
        return _specialize(src, arg_types, constexprs, grid_ndim, debug, boundscheck)
    except PortakernError:
        raise
    except RecursionError:
        raise CompileError(f"kernel '{src.name}' is nested too deeply to compile",
                           hint="split long expressions into several statements") from None
    except Exception as exc:  # noqa: BLE001 - the last resort: never let an internal error escape
        raise CompileError(f"internal error in the portakern front end while compiling '{src.name}': "
                           f"{type(exc).__name__}: {exc}; please report this with the kernel's source") from exc


def _specialize(src: FunctionSource, arg_types: Mapping[str, Any], constexprs: Mapping[str, Any],
                grid_ndim: int, debug: bool, boundscheck: bool) -> ir.Kernel:
    if not isinstance(grid_ndim, int) or not 1 <= grid_ndim <= 3:
        raise CompileError(f"grid_ndim must be 1, 2 or 3, got {grid_ndim!r}")
    fdef = src.tree
    _reject_reserved_names(src)
    env: dict[str, VType] = {}
    lenient, may_relax = False, True
    for _ in range(_MAX_PASSES):
        state = PassState(env=env, lenient=lenient)
        try:
            params, body = _one_pass(src, state, arg_types, constexprs, grid_ndim)
        except CompileError:
            # A variable read before its (loop-carried) assignment had no type yet: one lenient pass
            # that skips failing statements collects the types, then the strict pass runs again.
            if not lenient and may_relax and state.unknown_reads:
                lenient = True
                continue
            raise
        if lenient:
            merged = _merge(env, state.assigned)
            lenient, may_relax = False, merged != env
            env = merged
            continue
        if state.assigned == env:
            break
        env = dict(state.assigned)
    else:
        raise CompileError(f"the variable types of '{src.name}' did not settle", loc=src.loc(fdef),
                           hint="give the variables explicit types, e.g. acc = pk.float32(0)")
    if state.unknown_reads:
        name, loc = state.unknown_reads[0]
        raise CompileError(f"variable '{name}' is used before it is assigned", loc=loc,
                           hint="assign it on every path before reading it")
    kernel = _assemble(src, params, body, grid_ndim, debug, boundscheck)
    if config.verify_ir():
        from ..ir.verify import verify

        verify(kernel)
    return kernel


def _assemble(src: FunctionSource, params: list[ir.Param], body: tuple[ir.Stmt, ...], grid_ndim: int,
              debug: bool, boundscheck: bool) -> ir.Kernel:
    local_vars: dict[str, ir.Var] = {}
    written: set[str] = set()
    uses_barrier = uses_local = uses_subgroup = False
    for n in walk_body(body):
        if isinstance(n, (ir.Assign, ir.Subgroup)):
            local_vars.setdefault(n.target.name, n.target)
            uses_subgroup = uses_subgroup or isinstance(n, ir.Subgroup)
        elif isinstance(n, ir.For):
            local_vars.setdefault(n.var.name, n.var)
        elif isinstance(n, (ir.Store, ir.Atomic)):
            written.add(n.array.name)
        elif isinstance(n, ir.Barrier):
            uses_barrier = True
        elif isinstance(n, ir.DeclArray) and n.array.type.space == T.ArraySpace.LOCAL:
            uses_local = True
    fdef = src.tree
    return ir.Kernel(
        name=src.name,
        params=tuple(params),
        body=body,
        locals=tuple(local_vars.values()),
        written=tuple(p.name for p in params if isinstance(p.type, T.ArrayType) and p.name in written),
        uses_barrier=uses_barrier,
        uses_local=uses_local,
        grid_ndim=grid_ndim,
        debug=bool(debug),
        loc=src.loc(fdef),
        boundscheck=bool(boundscheck),
        uses_subgroup=uses_subgroup,
    )


__all__ = ["specialize", "ops"]
