"""Session-wide test setup: import paths, environment, the disk cache and Hypothesis profiles.

Set here, before any test module imports a framework:
- ``PORTAKERN_VERIFY=1``: the IR verifier runs after every specialisation.
- ``NUMBA_ENABLE_CUDASIM=1``: numba-cuda runs in Numba's CUDA simulator (tests that need the real
  numba.cuda, such as PTX compilation, start a subprocess without it).
- ``PORTAKERN_CACHE_DIR``: a fresh temporary directory per session, removed at the end.
- ``PORTAKERN_BACKEND`` is removed so routing tests see the documented defaults.

Hypothesis: profile "ci" (the default: derandomised, ~100 examples, no deadline) or "full"
(5000 examples), chosen with ``HYPOTHESIS_PROFILE``.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "backends", ROOT):          # a source checkout works without reinstalling
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

os.environ["PORTAKERN_VERIFY"] = "1"
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")   # scripts/gpu_check.sh sets 0 on a real GPU
os.environ.pop("PORTAKERN_BACKEND", None)
_CACHE_DIR = tempfile.mkdtemp(prefix="portakern-test-cache-")
os.environ["PORTAKERN_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is in the "test" extra
    pass
else:
    settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow], print_blob=True)
    settings.register_profile("full", max_examples=5000, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow], print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ------------------------------------------------------------------------------ fake backends
import pytest  # noqa: E402

from portakern.runtime.testing import make_fake_backend  # noqa: E402


@pytest.fixture
def fake_backend():
    """Register a fake host backend "fake" for one test; yields its class (set ``impls[kernel] = f``)."""
    from portakern.runtime import registry

    cls = make_fake_backend("fake")
    registry.register_backend("fake", cls)
    yield cls
    registry.unregister_backend("fake")


@pytest.fixture
def fake_gpu_backend():
    """Register "fakegpu": device arrays (FakeDeviceArray), strided views not supported."""
    from portakern.runtime import registry

    cls = make_fake_backend("fakegpu", strided=False, device_arrays=True)
    registry.register_backend("fakegpu", cls)
    yield cls
    registry.unregister_backend("fakegpu")


def pytest_collection_modifyitems(config, items):
    """``PORTAKERN_TEST_SAMPLE=k`` keeps a fixed 1/k of the collected tests (by a hash of the test id),
    so a child run can cover a deterministic sample of a long sweep; the slow marker runs all of it."""
    k = int(os.environ.get("PORTAKERN_TEST_SAMPLE", "1") or 1)
    if k > 1:
        keep, drop = [], []
        for it in items:
            (keep if zlib.crc32(it.nodeid.encode()) % k == 0 else drop).append(it)
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
