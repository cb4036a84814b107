"""Hypothesis strategies for random, well-typed, UB-free conformance programs (``Case``).

Programs are built top-down by result type: each production knows which dtype it yields (NumPy 2
promotion for mixed operands, bool for comparisons), so every program types by construction. The
semantics of docs/semantics.md are total (wrapping, ``x // 0 == 0``, saturating casts, total shifts), so
no value can make a program undefined; the strategies draw the nastiest values on purpose.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from .program import (
    SUBGROUP_STAGE_OPS,
    TIER1_OPS,
    TREE_OPS,
    AtomicSpec,
    Batch,
    Case,
    Expr,
    LocalStage,
    Stmt,
    SubgroupStage,
    Tier1,
    vec_leaves,
)
from .values import FLOAT_DTYPES, HALF_DTYPES, INT_DTYPES, NUM_DTYPES, array_strategy

__all__ = ["Profile", "QUICK", "FULL", "TINY", "PROFILES", "DEFAULT_EXAMPLES", "cases", "batches"]


@dataclass(frozen=True)
class Profile:
    """Size knobs of the generated programs."""

    max_depth: int = 3
    max_stmts: int = 4
    max_outputs: int = 3
    max_tier1: int = 3
    max_n: int = 40
    p_local: float = 0.2
    p_atomic: float = 0.25
    p_subgroup: float = 0.75           # where the work-group is a multiple of the sub-group size (32)
    wgs: tuple[int, ...] = (4, 8, 16, 32)


QUICK = Profile()
FULL = Profile(max_depth=4, max_stmts=6, max_outputs=4, max_tier1=4, max_n=200, wgs=(4, 8, 16, 32, 64))
#: the profiles by name, and the generated programs per backend each runs by default. "long" is the
#: overnight run: the full profile's programs, ten times as many (at least 10,000 per backend).
PROFILES: dict[str, Profile] = {"quick": QUICK, "full": FULL, "long": FULL}
DEFAULT_EXAMPLES: dict[str, int] = {"quick": 100, "full": 1000, "long": 10000}
#: the numba-cuda simulator costs ~0.1-2 ms per work-item: tiny ndranges.
TINY = Profile(max_n=12, wgs=(4, 8))


@lru_cache(maxsize=None)
def _pairs(result: str) -> tuple[tuple[str, str], ...]:
    """Operand dtype pairs that NumPy 2 promotes to ``result``."""
    out = []
    for a in NUM_DTYPES:
        for b in NUM_DTYPES:
            if np.result_type(np.dtype(a), np.dtype(b)) == np.dtype(result):
                out.append((a, b))
    return tuple(out)


def _var(name: str, dtype: str) -> Expr:
    return Expr("var", "", (), dtype, name)


class _Scope:
    """Variables visible at a point of the program, by dtype."""

    def __init__(self, vars_: dict[str, list[str]]) -> None:
        self.vars = {k: list(v) for k, v in vars_.items()}

    def with_var(self, name: str, dtype: str) -> _Scope:
        s = _Scope(self.vars)
        s.vars.setdefault(dtype, []).append(name)
        return s


def _lit(draw, dtype: str) -> Expr:
    if dtype == "bool":
        return Expr("lit", "", (), dtype, draw(st.booleans()))
    if dtype in FLOAT_DTYPES:
        return Expr("lit", "", (), dtype, draw(st.sampled_from([1.0, 0.5, -2.0, 3.0, 0.0, -0.0, 1.5, 10.0, 0.1])))
    info = np.iinfo(np.dtype(dtype))
    return Expr("lit", "", (), dtype, draw(st.integers(max(info.min, -9), min(info.max, 33))))


def _leaf(draw, dtype: str, scope: _Scope) -> Expr:
    same = scope.vars.get(dtype, [])
    choice = draw(st.integers(0, 5))
    if same and choice <= 3:
        return _var(draw(st.sampled_from(same)), dtype)
    others = [(t, n) for t, ns in scope.vars.items() for n in ns]
    if others and choice == 4:
        t, n = draw(st.sampled_from(others))
        return Expr("cast", "", (_var(n, t),), dtype)
    return _lit(draw, dtype)


def _expr(draw, dtype: str, depth: int, scope: _Scope) -> Expr:
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        return _leaf(draw, dtype, scope)
    sub = depth - 1
    pick = draw(st.integers(0, 15))
    if pick == 0:   # one lane of a short-vector expression
        return _vector(draw, dtype, sub, scope)
    if pick == 1:   # a node computed by a @pk.func helper returning two values
        return _helper(draw, dtype, sub, scope)
    if dtype == "bool":
        kind = draw(st.sampled_from(["cmp", "cmp", "logic", "not", "classify", "cast"]))
        if kind == "cmp":
            a, b = draw(st.sampled_from(_pairs(draw(st.sampled_from(NUM_DTYPES)))))
            op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
            return Expr("bin", op, (_expr(draw, a, sub, scope), _expr(draw, b, sub, scope)), "bool")
        if kind == "logic":
            op = draw(st.sampled_from(["and", "or"]))
            return Expr("logic", op, (_expr(draw, "bool", sub, scope), _expr(draw, "bool", sub, scope)), "bool")
        if kind == "not":
            return Expr("un", draw(st.sampled_from(["not", "~"])), (_expr(draw, "bool", sub, scope),), "bool")
        if kind == "classify":
            f = draw(st.sampled_from(FLOAT_DTYPES))
            return Expr("call", draw(st.sampled_from(["isnan", "isinf", "isfinite"])),
                        (_expr(draw, f, sub, scope),), "bool")
        src = draw(st.sampled_from(NUM_DTYPES))
        return Expr("cast", "", (_expr(draw, src, sub, scope),), "bool")
    is_float = dtype in FLOAT_DTYPES
    kinds = ["arith", "arith", "arith", "unary", "minmax", "select", "cast"]
    kinds += (["math", "math", "fma", "truediv", "muladd", "muladd", "minmax", "minmax"] if is_float
              else ["bitwise", "shift", "shift"])
    kind = draw(st.sampled_from(kinds))
    if kind in ("arith", "bitwise", "shift"):
        ops = {"arith": ["+", "-", "*", "//", "%", "+", "-", "*"], "bitwise": ["&", "|", "^"],
               "shift": ["<<", ">>"]}[kind]
        op = draw(st.sampled_from(ops))
        if op in ("//", "%") and draw(st.booleans()):
            sub = 0   # floor division on raw inputs: signs differ often, the case C gets wrong
        pairs = _pairs(dtype) if kind == "arith" else tuple(p for p in _pairs(dtype) if p[0] in INT_DTYPES
                                                               and p[1] in INT_DTYPES)
        a, b = draw(st.sampled_from(pairs))
        return Expr("bin", op, (_expr(draw, a, sub, scope), _expr(draw, b, sub, scope)), dtype)
    if kind in ("muladd", "minmax") and draw(st.booleans()):
        sub = 0   # operands straight from the inputs: where NaN, infinities and ordinary values live
    if kind == "muladd":      # a*b+c: what contracting compilers fuse into an FMA
        direct = scope.vars.get(dtype, [])
        if sub == 0 and direct:   # inexact products need full mantissas: the float inputs themselves
            prod = Expr("bin", "*", (_var(draw(st.sampled_from(direct)), dtype),
                                     _var(draw(st.sampled_from(direct)), dtype)), dtype)
        else:
            prod = Expr("bin", "*", (_expr(draw, dtype, sub, scope), _expr(draw, dtype, sub, scope)), dtype)
        other = _expr(draw, dtype, sub, scope)
        op = draw(st.sampled_from(["+", "-"]))
        return Expr("bin", op, (prod, other) if draw(st.booleans()) else (other, prod), dtype)
    if kind == "truediv":
        pairs = _pairs(dtype) + ((("int32", "int32"), ("int64", "uint8")) if dtype == "float64" else ())
        a, b = draw(st.sampled_from(pairs))
        return Expr("bin", "/", (_expr(draw, a, sub, scope), _expr(draw, b, sub, scope)), dtype)
    if kind == "unary":
        op = draw(st.sampled_from(["neg", "abs"] if is_float else ["neg", "~", "abs"]))
        if op == "abs":
            return Expr("call", "abs", (_expr(draw, dtype, sub, scope),), dtype,
                        draw(st.sampled_from([None, "builtin"])))
        return Expr("un", op, (_expr(draw, dtype, sub, scope),), dtype)
    if kind == "minmax":
        op = draw(st.sampled_from(["min", "max"]))
        return Expr("call", op, (_expr(draw, dtype, sub, scope), _expr(draw, dtype, sub, scope)), dtype,
                    draw(st.sampled_from([None, "builtin"])))
    if kind == "select":
        op = draw(st.sampled_from(["if", "where"]))
        return Expr("sel", op, (_expr(draw, "bool", sub, scope), _expr(draw, dtype, sub, scope),
                                _expr(draw, dtype, sub, scope)), dtype)
    if kind == "cast":
        src = draw(st.sampled_from(NUM_DTYPES + ("bool",)))
        return Expr("cast", "", (_expr(draw, src, sub, scope),), dtype)
    if kind == "fma":
        return Expr("call", "fma", tuple(_expr(draw, dtype, sub, scope) for _ in range(3)), dtype)
    op = draw(st.sampled_from(["sqrt", "floor", "ceil", "trunc", "rint", "copysign"]))
    nargs = 2 if op == "copysign" else 1
    return Expr("call", op, tuple(_expr(draw, dtype, sub, scope) for _ in range(nargs)), dtype)


def _vector(draw, dtype: str, depth: int, scope: _Scope) -> Expr:
    """One lane of a short-vector expression: a scalar tree whose leaves are widened into ``pk.vec``
    (the leaf in the drawn lane, other values of its dtype in the others) or broadcast as scalars,
    so the front end's lane-by-lane lowering (swizzle-free lanes, broadcast, lanewise calls, casts,
    selects) is exercised; the model evaluates the lane's scalar tree."""
    inner = _expr(draw, dtype, depth, scope)
    leaves = vec_leaves(inner)
    if not leaves:
        return inner
    width = draw(st.sampled_from((2, 3, 4, 8)))
    lane = draw(st.integers(0, width - 1))
    fillers: list[tuple[Expr, ...] | None] = []
    for k, leaf in enumerate(leaves):
        widen = k == 0 or draw(st.booleans())
        fillers.append(tuple(_leaf(draw, leaf.dtype, scope) for _ in range(width - 1)) if widen else None)
    return Expr("vec", "", (inner,), dtype, (lane, width, tuple(fillers)))


_HELPER_KINDS = ("bin", "logic", "un", "call", "cast", "sel")


def _helperable(e: Expr) -> bool:
    """An operator node with operands, which a ``@pk.func`` over those operands can compute."""
    return e.kind in _HELPER_KINDS and bool(e.args)


def _helper(draw, dtype: str, depth: int, scope: _Scope) -> Expr:
    """An operator node moved into a ``@pk.func`` that returns it with its first operand (``return a, b``),
    taken by index or by a second helper that unpacks both (``q0, q1 = h(...)``): the front end's
    multi-value helpers and their inlining, checked against the node's own value."""
    inner = _expr(draw, dtype, depth + 1, scope)
    if not _helperable(inner):
        return inner
    return Expr("helper", "", (inner,), dtype, (draw(st.sampled_from(["index", "unpack"])), draw(st.integers(0, 1))))


def _stmts(draw, profile: Profile, scope: _Scope, work: list[tuple[str, str]], outputs: list[tuple[str, str]],
           count: int, in_loop: bool, depth: int) -> tuple[Stmt, ...]:
    out: list[Stmt] = []
    for _ in range(count):
        kind = draw(st.sampled_from(["assign", "assign", "store", "if", "for", "augstore"]
                                    + (["break_if", "continue_if"] if in_loop else [])))
        d = profile.max_depth
        if kind == "assign" or (kind in ("if", "for") and depth >= 2):
            name, t = draw(st.sampled_from(work))
            value = _expr(draw, t, d, scope)
            if _helperable(value) and draw(st.integers(0, 7)) == 0:
                value = Expr("helper", "", (value,), value.dtype, ("inplace", 0))   # a helper writes it in place
            out.append(Stmt("assign", name, t, value))
        elif kind in ("store", "augstore"):
            name, t = draw(st.sampled_from(outputs))
            if kind == "augstore" and t == "bool":
                kind = "store"
            out.append(Stmt(kind, name, t, _expr(draw, _stored_dtype(draw, t), d, scope)))
        elif kind == "if":
            cond = _expr(draw, "bool", d, scope)
            then = _stmts(draw, profile, scope, work, outputs, draw(st.integers(1, 2)), in_loop, depth + 1)
            orelse = _stmts(draw, profile, scope, work, outputs, draw(st.integers(0, 2)), in_loop, depth + 1)
            out.append(Stmt("if", expr=cond, body=then, orelse=orelse))
        elif kind == "for":
            var = f"j{depth}"
            inner = scope.with_var(var, "int64")
            body = _stmts(draw, profile, inner, work, outputs, draw(st.integers(1, 3)), True, depth + 1)
            out.append(Stmt("for", var, "int64", body=body, count=draw(st.integers(0, 3))))
        else:
            out.append(Stmt(kind, expr=_expr(draw, "bool", 1, scope)))
    return tuple(out)


def _stored_dtype(draw, out_dtype: str) -> str:
    """The dtype of a value stored into an output: any, but float32 into a half array (the language
    refuses other values there without an explicit conversion)."""
    return "float32" if out_dtype in HALF_DTYPES else draw(st.sampled_from(NUM_DTYPES))


@st.composite
def batches(draw, profile: Profile = QUICK, backend_fp64: bool = True, max_programs: int = 1) -> Batch:
    """A :class:`Batch` of 1 to ``max_programs`` random programs sharing one launch shape."""
    wg = draw(st.sampled_from((None,) + profile.wgs))
    n = draw(st.integers(1, profile.max_n))
    count = draw(st.integers(1, max_programs))      # uniform (lists would mostly draw one); shrinks to 1
    progs = [draw(cases(profile, backend_fp64, n, wg)) for _ in range(count)]
    return Batch(tuple(progs), n, wg)


@st.composite
def cases(draw, profile: Profile = QUICK, backend_fp64: bool = True, n: int | None = None,
          wg: int | None | str = "draw") -> Case:
    """A random conformance :class:`Case`: program, launch shape and input values."""
    dtypes = NUM_DTYPES if backend_fp64 else tuple(t for t in NUM_DTYPES if t != "float64")
    n_in = draw(st.integers(1, 4))
    inputs = tuple((f"x{k}", draw(st.sampled_from(dtypes + ("float32", "int32") + HALF_DTYPES)))
                   for k in range(n_in))
    if not any(t in FLOAT_DTYPES for _, t in inputs):   # every program reads at least one float array
        inputs += ((f"x{n_in}", draw(st.sampled_from([d for d in FLOAT_DTYPES if d in dtypes]))),)
    scope = _Scope({})
    for k, (_, t) in enumerate(inputs):     # a half element loads as a float32
        scope = scope.with_var(f"a{k}", "float32" if t in HALF_DTYPES else t)
    local = None
    wg_: int | None = draw(st.sampled_from((None,) + profile.wgs)) if isinstance(wg, str) else wg
    if wg_ is not None and draw(st.floats(0, 1)) < profile.p_local:
        t = draw(st.sampled_from(dtypes))
        tree = draw(st.sampled_from(("", "") + tuple(op for op in TREE_OPS
                                                     if t in INT_DTYPES or op in ("+", "min", "max"))))
        size = wg_ + draw(st.integers(0, 3)) if draw(st.booleans()) else 0    # sized at launch, or wg
        local = LocalStage(_expr(draw, t, 2, scope), t, draw(st.integers(1, wg_ - 1)), tree,
                           bool(tree) and draw(st.booleans()), size)
        scope = scope.with_var("w", t)
    subgroup = None
    if wg_ is not None and wg_ % 32 == 0 and draw(st.floats(0, 1)) < profile.p_subgroup:
        op = draw(st.sampled_from(SUBGROUP_STAGE_OPS))
        t = "bool" if op in ("any", "all") else draw(st.sampled_from(dtypes if op.startswith("reduce")
                                                                     else dtypes + ("bool",)))
        subgroup = SubgroupStage(op, _expr(draw, t, 2, scope), t, draw(st.sampled_from([0, 1, 3, -1])),
                                 draw(st.integers(-3, 40)))
        scope = scope.with_var("g", t)
    n_work = draw(st.integers(1, 3))
    work = [(f"v{k}", draw(st.sampled_from(dtypes + ("bool",)))) for k in range(n_work)]
    body: list[Stmt] = []
    for name, t in work:  # every work variable is assigned before any statement may read it
        body.append(Stmt("assign", name, t, _expr(draw, t, profile.max_depth, scope)))
        scope = scope.with_var(name, t)
    outputs = tuple((f"o{k}", draw(st.sampled_from(dtypes + ("bool",) + HALF_DTYPES)))
                    for k in range(draw(st.integers(1, profile.max_outputs))))
    body += list(_stmts(draw, profile, scope, work, list(outputs), draw(st.integers(0, profile.max_stmts)),
                        False, 0))
    for name, t in outputs:  # every output gets a final store, so no element is left unwritten
        vt = "float32" if t in HALF_DTYPES else draw(st.sampled_from(dtypes + ("bool",)))
        body.append(Stmt("store", name, t, _expr(draw, vt, profile.max_depth, scope)))
    tier1 = []
    for k in range(draw(st.integers(0, profile.max_tier1))):
        op = draw(st.sampled_from(sorted(TIER1_OPS)))
        t = draw(st.sampled_from([d for d in FLOAT_DTYPES if d in dtypes]))
        args = tuple(_expr(draw, t, draw(st.integers(0, 2)), scope) for _ in range(TIER1_OPS[op]))
        tier1.append(Tier1(op, args, tuple(f"r{k}_{j}" for j in range(len(args))), f"f{k}", t))
    atomic = None
    if draw(st.floats(0, 1)) < profile.p_atomic:
        op = draw(st.sampled_from(["add", "sub", "min", "max", "and", "or", "xor", "xchg", "cas"]))
        t = draw(st.sampled_from(["int32", "uint32", "int64", "uint64", "float32", "float64"]
                                 if backend_fp64 else ["int32", "uint32", "float32"]))
        if op in ("and", "or", "xor") and t in FLOAT_DTYPES:
            op = "add"
        if op in ("xchg", "cas"):
            # results that do not depend on the interleaving: every work-item of a cell exchanges
            # (or swaps in, where the cell still holds 0) one same value, and nobody reads the old one
            ex = Expr("lit", "", (), t, draw(st.sampled_from([0.5, -3.0, 1.0] if t in FLOAT_DTYPES else [1, 3, 7, 100])))
        elif t in FLOAT_DTYPES:  # float atomics: small finite values, checked against a forward-error bound
            ex = Expr("cast", "", (_var("a0", inputs[0][1]),), t) if inputs[0][1] in INT_DTYPES \
                else Expr("lit", "", (), t, draw(st.sampled_from([0.5, 1.0, -3.0, 0.1])))
            op = draw(st.sampled_from(["add", "sub"])) if op in ("add", "sub") else op
        else:
            ex = _expr(draw, t, 2, scope)
        atomic = AtomicSpec(op, t, draw(st.integers(1, 5)), ex)
    if n is None:
        n = draw(st.integers(1, profile.max_n))
    case = Case(inputs, outputs, tuple(body), tuple(tier1), local, atomic, n, wg_, subgroup=subgroup)
    arrays = [name for name, _ in inputs] + case.written()
    strided = frozenset(draw(st.sets(st.sampled_from(arrays), max_size=2)))
    case.strided = strided
    case.constant = frozenset(draw(st.sets(st.sampled_from([name for name, _ in inputs]), max_size=2)))
    values: dict[str, np.ndarray] = {}
    for name, t in inputs:
        values[name] = draw(array_strategy(t, n))
    for name, t in outputs:
        values[name] = draw(array_strategy(t, n))
    for t1 in tier1:
        for name in (*t1.arg_outs, t1.out):
            values[name] = np.zeros(n, dtype=t1.dtype)
    if atomic is not None:
        values["acc"] = draw(array_strategy(atomic.dtype, atomic.buckets)) if atomic.dtype in INT_DTYPES \
            else np.zeros(atomic.buckets, dtype=atomic.dtype)
    case.values = values
    return case
