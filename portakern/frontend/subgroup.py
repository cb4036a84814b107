"""Lowering of the sub-group builtins (docs/language.md, "Sub-groups").

A sub-group is ``SUBGROUP_SIZE`` consecutive work-items of a work-group in local linear id order
(the last dimension fastest, as NumPy). The queries fold to arithmetic on the index queries; each
exchange or reduction becomes an ``ir.Subgroup`` statement assigning a fresh variable, so the
backends that emulate sub-groups can treat it as a synchronisation point (like a barrier).
"""
from __future__ import annotations

import ast
from typing import Any

from .. import types as T
from ..ir import nodes as ir
from ..ir import optable
from ..ir.nodes import Op
from . import ops
from .values import TExpr, VType

#: kernel-language name -> IR op of the sub-group exchanges and reductions
SUBGROUP_CALLS: dict[str, Op] = {s.name: s.op for s in optable.SPECS.values() if s.node == "subgroup"}
#: the sub-group queries (no arguments, int64 results)
SUBGROUP_QUERIES = ("subgroup_size", "subgroup_local_id", "subgroup_id", "num_subgroups")


def _i64(value: int) -> ir.Const:
    return ir.Const(value, T.int64)


def _bin(op: Op, a: ir.Expr, b: ir.Expr) -> ir.Expr:
    return ir.Binary(op, a, b, T.int64)


def local_linear_id(grid_ndim: int) -> ir.Expr:
    """The work-item's local linear id: ``local_id`` in the launch's dimensions, the last fastest."""
    lid: ir.Expr = ir.IndexQuery(Op.LOCAL_ID, 0, T.int64)
    for d in range(1, grid_ndim):
        lid = _bin(Op.ADD, _bin(Op.MUL, lid, ir.IndexQuery(Op.LOCAL_SIZE, d, T.int64)),
                   ir.IndexQuery(Op.LOCAL_ID, d, T.int64))
    return lid


def _workgroup_size(grid_ndim: int) -> ir.Expr:
    size: ir.Expr = ir.IndexQuery(Op.LOCAL_SIZE, 0, T.int64)
    for d in range(1, grid_ndim):
        size = _bin(Op.MUL, size, ir.IndexQuery(Op.LOCAL_SIZE, d, T.int64))
    return size


def subgroup_query(name: str, grid_ndim: int) -> TExpr:
    """``pk.subgroup_size()`` and friends as int64 expressions."""
    n = ir.SUBGROUP_SIZE
    if name == "subgroup_size":
        return TExpr(_i64(n))
    if name == "subgroup_local_id":
        return TExpr(_bin(Op.AND, local_linear_id(grid_ndim), _i64(n - 1)))
    if name == "subgroup_id":
        return TExpr(_bin(Op.FLOORDIV, local_linear_id(grid_ndim), _i64(n)))
    return TExpr(_bin(Op.FLOORDIV, _workgroup_size(grid_ndim), _i64(n)))


def lower_subgroup_call(lw: Any, name: str, node: ast.Call) -> TExpr:
    """``pk.subgroup_<op>(value[, lane])``: an ``ir.Subgroup`` statement and the variable it assigns."""
    op = SUBGROUP_CALLS[name]
    shuffle = op in ir.SUBGROUP_SHUFFLES
    lw._arity(node, name, 2 if shuffle else 1)
    value = lw.expr(node.args[0])
    if op in (Op.SUBGROUP_ANY, Op.SUBGROUP_ALL):
        value = ops.to_bool(value)
    elif value.type.is_bool and op not in ir.SUBGROUP_SHUFFLES:
        raise lw.err(node, f"{name}() of a bool is not supported",
                     hint="use pk.subgroup_any / pk.subgroup_all, or cast the value to an integer")
    arg = ops.int_index(lw.expr(node.args[1])).expr if shuffle else None
    irname = f"__pk_s{lw.state.fresh('s')}"
    vt = VType(value.type)
    lw.note_assign(irname, vt)
    target = ir.Var(irname, lw.var_type(irname, vt).type)
    loc = lw.scope.loc(node)
    lw.out.append(ir.Subgroup(op, target, ops.cast(value, target.type).expr, local_linear_id(lw.grid_ndim),
                              arg, loc))
    return lw.read_var(irname, node)
