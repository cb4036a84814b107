"""Loading and launching for the ``numpy`` backend.

The generated ``build(C)`` is executed once per loaded kernel; a launch reuses the lane operations
(index queries) of its grid from a small cache, runs under ``np.errstate(all="ignore")`` (integer
wrap-around and IEEE exceptions are the contract, not warnings) and returns the written arrays.

"A failed launch never corrupts the caller's arrays": when a bounds failure could follow a write
(``written_sites_safe`` is False: several write sites, a write in a loop, or an access after the
write), the launcher runs on copies of the written arrays and returns them (the runtime copies them
back). Kernels whose single write is the last access (saxpy and most element-wise kernels) write in
place with no copy, since that write checks its bounds before touching memory.

Memory is bounded by the work-items of one step, not by the ndrange: an index space of more than
``CHUNK_LANES`` work-items runs in chunks of whole rows of its first dimension (each chunk's lanes
are the work-items with global_id(0) in a range; size and group queries still describe the whole
ndrange), on copies of the written arrays. Kernels with barriers or work-group memory run whole.
Chunks run one after another, so conflicting atomics still apply in increasing work-item order.
A kernel that spins on an atomic (a lock) runs in steps of one row, or one row of work-groups
(``spin_wait_rows``), so that a lock holder finishes before the next step spins.
Each thread keeps its own lane operations (their index queries are computed lazily).
"""
from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from portakern.codegen.vectorize import spin_wait_rows, spins_on_atomics, written_sites_safe
from portakern.errors import CompileError
from portakern.ir.nodes import ArrayType, Kernel
from portakern.runtime.backend import Launcher, LaunchGrid

from .ops import NumpyOps

__all__ = ["NumpyLauncher", "constant", "CHUNK_LANES"]

#: the most work-items one step of a launch holds as lanes (a lane-sized int64 temporary is 8 MB);
#: a larger index space runs in chunks of whole rows of its first dimension, one after another
CHUNK_LANES = 1 << 20


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
        written = tuple(i for i, p in enumerate(kernel.params)
                        if isinstance(p.type, ArrayType) and p.name in kernel.written)
        self.copy = () if written_sites_safe(kernel) else written
        self.chunk_copy = written        # a later chunk's bounds failure must not follow earlier writes
        # work-group memory and barriers tie the lanes of a work-group together: such kernels run
        # the whole index space at once; any other kernel runs in chunks of rows (CHUNK_LANES)
        self.chunked = not (kernel.uses_barrier or kernel.uses_local or kernel.uses_subgroup)
        self.spins = spins_on_atomics(kernel)   # a lock: steps of one row (spin_wait_rows)
        self._local = threading.local()    # .ops: this thread's {grid: NumpyOps}

    def ops(self, grid: LaunchGrid) -> NumpyOps:
        """The lane operations of ``grid`` (cached per thread: index queries are computed once per
        grid, lazily, and a NumpyOps shared by threads would compute them concurrently)."""
        try:
            cache = self._local.ops
        except AttributeError:
            cache = self._local.ops = {}
        ops = cache.get(grid)
        if ops is None:
            if len(cache) > 16:
                cache.clear()
            ops = cache[grid] = NumpyOps(self.kernel, grid)
        return ops

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        ops = self.ops(grid)                    # (cheap for any size: its lanes are built lazily)
        spin = spin_wait_rows(self.kernel, ops.workgroup) if self.spins else None
        chunks = (self.chunked and ops.N > CHUNK_LANES) or spin is not None
        copy = self.chunk_copy if chunks else self.copy
        if copy:
            args = list(args)
            for i in copy:
                args[i] = np.array(args[i], copy=True)
        if not chunks:
            with np.errstate(all="ignore"):
                return self.fn(ops, args)
        nd = grid.ndrange
        step = spin or max(1, CHUNK_LANES // max(math.prod(nd[1:]), 1))
        out: Mapping[str, Any] = {}
        with np.errstate(all="ignore"):
            for lo in range(0, nd[0], step):
                out = self.fn(NumpyOps(self.kernel, grid, (lo, min(lo + step, nd[0]))), args)
        return out
