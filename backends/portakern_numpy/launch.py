"""Loading and launching for the ``numpy`` backend.

The generated ``build(C)`` is executed once per loaded kernel; a launch reuses the lane operations
(index queries) of its grid from a small cache, runs under ``np.errstate(all="ignore")`` (integer
wrap-around and IEEE exceptions are the contract, not warnings) and returns the written arrays.

"A failed launch never corrupts the caller's arrays": when a bounds failure could follow a write
(``written_sites_safe`` is False: several write sites, a write in a loop, or an access after the
write), the launcher runs on copies of the written arrays and returns them (the runtime copies them
back). Kernels whose single write is the last access (saxpy and most element-wise kernels) write in
place with no copy, since that write checks its bounds before touching memory.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from portakern.codegen.vectorize import written_sites_safe
from portakern.errors import CompileError
from portakern.ir.nodes import ArrayType, Kernel
from portakern.runtime.backend import Launcher, LaunchGrid

from .ops import NumpyOps

__all__ = ["NumpyLauncher", "constant"]


def constant(tname: str, value: object) -> Any:
    """A typed NumPy scalar for a kernel constant."""
    return np.dtype("bool" if tname == "bool_" else tname).type(value)


class NumpyLauncher(Launcher):
    """Runs a rendered vectorised kernel over NumPy arrays."""

    def __init__(self, kernel: Kernel, source: str) -> None:
        self.kernel = kernel
        namespace: dict[str, Any] = {}
        try:
            exec(compile(source, f"<portakern numpy {kernel.name}>", "exec"), namespace)  # noqa: S102
        except SyntaxError as exc:  # pragma: no cover - a renderer bug
            raise CompileError(f"numpy backend: generated source does not compile: {exc}") from exc
        self.fn = namespace["build"](constant)
        self.copy = () if written_sites_safe(kernel) else tuple(
            i for i, p in enumerate(kernel.params)
            if isinstance(p.type, ArrayType) and p.name in kernel.written)
        self._ops: dict[LaunchGrid, NumpyOps] = {}

    def ops(self, grid: LaunchGrid) -> NumpyOps:
        """The lane operations of ``grid`` (cached: index queries are computed once per grid)."""
        ops = self._ops.get(grid)
        if ops is None:
            if len(self._ops) > 16:
                self._ops.clear()
            ops = self._ops[grid] = NumpyOps(self.kernel, grid)
        return ops

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        ops = self.ops(grid)
        if self.copy:
            args = list(args)
            for i in self.copy:
                args[i] = np.array(args[i], copy=True)
        with np.errstate(all="ignore"):
            return self.fn(ops, args)
