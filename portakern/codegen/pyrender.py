"""The Python renderer shared by the ``numba`` and ``numba-cuda`` backends.

It turns typed IR expressions and statements into Python source over NumPy scalars that Numba
compiles (and that the CUDA simulator runs as plain Python). Every expression it renders has exactly
its IR type in Numba's typing: Numba promotes small integers to 64 bits and would otherwise drift from
the NumPy 2 types the front end decided, so results are cast back (``np.int32(...)``) wherever Numba
might widen. The numbers contract lives in ``pyprelude`` helpers (called by bare name: each backend's
prelude module provides them compiled for its target) and in the rules below.

A backend subclasses :class:`PyRenderer` and fills the hooks: index queries, return/break/continue,
barriers, array declarations and atomics; the kernel's outer structure (grid loops, phases) is the
backend's own. Names: user variables become ``v_<name>``, arrays ``a_<name>``, internals ``_pk_*``, so
nothing a user writes can clash with ``np``, ``math`` or a helper; ``<name>`` is spelled by
:func:`portakern.codegen.names.py_name` (no ``__`` anywhere, which Numba's parallel lowering needs).
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import cast

from ..errors import CompileError
from ..ir import nodes as ir
from ..ir import optable
from ..ir.visit import access_sites
from ..types import ScalarType
from .bounds_facts import proven_in_bounds
from .names import py_name
from .pysource import PySource

Op = ir.Op

_CMP = {Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=", Op.EQ: "==", Op.NE: "!="}
_ARITH = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*"}
_BITS = {Op.AND: "&", Op.OR: "|", Op.XOR: "^"}


def prelude_digest(*files: Path) -> str:
    """A short hash of the helper modules a generated kernel imports. Rendered into the kernel's
    source, it changes the module's name when a prelude changes, so Numba's on-disk cache (keyed by
    the kernel file alone) never serves machine code built against old helpers."""
    h = hashlib.sha256()
    for f in (Path(__file__).with_name("pyprelude.py"), *files):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def check_tuple(idx: list[str]) -> str:
    """The index tuple a bounds check receives: every index as int64, so the tuple is homogeneous
    (Numba types a ``prange`` variable as uint64 and cannot index a mixed tuple by a loop counter)."""
    return "(" + ", ".join(f"np.int64({i})" for i in idx) + ("," if len(idx) == 1 else "") + ")"


_HALF = {"float16": "f16", "bfloat16": "bf16"}


def np_type(t: ScalarType) -> str:
    """The NumPy scalar constructor naming ``t`` in generated code (``np.float32``)."""
    return "np.bool_" if t.is_bool else f"np.{t.name}"


def const(value: bool | int | float, t: ScalarType) -> str:
    """A typed literal: ``np.float32(1.5)``, ``np.int64(-3)``, ``True``."""
    if t.is_bool:
        return "True" if value else "False"
    if t.is_float:
        v = float(value)
        if math.isnan(v):
            text = "np.nan"
        elif math.isinf(v):
            text = "np.inf" if v > 0 else "-np.inf"
        else:
            text = repr(v)
        return f"{np_type(t)}({text})"
    return f"{np_type(t)}({int(value)})"


def _scalar(e: ir.Expr) -> ScalarType:
    """The scalar type of an operand (the front end never passes an array where a value goes)."""
    return cast(ScalarType, e.type)


#: math calls every Python backend renders through Python's ``abs`` and the prelude's fmin/fmax/imin/imax
PRELUDE_MATH = frozenset({Op.ABS, Op.MIN, Op.MAX})


class PyRenderer:
    """Expressions and item-level statements of one kernel as Python source.

    ``math_templates`` maps a math op to a format string over its arguments (``{0}``, ``{1}``...) and
    ``{T}`` (the argument's NumPy type); the result is cast to the call's type. Its defaults are the op
    table's ``py`` spellings; ABS/MIN/MAX render through the prelude (``PRELUDE_MATH``). Subclasses
    override it and the hook methods.
    """

    math_templates: dict[Op, str] = {s.op: s.py for s in optable.CALLS if s.py}
    #: math calls this backend cannot render (a CompileError naming op and backend)
    unsupported_math: frozenset[Op] = frozenset()
    #: (op, argument type name) -> a template used instead of ``math_templates`` for that type
    typed_math: dict[tuple[Op, str], str] = {}
    backend = "Python"

    def __init__(self, kernel: ir.Kernel) -> None:
        self.kernel = kernel
        self.sites = access_sites(kernel) if kernel.checks_bounds else {}
        # accesses their guards prove in bounds (codegen/bounds_facts.py): rendered without a check
        self.proven = proven_in_bounds(kernel) if self.sites else frozenset()
        self._steps = 0       # names run-time loop steps: a counter, so the source is the same in every process

    # ------------------------------------------------------------------ hooks for backends
    def index_query(self, q: ir.IndexQuery) -> str:
        """An index query's value (int64)."""
        raise NotImplementedError

    def var(self, name: str) -> str:
        """How a scalar variable is read and written."""
        return f"v_{py_name(name)}"

    def array(self, name: str) -> str:
        """The Python name of an array."""
        return f"a_{py_name(name)}"

    def element(self, arr: ir.ArrayRef, indices: list[str]) -> str:
        """``array[indices]`` as an lvalue/rvalue."""
        return f"{self.array(arr.name)}[{', '.join(indices)}]"

    def atomic(self, a: ir.Atomic, indices: list[str], value: str) -> str:
        """An atomic RMW returning the old value."""
        raise NotImplementedError

    def emit_return(self, src: PySource) -> None:
        raise NotImplementedError

    def emit_break(self, src: PySource) -> None:
        src.line("break")

    def emit_continue(self, src: PySource) -> None:
        src.line("continue")

    def emit_barrier(self, src: PySource) -> None:
        raise NotImplementedError

    def emit_decl(self, d: ir.DeclArray, src: PySource) -> None:
        raise NotImplementedError

    def emit_for(self, s: ir.For, src: PySource, body: Callable[[], None]) -> None:
        """``for`` with the IR's bounds semantics (step 0 runs zero times); ``body()`` emits the body."""
        start, stop, step = self.expr(s.start), self.expr(s.stop), self.expr(s.step)
        if isinstance(s.step, ir.Const) and s.step.value != 0:
            header = f"for {self.var(s.var.name)} in range({start}, {stop}, {step})"
        else:
            st = f"_pk_step{self._steps}"
            self._steps += 1
            src.line(f"{st} = {step}")
            header = (f"for {self.var(s.var.name)} in range({start}, ({stop}) if {st} != 0 else ({start}), "
                      f"{st} if {st} != 0 else np.int64(1))")
        with src.block(header):
            body()

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> str:
        """Python source for ``e``, typed exactly ``e.type`` under Numba."""
        method = getattr(self, "_e_" + type(e).__name__, None)
        if method is None:
            raise CompileError(f"the Python renderer has no rule for {type(e).__name__}")
        return method(e)

    def _e_Const(self, e: ir.Const) -> str:
        return const(e.value, e.type)

    def _e_Var(self, e: ir.Var) -> str:
        return self.var(e.name)

    def _e_ArrayRef(self, e: ir.ArrayRef) -> str:
        return self.array(e.name)

    def _e_IndexQuery(self, e: ir.IndexQuery) -> str:
        return self.index_query(e)

    def _e_Shape(self, e: ir.Shape) -> str:
        return f"np.int64({self.array(e.array.name)}.shape[{e.dim}])"

    def _e_Select(self, e: ir.Select) -> str:
        return f"({self.expr(e.then)} if {self.expr(e.cond)} else {self.expr(e.orelse)})"

    def _e_Binary(self, e: ir.Binary) -> str:
        a, b, t, op = self.expr(e.lhs), self.expr(e.rhs), e.type, e.op
        T = np_type(t)
        lt = _scalar(e.lhs)
        if op in _CMP:
            return f"({a} {_CMP[op]} {b})"
        if op is Op.LAND:
            return f"({a} and {b})"
        if op is Op.LOR:
            return f"({a} or {b})"
        if op in _BITS:
            return f"({a} {_BITS[op]} {b})" if t.is_bool else f"{T}({a} {_BITS[op]} {b})"
        if t.is_float:
            if op in _ARITH or op is Op.DIV:
                return f"({a} {'/' if op is Op.DIV else _ARITH[op]} {b})"
            name = {Op.FLOORDIV: "floordiv", Op.MOD: "mod", Op.POW: None}[op]
            if name is None:
                return f"{T}(math.pow({a}, {b}))"
            return f"{name}_f{t.bits}({a}, {b})"
        if t.is_bool:  # bool arithmetic never reaches here from the front end; keep it total
            return f"(np.int64({a}) {_ARITH.get(op, '+')} np.int64({b}) != 0)"
        sfx = "i64" if t.is_signed else "u64"
        wide = "np.int64" if t.is_signed else "np.uint64"
        if op in _ARITH:
            return f"{T}(np.uint64({a}) {_ARITH[op]} np.uint64({b}))"
        if op in (Op.FLOORDIV, Op.MOD, Op.POW):
            name = {Op.FLOORDIV: "floordiv", Op.MOD: "mod", Op.POW: "pow"}[op]
            return f"{T}({name}_{sfx}({wide}({a}), {wide}({b})))"
        if op is Op.SHL:
            return f"{T}(shl_u64(np.uint64({a}), np.int64({b}), {lt.bits}))"
        if op is Op.SHR:
            return f"{T}(shr_{sfx}({wide}({a}), np.int64({b}), {lt.bits}))"
        raise CompileError(f"the Python renderer has no rule for {op.name} on {t}")

    def _e_Unary(self, e: ir.Unary) -> str:
        a, t = self.expr(e.operand), e.type
        T = np_type(t)
        if e.op is Op.NOT or (e.op is Op.INVERT and t.is_bool):
            return f"(not {a})"
        if e.op is Op.INVERT:
            return f"{T}(~{a})"
        if t.is_float:
            return f"(-{a})"
        return f"{T}(np.uint64(0) - np.uint64({a}))"

    def _e_Cast(self, e: ir.Cast) -> str:
        a, src, dst = self.expr(e.value), _scalar(e.value), e.type
        T = np_type(dst)
        if src == dst:
            return a
        if src.is_half or dst.is_half:      # half arrays are uint16 views (docs/backends/numba.md)
            return f"f32_from_{_HALF[src.name]}({a})" if src.is_half else f"{_HALF[dst.name]}_from_f32({a})"
        if dst.is_bool:
            return f"({a} != {const(0, src)})"
        if dst.is_float or src.is_int or src.is_bool:
            return f"{T}({a})"
        # float -> int: saturating, NaN -> 0
        if dst.name == "uint64":
            return f"f2u_u64(np.float64({a}))"
        lo, hi = dst.min, dst.max
        lo_edge = float(lo) if dst.is_signed else -1.0
        return f"{T}(f2i_i64(np.float64({a}), {lo_edge!r}, {float(hi) + 1.0!r}, {lo}, {hi}))"

    def _e_Call(self, e: ir.Call) -> str:
        args = [self.expr(a) for a in e.args]
        t = e.type
        T = np_type(t)
        op = e.op
        if op is Op.ABS:       # PRELUDE_MATH: abs, min and max through Python's and the prelude's
            if t.is_float:
                return f"abs({args[0]})"
            return f"{T}(abs_i64(np.int64({args[0]})))" if t.is_signed else args[0]
        if op in (Op.MIN, Op.MAX):
            name = ("fmin" if op is Op.MIN else "fmax") if t.is_float else ("imin" if op is Op.MIN else "imax")
            return f"{name}({args[0]}, {args[1]})"
        arg_t = _scalar(e.args[0])
        template = self.typed_math.get((op, arg_t.name)) or self.math_templates.get(op)
        if template is None or op in self.unsupported_math:
            raise optable.unsupported(op, self.backend)
        text = template.format(*args, T=np_type(arg_t))
        return text if t.is_bool else f"{T}({text})"

    def _e_Load(self, e: ir.Load) -> str:
        idx = [self.expr(i) for i in e.indices]
        ref = self.element(e.array, idx)
        if not self.sites:
            return ref
        zero = "np.uint16(0)" if e.type.is_half else const(0, e.type)
        return f"({ref} if {self.check(e, idx)} else {zero})"

    def _e_Atomic(self, e: ir.Atomic) -> str:
        idx = [self.expr(i) for i in e.indices]
        call = self.atomic(e, idx, self.expr(e.value))
        if not self.sites:
            return call
        return f"({call} if {self.check(e, idx)} else {const(0, e.type)})"

    def check(self, node: ir.Load | ir.Store | ir.Atomic, idx: list[str]) -> str:
        """A bounds check that records the first failure in ``_pk_err`` and is False then."""
        if id(node) in self.proven:
            return "True"
        shape = f"{self.array(node.array.name)}.shape"
        return f"pk_check(_pk_err, {self.sites[id(node)].number}, {check_tuple(idx)}, {shape})"

    # ------------------------------------------------------------------ statements (item level)
    def stmts(self, body: tuple[ir.Stmt, ...], src: PySource) -> None:
        """Emit ``body`` for one work-item."""
        i = 0
        while i < len(body):
            fused = self._clamped_cast(body[i], body[i + 1]) if i + 1 < len(body) else None
            if fused is not None:       # ``v = int(f)`` then ``v = min(max(v, lo), hi)``: one statement
                src.line(fused)
                i += 2
                continue
            self.stmt(body[i], src)
            i += 1

    def _clamped_cast(self, first: ir.Stmt, second: ir.Stmt) -> str | None:
        """``v = int(f); v = min(max(v, lo), hi)`` (constant integral bounds, either nesting) as one
        assignment through the prelude's ``clamp_f2i``: the float is clamped and converted once, in
        range, instead of a saturating conversion and then an integer clamp (a histogram's bin). The
        results are the same for every ``f``, NaN and infinities included (see ``clamp_f2i``)."""
        if not (isinstance(first, ir.Assign) and isinstance(second, ir.Assign)
                and first.target.name == second.target.name and isinstance(first.value, ir.Cast)):
            return None
        conv, dst = first.value, first.target.type
        src_t = _scalar(conv.value)
        if not (src_t.is_float and not src_t.is_half and dst.is_int and dst.name != "uint64" and conv.type == dst):
            return None
        bounds = _clamp_bounds(second.value, first.target.name)
        if bounds is None:
            return None
        lo, hi = bounds
        exact = 1 << (24 if src_t.bits == 32 else 53)
        if not (dst.min <= lo <= hi <= dst.max and -exact <= lo and hi <= exact):
            return None
        nan = min(max(0, lo), hi)
        F = np_type(src_t)
        return (f"{self.var(first.target.name)} = {np_type(dst)}(clamp_f2i({self.expr(conv.value)}, "
                f"{F}({float(lo)!r}), {F}({float(hi)!r}), {nan}, {nan != lo}))")

    def stmt(self, s: ir.Stmt, src: PySource) -> None:
        """Emit one statement for one work-item."""
        method = getattr(self, "_s_" + type(s).__name__, None)
        if method is None:
            raise CompileError(f"the Python renderer has no rule for {type(s).__name__}")
        method(s, src)

    def _s_Assign(self, s: ir.Assign, src: PySource) -> None:
        src.line(f"{self.var(s.target.name)} = {self.expr(s.value)}")

    def _s_Store(self, s: ir.Store, src: PySource) -> None:
        idx = [self.expr(i) for i in s.indices]
        line = f"{self.element(s.array, idx)} = {self.expr(s.value)}"
        if self.sites:
            with src.block(f"if {self.check(s, idx)}"):
                src.line(line)
        else:
            src.line(line)

    def _s_Evaluate(self, s: ir.Evaluate, src: PySource) -> None:
        src.line(self.expr(s.value))  # an expression statement: no variable whose type could clash

    def _s_DeclArray(self, s: ir.DeclArray, src: PySource) -> None:
        self.emit_decl(s, src)

    def _s_If(self, s: ir.If, src: PySource) -> None:
        with src.block(f"if {self.expr(s.cond)}"):
            self.stmts(s.then, src)
        if s.orelse:
            with src.block("else"):
                self.stmts(s.orelse, src)

    def _s_For(self, s: ir.For, src: PySource) -> None:
        self.emit_for(s, src, lambda: self.stmts(s.body, src))

    def _s_While(self, s: ir.While, src: PySource) -> None:
        with src.block(f"while {self.expr(s.cond)}"):
            self.stmts(s.body, src)

    def _s_Break(self, s: ir.Break, src: PySource) -> None:
        self.emit_break(src)

    def _s_Continue(self, s: ir.Continue, src: PySource) -> None:
        self.emit_continue(src)

    def _s_Return(self, s: ir.Return, src: PySource) -> None:
        self.emit_return(src)

    def _s_Barrier(self, s: ir.Barrier, src: PySource) -> None:
        self.emit_barrier(src)


def _clamp_bounds(e: ir.Expr, name: str) -> tuple[int, int] | None:
    """(lo, hi) when ``e`` is ``min(max(name, lo), hi)`` or ``max(min(name, hi), lo)`` (either operand
    order) with integer constants, else None."""
    def split(c: ir.Expr, op: ir.Op) -> tuple[ir.Expr, int] | None:
        if not (isinstance(c, ir.Call) and c.op is op and len(c.args) == 2):
            return None
        a, b = c.args
        if isinstance(b, ir.Const) and type(b.value) is int:
            return a, b.value
        if isinstance(a, ir.Const) and type(a.value) is int:
            return b, a.value
        return None

    for outer, inner in ((ir.Op.MIN, ir.Op.MAX), (ir.Op.MAX, ir.Op.MIN)):
        o = split(e, outer)
        i = split(o[0], inner) if o is not None else None
        if o is None or i is None or not (isinstance(i[0], ir.Var) and i[0].name == name):
            continue
        lo, hi = (i[1], o[1]) if outer is ir.Op.MIN else (o[1], i[1])
        # max(min(v, hi), lo) with lo > hi gives lo everywhere: not a clamp, left as written
        return (lo, hi) if lo <= hi else None
    return None
