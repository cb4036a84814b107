"""Backend discovery: lazy imports, registration, availability, and BackendUnavailable messages."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.backend import Backend
from portakern.runtime.testing import make_fake_backend


def test_importing_portakern_imports_no_backend_framework():
    code = ("import sys, portakern, portakern.runtime.kernel; "
            "print(sorted(m for m in ('numba', 'jax', 'pyopencl', 'cupy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_six_builtin_backends_are_known_by_their_fixed_names():
    assert set(registry.BUILTIN_BACKENDS) <= set(registry.backend_names())
    assert registry.BUILTIN_BACKENDS["numba-cuda"] == "portakern_numba_cuda:NumbaCudaBackend"


def test_get_backend_instantiates_once():
    cls = make_fake_backend("once")
    registry.register_backend("once", cls)
    try:
        assert pk.get_backend("once") is pk.get_backend("once")
        assert isinstance(pk.get_backend("once"), cls)
    finally:
        registry.unregister_backend("once")


def test_register_backend_accepts_a_module_path():
    registry.register_backend("by-path", "portakern.runtime.testing:make_fake_backend")
    try:  # the factory is not a Backend: loading it fails, and says so
        with pytest.raises(pk.BackendUnavailable, match="backend 'by-path' is unavailable"):
            pk.get_backend("by-path")
    finally:
        registry.unregister_backend("by-path")


def test_register_backend_rejects_what_is_not_a_backend():
    with pytest.raises(TypeError):
        registry.register_backend("bad", 42)


def test_a_backend_whose_module_is_missing_says_why_and_how_to_fix_it():
    registry.register_backend("ghost", "no_such_module_xyz:Backend")
    try:
        with pytest.raises(pk.BackendUnavailable) as info:
            pk.get_backend("ghost")
        msg = str(info.value)
        assert "'ghost'" in msg and "no_such_module_xyz" in msg and "Fix:" in msg
    finally:
        registry.unregister_backend("ghost")


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(pk.BackendUnavailable, match="known backends: numpy"):
        pk.get_backend("nope")


class _NoDevice(Backend):
    name = "nodevice"

    def is_available(self):
        return False

    def unavailable_reason(self):
        return "no device of the right kind was found"

    def device(self, spec=None):
        raise pk.BackendUnavailable("nodevice has no device")

    def capabilities(self, device):
        raise AssertionError("not reached")

    def render(self, kernel):
        return ""

    def load(self, kernel, artifact, device):
        raise AssertionError("not reached")

    def owns(self, obj):
        return False

    def from_host(self, array, device):
        return array

    def to_host(self, native):
        return native


@pytest.fixture
def no_device():
    registry.register_backend("nodevice", _NoDevice)
    yield
    registry.unregister_backend("nodevice")


def test_available_backends_lists_only_usable_ones_and_never_raises(no_device):
    registry.register_backend("ghost", "no_such_module_xyz:Backend")
    try:
        names = pk.available_backends()
    finally:
        registry.unregister_backend("ghost")
    assert "nodevice" not in names and "ghost" not in names
    assert all(isinstance(n, str) for n in names)


def test_launching_on_a_backend_without_a_device_raises_backend_unavailable_with_the_reason(no_device):
    @pk.kernel
    def k(out):
        out[0] = 1

    with pytest.raises(pk.BackendUnavailable, match="'nodevice' cannot run here: no device of the right kind"):
        k.on("nodevice")[1](np.zeros(1))


def test_backend_info_describes_unavailable_backends_with_the_reason(no_device):
    info = pk.backend_info()
    assert info["nodevice"]["available"] is False
    assert "no device of the right kind" in info["nodevice"]["reason"]
    assert set(registry.BUILTIN_BACKENDS) <= set(info)


def test_backend_info_describes_available_backends_with_capabilities(fake_backend):
    entry = pk.backend_info()["fake"]
    assert entry["available"] and entry["version"] == "1.0"
    (dev,) = entry["devices"]
    assert dev["key"] == "dev0" and dev["capabilities"]["strided_arrays"] is True


def test_cuda_without_a_gpu_is_backend_unavailable_naming_the_fix():
    try:
        backend = pk.get_backend("cuda")
    except pk.BackendUnavailable as exc:
        assert "cuda" in str(exc)
        return
    if backend.is_available():
        pytest.skip("a CUDA GPU is present")

    @pk.kernel
    def k(out):
        out[0] = 1

    with pytest.raises(pk.BackendUnavailable, match="'cuda'.*pip install"):
        k.on("cuda")[1](np.zeros(1))
