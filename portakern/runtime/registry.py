"""Backend discovery: lazy, through the ``portakern.backends`` entry-point group.

A backend's module is imported only when the backend is first asked for (``get_backend``), so
``import portakern`` imports no framework. Source checkouts without installed metadata fall back to
the built-in table below. ``register_backend`` adds (or replaces) a backend at run time, for tests
and third parties that do not ship entry points.
"""
from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable
from .backend import Backend

__all__ = [
    "BUILTIN_BACKENDS", "CPU_PREFERENCE", "register_backend", "unregister_backend", "get_backend",
    "backend_names", "available_backends", "backend_info", "default_cpu_backend", "owner_of",
]

ENTRY_POINT_GROUP = "portakern.backends"

#: The six built-in backends (name -> "module:Class"), used when entry points are not installed.
BUILTIN_BACKENDS: dict[str, str] = {
    "numpy": "portakern_numpy:NumpyBackend",
    "numba": "portakern_numba:NumbaBackend",
    "opencl": "portakern_opencl:OpenCLBackend",
    "cuda": "portakern_cuda:CudaBackend",
    "numba-cuda": "portakern_numba_cuda:NumbaCudaBackend",
    "jax": "portakern_jax:JaxBackend",
}

#: What fixes a missing built-in backend (quoted in BackendUnavailable).
INSTALL_HINTS: dict[str, str] = {
    "numpy": 'pip install portakern',
    "numba": 'pip install "portakern[numba]"',
    "opencl": 'pip install "portakern[opencl]" (PoCL gives a CPU device; PORTAKERN_OPENCL_DEVICE selects one)',
    "cuda": 'pip install "portakern[cuda]" and an NVIDIA GPU with its driver',
    "numba-cuda": 'pip install "portakern[numba-cuda]" and an NVIDIA GPU (or NUMBA_ENABLE_CUDASIM=1)',
    "jax": 'pip install "portakern[jax]"',
}

#: THE preference list for NumPy arguments when no backend is chosen: the first available one wins.
#: One list, in one place; the order is the benchmark's measured ranking of CPU backends.
CPU_PREFERENCE: tuple[str, ...] = ("numba", "opencl", "numpy")

#: Array types of built-in frameworks, by top-level module, so routing never imports a framework.
_MODULE_OWNERS: dict[str, str] = {
    "cupy": "cuda", "cupy_backends": "cuda", "jax": "jax", "jaxlib": "jax", "pyopencl": "opencl",
    "numba": "numba-cuda",
}

_ALIASES = {"numba_cuda": "numba-cuda", "numbacuda": "numba-cuda", "cl": "opencl", "np": "numpy"}

_lock = threading.RLock()
_registered: dict[str, Any] = {}          # name -> Backend subclass, instance or "module:Class"
_instances: dict[str, Backend] = {}
_entry_points: dict[str, str] | None = None
_owner_by_type: dict[type, str | None] = {}
_generation = 0                            # bumped by every (un)registration: fast-path plans check it


def _discovered() -> dict[str, str]:
    """name -> "module:Class" from installed entry points (read once), over the built-in table."""
    global _entry_points
    if _entry_points is None:
        found = dict(BUILTIN_BACKENDS)
        try:
            from importlib.metadata import entry_points

            for ep in entry_points(group=ENTRY_POINT_GROUP):
                found[ep.name] = ep.value
        except Exception:  # noqa: BLE001 - broken metadata must not break discovery
            pass
        _entry_points = found
    return _entry_points


def canonical_name(name: str) -> str:
    """The registry's spelling of a backend name ("numba_cuda" -> "numba-cuda")."""
    n = name.strip().lower()
    return _ALIASES.get(n, n)


def backend_names() -> list[str]:
    """Every known backend name (installed or not): built-ins first, then third parties."""
    names = list(_discovered())
    names += [n for n in _registered if n not in names]
    return names


def register_backend(name: str, backend: Any) -> None:
    """Register ``backend`` (a Backend subclass, an instance, or ``"module:Class"``) under ``name``,
    replacing any backend of that name. For tests and third parties without entry points."""
    if not isinstance(name, str) or not name:
        raise TypeError("register_backend(name, backend): name must be a non-empty string")
    ok = isinstance(backend, (str, Backend)) or (isinstance(backend, type) and issubclass(backend, Backend))
    if not ok:
        raise TypeError(f"register_backend: {backend!r} is not a Backend subclass, instance or 'module:Class'")
    global _generation
    with _lock:
        name = canonical_name(name)
        _registered[name] = backend
        _instances.pop(name, None)
        _owner_by_type.clear()
        _generation += 1


def unregister_backend(name: str) -> None:
    """Forget a backend registered with :func:`register_backend` (built-ins come back)."""
    global _generation
    with _lock:
        name = canonical_name(name)
        _registered.pop(name, None)
        _instances.pop(name, None)
        _owner_by_type.clear()
        _generation += 1


def install_hint(name: str) -> str:
    """The command that installs backend ``name``."""
    return INSTALL_HINTS.get(name, f"install the package that provides the '{name}' backend")


def get_backend(name: str) -> Backend:
    """The backend called ``name``, imported and instantiated on first use (once).

    Raises BackendUnavailable for an unknown name or a backend whose module fails to import, naming
    the backend, the reason and what fixes it. Does not check for a device: see ``require_device``.
    """
    if not isinstance(name, str):
        raise BackendUnavailable(f"a backend is named by a string such as 'numpy', got {name!r}; "
                                 f"known backends: {', '.join(backend_names())}")
    key = canonical_name(name)
    inst = _instances.get(key)
    if inst is not None:
        return inst
    with _lock:
        inst = _instances.get(key)
        if inst is None:
            inst = _instantiate(key, name)
            _instances[key] = inst
        return inst


def _instantiate(key: str, given: str) -> Backend:
    spec = _registered.get(key)
    if spec is None:
        spec = _discovered().get(key)
    if spec is None:
        raise BackendUnavailable(f"unknown backend '{given}'; known backends: {', '.join(backend_names())}. "
                                 "Third-party backends register under the entry-point group "
                                 f"'{ENTRY_POINT_GROUP}' or through portakern.register_backend().")
    try:
        if isinstance(spec, Backend):
            return spec
        if isinstance(spec, str):
            module, _, attr = spec.partition(":")
            obj: Any = _import(module)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
            spec = obj
        inst = spec()
        if not isinstance(inst, Backend):
            raise TypeError(f"{spec!r} is not a portakern Backend")
        return inst
    except Exception as exc:  # noqa: BLE001 - any import failure means "unavailable"
        raise BackendUnavailable(
            f"backend '{key}' is unavailable: loading {spec!r} failed with {type(exc).__name__}: {exc}. "
            f"Fix: {install_hint(key)}") from exc


def _import(module: str) -> Any:
    """Import a backend module; in a source checkout whose ``backends/`` folder is not installed
    (an editable install made before the backend existed), import it from that folder."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.partition(".")[0]
        folder = Path(__file__).resolve().parents[2] / "backends"
        if exc.name != top or not (folder / top / "__init__.py").is_file():
            raise
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
        return importlib.import_module(module)


def require_device(backend: Backend, spec: Any = None) -> Any:
    """Resolve ``spec`` to a Device of ``backend`` for running, or raise BackendUnavailable saying why."""
    try:
        available = backend.is_available()
    except Exception:  # noqa: BLE001 - is_available must never raise; treat a raise as "no"
        available = False
    if not available:
        reason = _reason(backend).rstrip(". ")
        fix = "" if ("pip install" in reason or "Fix:" in reason) else f". Fix: {install_hint(backend.name)}"
        raise BackendUnavailable(f"backend '{backend.name}' cannot run here: {reason}{fix}")
    return resolve_device(backend, spec)


def resolve_device(backend: Backend, spec: Any = None) -> Any:
    """``backend.device(spec)`` with framework errors mapped to BackendUnavailable."""
    try:
        return backend.device(spec)
    except BackendUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - a framework's own error becomes a portakern one
        raise BackendUnavailable(f"backend '{backend.name}' has no device {spec!r}: "
                                 f"{type(exc).__name__}: {exc}. Fix: {install_hint(backend.name)}") from exc


def _reason(backend: Backend) -> str:
    try:
        return backend.unavailable_reason() or "is_available() is False"
    except Exception as exc:  # noqa: BLE001
        return f"unavailable_reason() failed: {exc}"


def _is_available(name: str) -> bool:
    try:
        return bool(get_backend(name).is_available())
    except Exception:  # noqa: BLE001 - available_backends never raises
        return False


def available_backends() -> list[str]:
    """Names of the backends usable now (installed and with a device). Never raises."""
    return [n for n in backend_names() if _is_available(n)]


def default_cpu_backend() -> str:
    """The backend NumPy arguments go to when none is chosen: the first available of CPU_PREFERENCE."""
    for name in CPU_PREFERENCE:
        if _is_available(name):
            return name
    raise BackendUnavailable(f"no CPU backend is available (tried {', '.join(CPU_PREFERENCE)}). "
                             f"Fix: {install_hint('numpy')}")


def owner_of(obj: Any) -> str | None:
    """The backend whose native array ``obj`` is, or None. Imports no framework for NumPy arrays."""
    tp = type(obj)
    cached = _owner_by_type.get(tp, "")
    if cached is None:
        return None
    if cached:                       # the usual owner of this type; confirm (owns() may look at the object)
        inst = _instances.get(cached)
        if inst is not None and inst.owns(obj):
            return cached
    owner = None
    root = (tp.__module__ or "").partition(".")[0]
    candidates = [_MODULE_OWNERS[root]] if root in _MODULE_OWNERS else []
    third_party = [n for n in _discovered() if n not in BUILTIN_BACKENDS]
    candidates += [n for n in list(_registered) + list(_instances) + third_party if n not in candidates]
    for name in candidates:
        try:
            if get_backend(name).owns(obj):
                owner = name
                break
        except Exception:  # noqa: BLE001 - a backend that cannot load owns nothing
            continue
    _owner_by_type[tp] = owner
    return owner


def backend_info() -> dict[str, dict[str, Any]]:
    """Describe every known backend: availability (and why not), version, devices, capabilities.
    Never raises."""
    out: dict[str, dict[str, Any]] = {}
    for name in backend_names():
        entry: dict[str, Any] = {"available": False, "version": "", "devices": [], "reason": None,
                                 "install": install_hint(name)}
        try:
            b = get_backend(name)
        except Exception as exc:  # noqa: BLE001
            entry["reason"] = str(exc)
            out[name] = entry
            continue
        try:
            entry["version"] = b.version()
            entry["available"] = bool(b.is_available())
            if not entry["available"]:
                entry["reason"] = _reason(b)
            for dev in b.devices():
                try:
                    caps = b.capabilities(dev).as_dict()
                except Exception as exc:  # noqa: BLE001
                    caps = {"error": str(exc)}
                entry["devices"].append({"key": dev.key, "name": dev.name, "capabilities": caps})
        except Exception as exc:  # noqa: BLE001
            entry["reason"] = entry["reason"] or f"{type(exc).__name__}: {exc}"
        out[name] = entry
    return out
