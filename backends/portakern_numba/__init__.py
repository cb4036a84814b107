"""The ``numba`` backend: Python source for ``numba.njit(parallel=True)`` on the CPU.

Work-groups run in parallel (``prange``), work-items in loops; barriers split kernels into phases.
See docs/backends/numba.md. Numba itself is imported only by ``launch.py`` (lazily).
"""
from __future__ import annotations

import importlib.util
import os
import platform
from typing import Any

import numpy as np

from portakern.errors import BackendUnavailable
from portakern.ir import nodes as ir
from portakern.runtime.backend import HOST_LOCAL_MEMORY, Backend, Capabilities, Device, Launcher

__all__ = ["NumbaBackend"]


class NumbaBackend(Backend):
    """CPU backend through ``numba.njit(parallel=True)`` with a verified disk cache; never fastmath."""

    name = "numba"
    source_language = "py"
    install_hint = 'pip install "portakern[numba]"'

    def is_available(self) -> bool:
        try:
            return importlib.util.find_spec("numba") is not None
        except Exception:  # noqa: BLE001 - never raises
            return False

    def unavailable_reason(self) -> str | None:
        return None if self.is_available() else f"numba is not installed ({self.install_hint})"

    def device(self, spec: Any = None) -> Device:
        if not self.is_available():
            raise BackendUnavailable(f"backend 'numba' is unavailable: {self.unavailable_reason()}")
        if spec not in (None, 0, "cpu"):
            raise BackendUnavailable(f"backend 'numba' has one device, the CPU ('cpu' or 0); got {spec!r}")
        return Device("numba", f"cpu-{platform.machine()}", f"CPU ({os.cpu_count()} threads)")

    def capabilities(self, device: Device) -> Capabilities:
        return Capabilities(fp64=True, int64_atomics=True, native_float_atomics=True,
                            flushes_denormals=False, contracts_fma=False, strided_arrays=True,
                            in_place=True, max_workgroup_size=1024, max_local_memory=HOST_LOCAL_MEMORY,
                            specialises_shapes=True)

    def version(self) -> str:
        try:  # the installed distribution's version, without importing numba
            from importlib.metadata import version

            return version("numba")
        except Exception:  # noqa: BLE001 - never raises
            return ""

    def render(self, kernel: ir.Kernel) -> str:
        from .render import render

        return render(kernel)

    def load(self, kernel: ir.Kernel, artifact: bytes, device: Device) -> Launcher:
        from . import launch

        return launch.load(kernel, artifact)

    def owns(self, obj: Any) -> bool:
        return False  # NumPy arrays reach the numba backend as the default CPU backend

    from_host = Backend.from_host_identity   # NumPy arrays are native: the launch skips the call

    def to_host(self, native: Any) -> np.ndarray:
        return np.asarray(native)
