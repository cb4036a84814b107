"""Which ``for`` loops may run all their iterations at once, and how their state comes out.

A loop qualifies when its iterations are independent apart from *reductions*: a backend that runs
the work-items in lockstep (``jax``) may then evaluate the body once over an iteration axis instead
of stepping through it, and fold the reductions along that axis afterwards. The decision is made
on the IR, so it is the same for every launch; whether the loop is actually widened (its trip
count must be the same on every lane) is the backend's, at trace time.

Per carried state entry the plan says how its value after the loop is formed:

- ``"local"``: a variable every iteration assigns at the top of its body before any read (also the
  loop's own variable): its value after the loop is the last iteration's.
- ``"array"``: a global array the body writes. Every access to it in the body uses one index, which
  is injective in the loop variable (one dimension is the loop variable plus a loop-invariant
  value), so no iteration reads or writes an element another iteration of the same work-item
  touches.
- ``"<op>:<type>"`` (``add``, ``mul``, ``min``, ``max``, ``and``, ``or``, ``xor``): a variable read
  and written only by one ``v = v <op> e`` (or ``e <op> v``, ``min(v, e)``, ...) with ``e`` free of
  ``v``, possibly under an ``if``. The body runs with ``v`` set to the op's identity, which makes
  its value the iteration's contribution (the identity where the ``if`` did not run); the backend
  folds the contributions in iteration order (float ``add``/``mul``: the order is part of the
  result) or in any order (the exactly associative ones).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import nodes as ir
from ..ir.printer import format_expr
from ..ir.visit import walk, walk_body
from ..types import ArraySpace

__all__ = ["TreePlan", "WidePlan", "plan_loop", "plan_tree", "reduction_identity"]

_REJECT = (ir.Break, ir.Continue, ir.Return, ir.Barrier, ir.Subgroup, ir.Atomic, ir.DeclArray, ir.For,
           ir.While)
_BINARY = {ir.Op.ADD: "add", ir.Op.MUL: "mul", ir.Op.AND: "and", ir.Op.OR: "or", ir.Op.XOR: "xor"}
_CALL = {ir.Op.MIN: "min", ir.Op.MAX: "max"}


@dataclass(frozen=True)
class WidePlan:
    """How to run a loop's iterations at once: a kind per carried variable or array name (IR
    names), and the loop-invariant variables its body reads."""

    kinds: dict[str, str]
    free: tuple[str, ...]


def reduction_identity(op: str, tname: str) -> float | int:
    """The value ``i`` with ``i <op> x == x`` bit for bit, for every ``x`` of type ``tname``
    (float ``add``: -0.0, since -0.0 + +0.0 is +0.0 and -0.0 + -0.0 is -0.0)."""
    is_float = tname.startswith("float")
    if op == "add":
        return -0.0 if is_float else 0
    if op == "mul":
        return 1.0 if is_float else 1
    if op in ("min", "max"):
        if is_float:
            return float("inf") if op == "min" else float("-inf")
        info = np.iinfo(np.dtype(tname))
        return int(info.max if op == "min" else info.min)
    if op == "and":      # every bit set
        return -1 if np.dtype(tname).kind == "i" else int(np.iinfo(np.dtype(tname)).max)
    return 0


def _reads(node: object, name: str) -> int:
    return sum(1 for n in walk(node) if isinstance(n, ir.Var) and n.name == name)


def _stmt_reads(s: ir.Stmt, name: str) -> int:
    """Reads of ``name`` in ``s`` (an Assign's target is not a read)."""
    if isinstance(s, ir.Assign):
        return _reads(s.value, name)
    if isinstance(s, ir.If):
        return _reads(s.cond, name) + sum(_stmt_reads(x, name) for x in s.then + s.orelse)
    return _reads(s, name)


def _assigns(body: tuple[ir.Stmt, ...]) -> dict[str, list[ir.Assign]]:
    out: dict[str, list[ir.Assign]] = {}
    for n in walk_body(body):
        if isinstance(n, ir.Assign):
            out.setdefault(n.target.name, []).append(n)
    return out


def _first_def(body: tuple[ir.Stmt, ...], name: str) -> ir.Assign | None:
    """The top-level unconditional assignment of ``name`` that precedes every read of it."""
    for s in body:
        if isinstance(s, ir.Assign) and s.target.name == name and not _reads(s.value, name):
            return s
        if _stmt_reads(s, name):
            return None
    return None


def _reduction(assigns: list[ir.Assign], body: tuple[ir.Stmt, ...], var: ir.Var) -> str | None:
    if len(assigns) != 1 or sum(_stmt_reads(s, var.name) for s in body) != 1:
        return None
    v = assigns[0].value
    if v.type != var.type or var.type.is_bool:
        return None
    if isinstance(v, ir.Binary) and v.op in _BINARY:
        op, operands = _BINARY[v.op], (v.lhs, v.rhs)
        if op in ("and", "or", "xor") and var.type.is_float:
            return None
    elif isinstance(v, ir.Call) and v.op in _CALL and len(v.args) == 2:
        op, operands = _CALL[v.op], v.args
    else:
        return None
    if not any(isinstance(x, ir.Var) and x.name == var.name for x in operands):
        return None       # the one read must be an operand of the op itself, not nested deeper
    return f"{op}:{var.type.name}"


def plan_loop(loop: ir.For) -> WidePlan | None:
    """The :class:`WidePlan` of ``loop``, or None when an iteration may depend on another."""
    body = loop.body
    if any(isinstance(n, _REJECT) for n in walk_body(body)):
        return None
    stores = [n for n in walk_body(body) if isinstance(n, ir.Store)]
    if any(s.array.type.space != ArraySpace.GLOBAL for s in stores):
        return None
    assigns = _assigns(body)
    kinds: dict[str, str] = {}
    defs: dict[str, ir.Assign] = {}
    for name, sites in assigns.items():
        first = _first_def(body, name)
        if first is not None:
            kinds[name] = "local"
            defs[name] = first
            continue
        red = _reduction(sites, body, sites[0].target)
        if red is None:
            return None
        kinds[name] = red
    written = {s.array.name for s in stores}
    variant = set(assigns) | {loop.var.name}

    def invariant(e: ir.Expr) -> bool:
        return not any((isinstance(n, ir.Var) and n.name in variant)
                       or (isinstance(n, ir.Load) and n.array.name in written) for n in walk(e))

    def injective(e: ir.Expr) -> bool:
        if isinstance(e, ir.Var):
            if e.name == loop.var.name:
                return True
            d = defs.get(e.name)
            return d is not None and len(assigns[e.name]) == 1 and injective(d.value)
        if isinstance(e, ir.Binary) and e.op in (ir.Op.ADD, ir.Op.SUB) and e.type.is_int:
            return ((injective(e.lhs) and invariant(e.rhs)) or (invariant(e.lhs) and injective(e.rhs)))
        return False

    for name in written:
        keys = {tuple(format_expr(i) for i in n.indices) for n in walk_body(body)
                if isinstance(n, (ir.Load, ir.Store)) and n.array.name == name}
        if len(keys) != 1:
            return None
        store = next(s for s in stores if s.array.name == name)
        if not any(injective(i) for i in store.indices):
            return None
        kinds[name] = "array"
    reads = {n.name for n in walk_body(body) if isinstance(n, ir.Var)}
    free = tuple(sorted(reads - set(assigns) - {loop.var.name}))
    return WidePlan(kinds, free)


@dataclass(frozen=True)
class TreePlan:
    """A work-group tree reduction: every iteration of a uniform loop runs the uniform
    assignments ``prefix`` (which set ``s``), then ``if lid < s: red[lid] = red[lid] <op>
    red[lid + s]`` (operands swapped when ``swapped``), with barriers anywhere in between."""

    array: str
    op: str
    tname: str
    swapped: bool
    prefix: tuple[ir.Assign, ...]
    s: str


_PURE = (ir.Const, ir.Var, ir.Binary, ir.Unary, ir.Cast, ir.Shape)


def _local_id_var(kernel: ir.Kernel, name: str) -> bool:
    """``name`` is assigned exactly once in the kernel, at the top level, from the local id of
    the grid's last dimension (so it is that id wherever it is read)."""
    sites = [n for n in walk_body(kernel.body) if isinstance(n, (ir.Assign, ir.For)) and
             (n.target if isinstance(n, ir.Assign) else n.var).name == name]
    if len(sites) != 1 or not isinstance(sites[0], ir.Assign) or sites[0] not in kernel.body:
        return False
    v = sites[0].value
    return (isinstance(v, ir.IndexQuery) and v.op is ir.Op.LOCAL_ID and v.dim == kernel.grid_ndim - 1
            and not any(p.name == name for p in kernel.params))


def plan_tree(loop: ir.For, kernel: ir.Kernel) -> TreePlan | None:
    """The :class:`TreePlan` of ``loop``, or None when it is not a work-group tree reduction."""
    prefix: list[ir.Assign] = []
    body = [s for s in loop.body if not isinstance(s, ir.Barrier)]
    if not body or not isinstance(body[-1], ir.If) or body[-1].orelse or len(body[-1].then) != 1:
        return None
    uniform = {loop.var.name}
    for s in body[:-1]:
        if not isinstance(s, ir.Assign) or s.target.name in uniform:
            return None
        if not all(isinstance(n, _PURE) and (not isinstance(n, ir.Var) or n.name in uniform
                                             or any(p.name == n.name for p in kernel.params))
                   for n in walk(s.value)):
            return None
        uniform.add(s.target.name)
        prefix.append(s)
    cond, store = body[-1].cond, body[-1].then[0]
    if not (isinstance(cond, ir.Binary) and isinstance(store, ir.Store)):
        return None
    lid, sv = (cond.lhs, cond.rhs) if cond.op is ir.Op.LT else (cond.rhs, cond.lhs) if cond.op is ir.Op.GT \
        else (None, None)
    if not (isinstance(lid, ir.Var) and isinstance(sv, ir.Var) and sv.name in uniform - {loop.var.name}
            and _local_id_var(kernel, lid.name)):
        return None
    red = store.array
    if red.type.space != ArraySpace.LOCAL or red.type.ndim != 1 or store.indices != (lid,):
        return None
    v = store.value
    if isinstance(v, ir.Binary) and v.op in _BINARY:
        op, (a, b) = _BINARY[v.op], (v.lhs, v.rhs)
    elif isinstance(v, ir.Call) and v.op in _CALL and len(v.args) == 2:
        op, (a, b) = _CALL[v.op], v.args
    else:
        return None
    if v.type != red.type.dtype or (op in ("and", "or", "xor") and v.type.is_float):
        return None
    shifted = {(lid, sv), (sv, lid)}

    def is_load(e: ir.Expr, shift: bool) -> bool:
        if not (isinstance(e, ir.Load) and e.array.name == red.name and len(e.indices) == 1):
            return False
        i = e.indices[0]
        if not shift:
            return i == lid
        return isinstance(i, ir.Binary) and i.op is ir.Op.ADD and (i.lhs, i.rhs) in shifted

    if is_load(a, False) and is_load(b, True):
        swapped = False
    elif is_load(a, True) and is_load(b, False):
        swapped = True
    else:
        return None
    return TreePlan(red.name, op, v.type.name, swapped, tuple(prefix), sv.name)
