"""Array accesses that the conditions guarding them prove in bounds, so a renderer can drop their checks.

A stencil guards its neighbours itself (``if i > 0 and i < n - 1: u[i - 1, j] + u[i + 1, j]``, with
``n = u.shape[0]``); checking those four loads again costs the loop its vectorisation. This pass
finds accesses of a parameter array whose every index is ``v + c`` (``c`` an integer constant, ``v`` an
index query or a *fixed* variable) and whose bounds follow from the ``and``-chain conditions of the
``if``s around it:

- lower: ``v + c >= 0`` from ``v > a`` / ``v >= a`` (or ``v`` a ``global_id``/``local_id``/``group_id``,
  never negative);
- upper: ``v + c < A.shape[d]`` from ``v < S - k`` / ``v <= S - k`` where ``S`` is ``A.shape[d]`` of the
  accessed array itself (written directly or through a fixed variable) and ``c <= k`` (``c < k`` for
  ``<=``).

A *fixed* variable is assigned exactly once in the whole kernel, by a top-level statement that comes
before the top-level statement holding the access, so it holds one value wherever the guard and the
access read it. Every value involved is int64 and the constants are small, so no step wraps around:
the proof is the same in the language's wrapping arithmetic as in the integers. Anything else keeps
its check. Facts come only from the ``then`` branch of an ``if`` (never from a negated condition).

**Shape relations.** A guard usually bounds one array's shape (``if i < x.shape[0]: out[i] = x[i]``)
and the other arrays it indexes are the same size at every launch that matters. The upper bound of an
access of ``B`` in dimension ``e`` also follows from a fact about ``A.shape[d]`` when
``B.shape[e] >= A.shape[d]``. ``shape_relations`` lists the relations (``(B, e, A, d)``) that would
prove more accesses; the runtime evaluates them on each launch's arrays and specialises the kernel on
the ones that hold (``Kernel.shape_ge``), so ``proven_in_bounds`` may use exactly those. A launch whose
arrays break a relation runs a specialisation compiled without it, with its checks.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..ir import nodes as ir
from ..ir.visit import walk, walk_body
from ..types import ArraySpace, ArrayType

Op = ir.Op
_INT64 = "int64"
_SMALL = 1 << 31              # constants beyond this are left alone (no wrap-around reasoning needed)
_NONNEG = (Op.GLOBAL_ID, Op.LOCAL_ID, Op.GROUP_ID)

#: a base term: ("q", op, dim) for an index query, ("v", name) for a fixed variable
Term = tuple
#: ``B.shape[e] >= A.shape[d]`` as (B, e, A, d)
Relation = tuple[str, int, str, int]


def proven_in_bounds(kernel: ir.Kernel) -> frozenset[int]:
    """``id()`` of every Load/Store/Atomic of ``kernel`` whose bounds its guards prove, using the shape
    relations the kernel was specialised on (``kernel.shape_ge``) and no others."""
    proven: dict[int, frozenset[Relation]] = {}
    _prove(kernel, proven)
    held = frozenset(kernel.shape_ge)
    return frozenset(i for i, needs in proven.items() if needs <= held)


def shape_relations(kernel: ir.Kernel) -> tuple[Relation, ...]:
    """The shape relations (``B.shape[e] >= A.shape[d]``, as (B, e, A, d)) that would prove accesses
    the guards alone do not, sorted; empty when none would help."""
    proven: dict[int, frozenset[Relation]] = {}
    _prove(kernel, proven)
    return tuple(sorted(set().union(*proven.values()))) if proven else ()


def assignment_counts(kernel: ir.Kernel) -> dict[str, int]:
    """How often each scalar of ``kernel`` is assigned (a loop variable counts twice: it changes). A
    name assigned once, by a top-level statement, is *fixed* after that statement."""
    counts: dict[str, int] = {}
    for n in walk_body(kernel.body):
        if isinstance(n, (ir.Assign, ir.Subgroup)):
            counts[n.target.name] = counts.get(n.target.name, 0) + 1
        elif isinstance(n, ir.For):
            counts[n.var.name] = counts.get(n.var.name, 0) + 2
    return counts


def _prove(kernel: ir.Kernel, proven: dict[int, frozenset[Relation]]) -> None:
    """Fill ``proven``: id() of each provable access -> the shape relations its proof needs."""
    counts = assignment_counts(kernel)
    params = {p.name for p in kernel.params if isinstance(p.type, ArrayType)}
    fixed: dict[str, ir.Expr] = {}
    for stmt in kernel.body:
        _Prover(fixed, params, proven).stmts((stmt,), ())
        if isinstance(stmt, ir.Assign) and counts.get(stmt.target.name) == 1:
            fixed[stmt.target.name] = stmt.value


class _Prover:
    def __init__(self, fixed: dict[str, ir.Expr], params: set[str], out: dict[int, frozenset[Relation]]) -> None:
        self.fixed, self.params, self.out = fixed, params, out

    # -- statements: carry the facts of the enclosing ifs' then-branches
    def stmts(self, body: Iterable[ir.Stmt], facts: tuple) -> None:
        for s in body:
            if isinstance(s, ir.If):
                self.accesses(s.cond, facts)
                self.stmts(s.then, facts + tuple(self.facts_of(s.cond)))
                self.stmts(s.orelse, facts)
            elif isinstance(s, (ir.For, ir.While)):
                self.accesses(s.start if isinstance(s, ir.For) else s.cond, facts)
                self.stmts(s.body, facts)
            else:
                self.accesses(s, facts)

    def accesses(self, node: object, facts: tuple) -> None:
        for n in walk(node):
            if isinstance(n, (ir.Load, ir.Store, ir.Atomic)) and facts:
                needs = self.in_bounds(n, facts)
                if needs is not None:
                    self.out[id(n)] = needs

    # -- facts: (term, kind, bound) with kind "lo" (term >= bound, an int) or "hi" (term <= S - k - 1:
    #    bound = (array name, dim, k))
    def facts_of(self, cond: ir.Expr) -> list[tuple]:
        if isinstance(cond, ir.Binary) and cond.op is Op.LAND:
            return self.facts_of(cond.lhs) + self.facts_of(cond.rhs)
        if not (isinstance(cond, ir.Binary) and cond.op in (Op.LT, Op.LE, Op.GT, Op.GE)):
            return []
        lhs, rhs, op = cond.lhs, cond.rhs, cond.op
        if op in (Op.GT, Op.GE):                      # a > b is b < a
            lhs, rhs, op = rhs, lhs, (Op.LT if op is Op.GT else Op.LE)
        out: list[tuple] = []
        # lhs < rhs: an upper bound of lhs, a lower bound of rhs
        t = self.term(lhs)
        s = self.shape_minus(rhs)
        if t is not None and t[1] == 0 and s is not None:
            # lhs < S - k is lhs <= S - 1 - k; lhs <= S - k is lhs <= S - 1 - (k - 1)
            out.append((t[0], "hi", (s[0], s[1], s[2] if op is Op.LT else s[2] - 1)))
        c = self.const(lhs)
        t = self.term(rhs)
        if c is not None and t is not None and t[1] == 0:
            out.append((t[0], "lo", c + (1 if op is Op.LT else 0)))
        return out

    def in_bounds(self, n: ir.Load | ir.Store | ir.Atomic, facts: tuple) -> frozenset[Relation] | None:
        """The shape relations that prove ``n`` in bounds (empty: its guards alone), or None."""
        arr = n.array
        if arr.name not in self.params or arr.type.space != ArraySpace.GLOBAL:
            return None
        needs: list[Relation] = []
        for d, idx in enumerate(n.indices):
            t = self.term(idx)
            if t is None:
                return None
            base, c = t
            lo = 0 if base[0] == "q" and base[1] in _NONNEG else None
            for term, kind, bound in facts:
                if term == base and kind == "lo":
                    lo = bound if lo is None else max(lo, bound)
            if lo is None or lo + c < 0:
                return None
            # base <= S - 1 - k with S = A.shape[d']: base + c < S when c <= k, and S <= arr.shape[d]
            # when A is arr and d' is d, or by the relation (arr, d, A, d')
            shapes = [(bound[0], bound[1]) for term, kind, bound in facts
                      if term == base and kind == "hi" and c <= bound[2] and bound[0] in self.params]
            if (arr.name, d) in shapes:
                continue
            if not shapes:
                return None
            needs.append((arr.name, d, *min(shapes)))
        return frozenset(needs)

    # -- expressions
    def resolve(self, e: ir.Expr) -> ir.Expr:
        while isinstance(e, ir.Var) and e.name in self.fixed:
            e = self.fixed[e.name]
        return e

    def const(self, e: ir.Expr) -> int | None:
        e = self.resolve(e)
        if isinstance(e, ir.Const) and e.type.name == _INT64 and not isinstance(e.value, bool) \
                and isinstance(e.value, int) and abs(e.value) < _SMALL:
            return e.value
        return None

    def term(self, e: ir.Expr) -> tuple[Term, int] | None:
        """``e`` as (base, c) meaning base + c, or None."""
        if getattr(e.type, "name", None) != _INT64:
            return None
        if isinstance(e, ir.IndexQuery):
            return ("q", e.op, e.dim), 0
        if isinstance(e, ir.Var):
            if e.name not in self.fixed:
                return None
            inner = self.term(self.fixed[e.name])
            return inner if inner is not None else (("v", e.name), 0)
        if isinstance(e, ir.Binary) and e.op in (Op.ADD, Op.SUB):
            c = self.const(e.rhs)
            if c is not None:
                t = self.term(e.lhs)
                if t is not None:
                    total = t[1] + (c if e.op is Op.ADD else -c)
                    return (t[0], total) if abs(total) < _SMALL else None
            c = self.const(e.lhs)
            if c is not None and e.op is Op.ADD:
                t = self.term(e.rhs)
                if t is not None and abs(t[1] + c) < _SMALL:
                    return t[0], t[1] + c
        return None

    def shape_minus(self, e: ir.Expr) -> tuple[str, int, int] | None:
        """``e`` as ``A.shape[d] - k`` (k >= 0 a small constant): (A, d, k), or None."""
        e = self.resolve(e)
        if getattr(e.type, "name", None) != _INT64:
            return None
        if isinstance(e, ir.Shape):
            return e.array.name, e.dim, 0
        if isinstance(e, ir.Binary) and e.op is Op.SUB:
            c = self.const(e.rhs)
            s = self.shape_minus(e.lhs)
            if c is not None and c >= 0 and s is not None:
                return s[0], s[1], s[2] + c
        return None
