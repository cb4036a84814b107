"""Which backend a launch runs on: ``.on`` > ``pk.use`` > PORTAKERN_BACKEND > the arrays > the default
CPU backend; mixing arrays of two backends is a LaunchError."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import config, registry
from portakern.runtime.testing import FakeDeviceArray, make_fake_backend


@pk.kernel
def copy(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i]


def _copy(grid, x, out):
    out[:] = x


@pytest.fixture
def two_backends():
    a, b = make_fake_backend("fake-a"), make_fake_backend("fake-b", device_arrays=True)
    for cls in (a, b):
        cls.impls["copy"] = _copy
        registry.register_backend(cls.name, cls)
    yield a, b
    for cls in (a, b):
        registry.unregister_backend(cls.name)


def _ran_on(cls):
    return any(c[0] == "launch" for c in cls.calls)


def test_on_binds_the_backend(two_backends):
    a, b = two_backends
    copy.on("fake-a")[4](np.ones(4), np.zeros(4))
    assert _ran_on(a) and not _ran_on(b)


def test_use_sets_the_backend_for_a_block_only(two_backends, monkeypatch):
    a, b = two_backends
    monkeypatch.setattr(registry, "CPU_PREFERENCE", ("fake-a",))
    with pk.use("fake-b"):
        copy[4](np.ones(4), np.zeros(4))
    assert _ran_on(b) and not _ran_on(a)
    copy[4](np.ones(4), np.zeros(4))
    assert _ran_on(a)


def test_on_wins_over_use(two_backends):
    a, b = two_backends
    with pk.use("fake-b"):
        copy.on("fake-a")[4](np.ones(4), np.zeros(4))
    assert _ran_on(a) and not _ran_on(b)


def test_environment_variable_sets_the_process_backend(two_backends, monkeypatch):
    a, b = two_backends
    monkeypatch.setenv("PORTAKERN_BACKEND", "fake-b")
    copy[4](np.ones(4), np.zeros(4))
    assert _ran_on(b) and not _ran_on(a)


def test_the_environment_variable_is_read_at_each_launch(two_backends, monkeypatch):
    a, b = two_backends
    monkeypatch.setenv("PORTAKERN_BACKEND", "fake-b")
    copy[4](np.ones(4), np.zeros(4))
    monkeypatch.setenv("PORTAKERN_BACKEND", "fake-a")
    copy[4](np.ones(4), np.zeros(4))
    assert _ran_on(a) and _ran_on(b)
    monkeypatch.setenv("PORTAKERN_BACKEND", "")          # empty: unset, the arrays decide
    assert config.default_backend() is None
    monkeypatch.delenv("PORTAKERN_BACKEND")
    assert config.default_backend() is None


def test_use_wins_over_the_environment_variable(two_backends, monkeypatch):
    a, b = two_backends
    monkeypatch.setenv("PORTAKERN_BACKEND", "fake-b")
    with pk.use("fake-a"):
        copy[4](np.ones(4), np.zeros(4))
    assert _ran_on(a) and not _ran_on(b)


def test_device_arrays_route_the_launch_to_their_backend(two_backends):
    a, b = two_backends
    x = FakeDeviceArray(np.arange(4.0), "fake-b")
    out = FakeDeviceArray(np.zeros(4), "fake-b")
    res = copy[4](x, out)
    assert _ran_on(b) and not _ran_on(a)
    assert res is out                       # device arrays stay on the device
    np.testing.assert_array_equal(out.data, np.arange(4.0))


def test_mixing_arrays_of_two_backends_is_a_launch_error(two_backends):
    x = FakeDeviceArray(np.arange(4.0), "fake-a")
    out = FakeDeviceArray(np.zeros(4), "fake-b")
    with pytest.raises(pk.LaunchError, match="two backends.*'x' belongs to 'fake-a'.*'out' belongs to 'fake-b'"):
        copy[4](x, out)


def test_device_array_of_another_backend_than_the_chosen_one_is_a_launch_error(two_backends):
    x = FakeDeviceArray(np.arange(4.0), "fake-b")
    with pytest.raises(pk.LaunchError, match="parameter 'x'.*backend 'fake-b'.*runs on 'fake-a'"):
        copy.on("fake-a")[4](x, np.zeros(4))


def test_numpy_arrays_go_to_the_first_available_cpu_backend(two_backends, monkeypatch):
    a, b = two_backends
    monkeypatch.setattr(registry, "CPU_PREFERENCE", ("not-installed", "fake-b", "fake-a"))
    copy[4](np.ones(4), np.zeros(4))
    assert _ran_on(b) and not _ran_on(a)


def test_default_cpu_backend_is_one_of_the_documented_preference_list():
    assert registry.default_cpu_backend() in registry.CPU_PREFERENCE


def test_use_rejects_a_non_string_backend():
    with pytest.raises(pk.LaunchError, match="backend must be a name"):
        with pk.use(42):  # type: ignore[arg-type]
            pass


def test_backend_names_are_case_and_underscore_tolerant(two_backends):
    a, _ = two_backends
    copy.on("FAKE-A")[4](np.ones(4), np.zeros(4))
    assert _ran_on(a)
    assert registry.canonical_name("numba_cuda") == "numba-cuda"
