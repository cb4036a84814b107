"""The ``numpy`` backend: the vectorising lowering over NumPy, the reference semantics.

The whole index space runs at once (see ``portakern.codegen.vectorize``); NumPy is a core dependency,
so this backend is always available. NumPy arrays are not "owned" (the runtime routes them to the
default CPU backend), and ``from_host`` returns the array itself: the launcher decides whether to
write into it directly or into a copy (see ``launch.py``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from portakern.ir.nodes import Kernel
from portakern.runtime.backend import HOST_LOCAL_MEMORY, Backend, Capabilities, Device, Launcher

from .render import render

__all__ = ["NumpyBackend"]

_DEVICE = Device("numpy", "cpu", "CPU")


class NumpyBackend(Backend):
    """Vectorised NumPy over the whole index space; strided views are indexed natively."""

    name = "numpy"
    source_language = "py"
    install_hint = 'pip install "portakern"'

    def is_available(self) -> bool:
        return True

    def device(self, spec: Any = None) -> Device:
        """The one CPU device (any ``spec`` naming the CPU resolves to it)."""
        return _DEVICE

    def capabilities(self, device: Device) -> Capabilities:
        return Capabilities(fp64=True, int64_atomics=True, native_float_atomics=True,
                            strided_arrays=True, in_place=True, max_workgroup_size=1 << 30,
                            max_local_memory=HOST_LOCAL_MEMORY)

    def version(self) -> str:
        return str(np.__version__)

    def render(self, kernel: Kernel) -> str:
        return render(kernel)

    def load(self, kernel: Kernel, artifact: bytes, device: Device) -> Launcher:
        from .launch import NumpyLauncher

        return NumpyLauncher(kernel, artifact.decode())

    def owns(self, obj: Any) -> bool:
        return False

    from_host = Backend.from_host_identity   # NumPy arrays are native: the launch skips the call

    def to_host(self, native: Any) -> np.ndarray:
        return np.asarray(native)

    def native_shape(self, native: Any) -> tuple[tuple[int, ...], np.dtype, bool]:
        return (tuple(native.shape), np.dtype(native.dtype), bool(native.flags.c_contiguous))
