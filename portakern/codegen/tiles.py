"""Local-memory tiles read back as the expression that filled them (on the IR, with affine.py).

The tiled kernels of GPU practice stage global data in work-group memory::

    ta[li, lj] = a[i, t0 + lj]        # every work-item stores one element
    barrier()
    ... ta[li, k] ...                 # and reads what another work-item stored

A backend that runs all work-items in lockstep gains nothing from the staging: the read of
``ta[li, k]`` is the value the work-item with local ids ``(li, k)`` of the same group stored, i.e.
``a[i, t0 + k]`` (the stored expression with the local ids replaced by the read's indices).
:func:`find_tiles` finds such reads; the vectorising renderer emits both the forwarded expression
and the plain read, and the backend picks the forwarded one when the launch's facts make it exact
(``ops.tile_read``): every work-group dimension wider than one is one of the store's indices, and
every read index stays within its work-group's extent (so the element was stored in this
iteration by exactly one work-item).

Conditions checked here, on the IR: the store ``L[lid_0', ..., lid_r'] = V`` is the only write to
``L`` in the kernel, its indices are distinct local ids, it runs unconditionally at the top of a
statement list (the kernel body or a loop body) that the kernel leaves by no ``return`` / ``break``
/ ``continue``, a barrier follows it in that list, and the reads come after that barrier in the same
list. ``V`` reads only global arrays the kernel never writes, at affine indices, and otherwise only
constants and uniform values, so evaluating it in the reading work-item with the writer's local
ids gives the writer's value; a global id in ``V`` is allowed only in a dimension whose local id
the read leaves unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import nodes as ir
from ..ir.visit import walk, walk_body
from ..types import ArraySpace
from ..types import int64 as INT64
from .affine import AffineIndex, Form

__all__ = ["TileRead", "find_tiles"]

_IDS = {"gid": ir.Op.GLOBAL_ID, "lid": ir.Op.LOCAL_ID, "grid": ir.Op.GROUP_ID}


@dataclass(frozen=True)
class TileRead:
    """A read of a tile: ``value`` is the forwarded expression (its loads registered with the
    AffineIndex), ``dims`` the local-id dimension of each tile index, ``index`` the read's
    index forms (their ranges are checked at launch)."""

    value: ir.Expr
    dims: tuple[int, ...]
    index: tuple[Form, ...]


def find_tiles(kernel: ir.Kernel, ix: AffineIndex) -> dict[int, TileRead]:
    """The forwardable tile reads of ``kernel``, by ``id`` of the Load."""
    if any(isinstance(n, (ir.Return, ir.Break, ir.Continue)) for n in walk_body(kernel.body)):
        return {}
    written = {n.array.name for n in walk_body(kernel.body) if isinstance(n, (ir.Store, ir.Atomic))}
    stores: dict[str, int] = {}
    for n in walk_body(kernel.body):
        if isinstance(n, (ir.Store, ir.Atomic)):
            stores[n.array.name] = stores.get(n.array.name, 0) + 1
    out: dict[int, TileRead] = {}
    for body in _bodies(kernel.body):
        for pos, s in enumerate(body):
            if not (isinstance(s, ir.Store) and s.array.type.space == ArraySpace.LOCAL
                    and stores.get(s.array.name) == 1):
                continue
            dims = _lid_dims(s, ix)
            if dims is None:
                continue
            barrier = next((p for p in range(pos + 1, len(body)) if isinstance(body[p], ir.Barrier)), None)
            if barrier is None:
                continue
            for later in body[barrier + 1:]:
                for n in walk(later):
                    if isinstance(n, ir.Load) and n.array.name == s.array.name:
                        read = _forward(s, dims, n, ix, written)
                        if read is not None:
                            out[id(n)] = read
    return out


def _bodies(stmts: tuple[ir.Stmt, ...]) -> list[tuple[ir.Stmt, ...]]:
    """The kernel body and every loop body (the lists a tile store may head)."""
    out = [stmts]
    for n in walk_body(stmts):
        if isinstance(n, (ir.For, ir.While)):
            out.append(n.body)
    return out


def _lid_dims(s: ir.Store, ix: AffineIndex) -> tuple[int, ...] | None:
    """The local-id dimension of each index of ``s`` when they are distinct local ids."""
    forms = ix.index(s)
    if forms is None:
        return None
    dims = []
    for f in forms:
        if f.atoms or f.const or len(f.lanes) != 1 or f.lanes[0][0] != "lid" or f.lanes[0][2] != 1:
            return None
        dims.append(f.lanes[0][1])
    return tuple(dims) if len(set(dims)) == len(dims) else None


def _forward(s: ir.Store, dims: tuple[int, ...], read: ir.Load, ix: AffineIndex,
             written: set[str]) -> TileRead | None:
    index = ix.index(read)
    if index is None:
        return None
    subst = dict(zip(dims, index))
    value = _rewrite(s.value, subst, ix, written)
    return None if value is None else TileRead(value, dims, index)


def _rewrite(e: ir.Expr, subst: dict[int, Form], ix: AffineIndex, written: set[str]) -> ir.Expr | None:
    """``e`` evaluated with ``local_id(d)`` replaced by ``subst[d]``; None when not possible."""
    if isinstance(e, ir.Const):
        return e
    if isinstance(e, ir.Load):
        forms = ix.index(e)
        if (forms is None or e.array.type.space != ArraySpace.GLOBAL or e.array.name in written):
            return None
        new = [_substitute(f, subst) for f in forms]
        if any(f is None for f in new):
            return None
        load = ir.Load(e.array, tuple(_expr(f) for f in new), e.type, e.loc)  # type: ignore[arg-type]
        ix.register(load, tuple(new))  # type: ignore[arg-type]
        return load
    if isinstance(e, ir.Var):
        return e if e.name in ix._params and e.name not in ix._assigned else None
    if isinstance(e, ir.Binary):
        a, b = _rewrite(e.lhs, subst, ix, written), _rewrite(e.rhs, subst, ix, written)
        return None if a is None or b is None else ir.Binary(e.op, a, b, e.type)
    if isinstance(e, ir.Unary):
        a = _rewrite(e.operand, subst, ix, written)
        return None if a is None else ir.Unary(e.op, a, e.type)
    if isinstance(e, ir.Cast):
        a = _rewrite(e.value, subst, ix, written)
        return None if a is None else ir.Cast(a, e.type)
    if isinstance(e, ir.Call):
        args = [_rewrite(x, subst, ix, written) for x in e.args]
        return None if any(a is None for a in args) else ir.Call(e.op, tuple(args), e.type)  # type: ignore[arg-type]
    return None


def _substitute(f: Form, subst: dict[int, Form]) -> Form | None:
    out = Form(atoms=f.atoms, const=f.const)
    for kind, d, c in f.lanes:
        if d in subst and kind == "lid":
            out = out + subst[d].scale(c)
            continue
        if d in subst and kind == "gid" and subst[d] != Form(lanes=(("lid", d, 1),)):
            return None      # the writer's global id differs from the reader's
        out = out + Form(lanes=((kind, d, c),))
    return out


def _expr(f: Form) -> ir.Expr:
    """A form as an int64 IR expression."""
    out: ir.Expr = ir.Const(f.const, INT64)
    terms: list[ir.Expr] = [ir.IndexQuery(_IDS[k], d, INT64) if c == 1 else
                            ir.Binary(ir.Op.MUL, ir.Const(c, INT64), ir.IndexQuery(_IDS[k], d, INT64), INT64)
                            for k, d, c in f.lanes]
    terms += [e if c == 1 else ir.Binary(ir.Op.MUL, ir.Const(c, INT64), e, INT64) for c, e in f.atoms]
    for t in terms:
        out = ir.Binary(ir.Op.ADD, out, t, INT64)
    return out
