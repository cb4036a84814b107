"""The vectorising lowering shared by the ``numpy`` and ``jax`` backends.

A typed :class:`portakern.ir.Kernel` is executed over the WHOLE index space at once: every scalar
value is either a uniform scalar or an array of shape ``(N,)`` over the N work-items (linear id, last
ndrange dimension fastest). Divergent control flow becomes an active-lane mask; a loop runs while any
lane is active; ``break``/``continue``/``return`` clear lanes from masks. Barriers cost nothing: every
statement runs for all lanes in lockstep.

``render`` produces Python source (pure: no numpy or jax import) of the form::

    def build(C):                 # C(type_name, value) -> a typed scalar constant
        K0 = C('float32', 2.0)
        def kernel(ops, args):    # ops: the backend's lane operations (numpy or jax)
            ...
            return {'out': a_out}
        return kernel

The generated code is in state-passing style: every array write rebinds the array's name
(``a = ops.store(a, ...)``), so NumPy can update in place and JAX functionally; loops are nested
functions taking and returning their carried state, run by ``ops.for_range`` / ``ops.while_loop``
(Python loops on NumPy, ``lax.while_loop`` on JAX: the traced size never grows with the trip count).

Mask conventions of the generated code: a mask is ``True`` (every lane), ``False`` (no lane) or a
boolean lane array. ``ops.mand``/``ops.mandnot`` combine masks and return the Python constants when
they can tell (NumPy at run time, JAX at trace time), so ``if m is not False:`` skips dead code.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import CompileError
from ..ir import nodes as ir
from ..ir import optable
from ..ir.launch_local import launch_sized
from ..ir.visit import access_sites, children, walk, walk_body
from ..types import ArraySpace, ScalarType
from .affine import AffineIndex, Form
from .loopplan import plan_loop, plan_tree
from .names import comment_text
from .pysource import PySource
from .tiles import find_tiles

__all__ = ["render", "written_sites_safe"]

_PY_OPS = {ir.Op.ADD: "+", ir.Op.SUB: "-", ir.Op.MUL: "*", ir.Op.AND: "&", ir.Op.OR: "|", ir.Op.XOR: "^"}
_CMP = {ir.Op.LT: "lt", ir.Op.LE: "le", ir.Op.GT: "gt", ir.Op.GE: "ge", ir.Op.EQ: "eq", ir.Op.NE: "ne"}
_IDX = {ir.Op.GLOBAL_ID: "gid", ir.Op.LOCAL_ID: "lid", ir.Op.GROUP_ID: "grid", ir.Op.GLOBAL_SIZE: "gsize",
        ir.Op.LOCAL_SIZE: "lsize", ir.Op.NUM_GROUPS: "ngroups"}
#: element-wise ops a store can compute straight into its destination
_FUSED_STORE = {ir.Op.ADD: "add", ir.Op.SUB: "subtract", ir.Op.MUL: "multiply", ir.Op.DIV: "true_divide"}
#: math calls whose lowering depends on the type (the type name is passed as the last argument)
_TYPED_MATH = {ir.Op.MIN, ir.Op.MAX, ir.Op.ABS, ir.Op.FMA, ir.Op.ERF, ir.Op.ERFC}
#: the lane operation (a method of ``ops``) computing each math call: the op's kernel-language name
LANE_METHODS: dict[ir.Op, str] = {s.op: s.name for s in optable.CALLS}


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _stype(e: ir.Expr) -> ScalarType:
    """The scalar type of a value expression (array references never reach arithmetic)."""
    t = e.type
    if not isinstance(t, ScalarType):
        raise CompileError(f"an array is used as a value ({e})")
    return t


def _has(node: object, kinds: tuple[type, ...]) -> bool:
    return any(isinstance(n, kinds) for n in walk(node))


def _exits(stmts: tuple[ir.Stmt, ...], loop_level: bool) -> tuple[bool, bool]:
    """(has a Return anywhere, has a Break/Continue that targets the enclosing loop)."""
    ret = brk = False
    for s in stmts:
        if isinstance(s, ir.Return):
            ret = True
        elif isinstance(s, (ir.Break, ir.Continue)):
            brk = True
        elif isinstance(s, ir.If):
            r1, b1 = _exits(s.then, loop_level)
            r2, b2 = _exits(s.orelse, loop_level)
            ret, brk = ret or r1 or r2, brk or b1 or b2
        elif isinstance(s, (ir.For, ir.While)):
            r1, _ = _exits(s.body, True)
            ret = ret or r1
    return ret, brk


def _assigned(stmts: tuple[ir.Stmt, ...]) -> tuple[list[str], list[str]]:
    """(scalar variables, arrays) written anywhere inside ``stmts``, in first-write order."""
    vars_: dict[str, None] = {}
    arrays: dict[str, None] = {}
    for node in walk_body(stmts):
        if isinstance(node, (ir.Assign, ir.Subgroup)):
            vars_[node.target.name] = None
        elif isinstance(node, ir.For):
            vars_[node.var.name] = None
        elif isinstance(node, (ir.Store, ir.Atomic)):
            arrays[node.array.name] = None
        elif isinstance(node, ir.DeclArray):
            arrays[node.array.name] = None
    return list(vars_), list(arrays)


def _expr_order(e: object, in_loop: bool, out: list) -> None:
    for c in children(e):
        _expr_order(c, in_loop, out)
    if isinstance(e, (ir.Load, ir.Atomic)):
        out.append((e, in_loop))


def _exec_order(stmts: tuple[ir.Stmt, ...], in_loop: bool, out: list) -> None:
    """Array accesses of ``stmts`` in execution order, each with whether it sits in a loop."""
    for s in stmts:
        if isinstance(s, ir.If):
            _expr_order(s.cond, in_loop, out)
            _exec_order(s.then, in_loop, out)
            _exec_order(s.orelse, in_loop, out)
        elif isinstance(s, ir.For):
            for e in (s.start, s.stop, s.step):
                _expr_order(e, in_loop, out)
            _exec_order(s.body, True, out)
        elif isinstance(s, ir.While):
            _expr_order(s.cond, True, out)
            _exec_order(s.body, True, out)
        else:
            for c in children(s):
                _expr_order(c, in_loop, out)
            if isinstance(s, ir.Store):
                out.append((s, in_loop))


def spins_on_atomics(kernel: ir.Kernel) -> bool:
    """True when a ``while`` loop of the kernel performs an atomic exchange or compare-and-swap (in
    its condition or body): a spin lock or a wait on a flag (see ``spin_wait_rows``)."""
    sync = (ir.Op.ATOMIC_CAS, ir.Op.ATOMIC_XCHG)
    return any(isinstance(loop, ir.While) and any(isinstance(n, ir.Atomic) and n.op in sync for n in walk(loop))
               for stmt in kernel.body for loop in walk(stmt))


def spin_wait_rows(kernel: ir.Kernel, workgroup: tuple[int, ...]) -> int:
    """Rows of the first ndrange dimension one step of a vectorised launch may hold when the kernel
    spins on an atomic (``spins_on_atomics``: a spin lock, a flag).

    Lanes run in lockstep: a lane that takes a lock waits at the end of the spin loop for the lanes
    still spinning, which wait for it to release the lock, forever (as on a GPU without independent
    thread scheduling). Such kernels run one step at a time, in increasing ids: one row (one
    work-item of a 1-D launch) per step, or one row of work-groups when work-items share a group
    (barriers, local memory), so a lock taken by one work-item, or by one work-group, is released
    before the next step spins on it (docs/language.md, "Atomics and locks")."""
    return int(workgroup[0]) if kernel.uses_barrier or kernel.uses_local or kernel.uses_subgroup else 1


def written_sites_safe(kernel: ir.Kernel) -> bool:
    """True when no access can fail after the kernel's first write to a global array: at most one
    Store/Atomic site on a global array, outside every loop, and it is the last access executed.
    Then a failed bounds check never leaves a partial write behind (every access checks before it
    writes), so the NumPy backend may write straight into the caller's arrays without a copy."""
    order: list = []
    _exec_order(kernel.body, False, order)
    writes = [(n, loop) for n, loop in order
              if isinstance(n, (ir.Store, ir.Atomic)) and n.array.type.space == ArraySpace.GLOBAL]
    if not writes:
        return True
    return len(writes) == 1 and not writes[0][1] and order[-1][0] is writes[0][0]


class _Renderer:
    def __init__(self, kernel: ir.Kernel, affine: bool = False) -> None:
        self.k = kernel
        self.backend = "numpy"
        self.unsupported: frozenset[ir.Op] = frozenset()
        #: the index forms passed to loads and stores as ``aff=`` (codegen/affine.py), or None
        self.affine = AffineIndex(kernel) if affine else None
        #: reads of local tiles with their forwarded values (codegen/tiles.py), by id of the Load
        self.tiles = find_tiles(kernel, self.affine) if self.affine is not None else {}
        self.site_of: dict[int, int] = {}       # a forwarded load -> the tile read's site
        #: assignments that start an iteration-local variable of a ``while`` body (not carried)
        self.fresh: set[int] = set()
        self.bounds: dict[str, list[str]] = {}     # loop variable -> its loop's bound temporaries
        self.src = PySource()
        self.consts: dict[tuple[str, str], str] = {}
        self.sites = access_sites(kernel)
        self.loops: list[tuple[str, str]] = []   # (loop-live mask, iteration mask) per enclosing loop
        self.has_return = any(isinstance(n, ir.Return) for n in walk_body(kernel.body))
        #: arrays the kernel writes: loads from them must copy (a later store must not show through)
        self.mutable = set(_assigned(kernel.body)[1]) | set(kernel.written)

    # -- names -------------------------------------------------------------------------------------
    def var(self, name: str) -> str:
        return "v_" + _ident(name)

    def arr(self, name: str) -> str:
        return "a_" + _ident(name)

    def tmp(self, prefix: str = "_t") -> str:
        return self.src.fresh(prefix)

    def const(self, value: object, tname: str) -> str:
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            text = f"float('{value}')"
        else:
            text = repr(value)
        key = (tname, text)
        if key not in self.consts:
            self.consts[key] = f"K{len(self.consts)}"
        return self.consts[key]

    # -- kernel ------------------------------------------------------------------------------------
    def render(self) -> str:
        body = PySource()
        self.src = body
        k = self.k
        with body.block("def kernel(ops, args)"):
            names = [self.arr(p.name) if isinstance(p.type, ir.ArrayType) else self.var(p.name)
                     for p in k.params]
            if names:
                body.line(f"({', '.join(names)},) = args")
            params = {p.name for p in k.params}
            for v in k.locals:
                if v.name not in params:
                    body.line(f"{self.var(v.name)} = {self.const(0, v.type.name)}")
            if self.has_return:
                body.line("alive = True")
            self.block(k.body, "True")
            written = ", ".join(f"{n!r}: {self.arr(n)}" for n in k.written)
            body.line(f"return {{{written}}}")
        out = PySource()
        out.line(f"# portakern vectorised kernel {comment_text(k.name)} (numpy/jax lane operations)")
        with out.block("def build(C)"):
            for (tname, text), cname in self.consts.items():
                out.line(f"{cname} = C({tname!r}, {text})")
            out.lines(body.render())
            out.line("return kernel")
        return out.render()

    # -- statements --------------------------------------------------------------------------------
    def block(self, stmts: tuple[ir.Stmt, ...], m: str) -> None:
        """Emit ``stmts`` under mask ``m``; exits clear lanes, and dead code after one is dropped."""
        for s in stmts:
            if isinstance(s, (ir.Return, ir.Break, ir.Continue)):
                self.exit(s, m)
                return
            self.stmt(s, m)
            if isinstance(s, (ir.If, ir.For, ir.While)):
                ret, brk = _exits(s.then + s.orelse if isinstance(s, ir.If) else s.body,
                                  not isinstance(s, ir.If))
                if isinstance(s, (ir.For, ir.While)):
                    brk = False
                if ret or brk:
                    m = self.refresh(m, ret)

    def refresh(self, m: str, ret: bool) -> str:
        new = self.tmp("_m")
        if self.loops:
            lv, it = self.loops[-1]
            if ret:
                self.src.line(f"{lv} = ops.mand({lv}, alive)")
                self.src.line(f"{it} = ops.mand({it}, alive)")
            self.src.line(f"{new} = ops.mand({m}, {it})")
        else:
            self.src.line(f"{new} = ops.mand({m}, alive)")
        return new

    def exit(self, s: ir.Stmt, m: str) -> None:
        line = self.src.line
        if isinstance(s, ir.Return):
            line(f"alive = ops.mandnot(alive, {m})")
            if self.loops:
                lv, it = self.loops[-1]
                line(f"{lv} = ops.mandnot({lv}, {m})")
                line(f"{it} = ops.mandnot({it}, {m})")
            return
        if not self.loops:
            raise CompileError(f"'{type(s).__name__.lower()}' outside a loop", getattr(s, "loc", None))
        lv, it = self.loops[-1]
        if isinstance(s, ir.Break):
            line(f"{lv} = ops.mandnot({lv}, {m})")
        line(f"{it} = ops.mandnot({it}, {m})")

    def stmt(self, s: ir.Stmt, m: str) -> None:
        line = self.src.line
        if isinstance(s, ir.Assign):
            val = self.expr(s.value, m)
            tgt = self.var(s.target.name)
            plain = m == "True" or id(s) in self.fresh
            line(f"{tgt} = {val}" if plain else f"{tgt} = ops.merge({m}, {val}, {tgt})")
        elif isinstance(s, ir.Store):
            a = self.arr(s.array.name)
            idx = self.indices(s.array, s.indices, m)
            v = s.value
            aff = self.aff(s)
            if (isinstance(v, ir.Binary) and v.op in _FUSED_STORE and not v.type.is_bool
                    and not _has(v, (ir.Atomic,)) and not aff):
                # the last operation writes straight into the destination (NumPy: ufunc out=)
                lhs, rhs = self.expr(v.lhs, m), self.expr(v.rhs, m)
                line(f"{a} = ops.store_op({_FUSED_STORE[v.op]!r}, {a}, {idx}, {lhs}, {rhs}, {m}, "
                     f"{self.site(s)}, {self.pre(s.array)})")
                return
            val = self.expr(v, m)
            line(f"{a} = ops.store({a}, {idx}, {val}, {m}, {self.site(s)}, {self.pre(s.array)}{aff})")
        elif isinstance(s, ir.Evaluate):
            if isinstance(s.value, ir.Atomic):
                self.atomic(s.value, m, old=False)      # its old values are not used
            else:
                line(f"_ = {self.expr(s.value, m)}")
        elif isinstance(s, ir.DeclArray):
            t = s.array.type
            kind = "local_array" if t.space == ArraySpace.LOCAL else "private_array"
            shape = repr(tuple(t.shape or ()))
            if s.size is not None:          # sized at launch: the k-th such array, ``size`` elements
                k = [d.array.name for d in launch_sized(self.k)].index(s.array.name)
                shape = f"(ops.launch_size({k}, {self.expr(s.size, m)}),)"
            line(f"{self.arr(s.array.name)} = ops.{kind}({t.dtype.name!r}, {shape})")
        elif isinstance(s, ir.If):
            c = self.tmp("_c")
            line(f"{c} = {self.expr(s.cond, m)}")
            mt = self.tmp("_m")
            line(f"{mt} = ops.mand({m}, {c})")
            with self.src.block(f"if {mt} is not False"):
                self.block(s.then, mt)
            if s.orelse:
                me = self.tmp("_m")
                line(f"{me} = ops.mandnot({m}, {c})")
                with self.src.block(f"if {me} is not False"):
                    self.block(s.orelse, me)
        elif isinstance(s, ir.For):
            self.for_loop(s, m)
        elif isinstance(s, ir.While):
            self.while_loop(s, m)
        elif isinstance(s, ir.Barrier):
            line("pass  # barrier: lanes run in lockstep")
        elif isinstance(s, ir.Subgroup):
            val = self.expr(s.value, m)
            arg = "None" if s.arg is None else self.expr(s.arg, m)
            r = self.materialise(f"ops.subgroup({s.op.value!r}, {val}, {arg}, {s.target.type.name!r}, {m}, "
                                 f"{s.loc.line})")
            tgt = self.var(s.target.name)
            line(f"{tgt} = {r}" if m == "True" else f"{tgt} = ops.merge({m}, {r}, {tgt})")
        else:
            raise CompileError(f"the vectorising backends do not support {type(s).__name__}",
                               getattr(s, "loc", None))

    def carried(self, body: tuple[ir.Stmt, ...]) -> list[str]:
        vars_, arrays = _assigned(body)
        declared = {n.array.name for n in walk_body(body) if isinstance(n, ir.DeclArray)}
        names = [self.var(v) for v in vars_] + [self.arr(a) for a in arrays if a not in declared]
        if any(isinstance(n, ir.Return) for n in walk_body(body)):
            names.append("alive")
        return names

    def for_loop(self, s: ir.For, m: str) -> None:
        line = self.src.line
        bounds = []
        for e in (s.start, s.stop, s.step):
            t = self.tmp("_b")
            line(f"{t} = {self.expr(e, m)}")
            bounds.append(t)
        self.bounds[s.var.name] = bounds
        carried = [c for c in self.carried(s.body) if c != self.var(s.var.name)]
        fn, lv, it = self.tmp("_loop"), self.tmp("_lv"), self.tmp("_it")
        st = f"({', '.join(carried)},)" if carried else "()"
        wide, params = self.wide_plan(s, carried)
        with self.src.block(f"def {fn}({self.var(s.var.name)}, {lv}, _st{params})"):
            if carried:
                line(f"{st} = _st")
            line(f"{it} = {lv}")
            self.loops.append((lv, it))
            self.block(s.body, it)
            self.loops.pop()
            line(f"return {lv}, {st}")
        wide = wide or self.tree_plan(s, carried)
        if self.affine is not None and not any(isinstance(n, (ir.For, ir.While)) for n in walk_body(s.body)):
            wide += ", unroll=True"     # an innermost loop: the backend may unroll it
        ret, brk = _exits(s.body, True)
        exits = "True" if (ret or any(isinstance(n, ir.Break) for n in self.direct_breaks(s.body))) else "False"
        line(f"{st} = ops.for_range({m}, {', '.join(bounds)}, {fn}, {st}, {exits}{wide})")

    def tree_plan(self, s: ir.For, carried: list[str]) -> str:
        """The ``tree=`` argument of ``ops.for_range`` for a work-group tree reduction
        (loopplan.TreePlan): (op, type, position of the array in the state, a function of the loop
        variable giving the state's variables after that iteration and ``s``), else ""."""
        plan = plan_tree(s, self.k)
        if plan is None:
            return ""
        names = {self.var(a.target.name) for a in plan.prefix} | {self.arr(plan.array)}
        if set(carried) != names:
            return ""
        fn = self.tmp("_tree")
        with self.src.block(f"def {fn}({self.var(s.var.name)})"):
            for a in plan.prefix:
                self.stmt(a, "True")
            state = ", ".join("None" if c == self.arr(plan.array) else c for c in carried)
            self.src.line(f"return ({state},), {self.var(plan.s)}")
        spec = (plan.op, plan.tname, carried.index(self.arr(plan.array)), plan.swapped)
        return f", tree=({', '.join(map(repr, spec))}, {fn})"

    def wide_plan(self, s: ir.For, carried: list[str]) -> tuple[str, str]:
        """(the ``wide=`` argument of ``ops.for_range``, extra body parameters) for a loop whose
        iterations may run at once (loopplan.py), else ("", ""). The body then takes ``ops`` and
        the loop-invariant variables it reads as parameters (defaulting to the current ones), so a
        backend can run it over an iteration axis with its own lane operations and values."""
        plan = plan_loop(s)
        if plan is None:
            return "", ""
        kinds = {self.var(n): k for n, k in plan.kinds.items() if k != "array"}
        kinds.update({self.arr(n): k for n, k in plan.kinds.items() if k == "array"})
        if any(c not in kinds for c in carried):
            return "", ""
        free = [self.var(n) for n in plan.free]
        spec = tuple(kinds[c] for c in carried)
        values = "{" + ", ".join(f"{n!r}: {n}" for n in free) + "}"
        return f", wide=({spec!r}, {values})", "".join(f", {n}={n}" for n in ["ops"] + free)

    def direct_breaks(self, stmts: tuple[ir.Stmt, ...]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for s in stmts:
            if isinstance(s, ir.Break):
                out.append(s)
            elif isinstance(s, ir.If):
                out += self.direct_breaks(s.then) + self.direct_breaks(s.orelse)
        return out

    def iteration_locals(self, s: ir.While) -> dict[str, ir.Assign]:
        """Variables of a ``while`` body that are fresh in every iteration and dead outside it:
        the body's first top-level statement that mentions one assigns it (unconditionally, from
        other values), and nothing outside the body (its condition included) reads it. Their
        values from an earlier iteration, or in lanes that are not live, are never observed, so
        the loop need not carry them (one XLA fusion less per step on the jax backend)."""
        outside = {n.name for stmt in self.k.body for n in _walk_outside(stmt, s) if isinstance(n, ir.Var)}
        outside |= {n.name for n in walk(s.cond) if isinstance(n, ir.Var)}
        out: dict[str, ir.Assign] = {}
        seen: set[str] = set()
        for stmt in s.body:
            names = {n.name for n in walk(stmt) if isinstance(n, ir.Var)}
            if isinstance(stmt, ir.Assign) and stmt.target.name not in seen | outside and not any(
                    isinstance(n, ir.Var) and n.name == stmt.target.name for n in walk(stmt.value)):
                out[stmt.target.name] = stmt
            seen |= names | ({stmt.target.name} if isinstance(stmt, ir.Assign) else set())
        return out

    def while_loop(self, s: ir.While, m: str) -> None:
        line = self.src.line
        carried = self.carried(s.body + (ir.Evaluate(s.cond),))   # the condition may hold an atomic
        if self.affine is not None:
            fresh = self.iteration_locals(s)
            self.fresh |= {id(a) for a in fresh.values()}
            carried = [c for c in carried if c not in {self.var(n) for n in fresh}]
        fn, lv, it = self.tmp("_loop"), self.tmp("_lv"), self.tmp("_it")
        st = f"({', '.join(carried)},)" if carried else "()"
        c0 = self.tmp("_c")
        line(f"{c0} = {self.expr(s.cond, m)}")
        line(f"{lv} = ops.mand({m}, {c0})")
        with self.src.block(f"def {fn}({lv}, _st)"):
            if carried:
                line(f"{st} = _st")
            line(f"{it} = {lv}")
            self.loops.append((lv, it))
            self.block(s.body, it)
            self.loops.pop()
            c1 = self.tmp("_c")
            line(f"{c1} = {self.expr(s.cond, lv)}")
            line(f"{lv} = ops.mand({lv}, {c1})")
            line(f"return {lv}, {st}")
        unroll = f", {WHILE_UNROLL}" if _scalar_loop(s) else ""
        line(f"{st} = ops.while_loop({lv}, {fn}, {st}, {s.loc.line}{unroll})")

    # -- expressions -------------------------------------------------------------------------------
    def site(self, node: object) -> int:
        return self.site_of[id(node)] if id(node) in self.site_of else self.sites[id(node)].number

    def tile_read(self, e: ir.Load, m: str) -> str:
        """A read of a local tile: ``ops.tile_read`` picks the forwarded value (tiles.py) or the
        read itself, by the launch's work-group and the read indices' ranges."""
        tr = self.tiles.pop(id(e))
        for n in walk(tr.value):
            if isinstance(n, ir.Load):
                self.site_of[id(n)] = self.site(e)
        fwd = self.expr(tr.value, m)
        plain = self.expr(e, m)
        self.tiles[id(e)] = tr
        forms = "".join(self.form_text(f) + ", " for f in tr.index)
        shape = tuple(e.array.type.shape or ())
        return f"ops.tile_read(lambda: {fwd}, lambda: {plain}, {tr.dims!r}, ({forms}), {shape!r})"

    def pre(self, a: ir.ArrayRef) -> int:
        return 0 if a.type.space == ArraySpace.GLOBAL else 1

    def indices(self, a: ir.ArrayRef, idx: tuple[ir.Expr, ...], m: str) -> str:
        parts = [self.expr(i, m) for i in idx]
        if a.type.space == ArraySpace.LOCAL:
            parts.insert(0, "ops.group_lin")
        elif a.type.space == ArraySpace.PRIVATE:
            parts.insert(0, "ops.lane")
        return "(" + ", ".join(parts) + ",)"

    def aff(self, node: ir.Load | ir.Store) -> str:
        """``, aff=(space, forms)`` for an access to a global or local array whose indices are all
        affine in the ids (codegen/affine.py), else "". Each form is ``(lane terms, constant,
        ((coef, value, bounds), ...))`` with the uniform atoms' values as expressions, and a loop
        variable's ``bounds`` the (start, stop, step) of its loop (None for other atoms)."""
        space = node.array.type.space
        forms = self.affine.index(node) if self.affine is not None else None
        if forms is None or space not in (ArraySpace.GLOBAL, ArraySpace.LOCAL):
            return ""
        parts = [self.form_text(f) for f in forms]
        kind = "g" if space == ArraySpace.GLOBAL else "l"
        return f", aff=({kind!r}, ({''.join(p + ', ' for p in parts)}))"

    def form_text(self, f: Form) -> str:
        atoms = []
        for c, e in f.atoms:
            loop = self.bounds.get(e.name) if isinstance(e, ir.Var) else None
            bounds = f"({', '.join(loop)})" if loop is not None else "None"
            atoms.append(f"({c}, {self.expr(e, 'True')}, {bounds}), ")
        return f"({f.lanes!r}, {f.const}, ({''.join(atoms)}))"

    def materialise(self, text: str) -> str:
        t = self.tmp()
        self.src.line(f"{t} = {text}")
        return t

    def needs_lanes(self, e: ir.Expr) -> bool:
        """An expression that must run under a narrower mask (it may fault or has effects)."""
        return _has(e, (ir.Load, ir.Atomic))

    def expr(self, e: ir.Expr, m: str) -> str:
        """Python source for ``e`` evaluated under mask ``m``; may emit statements first (atomics,
        lazily evaluated arms). Sub-expressions of one that holds an atomic are materialised in
        evaluation order so the atomic's effect is sequenced as written."""
        seq = _has(e, (ir.Atomic,)) and not isinstance(e, ir.Atomic)
        sub = (lambda x: self.materialise(self.expr(x, m))) if seq else (lambda x: self.expr(x, m))
        if isinstance(e, ir.Const):
            return self.const(e.value, e.type.name)
        if isinstance(e, ir.Var):
            return self.var(e.name)
        if isinstance(e, ir.IndexQuery):
            return f"ops.{_IDX[e.op]}[{e.dim}]"
        if isinstance(e, ir.Shape):
            return f"ops.dim({self.arr(e.array.name)}, {e.dim})"
        if isinstance(e, ir.Load) and id(e) in self.tiles:
            return self.tile_read(e, m)
        if isinstance(e, ir.Load):
            a = self.arr(e.array.name)
            fn = "load" if e.array.name in self.mutable else "load_view"
            return (f"ops.{fn}({a}, {self.indices(e.array, e.indices, m)}, {m}, {self.site(e)}, "
                    f"{self.pre(e.array)}{self.aff(e)})")
        if isinstance(e, ir.Atomic):
            return self.atomic(e, m)
        if isinstance(e, ir.Binary):
            if e.op in (ir.Op.LAND, ir.Op.LOR):
                return self.logic(e, m)
            a, b = sub(e.lhs), sub(e.rhs)
            ty = _stype(e.lhs)
            if e.op in _CMP:
                sides = self.affine.compare(e) if self.affine is not None else None
                if sides is not None:     # the backend may decide it from the ids' ranges
                    fa, fb = sides
                    forms = ", ".join(self.form_text(f) for f in (fa, fb, fa + fb.scale(-1)))
                    return f"ops.compare_affine({_CMP[e.op]!r}, {a}, {b}, ({forms}))"
                return f"ops.{_CMP[e.op]}({a}, {b})"
            if e.op is ir.Op.MUL and ty.is_float:
                return f"ops.fmul({a}, {b})"   # jax keeps products unfused (no FMA contraction)
            if e.op in (ir.Op.ADD, ir.Op.SUB) and ty.is_float:   # jax: XLA folds x + 0.0 to x
                return f"ops.{'fadd' if e.op is ir.Op.ADD else 'fsub'}({a}, {b})"
            if e.op in (ir.Op.ADD, ir.Op.SUB) and ty.is_int:   # jax tracks id +- uniform offset
                return f"ops.{'iadd' if e.op is ir.Op.ADD else 'isub'}({a}, {b})"   # (slices, not gathers)
            if e.op in _PY_OPS and not (ty.is_bool and e.op in (ir.Op.ADD, ir.Op.SUB, ir.Op.MUL)):
                return f"({a} {_PY_OPS[e.op]} {b})"
            if e.op is ir.Op.DIV:
                return f"ops.fdiv({a}, {b})"   # jax: XLA turns x / uniform into x * (1/uniform)
            name = {ir.Op.FLOORDIV: "floordiv", ir.Op.MOD: "mod", ir.Op.POW: "ipow", ir.Op.SHL: "shl",
                    ir.Op.SHR: "shr", ir.Op.ADD: "add", ir.Op.SUB: "sub", ir.Op.MUL: "mul"}[e.op]
            return f"ops.{name}({a}, {b}, {ty.name!r})"
        if isinstance(e, ir.Unary):
            a = sub(e.operand)
            if e.op is ir.Op.NOT or (e.op is ir.Op.INVERT and _stype(e.operand).is_bool):
                return f"ops.lnot({a})"
            if e.op is ir.Op.INVERT:
                return f"(~{a})"
            return f"(-{a})"
        if isinstance(e, ir.Call):
            args = [sub(x) for x in e.args]
            if e.op in _TYPED_MATH:
                args.append(repr(_stype(e.args[0]).name))
            if e.op in self.unsupported:
                raise optable.unsupported(e.op, self.backend)
            return f"ops.{LANE_METHODS[e.op]}({', '.join(args)})"
        if isinstance(e, ir.Cast):
            return f"ops.cast({sub(e.value)}, {_stype(e.value).name!r}, {e.type.name!r})"
        if isinstance(e, ir.Select):
            return self.select(e, m)
        raise CompileError(f"the vectorising backends do not support {type(e).__name__}")

    def atomic(self, e: ir.Atomic, m: str, old: bool = True) -> str:
        """Emit an atomic read-modify-write; the name of its old values. ``old=False`` tells the
        backend nobody reads them (jax then adds with one scatter instead of a sorted scan)."""
        a = self.arr(e.array.name)
        idx = self.indices(e.array, e.indices, m)
        cmp = None if e.compare is None else self.expr(e.compare, m)
        val = self.expr(e.value, m)
        t = self.tmp()
        flag = ("" if old else ", old=False") + ("" if cmp is None else f", cmp={cmp}")
        self.src.line(f"{t}, {a} = ops.atomic({e.op.value!r}, {a}, {idx}, {val}, {m}, "
                      f"{self.site(e)}, {self.pre(e.array)}{flag})")
        return t

    def logic(self, e: ir.Binary, m: str) -> str:
        land = e.op is ir.Op.LAND
        a = self.materialise(self.expr(e.lhs, m)) if self.needs_lanes(e.rhs) else self.expr(e.lhs, m)
        if not self.needs_lanes(e.rhs):
            return f"({a} {'&' if land else '|'} {self.expr(e.rhs, m)})"
        r, ms = self.tmp(), self.tmp("_m")
        self.src.line(f"{r} = {a}")
        self.src.line(f"{ms} = ops.{'mand' if land else 'mandnot'}({m}, {a})")
        with self.src.block(f"if {ms} is not False"):
            b = self.expr(e.rhs, ms)
            self.src.line(f"{r} = ({a} {'&' if land else '|'} {b})")
        return r

    def select(self, e: ir.Select, m: str) -> str:
        if not (self.needs_lanes(e.then) or self.needs_lanes(e.orelse)):
            c = self.expr(e.cond, m)
            return f"ops.where({c}, {self.expr(e.then, m)}, {self.expr(e.orelse, m)})"
        c = self.materialise(self.expr(e.cond, m))
        r, mt, me = self.tmp(), self.tmp("_m"), self.tmp("_m")
        self.src.line(f"{r} = {self.const(0, e.type.name)}")
        self.src.line(f"{mt} = ops.mand({m}, {c})")
        with self.src.block(f"if {mt} is not False"):
            self.src.line(f"{r} = ops.merge({mt}, {self.expr(e.then, mt)}, {r})")
        self.src.line(f"{me} = ops.mandnot({m}, {c})")
        with self.src.block(f"if {me} is not False"):
            self.src.line(f"{r} = ops.merge({me}, {self.expr(e.orelse, me)}, {r})")
        return r


#: iterations of a scalar ``while`` loop run per test of its live lanes (``ops.while_loop``'s ``unroll``)
WHILE_UNROLL = 2
#: the most IR nodes such a loop's body and condition may have (the body is traced that many times)
_UNROLL_NODES = 400
_NOT_SCALAR = (ir.Store, ir.Atomic, ir.For, ir.While, ir.Barrier, ir.Subgroup, ir.Return, ir.DeclArray)


def _scalar_loop(s: ir.While) -> bool:
    """A small loop that only computes scalars: no writes, atomics, nested loops, barriers or
    ``return`` (a masked-off extra iteration of it does nothing at all)."""
    nodes = [*walk_body(s.body), *walk(s.cond)]
    return len(nodes) <= _UNROLL_NODES and not any(isinstance(n, _NOT_SCALAR) for n in nodes)


def _walk_outside(node: object, skip: object) -> Iterator[object]:
    """The nodes under ``node`` (pre-order), except those of the subtree ``skip``."""
    if node is skip:
        return
    yield node
    for c in children(node):
        yield from _walk_outside(c, skip)


def render(kernel: ir.Kernel, backend: str = "numpy", unsupported: frozenset[ir.Op] = frozenset(),
           affine: bool = False) -> str:
    """Python source of ``build(C) -> kernel(ops, args)`` running ``kernel`` over all lanes at once.
    Pure: imports nothing, needs no device. Raises CompileError for a construct it cannot lower, and
    for a math call in ``unsupported`` (the calls ``backend``'s lane operations lack). ``affine``:
    pass each load and store the affine forms of its indices (``aff=``, see :meth:`_Renderer.aff`),
    for lane operations that turn them into slices."""
    r = _Renderer(kernel, affine)
    r.backend, r.unsupported = backend, unsupported
    return r.render()
