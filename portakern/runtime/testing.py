"""A fake backend for tests of the runtime (and of third-party tooling such as the conformance suite).

``make_fake_backend(name)`` returns a :class:`~portakern.runtime.backend.Backend` subclass that runs
a kernel by calling a Python function registered for the kernel's name, so the runtime's argument
binding, routing, caching and copying can be tested with no real backend or device.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FakeDeviceArray", "make_fake_backend"]


class FakeDeviceArray:
    """A fake backend's "device" array: a private NumPy copy the host can only reach through the backend."""

    def __init__(self, data: np.ndarray, owner: str) -> None:
        self.data, self.owner = data, owner
        self.shape, self.dtype = data.shape, data.dtype


def make_fake_backend(name: str = "fake", *, strided: bool = True, in_place: bool = True,
                      device_arrays: bool = False, max_workgroup_size: int = 1024) -> Any:
    """A Backend subclass that runs a kernel by calling a Python function registered for its name:
    ``cls.impls[kernel_name] = f(grid, *args)``. It records every render/build/load/launch in
    ``cls.calls``. ``device_arrays`` makes from_host return FakeDeviceArray copies (a GPU-like backend);
    ``in_place=False`` makes it return new arrays (a jax-like backend)."""
    from portakern.runtime.backend import Backend, Capabilities, Device, Launcher

    class FakeLauncher(Launcher):
        def __init__(self, backend, kernel):
            self.backend, self.kernel = backend, kernel

        def __call__(self, grid, args):
            type(self.backend).calls.append(("launch", self.kernel.name, grid))
            names = [p.name for p in self.kernel.params]
            host = [a.data if isinstance(a, FakeDeviceArray) else a for a in args]
            if not in_place:
                host = [h.copy() if isinstance(h, np.ndarray) else h for h in host]
            type(self.backend).impls[self.kernel.name](grid, *host)
            out = {}
            for w in self.kernel.written:
                i = names.index(w)
                if in_place:
                    out[w] = args[i]
                else:
                    out[w] = FakeDeviceArray(host[i], name) if device_arrays else host[i]
            return out

    class FakeBackend(Backend):
        impls: dict = {}
        calls: list = []

        def is_available(self):
            return True

        def device(self, spec=None):
            return Device(name, "dev0", "Fake device")

        def capabilities(self, device):
            return Capabilities(strided_arrays=strided, in_place=in_place, max_workgroup_size=max_workgroup_size)

        def version(self):
            return "1.0"

        def render(self, kernel):
            type(self).calls.append(("render", kernel.name))
            return f"# fake source of {kernel.name}: {[str(p.type) for p in kernel.params]}"

        def build(self, kernel, source, device, target=None):
            type(self).calls.append(("build", kernel.name))
            return source.encode()

        def load(self, kernel, artifact, device):
            type(self).calls.append(("load", kernel.name))
            return FakeLauncher(self, kernel)

        def owns(self, obj):
            return isinstance(obj, FakeDeviceArray) and obj.owner == name

        def from_host(self, array, device):
            return FakeDeviceArray(array.copy(), name) if device_arrays else array

        def to_host(self, native):
            return native.data.copy() if isinstance(native, FakeDeviceArray) else native

        def native_shape(self, native):
            return (tuple(native.shape), np.dtype(native.dtype), True)

    FakeBackend.name = name
    FakeBackend.impls = {}
    FakeBackend.calls = []
    return FakeBackend
