"""Loading, launching and PTX compilation for ``numba-cuda`` (the only file of this backend importing
``numba.cuda``). Only the public ``numba.cuda`` API is used (``jit``, ``to_device``, ``as_cuda_array``,
``compile_ptx``, ``atomic``...), so numba-cuda stays swappable; ``simfix.py`` mends a race of the
simulator's shared arrays when it runs there.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from portakern_numba.launch import as_bits, half_params, import_source

from portakern.errors import BackendUnavailable, CompileError
from portakern.ir import nodes as ir
from portakern.ir.launch_local import LaunchSizes
from portakern.runtime import config
from portakern.runtime.backend import Launcher, LaunchGrid, default_workgroup
from portakern.runtime.errrecord import new_record, raise_recorded, snapshot

INSTALL = ('pip install "portakern[numba-cuda]" and an NVIDIA GPU with its driver, '
           "or set NUMBA_ENABLE_CUDASIM=1 (before numba.cuda is imported) to run in Numba's CUDA simulator")


def unavailable_reason() -> str | None:
    """Why numba-cuda cannot run here (None when it can). Never raises."""
    try:
        from numba import cuda
    except Exception as exc:  # noqa: BLE001
        return f"numba.cuda does not import ({type(exc).__name__}: {exc}); {INSTALL}"
    try:
        if cuda.is_available():
            return None
        try:
            cuda.detect()
        except Exception as exc:  # noqa: BLE001
            return f"no CUDA GPU ({type(exc).__name__}: {_one_line(exc)}); {INSTALL}"
        return f"no CUDA GPU (CudaSupportError: the CUDA driver found no device); {INSTALL}"
    except Exception as exc:  # noqa: BLE001
        return f"no CUDA GPU ({type(exc).__name__}: {_one_line(exc)}); {INSTALL}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()).rstrip(":").strip()


def device_name() -> str:
    """The current device's name ("CUDA simulator" in the simulator)."""
    from numba import cuda

    if config.cuda_simulator():
        return "CUDA simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def _numba_type(t: Any) -> Any:
    from numba import from_dtype, types

    if hasattr(t, "kind"):
        return from_dtype(t.dtype)
    return types.Array(from_dtype(np.dtype(np.uint16) if t.dtype.is_half else t.dtype.dtype), t.ndim, "C")


def compile_ptx(kernel: ir.Kernel, source: str, target: str) -> bytes:
    """PTX for ``target`` ("sm_90") through ``numba.cuda.compile_ptx``; needs no GPU, but does need
    real numba.cuda (not the simulator)."""
    from numba import types

    if config.cuda_simulator():
        raise BackendUnavailable(
            "backend 'numba-cuda' cannot compile PTX while Numba's CUDA simulator is on: compile in a "
            "process without NUMBA_ENABLE_CUDASIM")
    try:
        cc = tuple(int(c) for c in target.lower().removeprefix("sm_").removeprefix("compute_"))
        cc = (cc[0], cc[1]) if len(cc) == 2 else (int(target[-2]), int(target[-1]))
    except (ValueError, IndexError) as exc:
        raise CompileError(f"numba-cuda target must look like 'sm_90'; got {target!r}") from exc
    from numba import cuda

    module = import_source(source, "pk_numbacuda")
    sig = [types.int64] * (2 * kernel.grid_ndim) + [_numba_type(p.type) for p in kernel.params]
    sig.append(types.Array(types.int64, 1, "C"))
    ptx, _ = cuda.compile_ptx(module._pk_kernel.py_func, tuple(sig), cc=cc, fastmath=False)
    return ptx.encode()


#: Numba's CUDA simulator runs a launch by swapping the kernel's ``cuda`` global for a per-block fake
#: (``threadIdx`` and friends): two launches of one kernel at once see each other's fakes and fail with
#: AttributeError. Launches are serialised in the simulator; a real GPU needs no lock (each launch
#: has its own error record and arguments).
_SIMULATOR_LOCK = threading.Lock()


class NumbaCudaLauncher(Launcher):
    """Launches the generated ``_pk_kernel[griddim, blockdim]``; ndrange dimension d-1 is CUDA x."""

    def __init__(self, kernel: ir.Kernel, fn: Any) -> None:
        self.kernel = kernel
        self.fn = fn
        names = [p.name for p in kernel.params]
        self.written = [(name, names.index(name)) for name in kernel.written]
        self.sized = LaunchSizes(kernel)             # local arrays sized at launch: dynamic shared memory
        self.half = half_params(kernel)
        self.lock: Any = _SIMULATOR_LOCK if config.cuda_simulator() else contextlib.nullcontext()
        if config.cuda_simulator():
            from . import simfix

            simfix.install()

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        with self.lock:
            return self._launch(grid, args)

    def _launch(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        from numba import cuda
        from numba.core.errors import NumbaError

        nd = tuple(int(n) for n in grid.ndrange)
        wg = tuple(int(w) for w in grid.workgroup) if grid.workgroup else default_workgroup(nd)
        blocks = tuple(-(-n // w) for n, w in zip(nd, wg))[::-1]
        threads = wg[::-1]
        err = cuda.to_device(new_record())
        saved = snapshot(self.kernel, args, lambda a: a.copy_to_host())
        if all(n > 0 for n in nd):
            try:
                shared = self.sized.carve(self.sized.counts(args))[1] if self.sized else 0
                self.fn[blocks, threads, 0, shared](*[np.int64(v) for v in nd + wg], *as_bits(args, self.half), err)
            except NumbaError as exc:
                raise CompileError(f"numba-cuda could not compile kernel '{self.kernel.name}': {exc}") from exc
            cuda.synchronize()
        raise_recorded(self.kernel, err.copy_to_host(), saved, lambda a, copy: a.copy_to_device(copy))
        return {name: args[i] for name, i in self.written}


def load(kernel: ir.Kernel, artifact: bytes) -> Launcher:
    """Import the generated module and wrap its kernel."""
    reason = unavailable_reason()
    if reason is not None:
        raise BackendUnavailable(f"backend 'numba-cuda' is unavailable: {reason}")
    module = import_source(artifact.decode(), "pk_numbacuda")
    return NumbaCudaLauncher(kernel, module._pk_kernel)


def owns(obj: Any) -> bool:
    """True for Numba CUDA device arrays (CuPy arrays belong to the "cuda" backend)."""
    cls = type(obj)
    return cls.__name__ in ("DeviceNDArray", "FakeCUDAArray") and "numba" in cls.__module__


def adopt(obj: Any) -> Any:
    """Wrap any ``__cuda_array_interface__`` object (CuPy, PyTorch CUDA tensors) zero-copy."""
    from numba import cuda

    if hasattr(obj, "__cuda_array_interface__"):
        return cuda.as_cuda_array(obj)
    return None


def from_host(array: np.ndarray) -> Any:
    """Copy a NumPy array to the device."""
    from numba import cuda

    return cuda.to_device(np.ascontiguousarray(array))


def to_host(native: Any) -> np.ndarray:
    """Copy a device array back to a NumPy array."""
    return native.copy_to_host()


def version() -> str:
    """numba-cuda's version ("" when it is not installed). Never raises."""
    try:
        from importlib.metadata import version as _v

        return _v("numba-cuda")
    except Exception:  # noqa: BLE001
        return ""
