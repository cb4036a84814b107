"""CuPy/NVRTC side of the cuda backend: devices, NVRTC builds (no device needed) and the launcher.

The only module of the backend that imports CuPy (the package imports it lazily).
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from portakern.codegen.cabi import launch_layout
from portakern.errors import BackendUnavailable, CompileError, LaunchError
from portakern.ir import nodes as ir
from portakern.ir.launch_local import LaunchSizes
from portakern.runtime.backend import Capabilities, Device, Launcher, LaunchGrid, default_workgroup
from portakern.runtime.errrecord import new_record, raise_recorded, snapshot
from portakern.types import bfloat16, half_type_of

from .render import NVRTC_OPTIONS

_HINT = 'pip install "portakern[cuda]" on a machine with an NVIDIA GPU and driver'
#: with no device and no target, build PTX for the oldest architecture CUDA 13 supports (JIT-able anywhere)
DEFAULT_TARGET = "compute_75"
#: dynamic shared memory a kernel may use without opting in (cudaFuncAttributeMaxDynamicSharedMemorySize)
_DEFAULT_DYNAMIC_SHARED = 48 * 1024
#: launch grids whose block counts one launcher remembers (all are forgotten beyond it)
_MAX_GRIDS = 1024


def _cupy() -> Any:
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken CUDA install
        raise BackendUnavailable(f"backend 'cuda': CuPy cannot be imported ({exc}). Fix: {_HINT}") from exc
    return cupy


def resolve(spec: Any) -> Device:
    """The Device for ``spec`` (None: the current device, an index, or a ``cupy.cuda.Device``)."""
    cupy = _cupy()
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - cudaErrorInsufficientDriver, no driver, no device
        raise BackendUnavailable(f"backend 'cuda': no usable GPU ({exc}). Fix: {_HINT}; "
                                 'kernel.compile("cuda", ..., target="sm_90") still works') from exc
    if count == 0:
        raise BackendUnavailable(f"backend 'cuda': no CUDA device found. Fix: {_HINT}")
    if spec is None:
        index = cupy.cuda.runtime.getDevice()
    elif isinstance(spec, cupy.cuda.Device):
        index = spec.id
    elif isinstance(spec, (int, np.integer)) and not isinstance(spec, bool) and 0 <= int(spec) < count:
        index = int(spec)
    else:
        raise BackendUnavailable(f"backend 'cuda': no device {spec!r} (there are {count}); pass an index")
    props = cupy.cuda.runtime.getDeviceProperties(index)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    cc = f"{props['major']}{props['minor']}"
    return Device("cuda", f"cuda:{name}:sm_{cc}", name, {"index": index, "cc": cc, "props": props})


def capabilities(device: Device) -> Capabilities:
    """Every supported GPU (sm_75+) has fp64, int64 and native float atomics and keeps denormals
    (ftz off); NVRTC contraction is off (``--fmad=false``). Local memory: the shared memory a block
    may opt in to."""
    props = device.handle["props"] if device.handle else {}
    shared = int(props.get("sharedMemPerBlockOptin", 0) or props.get("sharedMemPerBlock", 48 * 1024))
    return Capabilities(fp64=True, int64_atomics=True, native_float_atomics=True, flushes_denormals=False,
                        contracts_fma=False, max_workgroup_size=int(props.get("maxThreadsPerBlock", 1024)),
                        max_local_memory=shared,
                        needs_gpu=True, specialises_shapes=True, extra=(("compute_capability", device.key.rsplit("sm_", 1)[-1]),))


def build(kernel: ir.Kernel, source: str, device: Device, target: str | None) -> bytes:
    """Compile with NVRTC: a cubin for ``sm_XX`` (default: the device's), PTX for ``compute_XX``.
    Needs no GPU or driver."""
    arch = target or (f"sm_{device.handle['cc']}" if device.handle else DEFAULT_TARGET)
    if not (arch.startswith(("sm_", "compute_")) and arch.split("_", 1)[1].rstrip("af").isdigit()):
        raise LaunchError(f"target must look like 'sm_90' or 'compute_90', got {arch!r}")
    try:
        from cupy.cuda import nvrtc
    except Exception as exc:  # noqa: BLE001
        raise BackendUnavailable(f"backend 'cuda': NVRTC is not available ({exc}). Fix: {_HINT}") from exc
    prog = nvrtc.createProgram(source, f"{kernel.name}.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, [*NVRTC_OPTIONS, f"--gpu-architecture={arch}"])
        except nvrtc.NVRTCError as exc:
            log = nvrtc.getProgramLog(prog)
            raise CompileError(f"kernel '{kernel.name}': NVRTC rejected the generated CUDA source for {arch}: "
                               f"{exc}\n{log}", kernel.loc) from exc
        return nvrtc.getCUBIN(prog) if arch.startswith("sm_") else nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)


def load(kernel: ir.Kernel, artifact: bytes, device: Device, entry: str) -> Launcher:
    """Load a cubin/PTX with the CUDA driver (through CuPy) and return the launcher."""
    cupy = _cupy()
    with cupy.cuda.Device(device.handle["index"]):
        module = cupy.cuda.function.Module()
        module.load(artifact)
        fn = module.get_function(entry)
    return CudaLauncher(kernel, module, fn, device)


class CudaLauncher(Launcher):
    """Launches one loaded kernel: one flat ``fn(grid, block, args)`` call per launch."""

    def __init__(self, kernel: ir.Kernel, module: Any, fn: Any, device: Device) -> None:
        self.kernel, self.module, self.fn, self.device = kernel, module, fn, device
        self.max_wg = int(device.handle["props"].get("maxThreadsPerBlock", 1024))
        self.layout = [(k, d) for k, d in launch_layout(kernel, pack_dims=False) if k in ("array", "scalar")]
        self.grids: dict[LaunchGrid, Any] = {}
        self.sized = LaunchSizes(kernel)             # local arrays sized at launch: dynamic shared memory
        self.shared_optin = _DEFAULT_DYNAMIC_SHARED
        # bounds checks: one error record per thread (a shared one would be reset, written and read
        # by several threads' launches interleaved, and report an error to the wrong thread)
        self._local = threading.local()

    def _grid(self, grid: LaunchGrid) -> Any:
        nd = grid.ndrange
        if any(n == 0 for n in nd):
            return None
        wg = grid.workgroup or default_workgroup(nd, self.max_wg)
        if int(np.prod(wg)) > self.max_wg:
            raise LaunchError(f"kernel '{self.kernel.name}': work-group {wg} has {int(np.prod(wg))} threads; "
                              f"this GPU allows at most {self.max_wg}")
        blocks = tuple(reversed([-(-n // w) for n, w in zip(nd, wg)]))     # hardware order: x first
        limits = (2 ** 31 - 1, 65535, 65535)
        for axis, (count, limit) in enumerate(zip(blocks, limits)):
            if count > limit:
                raise LaunchError(f"kernel '{self.kernel.name}': ndrange {nd} with work-group {wg} needs "
                                  f"{count} blocks in CUDA grid dimension {'xyz'[axis]} (at most {limit}); "
                                  "use a larger work-group in that dimension")
        return blocks, tuple(reversed(wg)), tuple(np.int64(n) for n in nd)

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        g = self.grids.get(grid)
        if g is None:
            if len(self.grids) >= _MAX_GRIDS:
                self.grids.clear()
            g = self.grids[grid] = self._grid(grid)
        written = {p.name: a for p, a in zip(self.kernel.params, args) if p.name in self.kernel.written}
        if g is None:
            return written
        flat: list[Any] = []
        for (kind, detail), a in zip(self.layout, args):
            if kind == "array":
                flat.append(a)
                flat += [np.int64(s) for s in a.shape]
            else:
                flat.append(np.uint8(a) if detail == np.uint8 else a)
        flat += list(g[2])
        err = None
        saved: list[tuple[Any, Any]] = []
        if self.kernel.checks_bounds:
            err = getattr(self._local, "err", None)
            if err is None:
                err = self._local.err = _cupy().asarray(new_record())
            saved = snapshot(self.kernel, args, lambda a: a.get())
            err.fill(0)
            flat.append(err)
        if self.sized:                  # the dynamic shared memory the launch-sized arrays are carved from
            shared = self.sized.carve(self.sized.counts(args))[1]
            if shared > self.shared_optin:
                self.fn.max_dynamic_shared_size_bytes = self.shared_optin = shared   # opt in beyond 48 KiB
            self.fn(g[0], g[1], tuple(flat), shared_mem=shared)
        else:
            self.fn(g[0], g[1], tuple(flat))
        if err is not None:
            raise_recorded(self.kernel, err.get(), saved, lambda a, copy: a.set(copy))
        return written


def adopt(obj: Any, device: Device) -> Any:
    """Zero-copy view of ``__cuda_array_interface__`` or ``__dlpack__`` GPU memory (PyTorch CUDA tensors)."""
    cupy = _cupy()
    if hasattr(obj, "__cuda_array_interface__"):
        return cupy.asarray(obj)
    if hasattr(obj, "__dlpack__"):
        try:
            return cupy.from_dlpack(obj)
        except Exception:  # noqa: BLE001 - host memory: not ours
            return None
    return None


def from_host(array: np.ndarray, device: Device) -> Any:
    """Copy a NumPy array to the GPU."""
    cupy = _cupy()
    if half_type_of(array.dtype) is bfloat16:      # CuPy has no bfloat16 dtype: its uint16 bits go up
        array = array.view(np.uint16)
    with cupy.cuda.Device(device.handle["index"]):
        return cupy.asarray(np.ascontiguousarray(array))


def to_host(native: Any) -> np.ndarray:
    """Copy a GPU array back to NumPy."""
    return _cupy().asnumpy(native)
