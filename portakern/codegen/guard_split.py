"""Index-set splitting of a flat kernel's innermost work-item loop by the guards it tests.

A CPU backend runs a kernel without work-groups as loops over the work-items, the last dimension
innermost. A stencil guards its border (``if j > 0 and j < m - 1: ... else: out[i, j] = u[i, j]``),
and that test, made for every work-item, keeps the inner loop from vectorising: the loads of one
branch may not run where the other is taken. Over the work-items where every such test holds (the
middle of the row), the tests are known to be true. This pass finds them: comparisons of the last
dimension's ``global_id`` (``j``) with an expression ``E`` that holds one value over the inner loop
(constants, shapes, scalar parameters, the other dimensions' ids, and *fixed* variables built from
them, as in bounds_facts), in the conditions of the kernel's ``if`` statements. A renderer runs
the middle range ``[lo, hi)`` (every ``j OP E`` true there) with those conditions replaced by True,
and the rest of the row with the body as written, so each work-item does exactly what it did. The
body is compiled twice, so a kernel is split only where a test picks between two branches or bounds
the row from below (a border).

An elementwise kernel (``if i < n: out[i] = ...``, or ``if i >= n: return`` before the work) is
*clipped* instead (``clip_guards``): the loop stops at the bound, and the test is made True, in one
copy of the body. That is exact only when a work-item past the bound has no effect at all, so it is
taken only when every other top-level statement assigns a scalar from an expression without loads
or atomics (integer ``x // 0`` is 0 by the language, so such an expression never raises). The test
in the loop is what kept it from vectorising on CPUs without masked stores (AVX2: 3x on saxpy).

Only ``if`` conditions are rewritten (their conjuncts), so every load and store keeps its node:
bounds proofs and check sites keyed by node stay valid in both copies.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..ir import nodes as ir
from ..ir.visit import walk
from ..types import ArrayType, bool_
from .bounds_facts import assignment_counts
from .phases import PURE

Op = ir.Op
_INT64 = "int64"
_CMP = {Op.LT: "lt", Op.LE: "le", Op.GT: "gt", Op.GE: "ge"}
_SWAP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}     # E < j is j > E
_NEGATE = {"ge": "lt", "gt": "le"}                        # return when j >= E: the rest runs for j < E
_TRUE = ir.Const(True, bool_)
_FALSE = ir.Const(False, bool_)


@dataclass(frozen=True)
class GuardSplit:
    """``bounds``: each (op, E) with op in lt/le/gt/ge, meaning ``j op E`` holds on the middle range;
    ``body``: the kernel body with those comparisons (where they are ``if`` conjuncts) made True."""

    bounds: tuple[tuple[str, ir.Expr], ...]
    body: tuple[ir.Stmt, ...]


def split_guards(kernel: ir.Kernel, dim: int) -> GuardSplit | None:
    """The split of the loop over ``global_id(dim)``, or None when no ``if`` tests it."""
    counts = assignment_counts(kernel)
    scalars = {p.name for p in kernel.params if not isinstance(p.type, ArrayType) and p.name not in counts}
    s = _Splitter(dim, scalars)
    body: list[ir.Stmt] = []
    for stmt in kernel.body:
        body.append(s.stmt(stmt))
        if isinstance(stmt, ir.Assign) and counts.get(stmt.target.name) == 1:
            s.fixed[stmt.target.name] = stmt.value
    if not s.bounds or not (s.chooses or any(op in ("gt", "ge") for op, _ in s.bounds)):
        return None     # only an upper bound that skips work: the ends are empty, the copy would not pay
    return GuardSplit(tuple(s.bounds), tuple(body))


def clip_guards(kernel: ir.Kernel, dim: int) -> GuardSplit | None:
    """Upper bounds on ``global_id(dim)`` past which a work-item does nothing, and the body to run
    below them; None unless the body is pure scalar assignments around one guard with a condition
    that reads no memory: an ``if`` without ``else`` whose condition has conjuncts ``j < E`` /
    ``j <= E`` (made True) and only pure assignments after it, or ``if ...: return`` whose condition
    has disjuncts ``j >= E`` / ``j > E`` (dropped: the items below every bound run the rest)."""
    counts = assignment_counts(kernel)
    scalars = {p.name for p in kernel.params if not isinstance(p.type, ArrayType) and p.name not in counts}
    s = _Splitter(dim, scalars)
    for n, stmt in enumerate(kernel.body):
        if isinstance(stmt, ir.Assign) and _pure(stmt.value):
            if counts.get(stmt.target.name) == 1:
                s.fixed[stmt.target.name] = stmt.value
            continue
        if not isinstance(stmt, ir.If) or stmt.orelse or not _pure(stmt.cond):
            return None
        head, rest = kernel.body[:n], kernel.body[n + 1:]
        if len(stmt.then) == 1 and isinstance(stmt.then[0], ir.Return):
            cond = s.exits(stmt.cond)
            if cond is not _FALSE:
                rest = (replace(stmt, cond=cond),) + rest
        else:
            cond = s.cond(stmt.cond)
            if not all(isinstance(t, ir.Assign) and _pure(t.value) for t in rest):
                return None
            rest = (replace(stmt, cond=cond),) + rest
        if cond is stmt.cond or any(op not in ("lt", "le") for op, _ in s.bounds):
            return None
        return GuardSplit(tuple(s.bounds), head + rest)
    return None


def _fold(c: ir.Binary, f: Callable[[ir.Expr], ir.Expr], unit: ir.Const) -> ir.Expr:
    """``c`` (an ``and``/``or``) with ``f`` applied to both sides; a side that became ``unit`` (True
    for ``and``, False for ``or``) is dropped."""
    lhs, rhs = f(c.lhs), f(c.rhs)
    if lhs is unit:
        return rhs
    if rhs is unit:
        return lhs
    return c if (lhs is c.lhs and rhs is c.rhs) else replace(c, lhs=lhs, rhs=rhs)


def _pure(e: ir.Expr) -> bool:
    """True when ``e`` reads no memory (no load can fail, no atomic acts); nothing else raises."""
    return all(isinstance(n, PURE) for n in walk(e))


class _Splitter:
    def __init__(self, dim: int, scalars: set[str]) -> None:
        self.dim, self.scalars = dim, scalars
        self.fixed: dict[str, ir.Expr] = {}
        self.bounds: list[tuple[str, ir.Expr]] = []
        self.chooses = False        # a rewritten ``if`` has an ``else``: the test picks a branch per item

    def stmt(self, s: ir.Stmt) -> ir.Stmt:
        if not isinstance(s, ir.If):
            return s
        cond = self.cond(s.cond)
        self.chooses = self.chooses or (cond is not s.cond and bool(s.orelse))
        then, orelse = self.stmts(s.then), self.stmts(s.orelse)
        if cond is s.cond and then is s.then and orelse is s.orelse:
            return s
        return replace(s, cond=cond, then=then, orelse=orelse)

    def stmts(self, body: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
        out = tuple(self.stmt(t) for t in body)
        return body if all(a is b for a, b in zip(out, body)) else out

    def cond(self, c: ir.Expr) -> ir.Expr:
        """``c`` with its conjuncts that compare ``j`` against a row-uniform value made True."""
        if isinstance(c, ir.Binary) and c.op is Op.LAND:
            return _fold(c, self.cond, _TRUE)
        if not (isinstance(c, ir.Binary) and c.op in _CMP):
            return c
        if getattr(c.lhs.type, "name", None) != _INT64 or getattr(c.rhs.type, "name", None) != _INT64:
            return c
        op = _CMP[c.op]
        if self.is_j(c.lhs):
            e = self.uniform(c.rhs)
        elif self.is_j(c.rhs):
            e, op = self.uniform(c.lhs), _SWAP[op]
        else:
            return c
        if e is None:
            return c
        self.bounds.append((op, e))
        return _TRUE

    def exits(self, c: ir.Expr) -> ir.Expr:
        """``c`` (an early return's test) with its disjuncts ``j >= E`` / ``j > E`` dropped (False when
        nothing is left), each recorded as the bound ``j < E`` / ``j <= E`` of the items that go on."""
        if isinstance(c, ir.Binary) and c.op is Op.LOR:
            return _fold(c, self.exits, _FALSE)
        mark = len(self.bounds)
        if self.cond(c) is _TRUE and len(self.bounds) == mark + 1 and self.bounds[mark][0] in _NEGATE:
            op, e = self.bounds[mark]
            self.bounds[mark] = (_NEGATE[op], e)
            return _FALSE
        del self.bounds[mark:]
        return c

    def resolve(self, e: ir.Expr) -> ir.Expr:
        while isinstance(e, ir.Var) and e.name in self.fixed:
            e = self.fixed[e.name]
        return e

    def is_j(self, e: ir.Expr) -> bool:
        e = self.resolve(e)
        return isinstance(e, ir.IndexQuery) and e.op is Op.GLOBAL_ID and e.dim == self.dim

    def uniform(self, e: ir.Expr) -> ir.Expr | None:
        """``e`` written over values that hold still along the inner loop, or None."""
        e = self.resolve(e)
        if isinstance(e, (ir.Const, ir.Shape)):
            return e
        if isinstance(e, ir.Var):
            return e if e.name in self.scalars else None
        if isinstance(e, ir.IndexQuery):
            varies = e.dim == self.dim and e.op in (Op.GLOBAL_ID, Op.LOCAL_ID, Op.GROUP_ID)
            return None if varies else e
        if isinstance(e, ir.Binary):
            lhs, rhs = self.uniform(e.lhs), self.uniform(e.rhs)
            return None if lhs is None or rhs is None else replace(e, lhs=lhs, rhs=rhs)
        if isinstance(e, ir.Unary):
            operand = self.uniform(e.operand)
            return None if operand is None else replace(e, operand=operand)
        if isinstance(e, ir.Cast):
            value = self.uniform(e.value)
            return None if value is None else replace(e, value=value)
        return None
