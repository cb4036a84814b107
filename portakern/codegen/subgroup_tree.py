"""Sub-group reductions as shuffles: an IR-to-IR pass for backends with native shuffles (CUDA).

``t = subgroup_reduce_<op>(v)`` becomes the tree of docs/semantics.md written with
``shuffle_down``, then a broadcast of lane 0's value::

    t = v
    o = shuffle_down(t, 16); t = op(t, o)      # lane i < 16 now holds r[i] = op(v[i], v[i + 16])
    ... h = 8, 4, 2, 1 ...
    t = shuffle(t, 0)

Lanes ``i < h`` compute exactly the tree's ``r[i]`` at each step (the others compute values nobody
reads), so lane 0 ends with the tree's result, bit for bit what the other backends give.
``subgroup_any``/``subgroup_all`` are left to the renderer (CUDA's votes).
"""
from __future__ import annotations

from dataclasses import replace

from ..ir import nodes as ir
from ..ir.nodes import Op
from ..ir.rewrite import FreshLocals, map_statements
from ..types import int64

__all__ = ["reductions_as_shuffles"]

_VOTES = (Op.SUBGROUP_ANY, Op.SUBGROUP_ALL)


class _Rewriter:
    def __init__(self, kernel: ir.Kernel) -> None:
        self.var = FreshLocals(kernel, "pk_sgr")

    def rewrite(self, s: ir.Stmt) -> list[ir.Stmt] | None:
        if isinstance(s, ir.Subgroup) and s.op in ir.SUBGROUP_REDUCTIONS and s.op not in _VOTES:
            return self.tree(s)
        return None

    def tree(self, s: ir.Subgroup) -> list[ir.Stmt]:
        t, loc = s.target.type, s.loc
        acc, other = self.var(t), self.var(t)
        op = ir.SUBGROUP_REDUCTIONS[s.op]
        out: list[ir.Stmt] = [ir.Assign(acc, s.value, loc)]
        h = ir.SUBGROUP_SIZE // 2
        while h:
            combined = ir.Call(op, (acc, other), t) if op in ir.MATH else ir.Binary(op, acc, other, t)
            out += [ir.Subgroup(Op.SUBGROUP_SHUFFLE_DOWN, other, acc, s.llid, ir.Const(h, int64), loc),
                    ir.Assign(acc, combined, loc)]
            h //= 2
        out.append(ir.Subgroup(Op.SUBGROUP_SHUFFLE, s.target, acc, s.llid, ir.Const(0, int64), loc))
        return out


def reductions_as_shuffles(kernel: ir.Kernel) -> ir.Kernel:
    """``kernel`` with every sub-group add/min/max reduction written as shuffles (the same object
    when it has none)."""
    if not kernel.uses_subgroup:
        return kernel
    rw = _Rewriter(kernel)
    body = map_statements(kernel.body, rw.rewrite)
    if not rw.var.made:
        return kernel
    return replace(kernel, body=body, locals=kernel.locals + tuple(rw.var.made))
