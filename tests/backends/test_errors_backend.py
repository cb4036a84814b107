"""BackendUnavailable (also a RuntimeError): unknown backends, and cuda with no GPU, naming the backend,
the reason and the fix."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def fill(out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = 1


def test_unknown_backend_name_via_on():
    out = np.zeros(4, np.int32)
    with pytest.raises(pk.BackendUnavailable) as info:
        fill.on("no-such-backend")[4](out)
    assert isinstance(info.value, RuntimeError)
    assert "no-such-backend" in str(info.value)
    np.testing.assert_array_equal(out, 0)


def test_unknown_backend_name_via_use():
    out = np.zeros(4, np.int32)
    with pytest.raises(pk.BackendUnavailable) as info:
        with pk.use("no-such-backend"):
            fill[4](out)
    assert "no-such-backend" in str(info.value)


def test_unknown_backend_name_via_environment(monkeypatch):
    monkeypatch.setenv("PORTAKERN_BACKEND", "no-such-backend")
    with pytest.raises(pk.BackendUnavailable) as info:
        fill[4](np.zeros(4, np.int32))
    assert "no-such-backend" in str(info.value)
    assert "PORTAKERN_BACKEND" in str(info.value)


def test_unknown_backend_in_get_backend():
    with pytest.raises(pk.BackendUnavailable):
        pk.get_backend("no-such-backend")


def test_cuda_without_a_gpu_says_why():
    b = pk.get_backend("cuda")
    if b.is_available():
        pytest.skip("a CUDA GPU is present")
    out = np.zeros(4, np.int32)
    with pytest.raises(pk.BackendUnavailable) as info:
        fill.on("cuda")[4](out)
    msg = str(info.value)
    assert "cuda" in msg.lower()
    assert any(w in msg.lower() for w in ("gpu", "device", "driver")), msg
    np.testing.assert_array_equal(out, 0)
    assert "cuda" not in pk.available_backends()


def test_available_backends_are_all_usable(backend):
    if backend not in pk.available_backends():
        assert backend == "cuda"
        pytest.skip("cuda is registered but has no GPU here")
    info = pk.backend_info()
    assert backend in info
