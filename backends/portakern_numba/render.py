"""IR -> Python source for ``numba.njit(parallel=True)`` (pure: imports no Numba).

Two shapes of kernel:

- **flat** (no barrier, no local or private array): one ``prange`` over every work-item, the
  multi-dimensional id recovered from the linear one (last ndrange dimension fastest);
- **group** (anything else): ``prange`` over work-groups, and inside each group the work-items run in
  sequential loops. A barrier splits the body into phases (loop fission): each barrier-free stretch
  becomes one loop over the group's work-items. A barrier inside ``if``/``for``/``while`` (uniform by
  the language's rule) keeps that statement at group level, its condition or bounds evaluated for
  work-item 0, and fissions its body. Scalars live across a phase boundary become per-work-item
  arrays; the rest stay scalars. ``return`` marks the work-item done; ``break``/``continue`` of a
  group-level loop set a flag the group loop reads after the phase.

Generated signature: ``_pk_kernel(_pk_n0.., _pk_w0.., <params>, _pk_err)`` with ndrange and work-group
sizes as runtime ints (one compilation serves every grid) and ``_pk_err`` the debug error record.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

from portakern.codegen import phases
from portakern.codegen.guard_split import GuardSplit, clip_guards, split_guards
from portakern.codegen.lane_loops import LanePlan, Segment, plan_phase, proved_guards, unrolled
from portakern.codegen.names import comment_text, py_name
from portakern.codegen.pyrender import PyRenderer, check_tuple, np_type, prelude_digest
from portakern.codegen.pysource import PySource
from portakern.codegen.subgroup_local import lower_subgroups_to_local
from portakern.ir import nodes as ir
from portakern.ir.visit import walk, walk_body
from portakern.types import ArraySpace, ArrayType

Op = ir.Op
#: hash of the helpers the generated module imports (see ``prelude_digest``)
PRELUDE = prelude_digest(Path(__file__).with_name("prelude.py"), Path(__file__).with_name("vmath.py"))
JIT_OPTIONS = "parallel=True, error_model='numpy', fastmath=False"  # cache: launch.VerifiedCache
#: a group kernel's chunk function (see ``_group_chunk``): called from the prange, itself serial
CHUNK_OPTIONS = "error_model='numpy', fastmath=False"
#: a flat 2-D/3-D launch with fewer rows than this splits each row into chunks (parallelism)
_FLAT_CHUNKS = 256
# Chunk counts are constants, not numba.get_num_threads(): calling it makes Numba refuse to
# cache the kernel on disk ("dynamic globals").
#: privatised atomics: chunks (private copies), and work-items per private element to take that path
_PRIV_CHUNKS = 64
_PRIV_MIN_WORK = 8
#: work-group kernels: chunks of groups (each chunk allocates the group's arrays once)
_GROUP_CHUNKS = 1024


def _has_return(body: tuple[ir.Stmt, ...]) -> bool:
    return any(isinstance(n, ir.Return) for n in walk_body(body))


def _unflatten(src: PySource, linear: str, top: int, ids: str, quots: str, sizes: str) -> None:
    """``{ids}0`` .. ``{ids}{top}`` from the linear index ``linear`` over the sizes ``{sizes}1`` ..
    ``{sizes}{top}`` (the last fastest), through the quotients ``{quots}{top}`` .. ``{quots}1``."""
    rest = linear
    for d in range(top, 0, -1):
        src.line(f"{ids}{d} = {rest} % {sizes}{d}")
        src.line(f"{quots}{d} = {rest} // {sizes}{d}")
        rest = f"{quots}{d}"
    src.line(f"{ids}0 = {rest}")


class NumbaRenderer(PyRenderer):
    """The CPU structure: flat ``prange`` or work-groups with barrier phases."""

    backend = "numba"
    #: float32 exp/log from tier-0 operations, so item loops vectorise (vmath.py); floor, ceil, trunc
    #: and rint as NumPy's ufuncs (LLVM's rounding intrinsics: one vroundps/vroundpd), not the shared
    #: prelude's branches around math.floor & co., which return int64 in Numba and convert back
    typed_math = {(ir.Op.EXP, "float32"): "expf_v({0})", (ir.Op.LOG, "float32"): "logf_v({0})",
                  **{(op, t): f"np.{name}({{0}})" for t in ("float32", "float64") for op, name in (
                      (ir.Op.FLOOR, "floor"), (ir.Op.CEIL, "ceil"), (ir.Op.TRUNC, "trunc"), (ir.Op.RINT, "rint"))}}

    def __init__(self, kernel: ir.Kernel) -> None:
        super().__init__(kernel)
        self.nd = kernel.grid_ndim
        decls = [n for n in walk_body(kernel.body) if isinstance(n, ir.DeclArray)]
        self.flat = not kernel.uses_barrier and not decls
        self.private = {d.array.name: d.array for d in decls if d.array.type.space == ArraySpace.PRIVATE}
        self.local = {d.array.name: d.array for d in decls if d.array.type.space == ArraySpace.LOCAL}
        self.launch_sized = {d.array.name: d.size for d in decls if d.size is not None}
        self.per_item: set[str] = set()      # scalars kept in per-work-item arrays (live across phases)
        self.promoted: set[str] = set()      # per-item scalars held in locals during the current phase
        self.spill: list[str] = []           # promoted scalars the current phase writes back
        self.slot_index = "_pk_l"            # the index of their slots (``_held``)
        self.uniform: set[str] = set()       # loop variables of group-level loops
        self.depth = 0                       # item-level loop nesting inside the current phase
        self.group_loops: list[str] = []     # flag prefixes of the enclosing group-level loops
        self.has_return = _has_return(kernel.body)
        # scalars that are pure functions of the work-item's ids: recomputed where used, never stored
        self.remat: dict[str, ir.Expr] = {} if self.flat else phases.rematerializable(kernel)
        # scalars assigned only at group level from work-group-uniform values: one copy per group
        self.guniform: set[str] = set() if self.flat else phases.group_uniform(kernel, self.remat)
        self.padded = not (kernel.uses_barrier or kernel.uses_local)
        # 1-D integer arrays only ever updated by atomic add/sub whose old value is unused (a
        # histogram): each thread may count into a private copy, merged atomically at its end
        self.privatizable = _privatizable(kernel) if self.flat and self.nd == 1 and not kernel.debug else []
        self.privatize = False               # rendering the privatised copy of the body
        # lane-innermost phases (portakern.codegen.lane_loops), keyed by their statements' ids
        self.lane_plans: dict[tuple[int, ...], LanePlan] = {}
        self.lane_arrays: set[str] = set()   # scalars some lane-innermost phase keeps per lane
        self.lane_now: set[str] = set()      # per-lane scalars of the phase being rendered
        self.unchecked: set[int] = set()     # accesses whose bounds the block checked already
        self.known_true: frozenset[int] = frozenset()   # guards the block's check proved (proved_guards)

    # ------------------------------------------------------------------ hooks
    def index_query(self, q: ir.IndexQuery) -> str:
        d = q.dim
        if self.flat:
            return {Op.GLOBAL_ID: f"_pk_g{d}", Op.GLOBAL_SIZE: f"_pk_n{d}", Op.LOCAL_SIZE: f"_pk_w{d}",
                    Op.LOCAL_ID: f"(_pk_g{d} % _pk_w{d})", Op.GROUP_ID: f"(_pk_g{d} // _pk_w{d})",
                    Op.NUM_GROUPS: f"_pk_ng{d}"}[q.op]
        return {Op.GLOBAL_ID: f"_pk_g{d}", Op.GLOBAL_SIZE: f"_pk_n{d}", Op.LOCAL_SIZE: f"_pk_w{d}",
                Op.LOCAL_ID: f"_pk_l{d}", Op.GROUP_ID: f"_pk_r{d}", Op.NUM_GROUPS: f"_pk_ng{d}"}[q.op]

    def var(self, name: str) -> str:
        if name in self.remat:
            return f"({self.expr(self.remat[name])})"
        if name in self.guniform:
            return f"v_{py_name(name)}"
        if name in self.promoted:
            return f"v_{py_name(name)}"
        if name in self.lane_now or name in self.per_item:
            # unsigned, as every index (see ``element``): a signed one blocks vectorising the lanes
            return f"_pk_s_{py_name(name)}[np.uint64(_pk_l)]"
        return f"v_{py_name(name)}"

    def _store_back(self, src: PySource) -> None:
        for name in self.spill:
            src.line(f"_pk_s_{py_name(name)}[{self.slot_index}] = v_{py_name(name)}")

    @contextmanager
    def _held(self, names: list[str], assigned: set[str], index: str, src: PySource) -> Iterator[None]:
        """Per-work-item slots held in locals for a stretch of statements (registers, not memory,
        in the hot loop): each loaded first (``_pk_s_<name>[index]``), the ``assigned`` ones written
        back at the end and before a break or continue leaves early (``_store_back``)."""
        for name in names:
            src.line(f"v_{py_name(name)} = _pk_s_{py_name(name)}[{index}]")
        self.promoted, self.spill, self.slot_index = set(names), [n for n in names if n in assigned], index
        try:
            yield
            self._store_back(src)
        finally:
            self.promoted, self.spill = set(), []

    def element(self, arr: ir.ArrayRef, indices: list[str]) -> str:
        # Unsigned indices: Numba wraps a negative signed index (a select per access that LLVM
        # cannot fold unless it proves the index >= 0, which blocks vectorisation). The language
        # never wraps negative indices (out of bounds; debug=True checks before the access).
        indices = [f"np.uint64({i})" for i in indices]
        if arr.name in self.private:
            indices = ["_pk_l", *indices]
        return f"a_{py_name(arr.name)}[{', '.join(indices)}]"

    def _e_Binary(self, e: ir.Binary) -> str:
        if id(e) in self.known_true:
            return "True"
        return super()._e_Binary(e)

    def check(self, node, idx):  # type: ignore[no-untyped-def]
        if id(node) in self.unchecked:
            return "True"
        if node.array.name in self.private:  # bounds of the work-item's own slice
            number = self.sites[id(node)].number
            return f"pk_check(_pk_err, {number}, {check_tuple(idx)}, a_{py_name(node.array.name)}.shape[1:])"
        return super().check(node, idx)

    def atomic(self, a: ir.Atomic, indices: list[str], value: str) -> str:
        kind = a.op.value.removeprefix("atomic_")
        if self.privatize and a.array.name in self.privatizable:
            return f"priv_{kind}(_pk_p_{py_name(a.array.name)}, np.uint64({indices[0]}), {value})"
        if a.array.name in self.private:
            indices = ["_pk_l", *indices]
        tup = "(" + ", ".join(indices) + ("," if len(indices) == 1 else "") + ")"
        if a.type.is_float and kind in ("min", "max"):
            return f"atomic_f{kind}(a_{py_name(a.array.name)}, {tup}, {value})"
        if a.compare is not None:
            return f"cas_old(a_{py_name(a.array.name)}, {tup}, {self.expr(a.compare)}, {value})"
        if kind == "xchg":
            return f"xchg_bits(a_{py_name(a.array.name)}, {tup}, {value})"
        return f"rmw_{kind}(a_{py_name(a.array.name)}, {tup}, {value})"

    def _s_Assign(self, s: ir.Assign, src: PySource) -> None:
        if s.target.name not in self.remat:
            super()._s_Assign(s, src)

    def _ret_flag(self) -> str:
        return "_pk_ret" if self.flat else "_pk_dn[_pk_l]"

    def emit_return(self, src: PySource) -> None:
        src.line(f"{self._ret_flag()} = True")
        src.line("continue" if self.depth == 0 else "break")

    def emit_break(self, src: PySource) -> None:
        if self.depth == 0 and self.group_loops:
            src.line(f"{self.group_loops[-1]}_brk = True")
            self._store_back(src)
            src.line("continue")
        else:
            src.line("break")

    def emit_continue(self, src: PySource) -> None:
        if self.depth == 0 and self.group_loops:
            src.line(f"{self.group_loops[-1]}_cnt = True")
            self._store_back(src)
        src.line("continue")

    def emit_barrier(self, src: PySource) -> None:  # pragma: no cover - phases remove barriers
        raise AssertionError("barrier left inside a phase")

    def emit_decl(self, d: ir.DeclArray, src: PySource) -> None:
        if d.array.type.space == ArraySpace.PRIVATE:
            src.line(f"a_{py_name(d.array.name)}[_pk_l].fill(0)")
        # local arrays are allocated once per work-group, at the group's start

    def _item_loop_stmt(self, s: ir.For | ir.While, src: PySource) -> None:
        self.depth += 1
        try:
            if isinstance(s, ir.For):
                self.emit_for(s, src, lambda: self.stmts(s.body, src))
            else:
                with src.block(f"while {self.expr(s.cond)}"):
                    self.stmts(s.body, src)
        finally:
            self.depth -= 1
        if _has_return(s.body):
            with src.block(f"if {self._ret_flag()}"):
                src.line("continue" if self.depth == 0 else "break")

    def _s_For(self, s: ir.For, src: PySource) -> None:
        self._item_loop_stmt(s, src)

    def _s_While(self, s: ir.While, src: PySource) -> None:
        self._item_loop_stmt(s, src)

    # ------------------------------------------------------------------ the kernel
    def render(self) -> str:
        """The whole generated module."""
        k = self.kernel
        src = PySource()
        src.line(f'"""portakern: kernel {comment_text(k.name)} for numba (generated; do not edit)."""')
        src.line(f"# prelude {PRELUDE}")
        src.line("from portakern_numba.prelude import *  # noqa: F401,F403")
        src.line("")
        grid = [f"_pk_n{d}" for d in range(self.nd)] + [f"_pk_w{d}" for d in range(self.nd)]
        params = [f"a_{py_name(p.name)}" if not hasattr(p.type, "kind") else f"v_{py_name(p.name)}" for p in k.params]
        args = ", ".join(grid + params + ["_pk_err"])
        if not self.flat:       # the work-groups of one chunk: a function of its own (see _group_chunk)
            self._plan()
            src.line(f"@numba.njit({CHUNK_OPTIONS})")
            with src.block(f"def _pk_chunk(_pk_ch, {args})"):
                self._group_counts(src)
                self._group_chunk(src)
            src.line("")
            src.line("")
        src.line(f"@numba.njit({JIT_OPTIONS})")
        with src.block(f"def _pk_kernel({args})"):
            if self.flat:
                for d in range(self.nd):
                    src.line(f"_pk_ng{d} = (_pk_n{d} + _pk_w{d} - 1) // _pk_w{d}")
                self._flat(src)
            else:
                self._group_counts(src)
                with src.block("for _pk_ch in numba.prange(_pk_nch)"):
                    src.line(f"_pk_chunk(np.int64(_pk_ch), {args})")
        return src.render()

    def _declare_scalars(self, names: set[str], src: PySource) -> None:
        types = {v.name: v.type for v in self.kernel.locals}
        for name in sorted(names):
            if name in types and name not in self.per_item | self.uniform | self.guniform | self.lane_now:
                src.line(f"v_{py_name(name)} = {np_type(types[name])}(0)")

    def _locals_of(self, body: object) -> set[str]:
        params = {p.name for p in self.kernel.params}
        return phases.var_names(body) - params

    def _flat(self, src: PySource) -> None:
        nd = self.nd
        if nd == 1:
            if self.privatizable:
                self._flat_privatized(src)
                return
            clip = clip_guards(self.kernel, 0)
            if clip is None:
                with src.block("for _pk_g0 in numba.prange(_pk_n0)"):
                    self._flat_item(src)
                return
            src.line("_pk_hi = _pk_n0")
            self._narrow(clip.bounds, src)
            with src.block("for _pk_g0 in numba.prange(max(_pk_hi, np.int64(0)))"):
                self._flat_item(src, clip.body)
            return
        # 2-D/3-D: prange over the rows (every dimension but the last, collapsed), an inner loop
        # over the last dimension: no division per work-item, and the inner loop vectorises. When
        # there are few rows, each row is cut into chunks so every core still gets work.
        last = f"_pk_n{nd - 1}"
        src.line("_pk_no = " + " * ".join(f"_pk_n{d}" for d in range(nd - 1)))
        src.line(f"_pk_c = np.int64(1) if _pk_no >= {_FLAT_CHUNKS} else "
                 f"max(np.int64(1), min({last}, (np.int64({_FLAT_CHUNKS - 1}) + _pk_no) // max(_pk_no, np.int64(1))))")
        src.line(f"_pk_cl = ({last} + _pk_c - 1) // _pk_c")
        with src.block("for _pk_o in numba.prange(_pk_no * _pk_c)"):
            src.line("_pk_q = _pk_o // _pk_c")
            src.line("_pk_s = (_pk_o - _pk_q * _pk_c) * _pk_cl")
            _unflatten(src, "_pk_q", nd - 2, "_pk_g", "_pk_q", "_pk_n")
            split = split_guards(self.kernel, nd - 1)
            if split is not None:
                self._split_row(split, src)
                return
            clip = clip_guards(self.kernel, nd - 1)
            if clip is None:
                with src.block(f"for _pk_g{nd - 1} in range(_pk_s, min({last}, _pk_s + _pk_cl))"):
                    self._flat_item(src)
                return
            src.line(f"_pk_hi = min({last}, _pk_s + _pk_cl)")
            self._narrow(clip.bounds, src)
            src.line("_pk_hi = max(_pk_hi, _pk_s)")    # (a range whose stop is far below its start wraps)
            with src.block(f"for _pk_g{nd - 1} in range(_pk_s, _pk_hi)"):
                self._flat_item(src, clip.body)

    def _split_row(self, split: GuardSplit, src: PySource) -> None:
        """The row's work-items in two loops (codegen/guard_split.py): the middle range, where every
        guard on the last dimension's id holds, with those guards made True; the two ends of the row
        with the body as written."""
        g = f"_pk_g{self.nd - 1}"
        src.line(f"_pk_e = min(_pk_n{self.nd - 1}, _pk_s + _pk_cl)")
        src.line("_pk_lo = _pk_s")
        src.line("_pk_hi = _pk_e")
        self._narrow(split.bounds, src)
        src.line("_pk_lo = min(_pk_lo, _pk_e)")
        src.line("_pk_hi = max(_pk_hi, _pk_lo)")
        with src.block("for _pk_t in range((_pk_lo - _pk_s) + (_pk_e - _pk_hi))"):
            src.line(f"{g} = _pk_s + _pk_t if _pk_t < _pk_lo - _pk_s else _pk_hi + (_pk_t - (_pk_lo - _pk_s))")
            self._flat_item(src)
        with src.block(f"for {g} in range(_pk_lo, _pk_hi)"):
            self._flat_item(src, split.body)

    def _narrow(self, bounds: tuple[tuple[str, ir.Expr], ...], src: PySource) -> None:
        """Narrow ``[_pk_lo, _pk_hi)`` (``_pk_hi`` at most ``_pk_e`` where a lower bound is given) to
        the ids where every ``id op bound`` holds; no step overflows int64."""
        for op, bound in bounds:
            src.line(f"_pk_b = np.int64({self.expr(bound)})")
            if op == "ge":
                src.line("_pk_lo = max(_pk_lo, _pk_b)")
            elif op == "gt":      # j > b: from b + 1 (b < _pk_e <= INT64_MAX: no overflow)
                src.line("_pk_lo = max(_pk_lo, _pk_b + 1) if _pk_b < _pk_e else _pk_e")
            elif op == "lt":
                src.line("_pk_hi = min(_pk_hi, _pk_b)")
            else:                 # j <= b: up to b + 1
                src.line("_pk_hi = min(_pk_hi, _pk_b + 1) if _pk_b < _pk_hi else _pk_hi")

    def _flat_privatized(self, src: PySource) -> None:
        """Atomic counters into a private copy per chunk of work-items, merged with one atomic add
        per nonzero element: no cache line bouncing between cores on every update. Integer
        add/sub wraps, so any grouping of the updates gives the same bits. Taken only when the
        arrays are small next to the work (the copies and the merge cost their size per chunk)."""
        names = self.privatizable
        size = " + ".join(f"np.int64(a_{py_name(n)}.shape[0])" for n in names)
        src.line(f"_pk_nc = np.int64({_PRIV_CHUNKS})")
        with src.block(f"if _pk_n0 >= np.int64({_PRIV_MIN_WORK}) * _pk_nc * ({size})"):
            src.line("_pk_cl = (_pk_n0 + _pk_nc - 1) // _pk_nc")
            with src.block("for _pk_ch in numba.prange(_pk_nc)"):
                for n in names:
                    src.line(f"_pk_p_{py_name(n)} = np.zeros_like(a_{py_name(n)})")
                with src.block("for _pk_g0 in range(_pk_ch * _pk_cl, min(_pk_n0, _pk_ch * _pk_cl + _pk_cl))"):
                    self.privatize = True
                    try:
                        self._flat_item(src)
                    finally:
                        self.privatize = False
                for n in names:
                    with src.block(f"for _pk_b in range(a_{py_name(n)}.shape[0])"):
                        with src.block(f"if _pk_p_{py_name(n)}[_pk_b] != 0"):
                            src.line(f"rmw_add(a_{py_name(n)}, (_pk_b,), _pk_p_{py_name(n)}[_pk_b])")
        with src.block("else"):
            with src.block("for _pk_g0 in numba.prange(_pk_n0)"):
                self._flat_item(src)

    def _flat_item(self, src: PySource, body: tuple[ir.Stmt, ...] | None = None) -> None:
        if self.has_return:
            src.line("_pk_ret = False")
        self._declare_scalars(self._locals_of(self.kernel.body), src)
        self.stmts(self.kernel.body if body is None else body, src)

    # -- work-groups and phases ------------------------------------------------------------------
    def _group_counts(self, src: PySource) -> None:
        """Groups per dimension, work-items per group, groups in all, chunks and groups per chunk.

        Work-groups run in chunks (prange splits them statically over the threads anyway): the
        group's arrays are allocated once per chunk and cleared per group, not malloc'd per group."""
        nd = self.nd
        for d in range(nd):
            src.line(f"_pk_ng{d} = (_pk_n{d} + _pk_w{d} - 1) // _pk_w{d}")
        src.line("_pk_wgsz = " + " * ".join(f"_pk_w{d}" for d in range(nd)))
        src.line("_pk_ngt = " + " * ".join(f"_pk_ng{d}" for d in range(nd)))
        src.line(f"_pk_nch = max(np.int64(1), min(_pk_ngt, np.int64({_GROUP_CHUNKS})))")
        src.line("_pk_chl = (_pk_ngt + _pk_nch - 1) // _pk_nch")

    def _group_chunk(self, src: PySource) -> None:
        """The body of ``_pk_chunk``: chunk ``_pk_ch``'s work-groups, one after another.

        It is a function of its own, called from the ``prange``, not the ``prange``'s body: Numba's
        parallel passes (copy propagation, gufunc outlining) then see one call instead of every
        phase's lane loops, and the serial build calls the same compiled function. softmax's cold
        compile in a new process: 12.7-13.8 -> 6.9-7.5 s (AMD EPYC, 2 cores), the loops' speed unchanged."""
        nd, k = self.nd, self.kernel
        types = {v.name: v.type for v in k.locals}
        arrays: list[str] = []
        for arr in self.local.values():
            size = self.launch_sized.get(arr.name)
            shape = repr(arr.type.shape) if size is None else f"({self.expr(size)},)"
            src.line(f"a_{py_name(arr.name)} = np.zeros({shape}, {np_type(arr.type.dtype)})")
            arrays.append(f"a_{py_name(arr.name)}")
        for arr in self.private.values():
            shape = ("_pk_wgsz",) + tuple(str(s) for s in (arr.type.shape or ()))
            src.line(f"a_{py_name(arr.name)} = np.zeros(({', '.join(shape)},), {np_type(arr.type.dtype)})")
        for name in sorted(self.per_item | self.lane_arrays):
            src.line(f"_pk_s_{py_name(name)} = np.zeros(_pk_wgsz, {np_type(types[name])})")
            if name in self.per_item:  # a lane-only slot is written (or zeroed) before it is read
                arrays.append(f"_pk_s_{py_name(name)}")
        if self.has_return or self.padded:
            src.line("_pk_dn = np.zeros(_pk_wgsz, np.bool_)")
            arrays.append("_pk_dn")
        with src.block("for _pk_grp in range(_pk_ch * _pk_chl, min(_pk_ngt, _pk_ch * _pk_chl + _pk_chl))"):
            _unflatten(src, "_pk_grp", nd - 1, "_pk_r", "_pk_rq", "_pk_ng")
            for a in arrays:       # each group starts from zeros, as a fresh allocation did
                src.line(f"{a}.fill(0)")
            for name in sorted(self.guniform):
                src.line(f"v_{py_name(name)} = {np_type(types[name])}(0)")
            self._group_body(k.body, src)

    def _plan(self) -> None:
        """Decide which scalars must live in per-work-item arrays (live across a phase boundary)."""
        p = phases.plan(self.kernel, self.remat, self.guniform)
        self.per_item, self.uniform = p.per_item, p.uniform
        if not (self.padded or self.has_return or self.kernel.debug):
            for run, looped in zip(p.runs, p.looped):
                self._plan_lanes(run, looped)

    def _plan_lanes(self, run: list[ir.Stmt], looped: bool) -> None:
        narrowed = self._narrowed(run)
        stmts = narrowed[1] if narrowed is not None else run
        reassigned = {n.target.name for n in walk_body(self.kernel.body) if isinstance(n, ir.Assign)}
        params = {p.name for p in self.kernel.params} - reassigned
        plan = plan_phase(stmts, lane_dim=self.nd - 1, uniform=params | self.uniform | self.guniform,
                          remat=self.remat, carried=self.per_item, skip_arrays=set(self.private),
                          repeated=looped)
        if plan is not None:
            self.lane_plans[_run_key(run)] = plan
            self.lane_arrays |= plan.lane_vars

    def _item_ids(self, src: PySource) -> None:
        """Ids of work-item ``_pk_l`` (for group-level code that evaluates work-item 0)."""
        _unflatten(src, "_pk_l", self.nd - 1, "_pk_l", "_pk_lq", "_pk_w")
        for d in range(self.nd):
            src.line(f"_pk_g{d} = _pk_r{d} * _pk_w{d} + _pk_l{d}")

    @contextmanager
    def _item_loop(self, src: PySource, bound: tuple[int, str] | None = None) -> Iterator[None]:
        """Loop over the group's work-items: one nested loop per dimension (no division per item),
        the last dimension innermost; ``_pk_l`` is the linear local id."""
        with ExitStack() as stack:
            for d in range(self.nd):
                stop = bound[1] if bound is not None and d == bound[0] else f"_pk_w{d}"
                stack.enter_context(src.block(f"for _pk_l{d} in range({stop})"))
            lin = "_pk_l0"
            for d in range(1, self.nd):
                lin = f"({lin}) * _pk_w{d} + _pk_l{d}"
            src.line(f"_pk_l = {lin}")
            for d in range(self.nd):
                src.line(f"_pk_g{d} = _pk_r{d} * _pk_w{d} + _pk_l{d}")
            yield

    def _narrowed(self, run: list[ir.Stmt]) -> tuple[tuple[int, str], list[ir.Stmt]] | None:
        """``if local_id(d) < u: body`` as a whole phase, ``u`` uniform: the bound of dimension
        ``d``'s work-item loop instead of a test per work-item (a tree reduction's levels)."""
        if len(run) != 1 or not isinstance(run[0], ir.If) or run[0].orelse:
            return None
        cond = run[0].cond
        if not (isinstance(cond, ir.Binary) and cond.op is Op.LT):
            return None
        lhs = self.remat.get(cond.lhs.name) if isinstance(cond.lhs, ir.Var) else cond.lhs
        if not (isinstance(lhs, ir.IndexQuery) and lhs.op is Op.LOCAL_ID):
            return None
        if not phases.is_uniform(cond.rhs, self.guniform | self.uniform | {p.name for p in self.kernel.params}):
            return None
        d = lhs.dim   # local_id(d) < u bounds dimension d's loop; the other dimensions run in full
        return (d, f"max(np.int64(0), min(_pk_w{d}, np.int64({self.expr(cond.rhs)})))"), list(run[0].then)

    def _phase(self, run: list[ir.Stmt], src: PySource) -> None:
        plan = self.lane_plans.get(_run_key(run))
        narrowed = self._narrowed(run)
        bound = None
        if narrowed is not None:
            bound, run = narrowed
        if plan is not None:
            self._lane_phase(plan, bound, src)
        else:
            self._item_phase(run, bound, src)
        if self.group_loops:
            flag = self.group_loops[-1]
            with src.block(f"if {flag}_brk"):
                src.line("break")
            with src.block(f"if {flag}_cnt"):
                src.line("continue")

    def _item_phase(self, run: list[ir.Stmt], bound: tuple[int, str] | None, src: PySource) -> None:
        with self._item_loop(src, bound):
            if self.padded:
                out = " or ".join(f"_pk_g{d} >= _pk_n{d}" for d in range(self.nd))
                with src.block(f"if {out}"):
                    src.line("_pk_dn[_pk_l] = True")
            if self.has_return or self.padded:
                with src.block("if _pk_dn[_pk_l]"):
                    src.line("continue")
            self._declare_scalars(self._locals_of(tuple(run)), src)
            # per-item scalars live in locals for the phase (registers, not memory, in the hot loop)
            mentioned = sorted(phases.var_names(tuple(run)) & self.per_item)
            assigned = {n.target.name for st in run for n in walk(st) if isinstance(n, ir.Assign)}
            with self._held(mentioned, assigned, "_pk_l", src):
                self.depth = 0
                self.stmts(tuple(run), src)

    # -- lane-innermost phases (see portakern.codegen.lane_loops) ---------------------------------
    def _lane_phase(self, plan: LanePlan, bound: tuple[int, str] | None, src: PySource) -> None:
        """The phase as segments, each run for every lane of the last dimension before the next;
        an interchanged loop runs its iterations outermost and the lanes innermost (contiguous)."""
        last = self.nd - 1
        mentioned = set().union(*(phases.var_names(seg.stmts) for seg in plan.segments))
        types = {v.name: v.type for v in self.kernel.locals}
        with ExitStack() as stack:
            for d in range(last):
                stop = bound[1] if bound is not None and d == bound[0] else f"_pk_w{d}"
                stack.enter_context(src.block(f"for _pk_l{d} in range({stop})"))
                src.line(f"_pk_g{d} = _pk_r{d} * _pk_w{d} + _pk_l{d}")
            lanes = bound[1] if bound is not None and bound[0] == last else f"_pk_w{last}"
            src.line(f"_pk_lw = {lanes}")
            self.lane_now = plan.lane_vars | (self.per_item & mentioned)
            try:
                if plan.zeroed:
                    with self._lanes("_pk_lw", src):
                        for name in sorted(plan.zeroed):
                            src.line(f"{self.var(name)} = {np_type(types[name])}(0)")
                for seg in plan.segments:
                    self._segment(seg, src)
            finally:
                self.lane_now = set()

    @contextmanager
    def _lanes(self, count: str, src: PySource, counter: tuple[str, str] | None = None) -> Iterator[None]:
        """``for`` over the first ``count`` lanes of the last dimension (ids set per lane)."""
        with src.block(f"for _pk_l{self.nd - 1} in range({count})"):
            self._lane_ids(src, counter)
            yield

    def _lane_ids(self, src: PySource, counter: tuple[str, str] | None) -> None:
        last = self.nd - 1
        lin = "_pk_l0"
        for d in range(1, self.nd):
            lin = f"({lin}) * _pk_w{d} + _pk_l{d}"
        src.line(f"_pk_l = {lin}")
        src.line(f"_pk_g{last} = _pk_r{last} * _pk_w{last} + _pk_l{last}")
        if counter is not None:   # a row-strided loop's variable: lane 0's value plus the lane
            src.line(f"{self.var(counter[0])} = np.int64({counter[1]} + _pk_l{last})")

    def _segment(self, seg: Segment, src: PySource) -> None:
        loop, last = seg.loop, self.nd - 1
        if loop is None:
            self._lane_block(seg, "_pk_lw", src, None)
        elif seg.strided:
            base, stop = src.fresh("_pk_k"), src.fresh("_pk_stop")
            src.line(f"_pk_l{last} = 0")
            self._lane_ids(src, None)
            src.line(f"{stop} = {self.expr(loop.stop)}")
            with src.block(f"for {base} in range({self.expr(loop.start)}, {stop}, {self.expr(loop.step)})"):
                # lane l runs this step while base + l < stop: a prefix of the lanes
                src.line(f"_pk_nl = min(_pk_lw, {stop} - {base})")
                self._lane_block(seg, "_pk_nl", src, (loop.var.name, base))
        else:
            src.line(f"_pk_l{last} = 0")
            self._lane_ids(src, None)
            self.emit_for(loop, src, lambda: self._lane_block(seg, "_pk_lw", src, None))

    def _lane_block(self, seg: Segment, count: str, src: PySource, counter: tuple[str, str] | None) -> None:
        """The segment's statements for ``count`` lanes; when every batched access is in bounds at
        the first and the last lane, it is in bounds at every lane between, and runs unchecked."""
        if not (seg.batched and self.sites):
            self._lane_body(seg, count, src, counter)
            return
        last = self.nd - 1
        src.line(f"_pk_ok = {count} > 0")
        for edge in ("0", f"{count} - 1"):
            src.line(f"_pk_l{last} = {edge}")
            self._lane_ids(src, counter)
            for b in seg.batched:
                # an access in a short constant loop: at both ends of its variable as well
                ends = [None] if b.loop is None else list(unrolled(b.loop) or ())
                for end in ends:
                    if b.loop is not None:
                        src.line(f"{self.var(b.loop.var.name)} = np.int64({end})")
                    shape = f"{self.array(b.node.array.name)}.shape"
                    for d, (idx, affine) in enumerate(zip(b.indices, b.lane_affine)):
                        if edge == "0" or affine:
                            src.line(f"_pk_ok = _pk_ok and np.uint64({self.expr(idx)}) < np.uint64({shape}[{d}])")
        with src.block("if _pk_ok"):
            self.unchecked = {id(b.node) for b in seg.batched}
            self.known_true = proved_guards(seg, self.remat)
            try:
                self._lane_body(seg, count, src, counter)
            finally:
                self.unchecked = set()
                self.known_true = frozenset()
        with src.block("else"):
            self._lane_body(seg, count, src, counter)

    def _lane_body(self, seg: Segment, count: str, src: PySource, counter: tuple[str, str] | None) -> None:
        with self._lanes(count, src, counter):
            own = {seg.loop.var.name} if seg.loop is not None else set()   # set by the loop (or the lane)
            self._declare_scalars(self._locals_of(seg.stmts) - self.lane_now - own, src)
            # A lane's slots are its own: held in locals for its statements, so a loop inside them
            # keeps a slot in a register instead of storing it at every step (matmul's 16-step tile
            # product: LLVM cannot tell the slot from the tiles). Lane plans hold no break,
            # continue or return (plan_phase), so the write-back at the end always runs.
            held = sorted(phases.var_names(seg.stmts) & self.lane_now)
            assigned = {n.target.name for n in walk_body(seg.stmts) if isinstance(n, ir.Assign)}
            with self._held(held, assigned, "np.uint64(_pk_l)", src):
                self.depth = 0
                self.stmts(seg.stmts, src)

    def _uniform(self, e: ir.Expr, src: PySource) -> str:
        """Evaluate a work-group-uniform expression as work-item 0 sees it."""
        src.line("_pk_l = 0")
        self._item_ids(src)
        return self.expr(e)

    def _group_body(self, body: tuple[ir.Stmt, ...], src: PySource) -> None:
        for s in phases.split(body, self._is_group_assign):
            if isinstance(s, list):     # a phase (local arrays are allocated once per work-group)
                run = [t for t in s if not (isinstance(t, ir.DeclArray) and t.array.type.space == ArraySpace.LOCAL)]
                if run:
                    self._phase(run, src)
                continue
            if isinstance(s, ir.Assign):
                src.line(f"v_{py_name(s.target.name)} = {self._uniform(s.value, src)}")
            elif isinstance(s, ir.If):
                cond = self._uniform(s.cond, src)
                with src.block(f"if {cond}"):
                    self._group_body(s.then, src)
                if s.orelse:
                    with src.block("else"):
                        self._group_body(s.orelse, src)
            elif isinstance(s, ir.For):
                flag = f"_pk_gl{len(self.group_loops)}_{src.fresh('L')}"
                src.line(f"{flag}_brk = False")
                src.line("_pk_l = 0")
                self._item_ids(src)
                self.group_loops.append(flag)
                self.emit_for(s, src, partial(self._group_loop_body, s.body, flag, src))
                self.group_loops.pop()
            elif isinstance(s, ir.While):
                flag = f"_pk_gl{len(self.group_loops)}_{src.fresh('L')}"
                src.line(f"{flag}_brk = False")
                with src.block("while True"):
                    cond = self._uniform(s.cond, src)
                    with src.block(f"if not ({cond})"):
                        src.line("break")
                    self.group_loops.append(flag)
                    self._group_loop_body(s.body, flag, src)
                    self.group_loops.pop()

    def _is_group_assign(self, s: ir.Stmt) -> bool:
        return isinstance(s, ir.Assign) and s.target.name in self.guniform

    def _group_loop_body(self, body: tuple[ir.Stmt, ...], flag: str, src: PySource) -> None:
        src.line(f"{flag}_cnt = False")
        self._group_body(body, src)


def _privatizable(kernel: ir.Kernel) -> list[str]:
    """1-D integer array parameters whose every mention is an ``atomic_add``/``atomic_sub`` statement
    (old value unused): private copies of them give the same result (wrapping sums reorder freely)."""
    atomics: dict[str, int] = {}
    for n in walk_body(kernel.body):
        if (isinstance(n, ir.Evaluate) and isinstance(n.value, ir.Atomic)
                and n.value.op in (Op.ATOMIC_ADD, Op.ATOMIC_SUB)):
            atomics[n.value.array.name] = atomics.get(n.value.array.name, 0) + 1
    mentions: dict[str, int] = {}
    for n in walk_body(kernel.body):
        if isinstance(n, ir.ArrayRef):
            mentions[n.name] = mentions.get(n.name, 0) + 1
        elif isinstance(n, ir.Shape):                  # reading the shape is fine
            mentions[n.array.name] = mentions.get(n.array.name, 0) - 1
    out: list[str] = []
    for p in kernel.params:
        t = p.type
        if (p.name in atomics and mentions.get(p.name) == atomics[p.name] and isinstance(t, ArrayType)
                and t.dtype.is_int and t.ndim == 1 and t.space == ArraySpace.GLOBAL):
            out.append(p.name)
    return out


def _run_key(run: list[ir.Stmt]) -> tuple[int, ...]:
    """A phase's identity: its statements, less the local array declarations (group-level)."""
    return tuple(id(s) for s in run if not (isinstance(s, ir.DeclArray) and s.array.type.space == ArraySpace.LOCAL))


def render(kernel: ir.Kernel) -> str:
    """The Python module source for ``kernel`` (pure)."""
    return NumbaRenderer(lower_subgroups_to_local(kernel)).render()
