"""The ``numba-cuda`` backend: Python source for ``numba.cuda.jit`` (NVIDIA GPUs, or Numba's CUDA
simulator with ``NUMBA_ENABLE_CUDASIM=1``). See docs/backends/numba-cuda.md.
``numba.cuda`` is imported only by ``launch.py``, lazily.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from portakern.errors import BackendUnavailable
from portakern.ir import nodes as ir
from portakern.runtime import config
from portakern.runtime.backend import Backend, Capabilities, Device, Launcher

__all__ = ["NumbaCudaBackend"]


class NumbaCudaBackend(Backend):
    """NVIDIA GPUs through the public ``numba.cuda.jit`` API; tier 0 without fused multiply-add."""

    name = "numba-cuda"
    source_language = "py"
    install_hint = 'pip install "portakern[numba-cuda]"'

    def is_available(self) -> bool:
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        try:
            from . import launch

            return launch.unavailable_reason()
        except Exception as exc:  # noqa: BLE001 - never raises
            return f"{type(exc).__name__}: {exc}"

    def device(self, spec: Any = None) -> Device:
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"backend 'numba-cuda' is unavailable: {reason}")
        from . import launch

        if spec not in (None, 0):
            raise BackendUnavailable(f"backend 'numba-cuda' uses the current CUDA device (0); got {spec!r}")
        name = launch.device_name()
        return Device("numba-cuda", "sim" if config.cuda_simulator() else f"cuda0-{name}", name)

    def capabilities(self, device: Device) -> Capabilities:
        return Capabilities(fp64=True, int64_atomics=True, native_float_atomics=True,
                            flushes_denormals=False, contracts_fma=False, strided_arrays=False,
                            in_place=True, max_workgroup_size=1024, needs_gpu=True, specialises_shapes=True,
                            max_local_memory=48 * 1024)   # numba-cuda does not opt in beyond 48 KiB

    def version(self) -> str:
        try:
            from . import launch

            return launch.version()
        except Exception:  # noqa: BLE001
            return ""

    def render(self, kernel: ir.Kernel) -> str:
        from .render import render

        return render(kernel)

    def build(self, kernel: ir.Kernel, source: str, device: Device | None, target: str | None = None) -> bytes:
        """The source itself (Numba compiles on first launch), or PTX for ``target`` ("sm_90")."""
        if target is None:
            return source.encode()
        from . import launch

        return launch.compile_ptx(kernel, source, target)

    def load(self, kernel: ir.Kernel, artifact: bytes, device: Device) -> Launcher:
        from . import launch

        return launch.load(kernel, artifact)

    def owns(self, obj: Any) -> bool:
        try:
            from . import launch

            return launch.owns(obj)
        except Exception:  # noqa: BLE001 - never raises
            return False

    def adopt(self, obj: Any, device: Device) -> Any:
        from . import launch

        return launch.adopt(obj)

    def from_host(self, array: np.ndarray, device: Device) -> Any:
        from . import launch

        return launch.from_host(array)

    def to_host(self, native: Any) -> np.ndarray:
        from . import launch

        return launch.to_host(native)
