"""The ``opencl`` backend: OpenCL C 1.2 through PyOpenCL (PoCL's CPU device by default)."""
from __future__ import annotations

from typing import Any

import numpy as np

from portakern.errors import BackendUnavailable
from portakern.ir.nodes import Kernel
from portakern.runtime import config
from portakern.runtime.backend import Backend, Capabilities, Device, Launcher

from .render import OpenCLRenderer

__all__ = ["OpenCLBackend", "OpenCLRenderer"]

#: the pyopencl array classes seen (``owns``)
_ARRAY_TYPES: set[type] = set()


class OpenCLBackend(Backend):
    """Renders with :class:`OpenCLRenderer`; builds, caches binaries and launches with PyOpenCL."""

    name = "opencl"
    source_language = "cl"
    install_hint = 'pip install "portakern[opencl]"'

    def __init__(self) -> None:
        self.renderer = OpenCLRenderer()

    def _launch(self) -> Any:
        try:
            from . import launch
        except ImportError as exc:
            raise BackendUnavailable(f"backend 'opencl': PyOpenCL is not installed ({exc}). "
                                     f"Fix: {self.install_hint}") from exc
        return launch

    def is_available(self) -> bool:
        return self.default_device_problem() is None

    def unavailable_reason(self) -> str | None:
        return self.default_device_problem()

    def device(self, spec: Any = None) -> Device:
        """None (``PORTAKERN_OPENCL_DEVICE`` / ``PYOPENCL_CTX``, else the PoCL CPU device), an index,
        a "platform/device" name substring, or a pyopencl Device or CommandQueue."""
        return self._launch().resolve(config.opencl_device() if spec is None else spec)

    def devices(self) -> list[Device]:
        try:
            launch = self._launch()
            return [launch.resolve(d) for d in launch.all_devices()]
        except Exception:  # noqa: BLE001 - listing devices never raises
            return []

    def capabilities(self, device: Device) -> Capabilities:
        return self._launch().capabilities(device)

    def version(self) -> str:
        try:
            import pyopencl

            return str(pyopencl.VERSION_TEXT)
        except Exception:  # noqa: BLE001
            return ""

    def render(self, kernel: Kernel) -> str:
        return self.renderer.render(kernel)

    def build(self, kernel: Kernel, source: str, device: Device, target: str | None = None) -> bytes:
        return self._launch().build(kernel, source, device)

    def load(self, kernel: Kernel, artifact: bytes, device: Device) -> Launcher:
        return self._launch().load(kernel, artifact, device, self.renderer.entry_name(kernel))

    def owns(self, obj: Any) -> bool:
        t = type(obj)
        if t in _ARRAY_TYPES:               # (the name test below costs ~0.3 us a launch)
            return True
        if t.__name__ == "Array" and t.__module__.startswith("pyopencl"):
            _ARRAY_TYPES.add(t)
            return True
        return False

    def from_host(self, array: np.ndarray, device: Device) -> Any:
        return self._launch().from_host(array, device)

    def to_host(self, native: Any) -> np.ndarray:
        return self._launch().to_host(native)

    def native_shape(self, native: Any) -> tuple[tuple[int, ...], np.dtype, bool]:
        dt = native.dtype                   # (a pyopencl array's is a np.dtype already)
        return (tuple(native.shape), dt if isinstance(dt, np.dtype) else np.dtype(dt), bool(native.flags.c_contiguous))
