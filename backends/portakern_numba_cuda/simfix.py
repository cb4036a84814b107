"""A mend for a data race in Numba's CUDA simulator (numba-cuda 0.30), applied once when a kernel is
loaded in the simulator; a real GPU never needs it.

The simulator runs each thread of a block as a Python thread and hands out a block's shared arrays
from ``FakeCUDAShared.array``, keyed by the calling line: ``get(caller)``, then ``np.empty`` and a set
on a miss. The get and the set are not atomic, so two threads of a block that reach the line together
can both miss and each allocate an array of its own. Each then works on its own copy, and the block
reads memory no thread wrote: seen here as one sub-group's wrong sums (32 of 128) in about one full
test run in several. ``locked_shared_array`` does the same lookup under a lock, and finds the calling
line from the caller's frame instead of a whole ``traceback.extract_stack`` (same key: file and line).
Dynamic shared memory (``shape == 0``) and the alignment error stay the simulator's own.
"""
from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

__all__ = ["install", "locked_shared_array"]

_LOCK = threading.Lock()


def locked_shared_array(self: Any, shape: Any, dtype: Any, alignment: Any = None) -> Any:
    """``FakeCUDAShared.array`` with its lookup and allocation under one lock."""
    allocations = getattr(self, "_allocations", None)
    if alignment is not None or shape == 0 or not isinstance(allocations, dict):
        return _ORIGINAL[0](self, shape, dtype, alignment)
    from numba.core import types
    from numba.np import numpy_support

    if isinstance(dtype, types.Type):
        dtype = numpy_support.as_dtype(dtype)
    frame = sys._getframe(1)
    caller = (frame.f_code.co_filename, frame.f_lineno)
    with _LOCK:
        res = allocations.get(caller)
        if res is None:
            res = allocations[caller] = np.empty(shape, dtype)
    return res


_ORIGINAL: list[Any] = []


def install() -> None:
    """Replace ``FakeCUDAShared.array`` by ``locked_shared_array`` (once; only in the simulator)."""
    from numba.cuda.simulator import kernelapi

    cls = kernelapi.FakeCUDAShared
    with _LOCK:
        if cls.array is locked_shared_array:
            return
        _ORIGINAL[:] = [cls.array]
        cls.array = locked_shared_array
