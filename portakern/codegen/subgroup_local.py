"""Sub-group operations through local memory: an IR-to-IR pass for backends without native ones
(numba's CPU work-groups, OpenCL on PoCL, numba-cuda, whose simulator has no warp shuffles).

Each ``ir.Subgroup`` becomes an exchange through a local scratch array (one per value type, one
slot per work-item of the work-group, indexed by the local linear id ``llid``) between barriers::

    t = shuffle_down(v, d)   ->   a = d & 31; S[llid] = v; barrier
                                  t = S[base + lane + a] if lane + a < 32 else S[llid]; barrier

A reduction lets lane 0 of each sub-group fold its 32 slots in place in the tree order of
docs/semantics.md (``S[i] = S[i] op S[i + h]`` for h = 16, 8, 4, 2, 1), then every lane reads slot
``base``. Sub-group operations are reached by the whole work-group (docs/language.md), so the
barriers are legal; the trailing one keeps the next exchange from overwriting a slot still to be read.
Scratch accesses are numbered after the kernel's own (``ir.visit.access_sites``), so bounds-check
site numbers are those of the original kernel.
"""
from __future__ import annotations

from dataclasses import replace

from ..ir import nodes as ir
from ..ir.nodes import Op
from ..ir.rewrite import FreshLocals, map_statements
from ..ir.visit import SCRATCH_PREFIX
from ..types import ArraySpace, ArrayType, ScalarType, bool_, int64

__all__ = ["lower_subgroups_to_local", "SCRATCH_PREFIX"]

_SG = ir.SUBGROUP_SIZE


def _i64(v: int) -> ir.Const:
    return ir.Const(v, int64)


def _b(op: Op, a: ir.Expr, b: ir.Expr, t: ScalarType = int64) -> ir.Expr:
    return ir.Binary(op, a, b, t)


class _Lowering:
    def __init__(self, kernel: ir.Kernel) -> None:
        self.var = FreshLocals(kernel, "pk_sg")
        self.scratch: dict[str, ir.ArrayRef] = {}

    def array(self, t: ScalarType) -> ir.ArrayRef:
        if t.name not in self.scratch:
            shape = (ir.SUBGROUP_MAX_WORKGROUP,)
            self.scratch[t.name] = ir.ArrayRef(SCRATCH_PREFIX + t.name, ArrayType(t, 1, ArraySpace.LOCAL, True, shape))
        return self.scratch[t.name]

    def exchange(self, s: ir.Stmt) -> list[ir.Stmt] | None:
        if not isinstance(s, ir.Subgroup):
            return None
        t, loc = s.target.type, s.loc
        S = self.array(t)
        llid = self.var(int64)
        out: list[ir.Stmt] = [ir.Assign(llid, s.llid, loc)]
        lane = _b(Op.AND, llid, _i64(_SG - 1))
        base = _b(Op.SUB, llid, lane)
        if s.arg is not None:            # evaluated before the exchange, as on the other backends
            arg = self.var(int64)
            out.append(ir.Assign(arg, _b(Op.AND, s.arg, _i64(_SG - 1)), loc))
        out += [ir.Store(S, (llid,), s.value, loc), ir.Barrier(loc)]
        own = ir.Load(S, (llid,), t, loc)
        if s.op is Op.SUBGROUP_SHUFFLE:
            value: ir.Expr = ir.Load(S, (_b(Op.ADD, base, arg),), t, loc)
        elif s.op is Op.SUBGROUP_SHUFFLE_XOR:
            value = ir.Load(S, (_b(Op.ADD, base, _b(Op.XOR, lane, arg)),), t, loc)
        elif s.op in (Op.SUBGROUP_SHUFFLE_UP, Op.SUBGROUP_SHUFFLE_DOWN):
            up = s.op is Op.SUBGROUP_SHUFFLE_UP
            src = _b(Op.SUB if up else Op.ADD, lane, arg)
            ok = _b(Op.GE, lane, arg, bool_) if up else _b(Op.LT, src, _i64(_SG), bool_)
            value = ir.Select(ok, ir.Load(S, (_b(Op.ADD, base, src),), t, loc), own, t)
        else:
            out.append(self.fold(s, S, lane, base))
            out.append(ir.Barrier(loc))
            value = ir.Load(S, (base,), t, loc)
        return out + [ir.Assign(s.target, value, loc), ir.Barrier(loc)]

    def fold(self, s: ir.Subgroup, S: ir.ArrayRef, lane: ir.Expr, base: ir.Expr) -> ir.Stmt:
        """Lane 0 folds its sub-group's slots: ``S[base+i] = S[base+i] op S[base+i+h]``."""
        t, loc = s.target.type, s.loc
        k, h, i = self.var(int64), self.var(int64), self.var(int64)
        lo = _b(Op.ADD, base, i)
        a, b = ir.Load(S, (lo,), t, loc), ir.Load(S, (_b(Op.ADD, lo, h),), t, loc)
        op = ir.SUBGROUP_REDUCTIONS[s.op]
        combined = ir.Call(op, (a, b), t) if op in ir.MATH else ir.Binary(op, a, b, t)
        inner = ir.For(i, _i64(0), h, _i64(1), (ir.Store(S, (lo,), combined, loc),), loc)
        steps = ir.For(k, _i64(1), _i64(_SG.bit_length()), _i64(1),
                       (ir.Assign(h, _b(Op.SHR, _i64(_SG), k), loc), inner), loc)
        return ir.If(_b(Op.EQ, lane, _i64(0), bool_), (steps,), (), loc)


def lower_subgroups_to_local(kernel: ir.Kernel) -> ir.Kernel:
    """``kernel`` with every ``ir.Subgroup`` exchanged through local memory (the same object when
    it has none)."""
    if not kernel.uses_subgroup:
        return kernel
    lw = _Lowering(kernel)
    body = map_statements(kernel.body, lw.exchange)
    decls = tuple(ir.DeclArray(a, kernel.loc) for a in lw.scratch.values())
    return replace(kernel, body=decls + body, locals=kernel.locals + tuple(lw.var.made),
                   uses_barrier=True, uses_local=True)
