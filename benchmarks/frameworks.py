"""Per framework: where its arrays live, how to move them, and how to wait for work to finish.

The right synchronisation per framework is the whole point of timing correctly: PyOpenCL enqueues
asynchronously (``queue.finish``), JAX dispatches asynchronously (``block_until_ready``), CuPy and
Numba CUDA launch on a stream (synchronise the device). NumPy and Numba CPU return when done.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


class Framework:
    """Host frameworks (numpy, numba): arrays are NumPy arrays and calls are synchronous."""

    name = "numpy"

    def __init__(self, name: str) -> None:
        self.name = name

    def to_dev(self, a: Any) -> Any:
        """A framework array holding ``a`` (scalars pass through)."""
        return a

    def to_host(self, a: Any) -> np.ndarray:
        """A NumPy copy of a framework array."""
        return np.asarray(a)

    def sync(self, outs: Iterable[Any]) -> None:
        """Wait until the work producing ``outs`` has finished."""

    def device_name(self) -> str:
        """A short description of where this framework runs."""
        from portakern.bench.machine import cpu_name

        return cpu_name()


class OpenCL(Framework):
    """PyOpenCL: own context and in-order queue on the first device (PoCL's CPU here)."""

    def __init__(self, device: Any = None) -> None:
        import pyopencl as cl

        super().__init__("opencl")
        self.cl = cl
        if device is None:
            device = cl.get_platforms()[0].get_devices()[0]
        self.device = device
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)
        self._program: Any = None

    def to_dev(self, a: Any) -> Any:
        import pyopencl.array as cla

        return cla.to_device(self.queue, a) if isinstance(a, np.ndarray) else a

    def to_host(self, a: Any) -> np.ndarray:
        return a.get() if hasattr(a, "get") else np.asarray(a)

    def sync(self, outs: Iterable[Any]) -> None:
        queues = {id(q): q for q in (getattr(o, "queue", None) for o in outs) if q is not None}
        for q in queues.values() or [self.queue]:
            q.finish()

    def device_name(self) -> str:
        return self.device.name.strip()

    def program(self) -> Any:
        """The baseline program, built once."""
        if self._program is None:
            from .baselines.csource import source

            self._program = self.cl.Program(self.ctx, source("opencl")).build()
        return self._program


class Jax(Framework):
    """JAX: arrays on the default device; dispatch is asynchronous."""

    def __init__(self) -> None:
        import jax

        super().__init__("jax")
        # float64 inputs (triad) must stay float64, as portakern's jax backend keeps them.
        jax.config.update("jax_enable_x64", True)
        self.jax = jax

    def to_dev(self, a: Any) -> Any:
        return self.jax.device_put(a) if isinstance(a, np.ndarray) else a

    def sync(self, outs: Iterable[Any]) -> None:
        for o in outs:
            if hasattr(o, "block_until_ready"):
                o.block_until_ready()

    def device_name(self) -> str:
        d = self.jax.devices()[0]
        return f"{d.platform}:{getattr(d, 'device_kind', d)}"


class Cupy(Framework):
    """CuPy: device arrays; synchronise the whole device (portakern may use its own stream)."""

    def __init__(self) -> None:
        import cupy

        super().__init__("cuda")
        self.cp = cupy
        self._module: Any = None

    def to_dev(self, a: Any) -> Any:
        return self.cp.asarray(a) if isinstance(a, np.ndarray) else a

    def to_host(self, a: Any) -> np.ndarray:
        return self.cp.asnumpy(a) if isinstance(a, self.cp.ndarray) else np.asarray(a)

    def sync(self, outs: Iterable[Any]) -> None:
        self.cp.cuda.runtime.deviceSynchronize()

    def device_name(self) -> str:
        props = self.cp.cuda.runtime.getDeviceProperties(self.cp.cuda.Device().id)
        return props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])

    def module(self) -> Any:
        """The baseline CUDA module (NVRTC), built once."""
        if self._module is None:
            from .baselines.csource import source

            self._module = self.cp.RawModule(code=source("cuda"))
        return self._module


class NumbaCuda(Framework):
    """Numba CUDA: device arrays; ``cuda.synchronize``."""

    def __init__(self) -> None:
        from numba import cuda

        super().__init__("numba-cuda")
        self.cuda = cuda

    def to_dev(self, a: Any) -> Any:
        return self.cuda.to_device(a) if isinstance(a, np.ndarray) else a

    def to_host(self, a: Any) -> np.ndarray:
        return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)

    def sync(self, outs: Iterable[Any]) -> None:
        self.cuda.synchronize()

    def device_name(self) -> str:
        return str(self.cuda.get_current_device().name)


def make(backend: str) -> Framework:
    """The framework object for a backend name; raises ImportError/RuntimeError when unusable."""
    if backend in ("numpy", "numba"):
        if backend == "numba":
            import numba  # noqa: F401 - availability check
        return Framework(backend)
    if backend == "opencl":
        return OpenCL()
    if backend == "jax":
        return Jax()
    if backend == "cuda":
        return Cupy()
    if backend == "numba-cuda":
        return NumbaCuda()
    raise KeyError(backend)
