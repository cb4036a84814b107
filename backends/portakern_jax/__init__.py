"""The ``jax`` backend: the vectorising lowering over jax.numpy/lax, compiled by XLA.

Launches compose with ``jax.jit``, ``jax.grad`` and ``jax.vmap``; arrays are ``jax.Array`` and
results are new arrays (JAX cannot update in place). jax is imported only when the backend is used.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from portakern.errors import BackendUnavailable
from portakern.ir.nodes import Kernel
from portakern.runtime.backend import HOST_LOCAL_MEMORY, Backend, Capabilities, Device, Launcher

from .render import render

__all__ = ["JaxBackend"]


#: concrete classes seen to be jax.Array (an isinstance answer depends on the class alone)
_ARRAY_TYPES: set[type] = set()


class JaxBackend(Backend):
    """Vectorised jax.numpy over the whole index space, one ``lax.while_loop`` per loop."""

    name = "jax"
    source_language = "py"
    install_hint = 'pip install "portakern[jax]"'

    def _jax(self) -> Any:
        try:
            import jax
        except ImportError as exc:
            raise BackendUnavailable(f"backend 'jax': jax is not installed ({exc}). "
                                     f"Fix: {self.install_hint}") from exc
        return jax

    def is_available(self) -> bool:
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        try:
            self._jax().devices()
            return None
        except Exception as exc:  # noqa: BLE001 - availability never raises
            return str(exc)

    def device(self, spec: Any = None) -> Device:
        """None (jax's default device), an index into ``jax.devices()``, a platform name
        ("cpu", "gpu") or a jax Device."""
        jax = self._jax()
        try:
            if spec is None:
                d = jax.devices()[0]
            elif isinstance(spec, int):
                d = jax.devices()[spec]
            elif isinstance(spec, str):
                d = jax.devices(spec)[0]
            else:
                d = spec
        except Exception as exc:  # noqa: BLE001 - any failure means no such device
            raise BackendUnavailable(f"backend 'jax': no device {spec!r} ({exc}). "
                                     f"Fix: {self.install_hint} (jax[cuda12] for GPUs)") from exc
        return Device("jax", f"{d.platform}:{d.id}", str(getattr(d, "device_kind", d.platform)), d)

    def devices(self) -> list[Device]:
        try:
            return [self.device(d) for d in self._jax().devices()]
        except Exception:  # noqa: BLE001 - listing devices never raises
            return []

    def capabilities(self, device: Device) -> Capabilities:
        cpu = device.key.startswith("cpu")
        # Measured on XLA:CPU (docs/backends/jax.md): denormals are flushed in float32 and float64;
        # a*b+c is not contracted, in our jit or a user's, because products go through
        # select(p == p, p, NaN) (see launch.py).
        return Capabilities(fp64=True, int64_atomics=True, native_float_atomics=True,
                            flushes_denormals=cpu, contracts_fma=False, strided_arrays=False,
                            in_place=False, max_workgroup_size=1 << 30,
                            max_local_memory=HOST_LOCAL_MEMORY)

    def version(self) -> str:
        try:
            import jax

            return str(jax.__version__)
        except Exception:  # noqa: BLE001
            return ""

    def render(self, kernel: Kernel) -> str:
        return render(kernel)

    def load(self, kernel: Kernel, artifact: bytes, device: Device) -> Launcher:
        from .launch import JaxLauncher

        return JaxLauncher(kernel, artifact.decode(), device.handle)

    def owns(self, obj: Any) -> bool:
        if type(obj) in _ARRAY_TYPES:       # (isinstance through jax.Array's ABC costs ~100 ns a launch)
            return True
        if "jax" not in sys.modules:
            return False
        try:
            if isinstance(obj, sys.modules["jax"].Array):
                _ARRAY_TYPES.add(type(obj))
                return True
        except Exception:  # noqa: BLE001 - never raises
            pass
        return False

    def native_shape(self, native: Any) -> tuple[tuple[int, ...], np.dtype, bool]:
        aval = getattr(native, "aval", None)   # (tracers too) one attribute instead of two properties
        if aval is None:
            return super().native_shape(native)
        return (tuple(aval.shape), np.dtype(aval.dtype), True)

    def from_host(self, array: np.ndarray, device: Device) -> Any:
        from .launch import from_host

        return from_host(array, device.handle)

    def to_host(self, native: Any) -> np.ndarray:
        return np.asarray(native)
