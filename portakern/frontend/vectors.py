"""Short vector values: ``pk.vec``, ``pk.vload``/``pk.vstore``, lanes, lanewise operators and math,
``pk.vsum``/``pk.vmin``/``pk.vmax``/``pk.dot``.

A vector never reaches the IR. It is a :class:`VecValue` holding one scalar expression per lane, and
every operation on it is the scalar operation lane by lane (a scalar operand is evaluated once and
broadcast to every lane). A vector variable ``v`` is one scalar variable per lane (``__pk_v<k>_v``),
typed by the same fixpoint as any variable. ``pk.vload``/``pk.vstore`` are one scalar load/store per
lane, so bounds checks, alignment (none is needed) and every backend's numbers are exactly those of
the same kernel written with scalars. The functions take the lowering (``lw``) as their first
argument; the expression, statement and call visitors hand vectors here.
"""
from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

from .. import types as T
from ..ir import nodes as ir
from ..ir.nodes import Op
from ..ir.visit import walk
from . import ops
from .scope import RESERVED_PREFIX
from .values import NONE, ArrayValue, TExpr, TupleValue, VecValue, VType, join

#: the lane counts a vector may have (OpenCL's; CUDA's float2/3/4 are among them)
LENGTHS = (2, 3, 4, 8, 16)
LANE_NAMES = "xyzw"
BUILTINS = frozenset({"vec", "vload", "vstore", "vsum", "vmin", "vmax", "dot"})
BOOL_HINT = "test one lane (m.x), or every lane with pk.vmin(m) and any lane with pk.vmax(m)"
LANE_HINT = "take a lane (v.x, v.y, v.z, v.w or v[k] with a compile-time k) or reduce it (pk.vsum(v), pk.dot(u, v))"


def describe(v: VecValue) -> str:
    return f"a vector of {len(v)} {v.type}"


def lane_var(irname: str, k: int) -> str:
    """The IR name of lane ``k`` of the vector variable ``irname``."""
    return f"{RESERVED_PREFIX}v{k}_{irname}"


def _check_length(lw: Any, n: int, node: ast.AST, what: str) -> None:
    if n not in LENGTHS:
        raise lw.err(node, f"{what}: a vector has 2, 3, 4, 8 or 16 lanes, not {n}")


def _simple(te: TExpr) -> bool:
    return isinstance(te.expr, (ir.Var, ir.Const))


def make(lw: Any, items: Sequence[TExpr], node: ast.AST, user: bool = False) -> VecValue:
    """A vector of the scalars ``items``, unified to one type (NEP 50, as ``x * 0 + y`` would be).
    ``user``: the items are a user's values (``pk.vec``); one holding an atomic is evaluated once,
    here (a lane may be read more than once). Other items are lanes already, or loads."""
    vt = VType(items[0].type, items[0].weak)
    for it in items[1:]:
        vt = join(vt, VType(it.type, it.weak))
    out = []
    for it in items:
        if user and any(isinstance(n, ir.Atomic) for n in walk(it.expr)):
            it = lw.temp(it, node)
        out.append(ops.materialize(it, vt))
    return VecValue(tuple(out))


def _scalar(lw: Any, v: Any, node: ast.AST) -> TExpr:
    if isinstance(v, TExpr):
        return v
    from .expr import describe as describe_value

    raise lw.err(node, f"expected a number or a vector here, got {describe_value(v)}")


def lanewise(lw: Any, fn: Callable[..., TExpr], values: Sequence[Any], node: ast.AST) -> VecValue:
    """``fn`` applied lane by lane: vectors (all of one length) lane by lane, scalars evaluated once
    and repeated in every lane."""
    n = 0
    for v in values:
        if isinstance(v, VecValue):
            if n and len(v) != n:
                raise lw.err(node, f"vector length mismatch: {n} lanes and {len(v)} lanes",
                             hint="combine vectors of one length, or take lanes (v.x, v[k]) first")
            n = len(v)
    cols: list[tuple[TExpr, ...]] = []
    for v in values:
        if isinstance(v, VecValue):
            cols.append(v.items)
            continue
        te = _scalar(lw, v, node)
        cols.append((te if _simple(te) else lw.temp(te, node),) * n)
    return make(lw, [fn(*(c[k] for c in cols)) for k in range(n)], node)


# ------------------------------------------------------------------------------------------ operators
def broadcast(lw: Any, te: TExpr, n: int, node: ast.AST) -> VecValue:
    """The scalar ``te`` (evaluated once) in each of ``n`` lanes."""
    return make(lw, [te if _simple(te) else lw.temp(te, node)] * n, node)


def binary(lw: Any, op: Op, a: Any, b: Any, node: ast.AST) -> VecValue:
    return lanewise(lw, lambda x, y: ops.binary(op, x, y), (a, b), node)


def compare(lw: Any, op: Op, a: Any, b: Any, node: ast.AST) -> VecValue:
    return lanewise(lw, lambda x, y: ops.compare(op, x, y), (a, b), node)


def unary(lw: Any, op: Op | None, a: VecValue, node: ast.AST) -> VecValue:
    """``-v``, ``~v`` lane by lane (``op`` None: ``+v``); ``not v`` is refused (which lanes?)."""
    if op is Op.NOT:
        raise lw.err(node, f"'not' on {describe(a)} is ambiguous",
                     hint="compare lanes (v == 0 gives a vector of bools), or test one lane: not v.x")
    if op is None:
        return a
    return lanewise(lw, lambda x: ops.unary(op, x), (a,), node)


def cast(lw: Any, v: VecValue, t: T.ScalarType, node: ast.AST) -> VecValue:
    return lanewise(lw, lambda x: ops.cast(x, t), (v,), node)


def math(lw: Any, name: str, op: Op, args: list[Any], node: ast.AST) -> VecValue:
    """A math builtin with a vector argument: lane by lane (``pk.min(u, v)``); the reductions are
    ``pk.vmin``/``pk.vmax``/``pk.vsum``."""
    if name in ("min", "max") and len(args) == 1:
        raise lw.err(node, f"{name}() of one vector is not a lanewise operation",
                     hint=f"use pk.v{name}(v) for the {name}imum of its lanes, or {name}(u, v) lane by lane")
    if name == "pow":
        if len(args) != 2:
            raise lw.err(node, f"pow() takes 2 arguments, got {len(args)}")
        return lanewise(lw, lambda x, y: ops.binary(Op.POW, x, y), args, node)
    return lanewise(lw, lambda *xs: ops.math_call(op, list(xs)), args, node)


def select(lw: Any, c: Any, a: Any, b: Any, pending: list[ir.Stmt], node: ast.AST) -> Any:
    """``pk.where(c, a, b)`` / ``a if c else b`` where one of them is a vector and ``c`` is not a
    constant (the caller picks the arm of a constant): lane by lane, both arms evaluated
    (``pending``: their statements, in order), as OpenCL's ``select``."""
    lw.out.extend(pending)
    return lanewise(lw, lambda cc, x, y: ops.select(ops.to_bool(cc), x, y), (c, a, b), node)


# ------------------------------------------------------------------------------------------ lanes
def attr_lanes(lw: Any, v: VecValue, node: ast.Attribute) -> list[int]:
    """The lanes an attribute names, as OpenCL C: ``x y z w`` and their swizzles (``yx``, ``xyz``),
    ``s0``..``sf`` and theirs (``s73``), ``lo``/``hi`` (halves) and ``even``/``odd``."""
    attr, n = node.attr, len(v)
    if attr in ("lo", "hi", "even", "odd"):
        if n % 2:
            raise lw.err(node, f"'.{attr}' of {describe(v)}: it needs an even number of lanes",
                         hint="take the lanes by name instead, e.g. v.xy")
        return {"lo": list(range(n // 2)), "hi": list(range(n // 2, n)), "even": list(range(0, n, 2)),
                "odd": list(range(1, n, 2))}[attr]
    if len(attr) > 1 and attr[0] in "sS" and all(ch in "0123456789abcdefABCDEF" for ch in attr[1:]):
        names, lanes = [f"s{ch}" for ch in attr[1:]], [int(ch, 16) for ch in attr[1:]]
    elif attr and all(ch in LANE_NAMES for ch in attr):
        names, lanes = list(attr), [LANE_NAMES.index(ch) for ch in attr]
    else:
        raise lw.err(node, f"vectors have no attribute '{attr}'",
                     hint="lanes are v.x, v.y, v.z, v.w, v.s0 .. v.sf, or v[k] (k a compile-time int); swizzles "
                     "such as v.yx, v.xyz, v.s73; halves v.lo, v.hi, v.even, v.odd")
    for name, k in zip(names, lanes):
        if k >= n:
            raise lw.err(node, f"{describe(v)} has no lane '{name}'",
                         hint=f"its lanes are v[0] .. v[{n - 1}] (v.s0 .. v.s{n - 1:x}"
                         f"{', v.' + ', v.'.join(LANE_NAMES[:n]) if n <= 4 else ''})")
    return lanes


def attribute(lw: Any, v: VecValue, node: ast.Attribute) -> Any:
    """``v.x`` (a lane) or a swizzle ``v.yx``, ``v.s73``, ``v.lo`` (a new vector)."""
    lanes = attr_lanes(lw, v, node)
    attr = node.attr
    if len(lanes) == 1:     # a lane (also .lo of two lanes, as OpenCL)
        return v.items[lanes[0]]
    _check_length(lw, len(lanes), node, f"the swizzle '.{attr}'")
    return VecValue(tuple(v.items[k] for k in lanes))


def lane_index(lw: Any, n: int, index: ast.AST, node: ast.AST) -> int:
    """The lane a ``v[k]`` names (``k`` a compile-time int, negative from the end as in Python)."""
    k = lw.const_int(index, "a vector lane index")
    if not -n <= k < n:
        raise lw.err(node, f"lane {k} is out of range for a vector of {n} lanes")
    return k % n


def subscript(lw: Any, v: VecValue, node: ast.Subscript) -> TExpr:
    return v.items[lane_index(lw, len(v), node.slice, node)]


# ------------------------------------------------------------------------------------------ variables
def lanes_of(lw: Any, irname: str) -> int:
    """How many lanes the vector variable ``irname`` has (0: it is not a vector variable)."""
    n = lw.state.vectors.get(irname, 0)
    if n:
        return n
    while lane_var(irname, n) in lw.state.env:
        n += 1
    return n


def assign(lw: Any, irname: str, v: VecValue, node: ast.AST, user: str) -> None:
    """``user = v``: every lane into its variable (all lanes read before any is written)."""
    n = len(v)
    old = lanes_of(lw, irname)
    if old and old != n:
        raise lw.err(node, f"'{user}' holds a vector of {old} lanes; it cannot be assigned a vector of {n}",
                     hint="a variable keeps one vector length; use another name")
    if irname in lw.state.assigned or irname in lw.state.env:
        raise lw.err(node, f"'{user}' holds a number; it cannot be rebound to {describe(v)}",
                     hint="use a different variable name")
    targets = {lane_var(irname, k) for k in range(n)}
    items = v.items
    if any(isinstance(x, ir.Var) and x.name in targets for it in items for x in walk(it.expr)):
        items = tuple(it if it.is_const else lw.temp(it, node) for it in items)   # v = v.yx
    lw.state.vectors[irname] = n
    for k, it in enumerate(items):
        lw.assign_var(lane_var(irname, k), it, node, raw=True)


def read(lw: Any, irname: str, n: int, node: ast.AST, user: str | None = None) -> VecValue:
    return make(lw, [lw.read_var(lane_var(irname, k), node, user) for k in range(n)], node)


def lane_target(lw: Any, target: ast.AST) -> tuple[str, int, TExpr] | None:
    """For ``v.x`` or ``v[k]`` as an assignment target, with ``v`` a vector variable: (the lane's IR
    name, its lane, its current value); None when ``target`` is not a vector's lane."""
    if isinstance(target, ast.Subscript):
        base_node = target.value
    elif isinstance(target, ast.Attribute):
        base_node = target.value
    else:
        return None
    base = lw.value(base_node)
    if not isinstance(base, VecValue):
        return None
    if not (isinstance(base_node, ast.Name) and base_node.id in lw.scope.src.local_names
            and base_node.id not in lw.scope.bindings):
        raise lw.err(target, f"cannot assign to a lane of {describe(base)} that is not a variable",
                     hint="assign the vector to a variable first, then its lanes: v = ...; v.x = 1.0")
    irname = lw.scope.var_name(base_node.id)
    if isinstance(target, ast.Attribute):
        lanes = attr_lanes(lw, base, target)
        if len(lanes) != 1:
            raise lw.err(target, "assign one lane at a time (v.x = a), or the whole vector (v = pk.vec(...))")
        k = lanes[0]
    else:
        k = lane_index(lw, len(base), target.slice, target)  # type: ignore[attr-defined]
    return lane_var(irname, k), k, base.items[k]


def assign_lane(lw: Any, target: ast.AST, value: Any, node: ast.AST) -> bool:
    """``v.x = s`` / ``v[k] = s``: ``s`` converted to the vector's lane type. False when ``target`` is
    not a lane of a vector variable."""
    hit = lane_target(lw, target)
    if hit is None:
        return False
    name, _, cur = hit
    te = _scalar(lw, value, target)
    lw.assign_var(name, ops.materialize(te, VType(cur.type, cur.weak)), node, raw=True)
    return True


# ------------------------------------------------------------------------------------------ builtins
def builtin(lw: Any, name: str, node: ast.Call) -> Any:
    """``pk.vec``, ``pk.vload``, ``pk.vstore``, ``pk.vsum``, ``pk.vmin``, ``pk.vmax``, ``pk.dot``."""
    if node.keywords:
        raise lw.err(node, f"{name}() takes no keyword arguments in kernels", hint="pass the arguments by position")
    args = node.args
    if name == "vec":
        items: list[TExpr] = []
        for a in args:
            v = lw.value(a)
            items.extend(v.items if isinstance(v, VecValue) else (_scalar(lw, v, a),))
        _check_length(lw, len(items), node, "pk.vec()")
        return make(lw, items, node, user=True)
    arity = {"vload": 3, "vstore": 3, "dot": 2}.get(name, 1)
    if len(args) != arity:
        raise lw.err(node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}")
    if name in ("vload", "vstore"):
        return _memory(lw, name, node)
    vals = [lw.value(a) for a in args]
    for v, a in zip(vals, args):
        if not isinstance(v, VecValue):
            raise lw.err(a, f"pk.{name}() takes a vector, got {_what(v)}",
                         hint="build one with pk.vec(...) or pk.vload(...)")
    if name == "dot":
        u, w = vals
        if len(u) != len(w):
            raise lw.err(node, f"pk.dot() of vectors of {len(u)} and {len(w)} lanes",
                         hint="both vectors need the same number of lanes")
        acc = ops.binary(Op.MUL, u.items[0], w.items[0])
        for x, y in zip(u.items[1:], w.items[1:]):
            acc = ops.binary(Op.ADD, acc, ops.binary(Op.MUL, x, y))
        return acc
    (v,) = vals
    acc = v.items[0]
    for x in v.items[1:]:
        acc = ops.binary(Op.ADD, acc, x) if name == "vsum" else \
            ops.math_call(Op.MIN if name == "vmin" else Op.MAX, [acc, x])
    return acc


def _what(v: Any) -> str:
    from .expr import describe as describe_value

    return describe_value(v)


def _memory(lw: Any, name: str, node: ast.Call) -> Any:
    """``pk.vload(x, index, n)`` / ``pk.vstore(x, index, v)``: lanes at consecutive positions of the
    last axis, starting at ``index`` (an element index, not a vector index)."""
    arr = lw.value(node.args[0])
    if not isinstance(arr, ArrayValue):
        raise lw.err(node.args[0], f"the first argument of pk.{name}() must be an array, got {_what(arr)}")
    ref = arr.ref
    idx = lw.value(node.args[1])
    items = idx.items if isinstance(idx, TupleValue) else (idx,)
    indices = [TExpr(e) for e in lw.index_values(ref, items, node)]
    if name == "vload":
        n = lw.const_int(node.args[2], "the lane count of pk.vload()")
        _check_length(lw, n, node.args[2], "pk.vload()")
    else:
        v = lw.value(node.args[2])
        if not isinstance(v, VecValue):
            raise lw.err(node.args[2], f"pk.vstore() stores a vector, got {_what(v)}",
                         hint=f"store one element with {ref.name}[...] = value")
        n = len(v)
    indices = [te if _simple(te) else lw.temp(te, node) for te in indices]   # evaluated once
    loc = lw.scope.loc(node)
    where = []
    for k in range(n):
        last = ops.binary(Op.ADD, indices[-1], TExpr(ir.Const(k, T.int64))) if k else indices[-1]
        where.append(tuple(te.expr for te in indices[:-1]) + (last.expr,))
    if name == "vload":
        return VecValue(tuple(ops.load(ref, w, loc) for w in where))
    lw.writable(ref, node, "pk.vstore()")
    why = ops.half_store_error(v.items[0], ref.type.dtype) if ref.type.dtype.is_half else None
    if why is not None:
        raise lw.err(node, f"pk.vstore(): {why} ('{ref.name}')", hint="convert the vector to float32 first")
    lanes = [te if _simple(te) else lw.temp(te, node) for te in v.items]   # every lane read first
    for w, te in zip(where, lanes):
        lw.out.append(ir.Store(ref, w, ops.store_value(te, ref.type.dtype), loc))
    return NONE


__all__ = ["LENGTHS", "BUILTINS", "VecValue", "lanewise", "binary", "compare", "unary", "cast", "math", "select",
           "attribute", "subscript", "lanes_of", "assign", "read", "assign_lane", "lane_target", "builtin"]
