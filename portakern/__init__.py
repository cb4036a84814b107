"""portakern: write a GPU-style kernel once in Python, run it on every backend.

The public API only: ``kernel``, ``func``, ``use``, the types, the kernel-language builtins, the
errors and backend discovery. Importing portakern imports no backend framework (numba, jax,
pyopencl, cupy): backends are imported lazily when first used.
"""
from __future__ import annotations

from .errors import (
    BackendUnavailable,
    CompileError,
    KernelIndexError,
    LaunchError,
    MissingDependency,
    PortakernError,
)
from .types import (
    Array,
    ArrayAnnotation,
    bfloat16,
    bool_,
    constant,
    constexpr,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)

__version__ = "0.1.0"

from . import lang as _lang  # noqa: E402 - after __version__, which the cache module reads
from .lang import *  # noqa: E402,F401,F403 - the kernel language: global_id, barrier, atomics, math, func...
from .runtime.kernel import Kernel, kernel, use  # noqa: E402
from .runtime.registry import available_backends, backend_info, get_backend, register_backend  # noqa: E402

__all__ = [
    "__version__", "kernel", "Kernel", "use", "available_backends", "backend_info", "get_backend",
    "register_backend", "PortakernError", "CompileError", "LaunchError", "BackendUnavailable",
    "KernelIndexError", "MissingDependency", "Array", "ArrayAnnotation", "constant", "constexpr", "bool_", "int8", "int16", "int32",
    "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "float16", "bfloat16",
] + list(_lang.__all__)
