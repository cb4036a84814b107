"""Hand-built typed IR for the C-family renderer tests (a helper module, no tests): one kernel per
that applies to it, each result in its own row, so each prelude helper is rendered, compiled and
(where a device or host compiler exists) run at least once."""
from __future__ import annotations

from portakern.ir import nodes as ir
from portakern.types import SCALAR_TYPES, ArraySpace, ArrayType, ScalarType, bool_, float32, int64

I = int64  # noqa: E741 - the index type, used everywhere below
ATOMIC_TYPES = ("int32", "uint32", "int64", "uint64", "float32", "float64")


def c(v: bool | int | float, t: ScalarType) -> ir.Const:
    return ir.Const(v, t)


def every_op_kernel(t: ScalarType, debug: bool = False, grid_ndim: int = 1,
                    with_local: bool = True) -> tuple[ir.Kernel, list[str], list[str]]:
    """``out[k, i] = f_k(a[i], b[i])`` for every op valid on ``t`` and ``flags[k, i]`` for every
    predicate; also casts through every type, loops, while, select, private (and, for the atomic
    types with ``with_local``, local) arrays and atomics into ``acc``. Returns the kernel and the
    labels of the rows of ``out`` and ``flags`` (a label starting with "~" is tier 1)."""
    a = ir.ArrayRef("a", ArrayType(t, 1))
    bb = ir.ArrayRef("b", ArrayType(t, 1))
    out = ir.ArrayRef("out", ArrayType(t, 2))
    flags = ir.ArrayRef("flags", ArrayType(bool_, 2))
    acc = ir.ArrayRef("acc", ArrayType(t, 1))
    i = ir.Var("i", I)
    x, y, s = ir.Var("x", t), ir.Var("y", t), ir.Var("s", t)
    gid = ir.IndexQuery(ir.Op.GLOBAL_ID, grid_ndim - 1, I)
    body: list[ir.Stmt] = [ir.Assign(i, gid), ir.Assign(x, ir.Load(a, (i,), t)), ir.Assign(y, ir.Load(bb, (i,), t))]
    rows: list[tuple[str, ir.Expr]] = []
    if t.is_bool:
        ops = [ir.Op.AND, ir.Op.OR, ir.Op.XOR, ir.Op.ADD, ir.Op.MUL]
    elif t.is_int:
        ops = [ir.Op.ADD, ir.Op.SUB, ir.Op.MUL, ir.Op.FLOORDIV, ir.Op.MOD, ir.Op.POW, ir.Op.AND, ir.Op.OR,
               ir.Op.XOR, ir.Op.SHL, ir.Op.SHR]
    else:
        ops = [ir.Op.ADD, ir.Op.SUB, ir.Op.MUL, ir.Op.DIV, ir.Op.FLOORDIV, ir.Op.MOD]
    rows += [(op.name, ir.Binary(op, x, y, t)) for op in ops]
    if t.is_float:
        for op in sorted(ir.FLOAT_MATH, key=lambda o: o.name):
            args = (x, y, x)[:ir.ARITY[op]]
            rows.append((op.name if op in ir.TIER0_MATH else "~" + op.name, ir.Call(op, args, t)))
    if not t.is_bool:
        rows += [(op.name, ir.Call(op, (x, y)[:ir.ARITY[op]], t)) for op in sorted(ir.NUMERIC_MATH, key=lambda o: o.name)]
        rows.append(("NEG", ir.Unary(ir.Op.NEG, x, t)))
    if t.is_int or t.is_bool:
        rows.append(("INVERT", ir.Unary(ir.Op.INVERT, x, t)))
    rows += [(f"cast_{u.name}", ir.Cast(ir.Cast(x, u), t)) for u in SCALAR_TYPES]
    cmp = [(op.name, ir.Binary(op, x, y, bool_)) for op in sorted(ir.COMPARISONS, key=lambda o: o.name)]
    if t.is_float:
        cmp += [(op.name, ir.Call(op, (x,), bool_)) for op in sorted(ir.CLASSIFY, key=lambda o: o.name)]
    land = ir.Binary(ir.Op.LAND, cmp[0][1], ir.Unary(ir.Op.NOT, cmp[1][1], bool_), bool_)
    cmp.append(("LAND_LOR", ir.Binary(ir.Op.LOR, land, cmp[2][1], bool_)))
    cmp += [(f"to_bool_{u.name}", ir.Cast(ir.Cast(x, u), bool_)) for u in SCALAR_TYPES]
    rows.append(("select", ir.Select(cmp[0][1], x, y, t)))
    rows.append(("const_one", ir.Binary(ir.Op.OR if t.is_bool else ir.Op.ADD, x, c(1.0 if t.is_float else 1, t), t)))
    # loops: runtime bound, a negative runtime step with continue/break, while/break
    j = ir.Var("j", I)
    steps = ir.Var("steps", I)
    loops = [ir.Assign(s, x), ir.Assign(steps, c(0, I)),
             ir.For(j, c(0, I), ir.Shape(a, 0, I), c(1, I), (ir.Assign(s, y),)),
             ir.For(j, c(10, I), c(0, I), ir.Unary(ir.Op.NEG, c(3, I), I),
                    (ir.If(ir.Binary(ir.Op.EQ, j, c(7, I), bool_), (ir.Continue(),),
                           (ir.If(ir.Binary(ir.Op.LT, j, c(2, I), bool_), (ir.Break(),),
                                  (ir.Assign(steps, ir.Binary(ir.Op.ADD, steps, j, I)),)),)),)),
             ir.While(ir.Binary(ir.Op.LT, i, c(0, I), bool_), (ir.Break(),))]
    body += loops
    rows.append(("loop", s))
    rows.append(("loop_steps", ir.Cast(steps, t)))
    p = ir.ArrayRef("p", ArrayType(t, 2, ArraySpace.PRIVATE, shape=(2, 3)))
    body += [ir.DeclArray(p), ir.Store(p, (c(1, I), c(2, I)), x)]
    rows.append(("private", ir.Load(p, (c(1, I), c(2, I)), t)))
    for k, (_, e) in enumerate(rows):
        body.append(ir.Store(out, (c(k, I), i), e))
    for k, (_, e) in enumerate(cmp):
        body.append(ir.Store(flags, (c(k, I), i), e))
    uses_local = False
    if t.name in ATOMIC_TYPES:
        # one cell per op; xchg stores one constant and cas swaps 0 for one, so every op's final
        # value is independent of the order of the work-items
        ops = [op for op in sorted(ir.ATOMICS - {ir.Op.ATOMIC_XCHG, ir.Op.ATOMIC_CAS}, key=lambda o: o.name)
               if t.is_int or op not in ir.INT_ATOMICS] + [ir.Op.ATOMIC_XCHG, ir.Op.ATOMIC_CAS]
        for k, op in enumerate(ops):
            cas = op is ir.Op.ATOMIC_CAS
            v = c(3, t) if op in (ir.Op.ATOMIC_XCHG, ir.Op.ATOMIC_CAS) else x
            body.append(ir.Evaluate(ir.Atomic(op, acc, (c(k, I),), v, t, compare=c(0, t) if cas else None)))
            body.append(ir.Evaluate(ir.Atomic(op, p, (c(0, I), c(0, I)), y, t, compare=y if cas else None)))
        if with_local:
            uses_local = True
            loc = ir.ArrayRef("tile", ArrayType(t, 1, ArraySpace.LOCAL, shape=(4,)))
            body += [ir.DeclArray(loc), ir.Store(loc, (c(1, I),), x), ir.Barrier(),
                     ir.Evaluate(ir.Atomic(ir.Op.ATOMIC_ADD, loc, (c(1, I),), y, t)),
                     ir.Evaluate(ir.Atomic(ir.Op.ATOMIC_MIN, loc, (c(1, I),), y, t)), ir.Barrier()]
    body.append(ir.If(ir.Binary(ir.Op.GT, i, c(1000, I), bool_), (ir.Return(),)))
    params = tuple(ir.Param(r.name, r.type) for r in (a, bb, out, flags, acc))
    k = ir.Kernel(f"every_op_{t.name}", params, tuple(body), (i, x, y, s, steps), ("out", "flags", "acc"),
                  uses_barrier=uses_local, uses_local=uses_local, grid_ndim=grid_ndim, debug=debug)
    return k, [r[0] for r in rows], [r[0] for r in cmp]


def kernel_2d() -> ir.Kernel:
    """``out[i, j] = i * 100 + j`` over a 2-D launch (checks the dimension mapping)."""
    out = ir.ArrayRef("out", ArrayType(int64, 2))
    i, j = ir.Var("i", I), ir.Var("j", I)
    body = (ir.Assign(i, ir.IndexQuery(ir.Op.GLOBAL_ID, 0, I)), ir.Assign(j, ir.IndexQuery(ir.Op.GLOBAL_ID, 1, I)),
            ir.Store(out, (i, j), ir.Binary(ir.Op.ADD, ir.Binary(ir.Op.MUL, i, c(100, I), I), j, I)))
    return ir.Kernel("grid2d", (ir.Param("out", out.type),), body, (i, j), ("out",), False, False, grid_ndim=2)


def keyword_kernel() -> ir.Kernel:
    """Parameters and locals named like C/OpenCL/CUDA keywords, builtins and generated names."""
    names = ["int", "kernel", "float", "threadIdx", "pk_o0", "sqrt", "x_", "x__"]
    arrs = [ir.ArrayRef(n, ArrayType(float32, 1)) for n in names[:4]]
    v = [ir.Var(n, float32) for n in names[4:]]
    body = tuple(ir.Assign(var, ir.Load(arrs[k], (c(0, I),), float32)) for k, var in enumerate(v)) + (
        ir.Store(arrs[0], (c(0, I),), ir.Call(ir.Op.SQRT, (v[1],), float32)),)
    return ir.Kernel("float", tuple(ir.Param(a.name, a.type) for a in arrs), body, tuple(v), ("int",), False, False)
