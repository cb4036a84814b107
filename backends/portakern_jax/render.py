"""Pure rendering for the ``jax`` backend: the shared vectorising lowering (the same source as
``numpy``; the lane operations differ, see ``ops.py``)."""
from __future__ import annotations

from portakern.codegen import vectorize
from portakern.ir import nodes as ir

__all__ = ["render", "UNSUPPORTED"]

#: math calls this backend's lane operations cannot compute (a CompileError naming op and backend)
UNSUPPORTED: frozenset[ir.Op] = frozenset()


def render(kernel: ir.Kernel) -> str:
    """The vectorised source of ``kernel`` (pure), each load and store told the affine forms of
    its indices (codegen/affine.py)."""
    return vectorize.render(kernel, "jax", UNSUPPORTED, affine=True)
