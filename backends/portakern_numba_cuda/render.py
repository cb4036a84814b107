"""IR -> Python source for ``numba.cuda.jit`` (pure: imports no Numba).

One CUDA thread per work-item: the last ndrange dimension maps to ``x`` (the fastest, as docs/language.md
says), the one before to ``y``, then ``z``. Local arrays are ``cuda.shared.array``, private arrays
``cuda.local.array``, barriers ``cuda.syncthreads()``, atomics ``cuda.atomic.*`` (float min/max
through the prelude's compare-and-swap loops: NaN-propagating, -0.0 < +0.0), and ``return`` is a
plain return.

NVVM contracts ``a*b+c`` into an FMA unless told not to, and the public ``numba.cuda.jit`` API has no
switch for that, so float products go through ``mul_f32``/``mul_f64`` (libdevice ``fmul_rn`` /
``dmul_rn``: multiplications NVVM never fuses) — tier 0 holds without ``contracts_fma``.
Generated signature: ``_pk_kernel(_pk_n0.., _pk_w0.., <params>, _pk_err)``.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from portakern import types as T
from portakern.codegen.names import comment_text, py_name
from portakern.codegen.pyrender import PyRenderer, np_type, prelude_digest
from portakern.codegen.pysource import PySource
from portakern.codegen.subgroup_local import lower_subgroups_to_local
from portakern.ir import nodes as ir
from portakern.ir.launch_local import ALIGN, launch_sized
from portakern.ir.visit import walk_body
from portakern.types import ArraySpace

Op = ir.Op
#: hash of the helpers the generated module imports (see ``prelude_digest``)
PRELUDE = prelude_digest(Path(__file__).with_name("prelude.py"))
AXES = ("x", "y", "z")


class NumbaCudaRenderer(PyRenderer):
    """The CUDA structure: straight-line per-thread code."""

    backend = "numba-cuda"

    # math calls go through the prelude's m_<name> (libm on a device, NaN-returning in the simulator)
    math_templates = {op: t.replace("math.", "m_") for op, t in PyRenderer.math_templates.items()}
    math_templates[ir.Op.CBRT] = "m_cbrt({0})"     # libdevice's cbrt (1 ulp), not the CPU prelude's

    def __init__(self, kernel: ir.Kernel) -> None:
        super().__init__(kernel)
        self.nd = kernel.grid_ndim
        self.padded = not (kernel.uses_barrier or kernel.uses_local)

    def axis(self, d: int) -> str:
        """The CUDA axis of ndrange dimension ``d`` (the last dimension is ``x``)."""
        return AXES[self.nd - 1 - d]

    def index_query(self, q: ir.IndexQuery) -> str:
        d = q.dim
        return {Op.GLOBAL_ID: f"_pk_g{d}", Op.GLOBAL_SIZE: f"_pk_n{d}", Op.LOCAL_SIZE: f"_pk_w{d}",
                Op.LOCAL_ID: f"_pk_l{d}", Op.GROUP_ID: f"_pk_r{d}", Op.NUM_GROUPS: f"_pk_ng{d}"}[q.op]

    def _e_Binary(self, e: ir.Binary) -> str:
        if e.op is Op.MUL and e.type.is_float:
            return f"mul_f{e.type.bits}({self.expr(e.lhs)}, {self.expr(e.rhs)})"
        return super()._e_Binary(e)

    def atomic(self, a: ir.Atomic, indices: list[str], value: str) -> str:
        name = {Op.ATOMIC_ADD: "add", Op.ATOMIC_SUB: "sub", Op.ATOMIC_MIN: "min", Op.ATOMIC_MAX: "max",
                Op.ATOMIC_AND: "and_", Op.ATOMIC_OR: "or_", Op.ATOMIC_XOR: "xor", Op.ATOMIC_XCHG: "exch",
                Op.ATOMIC_CAS: "cas"}[a.op]
        # a 1-tuple index does not lower in numba-cuda's atomics: 1-D arrays take a plain index
        tup = indices[0] if len(indices) == 1 else "(" + ", ".join(indices) + ")"
        arr, t = f"a_{py_name(a.array.name)}", np_type(a.type)
        if a.compare is not None:
            value = f"{t}({self.expr(a.compare)}), {t}({value})"
        if a.type.is_float and name in ("exch", "cas"):   # on the bit pattern (the prelude)
            return f"atomic_f{'xchg' if name == 'exch' else 'cas'}_f{a.type.bits}({arr}, {tup}, {value})"
        if a.compare is not None:
            return f"{t}(cuda.atomic.cas({arr}, {tup}, {value}))"
        if a.type.is_float and name in ("min", "max"):
            # the prelude's CAS loop: NaN-propagating, -0.0 < +0.0 (cuda.atomic.nanmin/nanmax are not)
            t = np_type(a.type)
            return f"atomic_f{name}_f{a.type.bits}(a_{py_name(a.array.name)}, {tup}, {t}({value}))"
        return f"{np_type(a.type)}(cuda.atomic.{name}(a_{py_name(a.array.name)}, {tup}, {value}))"

    def emit_return(self, src: PySource) -> None:
        src.line("return")

    def emit_barrier(self, src: PySource) -> None:
        src.line("cuda.syncthreads()")

    def emit_decl(self, d: ir.DeclArray, src: PySource) -> None:
        arr = d.array
        if arr.type.space != ArraySpace.PRIVATE:
            return  # shared arrays are declared once at the kernel's start
        shape = arr.type.shape or (1,)
        names = [src.fresh("_pk_z") for _ in shape]
        with ExitStack() as stack:
            for name, n in zip(names, shape):
                stack.enter_context(src.block(f"for {name} in range({n})"))
            src.line(f"a_{py_name(arr.name)}[{', '.join(names)}] = {np_type(arr.type.dtype)}(0)")

    def emit_for(self, s: ir.For, src: PySource, body):  # type: ignore[no-untyped-def]
        def typed_body() -> None:
            # the simulator's range yields Python ints: keep the loop variable an int64 scalar
            src.line(f"{self.var(s.var.name)} = np.int64({self.var(s.var.name)})")
            body()

        super().emit_for(s, src, typed_body)

    def render(self) -> str:
        """The whole generated module."""
        k, nd = self.kernel, self.nd
        src = PySource()
        src.line(f'"""portakern: kernel {comment_text(k.name)} for numba-cuda (generated; do not edit)."""')
        src.line(f"# prelude {PRELUDE}")
        src.line("from portakern_numba_cuda.prelude import *  # noqa: F401,F403")
        if launch_sized(k):
            src.line("import numba")
        for name in sorted({d.array.type.dtype.name for d in launch_sized(k)}):
            # a numba type: the simulator sizes dynamic shared arrays by it (a NumPy class has no itemsize)
            src.line(f"_pk_dyn_{name} = numba.from_dtype({np_type(getattr(T, name))})")
        src.line("")
        grid = [f"_pk_n{d}" for d in range(nd)] + [f"_pk_w{d}" for d in range(nd)]
        params = [f"a_{py_name(p.name)}" if not hasattr(p.type, "kind") else f"v_{py_name(p.name)}" for p in k.params]
        src.line("@cuda.jit(fastmath=False, cache=CACHE)")
        with src.block(f"def _pk_kernel({', '.join(grid + params + ['_pk_err'])})"):
            for d in range(nd):
                ax = self.axis(d)
                src.line(f"_pk_l{d} = np.int64(cuda.threadIdx.{ax})")
                src.line(f"_pk_r{d} = np.int64(cuda.blockIdx.{ax})")
                src.line(f"_pk_ng{d} = np.int64(cuda.gridDim.{ax})")
                src.line(f"_pk_g{d} = _pk_r{d} * _pk_w{d} + _pk_l{d}")
            sized = launch_sized(k)
            if sized:
                src.line("_pk_dyn_at = np.int64(0)")
            for d in sized:      # carved from the dynamic shared memory, as launch_local.carve lays it out
                n, item, a = f"_pk_n_{py_name(d.array.name)}", d.array.type.dtype.dtype.itemsize, d.array
                src.line(f"{n} = {self.expr(d.size)}")   # type: ignore[arg-type]
                src.line(f"a_{py_name(a.name)} = cuda.shared.array(0, _pk_dyn_{a.type.dtype.name})"
                         f"[_pk_dyn_at // {item}:_pk_dyn_at // {item} + {n}]")
                src.line(f"_pk_dyn_at = (_pk_dyn_at + {n} * {item} + {ALIGN - 1}) // {ALIGN} * {ALIGN}")
            for node in walk_body(k.body):
                if isinstance(node, ir.DeclArray) and node.size is None:
                    arr = node.array
                    where = "shared" if arr.type.space == ArraySpace.LOCAL else "local"
                    src.line(f"a_{py_name(arr.name)} = cuda.{where}.array({arr.type.shape or (1,)!r}, "
                             f"{np_type(arr.type.dtype)})")
            if self.padded:
                out = " or ".join(f"_pk_g{d} >= _pk_n{d}" for d in range(nd))
                with src.block(f"if {out}"):
                    src.line("return")
            params_set = {p.name for p in k.params}
            types = {v.name: v.type for v in k.locals if v.name not in params_set}
            for name in sorted(types):
                src.line(f"v_{py_name(name)} = {np_type(types[name])}(0)")
            self.stmts(k.body, src)
        return src.render()


def render(kernel: ir.Kernel) -> str:
    """The Python module source for ``kernel`` (pure)."""
    return NumbaCudaRenderer(lower_subgroups_to_local(kernel)).render()
