"""Lane-innermost plans for the barrier-free phases of a work-group kernel on a CPU.

A CPU backend runs a work-group's work-items ("lanes") as a loop. Run naively, each lane executes the
whole phase, so a row loop ``for c in range(lid, n, WG)`` becomes ``WG`` strided, unvectorisable
loops. This module plans the phase as a sequence of *segments*, each run for every lane before the
next starts (loop fission across lanes), with an item-level ``for`` whose bounds are uniform across
the lanes (or start at ``lane + uniform``, the row-strided loop) interchanged with the lane loop: the
block of lanes becomes the innermost, contiguous loop LLVM can vectorise.

Only the interleaving of different lanes changes: every lane still executes its own statements in
program order, so every accumulation keeps the order docs/semantics.md states (a barrier-free phase
has no cross-lane communication the language defines, atomics excepted: phases with atomics are
left alone). Scalars whose value crosses a segment boundary live in per-lane arrays.

The index facts ("lane + uniform offset") also let a segment check its array bounds once per block
(at its first and last lane) instead of once per access: see :class:`BatchedAccess`; where that
check passed, a guard ``v < a.shape[d]`` on a checked index holds too (:func:`proved_guards`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ir import nodes as ir
from ..ir.rewrite import rewrite
from ..ir.visit import walk, walk_body
from ..types import ArraySpace
from .phases import defined_first as _defined_first
from .phases import var_names as _names

Op = ir.Op

#: the one index type whose wrap-around the batched bounds check reasons about
_INT64 = "int64"


@dataclass(frozen=True)
class BatchedAccess:
    """An array access of a segment whose indices, evaluated at the segment's first and last lane of
    a block, decide its bounds for every lane in between: each index is ``uniform`` or
    ``lane + uniform`` (int64), written in ``indices`` over names that hold still during the block
    (uniform names, the lane's index queries and the interchanged loop's variable)."""

    node: ir.Load | ir.Store
    indices: tuple[ir.Expr, ...]
    lane_affine: tuple[bool, ...]
    #: the short loop (see ``unrolled``) the access sits in: an index may be ``loop var + uniform``
    #: instead, and is checked at the loop's first and last values as well (``lane_affine`` is True)
    loop: ir.For | None = None


@dataclass(frozen=True)
class Segment:
    """Statements run for every lane before the next segment starts. With ``loop`` set, that loop is
    interchanged with the lanes (``stmts`` is its body); ``strided`` says its start is
    ``lane + uniform`` with a positive constant step (each block is one step of lane 0)."""

    stmts: tuple[ir.Stmt, ...]
    loop: ir.For | None = None
    strided: bool = False
    batched: tuple[BatchedAccess, ...] = ()


@dataclass(frozen=True)
class LanePlan:
    """How one phase runs lane-innermost: its segments, the scalars that must live in per-lane arrays
    because they cross a segment, and those of them that start at zero in this phase (a value not
    carried in from an earlier phase, read before it is written)."""

    segments: tuple[Segment, ...]
    lane_vars: frozenset[str]
    zeroed: frozenset[str]


def _assigned(stmts: Sequence[ir.Stmt]) -> set[str]:
    out: set[str] = set()
    for n in walk_body(tuple(stmts)):
        if isinstance(n, ir.Assign):
            out.add(n.target.name)
        elif isinstance(n, ir.For):
            out.add(n.var.name)
    return out


def substitute(e: ir.Expr, env: dict[str, ir.Expr]) -> ir.Expr:
    """``e`` with every variable named in ``env`` replaced by its expression."""
    return rewrite(e, lambda n: env.get(n.name) if isinstance(n, ir.Var) else None)


class _Facts:
    """Lane facts of expressions: 0 (uniform over the lanes), 1 (``lane + uniform``), None (other)."""

    def __init__(self, lane_dim: int, uniform: set[str], lane_names: set[str],
                 remat: dict[str, ir.Expr]) -> None:
        self.lane_dim = lane_dim
        self.uniform = uniform          # names that hold one value for every lane of a block
        self.lane_names = lane_names    # names whose value is ``lane + uniform`` (a strided loop's variable)
        self.remat = remat              # names standing for their defining expression

    def of(self, e: ir.Expr) -> int | None:
        if isinstance(e, (ir.Const, ir.Shape, ir.ArrayRef)):
            return 0
        if isinstance(e, ir.IndexQuery):
            if e.dim != self.lane_dim or e.op not in (Op.LOCAL_ID, Op.GLOBAL_ID):
                return 0
            return 1 if e.type.name == _INT64 else None
        if isinstance(e, ir.Var):
            if e.name in self.lane_names:
                return 1 if e.type.name == _INT64 else None
            if e.name in self.remat:
                return self.of(self.remat[e.name])
            return 0 if e.name in self.uniform else None
        if isinstance(e, (ir.Load, ir.Atomic)):
            return None
        parts = [self.of(c) for c in _operands(e)]
        if any(p is None for p in parts):
            return None
        if not any(parts):
            return 0
        # lane + uniform survives + and - of a uniform (int64: endpoints decide, see BatchedAccess)
        if isinstance(e, ir.Binary) and e.type.name == _INT64 and e.op in (Op.ADD, Op.SUB):
            lhs, rhs = parts
            if e.op is Op.ADD and lhs + rhs == 1:  # type: ignore[operator]
                return 1
            if e.op is Op.SUB and (lhs, rhs) == (1, 0):
                return 1
        return None


def _operands(e: ir.Expr) -> list[ir.Expr]:
    if isinstance(e, ir.Binary):
        return [e.lhs, e.rhs]
    if isinstance(e, ir.Unary):
        return [e.operand]
    if isinstance(e, ir.Cast):
        return [e.value]
    if isinstance(e, ir.Select):
        return [e.cond, e.then, e.orelse]
    if isinstance(e, ir.Call):
        return list(e.args)
    return []


def _batched(stmts: tuple[ir.Stmt, ...], facts: _Facts, remat: dict[str, ir.Expr],
             skip_arrays: set[str], loop: ir.For | None = None) -> tuple[BatchedAccess, ...]:
    """Loads and stores of ``stmts`` (one lane's body) whose indices have lane facts 0 or 1, their
    indices expanded over names that hold still for the block: straight-line assignments at the top
    of ``stmts`` are substituted; a name assigned anywhere deeper is not known, except the variable
    of a short constant loop (``unrolled``), whose body is searched with that variable as a second
    affine name (an index may follow the lane or the loop, never both: ``lane + k`` has no fact)."""
    deep = _assigned([c for s in stmts for c in _nested(s)])
    top = {s.target.name for s in stmts if isinstance(s, ir.Assign)}
    env: dict[str, ir.Expr] = dict(remat)
    for name in top | deep:
        env.pop(name, None)
    known = set(facts.uniform) - top - deep
    out: list[BatchedAccess] = []

    def expand(e: ir.Expr) -> ir.Expr:
        prev = None
        while prev is not e:     # remat chains: one level per pass
            prev, e = e, substitute(e, env)
        return e

    def visit(s: ir.Stmt) -> None:
        for n in walk(s):
            if isinstance(n, (ir.Load, ir.Store)) and n.array.name not in skip_arrays:
                idx = tuple(expand(i) for i in n.indices)
                sub = _Facts(facts.lane_dim, known, facts.lane_names, {})
                kinds = [sub.of(i) for i in idx]
                if all(k is not None for k in kinds) and not any(
                        isinstance(v, ir.Var) and v.name in (top | deep) for i in idx for v in walk(i)):
                    out.append(BatchedAccess(n, idx, tuple(k == 1 for k in kinds), loop))

    for s in stmts:
        if loop is None and unrolled(s) is not None:
            # its variable runs through constants: an index "var + uniform" is decided at its ends
            assert isinstance(s, ir.For)
            inner = _Facts(facts.lane_dim, known, facts.lane_names | {s.var.name}, {})
            out.extend(_batched(s.body, inner, remat, skip_arrays, loop=s))
        else:
            visit(s)
        if isinstance(s, ir.Assign) and s.target.name not in deep:
            env[s.target.name] = expand(s.value)
    # one site may be reached through several statements (shared nodes): keep the first
    seen: set[int] = set()
    unique = []
    for b in out:
        if id(b.node) not in seen:
            seen.add(id(b.node))
            unique.append(b)
    return tuple(unique)


def _nested(s: ir.Stmt) -> list[ir.Stmt]:
    """Statements nested inside ``s`` (not ``s`` itself)."""
    if isinstance(s, ir.If):
        return [*s.then, *s.orelse]
    if isinstance(s, (ir.For, ir.While)):
        return list(s.body)
    return []


def plan_phase(run: Sequence[ir.Stmt], *, lane_dim: int, uniform: set[str], remat: dict[str, ir.Expr],
               carried: set[str], skip_arrays: set[str], repeated: bool = False) -> LanePlan | None:
    """The lane-innermost plan of one barrier-free phase, or None when it must run lane by lane.

    ``lane_dim`` is the work-group dimension the lanes run along (the last); ``uniform`` names the
    scalars with one value per work-group (parameters, group-level loop variables); ``remat`` the
    scalars recomputed from their defining expression; ``carried`` the scalars that already live in
    per-lane arrays (live across phases); ``skip_arrays`` arrays whose bounds are per lane (private);
    ``repeated`` that a group-level loop runs the phase again and again.
    """
    # a rematerialised scalar's assignment renders as nothing: its uses recompute it
    run = tuple(s for s in run if not (isinstance(s, ir.Assign) and s.target.name in remat))
    for n in walk_body(run):
        if isinstance(n, (ir.Atomic, ir.Break, ir.Continue, ir.Return, ir.Barrier)):
            return None
    assigned = _assigned(run)
    block_uniform = set(uniform) - assigned
    facts = _Facts(lane_dim, block_uniform, set(), remat)
    segments: list[Segment] = []
    plain: list[ir.Stmt] = []

    def flush() -> None:
        if plain:
            segments.append(Segment(tuple(plain), batched=_batched(tuple(plain), facts, remat, skip_arrays)))
            plain.clear()

    for i, s in enumerate(run):
        strided = _interchangeable(s, run[:i] + run[i + 1:], facts, carried)
        if strided is None or not isinstance(s, ir.For) or (strided is False and unrolled(s) is not None):
            plain.append(s)     # (a short constant loop stays inside the lane loop: see ``unrolled``)
            continue
        flush()
        var = s.var.name
        inner = _Facts(lane_dim, block_uniform | ({var} if not strided else set()), {var} if strided else set(),
                       remat)
        segments.append(Segment(s.body, s, strided, _batched(s.body, inner, remat, skip_arrays)))
    flush()
    if not any(seg.loop is not None or any(b.loop is not None or (repeated and b.node.array.type.space == ArraySpace.GLOBAL)
                                           for b in seg.batched) for seg in segments):
        # nothing to interchange, no short loop, and no global array checked once per block in a
        # phase a group-level loop repeats (matmul's tile loads): the plain lane loop is this plan.
        # Block-checking every plain phase compiled each one twice (3.6x on a barrier-heavy kernel).
        return None
    return LanePlan(tuple(segments), *_lane_vars(segments, run, carried, remat, uniform))


#: the most iterations of a loop kept inside the lane loop (LLVM unrolls it in full)
UNROLL_MAX = 16


def unrolled(s: ir.Stmt) -> tuple[int, int] | None:
    """(first, last) value of a loop's variable when the loop is short, constant and straight-line:
    ``for k in range(T)`` with ``T <= UNROLL_MAX`` constant, a body of assignments and stores only,
    and the variable never assigned in it. Such a loop stays inside the lane loop instead of being
    interchanged with it: LLVM unrolls it in full and vectorises the lanes, with a carried value
    (``acc += ta[li, k] * tb[k, lj]``) kept in a register across the iterations rather than loaded
    and stored at every step (the tiled matmul: 4x)."""
    if not isinstance(s, ir.For):
        return None
    ends = [e.value for e in (s.start, s.stop, s.step) if isinstance(e, ir.Const) and type(e.value) is int]
    if len(ends) != 3:
        return None
    start, stop, step = (int(v) for v in ends)
    if step <= 0 or stop <= start or s.var.type.name != _INT64:
        return None
    trips = (stop - start + step - 1) // step
    if trips > UNROLL_MAX or s.var.name in _assigned(s.body):
        return None
    if not all(isinstance(t, (ir.Assign, ir.Store)) for t in s.body):
        return None
    return start, start + (trips - 1) * step


def _interchangeable(s: ir.Stmt, rest: tuple[ir.Stmt, ...], facts: _Facts, carried: set[str]) -> bool | None:
    """For an item-level ``for`` that can be interchanged with the lanes: False for uniform bounds,
    True for a row-strided loop (start ``lane + uniform``, uniform stop, positive constant step);
    None otherwise (or when its variable is read outside it)."""
    if not isinstance(s, ir.For) or s.var.name in carried or s.var.name in _names(rest):
        return None
    start, stop, step = facts.of(s.start), facts.of(s.stop), facts.of(s.step)
    if start == 0 and stop == 0 and step == 0:
        return False
    if start == 1 and stop == 0 and isinstance(s.step, ir.Const) and s.step.value > 0:
        return True
    return None


def _lane_vars(segments: list[Segment], run: tuple[ir.Stmt, ...], carried: set[str],
               remat: dict[str, ir.Expr], uniform: set[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Scalars that need a per-lane array: mentioned in two segments, or read before written within
    one segment's body (a value carried between iterations of an interchanged loop)."""
    owners: dict[str, list[int]] = {}
    for k, seg in enumerate(segments):
        names = _names(seg.stmts) | (_names((seg.loop.start, seg.loop.stop, seg.loop.step)) if seg.loop else set())
        for name in names:
            owners.setdefault(name, []).append(k)
    out: set[str] = set()
    for name, where in owners.items():
        if name in remat or name in uniform or name in carried:
            continue
        seg = segments[where[0]]
        if seg.loop is not None and name == seg.loop.var.name:
            continue
        # a scalar of one plain segment starts at zero per lane, as it did per work-item
        if len(where) > 1 or (seg.loop is not None and not _defined_first(name, seg.stmts)):
            out.add(name)
    zeroed = frozenset(n for n in out if not _defined_first(n, run))
    return frozenset(out), zeroed


def proved_guards(seg: Segment, remat: dict[str, ir.Expr]) -> frozenset[int]:
    """The conjuncts ``v < a.shape[d]`` of ``seg``'s top-level ``if``s that its block check (of
    ``seg.batched``, at the block's first and last lane) proves for every lane, by ``id``: a batched
    access indexes ``a``'s dimension ``d`` with ``v`` itself, after the one top-level assignment of
    ``v`` in the segment (or ``v`` is not assigned in it), and the assignment comes before the ``if``,
    so ``v`` holds the checked value there. ``remat``: variables that stand for their expression (a
    shape). A backend renders such a guard True inside the checked block: ``if j < n: acc += x[j]``
    kept reduce_sum's lane loop from vectorising on CPUs without masked loads (numba, AVX2:
    6.0-6.5 -> 0.8-1.2 ms single-threaded at 4M elements)."""
    stmts = seg.stmts
    assigned_at: dict[str, list[int]] = {}
    for k, t in enumerate(stmts):
        for n in walk(t):
            if isinstance(n, ir.Assign):
                assigned_at.setdefault(n.target.name, []).append(k if n is t else -1)
            elif isinstance(n, ir.For):
                assigned_at.setdefault(n.var.name, []).extend((-1, -1))
    batched = {id(b.node) for b in seg.batched}
    indexed: dict[tuple[str, int, str], int] = {}      # (array, dim, var) -> first statement
    for k, t in enumerate(stmts):
        for n in walk(t):
            if isinstance(n, (ir.Load, ir.Store)) and id(n) in batched:
                for d, i in enumerate(n.indices):
                    if isinstance(i, ir.Var):
                        indexed.setdefault((n.array.name, d, i.name), k)
    out: set[int] = set()
    for k, t in enumerate(stmts):
        if not isinstance(t, ir.If):
            continue
        for c in _conjuncts(t.cond):
            if not (isinstance(c, ir.Binary) and c.op is Op.LT and isinstance(c.lhs, ir.Var)):
                continue
            rhs = remat.get(c.rhs.name, c.rhs) if isinstance(c.rhs, ir.Var) else c.rhs
            if not isinstance(rhs, ir.Shape):
                continue
            at = assigned_at.get(c.lhs.name, [])
            first = indexed.get((rhs.array.name, rhs.dim, c.lhs.name))
            if first is None or len(at) > 1 or (at and not (0 <= at[0] < k and at[0] < first)):
                continue
            out.add(id(c))
    return frozenset(out)


def _conjuncts(c: ir.Expr) -> list[ir.Expr]:
    """The operands of a chain of ``and``s (``c`` itself otherwise)."""
    if isinstance(c, ir.Binary) and c.op is Op.LAND:
        return _conjuncts(c.lhs) + _conjuncts(c.rhs)
    return [c]
