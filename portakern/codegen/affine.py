"""Index analysis on the IR: which integer expressions are affine in the work-item ids.

An int64 expression is *affine* when its value in every work-item is ``sum(coef * id) + u``:
``id`` ranges over ``global_id(d)``, ``local_id(d)`` and ``group_id(d)``, each ``coef`` is an
integer constant and ``u`` is *uniform* (the same in every work-item): a linear combination of
uniform *atoms* (array shapes, scalar parameters never assigned, variables of loops whose bounds
are uniform, and uniform non-linear expressions of those) plus a constant. The identity holds in
int64's wrapping arithmetic too (``+``, ``-``, ``*`` by a constant and ``<<`` by a constant are
ring operations modulo 2^64), so a backend may evaluate the form instead of the expression.

Variables are followed through their assignments in program order (:class:`AffineIndex` walks
the kernel once): an unconditional assignment gives the variable its value's form for the code
after it; a variable assigned under an ``if`` or inside a loop is unknown after it (and, in a
loop, from the top of the body until its assignment there), so a form only ever names values that
hold where it is used. Vectorising backends use the forms to turn an access into slices,
reshapes and transposes of the array instead of a per-lane gather or scatter
(docs/backends/jax.md, Performance).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..ir import nodes as ir
from ..ir.visit import walk, walk_body
from ..types import int64 as INT64

__all__ = ["AffineIndex", "Form", "LANE_IDS"]

#: the index queries a form's lane terms name
LANE_IDS = {ir.Op.GLOBAL_ID: "gid", ir.Op.LOCAL_ID: "lid", ir.Op.GROUP_ID: "grid"}

_I64_MASK = (1 << 64) - 1
_COMPARE = (ir.Op.LT, ir.Op.LE, ir.Op.GT, ir.Op.GE, ir.Op.EQ, ir.Op.NE)


def _wrap(v: int) -> int:
    """``v`` as a signed int64 (the forms' constants wrap as the kernel's arithmetic does)."""
    v &= _I64_MASK
    return v - (1 << 64) if v >> 63 else v


@dataclass(frozen=True)
class Form:
    """``sum(coef * id) + sum(coef * atom) + const``: ``lanes`` holds ``(kind, dim, coef)`` with
    ``kind`` one of "gid", "lid", "grid" (sorted, no zero coefficients), ``atoms`` holds
    ``(coef, expr)`` with ``expr`` a uniform IR expression (no zero coefficients)."""

    lanes: tuple[tuple[str, int, int], ...] = ()
    atoms: tuple[tuple[int, ir.Expr], ...] = ()
    const: int = 0

    @property
    def uniform(self) -> bool:
        """Whether the value is the same in every work-item."""
        return not self.lanes

    @property
    def is_const(self) -> bool:
        return not self.lanes and not self.atoms

    def __add__(self, other: Form) -> Form:
        return Form(_merge(self.lanes + other.lanes), _merge_atoms(self.atoms + other.atoms),
                    _wrap(self.const + other.const))

    def scale(self, k: int) -> Form:
        """The form times the constant ``k`` (wrapping)."""
        return Form(_merge(tuple((kd, d, _wrap(c * k)) for kd, d, c in self.lanes)),
                    _merge_atoms(tuple((_wrap(c * k), e) for c, e in self.atoms)), _wrap(self.const * k))


def _merge(terms: Iterable[tuple[str, int, int]]) -> tuple[tuple[str, int, int], ...]:
    acc: dict[tuple[str, int], int] = {}
    for kind, d, c in terms:
        acc[(kind, d)] = _wrap(acc.get((kind, d), 0) + c)
    return tuple(sorted((k, d, c) for (k, d), c in acc.items() if c))


def _merge_atoms(terms: Iterable[tuple[int, ir.Expr]]) -> tuple[tuple[int, ir.Expr], ...]:
    acc: dict[ir.Expr, int] = {}
    for c, e in terms:
        acc[e] = _wrap(acc.get(e, 0) + c)
    return tuple((c, e) for e, c in acc.items() if c)


def _is_i64(e: ir.Expr) -> bool:
    return getattr(getattr(e, "type", None), "name", None) == "int64"


class AffineIndex:
    """The affine forms of a kernel's access indices, computed once over its IR.

    ``index(node)`` gives, for a Load/Store/Atomic, one Form per index (None when some index is
    not affine). ``loop_of(name)`` gives the ``For`` whose variable ``name`` is, for loops whose
    bounds are uniform (their variable is then a uniform atom)."""

    def __init__(self, kernel: ir.Kernel) -> None:
        self.kernel = kernel
        self._assigned = {n.target.name for n in walk_body(kernel.body) if isinstance(n, ir.Assign)}
        self._params = {p.name for p in kernel.params if not isinstance(p.type, ir.ArrayType)}
        self._loops: dict[str, ir.For] = {}
        self._access: dict[int, tuple[Form, ...] | None] = {}
        self._compare: dict[int, tuple[Form, Form]] = {}
        self._made: list[ir.Load] = []
        self._walk(kernel.body, {})

    def compare(self, node: object) -> tuple[Form, Form] | None:
        """The forms of the two sides of an int64 comparison ``node``, or None."""
        return self._compare.get(id(node))

    def index(self, node: object) -> tuple[Form, ...] | None:
        """The forms of ``node``'s indices (a Load, Store or Atomic), or None."""
        return self._access.get(id(node))

    def register(self, node: ir.Load, forms: tuple[Form, ...]) -> None:
        """Record the forms of a load built from forms (tiles.py's forwarded reads)."""
        self._access[id(node)] = forms
        self._made.append(node)          # kept alive: the table is keyed by id

    def loop_of(self, name: str) -> ir.For | None:
        """The uniform-bounds loop whose variable is ``name``, if any."""
        return self._loops.get(name)

    # -- the walk ---------------------------------------------------------------------------------
    def _walk(self, stmts: tuple[ir.Stmt, ...], env: dict[str, Form]) -> None:
        """Record the forms of the accesses in ``stmts``; ``env`` (updated in place) maps a
        variable to its form where the walk has proven one."""
        for s in stmts:
            if not isinstance(s, ir.While):
                self._exprs(s, env)
            if isinstance(s, ir.Assign):
                f = self.form(s.value, env) if _is_i64(s.target) else None
                if f is None:
                    env.pop(s.target.name, None)
                else:
                    env[s.target.name] = f
            elif isinstance(s, ir.If):
                for branch in (s.then, s.orelse):
                    self._walk(branch, dict(env))
                self._forget(s.then + s.orelse, env)
            elif isinstance(s, (ir.For, ir.While)):
                uniform = isinstance(s, ir.For) and all(
                    (f := self.form(e, env)) is not None and f.uniform for e in (s.start, s.stop, s.step))
                self._forget(s.body, env)
                inner = dict(env)
                if isinstance(s, ir.For) and uniform:
                    self._loops[s.var.name] = s
                    inner[s.var.name] = Form(atoms=((1, s.var),))
                if isinstance(s, ir.While):        # the condition also runs after each iteration
                    self._exprs(ir.Evaluate(s.cond), inner)
                self._walk(s.body, inner)
                self._forget(s.body, env)

    def _forget(self, stmts: tuple[ir.Stmt, ...], env: dict[str, Form]) -> None:
        for n in walk_body(stmts):
            if isinstance(n, ir.Assign):
                env.pop(n.target.name, None)
        # a form naming a variable of a loop inside ``stmts`` (through a uniform atom) no longer holds
        names = {n.var.name for n in walk_body(stmts) if isinstance(n, ir.For)}
        if names:
            for k in [k for k, f in env.items() if any(_names(e) & names for _, e in f.atoms)]:
                del env[k]

    def _exprs(self, s: ir.Stmt, env: dict[str, Form]) -> None:
        """The forms of the accesses directly in ``s`` (not in nested statement lists)."""
        todo: list[object] = []
        if isinstance(s, ir.If):
            todo = [s.cond]
        elif isinstance(s, ir.For):
            todo = [s.start, s.stop, s.step]
        elif not isinstance(s, ir.DeclArray):
            todo = [s]
        for root in todo:
            for n in walk(root):
                if isinstance(n, ir.Binary) and n.op in _COMPARE and _is_i64(n.lhs) and _is_i64(n.rhs):
                    a, b = self.form(n.lhs, env), self.form(n.rhs, env)
                    if a is not None and b is not None:
                        self._compare.setdefault(id(n), (a, b))
                if isinstance(n, (ir.Load, ir.Store, ir.Atomic)) and id(n) not in self._access:
                    forms = tuple(self.form(i, env) for i in n.indices)
                    self._access[id(n)] = None if any(f is None for f in forms) else forms  # type: ignore[assignment]
                if isinstance(n, (ir.If, ir.For, ir.While)):
                    break

    # -- forms ------------------------------------------------------------------------------------
    def form(self, e: ir.Expr, env: dict[str, Form]) -> Form | None:
        """The affine form of the int64 expression ``e`` under ``env``, or None."""
        if not _is_i64(e):
            return None
        if isinstance(e, ir.Const):
            return Form(const=_wrap(int(e.value)))
        if isinstance(e, ir.IndexQuery):
            kind = LANE_IDS.get(e.op)
            return Form(lanes=((kind, e.dim, 1),)) if kind else Form(atoms=((1, e),))
        if isinstance(e, ir.Shape):
            return Form(atoms=((1, e),))
        if isinstance(e, ir.Var):
            if e.name in env:
                return env[e.name]
            if e.name in self._params and e.name not in self._assigned:
                return Form(atoms=((1, e),))
            return None
        if isinstance(e, ir.Cast):
            return self.form(e.value, env)
        if isinstance(e, ir.Unary) and e.op is ir.Op.NEG:
            f = self.form(e.operand, env)
            return None if f is None else f.scale(-1)
        if isinstance(e, ir.Binary):
            a, b = self.form(e.lhs, env), self.form(e.rhs, env)
            if a is None or b is None:
                return None
            if e.op is ir.Op.ADD:
                return a + b
            if e.op is ir.Op.SUB:
                return a + b.scale(-1)
            if e.op is ir.Op.MUL and (a.is_const or b.is_const):
                return a.scale(b.const) if b.is_const else b.scale(a.const)
            if e.op is ir.Op.SHL and b.is_const and 0 <= b.const < 64:
                return a.scale(1 << b.const)
        # anything else uniform (a shift by a loop variable, a min of shapes...) is an atom
        return self._atom(e, env)

    def _atom(self, e: ir.Expr, env: dict[str, Form]) -> Form | None:
        """``e`` (uniform) as an atom, its variables replaced by what they are here: a variable
        inside the atom must be a loop variable, a parameter or one ``env`` resolves."""
        sub = _substitute(e, env, self)
        return None if sub is None else Form(atoms=((1, sub),))


def _names(e: ir.Expr) -> set[str]:
    return {n.name for n in walk(e) if isinstance(n, ir.Var)}


def _substitute(e: ir.Expr, env: dict[str, Form], ix: AffineIndex) -> ir.Expr | None:
    """``e`` with every variable replaced by an expression of atoms that hold everywhere it may
    be evaluated (loop variables, unassigned parameters); None when a variable has none."""
    if isinstance(e, ir.Var):
        if e.name in ix._loops and e.name not in ix._assigned:
            return e
        if e.name in ix._params and e.name not in ix._assigned:
            return e
        f = env.get(e.name)
        if f is None or not f.uniform:
            return None
        return _rebuild(f)
    if isinstance(e, (ir.Const, ir.Shape)) or (isinstance(e, ir.IndexQuery) and e.op not in LANE_IDS):
        return e
    if isinstance(e, ir.Binary):
        a, b = _substitute(e.lhs, env, ix), _substitute(e.rhs, env, ix)
        return None if a is None or b is None else ir.Binary(e.op, a, b, e.type)
    if isinstance(e, ir.Unary):
        a = _substitute(e.operand, env, ix)
        return None if a is None else ir.Unary(e.op, a, e.type)
    if isinstance(e, ir.Cast):
        a = _substitute(e.value, env, ix)
        return None if a is None else ir.Cast(a, e.type)
    if isinstance(e, ir.Call):
        args = [_substitute(x, env, ix) for x in e.args]
        return None if any(a is None for a in args) else ir.Call(e.op, tuple(args), e.type)  # type: ignore[arg-type]
    if isinstance(e, ir.Select):
        cond, then, orelse = (_substitute(x, env, ix) for x in (e.cond, e.then, e.orelse))
        return None if cond is None or then is None or orelse is None else ir.Select(cond, then, orelse, e.type)
    return None


def _rebuild(f: Form) -> ir.Expr:
    """A uniform form as one int64 expression (its atoms are already substituted)."""
    out: ir.Expr = ir.Const(f.const, INT64)
    for c, e in f.atoms:
        term = e if c == 1 else ir.Binary(ir.Op.MUL, ir.Const(c, INT64), e, INT64)
        out = ir.Binary(ir.Op.ADD, out, term, INT64)
    return out
