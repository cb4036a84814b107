"""PyOpenCL side of the opencl backend: devices, builds, binaries and the launcher.

The only module of the backend that imports pyopencl (the package imports it lazily).
"""
from __future__ import annotations

import struct
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyopencl as cl
import pyopencl.array as cla

from portakern.codegen.cabi import launch_layout
from portakern.errors import BackendUnavailable, CompileError, LaunchError
from portakern.ir import nodes as ir
from portakern.ir.launch_local import LaunchSizes
from portakern.runtime.backend import Capabilities, Device, Launcher, LaunchGrid, default_workgroup
from portakern.runtime.errrecord import new_record, raise_recorded, snapshot

_MAGIC = b"PKCL1\n"
_FP_DENORM = 1                                      # CL_FP_DENORM
_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT = 128             # CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT
#: launch grids whose hardware sizes one launcher remembers (all are forgotten beyond it)
_MAX_GRIDS = 1024
_HINT = 'pip install "portakern[opencl]" (PyOpenCL with the PoCL CPU device), or set PORTAKERN_OPENCL_DEVICE'


def _record_reader() -> Any:
    """``read(queue, host, buffer)``: a blocking read of a whole buffer. PyOpenCL's ``enqueue_copy``
    sorts its arguments out in Python first (0.7 of its 1.5 us a call here); its own direct read is
    used where this PyOpenCL has it (a private name, so ``enqueue_copy`` otherwise)."""
    direct = getattr(getattr(cl, "_cl", None), "_enqueue_read_buffer", None)
    if direct is None:
        return lambda queue, host, buf: cl.enqueue_copy(queue, host, buf)
    return lambda queue, host, buf: direct(queue, buf, host, is_blocking=True)


#: the launcher's read of the error record after each bounds-checked launch
read_record = _record_reader()


class DeviceHandle:
    """A device with its context and in-order queue (one per device, shared by every kernel)."""

    def __init__(self, device: cl.Device, queue: cl.CommandQueue | None = None) -> None:
        self.device = device
        self.queue = queue if queue is not None else cl.CommandQueue(cl.Context([device]))
        self.context = self.queue.context


_HANDLES: dict[int, DeviceHandle] = {}
_HANDLES_LOCK = threading.Lock()


def all_devices() -> list[cl.Device]:
    """Every OpenCL device of every platform, in platform order."""
    out: list[cl.Device] = []
    for p in cl.get_platforms():
        try:
            out += p.get_devices()
        except cl.Error:            # a platform with no devices raises DEVICE_NOT_FOUND
            continue
    return out


def _describe(d: cl.Device) -> str:
    return f"{d.platform.name} / {d.name}"


_PROBE = "__kernel void pk_probe(__global int* a) { a[get_global_id(0)] = 1; }"
_BUILDS: dict[int, str | None] = {}        # device pointer -> None (builds) or why it cannot
_BUILDS_LOCK = threading.Lock()


def build_problem(d: cl.Device) -> str | None:
    """Why ``d`` cannot build a trivial program, or None when it can (probed once per process).

    A PoCL whose LLVM is older than the CPU fails every build: PoCL 3.0's LLVM 14 does not know AMD
    Zen 5 (family 0x1A) and passes ``-target-cpu generic``, which its clang rejects. Such a device is
    listed but never chosen by default."""
    with _BUILDS_LOCK:
        if d.int_ptr in _BUILDS:
            return _BUILDS[d.int_ptr]
        try:
            cl.Program(cl.Context([d]), _PROBE).build()
            problem = None
        except (cl.Error, RuntimeError) as exc:
            first = next((ln.strip() for ln in str(exc).splitlines() if "error" in ln.lower()), str(exc))
            problem = f"{_describe(d)} ({d.driver_version}) cannot build programs: {first[:200]}"
        _BUILDS[d.int_ptr] = problem
        return problem


def _default_device(devs: list[cl.Device]) -> cl.Device:
    pocl = [d for d in devs if "portable computing language" in d.platform.name.lower()
            and d.type & cl.device_type.CPU]
    candidates = pocl + [d for d in devs if d not in pocl]
    problems = []
    for d in candidates:
        problem = build_problem(d)
        if problem is None:
            return d
        problems.append(problem)
    raise BackendUnavailable(
        "backend 'opencl': no OpenCL device can build programs: " + "; ".join(problems)
        + f". Fix: {_HINT} (a CPU newer than the bundled PoCL's LLVM needs a newer PoCL, e.g. the "
        "distribution's: apt-get install pocl-opencl-icd)")


def _pick(spec: Any) -> tuple[cl.Device, cl.CommandQueue | None]:
    if isinstance(spec, cl.CommandQueue):
        return spec.device, spec
    if isinstance(spec, cl.Context):
        return spec.devices[0], cl.CommandQueue(spec)
    if isinstance(spec, cl.Device):
        return spec, None
    devs = all_devices()
    if not devs:
        raise BackendUnavailable(f"backend 'opencl': no OpenCL device found. Fix: {_HINT}")
    if spec is None:                # the first PoCL CPU device that can build a program, else the first that can
        return _default_device(devs), None
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if 0 <= int(spec) < len(devs):
            return devs[int(spec)], None
    elif isinstance(spec, str):
        text = spec.strip()
        parts = text.split(":")
        if all(p.isdigit() for p in parts) and 1 <= len(parts) <= 2:     # PYOPENCL_CTX style "0:1"
            plats = cl.get_platforms()
            pi, di = int(parts[0]), int(parts[1]) if len(parts) == 2 else 0
            if pi < len(plats):
                pdevs = plats[pi].get_devices()
                if di < len(pdevs):
                    return pdevs[di], None
        else:
            want = [w.strip().lower() for w in text.split("/")]
            for d in devs:
                names = (d.platform.name.lower(), d.name.lower())
                if (len(want) == 2 and want[0] in names[0] and want[1] in names[1]) or \
                        (len(want) == 1 and any(want[0] in n for n in names)):
                    return d, None
    raise BackendUnavailable(
        f"backend 'opencl': no device matches {spec!r}; devices: "
        + "; ".join(f"[{i}] {_describe(d)}" for i, d in enumerate(devs))
        + ". Fix: pass one of these names or indices, or set PORTAKERN_OPENCL_DEVICE")


def resolve(spec: Any) -> Device:
    """The Device for ``spec`` (None, index, "platform/device" substring, PYOPENCL_CTX string,
    pyopencl Device or CommandQueue)."""
    try:
        dev, queue = _pick(spec)
    except cl.Error as exc:
        raise BackendUnavailable(f"backend 'opencl': {exc}. Fix: {_HINT}") from exc
    key = queue.context.int_ptr if queue is not None else dev.int_ptr
    with _HANDLES_LOCK:     # two threads' first launches must share one context, not make two
        handle = _HANDLES.get(key)
        if handle is None:
            handle = _HANDLES[key] = DeviceHandle(dev, queue)
    stable = f"opencl:{dev.platform.name}:{dev.name}:{dev.driver_version}"
    return Device("opencl", stable, _describe(dev), handle)


def capabilities(device: Device) -> Capabilities:
    """Capabilities queried from the device (fp64, int64 atomics, denormals, work-group size)."""
    d: cl.Device = device.handle.device
    ext = d.extensions.split()
    return Capabilities(
        fp64="cl_khr_fp64" in ext or bool(d.double_fp_config),
        int64_atomics="cl_khr_int64_base_atomics" in ext,
        native_float_atomics=False,
        flushes_denormals=not (d.single_fp_config & _FP_DENORM),
        contracts_fma=False,
        specialises_shapes=True,
        max_workgroup_size=int(d.max_work_group_size),
        max_local_memory=int(d.local_mem_size),
        max_constant_memory=int(d.max_constant_buffer_size),
        max_constant_args=int(d.max_constant_args),
        needs_gpu=False,
        extra=(("device", d.name), ("platform", d.platform.name), ("opencl", d.version),
               ("device_type", "GPU" if d.type & cl.device_type.GPU else
                "CPU" if d.type & cl.device_type.CPU else str(d.type)))
        + ((("cannot_build", problem),) if (problem := build_problem(d)) else ()),
    )


def build_options(device: Device) -> list[str]:
    """-cl-std=CL1.2, and correctly rounded float32 divide/sqrt where the device supports it."""
    opts = ["-cl-std=CL1.2"]
    if device.handle.device.single_fp_config & _FP_CORRECTLY_ROUNDED_DIVIDE_SQRT:
        opts.append("-cl-fp32-correctly-rounded-divide-sqrt")
    return opts


def _program(kernel: ir.Kernel, device: Device, source: str) -> cl.Program:
    try:
        return cl.Program(device.handle.context, source).build(options=build_options(device))
    except cl.Error as exc:
        missing = " (this device has no fp64)" if "double" in source and "cl_khr_fp64" not in \
            device.handle.device.extensions else ""
        raise CompileError(f"kernel '{kernel.name}': the OpenCL compiler for {device.name} rejected the "
                           f"generated source{missing}:\n{exc}", kernel.loc) from exc


def build(kernel: ir.Kernel, source: str, device: Device) -> bytes:
    """Compile and return the program binary, with the source kept as a fallback for a driver
    that no longer accepts the binary."""
    binary = _program(kernel, device, source).binaries[0]
    return _MAGIC + struct.pack("<Q", len(binary)) + binary + source.encode()


def load(kernel: ir.Kernel, artifact: bytes, device: Device, entry: str) -> Launcher:
    """Create the program from the stored binary (rebuilding from the source if it is refused)."""
    if not artifact.startswith(_MAGIC):
        program = _program(kernel, device, artifact.decode())
    else:
        n = struct.unpack_from("<Q", artifact, len(_MAGIC))[0]
        start = len(_MAGIC) + 8
        binary, source = artifact[start:start + n], artifact[start + n:].decode()
        try:
            program = cl.Program(device.handle.context, [device.handle.device], [binary]).build(
                options=build_options(device))
        except cl.Error:
            program = _program(kernel, device, source)
    return OpenCLLauncher(kernel, program, entry, device.handle)


class OpenCLLauncher(Launcher):
    """Launches one built kernel; argument packing is a closure generated once per kernel and thread.

    Each thread launches through its own ``cl.Kernel`` (and, with bounds checks, its own error buffer): a
    launch sets the kernel's arguments and then enqueues it, two OpenCL calls, and a ``cl.Kernel``
    shared by threads lets another thread's ``set_args`` land in between (wrong arrays or scalars,
    then a crash in the driver). OpenCL makes every other call used here thread-safe.
    """

    def __init__(self, kernel: ir.Kernel, program: cl.Program, entry: str, handle: DeviceHandle) -> None:
        self.kernel, self.program, self.entry, self.handle = kernel, program, entry, handle
        self.queue = handle.queue
        self.max_wg = int(handle.device.max_work_group_size)
        self.grids: dict[LaunchGrid, tuple[Any, Any, tuple[int, ...]] | None] = {}
        self._last: tuple[Any, Any] = (None, None)     # the last grid and its entry of self.grids
        self.zero = np.zeros(1, np.int64)
        self._local = threading.local()           # .state: this thread's (run, err, err_host)
        self._thread_state()                      # the loading thread's, built now: errors show at load

    def _thread_state(self) -> tuple[Any, Any, np.ndarray, list[bool]]:
        """This thread's (run, error buffer or None, host copy of the error record, [whether the buffer
        is known to hold zeros]). The buffer starts zeroed, and a kernel writes it only when a check
        fails, so a launch refills it only after a failure or an interrupted launch (one enqueue less)."""
        err_host = new_record()
        err = cl.Buffer(self.handle.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                        hostbuf=err_host) if self.kernel.checks_bounds else None
        state = (self._make_runner(cl.Kernel(self.program, self.entry), err), err, err_host, [True])
        self._local.state = state
        return state

    def _make_runner(self, knl: cl.Kernel, err: Any) -> Any:
        """Generate ``run(grid_info, args)``: one flat ``kernel(queue, g, l, ...)`` call, no loops."""
        layout = launch_layout(self.kernel, pack_dims=True, local_args=True)
        dtypes: list[Any] = []
        flat: list[str] = []
        p = 0
        pack = None
        detail: Any
        for kind, detail in layout:
            if kind == "array":
                dtypes.append(None)
                flat.append(f"a{p}.base_data if a{p}.offset == 0 else _sub(a{p})")
                p += 1
            elif kind == "scalar":
                dtypes.append(detail)
                is_bool = getattr(self.kernel.params[p].type, "is_bool", False)
                flat.append(f"_u8(a{p})" if is_bool else f"a{p}")   # bool travels as uchar
                p += 1
            elif kind == "local":      # a local array sized at launch: its bytes for this launch
                dtypes.append(None)
                flat.append(f"_lm(_ls[{detail}])")
            elif kind == "dims":       # every extent in one by-value struct of int64
                fields = [f"a{d[1][0]}.shape[{d[1][1]}]" if d[0] == "shape" else f"n[{d[1]}]"
                          for d in detail]
                pack = struct.Struct(f"<{len(fields)}q").pack
                dtypes.append(None)
                flat.append(f"_pack({', '.join(fields)})")
            else:
                dtypes.append(None)
                flat.append("err")
        knl.set_scalar_arg_dtypes(dtypes)
        names = ", ".join(f"a{i}" for i in range(p)) + ("," if p == 1 else "")
        written = ", ".join(f"{prm.name!r}: a{i}" for i, prm in enumerate(self.kernel.params)
                            if prm.name in self.kernel.written)
        sized = LaunchSizes(self.kernel)
        src = (f"def run(g, l, n, args):\n"
               f"    {names} = args\n" if p else "def run(g, l, n, args):\n") + \
            ("    _ls = _local_bytes(args)\n" if sized else "") + \
            f"    knl(queue, g, l, {', '.join(flat)})\n" + f"    return {{{written}}}\n"

        def local_bytes(args: Sequence[Any]) -> list[int]:
            # OpenCL refuses a zero-sized __local argument: an empty array gets one element
            return [max(n, 1) * i for n, i in zip(sized.counts(args), sized.itemsizes)]

        scope = {"knl": knl, "queue": self.queue, "err": err, "_sub": _sub_buffer, "_pack": pack,
                 "_u8": np.uint8, "_lm": cl.LocalMemory, "_local_bytes": local_bytes}
        exec(compile(src, f"<portakern opencl launcher {self.kernel.name}>", "exec"), scope)
        return scope["run"]

    def _grid(self, grid: LaunchGrid) -> tuple[Any, Any, tuple[int, ...]] | None:
        nd = grid.ndrange
        if any(n == 0 for n in nd):
            return None
        wg = grid.workgroup or default_workgroup(nd, self.max_wg)
        if int(np.prod(wg)) > self.max_wg:
            raise LaunchError(f"kernel '{self.kernel.name}': work-group {wg} has {int(np.prod(wg))} "
                              f"work-items; this OpenCL device allows at most {self.max_wg}")
        padded = tuple(-(-n // w) * w for n, w in zip(nd, wg))
        return (tuple(reversed(padded)), tuple(reversed(wg)), nd)   # hardware order: last pk dim is x

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        last = self._last                     # one read: another thread may replace it meanwhile
        if last[0] is grid:                   # the runtime passes a cached launch's LaunchGrid again
            g = last[1]
        else:                                 # (hashing the frozen dataclass costs ~0.3 us)
            try:
                g = self.grids[grid]
            except KeyError:
                if len(self.grids) >= _MAX_GRIDS:
                    self.grids.clear()
                g = self.grids[grid] = self._grid(grid)
            self._last = (grid, g)
        if g is None:                         # an empty index space runs nothing
            return {prm.name: a for prm, a in zip(self.kernel.params, args) if prm.name in self.kernel.written}
        try:
            run, err, err_host, zeroed = self._local.state
        except AttributeError:
            run, err, err_host, zeroed = self._thread_state()
        try:
            if err is None:
                return run(g[0], g[1], g[2], args)
            saved = snapshot(self.kernel, args, lambda a: a.get()) if self.kernel.debug else ()
            if not zeroed[0]:
                cl.enqueue_fill_buffer(self.queue, err, self.zero, 0, err_host.nbytes)
            zeroed[0] = False                 # until this launch's record is read back clean
            out = run(g[0], g[1], g[2], args)
        except cl.Error as exc:
            raise self._explain(exc, args) from exc
        read_record(self.queue, err_host, err)
        if not err_host[0]:
            zeroed[0] = True
            return out
        raise_recorded(self.kernel, err_host, saved, lambda a, copy: a.set(copy))
        return out

    def _explain(self, exc: Exception, args: Sequence[Any]) -> Exception:
        """A launch PyOpenCL refused: name an array that lives in another context, else pass it on."""
        for prm, a in zip(self.kernel.params, args):
            ctx = getattr(a, "context", None)
            if ctx is not None and ctx != self.handle.context:
                return LaunchError(f"kernel '{self.kernel.name}': parameter '{prm.name}' is a pyopencl array of "
                                   f"another context than the device's ({exc}); launch with "
                                   f"kernel.on('opencl', device={prm.name}.queue)")
        return exc


def _sub_buffer(a: cla.Array) -> Any:
    """A pyopencl array with an offset into its buffer: pass the region it views."""
    base: Any = a.base_data
    try:
        return base.get_sub_region(a.offset, a.nbytes)
    except cl.Error as exc:
        raise LaunchError(f"a pyopencl array at byte offset {a.offset} cannot be passed to a kernel on this "
                          f"device ({exc}); pass a copy") from exc


def from_host(array: np.ndarray, device: Device) -> cla.Array:
    """Copy a NumPy array to the device (C-contiguous)."""
    return cla.to_device(device.handle.queue, np.ascontiguousarray(array))


def to_host(native: cla.Array) -> np.ndarray:
    """Copy a device array back to a NumPy array (blocking)."""
    return native.get()
