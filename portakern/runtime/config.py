"""The one place where portakern reads its environment. Nothing else calls ``os.environ``.

Each setting is read when asked for (so tests can monkeypatch the environment), never during
code generation: renderers receive what they need as arguments.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import LaunchError

#: specialisations each kernel keeps loaded in memory when PORTAKERN_MEMORY_CACHE_SIZE is unset
DEFAULT_MEMORY_CACHE_SIZE = 64


def default_backend() -> str | None:
    """``PORTAKERN_BACKEND``: the process-wide backend, or None to follow the arrays (read on every
    launch: ``os.environ.get`` of an unset name costs about 1 us, its raw mapping 20 ns)."""
    if _RAW is not None:
        raw = _RAW.get(_BACKEND_KEY)
        return None if not raw else os.environ["PORTAKERN_BACKEND"]
    return os.environ.get("PORTAKERN_BACKEND") or None


# CPython's os.environ keeps the encoded variables in ``_data`` (updated by every assignment and
# deletion through os.environ); where it is absent the plain lookup is used.
_DATA = getattr(os.environ, "_data", None)
_RAW: dict | None = _DATA if isinstance(_DATA, dict) else None
try:
    _BACKEND_KEY = os.environ.encodekey("PORTAKERN_BACKEND")  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - not CPython's os._Environ
    _RAW = None


def cache_dir() -> Path:
    """``PORTAKERN_CACHE_DIR``: the on-disk kernel cache (default: the user cache dir)."""
    env = os.environ.get("PORTAKERN_CACHE_DIR")
    if env:
        return Path(env)
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("portakern"))
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        return Path.home() / ".cache" / "portakern"


def disk_cache_enabled() -> bool:
    """``PORTAKERN_DISK_CACHE=0`` turns the on-disk cache off."""
    return os.environ.get("PORTAKERN_DISK_CACHE", "1") not in ("0", "false", "no", "off")


def memory_cache_size() -> int:
    """``PORTAKERN_MEMORY_CACHE_SIZE``: how many specialisations each kernel keeps loaded (least
    recently used first out; default ``DEFAULT_MEMORY_CACHE_SIZE``). A bad value is a LaunchError."""
    text = os.environ.get("PORTAKERN_MEMORY_CACHE_SIZE", "").strip()
    if not text:
        return DEFAULT_MEMORY_CACHE_SIZE
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise LaunchError(f"PORTAKERN_MEMORY_CACHE_SIZE must be a positive int, got {text!r}")
    return size


def verify_ir() -> bool:
    """``PORTAKERN_VERIFY=1`` runs the IR verifier after every pass (on in the test suite)."""
    return os.environ.get("PORTAKERN_VERIFY", "0") not in ("0", "", "false", "no", "off")


def boundscheck() -> bool:
    """``PORTAKERN_BOUNDSCHECK=0`` turns the default bounds checks off for kernels decorated afterwards
    that do not say ``boundscheck=`` themselves (docs/safety.md "Bounds checking")."""
    return os.environ.get("PORTAKERN_BOUNDSCHECK", "1").strip().lower() not in ("0", "false", "no", "off")


def opencl_device() -> str | None:
    """``PORTAKERN_OPENCL_DEVICE``: a platform/device name substring (PyOpenCL's ``PYOPENCL_CTX`` also works)."""
    return os.environ.get("PORTAKERN_OPENCL_DEVICE") or os.environ.get("PYOPENCL_CTX") or None


def cuda_simulator() -> bool:
    """``NUMBA_ENABLE_CUDASIM=1``: Numba's CUDA simulator is active (numba-cuda runs on the CPU)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("0", "")


def bench_openmp_wait_policy() -> str:
    """``OMP_WAIT_POLICY`` for ``portakern bench``, set to ``PASSIVE`` when unset (before any framework
    starts its OpenMP pool): the bench interleaves frameworks with separate OpenMP runtimes (Numba's,
    PyTorch's), and an idle pool that spins steals the cores of the next one. Returns the value in force.
    Launches outside the bench leave the process's OpenMP settings alone (docs/benchmarks.md)."""
    return os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def getenv(name: str, default: str | None = None) -> str | None:
    """Any other ``PORTAKERN_*`` setting, read here so the environment stays in one module."""
    return os.environ.get(name, default)
