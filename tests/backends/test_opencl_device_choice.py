"""The default OpenCL device is one that can build programs.

PoCL 3.0 (bundled with PyOpenCL, LLVM 14) lists a CPU device on AMD Zen 5 but fails every build with
"unknown target CPU 'generic'": choosing it by default failed every opencl launch on such a machine.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from portakern.errors import BackendUnavailable

launch = pytest.importorskip("portakern_opencl.launch")
cl = launch.cl


def _dev(platform: str, name: str, kind=None):
    return SimpleNamespace(platform=SimpleNamespace(name=platform), name=name,
                           type=cl.device_type.CPU if kind is None else kind, driver_version="x")


def test_a_pocl_device_that_cannot_build_is_passed_over(monkeypatch):
    broken, working = _dev("Portable Computing Language", "old"), _dev("Portable Computing Language", "new")
    monkeypatch.setattr(launch, "build_problem", lambda d: "cannot build" if d is broken else None)
    assert launch._default_device([broken, working]) is working


def test_pocl_cpu_devices_come_before_other_platforms(monkeypatch):
    other, pocl = _dev("Vendor GPU", "gpu", cl.device_type.GPU), _dev("Portable Computing Language", "cpu")
    monkeypatch.setattr(launch, "build_problem", lambda d: None)
    assert launch._default_device([other, pocl]) is pocl


def test_no_device_that_builds_is_backend_unavailable_naming_why(monkeypatch):
    devs = [_dev("Portable Computing Language", "old")]
    monkeypatch.setattr(launch, "build_problem", lambda d: "old cannot build programs: unknown target CPU")
    with pytest.raises(BackendUnavailable, match="unknown target CPU.*pocl-opencl-icd"):
        launch._default_device(devs)


def test_the_build_probe_of_a_real_device_is_remembered():
    try:
        devs = launch.all_devices()
    except cl.Error:
        pytest.skip("no OpenCL platform")
    if not devs:
        pytest.skip("no OpenCL device")
    first = launch.build_problem(devs[0])
    assert first is None or "cannot build programs" in first
    assert launch._BUILDS[devs[0].int_ptr] == first
    assert launch.build_problem(devs[0]) == first
