"""Reverse-mode differentiation through a ``lax.while_loop``: a portakern error, not JAX's.

JAX cannot transpose a ``while_loop`` (its trip count is data-dependent), and with its direct
linearisation (``jax.grad``/``jax.vjp``) it says so only in the backward pass, after the kernel
has returned, as a bare ``ValueError`` naming no kernel. The loop's results are checked instead
while the kernel is traced: a result that carries a tangent under linearisation is one that the
backward pass would have to transpose, so the launch is refused there, naming the kernel and the
``while`` line. Forward mode (``jax.jvp``, ``jacfwd``) traces with other tracers and is unaffected.
"""
from __future__ import annotations

from typing import Any

import jax

from portakern.errors import CompileError
from portakern.ir.nodes import Kernel, While
from portakern.ir.visit import walk_body

__all__ = ["differentiated", "no_reverse_mode"]

try:                                   # private names: without them only the old path is caught
    from jax._src.ad_util import Zero as _Zero
    from jax._src.interpreters.ad import LinearizeTracer as _Linearize
except ImportError:  # pragma: no cover - another jax layout
    _Zero = _Linearize = None


def differentiated(value: Any) -> bool:
    """Whether any leaf of ``value`` carries a (non-zero) tangent of a linearisation."""
    if _Linearize is None:  # pragma: no cover
        return False
    return any(isinstance(leaf, _Linearize) and not isinstance(leaf.tangent, _Zero)
               for leaf in jax.tree_util.tree_leaves(value))


def no_reverse_mode(kernel: Kernel, line: int) -> CompileError:
    """The error for reverse-mode differentiation through the ``while`` loop at ``line``."""
    loc = next((n.loc for n in walk_body(kernel.body) if isinstance(n, While) and n.loc.line == line), None)
    return CompileError(
        f"kernel '{kernel.name}': jax.grad/jax.vjp (reverse mode) cannot differentiate through this "
        "data-dependent `while` loop (JAX cannot reverse a lax.while_loop)", loc,
        "use forward mode (jax.jvp, jax.jacfwd), or a loop `for k in range(N)` with N known at trace "
        "time (a constexpr or a shape), which is reverse-differentiable (docs/backends/jax.md \"Composition\")")
