"""Local arrays sized at launch (``DeclArray.size``): which a kernel has, and how they are laid out.

A launch-sized array's element count is an int64 expression of the kernel's scalar parameters and
array parameters' shapes, so the
host knows it before the launch: the runtime checks it against the device's local memory, OpenCL
passes each such array as a ``__local`` kernel argument, CUDA and numba-cuda carve them, in declaration
order, from one dynamic shared-memory block (each start aligned to ``ALIGN`` bytes), and the CPU
backends allocate them per work-group. The evaluation uses the front end's constant folding, so the
host computes exactly the value the kernel computes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..types import ArraySpace
from . import nodes as ir
from .visit import walk, walk_body

#: the alignment, in bytes, of each launch-sized array inside the dynamic block (CUDA's widest vector)
ALIGN = 16


def launch_sized(kernel: ir.Kernel) -> tuple[ir.DeclArray, ...]:
    """The kernel's launch-sized local array declarations, one per array, in declaration order."""
    seen: dict[str, ir.DeclArray] = {}
    for node in walk_body(kernel.body):
        if isinstance(node, ir.DeclArray) and node.size is not None:
            seen.setdefault(node.array.name, node)
    return tuple(seen.values())


def static_local_bytes(kernel: ir.Kernel) -> int:
    """Bytes of the local arrays whose shape is known at compile time (one work-group's copy)."""
    seen: dict[str, int] = {}
    for node in walk_body(kernel.body):
        if isinstance(node, ir.DeclArray) and node.size is None \
                and node.array.type.space == ArraySpace.LOCAL and node.array.type.shape:
            n = 1
            for d in node.array.type.shape:
                n *= d
            seen[node.array.name] = n * node.array.type.dtype.dtype.itemsize
    return sum(seen.values())


def evaluate(expr: ir.Expr, values: Mapping[str, Any]) -> int:
    """The value of a launch size expression given the parameters' values (scalars, and arrays
    whose ``.shape`` it reads), as the kernel computes it: fixed-width wrapping arithmetic, ``x // 0 == 0``."""
    from ..frontend.ops import _fold_int, fold_cast

    def value(e: ir.Expr) -> int:
        if isinstance(e, ir.Const):
            return int(e.value)
        if isinstance(e, ir.Var):
            return int(fold_cast(int(values[e.name]), e.type, e.type))
        if isinstance(e, ir.Shape):
            return int(values[e.array.name].shape[e.dim])
        if isinstance(e, ir.Cast):
            return int(fold_cast(value(e.value), e.value.type, e.type))  # type: ignore[union-attr, arg-type]
        if isinstance(e, ir.Call) and e.op in (ir.Op.MIN, ir.Op.MAX):
            a, b = (value(x) for x in e.args)
            return min(a, b) if e.op is ir.Op.MIN else max(a, b)
        if isinstance(e, ir.Binary):
            out = _fold_int(e.op, value(e.lhs), value(e.rhs), e.type, False)
            if out is not None:
                return out
        raise ValueError(f"not a launch size expression: {type(e).__name__}")   # the front end refuses it

    return value(expr)


class LaunchSizes:
    """A kernel's local arrays sized at launch, prepared once (when the kernel is loaded) for the
    per-launch work: their element counts for a launch's arguments and CUDA's carving of the block.
    False when the kernel has none."""

    def __init__(self, kernel: ir.Kernel) -> None:
        self.decls = launch_sized(kernel)
        self.static_bytes = static_local_bytes(kernel)
        self.itemsizes = tuple(d.array.type.dtype.dtype.itemsize for d in self.decls)
        #: the parameters each size reads (by name), and every one read with its position
        self.reads = tuple(tuple(sorted({n.name if isinstance(n, ir.Var) else n.array.name
                                         for n in walk(d.size) if isinstance(n, (ir.Var, ir.Shape))}))
                           for d in self.decls)
        read = {name for names in self.reads for name in names}
        self.positions = {p.name: i for i, p in enumerate(kernel.params) if p.name in read}

    def __bool__(self) -> bool:
        return bool(self.decls)

    def counts(self, args: Sequence[Any]) -> tuple[int, ...]:
        """Each array's element count for ``args`` (the launcher's, in parameter order)."""
        values = {name: args[i] for name, i in self.positions.items()}
        return tuple(evaluate(d.size, values) for d in self.decls)  # type: ignore[arg-type]

    def carve(self, counts: Sequence[int]) -> tuple[tuple[int, ...], int]:
        """(byte offset of each array in one dynamic block, the block's size in bytes): declaration
        order, each start rounded up to ``ALIGN``."""
        offsets = []
        total = 0
        for item, n in zip(self.itemsizes, counts):
            total = -(-total // ALIGN) * ALIGN
            offsets.append(total)
            total += max(int(n), 0) * item
        return tuple(offsets), total


def size_problem(expr: ir.Expr, launch_args: frozenset[str] | set[str]) -> str | None:
    """Why ``expr`` cannot size a local array at launch (None when it can): it may use literals,
    the scalar parameters named in ``launch_args``, the shapes of array parameters, ``LAUNCH_SIZE_OPS``
    and int casts."""
    if isinstance(expr, ir.Const) or (isinstance(expr, ir.Shape) and expr.array.type.space == ArraySpace.GLOBAL):
        return None
    if isinstance(expr, ir.Var):
        return None if expr.name in launch_args else \
            f"'{expr.name}' is not a scalar parameter of the kernel (or is assigned in the body)"
    if not expr.type.is_int:      # type: ignore[union-attr]
        return f"it computes a {expr.type} value"  # type: ignore[union-attr]
    if isinstance(expr, ir.Cast):
        if not expr.value.type.is_int:  # type: ignore[union-attr]
            return f"it converts a {expr.value.type} value"  # type: ignore[union-attr]
        return size_problem(expr.value, launch_args)
    if isinstance(expr, ir.Binary) and expr.op in ir.LAUNCH_SIZE_OPS:
        return size_problem(expr.lhs, launch_args) or size_problem(expr.rhs, launch_args)
    if isinstance(expr, ir.Call) and expr.op in ir.LAUNCH_SIZE_OPS:
        return next((p for p in (size_problem(a, launch_args) for a in expr.args) if p), None)
    what = expr.op.value if isinstance(expr, (ir.Binary, ir.Call, ir.Unary)) else type(expr).__name__
    return f"it uses '{what}'"
