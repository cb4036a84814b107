"""The one C-family renderer: typed IR -> OpenCL C or CUDA C.

The two dialects differ only in data (type names, qualifiers, index builtins, atomics, pragmas),
which subclasses override — ``backends/portakern_opencl/render.py`` and
``backends/portakern_cuda/render.py``. Everything with meaning (the numbers contract, the index
mapping, padding guards, bounds checks) lives here and in :mod:`portakern.codegen.cprelude`.

The kernel's C parameters and their order are the ABI of :mod:`portakern.codegen.cabi`.

pk dimension ``d`` of a ``grid_ndim``-D launch is hardware dimension ``grid_ndim - 1 - d``, so the last
pk dimension (fastest in NumPy order) is hardware x.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import CompileError
from ..ir import nodes as ir
from ..ir import optable
from ..ir.launch_local import ALIGN, launch_sized
from ..ir.visit import access_sites, walk_body
from ..types import ArraySpace, ArrayType, ScalarType
from .bounds_facts import proven_in_bounds
from .builder import SourceBuilder
from .cabi import ENTRY_NAME, ERR_WORDS, launch_layout, mangle  # noqa: F401 - re-exported: the ABI
from .cbarrier import barriers_needing_global_fence
from .cprelude import Prelude
from .names import comment_text


class CFamilyRenderer:
    """Renders a typed :class:`portakern.ir.Kernel` to C-family source. Subclasses set the data."""

    dialect: ClassVar[str] = "C"
    backend: ClassVar[str] = "C"               # the backend's name, for errors
    #: how each math call renders: the libm function (float64 spelling; float32 adds ``f32_math_suffix``).
    #: Defaults from the op table; MIN/MAX render through the prelude (``PRELUDE_MATH``); a dialect lists
    #: the calls it cannot render in ``unsupported_math`` (a CompileError naming op and backend).
    math_names: ClassVar[dict[ir.Op, str]] = {s.op: s.c for s in optable.CALLS if s.c}
    unsupported_math: ClassVar[frozenset[ir.Op]] = frozenset()
    kernel_qual: ClassVar[str] = ""            # before ``void`` in the kernel's definition
    fn_qual: ClassVar[str] = "static inline"   # before each prelude helper
    type_names: ClassVar[dict[str, str]] = {}
    space_qual: ClassVar[dict[str, str]] = {}  # pointer qualifiers per ArraySpace ("__global ")
    local_decl: ClassVar[str] = ""             # qualifier of a work-group array declaration
    #: local arrays sized at launch: True passes each as a kernel parameter (OpenCL ``__local``
    #: arguments); False carves them from the one dynamic block ``dynamic_local`` declares (CUDA)
    local_args: ClassVar[bool] = False
    dynamic_local: ClassVar[str] = ""
    #: a ``pk.constant`` array: its pointer's qualifier where it is in constant memory (OpenCL
    #: ``__constant ``), and what follows the ``*`` of a read-only one (CUDA `` __restrict__``)
    constant_qual: ClassVar[str] = ""
    readonly_restrict: ClassVar[str] = ""
    index_templates: ClassVar[dict[ir.Op, str]] = {}   # "{h}" is the hardware dimension
    hw_dims: ClassVar[tuple[str, ...]] = ("0", "1", "2")
    barrier: ClassVar[str] = ""                # a barrier with local and global memory fences
    barrier_local: ClassVar[str] = ""          # one that fences only work-group memory (cheaper)
    pack_dims: ClassVar[bool] = False          # extents in one by-value struct (see the module doc)
    header: ClassVar[tuple[str, ...]] = ()     # first lines (pragmas)
    fp64_pragmas: ClassVar[tuple[str, ...]] = ()
    atomic64_pragmas: ClassVar[tuple[str, ...]] = ()
    f32_math_suffix: ClassVar[str] = ""        # "f" where float math is sqrtf, expf...
    overloaded_math: ClassVar[frozenset[str]] = frozenset({"isnan", "isinf", "isfinite", "signbit"})
    specials: ClassVar[dict[tuple[str, str], str]] = {}   # (type, "inf"/"nan") -> expression
    int64_suffix: ClassVar[str] = "L"
    #: (op, type) -> template over {p}, {v}, {T}; or (macro, template) to use it only where defined
    native_atomics: ClassVar[dict[tuple[str, str], object]] = {}
    cas: ClassVar[dict[int, str]] = {}         # bits -> compare-and-swap template over {p}, {cmp}, {val}
    bitcast: ClassVar[dict[str, tuple[str, str]]] = {}  # float type -> (to bits, from bits) over {x}
    atomic_volatile: ClassVar[str] = "volatile "
    #: a full memory fence (a C statement) around compare-and-swap and exchange, which build locks
    atomic_fence: ClassVar[str] = ""
    #: native sub-group operations: op -> template over {v} (the value, as a 32/64-bit type) and {a}
    #: (the int64 lane argument); a dialect without them lowers ``ir.Subgroup`` before rendering
    subgroup_templates: ClassVar[dict[ir.Op, str]] = {}

    # -- data helpers the prelude uses ----------------------------------------------------------
    def ctype(self, t: ScalarType) -> str:
        """The C name of a scalar type as a value (bool is ``bool``; a half type is its uint16 bits)."""
        return self.type_names["uint16" if t.is_half else t.name]

    def ctype_name(self, name: str) -> str:
        """The C name of the scalar type called ``name``."""
        return self.type_names[name]

    def storage(self, t: ScalarType) -> str:
        """The C element type of an array of ``t`` (bool is stored as an unsigned byte)."""
        return self.type_names["uint8"] if t.is_bool else self.ctype(t)

    def wide_unsigned(self, t: ScalarType) -> str:
        """The unsigned type integer arithmetic on ``t`` runs in (no promotion to signed int)."""
        return self.type_names["uint64" if t.bits == 64 else "uint32"]

    def mathfn(self, name: str, t: ScalarType) -> str:
        """The C function computing math ``name`` on ``t``."""
        if t.name == "float32" and name not in self.overloaded_math:
            return name + self.f32_math_suffix
        return name

    def bitcasts(self, t: ScalarType) -> tuple[str, str]:
        """Templates (over ``{x}``) reinterpreting ``t`` as its unsigned bit pattern and back."""
        if t.is_float:
            return self.bitcast[t.name]
        B = self.type_names[f"uint{t.bits}"]
        return (f"({B})({{x}})", f"({self.ctype(t)})({{x}})")

    def wrap(self, sym: str, t: ScalarType, a: str, b: str | None = None) -> str:
        """Integer ``a sym b`` (or unary ``-a``) wrapping, in unsigned arithmetic and cast back."""
        T, U = self.ctype(t), self.wide_unsigned(t)
        if b is None:
            return f"(({T})(0u - ({U})({a})))"
        if not t.is_signed and t.bits >= 32:
            return f"({a} {sym} {b})"
        return f"(({T})(({U})({a}) {sym} ({U})({b})))"

    def const(self, value: bool | int | float, t: ScalarType) -> str:
        """A literal of type ``t`` that the C compiler reads back exactly."""
        if t.is_bool:
            return "true" if value else "false"
        if t.is_int:
            v = int(value)
            T = self.ctype(t)
            if t.name == "int64":
                return f"(-9223372036854775807{self.int64_suffix} - 1{self.int64_suffix})" \
                    if v == -2 ** 63 else (f"({v}{self.int64_suffix})" if v < 0 else f"{v}{self.int64_suffix}")
            if t.name == "int32":
                return "(-2147483647 - 1)" if v == -2 ** 31 else (f"({v})" if v < 0 else str(v))
            if t.name == "uint64":
                return f"{v}U{self.int64_suffix}"
            if t.name == "uint32":
                return f"{v}u"
            return f"(({T}){v})"
        f = float(value)
        if np.isnan(f) or np.isinf(f):
            e = self.specials[(t.name, "nan" if np.isnan(f) else "inf")]
            return e if not (np.isinf(f) and f < 0) else f"(-{e})"
        if t.name == "float32":
            text = str(np.float32(f))
            text = text if any(c in text for c in ".e") else text + ".0"
            text += "f"
        else:
            text = repr(f)
        return f"({text})" if text.startswith("-") else text

    def render(self, kernel: ir.Kernel) -> str:
        """The source of ``kernel`` in this dialect. Pure: no framework, no device."""
        return _KernelEmitter(self, kernel).emit()

    def entry_name(self, kernel: ir.Kernel) -> str:
        """The C name of the kernel function: always ``ENTRY_NAME`` (the Python name can clash)."""
        return ENTRY_NAME

    def index(self, op: ir.Op, hw: int) -> str:
        """The builtin expression for index query ``op`` in hardware dimension ``hw`` (int64)."""
        return self.index_templates[op].format(h=self.hw_dims[hw], L=self.type_names["int64"])


class _KernelEmitter:
    """Renders one kernel: statements through the block builder, expressions as strings."""

    def __init__(self, r: CFamilyRenderer, kernel: ir.Kernel) -> None:
        self.r, self.k = r, kernel
        self.b = SourceBuilder()
        self.pre = Prelude(r)
        self.sites = access_sites(kernel) if kernel.checks_bounds else {}
        # accesses their guards prove in bounds (codegen/bounds_facts.py): rendered without a check
        self.proven = proven_in_bounds(kernel) if self.sites else frozenset()
        self.names: dict[str, str] = {}
        self.uses_fp64 = False
        self.loop_counter = 0
        self.L = r.type_names["int64"]
        self.global_fences = barriers_needing_global_fence(kernel) if kernel.uses_barrier else set()
        self.dims_struct = ""
        self.sized = launch_sized(kernel)

    def name(self, n: str) -> str:
        if n not in self.names:
            self.names[n] = mangle(n)
        return self.names[n]

    # -- the kernel -----------------------------------------------------------------------------
    def emit(self) -> str:
        k, r, b = self.k, self.r, self.b
        params = self.params()
        with b.block("{", "}"):
            self.index_queries()
            self.declarations()
            self.guard()
            for s in k.body:
                self.stmt(s)
        body = b.render()
        self.uses_fp64 = self.uses_fp64 or any(
            getattr(getattr(n, "type", None), "name", "") == "float64"
            for n in walk_body(k.body)) or any(
            (p.type.dtype if isinstance(p.type, ArrayType) else p.type).name == "float64" for p in k.params)
        out = SourceBuilder()
        # the name and path come from outside the IR: escaped, they cannot end the comment
        where = f" ({comment_text(str(k.loc))})" if k.loc.line else ""
        out.line(f"/* portakern: kernel '{comment_text(k.name)}'{where} in {r.dialect}; generated, self-contained.")
        out.line("   Launch: hardware dimension 0 (x) is the LAST ndrange dimension; pad the global size up to")
        out.line("   the work-group; pass each array's shape and the unpadded ndrange as int64 "
                 + ("in pk_dims. */" if r.pack_dims else "after the arrays, as declared. */"))
        for line in r.header:
            out.line(line)
        if self.uses_fp64:
            for line in r.fp64_pragmas:
                out.line(line)
        for line in sorted(self.pre.pragmas):
            out.line(line)
        if self.dims_struct:
            out.line()
            out.lines(self.dims_struct)
        helpers = self.pre.text()
        if helpers:
            out.line()
            out.lines(helpers)
        out.line()
        out.line(f"{r.kernel_qual} void {r.entry_name(k)}(")
        with out.block():
            for i, p in enumerate(params):
                out.line(p + ("," if i < len(params) - 1 else ")"))
        return out.render() + body

    def params(self) -> list[str]:
        r, out, fields = self.r, [], []
        gq = r.space_qual.get(ArraySpace.GLOBAL, "")
        for p in self.k.params:
            if isinstance(p.type, ArrayType):
                const = "const " if (p.name not in self.k.written or p.type.readonly) else ""
                q = r.constant_qual if p.type.constant and r.constant_qual else gq + const
                restrict = r.readonly_restrict if p.type.readonly else ""
                out.append(f"{q}{r.storage(p.type.dtype)}*{restrict} {self.name(p.name)}")
                dims = [f"{self.name(p.name)}_shape{d}" for d in range(p.type.ndim)]
                fields += dims
                if not r.pack_dims:
                    out += [f"{self.L} pk_{f}" for f in dims]
            else:
                out.append(f"{r.storage(p.type)} {self.name(p.name)}")
        if r.local_args:
            lq = r.space_qual.get(ArraySpace.LOCAL, "")
            out += [f"{lq}{r.storage(d.array.type.dtype)}* {self.name(d.array.name)}" for d in self.sized]
        nd = [f"ndrange{d}" for d in range(self.k.grid_ndim)]
        fields += nd
        if r.pack_dims:
            self.dims_struct = "typedef struct {\n" + "".join(f"    {self.L} {f};\n" for f in fields) + "} pk_dims;"
            out.append("pk_dims pk")
        else:
            out += [f"{self.L} pk_{f}" for f in nd]
        if self.k.checks_bounds:
            out.append(f"{gq}{self.L}* pk_err")
        return out

    def dim(self, field: str) -> str:
        """The expression of an extent: ``pk.x_shape0`` (packed) or ``pk_x_shape0``."""
        return f"pk.{field}" if self.r.pack_dims else f"pk_{field}"

    def shape_name(self, array: str, d: int) -> str:
        return self.dim(f"{self.name(array)}_shape{d}")

    def declarations(self) -> None:
        b, r = self.b, self.r
        declared: set[str] = set()
        self.launch_sized_arrays(declared)
        for node in walk_body(self.k.body):
            if isinstance(node, ir.DeclArray) and node.array.name not in declared:
                declared.add(node.array.name)
                a = node.array.type
                size = int(np.prod(a.shape)) if a.shape else 1
                q = r.local_decl if a.space == ArraySpace.LOCAL else ""
                b.line(f"{q}{r.storage(a.dtype)} {self.name(node.array.name)}[{size}];")
        pnames = {p.name for p in self.k.params}
        for v in self.k.locals:
            if v.name not in pnames and v.name not in declared:
                declared.add(v.name)
                b.line(f"{r.ctype(v.type)} {self.name(v.name)} = {r.const(0, v.type)};")
        if self.sites:
            b.line(f"{self.L} " + ", ".join(f"pk_o{s.number}" for s in self.sites.values()) + ";")

    def launch_sized_arrays(self, declared: set[str]) -> None:
        """Each local array sized at launch: its element count ``pk_n_<name>`` (the extent bounds
        checks and ``.shape`` read) and, without ``local_args``, its pointer into the dynamic block
        (each start rounded up to ``ALIGN`` bytes, the host's ``launch_local.carve``)."""
        b, r = self.b, self.r
        if self.sized and not r.local_args:
            b.line(r.dynamic_local.format(A=ALIGN))
            b.line(f"{self.L} pk_dyn_at = 0;")
        for d in self.sized:
            name = self.name(d.array.name)
            declared.add(d.array.name)
            b.line(f"const {self.L} pk_n_{name} = {self.expr(d.size)};")   # type: ignore[arg-type]
            if not r.local_args:
                item = d.array.type.dtype.dtype.itemsize
                b.line(f"{r.storage(d.array.type.dtype)}* {name} = ({r.storage(d.array.type.dtype)}*)"
                       f"(pk_dyn + pk_dyn_at);")
                b.line(f"pk_dyn_at = (pk_dyn_at + pk_n_{name} * {item} + {ALIGN - 1}) / {ALIGN} * {ALIGN};")

    def index_queries(self) -> None:
        """Each work-item query the kernel makes, read once into a const at entry (``pk_local_size0``).

        PoCL 3.0 (LLVM 14, bundled with pyopencl) miscompiles a loop whose condition calls
        ``get_local_size`` and whose body has barriers: the loop never runs (docs/backends/opencl.md,
        "PoCL barrier-loop bug"). Values read once before any barrier sidestep it; CUDA gets the
        same source shape."""
        used = {(n.op, n.dim) for n in walk_body(self.k.body) if isinstance(n, ir.IndexQuery)}
        if not self.k.uses_barrier:
            used |= {(ir.Op.GLOBAL_ID, d) for d in range(self.k.grid_ndim)}   # the padding guard's
        for op, d in sorted(used, key=lambda q: (q[0].value, q[1])):
            value = self.dim(f"ndrange{d}") if op == ir.Op.GLOBAL_SIZE \
                else self.r.index(op, self.k.grid_ndim - 1 - d)
            self.b.line(f"const {self.L} {_query_name(op, d)} = {value};")

    def guard(self) -> None:
        """Padded work-items (the global size rounded up to the work-group) do nothing."""
        if self.k.uses_barrier:
            return                        # ndrange is a multiple of the work-group: nothing padded
        conds = [f"{_query_name(ir.Op.GLOBAL_ID, d)} >= {self.dim(f'ndrange{d}')}"
                 for d in range(self.k.grid_ndim)]
        self.b.line(f"if ({' || '.join(conds)}) return;")

    # -- statements -----------------------------------------------------------------------------
    def stmt(self, s: ir.Stmt) -> None:
        b = self.b
        if isinstance(s, ir.Assign):
            b.line(f"{self.name(s.target.name)} = {self.expr(s.value)};")
        elif isinstance(s, ir.Store):
            self.store(s)
        elif isinstance(s, ir.Evaluate):
            b.line(f"{self.expr(s.value)};")
        elif isinstance(s, ir.DeclArray):
            pass                          # hoisted to the top of the kernel by ``declarations``
        elif isinstance(s, ir.If):
            self.if_chain(s, "if")
        elif isinstance(s, ir.For):
            self.for_loop(s)
        elif isinstance(s, ir.While):
            with b.block(f"while ({self.cond(s.cond)}) {{", "}"):
                self.body(s.body)
        elif isinstance(s, ir.Break):
            b.line("break;")
        elif isinstance(s, ir.Continue):
            b.line("continue;")
        elif isinstance(s, ir.Return):
            b.line("return;")
        elif isinstance(s, ir.Barrier):
            b.line(self.r.barrier if id(s) in self.global_fences else self.r.barrier_local or self.r.barrier)
        elif isinstance(s, ir.Subgroup) and s.op in self.r.subgroup_templates:
            t = s.target.type
            wire = self.r.ctype(t) if t.bits >= 32 else "int"      # shuffles move 32- and 64-bit values
            arg = "" if s.arg is None else self.expr(s.arg)
            call = self.r.subgroup_templates[s.op].format(v=f"({wire})({self.expr(s.value)})", a=arg)
            b.line(f"{self.name(s.target.name)} = ({self.r.ctype(t)}){call};")
        else:
            raise CompileError(f"the {self.r.dialect} renderer has no rule for statement {type(s).__name__}",
                               getattr(s, "loc", None))

    def body(self, stmts: tuple[ir.Stmt, ...]) -> None:
        for s in stmts:
            self.stmt(s)

    def if_chain(self, s: ir.If, kw: str) -> None:
        b = self.b
        b.line(f"{kw} ({self.cond(s.cond)}) {{")
        with b.block():
            self.body(s.then)
        if len(s.orelse) == 1 and isinstance(s.orelse[0], ir.If):
            self.if_chain(s.orelse[0], "} else if")
            return
        if s.orelse:
            b.line("} else {")
            with b.block():
                self.body(s.orelse)
        b.line("}")

    def for_loop(self, s: ir.For) -> None:
        """``range`` semantics: bounds evaluated once; the direction follows the step's sign."""
        b, L = self.b, self.L
        v = self.name(s.var.name)
        self.loop_counter += 1
        n = self.loop_counter

        def bound(e: ir.Expr, what: str) -> str:
            if isinstance(e, (ir.Const, ir.Shape)):
                return self.expr(e)
            b.line(f"const {L} pk_{what}{n} = {self.expr(e)};")
            return f"pk_{what}{n}"

        with b.block("{", "}"):
            start = self.expr(s.start)
            stop, step = bound(s.stop, "stop"), bound(s.step, "step")
            # never step past INT64_MAX/MIN: a unit step cannot (v < stop <= INT64_MAX before v++);
            # any other step goes through pk_range_next, which returns stop instead of overshooting
            nxt = ""
            if isinstance(s.step, ir.Const):
                k = int(s.step.value)
                if k == 0:
                    return
                test = f"{v} < {stop}" if k > 0 else f"{v} > {stop}"
                nxt = {1: f"{v}++", -1: f"{v}--"}.get(k, "")
            else:
                test = f"({step} > 0) ? ({v} < {stop}) : ({step} < 0 && {v} > {stop})"
            nxt = nxt or f"{v} = {self.pre.range_next()}({v}, {stop}, {step})"
            with b.block(f"for ({L} {v} = {start}; {test}; {nxt}) {{", "}"):
                self.body(s.body)

    def store(self, s: ir.Store) -> None:
        val = self.expr(s.value)
        if s.array.type.dtype.is_bool:
            val = f"({self.r.storage(s.array.type.dtype)})({val})"
        a = self.name(s.array.name)
        if self.sites and id(s) not in self.proven:
            self.b.line(f"if ({self.check(s)}) {a}[pk_o{self.sites[id(s)].number}] = {val};")
        else:
            self.b.line(f"{a}[{self.offset(s.array, s.indices)}] = {val};")

    # -- array access ---------------------------------------------------------------------------
    def extents(self, a: ir.ArrayRef) -> list[str]:
        if a.type.space == ArraySpace.GLOBAL:
            return [self.shape_name(a.name, d) for d in range(a.type.ndim)]
        if a.type.shape is None:          # a local array sized at launch
            return [f"pk_n_{self.name(a.name)}"]
        shape = a.type.shape or (1,) * a.type.ndim
        return [f"{int(n)}{self.r.int64_suffix}" for n in shape]

    def offset(self, a: ir.ArrayRef, indices: tuple[ir.Expr, ...]) -> str:
        """The row-major element offset of ``indices`` in ``a``."""
        ext = self.extents(a)
        off = self.expr(indices[0])
        for d in range(1, len(indices)):
            off = f"({off}) * {ext[d]} + {self.expr(indices[d])}"
        return off

    def check(self, node: ir.Load | ir.Store | ir.Atomic) -> str:
        """A call that bounds-checks ``node``'s indices and leaves the offset in ``pk_o<site>``."""
        site = self.sites[id(node)].number
        n = len(node.indices)
        args = [self.expr(i) for i in node.indices] + self.extents(node.array)
        return f"{self.pre.check(n)}(&pk_o{site}, pk_err, {site}, {', '.join(args)})"

    # -- expressions ----------------------------------------------------------------------------
    def cond(self, e: ir.Expr) -> str:
        """A condition without the redundant outer parentheses (``if (a == b)``, not ``if ((a == b))``)."""
        text = self.expr(e)
        if text.startswith("(") and text.endswith(")"):
            depth = 0
            for i, ch in enumerate(text):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0 and i < len(text) - 1:
                    return text              # "(a) + (b)": the outer pair is not one group
            return text[1:-1]
        return text

    def expr(self, e: ir.Expr) -> str:
        t = getattr(e, "type", None)
        if isinstance(t, ScalarType) and t.name == "float64":
            self.uses_fp64 = True
        method = getattr(self, "x_" + type(e).__name__, None)
        if method is None:
            raise CompileError(f"the {self.r.dialect} renderer has no rule for {type(e).__name__}")
        return method(e)

    def x_Const(self, e: ir.Const) -> str:
        return self.r.const(e.value, e.type)

    def x_Var(self, e: ir.Var) -> str:
        return self.name(e.name)

    def x_ArrayRef(self, e: ir.ArrayRef) -> str:
        raise CompileError(f"array '{e.name}' used as a value: index it", None)

    def x_Shape(self, e: ir.Shape) -> str:
        return self.extents(e.array)[e.dim]

    def x_IndexQuery(self, e: ir.IndexQuery) -> str:
        return _query_name(e.op, e.dim)      # read at entry by ``index_queries``

    def x_Load(self, e: ir.Load) -> str:
        a = self.name(e.array.name)
        if self.sites and id(e) not in self.proven:
            site = self.sites[id(e)].number
            ref = f"({self.check(e)} ? {a}[pk_o{site}] : 0)"
        else:
            ref = f"{a}[{self.offset(e.array, e.indices)}]"
        return f"({ref} != 0)" if e.type.is_bool else ref

    def x_Atomic(self, e: ir.Atomic) -> str:
        op = e.op.value.removeprefix("atomic_")
        if e.compare is not None:
            fn = self.pre.atomic_cas(e.type, e.array.type.space)
            a, v = self.name(e.array.name), f"{self.expr(e.compare)}, {self.expr(e.value)}"
        else:
            fn = self.pre.atomic(op, e.type, e.array.type.space)
            a, v = self.name(e.array.name), self.expr(e.value)
        if self.sites and id(e) not in self.proven:
            site = self.sites[id(e)].number
            return f"({self.check(e)} ? {fn}(&{a}[pk_o{site}], {v}) : 0)"
        return f"{fn}(&{a}[{self.offset(e.array, e.indices)}], {v})"

    def x_Select(self, e: ir.Select) -> str:
        return f"({self.expr(e.cond)} ? {self.expr(e.then)} : {self.expr(e.orelse)})"

    def x_Cast(self, e: ir.Cast) -> str:
        src, dst, v = _stype(e.value), e.type, self.expr(e.value)
        if src == dst:
            return v
        if src.is_half:
            return f"{self.pre.half_to_f32(src)}({v})"
        if dst.is_half:
            return f"{self.pre.f32_to_half(dst)}({v})"
        if dst.is_bool:
            return f"({v} != 0)"
        if src.is_float and dst.is_int:
            return f"{self.pre.float_to_int(src, dst)}({v})"
        return f"(({self.r.ctype(dst)})({v}))"

    def x_Unary(self, e: ir.Unary) -> str:
        t, v = e.type, self.expr(e.operand)
        if e.op == ir.Op.NOT or (e.op == ir.Op.INVERT and t.is_bool):
            return f"(!{v})"
        if e.op == ir.Op.INVERT:
            return f"(({self.r.ctype(t)})(~{v}))"
        if e.op == ir.Op.NEG:
            return self.r.wrap("-", t, v) if t.is_int else (v if t.is_bool else f"(-{v})")
        raise CompileError(f"the {self.r.dialect} renderer has no rule for unary {e.op.name}")

    def x_Binary(self, e: ir.Binary) -> str:
        op, t = e.op, _stype(e.lhs)
        a, c = self.expr(e.lhs), self.expr(e.rhs)
        if op in ir.COMPARISONS or op in ir.LOGICAL:
            sym = {ir.Op.LAND: "&&", ir.Op.LOR: "||"}.get(op, op.value)
            return f"({a} {sym} {c})"
        if t.is_bool and op in (ir.Op.ADD, ir.Op.SUB, ir.Op.MUL):   # NumPy: or, xor, and
            return f"({a} {dict([(ir.Op.ADD, '|'), (ir.Op.SUB, '^'), (ir.Op.MUL, '&')])[op]} {c})"
        if op in (ir.Op.ADD, ir.Op.SUB, ir.Op.MUL):
            return self.r.wrap(op.value, t, a, c) if t.is_int else f"({a} {op.value} {c})"
        if op == ir.Op.DIV:
            return f"({a} / {c})"
        if op in (ir.Op.AND, ir.Op.OR, ir.Op.XOR):
            return f"({a} {op.value} {c})"
        if op in (ir.Op.FLOORDIV, ir.Op.MOD) and t.is_int and isinstance(e.rhs, ir.Const):
            k = int(e.rhs.value)
            if k > 0 and k & (k - 1) == 0:   # by a power of two: an arithmetic shift, a mask
                T = self.r.ctype(t)
                if op == ir.Op.FLOORDIV:
                    return f"(({T})({a} >> {k.bit_length() - 1}))"
                return f"(({T})({a} & {self.r.const(k - 1, t)}))"
        helper = {ir.Op.FLOORDIV: lambda: self.pre.floordiv(t), ir.Op.MOD: lambda: self.pre.mod(t),
                  ir.Op.SHL: lambda: self.pre.shift(True, t), ir.Op.SHR: lambda: self.pre.shift(False, t),
                  ir.Op.POW: lambda: self.pre.ipow(t) if t.is_int else self.r.mathfn("pow", t)}.get(op)
        if helper is None:
            raise CompileError(f"the {self.r.dialect} renderer has no rule for binary {op.name}")
        return f"{helper()}({a}, {c})"

    def x_Call(self, e: ir.Call) -> str:
        op, args = e.op, [self.expr(x) for x in e.args]
        t = _stype(e.args[0])
        joined = ", ".join(args)
        if op in PRELUDE_MATH:
            if op == ir.Op.COPYSIGN:
                return f"{self.pre.copysign(t)}({joined})"
            return f"{self.pre.minmax(op == ir.Op.MIN, t)}({joined})"
        name = self.r.math_names.get(op)
        if name is None or op in self.r.unsupported_math:
            raise optable.unsupported(op, self.r.backend)
        if op == ir.Op.ABS and not t.is_float:
            return f"{self.pre.iabs(t)}({joined})" if t.is_signed else joined
        if op in ir.CLASSIFY:
            if not t.is_float:
                return "true" if op == ir.Op.ISFINITE else "false"
            return f"({self.r.mathfn(name, t)}({joined}) != 0)"
        return f"{self.r.mathfn(name, e.type if op in ir.FLOAT_MATH else t)}({joined})"


#: math calls the shared prelude renders for every dialect (NaN-propagating min/max; copysign(x, NaN) == |x|)
PRELUDE_MATH = frozenset({ir.Op.MIN, ir.Op.MAX, ir.Op.COPYSIGN})


def _query_name(op: ir.Op, d: int) -> str:
    """The const holding work-item query ``op`` of pk dimension ``d`` (``pk_global_id0``)."""
    return f"pk_{op.value}{d}"


def _stype(e: ir.Expr) -> ScalarType:
    """The scalar type of a value expression (only ArrayRef has an array type, and it is no value)."""
    t = e.type
    if not isinstance(t, ScalarType):
        raise CompileError(f"array '{getattr(e, 'name', '?')}' used as a value: index it")
    return t
