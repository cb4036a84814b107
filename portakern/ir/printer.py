"""A readable, indented listing of a typed kernel (what ``kernel.ir(*args)`` shows).

Statements read like Python; each statement's value carries its type::

    kernel saxpy(a: float32, x: global float32[:] C, y: ..., out: ...)  grid_ndim=1
      i = global_id(0) : int64
      if (i < out.shape[0]):
        out[i] = ((a * x[i]) + y[i]) : float32
"""
from __future__ import annotations

from . import nodes as ir
from .nodes import Op

__all__ = ["format_kernel", "format_expr"]


def format_expr(e: ir.Expr) -> str:
    """An expression as text (fully parenthesised; casts as ``float32(x)``)."""
    if isinstance(e, ir.Const):
        v = e.value
        if isinstance(v, float):
            return repr(v) if e.type.bits == 64 else f"{v!r}f"
        return repr(v)
    if isinstance(e, (ir.Var, ir.ArrayRef)):
        return e.name
    if isinstance(e, ir.Binary):
        return f"({format_expr(e.lhs)} {e.op.value} {format_expr(e.rhs)})"
    if isinstance(e, ir.Unary):
        sym = {Op.NEG: "-", Op.INVERT: "~", Op.NOT: "not "}[e.op]
        return f"{sym}{format_expr(e.operand)}"
    if isinstance(e, ir.Call):
        return f"{e.op.value}({', '.join(format_expr(a) for a in e.args)})"
    if isinstance(e, ir.Cast):
        return f"{e.type}({format_expr(e.value)})"
    if isinstance(e, ir.Select):
        return f"({format_expr(e.then)} if {format_expr(e.cond)} else {format_expr(e.orelse)})"
    if isinstance(e, ir.IndexQuery):
        return f"{e.op.value}({e.dim})"
    if isinstance(e, ir.Shape):
        return f"{e.array.name}.shape[{e.dim}]"
    if isinstance(e, ir.Load):
        return f"{e.array.name}[{', '.join(format_expr(i) for i in e.indices)}]"
    if isinstance(e, ir.Atomic):
        idx = ", ".join(format_expr(i) for i in e.indices)
        cmp = "" if e.compare is None else f"{format_expr(e.compare)}, "
        return f"{e.op.value}({e.array.name}, ({idx}), {cmp}{format_expr(e.value)})"
    return f"<{type(e).__name__}>"


def _stmt(s: ir.Stmt, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if isinstance(s, ir.Assign):
        out.append(f"{pad}{s.target.name} = {format_expr(s.value)} : {s.target.type}")
    elif isinstance(s, ir.Store):
        idx = ", ".join(format_expr(i) for i in s.indices)
        out.append(f"{pad}{s.array.name}[{idx}] = {format_expr(s.value)} : {s.array.type.dtype}")
    elif isinstance(s, ir.Evaluate):
        out.append(f"{pad}{format_expr(s.value)} : {getattr(s.value, 'type', '?')}")
    elif isinstance(s, ir.DeclArray):
        shape = s.array.type.shape if s.size is None else f"({format_expr(s.size)},)"
        out.append(f"{pad}{s.array.name} = {s.array.type.space}_array({shape}, {s.array.type.dtype})")
    elif isinstance(s, ir.If):
        out.append(f"{pad}if {format_expr(s.cond)}:")
        _block(s.then, depth + 1, out)
        if s.orelse:
            out.append(f"{pad}else:")
            _block(s.orelse, depth + 1, out)
    elif isinstance(s, ir.For):
        out.append(f"{pad}for {s.var.name} in range({format_expr(s.start)}, {format_expr(s.stop)}, "
                   f"{format_expr(s.step)}):")
        _block(s.body, depth + 1, out)
    elif isinstance(s, ir.While):
        out.append(f"{pad}while {format_expr(s.cond)}:")
        _block(s.body, depth + 1, out)
    elif isinstance(s, ir.Break):
        out.append(f"{pad}break")
    elif isinstance(s, ir.Continue):
        out.append(f"{pad}continue")
    elif isinstance(s, ir.Return):
        out.append(f"{pad}return")
    elif isinstance(s, ir.Barrier):
        out.append(f"{pad}barrier()")
    elif isinstance(s, ir.Subgroup):
        args = format_expr(s.value) + ("" if s.arg is None else f", {format_expr(s.arg)}")
        out.append(f"{pad}{s.target.name} = {s.op.value}({args}) : {s.target.type}  # llid {format_expr(s.llid)}")
    else:
        out.append(f"{pad}<{type(s).__name__}>")


def _block(stmts: tuple[ir.Stmt, ...], depth: int, out: list[str]) -> None:
    if not stmts:
        out.append("  " * depth + "pass")
    for s in stmts:
        _stmt(s, depth, out)


def format_kernel(kernel: ir.Kernel) -> str:
    """The whole kernel: signature, flags, locals and the indented typed body."""
    params = ", ".join(f"{p.name}: {p.type}" for p in kernel.params)
    flags = [f"grid_ndim={kernel.grid_ndim}"]
    if kernel.uses_barrier:
        flags.append("barrier")
    if kernel.uses_local:
        flags.append("local")
    if kernel.uses_subgroup:
        flags.append("subgroup")
    if kernel.debug:
        flags.append("debug")
    elif kernel.boundscheck:
        flags.append("boundscheck")
    lines = [f"kernel {kernel.name}({params})  {' '.join(flags)}"]
    if kernel.written:
        lines.append(f"  # writes: {', '.join(kernel.written)}")
    if kernel.shape_ge:
        lines.append("  # assumes: " + ", ".join(f"{b}.shape[{e}] >= {a}.shape[{d}]" for b, e, a, d in kernel.shape_ge))
    if kernel.locals:
        lines.append("  # locals: " + ", ".join(f"{v.name}: {v.type}" for v in kernel.locals))
    _block(kernel.body, 1, lines)
    return "\n".join(lines)
