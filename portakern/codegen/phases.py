"""Barrier phases and work-group uniformity: the analyses a backend needs to run a work-group's
work-items as sequential loops (loop fission at barriers), shared by every such backend.

A barrier splits a group-level statement list into PHASES: maximal barrier-free runs, each run for
every work-item before the next begins, separated by GROUP-LEVEL statements (an ``if``/``for``/``while``
holding a barrier, whose condition or bounds are uniform by the language's rule, and assignments of
group-uniform scalars). :func:`split` yields that structure; :func:`plan` says which scalars must live
in per-work-item storage because their value crosses a phase boundary; :func:`rematerializable` and
:func:`group_uniform` find the scalars that need no per-work-item storage at all.

Pure IR analyses: no backend, no framework. ``backends/portakern_numba/render.py`` renders with them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..ir import nodes as ir
from ..ir.visit import walk, walk_body
from ..types import ArraySpace

__all__ = ["has_barrier", "var_names", "defined_first", "is_uniform", "rematerializable", "group_uniform",
           "quiet_local_loads", "split", "plan", "PhasePlan", "PURE"]

Op = ir.Op

#: expression nodes with no side effect and no memory read (ArrayRef only names the array of a Shape;
#: Load and Atomic are impure)
PURE = (ir.Const, ir.IndexQuery, ir.Shape, ir.ArrayRef, ir.Binary, ir.Unary, ir.Cast, ir.Select, ir.Call,
        ir.Var)
#: index queries that differ between the work-items of a group
_VARYING = frozenset({Op.LOCAL_ID, Op.GLOBAL_ID})


def has_barrier(node: object) -> bool:
    """True when ``node`` (a statement) contains a barrier."""
    return any(isinstance(n, ir.Barrier) for n in walk(node))


def var_names(nodes: object) -> set[str]:
    """Names of every scalar variable read or written in a node or a tuple/list of nodes."""
    items = nodes if isinstance(nodes, (tuple, list)) else (nodes,)
    return {n.name for item in items for n in walk(item) if isinstance(n, ir.Var)}


def defined_first(name: str, run: list[ir.Stmt] | tuple[ir.Stmt, ...]) -> bool:
    """True when ``name``'s value never enters ``run`` from outside: its first mention is an
    assignment from an expression that does not read it, or a loop whose header does not read it and
    whose body defines it first, with no mention after that loop (a zero-trip loop would leak the
    old value)."""
    stmts = list(run)
    for n, s in enumerate(stmts):
        if name not in var_names(s):
            continue
        if isinstance(s, ir.Assign):
            return s.target.name == name and name not in var_names(s.value)
        if isinstance(s, ir.For) and s.var.name == name:
            return True                     # a loop variable is private to its loop
        if isinstance(s, (ir.For, ir.While)):
            header = (s.start, s.stop, s.step) if isinstance(s, ir.For) else (s.cond,)
            return (name not in var_names(header) and defined_first(name, s.body)
                    and all(name not in var_names(rest) for rest in stmts[n + 1:]))
        return False
    return True


def is_uniform(e: ir.Expr, uniform_names: set[str], loads: frozenset[int] = frozenset()) -> bool:
    """True when ``e`` has one value across a work-group: no loads (but those whose ``id`` is in
    ``loads``, see :func:`quiet_local_loads`), atomics or per-item ids, and only the variables
    ``uniform_names``."""
    for n in walk(e):
        if not isinstance(n, PURE):
            if isinstance(n, ir.Load) and id(n) in loads:
                continue
            return False
        if isinstance(n, ir.IndexQuery) and n.op in _VARYING:
            return False
        if isinstance(n, ir.Var) and n.name not in uniform_names:
            return False
    return True


def _assignments(kernel: ir.Kernel, loop_var_weight: int) -> dict[str, int]:
    """How often each scalar is assigned; a ``for`` loop's variable counts ``loop_var_weight`` times."""
    counts: dict[str, int] = {}
    for n in walk_body(kernel.body):
        if isinstance(n, ir.Assign):
            counts[n.target.name] = counts.get(n.target.name, 0) + 1
        elif isinstance(n, ir.For):
            counts[n.var.name] = counts.get(n.var.name, 0) + loop_var_weight
    return counts


def rematerializable(kernel: ir.Kernel) -> dict[str, ir.Expr]:
    """Variables assigned exactly once, at the top level of the kernel, from an expression of index
    queries, shapes, constants, scalar parameters and other such variables (no loads): their value
    is the same wherever the work-item reads it, so each phase can recompute it."""
    counts = _assignments(kernel, loop_var_weight=2)
    params = {p.name for p in kernel.params} - set(counts)   # parameters the body never reassigns
    out: dict[str, ir.Expr] = {}
    for s in kernel.body:
        if not isinstance(s, ir.Assign) or counts.get(s.target.name) != 1:
            continue
        nodes = list(walk(s.value))
        if all(isinstance(n, PURE) for n in nodes) and all(
                n.name in params or n.name in out for n in nodes if isinstance(n, ir.Var)):
            out[s.target.name] = s.value
    return out


def _static_trips(s: ir.For) -> bool:
    """True when the loop surely runs at least once (constant bounds)."""
    a, b, c = s.start, s.stop, s.step
    if not all(isinstance(x, ir.Const) for x in (a, b, c)):
        return False
    return (c.value > 0 and a.value < b.value) or (c.value < 0 and a.value > b.value)  # type: ignore[union-attr,operator]


def _barrier_at(s: ir.Stmt, end: int) -> bool:
    """True when every execution of ``s`` has a barrier as its first (``end=0``) or last (``end=-1``)
    action: a barrier, a loop that surely runs whose body has, or an ``if`` both of whose branches have."""
    if isinstance(s, ir.Barrier):
        return True
    if isinstance(s, ir.For):
        return bool(s.body) and _static_trips(s) and _barrier_at(s.body[end], end)
    if isinstance(s, ir.If):
        return bool(s.then) and bool(s.orelse) and _barrier_at(s.then[end], end) and _barrier_at(s.orelse[end], end)
    return False


def _writes(node: object, name: str) -> bool:
    return any(isinstance(n, (ir.Store, ir.Atomic)) and n.array.name == name for n in walk(node))


def quiet_local_loads(kernel: ir.Kernel) -> frozenset[int]:
    """The loads, in the values of the kernel body's top-level assignments, that read one element of
    a local array every work-item sees the same: a constant index inside the array's fixed shape (no
    bounds error is possible), and no store or atomic to that array anywhere between the barriers
    around the assignment (statements whose barriers might not run are searched whole). Between
    barriers no work-item changes that element, so each work-item reads the value the group reads once
    (``red[0]`` after a tree reduction: softmax's max and sum, layernorm's mean and variance)."""
    body = kernel.body
    out: set[int] = set()
    for n, s in enumerate(body):
        if not isinstance(s, ir.Assign):
            continue
        for ld in walk(s.value):
            if not isinstance(ld, ir.Load):
                continue
            t = ld.array.type
            if t.space != ArraySpace.LOCAL or t.shape is None or not all(
                    isinstance(i, ir.Const) and 0 <= i.value < dim for i, dim in zip(ld.indices, t.shape)):
                continue
            name = ld.array.name
            before = next((k for k in range(n - 1, -1, -1) if _barrier_at(body[k], -1)), -1)
            after = next((k for k in range(n + 1, len(body)) if _barrier_at(body[k], 0)), len(body))
            if not any(_writes(t2, name) for t2 in body[before + 1:after]):
                out.add(id(ld))
    return frozenset(out)


def group_uniform(kernel: ir.Kernel, remat: dict[str, ir.Expr]) -> set[str]:
    """Scalars every assignment of which sits directly in a group-level statement list (the kernel
    body, or the body of an if/for/while holding a barrier) and assigns a uniform value. Such a
    scalar is the same for every work-item, so the group keeps one copy and assigns it once
    (splitting a barrier-free phase there is legal: it only removes interleavings). A uniform value
    may read local memory where :func:`quiet_local_loads` says every work-item reads the same."""
    group_assigns: dict[str, list[ir.Assign]] = {}
    group_loop_vars: set[str] = set()

    def visit(stmts: tuple[ir.Stmt, ...]) -> None:
        for s in stmts:
            if isinstance(s, ir.Assign):
                group_assigns.setdefault(s.target.name, []).append(s)
            elif has_barrier(s):
                if isinstance(s, ir.If):
                    visit(s.then)
                    visit(s.orelse)
                elif isinstance(s, ir.For):
                    group_loop_vars.add(s.var.name)
                    visit(s.body)
                elif isinstance(s, ir.While):
                    visit(s.body)

    visit(kernel.body)
    all_assigns = _assignments(kernel, loop_var_weight=1000)
    params = {p.name for p in kernel.params} - set(all_assigns)
    cands = {name for name, lst in group_assigns.items()
             if all_assigns.get(name) == len(lst) and name not in remat
             and name not in {p.name for p in kernel.params}}
    loads = quiet_local_loads(kernel)
    # rematerialised scalars (assigned once, recomputed where read) whose expression is uniform
    steady: set[str] = set()
    grown = True
    while grown:
        grown = False
        for name, e in remat.items():
            if name not in steady and is_uniform(e, params | steady):
                steady.add(name)
                grown = True
    changed = True
    while changed:
        changed = False
        known = cands | params | group_loop_vars | steady
        for name in sorted(cands):
            if not all(is_uniform(a.value, known, loads) for a in group_assigns[name]):
                cands.discard(name)
                changed = True
    return cands


def split(stmts: tuple[ir.Stmt, ...], is_group_stmt: Callable[[ir.Stmt], bool] = lambda s: False,
          ) -> Iterator[list[ir.Stmt] | ir.Stmt]:
    """A group-level statement list as its phases (lists: maximal runs of statements without a barrier)
    and the group-level statements between them (a statement holding a barrier, or one
    ``is_group_stmt`` claims, such as the assignment of a group-uniform scalar)."""
    run: list[ir.Stmt] = []
    for s in stmts:
        if not has_barrier(s) and not is_group_stmt(s):
            run.append(s)
            continue
        if run:
            yield run
            run = []
        yield s
    if run:
        yield run


@dataclass
class PhasePlan:
    """Where a group-level renderer keeps each scalar: ``per_item`` ones live across a phase boundary
    (one copy per work-item); ``uniform`` are the loop variables of group-level loops (one copy);
    ``runs`` the phases, in order (for per-phase plans such as ``lane_loops``), and ``looped`` for
    each whether a group-level loop runs it again and again."""

    per_item: set[str]
    uniform: set[str]
    runs: list[list[ir.Stmt]]
    looped: list[bool]


def plan(kernel: ir.Kernel, remat: dict[str, ir.Expr], guniform: set[str]) -> PhasePlan:
    """Which scalars of ``kernel`` must live in per-work-item storage: those whose value enters a later
    phase, those read in a phase inside a group-level loop before the phase defines them, and those
    a group-level condition or loop bound reads; never a rematerializable or group-uniform one."""
    runs: list[tuple[list[ir.Stmt], bool]] = []
    group_refs: set[str] = set()
    uniform: set[str] = set()

    def is_group_assign(s: ir.Stmt) -> bool:
        return isinstance(s, ir.Assign) and s.target.name in guniform

    def collect(stmts: tuple[ir.Stmt, ...], in_loop: bool) -> None:
        for item in split(stmts, is_group_assign):
            if isinstance(item, list):
                runs.append((item, in_loop))
            elif isinstance(item, ir.If):
                group_refs.update(var_names(item.cond))
                collect(item.then, in_loop)
                collect(item.orelse, in_loop)
            elif isinstance(item, ir.For):
                group_refs.update(var_names((item.start, item.stop, item.step)))
                uniform.add(item.var.name)
                collect(item.body, True)
            elif isinstance(item, ir.While):
                group_refs.update(var_names(item.cond))
                collect(item.body, True)

    collect(kernel.body, False)
    params = {p.name for p in kernel.params}
    per_item: set[str] = set()
    seen: dict[str, int] = {}
    for number, (run, in_loop) in enumerate(runs):
        for name in var_names(tuple(run)) - params:
            # in a later phase too: only a value that enters that phase needs storage
            if name in seen and seen[name] != number and not defined_first(name, run):
                per_item.add(name)
            seen.setdefault(name, number)
            if in_loop and not defined_first(name, run):
                per_item.add(name)
    per_item |= group_refs - params
    per_item -= uniform | set(remat) | guniform
    return PhasePlan(per_item, uniform, [run for run, _ in runs], [in_loop for _, in_loop in runs])
