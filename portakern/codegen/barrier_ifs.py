"""Barriers out of ``if`` statements: an IR-to-IR pass for devices that mishandle conditional barriers.

A barrier inside an ``if`` is legal only when every work-item of the group takes the same branch
(docs/language.md, "Barriers"). PoCL (3.0 and 3.1, LLVM 14/15) nevertheless miscompiles some such
kernels: the numba documentation's ``array_sum`` (a ``while`` tree with barriers inside
``if tid < size:``) spins forever once bounds checks add branches to the loop body. The pass moves
every barrier to the top level of its loop or kernel body and guards the statements around it
instead::

    if c: A; barrier; while w: B      ->   p = c; if p: A; barrier; while p and w: B

For a legal program (``c`` uniform across the group) both run the same statements in the same
order; only an illegal one (``c`` differing between work-items) changes, from undefined behaviour
to every work-item reaching every barrier. Loads, stores and barriers are the same node objects,
in the same walk order, so bounds-check site numbers and barrier fences are unchanged.
"""
from __future__ import annotations

from dataclasses import replace

from ..ir import nodes as ir
from ..ir.visit import walk_body
from ..types import bool_

__all__ = ["hoist_barriers_out_of_ifs"]

_FALSE = ir.Const(False, bool_)


def _has_barrier(body: tuple[ir.Stmt, ...]) -> bool:
    return any(isinstance(n, ir.Barrier) for n in walk_body(body))


class _Hoister:
    def __init__(self, kernel: ir.Kernel) -> None:
        taken = {v.name for v in kernel.locals}
        self.fresh = (f"pk_bar{i}" for i in range(1 << 30) if f"pk_bar{i}" not in taken)
        self.guards: list[ir.Var] = []

    def _guard(self) -> ir.Var:
        var = ir.Var(next(self.fresh), bool_)
        self.guards.append(var)
        return var

    def body(self, stmts: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
        """``stmts`` (run by every work-item that reaches them) with barrier ``if``s flattened."""
        out: list[ir.Stmt] = []
        for s in stmts:
            if isinstance(s, ir.If) and _has_barrier(s.then + s.orelse):
                p = self._guard()
                out.append(ir.Assign(p, s.cond, s.loc))
                out += self.guarded(s.then, p)
                if s.orelse:
                    out += self.guarded(s.orelse, ir.Unary(ir.Op.NOT, p, bool_))
            else:
                out.append(self.nested(s))
        return tuple(out)

    def nested(self, s: ir.Stmt) -> ir.Stmt:
        """``s`` with the bodies of its loops flattened (an ``if`` without barriers is left whole)."""
        if isinstance(s, (ir.While, ir.For)) and _has_barrier(s.body):
            return replace(s, body=self.body(s.body))
        return s

    def guarded(self, stmts: tuple[ir.Stmt, ...], g: ir.Expr) -> list[ir.Stmt]:
        """``stmts`` run only where ``g`` holds, with each barrier among them run unconditionally."""
        out: list[ir.Stmt] = []
        plain: list[ir.Stmt] = []

        def flush() -> None:
            if plain:
                out.append(ir.If(g, tuple(plain), (), plain[0].loc))
                plain.clear()

        for s in stmts:
            if not _has_barrier((s,)):
                plain.append(s)
                continue
            flush()
            if isinstance(s, ir.Barrier):
                out.append(s)
            elif isinstance(s, ir.If):          # q = g and c, evaluating c only where g holds
                q = self._guard()
                out += [ir.Assign(q, _FALSE, s.loc), ir.If(g, (ir.Assign(q, s.cond, s.loc),), (), s.loc)]
                out += self.guarded(s.then, q)
                if s.orelse:
                    r = self._guard()
                    out += [ir.Assign(r, _FALSE, s.loc),
                            ir.If(g, (ir.Assign(r, ir.Unary(ir.Op.NOT, q, bool_), s.loc),), (), s.loc)]
                    out += self.guarded(s.orelse, r)
            elif isinstance(s, ir.While):
                cond = ir.Binary(ir.Op.LAND, g, s.cond, bool_)
                out.append(ir.While(cond, self.body(s.body), s.loc))
            elif isinstance(s, ir.For):         # no iteration where g fails: stop = start
                stop = ir.Select(g, s.stop, s.start, s.stop.type)
                out.append(replace(s, stop=stop, body=self.body(s.body)))
            else:                               # pragma: no cover - only compound statements hold barriers
                raise AssertionError(f"barrier inside {type(s).__name__}")
        flush()
        return out


def hoist_barriers_out_of_ifs(kernel: ir.Kernel) -> ir.Kernel:
    """``kernel`` with no barrier inside an ``if`` (unchanged, the same object, when it has none)."""
    if not kernel.uses_barrier:
        return kernel
    h = _Hoister(kernel)
    body = h.body(kernel.body)
    if not h.guards:
        return kernel
    return replace(kernel, body=body, locals=kernel.locals + tuple(h.guards))
