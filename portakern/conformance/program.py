"""The generated programs: a small typed tree of expressions and statements, and its Python source.

A :class:`Case` is one conformance example: a kernel (as a tree) plus its inputs. The tree is the
suite's own, not the compiler's IR: it renders to kernel-language SOURCE text (so a failure is a
runnable reproducer) and the model (``model.py``) evaluates it to know, per work-item, which values
touched subnormals and how far a backend that contracts ``a*b+c`` may stray.

Every operation is tagged with its docs/semantics.md tier: the tier-0 part of a kernel is compared bit for
bit; tier-1 calls (``exp``, ``sin``...) appear only at the root of a stored value, with their
argument stored too, so the oracle can measure their ULP error on the exact argument the backend used.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import optable

__all__ = ["Expr", "Stmt", "Tier1", "LocalStage", "AtomicSpec", "Case", "Batch", "render_source", "prefix", "TIER1_OPS",
           "TREE_OPS"]

#: tier-1 math functions: name -> arity (from the op table).
TIER1_OPS = {s.name: s.arity for s in optable.TIER1}


@dataclass(frozen=True)
class Expr:
    """One typed expression node.

    ``kind`` is one of: ``var`` (``value`` = name), ``lit`` (``value`` = Python literal), ``bin``
    (arithmetic/bitwise/comparison ``op`` on two args; the result dtype follows NumPy 2 promotion,
    bool for comparisons), ``logic`` (``and``/``or``), ``un`` (``neg``, ``~``, ``not``), ``call``
    (``pk.<op>(...)``, tier-0 math), ``cast`` (``pk.<dtype>(x)``), ``sel`` (``a if c else b``, or
    ``pk.where`` when ``op == "where"``), ``vec`` (``value`` = (lane, width, fillers): ``args[0]``
    rendered with short vectors, one lane taken; see :func:`vec_leaves`), ``helper`` (``args[0]``, an
    operator node, computed by a ``@pk.func`` over its operands that returns two values; ``value`` =
    (variant, position): ``"index"`` takes ``h(...)[position]``, ``"unpack"`` calls a second helper that
    unpacks ``q0, q1 = h(...)``, ``"inplace"`` (only as an ``assign``'s whole value) calls a helper that
    writes the node into a private array the kernel passes and then reads back; see :func:`helper_defs`).
    """

    kind: str
    op: str
    args: tuple[Expr, ...]
    dtype: str
    value: Any = None

    def ops(self) -> set[str]:
        """The op names used in this tree (for per-op statistics)."""
        out: set[str] = set()
        stack = [self]
        while stack:
            e = stack.pop()
            if e.kind in ("bin", "logic", "un", "call"):
                out.add(e.op)
            elif e.kind == "cast":
                out.add("cast")
            elif e.kind == "sel":
                out.add("select")
            elif e.kind == "vec":
                out.add("vector")
            elif e.kind == "helper":
                out.add("helper_" + e.value[0])
            stack.extend(e.args)
        return out

    def walk(self) -> list[Expr]:
        """Every node of this tree, this one first."""
        out, stack = [], [self]
        while stack:
            e = stack.pop()
            out.append(e)
            stack.extend(reversed(e.args))
        return out


@dataclass(frozen=True)
class Stmt:
    """One statement: ``assign`` (var = pk.T(expr)), ``if`` (cond, then, orelse), ``for``
    (``range(count)``, loop variable ``var`` of int64, ``body``), ``break_if`` (``if cond: break``),
    ``continue_if``, ``store`` (``out[i] = expr``) and ``augstore`` (``out[i] += expr``)."""

    kind: str
    target: str = ""
    dtype: str = ""
    expr: Expr | None = None
    body: tuple[Stmt, ...] = ()
    orelse: tuple[Stmt, ...] = ()
    count: int = 0


@dataclass(frozen=True)
class Tier1:
    """``t = arg; argout[i] = t; out[i] = pk.<op>(t, ...)``: a tier-1 call on tier-0 arguments."""

    op: str
    args: tuple[Expr, ...]
    arg_outs: tuple[str, ...]
    out: str
    dtype: str


#: combining ops of a work-group tree reduction (``LocalStage.tree``): exact in any dtype they get, so
#: a fixed tree order gives one right answer bit for bit (float ``+`` rounds, but in the tree's order).
TREE_OPS = ("+", "^", "|", "&", "min", "max")


@dataclass(frozen=True)
class LocalStage:
    """Work-group memory: every work-item stores ``expr`` into ``tile[lid]``; after ``pk.barrier()``
    it reads ``tile[(lid + shift) % wg]`` into the variable ``w`` (of ``dtype``).

    With ``tree`` (one of :data:`TREE_OPS`), a work-group tree reduction runs between the barrier and
    the read, in the shape of the numba documentation's shared-memory ``array_sum``: a ``while`` loop
    bounded by ``pk.local_size(0)`` with a barrier in its body (``tile[lid] op= tile[lid + h]`` where
    ``lid % (2 * h) == 0``), and with ``guarded`` all of it under ``if lid < pk.local_size(0):`` (true for
    every work-item, so every barrier is still reached by all). Loops bounded by work-group queries are
    where compilers have miscompiled (PoCL re-read the query after the barrier).

    With ``size`` (at least the work-group size), the tile is sized at launch: ``pk.local_array(tsz,
    dtype)`` with the int64 parameter ``tsz`` passed ``size`` (docs/language.md, "Local memory sized at
    launch"); else it is ``pk.local_array(wg, dtype)``."""

    expr: Expr
    dtype: str
    shift: int
    tree: str = ""
    guarded: bool = False
    size: int = 0


@dataclass(frozen=True)
class SubgroupStage:
    """A sub-group operation (docs/language.md, "Sub-groups"): every work-item computes ``expr`` (0 past
    the end of the arrays) into ``u`` of ``dtype``, then ``g = pk.subgroup_<op>(u)``, with the lane
    argument ``pk.subgroup_local_id() * mul + shift`` for the shuffles. Every result is independent of
    the interleaving: shuffles move values exactly, reductions follow docs/semantics.md's one tree."""

    op: str          # one of SUBGROUP_STAGE_OPS
    expr: Expr
    dtype: str       # bool for any/all
    mul: int = 0
    shift: int = 0


#: the sub-group operations the generator draws (``pk.subgroup_<op>``)
SUBGROUP_STAGE_OPS = ("shuffle", "shuffle_up", "shuffle_down", "shuffle_xor", "reduce_add", "reduce_min",
                      "reduce_max", "any", "all")


@dataclass(frozen=True)
class AtomicSpec:
    """``pk.atomic_<op>(acc, i % buckets, expr)`` on the array ``acc`` of ``dtype``."""

    op: str
    dtype: str
    buckets: int
    expr: Expr


@dataclass
class Case:
    """One conformance example: a program, its launch shape and its input values."""

    inputs: tuple[tuple[str, str], ...]          # (name, dtype) of the read-only input arrays
    outputs: tuple[tuple[str, str], ...]         # (name, dtype) of the tier-0 output arrays
    body: tuple[Stmt, ...]
    tier1: tuple[Tier1, ...] = ()
    local: LocalStage | None = None
    atomic: AtomicSpec | None = None
    n: int = 1
    wg: int | None = None
    strided: frozenset[str] = frozenset()        # arrays passed as strided (every other element) views
    values: dict[str, np.ndarray] = field(default_factory=dict)   # inputs and initial outputs
    constant: frozenset[str] = frozenset()       # inputs annotated pk.constant (read-only, constant memory)
    subgroup: SubgroupStage | None = None

    @property
    def grouped(self) -> bool:
        """Whether the program synchronises work-groups (a local stage or a sub-group stage)."""
        return self.local is not None or self.subgroup is not None

    @property
    def ndrange(self) -> int:
        """The launch's ndrange: ``n``, padded to a multiple of the work-group when barriers need it."""
        if self.grouped and self.wg:
            return -(-self.n // self.wg) * self.wg
        return self.n

    def param_names(self) -> list[str]:
        """Every kernel parameter in order: inputs, outputs, tier-1 argument/result arrays, accumulator."""
        names = [n for n, _ in self.inputs] + [n for n, _ in self.outputs]
        for t in self.tier1:
            names += list(t.arg_outs) + [t.out]
        if self.atomic is not None:
            names.append("acc")
        if self.local is not None and self.local.size:
            names.append("tsz")
        return names

    def scalars(self) -> dict[str, np.int64]:
        """The scalar arguments by parameter name (the launch-time tile size), beside ``values``' arrays."""
        return {"tsz": np.int64(self.local.size)} if self.local is not None and self.local.size else {}

    def written(self) -> list[str]:
        """The arrays the kernel writes, in parameter order."""
        inputs = {n for n, _ in self.inputs} | set(self.scalars())
        return [n for n in self.param_names() if n not in inputs]

    def exprs(self) -> list[Expr]:
        """Every top-level expression of the program, in rendering order."""
        out: list[Expr] = []
        if self.local is not None:
            out.append(self.local.expr)
        if self.subgroup is not None:
            out.append(self.subgroup.expr)

        def visit(stmts: tuple[Stmt, ...]) -> None:
            for s in stmts:
                if s.expr is not None:
                    out.append(s.expr)
                visit(s.body)
                visit(s.orelse)

        visit(self.body)
        out += [a for t in self.tier1 for a in t.args]
        if self.atomic is not None:
            out.append(self.atomic.expr)
        return out

    def ops(self) -> set[str]:
        """Every op name used by the program."""
        out: set[str] = set()
        for e in self.exprs():
            out.update(e.ops())
        out.update(t.op for t in self.tier1)
        if self.local is not None:
            out.add("barrier")
            if self.local.tree:
                out.add("tree_loop")
            if self.local.size:
                out.add("local_arg")
        if self.subgroup is not None:
            out.add("subgroup_" + self.subgroup.op)
        if self.constant:
            out.add("constant")
        if self.atomic is not None:
            out.add("atomic_" + self.atomic.op)
        return out


# ---------------------------------------------------------------------------------------- rendering
_CALL_NAMES = {"min": "min", "max": "max", "abs": "abs"}


def vec_leaves(e: Expr) -> list[Expr]:
    """The leaves of ``e`` that a ``vec`` node may widen into vectors, in rendering order: every leaf
    reached through operators that work lane by lane (arithmetic, comparisons, ``-``/``~``, calls,
    casts, both arms and the condition of ``pk.where``, both arms of ``a if c else b``); ``and``,
    ``or``, ``not`` and the condition of ``a if c else b`` stay scalar (a vector has no truth value), and
    so does a ``vec`` node inside (its lane is a scalar)."""
    if e.kind in ("var", "lit"):
        return [e]
    if e.kind in ("logic", "vec", "helper") or (e.kind == "un" and e.op == "not"):
        return []
    args = e.args[1:] if e.kind == "sel" and e.op == "if" else e.args
    return [leaf for a in args for leaf in vec_leaves(a)]


def _render_vec(e: Expr, p: str, fillers: Any, lane: int) -> str:
    """``e`` with every widenable leaf that has fillers turned into ``pk.vec(...)``: the leaf itself in
    lane ``lane``, the fillers in the others; the other leaves stay scalars (broadcast)."""
    if e.kind in ("var", "lit"):
        other = next(fillers)
        if other is None:
            return render_expr(e, p)
        items = list(other[:lane]) + [e] + list(other[lane:])
        return f"pk.vec({', '.join(render_expr(x, p) for x in items)})"
    if e.kind in ("logic", "vec", "helper") or (e.kind == "un" and e.op == "not"):
        return render_expr(e, p)
    if e.kind == "sel" and e.op == "if":
        c = render_expr(e.args[0], p)
        return f"({_render_vec(e.args[1], p, fillers, lane)} if {c} else {_render_vec(e.args[2], p, fillers, lane)})"
    a = [_render_vec(x, p, fillers, lane) for x in e.args]
    return _render_node(e, a)


def render_expr(e: Expr, p: str = "") -> str:
    """Kernel-language source of one expression (fully parenthesised); variables get prefix ``p``."""
    if e.kind == "vec":   # a vector expression and one of its lanes: v[k] or, for k < 4, v.x/.y/.z/.w
        lane, width, fillers = e.value
        text = _render_vec(e.args[0], p, iter(fillers), lane)
        return f"{text}.{'xyzw'[lane]}" if lane < 4 and width % 2 == 0 else f"{text}[{lane}]"
    if e.kind == "helper":
        if e.value[0] == "inplace":
            raise ValueError("an in-place helper is an assignment's whole value (see _render_stmts)")
        args = ", ".join(render_expr(x, p) for x in e.args[0].args)
        name = _helper_name(e)
        return f"{name}({args})[{e.value[1]}]" if e.value[0] == "index" else f"u{name}({args})"
    a = [render_expr(x, p) for x in e.args]
    if e.kind == "var":
        return f"{p}{e.value}"
    if e.kind == "lit":
        if e.dtype == "bool":
            return f"pk.bool_({bool(e.value)!r})"
        return f"pk.{e.dtype}({e.value!r})"
    return _render_node(e, a)


def _render_node(e: Expr, a: list[str]) -> str:
    """An operator node's source given its operands' source ``a``."""
    if e.kind in ("bin", "logic"):
        return f"({a[0]} {e.op} {a[1]})"
    if e.kind == "un":
        return {"neg": f"(-{a[0]})", "~": f"(~{a[0]})", "not": f"(not {a[0]})"}[e.op]
    if e.kind == "call":
        if e.value == "builtin":
            return f"{_CALL_NAMES[e.op]}({', '.join(a)})"
        return f"pk.{e.op}({', '.join(a)})"
    if e.kind == "cast":
        return f"pk.{'bool_' if e.dtype == 'bool' else e.dtype}({a[0]})"
    if e.kind == "sel":
        if e.op == "where":
            return f"pk.where({a[0]}, {a[1]}, {a[2]})"
        return f"({a[1]} if {a[0]} else {a[2]})"
    raise ValueError(f"unknown expression kind {e.kind!r}")


def _type_name(dtype: str) -> str:
    return "pk.bool_" if dtype == "bool" else f"pk.{dtype}"


def _render_stmts(stmts: tuple[Stmt, ...], indent: str, lines: list[str], p: str) -> None:
    if not stmts:
        lines.append(indent + "pass")
    for s in stmts:
        if s.kind == "assign" and _is_inplace(s.expr):
            assert s.expr is not None
            args = ", ".join(render_expr(x, p) for x in s.expr.args[0].args)
            buf = f"{p}hp_{s.expr.dtype}"
            lines.append(f"{indent}w{_helper_name(s.expr)}({buf}, {args})")
            lines.append(f"{indent}{p}{s.target} = {_type_name(s.dtype)}({buf}[0])")
        elif s.kind == "assign":
            assert s.expr is not None
            lines.append(f"{indent}{p}{s.target} = {_type_name(s.dtype)}({render_expr(s.expr, p)})")
        elif s.kind == "store":
            lines.append(f"{indent}{p}{s.target}[i] = {render_expr(s.expr, p)}")  # type: ignore[arg-type]
        elif s.kind == "augstore":
            lines.append(f"{indent}{p}{s.target}[i] += {render_expr(s.expr, p)}")  # type: ignore[arg-type]
        elif s.kind == "if":
            lines.append(f"{indent}if {render_expr(s.expr, p)}:")  # type: ignore[arg-type]
            _render_stmts(s.body, indent + "    ", lines, p)
            if s.orelse:
                lines.append(f"{indent}else:")
                _render_stmts(s.orelse, indent + "    ", lines, p)
        elif s.kind == "for":
            lines.append(f"{indent}for {p}{s.target} in range({s.count}):")
            _render_stmts(s.body, indent + "    ", lines, p)
        elif s.kind in ("break_if", "continue_if"):
            lines.append(f"{indent}if {render_expr(s.expr, p)}:")  # type: ignore[arg-type]
            lines.append(f"{indent}    {s.kind[:-3]}")
        else:
            raise ValueError(f"unknown statement kind {s.kind!r}")


def render_block(case: Case, wg: int | None, p: str) -> list[str]:
    """The lines (indented for a kernel body) of one program, every name prefixed with ``p``."""
    first = p + (case.inputs[0][0] if case.inputs else case.written()[0])
    loads = [f"        {p}a{k} = {p}{nm}[i]" for k, (nm, _) in enumerate(case.inputs)]
    guard = f"    if i < {first}.shape[0]:"
    lines: list[str] = [f"    {p}hp_{t} = pk.private_array(1, {_type_name(t)})" for t in inplace_dtypes(case)]
    if case.local is not None:
        st = case.local
        tn = _type_name(st.dtype)
        size = f"{p}tsz" if st.size else wg
        lines += [f"    {p}tile = pk.local_array({size}, {tn})", f"    {p}s = {tn}(0)", guard, *loads,
                  f"        {p}s = {tn}({render_expr(st.expr, p)})",
                  f"    {p}tile[lid] = {p}s", "    pk.barrier()", *_tree_lines(st, p),
                  f"    {p}w = {p}tile[(lid + {st.shift}) % {wg}]"]
    if case.subgroup is not None:
        sg = case.subgroup
        tn = _type_name(sg.dtype)
        lane = f", pk.subgroup_local_id() * {sg.mul} + {sg.shift}" if sg.op.startswith("shuffle") else ""
        lines += [f"    {p}u = {tn}(0)", guard, *loads, f"        {p}u = {tn}({render_expr(sg.expr, p)})",
                  f"    {p}g = pk.subgroup_{sg.op}({p}u{lane})"]
    lines += [guard, *loads]
    body: list[str] = []
    _render_stmts(case.body, "        ", body, p)
    lines += [ln for ln in body if ln.strip() != "pass"]
    for k, t in enumerate(case.tier1):
        names = []
        for j, (arg, out) in enumerate(zip(t.args, t.arg_outs)):
            lines.append(f"        {p}t{k}_{j} = {_type_name(t.dtype)}({render_expr(arg, p)})")
            lines.append(f"        {p}{out}[i] = {p}t{k}_{j}")
            names.append(f"{p}t{k}_{j}")
        lines.append(f"        {p}{t.out}[i] = pk.{t.op}({', '.join(names)})")
    if case.atomic is not None:
        at = case.atomic
        cmp = f"{_type_name(at.dtype)}(0), " if at.op == "cas" else ""     # cas: "set if still 0"
        lines.append(f"        pk.atomic_{at.op}({p}acc, i % {at.buckets}, {cmp}"
                     f"{_type_name(at.dtype)}({render_expr(at.expr, p)}))")
    if lines[-1] == guard:
        lines.append("        pass")
    return lines


def _tree_lines(st: LocalStage, p: str) -> list[str]:
    """The work-group tree reduction of ``st`` (none without ``st.tree``), indented for a kernel body."""
    if not st.tree:
        return []
    a, b = f"{p}tile[lid]", f"{p}tile[lid + {p}h]"
    combined = f"pk.{st.tree}({a}, {b})" if st.tree in ("min", "max") else f"{a} {st.tree} {b}"
    ind = "        " if st.guarded else "    "
    lines = ["    if lid < pk.local_size(0):"] if st.guarded else []
    return lines + [f"{ind}{p}h = 1", f"{ind}while {p}h < pk.local_size(0):",
                    f"{ind}    if lid % (2 * {p}h) == 0:", f"{ind}        {a} = {combined}",
                    f"{ind}    {p}h *= 2", f"{ind}    pk.barrier()"]


def _is_inplace(e: Expr | None) -> bool:
    return e is not None and e.kind == "helper" and e.value[0] == "inplace"


def inplace_dtypes(case: Case) -> list[str]:
    """The dtypes of the private arrays a program's in-place helpers write (one array per dtype)."""
    return sorted({e.dtype for e in case.exprs() if _is_inplace(e)})


def _helper_body(e: Expr) -> str:
    node = e.args[0]
    return _render_node(node, [f"a{k}" for k in range(len(node.args))])


def _helper_name(e: Expr) -> str:
    """A name that the helper's text decides, so equal helpers in one kernel are defined once."""
    digest = hashlib.sha1(f"{_helper_body(e)}|{e.value[1]}".encode()).hexdigest()[:10]
    return f"_h{digest}"


def helper_defs(programs: tuple[Case, ...]) -> list[str]:
    """The ``@pk.func`` definitions the programs' ``helper`` nodes call (module level, after the kernel):
    ``_hX`` returns the operator's result and its first operand, in the node's order; ``u_hX`` calls it
    and unpacks both."""
    lines: list[str] = []
    seen: set[str] = set()
    for e in (x for c in programs for top in c.exprs() for x in top.walk() if x.kind == "helper"):
        name = _helper_name(e)
        params = ", ".join(f"a{k}" for k in range(len(e.args[0].args)))
        if e.value[0] == "inplace":
            if "w" + name not in seen:
                seen.add("w" + name)
                lines += ["", "", "@pk.func", f"def w{name}(r, {params}):", f"    r[0] = {_helper_body(e)}"]
            continue
        if name not in seen:
            seen.add(name)
            pair = ("a0", _helper_body(e)) if e.value[1] == 1 else (_helper_body(e), "a0")
            lines += ["", "", "@pk.func", f"def {name}({params}):", f"    return {pair[0]}, {pair[1]}"]
        if e.value[0] == "unpack" and "u" + name not in seen:
            seen.add("u" + name)
            lines += ["", "", "@pk.func", f"def u{name}({params}):", f"    q0, q1 = {name}({params})",
                      f"    return q{e.value[1]}"]
    return lines


def prefix(k: int, count: int) -> str:
    """The name prefix of program ``k`` of a batch (none when the batch holds one program)."""
    return "" if count == 1 else f"p{k}_"


def render_source(batch: Batch | Case, name: str) -> str:
    """The whole kernel as source text, starting with ``@pk.kernel``."""
    if isinstance(batch, Case):
        batch = Batch((batch,), batch.n, batch.wg)
    progs = batch.programs
    params = [prefix(k, len(progs)) + nm + (": pk.constant" if nm in c.constant else "")
              for k, c in enumerate(progs) for nm in c.param_names()]
    lines = ["@pk.kernel", f"def {name}({', '.join(params)}):", "    i = pk.global_id(0)"]
    if any(c.local is not None for c in progs):
        lines.append("    lid = pk.local_id(0)")
    for k, c in enumerate(progs):
        lines += render_block(c, batch.wg, prefix(k, len(progs)))
    return "\n".join(lines + helper_defs(progs)) + "\n"


@dataclass
class Batch:
    """Several programs compiled as ONE kernel and launched once over a shared ``n`` and work-group
    (compiling is the suite's cost: one numba compile takes seconds). A batch of one program renders
    without name prefixes, so a shrunk reproducer reads like a hand-written kernel."""

    programs: tuple[Case, ...]
    n: int
    wg: int | None

    @property
    def ndrange(self) -> int:
        if any(c.grouped for c in self.programs) and self.wg:
            return -(-self.n // self.wg) * self.wg
        return self.n

    def param_names(self) -> list[str]:
        return [prefix(k, len(self.programs)) + nm for k, c in enumerate(self.programs) for nm in c.param_names()]

    def written(self) -> list[str]:
        return [prefix(k, len(self.programs)) + nm for k, c in enumerate(self.programs) for nm in c.written()]
