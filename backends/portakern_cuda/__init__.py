"""The ``cuda`` backend: CUDA C compiled with NVRTC and launched through CuPy."""
from __future__ import annotations

from typing import Any

import numpy as np

from portakern.ir.nodes import Kernel
from portakern.runtime.backend import Backend, Capabilities, Device, Launcher

from .render import NVRTC_OPTIONS, CudaRenderer

__all__ = ["CudaBackend", "CudaRenderer", "NVRTC_OPTIONS"]


class CudaBackend(Backend):
    """Renders with :class:`CudaRenderer`; NVRTC builds work with no GPU (``target="sm_90"``)."""

    name = "cuda"
    source_language = "cu"
    install_hint = 'pip install "portakern[cuda]"'

    def __init__(self) -> None:
        self.renderer = CudaRenderer()

    @staticmethod
    def _launch() -> Any:
        from . import launch

        return launch

    def is_available(self) -> bool:
        return self.default_device_problem() is None

    def unavailable_reason(self) -> str | None:
        return self.default_device_problem()

    def device(self, spec: Any = None) -> Device:
        """None (the current CUDA device), an index, or a ``cupy.cuda.Device``."""
        return self._launch().resolve(spec)

    def capabilities(self, device: Device) -> Capabilities:
        return self._launch().capabilities(device)

    def version(self) -> str:
        try:
            import cupy

            return str(cupy.__version__)
        except Exception:  # noqa: BLE001
            return ""

    def render(self, kernel: Kernel) -> str:
        return self.renderer.render(kernel)

    def build(self, kernel: Kernel, source: str, device: Device, target: str | None = None) -> bytes:
        return self._launch().build(kernel, source, device, target)

    def load(self, kernel: Kernel, artifact: bytes, device: Device) -> Launcher:
        return self._launch().load(kernel, artifact, device, self.renderer.entry_name(kernel))

    def owns(self, obj: Any) -> bool:
        t = type(obj)
        return t.__name__ == "ndarray" and t.__module__.startswith("cupy")

    def adopt(self, obj: Any, device: Device) -> Any:
        try:
            return self._launch().adopt(obj, device)
        except Exception:  # noqa: BLE001 - not adoptable: the runtime copies
            return None

    def from_host(self, array: np.ndarray, device: Device) -> Any:
        return self._launch().from_host(array, device)

    def to_host(self, native: Any) -> np.ndarray:
        return self._launch().to_host(native)

    def native_shape(self, native: Any) -> tuple[tuple[int, ...], np.dtype, bool]:
        return (tuple(native.shape), np.dtype(native.dtype), bool(native.flags.c_contiguous))
