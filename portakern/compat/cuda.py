"""``from portakern.compat import cuda``: numba.cuda kernels and host code, run by portakern unchanged.

Replace ``from numba import cuda`` with this import and the module's ``@cuda.jit`` kernels, device
functions, launches (``kernel[blocks, threads](...)``, ``kernel[blocks, threads, stream, nbytes]``) and
device arrays (``cuda.to_device``, ``cuda.device_array(_like)``, ``.copy_to_host()``) run on the backend
portakern chooses (``pk.use``, ``PORTAKERN_BACKEND``, or the default CPU backend). What is supported,
emulated (and at what cost) or refused is listed in docs/porting.md.

The launch maps CUDA's configuration (blocks and threads per block, ``x`` fastest) onto portakern's
(total work-items and work-group, LAST dimension fastest) by reversing the axes:
``kernel[(bx, by), (tx, ty)]`` is ``ndrange=(by*ty, bx*tx)``, ``workgroup=(ty, tx)``.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import CompileError, LaunchError
from ..lang import Func
from ..runtime.kernel import Kernel
from .cuda_intrinsics import DYNAMIC_SHARED_BYTES, kernel_names

__all__ = ["jit", "to_device", "device_array", "device_array_like", "pinned_array", "pinned_array_like",
           "mapped_array", "synchronize", "stream", "default_stream", "is_available", "DeviceArray",
           "CudaKernel"]

#: numba.cuda re-exports numba's scalar types; here they are NumPy's (the kernel language's dtypes)
bool_, int8, int16, int32, int64 = np.bool_, np.int8, np.int16, np.int32, np.int64
uint8, uint16, uint32, uint64, float32, float64 = np.uint8, np.uint16, np.uint32, np.uint64, np.float32, np.float64

globals().update(kernel_names())   # cuda.threadIdx, cuda.grid, cuda.shared, cuda.atomic, ... (kernel-only)


class UnsupportedCudaAPI(CompileError, AttributeError):
    """A numba.cuda name this module does not provide (an AttributeError too, so ``hasattr`` works)."""


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise UnsupportedCudaAPI(f"numba.cuda.{name} is not supported by portakern.compat.cuda",
                             hint="docs/porting.md lists what is supported, emulated and refused")


# ------------------------------------------------------------------------------------------- arrays
class DeviceArray:
    """A numba.cuda device array, held in host memory: launches update it in place on every backend
    (portakern copies it to and from the backend's device per launch, as for any NumPy array)."""

    __slots__ = ("_host",)

    def __init__(self, host: np.ndarray) -> None:
        self._host = host

    shape = property(lambda self: self._host.shape)
    dtype = property(lambda self: self._host.dtype)
    size = property(lambda self: self._host.size)
    ndim = property(lambda self: self._host.ndim)
    strides = property(lambda self: self._host.strides)
    nbytes = property(lambda self: self._host.nbytes)

    def __len__(self) -> int:
        return len(self._host)

    @property
    def __array_interface__(self) -> dict[str, Any]:
        """NumPy's view of the array: native ``@pk.kernel``s (``portakern port``'s output) update it in place."""
        return self._host.__array_interface__

    def copy_to_host(self, ary: np.ndarray | None = None, stream: Any = 0) -> np.ndarray:
        """A NumPy copy of the array (written into ``ary`` when given)."""
        if ary is None:
            return self._host.copy()
        np.copyto(ary, self._host)
        return ary

    def copy_to_device(self, ary: Any, stream: Any = 0) -> None:
        """Overwrite the array with ``ary`` (same shape)."""
        np.copyto(self._host, _host_of(ary))

    def __getitem__(self, item: Any) -> Any:
        v = self._host[item]
        return DeviceArray(v) if isinstance(v, np.ndarray) else v

    def __setitem__(self, item: Any, value: Any) -> None:
        self._host[item] = _host_of(value)

    def reshape(self, *shape: Any, order: str = "C") -> DeviceArray:
        """A view with another shape, as NumPy's."""
        return DeviceArray(self._host.reshape(*shape, order=order))  # type: ignore[call-overload]

    def ravel(self, order: str = "C") -> DeviceArray:
        """A 1-D view (a copy when NumPy needs one)."""
        return DeviceArray(self._host.ravel(order=order))  # type: ignore[arg-type]

    def is_c_contiguous(self) -> bool:
        """Whether the array is C-contiguous."""
        return bool(self._host.flags.c_contiguous)

    def __repr__(self) -> str:
        return f"<portakern.compat.cuda DeviceArray shape={self.shape} dtype={self.dtype}>"


def _host_of(x: Any) -> Any:
    return x._host if isinstance(x, DeviceArray) else x


def to_device(obj: Any, stream: Any = 0, copy: bool = True, to: DeviceArray | None = None) -> DeviceArray:
    """``cuda.to_device``: a device array holding a copy of ``obj``."""
    if to is not None:
        to.copy_to_device(obj)
        return to
    return DeviceArray(np.array(_host_of(obj), copy=True))


def device_array(shape: Any, dtype: Any = np.float64, strides: Any = None, order: str = "C",
                 stream: Any = 0) -> DeviceArray:
    """``cuda.device_array``: a new device array (zero-filled here, where CUDA leaves it undefined)."""
    return DeviceArray(np.zeros(shape, dtype=_np_dtype(dtype), order=order))  # type: ignore[call-overload]


def device_array_like(ary: Any, stream: Any = 0) -> DeviceArray:
    """``cuda.device_array_like``: a new device array of ``ary``'s shape and dtype."""
    return device_array(ary.shape, ary.dtype)


def pinned_array(shape: Any, dtype: Any = np.float64, strides: Any = None, order: str = "C") -> np.ndarray:
    """``cuda.pinned_array``: a host array (page-locking is meaningless here)."""
    return np.zeros(shape, dtype=_np_dtype(dtype), order=order)  # type: ignore[call-overload]


def pinned_array_like(ary: Any) -> np.ndarray:
    """``cuda.pinned_array_like``: a host array of ``ary``'s shape and dtype."""
    return pinned_array(ary.shape, ary.dtype)


mapped_array = pinned_array


def _np_dtype(dtype: Any) -> np.dtype:
    """A NumPy dtype from a NumPy or numba type (numba's print as their NumPy name)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        try:
            return np.dtype(str(dtype))
        except TypeError:
            raise LaunchError(f"{dtype!r} is not a dtype portakern.compat.cuda knows") from None


class Stream:
    """A CUDA stream: launches run in order and complete before they return, so it only orders."""

    def synchronize(self) -> None:
        """Nothing to wait for: every launch has completed when it returns."""

    def auto_synchronize(self) -> Any:
        """A context manager with nothing to wait for at its end."""
        return contextlib.nullcontext(self)


def stream() -> Stream:
    """``cuda.stream()``: launches on it run in order (as on every stream here)."""
    return Stream()


def default_stream() -> Stream:
    """``cuda.default_stream()``."""
    return Stream()


def synchronize() -> None:
    """Nothing to wait for: every launch has completed when it returns."""


def is_available() -> bool:
    """True: portakern runs numba.cuda kernels on whatever backend it has (the CPU at least)."""
    return True


# ------------------------------------------------------------------------------------------- kernels
def jit(func_or_sig: Any = None, device: bool = False, inline: Any = False, link: Any = (),
        debug: bool | None = None, opt: Any = None, lineinfo: bool = False, cache: bool = False,
        fastmath: bool = False, **options: Any) -> Any:
    """``@cuda.jit``, ``@cuda.jit("void(float32[:], float32)")``, ``@cuda.jit(device=True)``.

    A kernel becomes a :class:`CudaKernel`, a device function a ``pk.func`` helper. ``fastmath`` is
    accepted and ignored (portakern never relaxes IEEE arithmetic); ``debug=True`` turns on portakern's
    bounds checks; ``lineinfo``, ``opt``, ``cache``, ``inline`` and ``link`` are accepted and have no effect.
    """
    if link:
        raise CompileError(f"cuda.jit(link={link!r}): linking external CUDA C/PTX code is not supported by "
                           "portakern.compat.cuda", hint="write the linked function in Python as a "
                           "cuda.jit(device=True) function")

    def wrap(fn: Callable[..., Any], sig: Any) -> Any:
        if device:
            return Func(fn)
        return CudaKernel(fn, scalar_casts(sig), bool(debug))

    if callable(func_or_sig) and hasattr(func_or_sig, "__code__"):
        return wrap(func_or_sig, None)
    return lambda fn: wrap(fn, func_or_sig)


_SCALAR_ALIASES = {"boolean": "bool", "b1": "bool", "intp": "intp", "uintp": "uintp"}


def scalar_casts(sig: Any) -> tuple[np.dtype | None, ...] | None:
    """The NumPy dtype of each scalar parameter of a numba signature (None for arrays and unknowns):
    numba converts scalar arguments to their declared type, so the launch does too."""
    if sig is None or isinstance(sig, (list, tuple)):
        return None   # no signature, or several (numba dispatches on the arguments): nothing to cast
    if isinstance(sig, str):
        m = re.fullmatch(r"\s*[\w\[\]:, ]*?\((.*)\)\s*", sig)
        if m is None:
            return None
        depth, parts, cur = 0, [], ""
        for ch in m.group(1):
            depth += ch == "["
            depth -= ch == "]"
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        names = [p.strip() for p in parts + [cur] if p.strip()]
    else:
        names = [str(a) for a in getattr(sig, "args", ())]
    out: list[np.dtype | None] = []
    for n in names:
        try:
            out.append(None if "[" in n or "(" in n else np.dtype(_SCALAR_ALIASES.get(n, n)))
        except TypeError:
            out.append(None)
    return tuple(out)


def _dim3(value: Any, what: str, kname: str, minimum: int) -> tuple[int, ...]:
    items = value if isinstance(value, tuple) else (value,)
    if not 1 <= len(items) <= 3 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                           and v >= minimum for v in items):
        raise LaunchError(f"kernel '{kname}': {what} must be an int >= {minimum} or a tuple of 1 to 3 such "
                          f"ints, got {value!r}")
    return tuple(int(v) for v in items)


def launch_geometry(blocks: Any, threads: Any, kname: str = "kernel",
                    ndim: int | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(ndrange, workgroup) of the CUDA launch ``[blocks, threads]``: axes reversed, as CUDA's x is
    fastest and portakern's last dimension is; a missing axis of one of the two counts as 1.
    ``ndim`` (used by ``portakern port``'s output) pads the launch to that many dimensions."""
    b = _dim3(blocks, "the number of blocks", kname, 0)
    t = _dim3(threads, "the threads per block", kname, 1)
    n = max(len(b), len(t)) if ndim is None else ndim
    if ndim is not None and any(v != 1 for v in b[ndim:] + t[ndim:]):
        raise LaunchError(f"kernel '{kname}': the launch [{blocks!r}, {threads!r}] has more than the {ndim} "
                          "dimension(s) the ported kernels index")
    b, t = (b + (1,) * n)[:n], (t + (1,) * n)[:n]     # trailing axes of 1 beyond ndim are dropped
    return tuple(bi * ti for bi, ti in zip(b, t))[::-1], t[::-1]


class CudaKernel:
    """A ``@cuda.jit`` kernel: launch with ``kernel[blocks, threads](*args)`` or
    ``kernel[blocks, threads, stream, dynamic_shared_bytes](*args)``; returns None, as numba.cuda."""

    def __init__(self, fn: Callable[..., Any], casts: tuple[np.dtype | None, ...] | None, debug: bool) -> None:
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self._casts = casts
        self._debug = debug
        self._kernels: dict[int, Kernel] = {}

    def pk_kernel(self, shared_bytes: int = 0) -> Kernel:
        """The portakern kernel for this dynamic shared memory size (each size compiles separately)."""
        k = self._kernels.get(shared_bytes)
        if k is None:
            k = self._kernels[shared_bytes] = Kernel(self.py_func, debug=self._debug,
                                                     cuda_dynamic_shared_bytes=shared_bytes)
        return k

    def __getitem__(self, config: Any) -> Callable[..., None]:
        if not isinstance(config, tuple) or not 2 <= len(config) <= 4:
            raise LaunchError(f"kernel '{self.__name__}': launch with kernel[blocks, threads](...) or "
                              f"kernel[blocks, threads, stream, shared_bytes](...), got [{config!r}]")
        nd, wg = launch_geometry(config[0], config[1], self.__name__)
        shared = config[3] if len(config) == 4 else 0
        if not isinstance(shared, (int, np.integer)) or isinstance(shared, bool) or shared < 0:
            raise LaunchError(f"kernel '{self.__name__}': the dynamic shared memory size must be an int >= 0 "
                              f"bytes, got {shared!r}")
        kernel = self.pk_kernel(int(shared))

        def launch(*args: Any) -> None:
            args = tuple(_host_of(a) for a in args)
            if self._casts is not None and len(self._casts) == len(args):
                args = tuple(self._cast(i, a, t) for i, (a, t) in enumerate(zip(args, self._casts)))
            token = DYNAMIC_SHARED_BYTES.set(int(shared))
            try:
                kernel[nd, wg](*args)
            finally:
                DYNAMIC_SHARED_BYTES.reset(token)
        return launch

    def _cast(self, index: int, value: Any, dtype: np.dtype | None) -> Any:
        """A scalar argument converted to its signature type, as numba does (a LaunchError if it cannot be)."""
        if dtype is None or isinstance(value, np.ndarray):
            return value
        try:
            with np.errstate(over="raise"):
                return dtype.type(value)
        except (TypeError, ValueError, OverflowError, FloatingPointError) as exc:
            raise LaunchError(f"kernel '{self.__name__}', argument {index}: cannot convert {value!r} to {dtype} "
                              f"as its signature says ({exc})") from None

    def forall(self, ntasks: int, tpb: int = 0, stream: Any = 0, sharedmem: int = 0) -> Callable[..., None]:
        """``kernel.forall(n)(...)``: enough 1-D blocks of ``tpb`` threads (default 128) for ``n`` threads."""
        tpb = tpb or 128
        return self[max(1, -(-int(ntasks) // tpb)), tpb, stream, sharedmem]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise LaunchError(f"kernel '{self.__name__}' is launched with a configuration: "
                          f"{self.__name__}[blocks, threads](...)")

    def __repr__(self) -> str:
        return f"<portakern.compat.cuda kernel {self.__name__}>"
