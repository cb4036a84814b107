"""The behaviour suite's fixtures: one ``backend`` fixture over every registered backend.

Every test in tests/backends/ that takes ``backend`` runs once per backend registered under the
``portakern.backends`` entry points (KernelAbstractions.jl's testsuite.jl is the model). A backend
whose ``is_available()`` is False is skipped with its reason, except "cuda": with no GPU the
:func:`run` helper still compiles the kernel for sm_90 with NVRTC (so a render or compile bug fails
the test) and only then skips, because running needs a GPU.

Sizes stay tiny (numba-cuda runs in the CUDA simulator at ~0.1 ms per work-item).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.backend import Capabilities

BUILTIN_BACKENDS = ("numpy", "numba", "opencl", "cuda", "numba-cuda", "jax")


def registered_backends() -> list[str]:
    """Every backend name registered (available or not), the six built-ins first."""
    names: list[str] = []
    for attr in ("registered_backends", "backend_names", "registered", "names"):
        fn = getattr(registry, attr, None)
        if callable(fn):
            try:
                names = list(fn())
                break
            except Exception:  # noqa: BLE001 - fall back to the built-in table
                names = []
    ordered = [n for n in BUILTIN_BACKENDS if n in names or not names]
    return ordered + sorted(n for n in names if n not in BUILTIN_BACKENDS)


BACKENDS = registered_backends()
#: GPU backends whose kernels are still compiled when they cannot run: "cuda" to a cubin with NVRTC,
#: "numba-cuda" to PTX (in a process without Numba's CUDA simulator; with it, numba-cuda runs).
COMPILE_ONLY = {"cuda": "compiled for sm_90 with NVRTC", "numba-cuda": "compiled to PTX for sm_90"}
_AVAILABILITY: dict[str, tuple[bool, str]] = {}


def availability(name: str) -> tuple[bool, str]:
    """(is_available, reason) for backend ``name``; never raises."""
    if name not in _AVAILABILITY:
        try:
            b = registry.get_backend(name)
            ok = bool(b.is_available())
            reason = "" if ok else (b.unavailable_reason() or f"{name} is not available")
        except pk.PortakernError as exc:
            ok, reason = False, str(exc)
        _AVAILABILITY[name] = (ok, reason)
    return _AVAILABILITY[name]


def capabilities(name: str) -> Capabilities:
    """The capabilities of the default device of ``name`` (defaults when it has no device)."""
    b = registry.get_backend(name)
    try:
        return b.capabilities(b.device())
    except pk.PortakernError:
        return Capabilities(needs_gpu=True)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: its name. Unavailable backends (other than cuda) are skipped."""
    name = request.param
    ok, reason = availability(name)
    if not ok and name not in COMPILE_ONLY:
        pytest.skip(f"backend {name!r} unavailable: {reason}")
    return name


@pytest.fixture
def caps(backend: str) -> Capabilities:
    """The capabilities of the backend under test."""
    return capabilities(backend)


@pytest.fixture
def need_fp64(backend: str) -> Any:
    """``need_fp64(dtype)`` skips when ``dtype`` is float64 and the device has no fp64."""
    def check(dtype: Any) -> None:
        if np.dtype(dtype) == np.float64 and not capabilities(backend).fp64:
            pytest.skip(f"{backend}: device has no fp64")
    return check


def run_kernel(kernel: Any, backend: str, ndrange: Any, workgroup: Any, *args: Any) -> Any:
    """Launch ``kernel`` on ``backend`` and return what the launch returns.

    For "cuda" (or "numba-cuda" outside the simulator) with no GPU, compile for sm_90 instead (which
    must succeed), then skip.
    """
    if backend in COMPILE_ONLY and not availability(backend)[0]:
        kernel.compile(backend, *args, target="sm_90", ndrange=ndrange)
        pytest.skip(f"{COMPILE_ONLY[backend]}; running needs a GPU")
    bound = kernel.on(backend)
    if workgroup is not None:
        launcher = bound[ndrange, workgroup]
    elif isinstance(ndrange, tuple):
        launcher = bound[(ndrange,)]     # unambiguous: kernel[(a, b)] reads as kernel[a, b] in Python
    else:
        launcher = bound[ndrange]
    return launcher(*args)


@pytest.fixture
def run() -> Any:
    """The launch helper: ``run(kernel, backend, ndrange, workgroup, *args)`` (see :func:`run_kernel`)."""
    return run_kernel


@pytest.fixture
def checkout_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a child Python that imports this checkout (not the installed package),
    with its own cache folder and the default settings (no PORTAKERN_BOUNDSCHECK)."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(root / "backends")]),
               PORTAKERN_CACHE_DIR=str(tmp_path / "child-cache"))
    env.pop("PORTAKERN_BOUNDSCHECK", None)
    return env


#: backends where every kernel compile costs seconds (Numba's): a parameter wrapped in ``SWEEP`` runs
#: there only under ``-m slow`` (the default run keeps the other values of the sweep on every
#: backend, and every value on the others)
COSTLY_COMPILES = frozenset({"numba"})


def SWEEP(value: Any) -> Any:  # noqa: N802 - reads as a marker in a parametrize list
    """``pytest.param(value)`` marked ``sweep``: one more value of a sweep, sampled on costly backends."""
    return pytest.param(*(value if isinstance(value, tuple) else (value,)), marks=pytest.mark.sweep)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is not None and item.get_closest_marker("sweep") and spec.params.get("backend") in COSTLY_COMPILES:
            item.add_marker(pytest.mark.slow)
